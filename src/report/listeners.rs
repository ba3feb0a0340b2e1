//! The listener view (`backlog-probe listeners`): this machine's TCP listeners as the kernel
//! lists them, with what their limit is and why, and over a `--watch` window, how high each
//! queue got and how the system's overflow counters moved.
//!
//! # Wire format
//!
//! `backlog-probe listeners --format json` prints one JSON object and a newline:
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "tool": {"name": "backlog-probe", "version": "0.1.0"},
//!   "os": "linux",
//!   "kernel": "6.8.0",
//!   "view": {"source": "sock_diag (inet_diag, ...)", "queue": true, "limit": true,
//!            "syn_queue": false, "syn_queue_note": "...", "owners": "..."},
//!   "somaxconn": {"name": "net.core.somaxconn", "value": 4096,
//!                 "scope": "this network namespace"},
//!   "filter": {"ports": [8080], "pid": null},
//!   "listeners": [
//!     {"address": "127.0.0.1:8080", "family": "ipv4", "port": 8080,
//!      "owners": [{"pid": 1234, "name": "nginx"}], "uid": 1000, "inode": 424242,
//!      "limit": 511, "queue": 3, "syn_queue": null, "full": false,
//!      "limit_source": {"kind": "below_setting", "knob": "net.core.somaxconn", "value": 4096}}
//!   ],
//!   "left_out": {"owner_not_visible": 0},
//!   "unix_listeners": null,
//!   "watch": null,
//!   "notes": ["..."]
//! }
//! ```
//!
//! - `schema_version` ([`LISTENERS_SCHEMA_VERSION`]): bumped when a field changes meaning or
//!   disappears; new fields may appear without a bump.
//! - `os`: Rust's `target_os` (`linux`, `macos`, `freebsd`, `windows`); `kernel`: `uname -r`
//!   or null.
//! - `view` ([`ViewInfo`]): where the list came from and which of `queue`, `limit` and
//!   `syn_queue` this OS exposes; a field the OS does not expose is null in every listener,
//!   never 0.
//! - `somaxconn` ([`Knob`]): the OS's limit on every backlog, its name and scope, or null
//!   where there is none (Windows).
//! - `listeners` ([`ListenerRow`]), sorted by port then address:
//!   - `address` (`"127.0.0.1:8080"`, `"[::]:443"`), `family` (`ipv4` | `ipv6`), `port`;
//!   - `owners`: the processes holding the socket (`pid`, `name` or null), or **null when not
//!     visible** (another user's process without root, another PID namespace): never a guess;
//!   - `uid`, `inode`: the socket owner's uid and inode where the OS gives them;
//!   - `limit`: the limit the kernel stored at `listen()` (after the clamp); `queue`: the
//!     connections waiting for `accept()` now; `syn_queue`: half-open connections, null where
//!     the OS does not report them per listener (Linux sock_diag);
//!   - `full`: whether the queue is full by this kernel's own test (Linux `sk_acceptq_is_full()`:
//!     queue > limit), null where there is no queue to test;
//!   - `limit_source` ([`LimitSource`]): `kind` is `clamped` (the limit equals the somaxconn
//!     setting: the request was that value or more, which the kernel does not keep),
//!     `below_setting` (the request itself), `above_setting` (the setting was lowered after
//!     `listen()`), `no_setting` (no somaxconn to compare with) or `not_exposed` (no limit);
//!     `knob` and `value` name the setting.
//! - `left_out`: how many listeners `--pid` left out because their owner is not visible.
//! - `unix_listeners` ([`UnixListenerRow`], with `--unix` on Linux): `path` (`@name` for the
//!   abstract namespace, null when unnamed), `socket_type` (`stream` | `seqpacket`), `owners`,
//!   `uid`, `inode`, `limit`, `queue`, `full`; null when not asked for, and `unix_error` says
//!   why they could not be listed.
//! - `watch` ([`WatchReport`], with `--watch`): `requested_ms`, `interval_ms`, `elapsed_ms`,
//!   `samples`, `ended` (`window` | `interrupted`); `listeners`, one [`WatchedListener`] per
//!   listener seen in any sample (`max_queue`, `reached_full`, `samples_seen`,
//!   `first_seen_ms`, `last_seen_ms`, `appeared_mid_watch`, `closed_mid_watch`); `counters`:
//!   `{"source", "values": [{"name", "before", "after", "delta"}]}` or null, with
//!   `counters_error` saying why. The counters are system-wide (Linux: per network namespace),
//!   never per listener.
//! - `notes`: sentences every renderer prints under the table (the clamp and how to raise it,
//!   what the OS does not expose).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Tool;
use crate::plan::Family;
use crate::sys::ProcessRef;

/// The current wire-format version of the listener view.
pub const LISTENERS_SCHEMA_VERSION: u32 = 1;

/// `backlog-probe listeners`' report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenersReport {
    /// [`LISTENERS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binary that listed.
    pub tool: Tool,
    /// `target_os`.
    pub os: String,
    /// `uname -r`, where there is one.
    pub kernel: Option<String>,
    /// What this OS's view shows.
    pub view: ViewInfo,
    /// The somaxconn setting, where the OS has one.
    pub somaxconn: Option<Knob>,
    /// The filters applied.
    pub filter: Filter,
    /// The TCP listeners (the last sample, with `--watch`).
    pub listeners: Vec<ListenerRow>,
    /// What the filters left out for lack of visibility.
    pub left_out: LeftOut,
    /// Unix-domain listeners, when asked for.
    pub unix_listeners: Option<Vec<UnixListenerRow>>,
    /// Why Unix-domain listeners could not be listed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unix_error: Option<String>,
    /// The `--watch` window.
    pub watch: Option<WatchReport>,
    /// Sentences for the reader, in order.
    pub notes: Vec<String>,
}

