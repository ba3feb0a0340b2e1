//! Which Linux kernel a report measured, and the behaviour changes the model keys on its
//! version: commit 3479c7549fb1 and its stable backports (`listen(0)` without SYN cookies),
//! `SOMAXCONN` 4096 from 5.4, the linear SYN timeouts from 6.5 and the 5.12 release candidates
//! that counted N instead of N + 1.
//!
//! `uname -r` alone does not always say. Debian, Ubuntu and RHEL name their kernels by ABI
//! (`5.10.0-32-cloud-amd64`, `5.15.0-91-generic`, `5.14.0-362.el9`): the `.0` is a placeholder,
//! not the patch level. Debian's build string (`uname -v`, recorded as the `kernel.version`
//! setting) carries the upstream version (`#1 SMP Debian 5.10.223-1 (2024-08-10)`); where
//! neither names it, the patch level is unknown and so is every rule that depends on it.

use std::fmt;

/// A Linux kernel's upstream version, as far as `uname -r` and `uname -v` tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelVersion {
    /// `5` in 5.10.223.
    pub major: u32,
    /// `10` in 5.10.223.
    pub minor: u32,
    /// `223` in 5.10.223; `None` when the release is a distribution's ABI name and the build
    /// string names no upstream version.
    pub patch: Option<u32>,
    /// `5` in `5.12.0-rc5`: a mainline release candidate.
    pub rc: Option<u32>,
}

/// Leading `major.minor[.patch]` of `text` and what follows it.
fn numbers(text: &str) -> Option<(u32, u32, Option<u32>, &str)> {
    let mut rest = text;
    let mut parts = Vec::new();
    while parts.len() < 3 {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            break;
        }
        parts.push(rest[..digits].parse::<u32>().ok()?);
        rest = &rest[digits..];
        match rest.strip_prefix('.') {
            Some(after) if parts.len() < 3 && after.starts_with(|c: char| c.is_ascii_digit()) => {
                rest = after;
            }
            _ => break,
        }
    }
    match parts.as_slice() {
        [major, minor] => Some((*major, *minor, None, rest)),
        [major, minor, patch] => Some((*major, *minor, Some(*patch), rest)),
        _ => None,
    }
}

impl KernelVersion {
    /// The version from `uname -r` (`release`) and, where that is an ABI name, `uname -v`
    /// (`build`). `None` when the release does not start with `major.minor`.
    pub fn parse(release: &str, build: Option<&str>) -> Option<KernelVersion> {
        let (major, minor, patch, rest) = numbers(release.trim())?;
        let rc = rest.strip_prefix("-rc").and_then(|after| {
            let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            after[..digits].parse::<u32>().ok()
        });
        // `x.y.0-<digits>...`: a distribution's ABI number, not an upstream release.
        let abi_name = patch == Some(0)
            && rc.is_none()
            && rest
                .strip_prefix('-')
                .is_some_and(|after| after.starts_with(|c: char| c.is_ascii_digit()));
        let patch = if abi_name {
            build.and_then(|build| debian_patch(build, major, minor))
        } else {
            patch
        };
        Some(KernelVersion {
            major,
            minor,
            patch,
            rc,
        })
    }

    /// `(major, minor)`.
    pub fn series(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// At least `major.minor` (any patch level).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.series() >= (major, minor)
    }
}

/// The patch level Debian's build string names for this series: `223` from
/// `#1 SMP Debian 5.10.223-1 (2024-08-10)`.
fn debian_patch(build: &str, major: u32, minor: u32) -> Option<u32> {
    build.split("Debian ").skip(1).find_map(|after| {
        let (ma, mi, patch, _) = numbers(after)?;
        ((ma, mi) == (major, minor)).then_some(patch).flatten()
    })
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        match self.patch {
            Some(patch) => write!(f, ".{patch}")?,
            None => f.write_str(".?")?,
        }
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        Ok(())
    }
}

/// Whether a kernel's SYN-queue test lets `listen(0)` admit a connection without SYN cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroBacklogFix {
    /// Commit 3479c7549fb1 is in: `inet_csk_reqsk_queue_is_full()` tests `>`.
    Present,
    /// It is not: the test is `>=`, so a zero backlog's SYN queue is always full.
    Absent,
    /// The version does not decide it: the model's rule text, with the reason.
    Unknown(&'static str),
}

/// The first release of each stable series that carries commit 3479c7549fb1 ("tcp/dccp: allow
/// a connection when sk_max_ack_backlog is zero", mainline 6.13): the stable review series
/// 6.12.10-rc1, 6.6.72, 6.1.125-rc1, 5.15.177-rc1, 5.10.234-rc1 and 5.4.290-rc1 each carry
/// "[ Upstream commit 3479c7549fb1dfa7a1db4efb7347c7b8ef50de4b ]". The series between them
/// (5.16–5.19, 6.0, 6.2–6.5, 6.7–6.11) had ended and never got it; 4.19 ended in December 2024.
pub const ZERO_BACKLOG_BACKPORTS: [((u32, u32), u32); 6] = [
    ((6, 12), 10),
    ((6, 6), 72),
    ((6, 1), 125),
    ((5, 15), 177),
    ((5, 10), 234),
    ((5, 4), 290),
];

