//! Every wire type: plain serde structs for the pipelines' reports. [`Report`] (this
//! module) is `run`'s; [`burst::BurstReport`], [`extras::ExtrasReport`] and
//! [`listeners::ListenersReport`] (`backlog-probe listeners`) are the others'; [`read`] parses report files back, checking the schema version.
//!
//! The types are data only: [`classify`](crate::classify) makes the verdicts they carry,
//! [`predict`](crate::predict) fills [`CasePrediction`], and [`export`](crate::export) renders
//! them.
//!
//! # Wire format
//!
//! `backlog-probe run --format json` prints one JSON object followed by a newline:
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "tool": {"name": "backlog-probe", "version": "0.1.0"},
//!   "environment": { ... },
//!   "settings": {"cap": 70000},
//!   "cases": [ { ... }, ... ]
//! }
//! ```
//!
//! - `schema_version` (integer): bumped whenever a field changes meaning or disappears. New
//!   fields and new enum values may appear without a bump; readers should ignore what they do
//!   not know.
//! - `tool`: the name and version of the binary that measured.
//! - `environment` ([`Environment`]): `target_os`, `target_arch`; `os` (os_info's `os_type`,
//!   `version`, `edition`, `codename`, `bitness`, `architecture`); `kernel` (`uname -r` or
//!   null); `somaxconn` (`constant`: the platform `SOMAXCONN`; `setting` and `setting_name`: the
//!   system's effective limit and its knob, or null); `settings` (other knobs by sysctl name,
//!   values as strings); `fd_limit` (`soft_before`, `soft`, `hard`, or null where the OS has no
//!   such limit); `emulator` (e.g. `"wine 8.0"`, or null); `sandbox` (`"gvisor"`, `"wsl"`,
//!   `"container"`, absent when none is detected; under gVisor the TCP stack is gVisor's own);
//!   `measured_on` (`"2026-12-08"`: the UTC day the run started, from the system clock; absent
//!   in reports written before it was added). The burst and extras reports carry the same
//!   `environment`.
//! - `settings` ([`Settings`]): `cap`, the most connections a case opens; `deadline_ms`, the
//!   run's deadline, present only when one was set.
//! - `cases`: one [`CaseReport`] per experiment, in the order they were planned:
//!   - `name` (string): `ipv4_backlog_zero`, ...; `family`: `"ipv4"` | `"ipv6"`;
//!     `backlog` (i32): the value passed to `listen()`; `label`: `"0"`, `"somaxconn"`,
//!     `"i32::min"`, ...; `backlog_meaning`: what the OS documents for this value, or null.
//!   - `listen`: `{"ok": bool, "failed_at": null | "socket" | "bind" | "listen" | "not_run" |
//!     "lost", "os_error": null | {...}}` (`not_run`: the run's `--deadline` passed before the
//!     case started; `lost`: the worker process running the case ended without reporting it,
//!     see [`run::workers`](crate::run::workers)).
//!   - `queue_length` (integer or null): connections the client completed, one at a time,
//!     before the first overflow; with overflow `none`, the cap. Null when it was not measured:
//!     the listener never came up, or the harness's own limits (descriptors, `--deadline`) cut
//!     the fill short (overflow `inconclusive`, with a `detail`).
//!   - `accepted` (integer): connections the server accepted in all, including a pending
//!     client that got in late.
//!   - `overflow`: `{"kind", "os_error", "elapsed_ms", "detail"?}`. `kind` is one of `dropped`,
//!     `refused`, `reset`, `timed_out`, `none` (cap reached), `listen_failed`, `unavailable`,
//!     `inconclusive`, `other` (see [`OverflowKind`]). For `inconclusive`, `reason` says which
//!     of the harness's limits ended the case: `not_run`, `deadline`, `lost`, `no_listener`,
//!     `resources`, `kernel_queued_unseen` (see
//!     [`InconclusiveReason`](crate::classify::tcp::InconclusiveReason)).
//!   - `late_completion`: `{"kind", "elapsed_ms", "os_error"}` with `kind` one of `completed`,
//!     `pending`, `failed`, `not_applicable` (see [`LateKind`]).
//!   - `kernel_queue`: `{"queued", "limit", "incomplete"?}` read when the fill ended, or null where
//!     the OS offers no view.
//!   - `duration_ms`: wall time of the case.
//!   - `prediction` (absent for an OS the model has no rules for): `{"queue_length", "overflow",
//!     "rule", "source", "confidence", "agrees"}`, what [`crate::predict`] expects from the
//!     kernel source or documentation for this backlog and environment. `confidence` is
//!     `source`, `documented` or `low`; `agrees` is true or false when the measured queue
//!     length and overflow kind can be compared, else null. Never a measurement.
//!
//! - `world` (absent for the host): `{"kind": "network_namespace", "sysctls": [{"key",
//!   "requested", "read_back"}], "counters": {"before", "after", "delta"} | null}`, each counter
//!   set being `{"listen_overflows", "listen_drops"}` (run-level; see [`crate::netns`]).
//!
//! Every `os_error` is `{"name": "ECONNREFUSED" | null, "code": 111}`: the raw number and its
//! symbolic name on the OS that measured.

