//! Private network namespaces ("knob worlds"): experiments run in a network namespace of their
//! own whose sysctls the user sets, so any value (somaxconn 0, syncookies off,
//! abort_on_overflow on) can be measured without touching the host.
//!
//! `backlog-probe run --sysctl net.core.somaxconn=16 ...` parses each `key=value`, then, on the
//! main thread and before any experiment thread exists, asks `sys` to move the process into a
//! fresh network namespace with loopback up, writes every knob there and reads it back. Linux
//! only; needs root (`unshare(CLONE_NEWNET)` wants CAP_SYS_ADMIN). Only `net.*` keys are
//! accepted: they are the ones the kernel keeps per network namespace, so nothing written here
//! reaches the host (a host-wide `net.*` knob does not exist inside a new namespace and is
//! reported as unknown).
//!
//! # Threads
//! `unshare(CLONE_NEWNET)` changes the namespace of the calling thread only; threads created
//! afterwards start in their creator's namespace (clone(2) copies it). The experiment threads
//! are all spawned after [`World::enter`] returns on the main thread, and the measurements show
//! they live in the world: under `net.core.somaxconn=16` every case's listener, opened on a
//! worker thread, is clamped to 16 (the clamp reads the socket's own namespace), and a burst's
//! clients, connecting from their own threads, reach a listener that exists only inside it.
//!
//! # Counters
//! A world also reads the namespace's `ListenOverflows` / `ListenDrops` before and after the
//! run. The cases of a run share the namespace and run concurrently, so the deltas are
//! **run-level**: the sum over every case, not attributable to one of them. For a per-case
//! figure, run one case per world (one `--backlog` value and one `--family`): each invocation
//! gets a namespace of its own, so its deltas are that case's alone. `tests/worlds.rs` does
//! exactly that.

use serde::{Deserialize, Serialize};

use crate::os_error::OsError;
use crate::sys::{self, ListenCounters, NamespaceError, SysctlError};

/// One requested knob: a dotted sysctl name and an integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlRequest {
    /// Dotted name (`net.core.somaxconn`).
    pub key: String,
    /// The value to write.
    pub value: i64,
}

impl std::str::FromStr for SysctlRequest {
    type Err = String;

    /// `net.core.somaxconn=16`: a `net.*` key, `=`, a decimal integer (negative allowed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("'{text}' is not KEY=VALUE (e.g. net.core.somaxconn=16)"))?;
        let key = key.trim();
        if !key.starts_with("net.") {
            return Err(format!(
                "'{key}' is not a net.* sysctl: only those are private to a network namespace"
            ));
        }
        let value = value.trim().parse().map_err(|_| {
            format!(
                "the value of {key} must be an integer, not '{}'",
                value.trim()
            )
        })?;
        Ok(SysctlRequest {
            key: key.to_string(),
            value,
        })
    }
}

/// A knob as requested and as the kernel reported it afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlSetting {
    /// Dotted name.
    pub key: String,
    /// The value written.
    pub requested: i64,
    /// The value read back inside the namespace.
    pub read_back: i64,
}

/// The kernel's listen counters around a run, in the world's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    /// Before the first case started.
    pub before: ListenCounters,
    /// After the last case ended.
    pub after: ListenCounters,
    /// `after - before`: run-level (see the module docs).
    pub delta: ListenCounters,
}

/// What kind of world a report was measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorldKind {
    /// A private network namespace (Linux `unshare(CLONE_NEWNET)`).
    NetworkNamespace,
}

/// The world a report was measured in: a private network namespace and its knobs. Absent from
/// reports measured in the host's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// `network_namespace` (the only kind so far).
    pub kind: WorldKind,
    /// Each requested knob and the value read back.
    pub sysctls: Vec<SysctlSetting>,
    /// ListenOverflows / ListenDrops around the run; null where they could not be read.
    pub counters: Option<CounterDelta>,
}

/// Why a world could not be made. Each displays as one line, a usage error for the CLI (exit
/// 2); a caller may branch on the case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// No private network namespace could be made.
    #[error("{}", namespace_message(.0))]
    Namespace(NamespaceError),
    /// A knob could not be set in it.
    #[error("{}", sysctl_message(.key, *.value, .error))]
    Sysctl {
        /// The knob (`net.core.somaxconn`).
        key: String,
        /// The value asked for.
        value: i64,
        /// Why it was not set.
        error: SysctlError,
    },
}

fn namespace_message(error: &NamespaceError) -> String {
    match error {
        NamespaceError::Unsupported => "--sysctl needs Linux network namespaces".to_string(),
        NamespaceError::NotPermitted(code) => format!(
            "--sysctl needs root (CAP_SYS_ADMIN) to create a network namespace: unshare failed with {}",
            OsError::from_code(*code)
        ),
        NamespaceError::Failed { step, code } => format!(
            "cannot set up the network namespace: {step} failed with {}",
            OsError::from_code(*code)
        ),
    }
}

fn sysctl_message(key: &str, value: i64, error: &SysctlError) -> String {
    match error {
        SysctlError::Unsupported => "--sysctl needs Linux network namespaces".to_string(),
        SysctlError::Unknown => format!(
            "unknown sysctl {key}: no /proc/sys entry in a fresh network namespace (not a per-namespace knob?)"
        ),
        SysctlError::ReadOnly => format!("sysctl {key} is read-only"),
        SysctlError::NotInteger(current) => {
            format!("sysctl {key} does not hold a single integer (it reads '{current}')")
        }
        SysctlError::Rejected(code) => format!(
            "the kernel refused {key}={value} ({}); the value is out of its range?",
            OsError::from_code(*code)
        ),
    }
}

impl World {
    /// Enter a fresh network namespace and set every knob. Call on the main thread before any
    /// other thread is spawned: the namespace belongs to the calling thread and the threads it
    /// spawns afterwards.
    pub fn enter(requests: &[SysctlRequest]) -> Result<World, WorldError> {
        sys::enter_network_namespace().map_err(WorldError::Namespace)?;
        let mut sysctls = Vec::new();
        for request in requests {
            let key = &request.key;
            let read_back =
                sys::set_sysctl(key, request.value).map_err(|error| WorldError::Sysctl {
                    key: key.clone(),
                    value: request.value,
                    error,
                })?;
            sysctls.push(SysctlSetting {
                key: key.clone(),
                requested: request.value,
                read_back,
            });
        }
        Ok(World {
            kind: WorldKind::NetworkNamespace,
            sysctls,
            counters: None,
        })
    }

    /// Run `body` between two counter readings and record them.
    pub fn counted<T>(&mut self, body: impl FnOnce() -> T) -> T {
        let before = sys::listen_counters();
        let result = body();
        let after = sys::listen_counters();
        self.counters = before.zip(after).map(|(before, after)| CounterDelta {
            before,
            after,
            delta: after.since(&before),
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_requests_parse() {
        let ok: SysctlRequest = "net.core.somaxconn=16".parse().unwrap();
        assert_eq!(ok.key, "net.core.somaxconn");
        assert_eq!(ok.value, 16);
        assert_eq!(
            " net.ipv4.tcp_syncookies = -1 "
                .parse::<SysctlRequest>()
                .unwrap()
                .value,
            -1
        );
        for (bad, says) in [
            ("net.core.somaxconn", "KEY=VALUE"),
            ("kernel.pid_max=5", "not a net.* sysctl"),
            ("net.core.somaxconn=abc", "must be an integer"),
            ("net.core.somaxconn=", "must be an integer"),
            (
                "net.core.somaxconn=99999999999999999999",
                "must be an integer",
            ),
        ] {
            let error = bad.parse::<SysctlRequest>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