/// Whether `version` carries commit 3479c7549fb1.
pub fn zero_backlog_fix(version: Option<KernelVersion>) -> ZeroBacklogFix {
    let Some(version) = version else {
        return ZeroBacklogFix::Unknown(
            "a clamped backlog of 0 with tcp_syncookies=0 admits 1 with commit 3479c7549fb1 and 0 without it; the kernel version is not recorded",
        );
    };
    if version.at_least(6, 13) {
        return ZeroBacklogFix::Present;
    }
    if !version.at_least(4, 4) {
        // Before ef547f2ac16b ("tcp: remove max_qlen_log", 4.4), which introduced the `>=` test
        // that 3479c7549fb1 fixes, the SYN table was sized apart from the backlog: 3.x
        // `reqsk_queue_alloc()` took max(8, min(backlog, tcp_max_syn_backlog)), rounded up to a
        // power of two above it, and `reqsk_queue_is_full()` was `qlen >> max_qlen_log`, so a
        // zero backlog's SYN table held 16 and its first SYN was not dropped there. The SYN-time
        // accept-queue test was `sk_acceptq_is_full() && inet_csk_reqsk_queue_young() > 1`
        // (dropped by 5ea8ea2cb7f1 in 4.10), so how many a one-at-a-time fill completes is not
        // derived here: unknown, not 0.
        return ZeroBacklogFix::Unknown(
            "a clamped backlog of 0 with tcp_syncookies=0 on a kernel before 4.4: the SYN-queue test that drops it came with ef547f2ac16b (4.4); before, the SYN table held at least 16 and the accept queue's SYN-time test was `full && young > 1`, so the count is not modelled",
        );
    }
    let Some(patch) = version.patch else {
        return ZeroBacklogFix::Unknown(
            "a clamped backlog of 0 with tcp_syncookies=0 admits 1 with commit 3479c7549fb1 and 0 without it; unknown here: the patch level is not known (uname -r is a distribution ABI name and uname -v names no upstream version), and a distribution kernel may carry the backport",
        );
    };
    match ZERO_BACKLOG_BACKPORTS
        .iter()
        .find(|(series, _)| *series == version.series())
    {
        Some((_, first)) if patch >= *first => ZeroBacklogFix::Present,
        _ => ZeroBacklogFix::Absent,
    }
}

/// `net.core.somaxconn`'s default on a kernel: 4096 from 5.4 (commit 19f92a030ca6, "net:
/// increase SOMAXCONN to 4096"), 128 before.
pub fn default_somaxconn(version: KernelVersion) -> i64 {
    if version.at_least(5, 4) { 4096 } else { 128 }
}

/// Whether the SYN retransmissions start linear by default: `net.ipv4.tcp_syn_linear_timeouts`
/// (default 4) exists from 6.5 (commit ccce324dabfe, "tcp: make the first N SYN RTO backoffs
/// linear").
pub fn has_linear_syn_timeouts(version: KernelVersion) -> bool {
    version.at_least(6, 5)
}