pub mod burst;
pub mod extras;
pub mod listeners;
pub mod read;

use serde::{Deserialize, Serialize};

use crate::classify::tcp::{self as classify, LateCompletion, LateKind, Overflow, OverflowKind};
use crate::environment::Environment;
use crate::netns::World;
use crate::observation::tcp::{FillEnd, Observation, Setup};
use crate::observation::{FailedAt, ListenReport};
use crate::plan::{Family, Settings};
use crate::sys::{self, KernelQueue};

/// The current wire-format version.
pub const SCHEMA_VERSION: u32 = 1;

/// The binary that produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `backlog-probe`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One experiment's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CaseReport {
    /// `ipv4_backlog_zero`-style identifier.
    pub name: String,
    /// Loopback family.
    pub family: Family,
    /// The i32 passed to `listen()`.
    pub backlog: i32,
    /// How the user named it (`somaxconn`, `i32::min`, or the number).
    pub label: String,
    /// What this OS documents for the value (Windows: `SOMAXCONN_HINT(n)`), or null.
    pub backlog_meaning: Option<String>,
    /// Listener setup.
    pub listen: ListenReport,
    /// Connections the client completed before the first overflow; null if not measured.
    pub queue_length: Option<u32>,
    /// Connections the server accepted.
    pub accepted: u32,
    /// The first overflow.
    pub overflow: Overflow,
    /// What the pending client did once a slot freed.
    pub late_completion: LateCompletion,
    /// The kernel's view when the fill ended.
    pub kernel_queue: Option<KernelQueue>,
    /// Wall time of the case in milliseconds.
    pub duration_ms: u64,
    /// What the model in [`crate::predict`] expects here, beside (never instead of) the
    /// measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<CasePrediction>,
    /// Where the case's facts contradict each other, one sentence each (see
    /// [`classify::inconsistencies`]); absent when they agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconsistent: Vec<String>,
    /// Why the kernel view is not shown (`kernel_queue` null) although the OS has one: it did
    /// not track the clients. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_queue_unusable: Option<String>,
    /// The longest handshake of a completed client, in microseconds: the scale the case's
    /// waits were stretched to. Absent when none completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest_handshake_us: Option<u64>,
    /// With `run --repeat N`: how the case's stable fields varied over the runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<Stability>,
}

/// A range of values over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The smallest value seen.
    pub min: u32,
    /// The largest value seen.
    pub max: u32,
}

impl Range {
    fn of(values: impl Iterator<Item = u32>) -> Option<Range> {
        values.fold(None, |range, v| {
            Some(range.map_or(Range { min: v, max: v }, |r: Range| Range {
                min: r.min.min(v),
                max: r.max.max(v),
            }))
        })
    }
}

/// How one case's stable view varied over `run --repeat N` (the report's case is the first
/// run's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stability {
    /// How many runs measured the case.
    pub runs: u32,
    /// True when every run gave the same stable view.
    pub stable: bool,
    /// The measured queue lengths' range (absent when no run measured one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_length: Option<Range>,
    /// The accepted counts' range.
    pub accepted: Range,
    /// The stable-view fields that differed between runs (`queue_length`, `late_completion`,
    /// ...), in alphabetical order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<String>,
}

