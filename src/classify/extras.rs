//! Judging the extras' sequential fills.

use crate::observation::extras::{FillLimit, FillResult, FillStop};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listener_that_stopped_taking_connections_counts_as_full() {
        for (stop, full) in [
            (FillStop::Pending, true),
            (FillStop::FailedImmediately, true),
            (FillStop::FailedInHandshake, true),
            (FillStop::Cap, false),
            (FillStop::OutOfResources, false),
        ] {
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
}
