//! Judging the extras: how each sequential fill ended and what queue it measured, what UDP
//! `listen()` did, the pattern of the Unix-domain queues and which backlog a re-listen kept.
//! The extras report ([`crate::report::extras`]) carries the per-row verdicts; pages only word
//! them.

use crate::observation::extras::{FillLimit, FillResult, FillStop, RelistenCase};
use crate::observation::{FailedAt, ListenReport};

/// True when the fill ended because the listener stopped taking connections, not because the
/// harness ran out of room: only then is `queue_length` the queue.
pub fn queue_was_full(stop: FillStop) -> bool {
    !matches!(stop, FillStop::Cap | FillStop::OutOfResources)
}

/// The measured queue length of a fill, or `None` when the fill stopped before the queue was
/// full (then `queue_length` is only a lower bound).
pub fn measured_queue(fill: &FillResult) -> Option<u32> {
    queue_was_full(fill.stop).then_some(fill.queue_length)
}

/// What stopped a fill before the queue was full, when something did: the harness's limit to
/// name in place of a queue length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillCut {
    /// The process's descriptor limit.
    FdLimit(FillLimit),
    /// The caller's cap on clients.
    Cap,
    /// `socket()` failed for another reason (no buffers), or an older report that did not
    /// record the limit.
    OutOfResources,
}

/// Why `fill` is not a measured queue, or `None` when it is one.
pub fn fill_cut(fill: &FillResult) -> Option<FillCut> {
    match fill.stop {
        FillStop::Cap => Some(FillCut::Cap),
        FillStop::OutOfResources => Some(
            fill.fd_limit
                .map_or(FillCut::OutOfResources, FillCut::FdLimit),
        ),
        FillStop::Pending | FillStop::FailedImmediately | FillStop::FailedInHandshake => None,
    }
}

/// The queue a fill found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueVerdict {
    /// The listener stopped taking connections: this is the queue.
    Measured(u32),
    /// The fill stopped first: the queue holds at least this many.
    AtLeast(u32),
}

impl QueueVerdict {
    /// The measured queue, `None` for a lower bound.
    pub fn measured(self) -> Option<u32> {
        match self {
            QueueVerdict::Measured(queue) => Some(queue),
            QueueVerdict::AtLeast(_) => None,
        }
    }
}

/// What the first connection that did not fit saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillOutcome {
    /// `connect()` itself failed (a full Unix-domain queue on Linux).
    FailedAtOnce,
    /// The connect failed during the handshake (a refusal or reset).
    FailedInHandshake,
    /// The connect neither completed nor failed in time.
    Pending,
    /// The fill was cut short before the queue was full: no overflow was seen.
    Cut(FillCut),
}

/// A fill's verdict: its queue and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillVerdict {
    /// The queue, measured or a lower bound.
    pub queue: QueueVerdict,
    /// How the fill ended.
    pub outcome: FillOutcome,
}

/// Judge a fill.
pub fn fill_verdict(fill: &FillResult) -> FillVerdict {
    let outcome = match (fill.stop, fill_cut(fill)) {
        (_, Some(cut)) => FillOutcome::Cut(cut),
        (FillStop::FailedImmediately, None) => FillOutcome::FailedAtOnce,
        (FillStop::FailedInHandshake, None) => FillOutcome::FailedInHandshake,
        (_, None) => FillOutcome::Pending,
    };
    let queue = match measured_queue(fill) {
        Some(queue) => QueueVerdict::Measured(queue),
        None => QueueVerdict::AtLeast(fill.queue_length),
    };
    FillVerdict { queue, outcome }
}

/// What `listen()` on a bound UDP socket came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpOutcome {
    /// The OS accepted the call.
    Succeeded,
    /// `listen()` itself failed (see the row's raw error).
    Failed,
    /// The socket could not be set up, so `listen()` was never called (also the value of a
    /// row not judged yet).
    #[default]
    NotSetUp,
}

