//! Judging the extras' sequential fills.

use crate::observation::extras::{FillResult, FillStop};

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
            };
            assert_eq!(measured_queue(&fill), full.then_some(6), "{stop:?}");
        }
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