/// Where the listener list comes from and what it exposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewInfo {
    /// The kernel interface read.
    pub source: String,
    /// The accept-queue length is exposed.
    pub queue: bool,
    /// The stored limit is exposed.
    pub limit: bool,
    /// The SYN-queue length is exposed per listener.
    pub syn_queue: bool,
    /// What the SYN-queue column means or why it is empty.
    pub syn_queue_note: String,
    /// How owners are found and what hides them.
    pub owners: String,
}

/// A system knob and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Knob {
    /// `net.core.somaxconn`, `kern.ipc.somaxconn`, `kern.ipc.soacceptqueue`.
    pub name: String,
    /// Its value now.
    pub value: i64,
    /// Where it applies: `this network namespace` or `system-wide`.
    pub scope: String,
}

/// The filters of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// `--port` values (any of them); empty for every port.
    pub ports: Vec<u16>,
    /// `--pid`.
    pub pid: Option<u32>,
}

/// What a filter could not decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Listeners `--pid` left out because their owner is not visible.
    pub owner_not_visible: u32,
}

/// One TCP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerRow {
    /// Local address and port.
    pub address: SocketAddr,
    /// `ipv4` or `ipv6`.
    pub family: Family,
    /// The port.
    pub port: u16,
    /// The holding processes, or `None` when not visible.
    pub owners: Option<Vec<ProcessRef>>,
    /// The socket owner's uid.
    pub uid: Option<u32>,
    /// The socket's inode.
    pub inode: Option<u64>,
    /// The stored limit.
    pub limit: Option<u32>,
    /// Connections waiting for `accept()`.
    pub queue: Option<u32>,
    /// Half-open connections, where reported.
    pub syn_queue: Option<u32>,
    /// Full by this kernel's own test.
    pub full: Option<bool>,
    /// Why the limit is what it is.
    pub limit_source: LimitSource,
}

/// How the stored limit relates to the somaxconn setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LimitSource {
    /// The limit equals the setting: the server asked for that much or more.
    Clamped {
        /// The knob.
        knob: String,
        /// Its value.
        value: i64,
    },
    /// Below the setting: the server's own backlog.
    BelowSetting {
        /// The knob.
        knob: String,
        /// Its value.
        value: i64,
    },
    /// Above today's setting: the knob was lowered after `listen()`.
    AboveSetting {
        /// The knob.
        knob: String,
        /// Its value.
        value: i64,
    },
    /// No setting could be read to compare with.
    NoSetting,
    /// The OS does not expose the limit.
    NotExposed,
}

/// One Unix-domain listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnixListenerRow {
    /// The bound path (`@name`: abstract), `None` when unnamed.
    pub path: Option<String>,
    /// `stream` or `seqpacket`.
    pub socket_type: String,
    /// The holding processes, or `None` when not visible.
    pub owners: Option<Vec<ProcessRef>>,
    /// The owner's uid.
    pub uid: Option<u32>,
    /// The socket's inode.
    pub inode: Option<u64>,
    /// The stored limit.
    pub limit: Option<u32>,
    /// Connections waiting for `accept()`.
    pub queue: Option<u32>,
    /// Full by net/unix/af_unix.c `unix_recvq_full()`: queue > limit.
    pub full: Option<bool>,
}

/// How a `--watch` window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchEnd {
    /// The window passed.
    Window,
    /// Ctrl-C (or SIGTERM) ended it early: the result is partial.
    Interrupted,
}

/// A `--watch` window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchReport {
    /// `--watch` in milliseconds.
    pub requested_ms: u64,
    /// `--interval` in milliseconds.
    pub interval_ms: u64,
    /// How long it watched.
    pub elapsed_ms: u64,
    /// Samples taken.
    pub samples: u32,
    /// Why it ended.
    pub ended: WatchEnd,
    /// Every listener seen in any sample.
    pub listeners: Vec<WatchedListener>,
    /// The overflow counters over the window.
    pub counters: Option<CounterWindow>,
    /// Why the counters could not be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counters_error: Option<String>,
}

/// One listener over a watch window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedListener {
    /// Local address and port.
    pub address: SocketAddr,
    /// The socket's inode (two listeners on one address in turn are two entries).
    pub inode: Option<u64>,
    /// The holding processes, or `None` when not visible.
    pub owners: Option<Vec<ProcessRef>>,
    /// The stored limit, as last seen.
    pub limit: Option<u32>,
    /// The highest queue any sample saw.
    pub max_queue: Option<u32>,
    /// Whether any sample saw it full by the kernel's test.
    pub reached_full: Option<bool>,
    /// Samples it was in.
    pub samples_seen: u32,
    /// When it was first seen, from the start of the window.
    pub first_seen_ms: u64,
    /// When it was last seen.
    pub last_seen_ms: u64,
    /// Absent from the first sample.
    pub appeared_mid_watch: bool,
    /// Absent from the last sample: it closed during the window.
    pub closed_mid_watch: bool,
}

/// Counters at the start and end of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterWindow {
    /// Where they come from.
    pub source: String,
    /// Each counter.
    pub values: Vec<CounterDelta>,
}

/// One counter over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    /// The OS's name (`ListenOverflows`, `tcps_listendrop`).
    pub name: String,
    /// At the start.
    pub before: u64,
    /// At the end.
    pub after: u64,
    /// `after - before` (0 if the counter went backwards, as a reset would).
    pub delta: u64,
}