/// Judge UDP `listen()`.
pub fn udp_outcome(listen: &ListenReport) -> UdpOutcome {
    if listen.ok {
        UdpOutcome::Succeeded
    } else if listen.failed_at == Some(FailedAt::Listen) {
        UdpOutcome::Failed
    } else {
        UdpOutcome::NotSetUp
    }
}

/// How the measured queues of some listeners relate to their backlogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePattern {
    /// Every queue is its backlog plus one.
    PlusOne,
    /// Every queue is its backlog.
    Exact,
}

/// The pattern of `(backlog, measured queue)` pairs, `None` when there are none or they follow
/// neither pattern.
pub fn queue_pattern(full: &[(i32, u32)]) -> Option<QueuePattern> {
    let all = |extra: i64| {
        !full.is_empty()
            && full
                .iter()
                .all(|&(backlog, queue)| i64::from(queue) == i64::from(backlog) + extra)
    };
    if all(1) {
        Some(QueuePattern::PlusOne)
    } else if all(0) {
        Some(QueuePattern::Exact)
    } else {
        None
    }
}

/// Which backlog a listener kept after `listen(first)` then `listen(second)` on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelistenOutcome {
    /// The second call's backlog applied.
    SecondApplied,
    /// The first backlog stayed.
    FirstKept,
    /// The measurement cannot tell: equal backlogs, a second call that failed, no kernel view
    /// and a fill that does not single one out.
    Undecided,
}

/// Judge a re-listen case. Where the kernel shows the stored limit (`kernel_view`), that decides;
/// else a full fill is compared with `first_queue` and `second_queue`, the queue each backlog
/// gives on this system (measured, or the model's), which must differ.
pub fn relisten_outcome(
    case: &RelistenCase,
    kernel_view: bool,
    first_queue: Option<u32>,
    second_queue: Option<u32>,
) -> RelistenOutcome {
    let second_ok = case.second_listen.as_ref().is_some_and(|l| l.ok);
    if case.first_backlog == case.second_backlog || !second_ok {
        return RelistenOutcome::Undecided;
    }
    if let Some(view) = case.kernel_queue.filter(|_| kernel_view) {
        let limit = i64::from(view.limit);
        return if limit == i64::from(case.second_backlog) {
            RelistenOutcome::SecondApplied
        } else if limit == i64::from(case.first_backlog) {
            RelistenOutcome::FirstKept
        } else {
            RelistenOutcome::Undecided
        };
    }
    let Some(queue) = case.fill.as_ref().and_then(measured_queue) else {
        return RelistenOutcome::Undecided;
    };
    if first_queue == second_queue {
        RelistenOutcome::Undecided
    } else if second_queue == Some(queue) {
        RelistenOutcome::SecondApplied
    } else if first_queue == Some(queue) {
        RelistenOutcome::FirstKept
    } else {
        RelistenOutcome::Undecided
    }
}

/// Whether a measured value contradicts the model's: both known and different.
pub fn contradicts(measured: Option<u32>, model: Option<u32>) -> bool {
    matches!((measured, model), (Some(measured), Some(model)) if measured != model)
}

