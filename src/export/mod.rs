//! Exporters: the report as a terminal table, Markdown, or JSON. Pure functions of a
//! [`Report`]; nothing here touches the OS.

mod json;
mod markdown;
mod table;

use crate::report::{CaseReport, Report};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain text for a terminal.
    Table,
    /// The wire format (see [`crate::report`]).
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

/// Render a report.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Json => json::render(report),
        Format::Markdown => markdown::render(report),
    }
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
pub(crate) fn world_summary(world: &crate::world::World) -> String {
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

fn millis_text(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("{:.2} s", ms as f64 / 1000.0),
        None => "-".to_string(),
    }
}

/// One row of cells, in [`HEADINGS`] order.
pub(crate) fn cells(case: &CaseReport) -> [String; 11] {
    let listen = match (&case.listen.failed_at, &case.listen.os_error) {
        (None, _) => "ok".to_string(),
        (Some(stage), Some(error)) => format!("{stage}: {error}"),
        (Some(stage), None) => format!("{stage}: failed"),
    };
    let backlog = if case.label == case.backlog.to_string() {
        case.label.clone()
    } else {
        format!("{} ({})", case.label, case.backlog)
    };
    let late = &case.late_completion;
    let late_text = match late.kind {
        crate::classify::LateKind::NotApplicable => "-".to_string(),
        crate::classify::LateKind::Failed => format!(
            "failed {} after {}",
            late.os_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            millis_text(late.elapsed_ms)
        ),
        kind => format!(
            "{} after {}",
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            millis_text(late.elapsed_ms)
        ),
    };
    [
        case.family.to_string(),
        backlog,
        listen,
        case.queue_length
            .map_or_else(|| "-".to_string(), |n| n.to_string()),
        case.accepted.to_string(),
        case.overflow.kind.as_str().to_string(),
        case.overflow
            .os_error
            .as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string),
        millis_text(case.overflow.elapsed_ms),
        late_text,
        case.kernel_queue
            .map_or_else(|| "-".to_string(), |q| format!("{}/{}", q.queued, q.limit)),
        prediction_text(case),
    ]
}

#[cfg(test)]
mod tests;
