//! Raw facts from the experiments beyond one TCP `listen()` ([`crate::experiment::extras`]):
//! UDP `listen()`, Unix-domain queues, re-listen and runtime defaults, and the sequential fill
//! they share. Nothing here is a timing, so equal systems give equal facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ListenReport;
use crate::os_error::OsError;
use crate::plan::Family;
use crate::sys::KernelQueue;

/// Why a sequential fill stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillStop {
    /// The caller's cap on clients was reached first: the queue was not filled.
    Cap,
    /// The next connect stayed pending: neither completed nor failed within the deadline.
    Pending,
    /// The next `connect()` call itself failed (a Unix-domain `EAGAIN`, for example).
    FailedImmediately,
    /// The next connect failed during the handshake (a TCP refusal or reset).
    FailedInHandshake,
    /// The harness ran out of room for another client before the queue was full: the
    /// process's descriptor limit (then `fd_limit` says which) or `socket()` failing for lack
    /// of buffers.
    OutOfResources,
}

impl FillStop {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FillStop::Cap => "cap",
            FillStop::Pending => "pending",
            FillStop::FailedImmediately => "failed_immediately",
            FillStop::FailedInHandshake => "failed_in_handshake",
            FillStop::OutOfResources => "out_of_resources",
        }
    }
}

/// The descriptor limit that stopped a fill before the listener stopped taking connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillLimit {
    /// The process's soft RLIMIT_NOFILE when the fill ran (after the harness raised it).
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
    /// Descriptors the fill could hold: its share of what the process may open, for its
    /// clients and the listener's own.
    pub descriptors: u64,
}

/// What a fill measured: the raw facts, no timings (they go nowhere near a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillResult {
    /// Connections that completed, one at a time, before the fill stopped.
    pub queue_length: u32,
    /// Why it stopped.
    pub stop: FillStop,
    /// The raw error of the connect (or `socket()`) that stopped it, where there was one.
    pub os_error: Option<OsError>,
    /// Set when the process's descriptor limit stopped the fill (with `stop`
    /// `out_of_resources`): then `queue_length` is only how far the fill got. Absent otherwise,
    /// and in reports written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd_limit: Option<FillLimit>,
}

/// What `listen()` on a bound UDP socket returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpListen {
    /// Loopback family.
    pub family: Family,
    /// The backlog passed to `listen()`.
    pub backlog: i32,
    /// `ok: true` if the OS accepted the call; otherwise the failed step (`socket`, `bind` or
    /// `listen`) and its raw error.
    pub listen: ListenReport,
}

/// A Unix-domain socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
}

impl LocalType {
    /// Both types.
    pub const ALL: [LocalType; 2] = [LocalType::Stream, LocalType::Seqpacket];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalType::Stream => "stream",
            LocalType::Seqpacket => "seqpacket",
        }
    }
}

/// One Unix-domain experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCase {
    /// Socket type.
    pub socket_type: LocalType,
    /// The backlog passed to `listen()`.
    pub backlog: i32,
    /// Listener setup: `ok`, or the failed step and its raw error (`socket` where the OS lacks
    /// the type).
    pub listen: ListenReport,
    /// The sequential fill, or null when the listener never came up.
    pub fill: Option<FillResult>,
    /// Connections the listener accepted afterwards.
    pub accepted: u32,
    /// The kernel's view of the listener after the fill, where the OS has one for Unix-domain
    /// sockets (null on Linux: its view is TCP_INFO).
    pub kernel_queue: Option<KernelQueue>,
    /// Why the setup failed when the OS gave no error code (the socket path did not fit in a
    /// Unix-domain address, say). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One re-listen experiment on an IPv4 loopback TCP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelistenCase {
    /// The backlog of the first `listen()`.
    pub first_backlog: i32,
    /// The backlog of the second `listen()` on the same, already listening socket.
    pub second_backlog: i32,
    /// Setup up to and including the first `listen()`.
    pub first_listen: ListenReport,
    /// The second `listen()`: `ok`, or its raw error (`failed_at: "listen"`).
    pub second_listen: Option<ListenReport>,
    /// The kernel's view after the second call, where the OS has one: `limit` shows which
    /// backlog the kernel kept.
    pub kernel_queue: Option<KernelQueue>,
    /// The sequential fill after the second call.
    pub fill: Option<FillResult>,
    /// Connections accepted afterwards.
    pub accepted: u32,
}

/// Whether a runtime default could be measured here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MeasureStatus {
    /// Measured: see `kernel_limit` and `fill`.
    Measured,
    /// The API does not exist on this OS or in this build.
    Unsupported,
    /// The runtime it needs is not installed (its command is not on PATH), or a tool it needs
    /// is missing.
    Skipped,
    /// Setting the listener up failed: see `os_error` and `detail`.
    Failed,
}

impl MeasureStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureStatus::Measured => "measured",
            MeasureStatus::Unsupported => "unsupported",
            MeasureStatus::Skipped => "skipped",
            MeasureStatus::Failed => "failed",
        }
    }
}

/// What one runtime's default listener got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeDefault {
    /// The call, e.g. `std::net::TcpListener::bind`, `python3 socket.listen()`,
    /// `go net.Listen`.
    pub api: String,
    /// Whether it was measured.
    pub status: MeasureStatus,
    /// The backlog the kernel stored for the listener (its view after clamping), where the OS
    /// shows it: the listener's own `TCP_INFO` for one this process opened, the OS's listener
    /// listing (Linux sock_diag) for one a runtime program opened.
    pub kernel_limit: Option<u32>,
    /// The sequential fill from this process: the effective queue. Reports written before the
    /// runtime programs have it only where there was no kernel view.
    pub fill: Option<FillResult>,
    /// The raw error of a failed setup.
    pub os_error: Option<OsError>,
    /// Why it was skipped, unsupported or failed, or why a view was not used.
    pub detail: Option<String>,
    /// The runtime program that set the listener up (`python`, `go`, `node`, `java`,
    /// `dotnet`, `ruby`, `php`); absent for Rust's listeners, set up in this process, and in
    /// reports written before the runtime programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

impl RuntimeDefault {
    /// A runtime default that was not measured, and why.
    pub fn not_measured(api: &str, status: MeasureStatus, detail: String) -> Self {
        RuntimeDefault {
            api: api.to_string(),
            status,
            kernel_limit: None,
            fill: None,
            os_error: None,
            detail: Some(detail),
            runtime: None,
        }
    }
}

/// Everything the extra experiments observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtrasObservation {
    /// `listen()` on UDP sockets.
    pub udp: Vec<UdpListen>,
    /// Unix-domain listeners.
    pub unix_domain: Vec<LocalCase>,
    /// `listen()` twice.
    pub relisten: Vec<RelistenCase>,
    /// Runtime defaults.
    pub runtime_defaults: Vec<RuntimeDefault>,
    /// Each measured runtime's version as it reported it, by runtime (`rust`, `tokio`, and the
    /// runtime programs' keys). Kept apart from the rows, which snapshots compare across
    /// machines.
    pub runtime_versions: BTreeMap<String, String>,
}
