//! The extras' report (`backlog-probe extras`): the raw facts of
//! [`crate::observation::extras`] with the environment they were measured in, in wire types of
//! its own, each row with its verdict from [`crate::classify::extras`] (not on the wire: a
//! reader judges the facts again, so the JSON is the facts alone).
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
//! ([`FillResult`]): `stop` is `pending` (the next
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
use crate::classify::extras::{FillVerdict, UdpOutcome, fill_verdict, udp_outcome};
use crate::environment::Environment;
use crate::observation::ListenReport;
use crate::observation::extras::{self as observed, ExtrasObservation};
pub use crate::observation::extras::{FillLimit, FillResult, FillStop, LocalType, MeasureStatus};
use crate::plan::Family;
use crate::sys::KernelQueue;

/// The current version of the `extras` wire format.
pub const EXTRAS_SCHEMA_VERSION: u32 = 1;

/// What `listen()` on a bound UDP socket returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UdpListen {
    /// Loopback family.
    pub family: Family,
    /// The backlog passed to `listen()`.
    pub backlog: i32,
    /// `ok: true` if the OS accepted the call; otherwise the failed step (`socket`, `bind` or
    /// `listen`) and its raw error.
    pub listen: ListenReport,
    /// What the call came to ([`crate::classify::extras::udp_outcome`]); not on the wire.
    #[serde(skip)]
    pub outcome: UdpOutcome,
}

/// One Unix-domain experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Why the setup failed when the OS gave no error code. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fill's verdict ([`crate::classify::extras::fill_verdict`]), where there was a fill;
    /// not on the wire.
    #[serde(skip)]
    pub verdict: Option<FillVerdict>,
}

/// One re-listen experiment on an IPv4 loopback TCP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RelistenCase {
    /// The backlog of the first `listen()`.
    pub first_backlog: i32,
    /// The backlog of the second `listen()` on the same, already listening socket.
    pub second_backlog: i32,
    /// Setup up to and including the first `listen()`.
    pub first_listen: ListenReport,
    /// The second `listen()`: `ok`, or its raw error (`failed_at: "listen"`).
    pub second_listen: Option<ListenReport>,
    /// The kernel's view after the second call, where the OS has one.
    pub kernel_queue: Option<KernelQueue>,
    /// The sequential fill after the second call.
    pub fill: Option<FillResult>,
    /// Connections accepted afterwards.
    pub accepted: u32,
    /// The fill's verdict, where there was a fill; not on the wire.
    #[serde(skip)]
    pub verdict: Option<FillVerdict>,
}

impl RelistenCase {
    /// The observation it reports, for [`crate::classify::extras::relisten_outcome`].
    pub fn observed(&self) -> observed::RelistenCase {
        observed::RelistenCase {
            first_backlog: self.first_backlog,
            second_backlog: self.second_backlog,
            first_listen: self.first_listen.clone(),
            second_listen: self.second_listen.clone(),
            kernel_queue: self.kernel_queue,
            fill: self.fill.clone(),
            accepted: self.accepted,
        }
    }
}

/// What one runtime's default listener got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuntimeDefault {
    /// The call, e.g. `std::net::TcpListener::bind`, `python3 socket.listen()`.
    pub api: String,
    /// Whether it was measured.
    pub status: MeasureStatus,
    /// The backlog the kernel stored for the listener, where the OS shows it.
    pub kernel_limit: Option<u32>,
    /// The sequential fill from this process: the effective queue.
    pub fill: Option<FillResult>,
    /// The raw error of a failed setup.
    pub os_error: Option<crate::os_error::OsError>,
    /// Why it was skipped, unsupported or failed, or why a view was not used.
    pub detail: Option<String>,
    /// The runtime program that set the listener up; absent for Rust's listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The fill's verdict, where there was a fill; not on the wire.
    #[serde(skip)]
    pub verdict: Option<FillVerdict>,
}

impl From<observed::UdpListen> for UdpListen {
    fn from(udp: observed::UdpListen) -> Self {
        UdpListen {
            outcome: udp_outcome(&udp.listen),
            family: udp.family,
            backlog: udp.backlog,
            listen: udp.listen,
        }
    }
}

impl From<observed::LocalCase> for LocalCase {
    fn from(case: observed::LocalCase) -> Self {
        LocalCase {
            verdict: case.fill.as_ref().map(fill_verdict),
            socket_type: case.socket_type,
            backlog: case.backlog,
            listen: case.listen,
            fill: case.fill,
            accepted: case.accepted,
            kernel_queue: case.kernel_queue,
            detail: case.detail,
        }
    }
}