/// The verdict of several re-listen cases: the outcome every one of them shows, `None` when
/// there are none or they differ or none decides.
pub fn relisten_verdict(outcomes: &[RelistenOutcome]) -> Option<RelistenOutcome> {
    let first = *outcomes.first()?;
    (first != RelistenOutcome::Undecided && outcomes.iter().all(|o| *o == first)).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(stop: FillStop, fd_limit: Option<FillLimit>) -> FillResult {
        FillResult {
            queue_length: 6,
            stop,
            os_error: None,
            fd_limit,
        }
    }

    #[rstest::rstest]
    #[case(
        fill(FillStop::Pending, None),
        QueueVerdict::Measured(6),
        FillOutcome::Pending
    )]
    #[case(
        fill(FillStop::FailedImmediately, None),
        QueueVerdict::Measured(6),
        FillOutcome::FailedAtOnce
    )]
    #[case(
        fill(FillStop::FailedInHandshake, None),
        QueueVerdict::Measured(6),
        FillOutcome::FailedInHandshake
    )]
    #[case(
        fill(FillStop::Cap, None),
        QueueVerdict::AtLeast(6),
        FillOutcome::Cut(FillCut::Cap)
    )]
    #[case(
        fill(FillStop::OutOfResources, None),
        QueueVerdict::AtLeast(6),
        FillOutcome::Cut(FillCut::OutOfResources)
    )]
    #[case(
        fill(FillStop::OutOfResources, Some(FillLimit { soft: 30, hard: 30, descriptors: 14 })),
        QueueVerdict::AtLeast(6),
        FillOutcome::Cut(FillCut::FdLimit(FillLimit { soft: 30, hard: 30, descriptors: 14 }))
    )]
    fn fill_verdicts(
        #[case] fill: FillResult,
        #[case] queue: QueueVerdict,
        #[case] outcome: FillOutcome,
    ) {
        assert_eq!(fill_verdict(&fill), FillVerdict { queue, outcome });
    }

    #[rstest::rstest]
    #[case(true, None, UdpOutcome::Succeeded)]
    #[case(false, Some(FailedAt::Listen), UdpOutcome::Failed)]
    #[case(false, Some(FailedAt::Socket), UdpOutcome::NotSetUp)]
    #[case(false, Some(FailedAt::Bind), UdpOutcome::NotSetUp)]
    #[case(false, None, UdpOutcome::NotSetUp)]
    fn udp_outcomes(
        #[case] ok: bool,
        #[case] failed_at: Option<FailedAt>,
        #[case] expected: UdpOutcome,
    ) {
        let listen = ListenReport {
            ok,
            failed_at,
            os_error: None,
        };
        assert_eq!(udp_outcome(&listen), expected);
    }

    #[rstest::rstest]
    #[case::linux_unix_stream(&[(0, 1), (5, 6)], Some(QueuePattern::PlusOne))]
    #[case::exact(&[(1, 1), (5, 5)], Some(QueuePattern::Exact))]
    #[case::mixed(&[(1, 2), (5, 5)], None)]
    #[case::none(&[], None)]
    fn queue_patterns(#[case] full: &[(i32, u32)], #[case] expected: Option<QueuePattern>) {
        assert_eq!(queue_pattern(full), expected);
    }

    #[rstest::rstest]
    #[case(Some(128), Some(128), false)]
    #[case(Some(100), Some(128), true)]
    #[case(None, Some(128), false)]
    #[case(Some(128), None, false)]
    fn contradictions(
        #[case] measured: Option<u32>,
        #[case] model: Option<u32>,
        #[case] expected: bool,
    ) {
        assert_eq!(contradicts(measured, model), expected);
    }

    #[rstest::rstest]
    #[case(&[], None)]
    #[case(&[RelistenOutcome::SecondApplied, RelistenOutcome::SecondApplied], Some(RelistenOutcome::SecondApplied))]
    #[case(&[RelistenOutcome::FirstKept], Some(RelistenOutcome::FirstKept))]
    #[case(&[RelistenOutcome::FirstKept, RelistenOutcome::SecondApplied], None)]
    #[case(&[RelistenOutcome::Undecided, RelistenOutcome::Undecided], None)]
    fn relisten_verdicts(
        #[case] outcomes: &[RelistenOutcome],
        #[case] expected: Option<RelistenOutcome>,
    ) {
        assert_eq!(relisten_verdict(outcomes), expected);
    }

    #[rstest::rstest]
    #[case(FillStop::Pending, true)]
    #[case(FillStop::FailedImmediately, true)]
    #[case(FillStop::FailedInHandshake, true)]
    #[case(FillStop::Cap, false)]
    #[case(FillStop::OutOfResources, false)]
    fn only_a_listener_that_stopped_taking_connections_counts_as_full(
        #[case] stop: FillStop,
        #[case] full: bool,
    ) {
        assert_eq!(queue_was_full(stop), full, "{stop:?}");
        let fill = FillResult {
            queue_length: 6,
            stop,
            os_error: None,
            fd_limit: None,
        };
        assert_eq!(measured_queue(&fill), full.then_some(6), "{stop:?}");
        assert_eq!(fill_cut(&fill).is_none(), full, "{stop:?}");
    }

    #[test]
    fn a_descriptor_limited_fill_names_the_limit() {
        let limit = FillLimit {
            soft: 30,
            hard: 30,
            descriptors: 14,
        };
        let fill = FillResult {
            queue_length: 6,
            stop: FillStop::OutOfResources,
            os_error: None,
            fd_limit: Some(limit),
        };
        assert_eq!(fill_cut(&fill), Some(FillCut::FdLimit(limit)));
        assert_eq!(measured_queue(&fill), None);
        // On the wire: the limit as an object, absent when there is none (older readers and
        // snapshots see no difference).
        let json = serde_json::to_value(&fill).unwrap();
        assert_eq!(
            json["fd_limit"],
            serde_json::json!({"soft": 30, "hard": 30, "descriptors": 14})
        );
        let unlimited = FillResult {
            fd_limit: None,
            ..fill
        };
        let json = serde_json::to_value(&unlimited).unwrap();
        assert!(json.get("fd_limit").is_none(), "{json}");
        let old: FillResult = serde_json::from_str(
            r#"{"queue_length": 0, "stop": "out_of_resources", "os_error": null}"#,
        )
        .unwrap();
        assert_eq!(fill_cut(&old), Some(FillCut::OutOfResources));
    }

    #[test]
    fn stops_serialize_as_their_wire_names() {
        for stop in [
            FillStop::Pending,
            FillStop::FailedImmediately,
            FillStop::FailedInHandshake,
            FillStop::Cap,
            FillStop::OutOfResources,
        ] {
            let json = serde_json::to_string(&stop).unwrap();
            assert_eq!(json, format!("\"{}\"", stop.as_str()));
        }
    }

    fn relisten(second_ok: bool, limit: Option<u32>, queue: Option<u32>) -> RelistenCase {
        let listen = |ok| crate::observation::ListenReport {
            ok,
            failed_at: None,
            os_error: None,
        };
        RelistenCase {
            first_backlog: 5,
            second_backlog: 2,
            first_listen: listen(true),
            second_listen: Some(listen(second_ok)),
            kernel_queue: limit.map(|limit| crate::sys::KernelQueue {
                queued: 0,
                limit,
                incomplete: None,
            }),
            fill: queue.map(|queue_length| FillResult {
                queue_length,
                stop: FillStop::Pending,
                os_error: None,
                fd_limit: None,
            }),
            accepted: 0,
        }
    }

    // Each row on its own, so that one failing row does not hide the others.
    #[rstest::rstest]
    #[case::the_kernel_shows_the_second(
        relisten(true, Some(2), None),
        true,
        RelistenOutcome::SecondApplied
    )]
    #[case::the_kernel_shows_the_first(
        relisten(true, Some(5), None),
        true,
        RelistenOutcome::FirstKept
    )]
    #[case::a_view_that_is_no_view_is_ignored(
        relisten(true, Some(0), Some(3)),
        false,
        RelistenOutcome::SecondApplied
    )]
    #[case::the_fill_matches_the_first(
        relisten(true, None, Some(6)),
        true,
        RelistenOutcome::FirstKept
    )]
    #[case::the_fill_matches_neither(
        relisten(true, None, Some(4)),
        true,
        RelistenOutcome::Undecided
    )]
    #[case::a_failed_second_call(
        relisten(false, Some(2), Some(3)),
        true,
        RelistenOutcome::Undecided
    )]
    fn relisten_outcomes(
        #[case] case: RelistenCase,
        #[case] kernel_view: bool,
        #[case] expected: RelistenOutcome,
    ) {
        // Queues as Linux gives them (N + 1): 5 → 6, 2 → 3 (include/net/sock.h
        // sk_acceptq_is_full()).
        assert_eq!(
            relisten_outcome(&case, kernel_view, Some(6), Some(3)),
            expected
        );
    }
}