impl Stability {
    /// Compare one case's reports from several runs by their stable view (`somaxconn` as in
    /// [`CaseReport::stable_view`]). `runs` must not be empty.
    pub fn of(runs: &[&CaseReport], somaxconn: Option<i64>) -> Stability {
        let views: Vec<serde_json::Value> = runs
            .iter()
            .map(|case| serde_json::to_value(case.stable_view(somaxconn)).unwrap_or_default())
            .collect();
        let mut differs = Vec::new();
        if let Some(serde_json::Value::Object(first)) = views.first() {
            for key in first.keys() {
                if views.iter().any(|view| view.get(key) != first.get(key)) {
                    differs.push(key.clone());
                }
            }
        }
        Stability {
            runs: runs.len() as u32,
            stable: differs.is_empty(),
            queue_length: Range::of(runs.iter().filter_map(|case| case.queue_length)),
            accepted: Range::of(runs.iter().map(|case| case.accepted))
                .unwrap_or(Range { min: 0, max: 0 }),
            differs,
        }
    }
}

impl CaseReport {
    /// Judge an observation and lay it out for the report.
    pub fn from_observation(obs: &Observation) -> Self {
        // A fill cut short by the harness's own limits measured a lower bound, not the queue.
        let measured = matches!(
            obs.fill_end,
            FillEnd::CapReached | FillEnd::Pending { .. } | FillEnd::Failed { .. }
        );
        let not_measured = |failed_at| ListenReport {
            ok: false,
            failed_at: Some(failed_at),
            os_error: None,
        };
        let (listen, queue_length) = match &obs.setup {
            Setup::Listening => (ListenReport::ok(), measured.then_some(obs.completed)),
            Setup::NotRun => (not_measured(FailedAt::NotRun), None),
            Setup::Lost { .. } => (not_measured(FailedAt::Lost), None),
            Setup::Failed { stage, error } => (ListenReport::failed(*stage, error.clone()), None),
        };
        CaseReport {
            name: obs.spec.name(),
            family: obs.spec.family,
            backlog: obs.backlog,
            label: obs.spec.backlog.label(),
            backlog_meaning: sys::backlog_meaning(obs.backlog),
            listen,
            queue_length,
            accepted: obs.accepted,
            overflow: classify::classify(obs),
            late_completion: classify::late_completion(&obs.late),
            kernel_queue: obs.kernel_queue,
            duration_ms: u64::try_from(obs.duration.as_millis()).unwrap_or(u64::MAX),
            prediction: None,
            inconsistent: classify::inconsistencies(obs),
            kernel_queue_unusable: obs.kernel_view_unusable.clone(),
            slowest_handshake_us: obs
                .slowest_handshake
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            stability: None,
        }
    }

    /// The part of a case that should not change between runs on the same system: no timings,
    /// ports or addresses. Snapshots hold this.
    pub fn stable_view(&self, somaxconn_setting: Option<i64>) -> StableCase {
        StableCase {
            family: self.family,
            backlog: self.backlog,
            label: self.label.clone(),
            system_somaxconn: somaxconn_setting,
            listen: match (self.listen.failed_at, &self.listen.os_error) {
                (None, _) => "ok".to_string(),
                (Some(stage), Some(e)) => {
                    format!("{}: {}", stage.as_str(), e.name.as_deref().unwrap_or("?"))
                }
                (Some(stage), None) => format!("{}: failed", stage.as_str()),
            },
            queue_length: self.queue_length,
            accepted: self.accepted,
            overflow: self.overflow.kind,
            overflow_error: self.overflow.os_error.as_ref().and_then(|e| e.name.clone()),
            late_completion: self.late_completion.kind,
            kernel_limit: self.kernel_queue.map(|q| q.limit),
            kernel_queued: self.kernel_queue.map(|q| q.queued),
            unstable: self
                .stability
                .as_ref()
                .filter(|s| !s.stable)
                .map(|s| Unstable {
                    runs: s.runs,
                    queue_length: s.queue_length,
                    accepted: s.accepted,
                    differs: s.differs.clone(),
                }),
        }
    }
}

