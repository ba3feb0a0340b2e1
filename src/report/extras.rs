//! The extras' report (`backlog-probe extras`): the raw facts of
//! [`crate::observation::extras`] with the environment they were measured in.
//!
//! # Wire format
//!
//! `backlog-probe extras --format json` prints one JSON object and a newline:
//!
//! - `schema_version` (integer, [`EXTRAS_SCHEMA_VERSION`]), `tool`, `environment`: as in the
//!   main report ([`crate::report`]).
//! - `udp`: one per family, `{"family", "backlog", "listen"}`; `listen` is the main report's
//!   `{"ok", "failed_at", "os_error"}` ([`UdpListen`]).
//! - `unix_domain`: one per socket type (`"stream"`, `"seqpacket"`) and backlog:
//!   `{"socket_type", "backlog", "listen", "fill", "accepted", "kernel_queue", "detail"?}`
//!   ([`LocalCase`]).
//! - `relisten`: `{"first_backlog", "second_backlog", "first_listen", "second_listen",
//!   "kernel_queue", "fill", "accepted"}`
//!   ([`RelistenCase`]).
//! - `runtime_defaults`: `{"api", "status", "kernel_limit", "fill", "os_error", "detail",
//!   "runtime"?}`, `status` one of `measured`, `unsupported`, `skipped` (the
//!   runtime is not installed: its command is not on PATH), `failed` (it could not start, exited
//!   early or printed no port within its deadline: `detail` says which)
//!   ([`RuntimeDefault`]). `kernel_limit` is the stored backlog as the kernel shows it (the
//!   listener's `TCP_INFO` in this process; the OS's listener listing, Linux sock_diag, for a
//!   runtime program's listener), `fill` the effective queue (for a runtime program's
//!   listener always, for this process's only where it has no kernel view). `runtime` is the
//!   runtime program's key (`python`, `go`, `node`, `java`, `dotnet`, `ruby`, `php`;
//!   [`crate::experiment::extras::runtimes`]), absent for Rust's own listeners.
//! - `runtime_versions`: `{"rust": "rustc 1.95.0 (…)", "tokio": "tokio 1.54.1, mio 1.2.5",
//!   "go": "go1.19.8 linux/amd64", …}`, each measured runtime's version as it reported it, kept
//!   out of the rows so that they compare across machines.
//!
//! Every `fill` is `{"queue_length", "stop", "os_error", "fd_limit"?}`
//! ([`FillResult`](crate::observation::extras::FillResult)): `stop` is `pending` (the next
//! connect neither completed nor failed in time), `failed_immediately` (`connect()` returned an
//! error, as a full Unix-domain queue does on Linux), `failed_in_handshake` (a refusal or
//! reset), `cap`, or `out_of_resources`. Only the first three make `queue_length` a measured
//! queue; after `cap` or `out_of_resources` it is how far the fill got. `fd_limit`
//! (`{"soft", "hard", "descriptors"}`: the process's descriptor limit and what the fill could
//! hold) is present only when that limit stopped the fill. A `unix_domain` case may carry a
//! `detail` (why its setup failed when the OS gave no error code, such as a socket path too
//! long for `sun_path`). Both are optional additions to version 1: a version-1 reader ignores
//! them. So are a runtime default's `runtime`, `runtime_versions`, and a runtime program row's
//! `fill` next to its `kernel_limit` (version-1 rows had a fill only where there was no kernel
//! view; a reader that takes `kernel_limit` first reads either). Nothing in it is a timing, so equal systems give
//! equal JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Tool;
use crate::environment::Environment;
use crate::observation::extras::{
    ExtrasObservation, LocalCase, RelistenCase, RuntimeDefault, UdpListen,
};

/// The current version of the `extras` wire format.
pub const EXTRAS_SCHEMA_VERSION: u32 = 1;

/// Every extra experiment's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExtrasReport {
    /// [`EXTRAS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binary.
    pub tool: Tool,
    /// Where it ran.
    pub environment: Environment,
    /// `listen()` on UDP sockets.
    pub udp: Vec<UdpListen>,
    /// Unix-domain listeners.
    pub unix_domain: Vec<LocalCase>,
    /// `listen()` twice.
    pub relisten: Vec<RelistenCase>,
    /// Runtime defaults.
    pub runtime_defaults: Vec<RuntimeDefault>,
    /// Each measured runtime's version, by runtime. Absent in reports written before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_versions: BTreeMap<String, String>,
}

impl ExtrasReport {
    /// The report of `measured`, taken in `environment`.
    pub fn new(measured: ExtrasObservation, environment: Environment) -> Self {
        let ExtrasObservation {
            udp,
            unix_domain,
            relisten,
            runtime_defaults,
            runtime_versions,
        } = measured;
        ExtrasReport {
            schema_version: EXTRAS_SCHEMA_VERSION,
            tool: Tool::default(),
            environment,
            udp,
            unix_domain,
            relisten,
            runtime_defaults,
            runtime_versions,
        }
    }
}
