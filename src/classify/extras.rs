//! Judging the extras' sequential fills.

use crate::observation::extras::{FillLimit, FillResult, FillStop, RelistenCase};

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

#[cfg(test)]
mod tests {
    use super::*;

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
