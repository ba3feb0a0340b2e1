//! Every renderer: reports in, text out. Nothing here touches the OS.
//!
//! - [`render`]: `run`'s report as a terminal table, Markdown or the
//!   JSON wire format.
//! - [`burst`]: the burst's table; [`extras`]: the extras' text; [`merge`]: several reports in
//!   one cross-OS table.
//! - [`listeners`]: the listener view as a table or Markdown.
//! - [`text`]: the pieces they share (escaping, seconds, column alignment, the JSON writer).

pub mod burst;
pub mod extras;
pub mod listeners;
mod markdown;
pub mod merge;
mod table;
pub mod text;

pub use text::json;

use crate::netns::World;
use crate::report::{CaseReport, Report};

/// An output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain text for a terminal.
    Table,
    /// The wire format (see [`crate::report`]).
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

/// Render a report. Only the JSON writer can fail (see [`text::json`]).
pub fn render(report: &Report, format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Table => table::render(report),
        Format::Json => json(report)?,
        Format::Markdown => markdown::render(report),
    })
}

/// Column headings shared by the table and Markdown exporters.
pub(crate) const HEADINGS: [&str; 11] = [
    "family",
    "backlog",
    "listen",
    "queue",
    "accepted",
    "overflow",
    "error",
    "after",
    "late completion",
    "kernel queued/limit",
    "predicted",
];

/// Marks a prediction the measurement contradicts. A disagreement is a finding, so it is never
/// left out or softened.
pub const DISAGREE_MARK: &str = "≠";

/// The prediction beside a measurement: `6 dropped`, `? refused` when the model has no number,
/// and [`DISAGREE_MARK`] in front when the measurement contradicts it.
pub fn prediction_text(case: &CaseReport) -> String {
    let Some(prediction) = &case.prediction else {
        return "-".to_string();
    };
    let queue = prediction
        .queue_length
        .map_or_else(|| "?".to_string(), |n| n.to_string());
    let text = format!("{queue} {}", prediction.overflow.as_str());
    if prediction.agrees == Some(false) {
        format!("{DISAGREE_MARK} {text}")
    } else {
        text
    }
}

/// One line naming a world's knobs (and the value read back where it differs) and its counters.
pub fn world_summary(world: &World) -> String {
    let knobs: Vec<String> = world
        .sysctls
        .iter()
        .map(|s| {
            if s.read_back == s.requested {
                format!("{}={}", s.key, s.requested)
            } else {
                format!("{}={} (reads back {})", s.key, s.requested, s.read_back)
            }
        })
        .collect();
    let mut text = format!("world: private network namespace, {}", knobs.join(", "));
    if let Some(counters) = &world.counters {
        text.push_str(&format!(
            "; kernel counters over the run: ListenOverflows +{}, ListenDrops +{}",
            counters.delta.listen_overflows, counters.delta.listen_drops
        ));
    }
    text
}

/// What a reader must know beside a case's row, one sentence each: an unstable count, a
/// kernel view that was not used, facts that contradict each other.
pub fn case_notes(case: &CaseReport) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(unstable) = case.stability.as_ref().filter(|s| !s.stable) {
        let range = unstable
            .queue_length
            .filter(|r| r.min != r.max)
            .map(|r| format!(", queue {}–{}", r.min, r.max))
            .unwrap_or_default();
        notes.push(format!(
            "unstable over {} runs ({} differed{range})",
            unstable.runs,
            unstable.differs.join(", ")
        ));
    }
    if case.overflow.kind == crate::classify::tcp::OverflowKind::Inconclusive {
        if let Some(detail) = &case.overflow.detail {
            notes.push(format!("inconclusive: {detail}"));
        }
    }
    if let Some(reason) = &case.kernel_queue_unusable {
        notes.push(format!("kernel view not used: {reason}"));
    }
    for contradiction in &case.inconsistent {
        notes.push(format!("inconsistent: {contradiction}"));
    }
    notes
}

/// Every case's notes, as `name: note` lines.
pub(crate) fn notes(report: &Report) -> Vec<String> {
    report
        .cases
        .iter()
        .flat_map(|case| {
            case_notes(case)
                .into_iter()
                .map(move |note| format!("{}: {note}", case.name))
        })
        .collect()
}

/// One row of cells, in [`HEADINGS`] order.
pub(crate) fn cells(case: &CaseReport) -> Vec<String> {
    let queue = match case.stability.as_ref().filter(|s| !s.stable) {
        Some(unstable) => match unstable.queue_length {
            Some(range) if range.min != range.max => format!("{}–{}", range.min, range.max),
            _ => queue_text(case),
        },
        None => queue_text(case),
    };
    let kernel = match (case.kernel_queue, &case.kernel_queue_unusable) {
        (Some(q), _) => format!("{}/{}", q.queued, q.limit),
        (None, Some(_)) => "unusable".to_string(),
        (None, None) => "-".to_string(),
    };
    vec![
        case.family.to_string(),
        text::backlog_text(&case.label, case.backlog),
        text::listen_text(&case.listen),
        queue,
        case.accepted.to_string(),
        case.overflow.kind.as_str().to_string(),
        case.overflow
            .os_error
            .as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string),
        text::seconds_or_dash(case.overflow.elapsed_ms),
        text::late_text(&case.late_completion),
        kernel,
        prediction_text(case),
    ]
}

/// The queue length cell: the number, or `-` when not measured.
fn queue_text(case: &CaseReport) -> String {
    case.queue_length
        .map_or_else(|| "-".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests;