/// Whether this is one of the two release candidates whose accept queue held N, not N + 1:
/// f211ac154577 ("net: correct sk_acceptq_is_full()", `>` to `>=`) entered 5.12-rc5 and its
/// revert c609e6aae4ef entered 5.12-rc7; no stable release carried it.
pub fn counts_n(version: KernelVersion) -> bool {
    version.series() == (5, 12) && matches!(version.rc, Some(5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32, patch: Option<u32>) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
            rc: None,
        }
    }

    #[test]
    fn releases_and_build_strings() {
        for (release, build, expected) in [
            // trixie and sid name the patch level in the release.
            (
                "6.12.118+deb13-cloud-amd64",
                None,
                Some(v(6, 12, Some(118))),
            ),
            ("7.2.13+deb14-cloud-amd64", None, Some(v(7, 2, Some(13)))),
            ("6.18.44-fc-v782", None, Some(v(6, 18, Some(44)))),
            // bullseye and bookworm name the ABI; uname -v has the upstream version.
            (
                "5.10.0-32-cloud-amd64",
                Some("#1 SMP Debian 5.10.223-1 (2024-08-10)"),
                Some(v(5, 10, Some(223))),
            ),
            (
                "6.1.0-57-cloud-amd64",
                Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"),
                Some(v(6, 1, Some(192))),
            ),
            // Without the build string (or with Ubuntu's, which names no version) it is open.
            ("5.10.0-32-cloud-amd64", None, Some(v(5, 10, None))),
            (
                "5.15.0-91-generic",
                Some("#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023"),
                Some(v(5, 15, None)),
            ),
            ("5.14.0-362.8.1.el9_3.x86_64", None, Some(v(5, 14, None))),
            // A Debian build string of another series does not lend its patch level.
            (
                "5.10.0-32-cloud-amd64",
                Some("#1 SMP Debian 6.1.192-3"),
                Some(v(5, 10, None)),
            ),
            ("6.13", None, Some(v(6, 13, None))),
            ("4.4.0", None, Some(v(4, 4, Some(0)))),
            ("Darwin", None, None),
            ("", None, None),
        ] {
            assert_eq!(KernelVersion::parse(release, build), expected, "{release}");
        }
        let rc = KernelVersion::parse("5.12.0-rc5", None).unwrap();
        assert_eq!((rc.patch, rc.rc), (Some(0), Some(5)));
        assert_eq!(rc.to_string(), "5.12.0-rc5");
        assert_eq!(v(5, 10, None).to_string(), "5.10.?");
    }

    #[test]
    fn commit_3479c7549fb1_by_version() {
        // The stable review series carry "[ Upstream commit 3479c7549fb1... ]" from 6.12.10,
        // 6.6.72, 6.1.125, 5.15.177, 5.10.234 and 5.4.290; mainline from 6.13. Measured here:
        // Debian 5.10.223 admits 0, 5.10.262, 6.1.192, 6.12.118 and 7.2.13 admit 1.
        use ZeroBacklogFix::*;
        for (version, expected) in [
            (v(5, 10, Some(223)), Absent),
            (v(5, 10, Some(233)), Absent),
            (v(5, 10, Some(234)), Present),
            (v(5, 10, Some(262)), Present),
            (v(5, 4, Some(289)), Absent),
            (v(5, 4, Some(290)), Present),
            (v(5, 15, Some(176)), Absent),
            (v(5, 15, Some(177)), Present),
            (v(6, 1, Some(124)), Absent),
            (v(6, 1, Some(125)), Present),
            (v(6, 1, Some(192)), Present),
            (v(6, 6, Some(71)), Absent),
            (v(6, 6, Some(72)), Present),
            (v(6, 12, Some(9)), Absent),
            (v(6, 12, Some(10)), Present),
            (v(6, 12, Some(118)), Present),
            (v(6, 13, Some(0)), Present),
            (v(7, 2, Some(13)), Present),
            (v(6, 13, None), Present),
            // Series that ended before January 2025 never got it.
            (v(6, 5, Some(13)), Absent),
            (v(6, 11, Some(11)), Absent),
            (v(4, 19, Some(325)), Absent),
            (v(4, 4, Some(302)), Absent),
        ] {
            assert_eq!(zero_backlog_fix(Some(version)), expected, "{version}");
        }
        assert!(
            matches!(zero_backlog_fix(Some(v(5, 10, None))), Unknown(why) if why.contains("patch level"))
        );
        assert!(matches!(zero_backlog_fix(Some(v(6, 8, None))), Unknown(_)));
        // Before 4.4 (ef547f2ac16b) the zero-backlog drop did not exist in this form: unknown,
        // never 0, and the rule names the commit that brought it.
        assert!(matches!(
            zero_backlog_fix(Some(v(4, 3, Some(0)))),
            Unknown(why) if why.contains("ef547f2ac16b (4.4)") && why.contains("not modelled")
        ));
        assert!(matches!(
            zero_backlog_fix(Some(v(3, 10, Some(108)))),
            Unknown(_)
        ));
        assert!(matches!(zero_backlog_fix(None), Unknown(_)));
    }

    #[test]
    fn somaxconn_and_syn_timeouts_by_version() {
        // 19f92a030ca6 "net: increase SOMAXCONN to 4096": v5.4-rc6, so 5.4.
        assert_eq!(default_somaxconn(v(5, 3, Some(18))), 128);
        assert_eq!(default_somaxconn(v(4, 19, Some(1))), 128);
        assert_eq!(default_somaxconn(v(5, 4, Some(0))), 4096);
        assert_eq!(default_somaxconn(v(5, 10, None)), 4096);
        // ccce324dabfe "tcp: make the first N SYN RTO backoffs linear": the 6.5 merge window.
        assert!(!has_linear_syn_timeouts(v(6, 4, Some(16))));
        assert!(!has_linear_syn_timeouts(v(6, 1, Some(192))));
        assert!(has_linear_syn_timeouts(v(6, 5, Some(0))));
        assert!(has_linear_syn_timeouts(v(6, 12, Some(118))));
    }

    #[test]
    fn only_two_release_candidates_count_n() {
        // f211ac154577 in 5.12-rc5, reverted by c609e6aae4ef in 5.12-rc7.
        for (release, expected) in [
            ("5.12.0-rc4", false),
            ("5.12.0-rc5", true),
            ("5.12.0-rc6", true),
            ("5.12.0-rc7", false),
            ("5.12.0", false),
            ("5.11.0-rc5", false),
        ] {
            let version = KernelVersion::parse(release, None).unwrap();
            assert_eq!(counts_n(version), expected, "{release}");
        }
    }
}
