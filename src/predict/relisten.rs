//! A second `listen()` on a socket that is already listening: which backlog each OS keeps, by
//! its source or documentation. `backlog-probe extras` measures it ("listen() twice");
//! [`crate::classify::extras::relisten_outcome`] judges a measurement, and a page sets the two
//! side by side.

use super::OsFamily;

/// What a second `listen()` does to the backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelistenApplies {
    /// The second call's backlog replaces the first.
    Second,
    /// The first backlog stays (the call still succeeds).
    First,
    /// The second applies, unless more connections are already queued than it allows: then the
    /// call fails (`EINVAL`) and the first stays.
    SecondUnlessQueued,
}

/// One OS's rule for a second `listen()`, and where it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelistenRule {
    /// What happens.
    pub applies: RelistenApplies,
    /// The source or documentation, with the passage that says so.
    pub source: &'static str,
}

/// The rule on `os`.
pub fn rule(os: OsFamily) -> RelistenRule {
    use RelistenApplies::{First, Second, SecondUnlessQueued};
    let (applies, source) = match os {
        OsFamily::Linux => (
            Second,
            "source: the new value applies; `net/ipv4/af_inet.c` `__inet_listen_sk()` stores `sk_max_ack_backlog` again (\"Really, if the socket is already in listen state we can only allow the backlog to be adjusted\")",
        ),
        OsFamily::Macos => (
            Second,
            "source: the new value applies; xnu `bsd/kern/uipc_socket.c` `solisten()` stores the new `so_qlimit` on a listening socket",
        ),
        OsFamily::Freebsd => (
            Second,
            "source: the new value applies; `sys/kern/uipc_socket.c` `solisten_proto()` stores the new `sol_qlimit`",
        ),
        OsFamily::Windows => (
            First,
            "documentation: the old value stays; \"If the listen function is called on an already listening socket, it will return success without changing the value for the backlog parameter\" ([listen() documentation](https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen))",
        ),
        OsFamily::Gvisor => (
            SecondUnlessQueued,
            "source: the new value applies, unless more connections are already queued than it allows (then `EINVAL`); gVisor's `pkg/tcpip/transport/tcp/endpoint.go` `listen()`: \"Adjust the size of the backlog iff we can fit existing pending connections into the new one\"",
        ),
    };
    RelistenRule { applies, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_os_has_a_rule_with_its_source() {
        for os in OsFamily::ALL.into_iter().chain([OsFamily::Gvisor]) {
            let rule = rule(os);
            assert!(
                rule.source.starts_with("source: ") || rule.source.starts_with("documentation: ")
            );
        }
        // Windows documents that the old value stays.
        assert_eq!(rule(OsFamily::Windows).applies, RelistenApplies::First);
        assert!(
            rule(OsFamily::Windows)
                .source
                .contains("learn.microsoft.com")
        );
        assert_eq!(
            rule(OsFamily::Gvisor).applies,
            RelistenApplies::SecondUnlessQueued
        );
    }
}
