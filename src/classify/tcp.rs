//! Pure judgement over an [`Observation`] of the sequential TCP experiment: what the first
//! overflow looked like, and what the pending client did once a slot freed.

use serde::{Deserialize, Serialize};

use super::{ErrorClass, error_class, is_family_missing, millis};
use crate::observation::SetupStage;
use crate::observation::tcp::{FillEnd, Late, Observation, Setup};
use crate::os_error::OsError;

/// The shape of the first connection that did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverflowKind {
    /// No answer: the connect stayed pending and the kernel had not queued it (a silently
    /// dropped SYN; the client will retransmit).
    Dropped,
    /// ECONNREFUSED / WSAECONNREFUSED (an RST in answer to the SYN, possibly after client retries).
    Refused,
    /// ECONNRESET / WSAECONNRESET: the server reset the connection after the client's side of
    /// the handshake completed (an RST in answer to the SYN itself is ECONNREFUSED, `refused`),
    /// whether the harness saw the reset at once or a few handshake times later. FreeBSD
    /// answers a full queue so: the syncache completes the handshake and `rst_on_sock_fail`
    /// resets it when the final ACK meets the full queue.
    Reset,
    /// ETIMEDOUT / WSAETIMEDOUT reported by the client stack itself.
    TimedOut,
    /// No overflow: the cap was reached first.
    None,
    /// `listen()` itself failed.
    ListenFailed,
    /// The family cannot be used here (no IPv6, for example).
    Unavailable,
    /// The facts do not support a verdict (out of descriptors, or the kernel queued a
    /// connection the client never saw complete).
    Inconclusive,
    /// Any other error: see `os_error`.
    Other,
}

impl OverflowKind {
    /// The wire name (`dropped`, `refused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OverflowKind::Dropped => "dropped",
            OverflowKind::Refused => "refused",
            OverflowKind::Reset => "reset",
            OverflowKind::TimedOut => "timed_out",
            OverflowKind::None => "none",
            OverflowKind::ListenFailed => "listen_failed",
            OverflowKind::Unavailable => "unavailable",
            OverflowKind::Inconclusive => "inconclusive",
            OverflowKind::Other => "other",
        }
    }
}

/// Why a case has no verdict: the harness's own limits, never the OS's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InconclusiveReason {
    /// The run's `--deadline` passed before the case started.
    NotRun,
    /// The run's `--deadline` passed while the case ran.
    Deadline,
    /// The worker process running the case ended without reporting it.
    Lost,
    /// The listener never came up.
    NoListener,
    /// The harness ran out of descriptors (or another client resource) before the queue was
    /// full.
    Resources,
    /// The kernel queued the connection but the client never saw it complete.
    KernelQueuedUnseen,
}

impl InconclusiveReason {
    /// True when the run's deadline, not the case, ended the measurement.
    pub fn is_deadline(self) -> bool {
        matches!(
            self,
            InconclusiveReason::NotRun | InconclusiveReason::Deadline
        )
    }
}

/// The verdict on the first overflow, with the facts it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overflow {
    /// The verdict.
    pub kind: OverflowKind,
    /// The raw error behind it, where there was one.
    pub os_error: Option<OsError>,
    /// Milliseconds from the overflowing `connect()` to the error, or to the verdict for a
    /// pending connect. `null` when no connect overflowed.
    pub elapsed_ms: Option<u64>,
    /// A sentence for `inconclusive` and setup failures.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// For `inconclusive`: which of the harness's limits ended the case.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<InconclusiveReason>,
}

impl Overflow {
    fn of(kind: OverflowKind, os_error: Option<OsError>, elapsed_ms: Option<u64>) -> Self {
        Overflow {
            kind,
            os_error,
            elapsed_ms,
            detail: None,
            reason: None,
        }
    }

    fn inconclusive(reason: InconclusiveReason, detail: String) -> Self {
        Overflow {
            detail: Some(detail),
            reason: Some(reason),
            ..Overflow::of(OverflowKind::Inconclusive, None, None)
        }
    }
}

