//! The cell texts both pages share (`results.md` and `answers.md`).

use backlog_probe::classify::extras::{FillOutcome, FillVerdict, QueueVerdict};
use backlog_probe::classify::tcp::OverflowKind;
use backlog_probe::export::text::{fill_cut_text, seconds};
use backlog_probe::observation::ListenReport;
use backlog_probe::report::CaseReport;
use backlog_probe::report::extras::FillResult;

/// `ok`, or the failed step and its raw error by name and number.
pub(super) fn listen_text(listen: &ListenReport) -> String {
    if listen.ok {
        return "ok".to_string();
    }
    let stage = listen.failed_at.map_or("setup", |stage| stage.as_str());
    match &listen.os_error {
        Some(error) => format!("failed at {stage}: {error}"),
        None => format!("failed at {stage}"),
    }
}

/// The queue length of a fill's verdict: `6`, or `≥ 6` when the fill stopped before the queue
/// was full.
pub(super) fn queue_text(verdict: &FillVerdict) -> String {
    match verdict.queue {
        QueueVerdict::Measured(queue) => queue.to_string(),
        QueueVerdict::AtLeast(queue) => format!("≥ {queue}"),
    }
}

/// The raw error of the connect that ended a fill, or `no error`.
pub(super) fn fill_error(fill: &FillResult) -> String {
    fill.os_error
        .as_ref()
        .map_or_else(|| "no error".to_string(), ToString::to_string)
}

/// How the fill ended: what the first connection that did not fit saw.
pub(super) fn overflow_text(fill: &FillResult, verdict: &FillVerdict) -> String {
    let error = fill_error(fill);
    match verdict.outcome {
        FillOutcome::Pending => "next connect() stayed pending".to_string(),
        FillOutcome::FailedAtOnce => format!("next connect() failed at once: {error}"),
        FillOutcome::FailedInHandshake => {
            format!("next connect() failed in the handshake: {error}")
        }
        FillOutcome::Cut(_) => {
            format!("not measured: {}", fill_cut_text(fill).unwrap_or_default())
        }
    }
}

/// When and how the client first saw an error, from the measured overflow.
pub(super) fn first_client_error(case: &CaseReport, cap: u32) -> String {
    let overflow = &case.overflow;
    let error = overflow
        .os_error
        .as_ref()
        .map_or_else(|| "error".to_string(), ToString::to_string);
    let after = overflow.elapsed_ms.map(seconds);
    match overflow.kind {
        OverflowKind::Dropped => match after {
            Some(after) => format!("none: SYN unanswered (still pending at {after})"),
            None => "none: SYN unanswered".to_string(),
        },
        OverflowKind::None => format!("none: cap of {cap} reached"),
        OverflowKind::ListenFailed => format!("listen() failed: {error}"),
        OverflowKind::Unavailable => "family unavailable".to_string(),
        OverflowKind::Inconclusive => "inconclusive".to_string(),
        _ => match after {
            Some(after) => format!("{error} after {after}"),
            None => error,
        },
    }
}