impl From<observed::RelistenCase> for RelistenCase {
    fn from(case: observed::RelistenCase) -> Self {
        RelistenCase {
            verdict: case.fill.as_ref().map(fill_verdict),
            first_backlog: case.first_backlog,
            second_backlog: case.second_backlog,
            first_listen: case.first_listen,
            second_listen: case.second_listen,
            kernel_queue: case.kernel_queue,
            fill: case.fill,
            accepted: case.accepted,
        }
    }
}

impl From<observed::RuntimeDefault> for RuntimeDefault {
    /// The row of one measured runtime default, judged.
    fn from(default: observed::RuntimeDefault) -> Self {
        RuntimeDefault {
            verdict: default.fill.as_ref().map(fill_verdict),
            api: default.api,
            status: default.status,
            kernel_limit: default.kernel_limit,
            fill: default.fill,
            os_error: default.os_error,
            detail: default.detail,
            runtime: default.runtime,
        }
    }
}

/// Every extra experiment's results. The rows' verdicts are not on the wire: they are judged
/// when the report is made or read, and again by [`ExtrasReport::judge`] after an edit.
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
    #[serde(deserialize_with = "judged")]
    pub udp: Vec<UdpListen>,
    /// Unix-domain listeners.
    #[serde(deserialize_with = "judged")]
    pub unix_domain: Vec<LocalCase>,
    /// `listen()` twice.
    #[serde(deserialize_with = "judged")]
    pub relisten: Vec<RelistenCase>,
    /// Runtime defaults.
    #[serde(deserialize_with = "judged")]
    pub runtime_defaults: Vec<RuntimeDefault>,
    /// Each measured runtime's version, by runtime. Absent in reports written before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_versions: BTreeMap<String, String>,
}

/// A row whose verdict is judged from its facts.
trait Judged {
    /// Judge it again.
    fn judge(&mut self);
}

impl Judged for UdpListen {
    fn judge(&mut self) {
        self.outcome = udp_outcome(&self.listen);
    }
}

impl Judged for LocalCase {
    fn judge(&mut self) {
        self.verdict = self.fill.as_ref().map(fill_verdict);
    }
}

impl Judged for RelistenCase {
    fn judge(&mut self) {
        self.verdict = self.fill.as_ref().map(fill_verdict);
    }
}

impl Judged for RuntimeDefault {
    fn judge(&mut self) {
        self.verdict = self.fill.as_ref().map(fill_verdict);
    }
}

/// Rows as read, each judged.
fn judged<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Judged>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    let mut rows = Vec::<T>::deserialize(deserializer)?;
    rows.iter_mut().for_each(Judged::judge);
    Ok(rows)
}

impl ExtrasReport {
    /// The report of `measured`, taken in `environment`, its rows judged.
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
            udp: udp.into_iter().map(UdpListen::from).collect(),
            unix_domain: unix_domain.into_iter().map(LocalCase::from).collect(),
            relisten: relisten.into_iter().map(RelistenCase::from).collect(),
            runtime_defaults: runtime_defaults
                .into_iter()
                .map(RuntimeDefault::from)
                .collect(),
            runtime_versions,
        }
    }

    /// Judge every row again from its facts ([`crate::classify::extras`]): after the facts of
    /// a report were edited.
    pub fn judge(&mut self) {
        self.udp.iter_mut().for_each(Judged::judge);
        self.unix_domain.iter_mut().for_each(Judged::judge);
        self.relisten.iter_mut().for_each(Judged::judge);
        self.runtime_defaults.iter_mut().for_each(Judged::judge);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::extras::{FillOutcome, QueueVerdict};

    #[test]
    fn a_read_report_is_judged_and_writes_back_the_facts_alone() {
        let text = include_str!("../../tests/fixtures/extras-linux.json");
        let report: ExtrasReport = serde_json::from_str(text).unwrap();
        assert!(
            report
                .udp
                .iter()
                .all(|udp| udp.outcome == udp_outcome(&udp.listen))
        );
        let filled = report
            .unix_domain
            .iter()
            .filter(|case| case.fill.is_some())
            .collect::<Vec<_>>();
        assert!(!filled.is_empty());
        for case in filled {
            let fill = case.fill.as_ref().unwrap();
            assert_eq!(case.verdict, Some(fill_verdict(fill)), "{case:?}");
        }
        // The verdicts are not on the wire: what is written is what was read.
        let written: serde_json::Value = serde_json::to_value(&report).unwrap();
        let read: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(written, read);
        // An edited fact is judged again.
        let mut edited = report.clone();
        let case = &mut edited.unix_domain[0];
        case.fill = Some(FillResult {
            queue_length: 3,
            stop: FillStop::Cap,
            os_error: None,
            fd_limit: None,
        });
        edited.judge();
        let verdict = edited.unix_domain[0].verdict.unwrap();
        assert_eq!(verdict.queue, QueueVerdict::AtLeast(3));
        assert!(matches!(verdict.outcome, FillOutcome::Cut(_)));
    }
}