/// Classify the first overflow of an experiment.
pub fn classify(obs: &Observation) -> Overflow {
    use InconclusiveReason as Why;
    match &obs.setup {
        Setup::Listening => {}
        Setup::NotRun => {
            return Overflow::inconclusive(
                Why::NotRun,
                "not run: the run deadline passed first".into(),
            );
        }
        Setup::Lost { detail } => {
            return Overflow::inconclusive(Why::Lost, format!("lost: {detail}"));
        }
        Setup::Failed { stage, error } => {
            let kind = match stage {
                SetupStage::Listen => OverflowKind::ListenFailed,
                _ if is_family_missing(error) => OverflowKind::Unavailable,
                _ => OverflowKind::Other,
            };
            return Overflow {
                detail: Some(format!("{} failed", stage.call())),
                ..Overflow::of(kind, Some(error.clone()), None)
            };
        }
    }
    match &obs.fill_end {
        FillEnd::NotStarted => {
            Overflow::inconclusive(Why::NoListener, "the listener never came up".into())
        }
        FillEnd::CapReached => Overflow::of(OverflowKind::None, None, None),
        FillEnd::Pending {
            waited,
            kernel_admitted,
            ..
        } => match kernel_admitted {
            Some(true) => Overflow {
                elapsed_ms: Some(millis(*waited)),
                ..Overflow::inconclusive(
                    Why::KernelQueuedUnseen,
                    "the kernel queued the connection but the client never saw it complete".into(),
                )
            },
            _ => Overflow {
                // The evidence the drop rests on.
                detail: Some(match fill_end_full(&obs.fill_end) {
                    Some(true) => "the kernel view showed a full queue".to_string(),
                    _ => "still pending past the first SYN retransmission".to_string(),
                }),
                ..Overflow::of(OverflowKind::Dropped, None, Some(millis(*waited)))
            },
        },
        // Where the error showed (at once, in the handshake, or after completion) depends on
        // timing; the verdict rests on the error alone, so a slow machine gives the same one.
        FillEnd::Failed { error, after, .. } => {
            let kind = match error_class(error) {
                ErrorClass::Refused => OverflowKind::Refused,
                ErrorClass::Reset => OverflowKind::Reset,
                ErrorClass::TimedOut => OverflowKind::TimedOut,
                ErrorClass::Other => OverflowKind::Other,
            };
            Overflow::of(kind, Some(error.clone()), Some(millis(*after)))
        }
        FillEnd::DeadlineReached { connections } => Overflow::inconclusive(
            Why::Deadline,
            format!("the run deadline passed after {connections} connections"),
        ),
        FillEnd::OutOfResources { error, detail } => Overflow {
            os_error: error.clone(),
            ..Overflow::inconclusive(Why::Resources, detail.clone())
        },
    }
}

/// Whether a pending fill end met a full queue in the kernel view.
fn fill_end_full(end: &FillEnd) -> Option<bool> {
    match end {
        FillEnd::Pending { kernel_full, .. } => *kernel_full,
        _ => None,
    }
}

/// Where the facts of one case contradict each other: one sentence each, empty when they
/// agree. A contradiction is reported beside the verdict (`inconsistent` in the report), never
/// resolved by picking one side.
///
/// The facts should agree thus: every client that completed is accepted in the end, and the
/// pending client's connection too if (and only if) it got in late; a kernel view that tracked
/// the clients (an unusable one is not shown at all) holds what they completed; and a connect
/// called dropped after outliving the first SYN retransmission should not have met a kernel
/// view with room in its queue.
pub fn inconsistencies(obs: &Observation) -> Vec<String> {
    let mut notes = Vec::new();
    let measured = matches!(
        obs.fill_end,
        FillEnd::CapReached | FillEnd::Pending { .. } | FillEnd::Failed { .. }
    );
    if obs.setup != Setup::Listening || !measured {
        return notes;
    }
    let completed = obs.completed;
    match obs.late {
        Late::Completed { .. } if obs.accepted < completed + 1 => notes.push(format!(
            "the pending client got in late, but the server accepted only {} connections for {} clients",
            obs.accepted,
            completed + 1
        )),
        Late::StillPending { .. } | Late::Failed { .. } if obs.accepted > completed => {
            notes.push(format!(
                "the server accepted {} connections, {} more than the clients completed, while the pending client never saw its connect complete",
                obs.accepted,
                obs.accepted - completed
            ))
        }
        _ if obs.accepted < completed => notes.push(format!(
            "the server accepted {} connections while the clients completed {completed}",
            obs.accepted
        )),
        _ => {}
    }
    if let Some(view) = obs.kernel_queue {
        if view.queued < completed || view.queued > completed + 1 {
            notes.push(format!(
                "the kernel view counted {} queued while the clients completed {completed}",
                view.queued
            ));
        }
    }
    if let FillEnd::Pending {
        kernel_full: Some(false),
        kernel_admitted: Some(false),
        ..
    } = obs.fill_end
    {
        notes.push(
            "the connect stayed pending past the first SYN retransmission although the kernel view showed room in the queue".to_string(),
        );
    }
    notes
}