/// The stable view of a case, for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StableCase {
    /// Loopback family.
    pub family: Family,
    /// The i32 passed to `listen()`.
    pub backlog: i32,
    /// The backlog's label.
    pub label: String,
    /// The system setting that clamps backlogs (so a diff caused by a different setting
    /// explains itself).
    pub system_somaxconn: Option<i64>,
    /// `ok`, or the failed step and error name.
    pub listen: String,
    /// Connections completed before the first overflow.
    pub queue_length: Option<u32>,
    /// Connections accepted.
    pub accepted: u32,
    /// Overflow verdict.
    pub overflow: OverflowKind,
    /// The overflow's error name.
    pub overflow_error: Option<String>,
    /// What the pending client did.
    pub late_completion: LateKind,
    /// The kernel's stored limit.
    pub kernel_limit: Option<u32>,
    /// The kernel's queued count when the fill ended.
    pub kernel_queued: Option<u32>,
    /// For a case whose stable view varied over `run --repeat N`: the ranges and the fields
    /// that differed (the other fields are the first run's). Absent for a stable case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable: Option<Unstable>,
}

/// How an unstable case varied, as its snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unstable {
    /// Runs compared.
    pub runs: u32,
    /// The queue lengths' range.
    pub queue_length: Option<Range>,
    /// The accepted counts' range.
    pub accepted: Range,
    /// The fields that differed.
    pub differs: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binary.
    pub tool: Tool,
    /// Where it ran.
    pub environment: Environment,
    /// Run settings.
    pub settings: Settings,
    /// One entry per experiment.
    pub cases: Vec<CaseReport>,
    /// The private network namespace and knobs the cases ran in (`--sysctl`); absent for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<World>,
}

/// How firmly a prediction's rule is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Confidence {
    /// Read in the kernel source.
    Source,
    /// Official documentation, no source available (Windows).
    Documented,
    /// Low confidence: documentation that leaves the value open, anecdotes, or inference.
    Low,
}

impl Confidence {
    /// The wire name (`source`, `documented`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Source => "source",
            Confidence::Documented => "documented",
            Confidence::Low => "low",
        }
    }
}

/// The prediction for one case, as a report carries it: the model's numbers
/// ([`crate::predict`]) plus whether the measurement agrees. Never a measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasePrediction {
    /// Predicted queue length; `null` when the sources leave it open.
    pub queue_length: Option<u32>,
    /// Predicted overflow kind.
    pub overflow: OverflowKind,
    /// The formula, in words.
    pub rule: String,
    /// The kernel file and function, or the documentation URL, the rule comes from.
    pub source: String,
    /// How firmly the rule is known.
    pub confidence: Confidence,
    /// Whether the measured queue length and overflow kind match; `null` when either side is
    /// unknown, the cap stopped the case first, or the run was under an emulator.
    pub agrees: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_case() -> CaseReport {
        let report: Report =
            serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
        report.cases[1].clone()
    }

    #[test]
    fn identical_runs_are_stable_and_leave_the_snapshot_as_it_was() {
        let case = fixture_case();
        let stability = Stability::of(&[&case, &case, &case], Some(4096));
        assert!(stability.stable, "{stability:?}");
        assert_eq!(stability.runs, 3);
        assert!(stability.differs.is_empty());
        let mut with = case.clone();
        with.stability = Some(stability);
        assert_eq!(with.stable_view(Some(4096)), case.stable_view(Some(4096)));
        let json = serde_json::to_value(with.stable_view(Some(4096))).unwrap();
        assert!(json.get("unstable").is_none(), "{json}");
    }

    #[test]
    fn a_count_that_changes_is_unstable_with_its_range() {
        let first = fixture_case();
        let mut second = first.clone();
        second.queue_length = first.queue_length.map(|q| q + 1);
        second.accepted += 1;
        second.duration_ms += 500; // timings are not part of the stable view
        let stability = Stability::of(&[&first, &second], None);
        assert!(!stability.stable);
        assert_eq!(stability.differs, ["accepted", "queue_length"]);
        let queued = first.queue_length.unwrap();
        assert_eq!(
            stability.queue_length,
            Some(Range {
                min: queued,
                max: queued + 1
            })
        );
        let mut case = first.clone();
        case.stability = Some(stability);
        let unstable = case
            .stable_view(None)
            .unstable
            .expect("recorded as a range");
        assert_eq!(unstable.runs, 2);
        assert_eq!(unstable.differs, ["accepted", "queue_length"]);
    }
}
