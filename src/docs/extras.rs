//! The extras reports (`extras-*.json`) on `results.md`: a section per report with UDP
//! `listen()`, Unix-domain queues, re-listen and runtime defaults. Nothing here is a timing:
//! the extras wire format has none.

use super::cells::{listen_text, overflow_text, queue_text};
use super::{Corpus, SourcedExtras};
use crate::export::text::{escape, markdown_row};
use crate::observation::extras::RuntimeDefault;
use crate::predict::OsFamily;
use crate::predict::runtimes::passed_by;

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn push_row(out: &mut String, cells: &[String]) {
    out.push_str(&markdown_row(cells));
}

fn status_text(runtime: &RuntimeDefault) -> String {
    let mut text = runtime.status.as_str().to_string();
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
    section_at(out, os, sourced, 3, true);
}

/// An extras section whose heading has `depth` `#`s (its groups one more). `kernel_view` false
/// where the stack's `TCP_INFO` is no view of the queue (gVisor): the kernel limit is `n/a`.
pub(super) fn section_at(
    out: &mut String,
    os: OsFamily,
    sourced: &SourcedExtras,
    depth: usize,
    kernel_view: bool,
) {
    let report = &sourced.report;
    let h = "#".repeat(depth);
    let hh = "#".repeat(depth + 1);
    let limit = |limit: Option<u32>| match limit {
        Some(_) if !kernel_view => "n/a".to_string(),
        other => optional(other),
    };
    out.push_str(&format!(
        "{h} Other measurements: {}\n\n",
        escape(&report.environment.summary())
    ));
    out.push_str(&format!(
        "Extras report: [`data/{0}`](data/{0}), {1} {2} (`backlog-probe extras --format json`).\n\n",
        sourced.file_name, report.tool.name, report.tool.version
    ));

    out.push_str(&format!("{hh} `listen()` on a UDP socket\n\n"));
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

    out.push_str(&format!("\n{hh} Unix-domain listeners\n\n"));
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
                limit(case.kernel_queue.map(|q| q.limit)),
                case.fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), overflow_text),
            ],
        );
    }

    out.push_str(&format!(
        "\n{hh} `listen()` again on a listening socket\n\n"
    ));
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
                limit(case.kernel_queue.map(|q| q.limit)),
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

    out.push_str(&format!("\n{hh} Runtime defaults\n\n"));
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
                // Under gVisor the runtimes are the same Linux binaries.
                passed_by(
                    &runtime.api,
                    if os == OsFamily::Gvisor {
                        OsFamily::Linux
                    } else {
                        os
                    },
                )
                .unwrap_or_else(|| "-".to_string()),
                status_text(runtime),
                limit(runtime.kernel_limit),
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