/// What the pending client did after a slot freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LateKind {
    /// It completed: the OS kept (or retried) the connection until there was room.
    Completed,
    /// Still pending at the end of the watch.
    Pending,
    /// It failed.
    Failed,
    /// No client was pending to watch.
    NotApplicable,
}

impl LateKind {
    /// The wire name (`completed`, `pending`, `failed`, `not_applicable`).
    pub fn as_str(self) -> &'static str {
        match self {
            LateKind::Completed => "completed",
            LateKind::Pending => "pending",
            LateKind::Failed => "failed",
            LateKind::NotApplicable => "not_applicable",
        }
    }
}

/// The late-completion verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateCompletion {
    /// The verdict.
    pub kind: LateKind,
    /// Milliseconds from the pending client's `connect()` to completion, failure, or the end of
    /// the watch. `null` for `not_applicable`.
    pub elapsed_ms: Option<u64>,
    /// The raw error, for `failed`.
    pub os_error: Option<OsError>,
}

/// Summarise what the pending client did.
pub fn late_completion(late: &Late) -> LateCompletion {
    match late {
        Late::NotWatched => LateCompletion {
            kind: LateKind::NotApplicable,
            elapsed_ms: None,
            os_error: None,
        },
        Late::Completed { after } => LateCompletion {
            kind: LateKind::Completed,
            elapsed_ms: Some(millis(*after)),
            os_error: None,
        },
        Late::StillPending { watched } => LateCompletion {
            kind: LateKind::Pending,
            elapsed_ms: Some(millis(*watched)),
            os_error: None,
        },
        Late::Failed { error, after } => LateCompletion {
            kind: LateKind::Failed,
            elapsed_ms: Some(millis(*after)),
            os_error: Some(error.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::tcp::ConnectStage;
    use crate::plan::{Backlog, CaseSpec, Family};
    use crate::sys::KernelQueue;
    use std::time::Duration;

    fn observation(setup: Setup, fill_end: FillEnd) -> Observation {
        Observation {
            spec: CaseSpec {
                family: Family::Ipv4,
                backlog: Backlog::Value(5),
            },
            backlog: 5,
            setup,
            completed: 6,
            fill_end,
            kernel_queue: None,
            kernel_view_unusable: None,
            slowest_handshake: Some(Duration::from_micros(60)),
            late: Late::NotWatched,
            accepted: 6,
            duration: Duration::from_millis(1200),
        }
    }

    fn failed(name: &str, code: i32, ms: u64) -> FillEnd {
        FillEnd::Failed {
            error: OsError::named(name, code),
            after: Duration::from_millis(ms),
            stage: ConnectStage::Handshake,
        }
    }

    fn pending(admitted: Option<bool>) -> FillEnd {
        FillEnd::Pending {
            waited: Duration::from_millis(200),
            kernel_admitted: admitted,
            kernel_full: admitted.map(|admitted| !admitted),
        }
    }

    #[test]
    fn overflow_table() {
        let listening = || Setup::Listening;
        let table: Vec<(&str, Setup, FillEnd, OverflowKind, Option<u64>)> = vec![
            (
                "linux drop",
                listening(),
                pending(Some(false)),
                OverflowKind::Dropped,
                Some(200),
            ),
            (
                "no kernel view",
                listening(),
                pending(None),
                OverflowKind::Dropped,
                Some(200),
            ),
            (
                "kernel queued it",
                listening(),
                pending(Some(true)),
                OverflowKind::Inconclusive,
                Some(200),
            ),
            (
                "linux refused",
                listening(),
                failed("ECONNREFUSED", 111, 0),
                OverflowKind::Refused,
                Some(0),
            ),
            (
                "windows refused after retries",
                listening(),
                failed("WSAECONNREFUSED", 10061, 2004),
                OverflowKind::Refused,
                Some(2004),
            ),
            (
                "freebsd reset after completion",
                listening(),
                FillEnd::Failed {
                    error: OsError::named("ECONNRESET", 54),
                    after: Duration::from_millis(3),
                    stage: ConnectStage::AfterCompletion,
                },
                OverflowKind::Reset,
                Some(3),
            ),
            (
                "macos reset",
                listening(),
                failed("ECONNRESET", 54, 1),
                OverflowKind::Reset,
                Some(1),
            ),
            (
                "windows reset",
                listening(),
                failed("WSAECONNRESET", 10054, 3),
                OverflowKind::Reset,
                Some(3),
            ),
            (
                "timed out",
                listening(),
                failed("ETIMEDOUT", 110, 131_000),
                OverflowKind::TimedOut,
                Some(131_000),
            ),
            (
                "unnamed code",
                listening(),
                FillEnd::Failed {
                    error: OsError {
                        name: None,
                        code: 4242,
                    },
                    after: Duration::ZERO,
                    stage: ConnectStage::Immediate,
                },
                OverflowKind::Other,
                Some(0),
            ),
            (
                "cap",
                listening(),
                FillEnd::CapReached,
                OverflowKind::None,
                None,
            ),
            (
                "fd limit",
                listening(),
                FillEnd::OutOfResources {
                    error: Some(OsError::named("EMFILE", 24)),
                    detail: "fd limit 256".into(),
                },
                OverflowKind::Inconclusive,
                None,
            ),
            (
                "listen einval",
                Setup::Failed {
                    stage: SetupStage::Listen,
                    error: OsError::named("EINVAL", 22),
                },
                FillEnd::NotStarted,
                OverflowKind::ListenFailed,
                None,
            ),
            (
                "no ipv6",
                Setup::Failed {
                    stage: SetupStage::Bind,
                    error: OsError::named("EADDRNOTAVAIL", 99),
                },
                FillEnd::NotStarted,
                OverflowKind::Unavailable,
                None,
            ),
            (
                "no ipv6 on windows",
                Setup::Failed {
                    stage: SetupStage::Socket,
                    error: OsError::named("WSAEAFNOSUPPORT", 10047),
                },
                FillEnd::NotStarted,
                OverflowKind::Unavailable,
                None,
            ),
            (
                "worker lost",
                Setup::Lost {
                    detail: "worker exited with status 101".into(),
                },
                FillEnd::NotStarted,
                OverflowKind::Inconclusive,
                None,
            ),
            (
                "bind eacces",
                Setup::Failed {
                    stage: SetupStage::Bind,
                    error: OsError::named("EACCES", 13),
                },
                FillEnd::NotStarted,
                OverflowKind::Other,
                None,
            ),
        ];
        // Every row is checked, and every row that fails is named: one does not hide the rest.
        let mut failed = Vec::new();
        for (what, setup, fill_end, kind, elapsed) in table {
            let verdict = classify(&observation(setup, fill_end));
            // Only an inconclusive verdict carries a reason, and it always does.
            let has_reason = kind == OverflowKind::Inconclusive;
            if (verdict.kind, verdict.elapsed_ms, verdict.reason.is_some())
                != (kind, elapsed, has_reason)
            {
                failed.push(format!(
                    "{what}: {:?} after {:?} (reason: {:?}), expected {kind:?} after {elapsed:?}",
                    verdict.kind, verdict.elapsed_ms, verdict.reason
                ));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn the_deadline_reasons_are_the_run_deadline_ones() {
        let reason = |setup, fill_end| classify(&observation(setup, fill_end)).reason;
        let deadline = reason(
            Setup::Listening,
            FillEnd::DeadlineReached { connections: 3 },
        );
        assert_eq!(deadline, Some(InconclusiveReason::Deadline));
        assert_eq!(
            reason(Setup::NotRun, FillEnd::NotStarted),
            Some(InconclusiveReason::NotRun)
        );
        assert!(InconclusiveReason::Deadline.is_deadline());
        assert!(InconclusiveReason::NotRun.is_deadline());
        assert!(!InconclusiveReason::Resources.is_deadline());
        assert!(!InconclusiveReason::Lost.is_deadline());
    }

    #[test]
    fn a_drop_names_its_evidence() {
        let detail = |fill_end| classify(&observation(Setup::Listening, fill_end)).detail;
        assert_eq!(
            detail(pending(Some(false))).as_deref(),
            Some("the kernel view showed a full queue")
        );
        assert_eq!(
            detail(pending(None)).as_deref(),
            Some("still pending past the first SYN retransmission")
        );
    }

    /// Facts that agree give no note; each kind of contradiction gives one.
    #[test]
    fn inconsistencies_table() {
        let view = |queued| {
            Some(KernelQueue {
                queued,
                limit: 5,
                incomplete: None,
            })
        };
        let completed_late = Late::Completed {
            after: Duration::from_millis(1010),
        };
        let still_pending = Late::StillPending {
            watched: Duration::from_millis(3700),
        };
        let room = FillEnd::Pending {
            waited: Duration::from_millis(1700),
            kernel_admitted: Some(false),
            kernel_full: Some(false),
        };
        // (what, fill end, late, accepted, kernel view, expected note fragments)
        type Row<'a> = (
            &'a str,
            FillEnd,
            Late,
            u32,
            Option<KernelQueue>,
            &'a [&'a str],
        );
        let table: Vec<Row<'_>> = vec![
            (
                "agreeing drop",
                pending(Some(false)),
                completed_late.clone(),
                7,
                view(6),
                &[],
            ),
            (
                "no view, no late",
                pending(None),
                still_pending.clone(),
                6,
                None,
                &[],
            ),
            (
                "late, but not accepted",
                pending(Some(false)),
                completed_late,
                6,
                view(6),
                &["got in late"],
            ),
            (
                "accepted, never completed",
                pending(None),
                still_pending,
                7,
                None,
                &["never saw its connect complete"],
            ),
            (
                "fewer accepted",
                FillEnd::CapReached,
                Late::NotWatched,
                4,
                None,
                &["accepted 4 connections while the clients completed 6"],
            ),
            (
                "view short",
                FillEnd::CapReached,
                Late::NotWatched,
                6,
                view(4),
                &["kernel view counted 4"],
            ),
            (
                "room but dropped",
                room,
                Late::NotWatched,
                6,
                view(6),
                &["showed room in the queue"],
            ),
        ];
        // Every row is checked, and every row that fails is named: one does not hide the rest.
        let mut failed = Vec::new();
        for (what, fill_end, late, accepted, kernel_queue, expected) in table {
            let mut obs = observation(Setup::Listening, fill_end);
            obs.late = late;
            obs.accepted = accepted;
            obs.kernel_queue = kernel_queue;
            let notes = inconsistencies(&obs);
            let matches = notes.len() == expected.len()
                && notes
                    .iter()
                    .zip(expected)
                    .all(|(note, fragment)| note.contains(fragment));
            if !matches {
                failed.push(format!("{what}: {notes:?}, expected {expected:?}"));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        // A case the harness cut short is not judged.
        let mut cut = observation(
            Setup::Listening,
            FillEnd::DeadlineReached { connections: 2 },
        );
        cut.accepted = 0;
        assert!(inconsistencies(&cut).is_empty());
    }

    #[test]
    fn errors_are_kept_raw() {
        let verdict = classify(&observation(
            Setup::Listening,
            failed("WSAECONNREFUSED", 10061, 2004),
        ));
        assert_eq!(
            verdict.os_error,
            Some(OsError::named("WSAECONNREFUSED", 10061))
        );
    }

    #[rstest::rstest]
    #[case::not_watched(Late::NotWatched, LateKind::NotApplicable, None)]
    #[case::completed(
        Late::Completed { after: Duration::from_millis(1003) },
        LateKind::Completed,
        Some(1003)
    )]
    #[case::still_pending(
        Late::StillPending { watched: Duration::from_millis(3700) },
        LateKind::Pending,
        Some(3700)
    )]
    #[case::failed(
        Late::Failed { error: OsError::named("ECONNRESET", 104), after: Duration::from_millis(5) },
        LateKind::Failed,
        Some(5)
    )]
    fn late_table(#[case] late: Late, #[case] kind: LateKind, #[case] elapsed: Option<u64>) {
        let verdict = late_completion(&late);
        assert_eq!(
            (verdict.kind, verdict.elapsed_ms),
            (kind, elapsed),
            "{late:?}"
        );
    }
}
