//! Experiments beyond one TCP `listen()`, part of the socket-opening [`experiment`](crate::experiment)
//! module.
//!
//! - [`udp`]: what `listen()` on a datagram socket returns.
//! - [`local`]: Unix-domain stream and seqpacket listeners, filled one connection at a time.
//! - [`relisten`]: `listen()` again on a listening TCP socket with a smaller and a larger backlog.
//! - [`defaults`]: the queue runtimes give a listener when the caller names no backlog (std,
//!   tokio, Python).
//! - [`hold`]: a loopback listener kept full on demand (`backlog-probe hold`).
//!
//! [`fill`] is the shared sequential fill. Every wait has a deadline and every socket and
//! socket path is closed or removed before a function returns (or, for `hold`, when its
//! listener is dropped).
//!
//! # Wire format
//!
//! `backlog-probe extras --format json` prints one JSON object and a newline:
//!
//! - `schema_version` (integer, [`EXTRAS_SCHEMA_VERSION`]), `tool`, `environment`: as in the
//!   main report ([`report`](crate::report)).
//! - `udp`: one per family, `{"family", "backlog", "listen"}`; `listen` is the main report's
//!   `{"ok", "failed_at", "os_error"}` ([`udp::UdpListen`]).
//! - `unix_domain`: one per socket type (`"stream"`, `"seqpacket"`) and backlog:
//!   `{"socket_type", "backlog", "listen", "fill", "accepted", "kernel_queue"}`
//!   ([`local::LocalCase`]).
//! - `relisten`: `{"first_backlog", "second_backlog", "first_listen", "second_listen",
//!   "kernel_queue", "fill", "accepted"}` ([`relisten::RelistenCase`]).
//! - `runtime_defaults`: `{"api", "status", "kernel_limit", "fill", "os_error", "detail"}`,
//!   `status` one of `measured`, `unsupported`, `skipped`, `failed`
//!   ([`defaults::RuntimeDefault`]).
//!
//! Every `fill` is `{"queue_length", "stop", "os_error"}` ([`fill::FillResult`]): `stop` is
//! `pending` (the next connect neither completed nor failed in time), `failed_immediately`
//! (`connect()` returned an error, as a full Unix-domain queue does on Linux), `failed_in_handshake`
//! (a refusal or reset), `cap`, or `out_of_resources`. Nothing in it is a timing, so equal
//! systems give equal JSON.

pub mod defaults;
pub mod fill;
pub mod hold;
pub mod local;
pub mod relisten;
pub mod text;
pub mod udp;

use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::plan::Family;
use crate::report::Tool;

/// The current version of the `extras` wire format.
pub const EXTRAS_SCHEMA_VERSION: u32 = 1;

/// Every extra experiment's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtrasReport {
    /// [`EXTRAS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binary.
    pub tool: Tool,
    /// Where it ran.
    pub environment: Environment,
    /// `listen()` on UDP sockets.
    pub udp: Vec<udp::UdpListen>,
    /// Unix-domain listeners.
    pub unix_domain: Vec<local::LocalCase>,
    /// `listen()` twice.
    pub relisten: Vec<relisten::RelistenCase>,
    /// Runtime defaults.
    pub runtime_defaults: Vec<defaults::RuntimeDefault>,
}

impl ExtrasReport {
    /// The report as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        text.push('\n');
        text
    }
}

/// The UDP experiments.
pub fn run_udp() -> Vec<udp::UdpListen> {
    Family::ALL.into_iter().map(udp::udp_listen).collect()
}

/// The Unix-domain experiments, each socket type × [`local::LOCAL_BACKLOGS`].
pub fn run_unix_domain() -> Vec<local::LocalCase> {
    local::LocalType::ALL
        .into_iter()
        .flat_map(|ty| {
            local::LOCAL_BACKLOGS
                .into_iter()
                .map(move |backlog| local::local_case(ty, backlog))
        })
        .collect()
}

/// The re-listen experiments, [`relisten::RELISTEN_PAIRS`].
pub fn run_relisten() -> Vec<relisten::RelistenCase> {
    relisten::RELISTEN_PAIRS
        .into_iter()
        .map(|(first, second)| relisten::relisten_case(first, second))
        .collect()
}

/// The runtime defaults: std, tokio, and Python with no argument and with -1.
pub fn run_runtime_defaults() -> Vec<defaults::RuntimeDefault> {
    vec![
        defaults::std_tcp_listener(),
        defaults::std_unix_listener(),
        defaults::tokio_tcp_listener(),
        defaults::python_listener(None),
        defaults::python_listener(Some(-1)),
    ]
}

/// Run every extra experiment, one group after another.
pub fn run_extras() -> ExtrasReport {
    ExtrasReport {
        schema_version: EXTRAS_SCHEMA_VERSION,
        tool: Tool::default(),
        environment: Environment::detect(),
        udp: run_udp(),
        unix_domain: run_unix_domain(),
        relisten: run_relisten(),
        runtime_defaults: run_runtime_defaults(),
    }
}
