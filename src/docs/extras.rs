//! The extras reports (`extras-*.json`) on the pages: a `results.md` section per report with
//! UDP `listen()`, Unix-domain queues, re-listen and runtime defaults, and the cell texts the
//! answers page reuses. Nothing here is a timing: the extras wire format has none.

use super::{Corpus, SourcedExtras};
use crate::experiment::extras::defaults::{MeasureStatus, RuntimeDefault};
use crate::experiment::extras::fill::{FillResult, FillStop};
use crate::predict::OsFamily;
use crate::report::ListenReport;

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// `ok`, or the failed step and its raw error by name and number.
pub(crate) fn listen_text(listen: &ListenReport) -> String {
    if listen.ok {
        return "ok".to_string();
    }
    let stage = listen.failed_at.as_deref().unwrap_or("setup");
    match &listen.os_error {
        Some(error) => format!("failed at {stage}: {error}"),
        None => format!("failed at {stage}"),
    }
}

/// The queue length of a fill: `6`, or `≥ 6` when the fill stopped before the queue was full.
pub(crate) fn queue_text(fill: &FillResult) -> String {
    if fill.stop.queue_was_full() {
        fill.queue_length.to_string()
    } else {
        format!("≥ {}", fill.queue_length)
    }
}

/// How the fill ended: what the first connection that did not fit saw.
pub(crate) fn overflow_text(fill: &FillResult) -> String {
    let error = fill
        .os_error
        .as_ref()
        .map_or_else(|| "no error".to_string(), ToString::to_string);
    match fill.stop {
        FillStop::Pending => "next connect() stayed pending".to_string(),
        FillStop::FailedImmediately => format!("next connect() failed at once: {error}"),
        FillStop::FailedInHandshake => format!("next connect() failed in the handshake: {error}"),
        FillStop::Cap => "cap reached: the queue was not filled".to_string(),
        FillStop::OutOfResources => format!("the client ran out of resources: {error}"),
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn push_row(out: &mut String, cells: &[String]) {
    let row: Vec<String> = cells.iter().map(|c| escape(c)).collect();
    out.push_str(&format!("| {} |\n", row.join(" | ")));
}

fn status_text(runtime: &RuntimeDefault) -> String {
    let status = match runtime.status {
        MeasureStatus::Measured => "measured",
        MeasureStatus::Unsupported => "unsupported",
        MeasureStatus::Skipped => "skipped",
        MeasureStatus::Failed => "failed",
    };
    let mut text = status.to_string();
    if let Some(error) = &runtime.os_error {
        text.push_str(&format!(": {error}"));
    }
    if let Some(detail) = &runtime.detail {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

/// One extras report's section in `results.md`, under its OS heading.
pub(super) fn section(out: &mut String, os: OsFamily, sourced: &SourcedExtras) {
    let report = &sourced.report;
    out.push_str(&format!(
        "### Other measurements: {}\n\n",
        escape(&report.environment.summary())
    ));
    out.push_str(&format!(
        "Extras report: [`data/{0}`](data/{0}), {1} {2} (`backlog-probe extras --format json`).\n\n",
        sourced.file_name, report.tool.name, report.tool.version
    ));

    out.push_str("#### `listen()` on a UDP socket\n\n");
    out.push_str("| family | backlog | listen() |\n|---|---|---|\n");
    for udp in &report.udp {
        push_row(
            out,
            &[
                format!("<a id=\"{}\"></a>{}", sourced.udp_anchor(udp), udp.family),
                udp.backlog.to_string(),
                listen_text(&udp.listen),
            ],
        );
    }

    out.push_str("\n#### Unix-domain listeners\n\n");
    out.push_str("Filled one non-blocking connection at a time without accepting, as for TCP.\n\n");
    out.push_str("| socket type | backlog | listen() | queue length | accepted | kernel limit | overflow |\n|---|---|---|---|---|---|---|\n");
    for case in &report.unix_domain {
        push_row(
            out,
            &[
                format!(
                    "<a id=\"{}\"></a>{}",
                    sourced.unix_anchor(case),
                    case.socket_type.as_str()
                ),
                case.backlog.to_string(),
                listen_text(&case.listen),
                case.fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text),
                case.accepted.to_string(),
                optional(case.kernel_queue.map(|q| q.limit)),
                case.fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), overflow_text),
            ],
        );
    }

    out.push_str("\n#### `listen()` again on a listening socket\n\n");
    out.push_str("An IPv4 TCP listener, `listen(first)` then `listen(second)` on the same socket, then filled; the kernel limit is read after the second call.\n\n");
    out.push_str("| first backlog | second backlog | second listen() | kernel limit | queue length | accepted | overflow |\n|---|---|---|---|---|---|---|\n");
    for case in &report.relisten {
        let second = if case.first_listen.ok {
            case.second_listen
                .as_ref()
                .map_or_else(|| "-".to_string(), listen_text)
        } else {
            format!("first {}", listen_text(&case.first_listen))
        };
        push_row(
            out,
            &[
                format!(
                    "<a id=\"{}\"></a>{}",
                    sourced.relisten_anchor(case),
                    case.first_backlog
                ),
                case.second_backlog.to_string(),
                second,
                optional(case.kernel_queue.map(|q| q.limit)),
                case.fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text),
                case.accepted.to_string(),
                case.fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), overflow_text),
            ],
        );
    }

    out.push_str("\n#### Runtime defaults\n\n");
    out.push_str("The listener each API sets up when the caller names no backlog. **backlog passed** is what the runtime's source passes to `listen()` (see [answers.md](answers.md#what-do-common-runtimes-and-servers-pass-and-what-queue-does-that-give)), `-` where it is not cited here; **kernel limit** is the kernel's view of the stored backlog, and **queue length** a fill where the OS has no view.\n\n");
    out.push_str("| API | backlog passed | status | kernel limit | queue length | overflow |\n|---|---|---|---|---|---|\n");
    for runtime in &report.runtime_defaults {
        push_row(
            out,
            &[
                format!(
                    "<a id=\"{}\"></a>`{}`",
                    sourced.runtime_anchor(runtime),
                    runtime.api
                ),
                super::answers::passed_by(&runtime.api, os).unwrap_or_else(|| "-".to_string()),
                status_text(runtime),
                optional(runtime.kernel_limit),
                runtime
                    .fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text),
                runtime
                    .fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), overflow_text),
            ],
        );
    }
    out.push('\n');
}

/// All extras sections of one OS (nothing when it has no extras report).
pub(super) fn sections(out: &mut String, corpus: &Corpus<'_>, os: OsFamily) {
    for sourced in corpus.measured_extras(os) {
        section(out, os, sourced);
    }
}
