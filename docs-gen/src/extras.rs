//! The extras reports (`extras-*.json`) on `results.md`: a section per report with UDP
//! `listen()`, Unix-domain queues, re-listen and runtime defaults, as data for the template's
//! `extras_section` macro. Nothing here is a timing: the extras wire format has none.

use serde::Serialize;

use super::SourcedExtras;
use super::cells::{listen_text, overflow_text, queue_text};
use backlog_probe::classify::extras::FillVerdict;
use backlog_probe::predict::OsFamily;
use backlog_probe::predict::runtimes::passed_by;
use backlog_probe::report::extras::{FillResult, RuntimeDefault};

/// One extras report's section.
#[derive(Debug, Serialize)]
pub struct ExtrasSection {
    /// The report's environment in one line.
    pub summary: String,
    /// `extras-linux-x86_64.json`.
    pub file_name: String,
    /// The tool that wrote it.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// `listen()` on UDP, per family.
    pub udp: Vec<UdpRow>,
    /// Unix-domain listeners.
    pub unix: Vec<UnixRow>,
    /// `listen()` twice.
    pub relisten: Vec<RelistenRow>,
    /// Runtime defaults.
    pub runtimes: Vec<RuntimeRow>,
    /// Each measured runtime's version (`go: go1.19.8 linux/amd64`), empty for reports
    /// written before they were recorded.
    pub runtime_versions: Vec<String>,
}

/// A UDP row.
#[derive(Debug, Serialize)]
pub struct UdpRow {
    /// The row's anchor.
    pub anchor: String,
    /// `ipv4`, `ipv6`.
    pub family: String,
    /// The backlog passed.
    pub backlog: i32,
    /// What `listen()` did.
    pub listen: String,
}

/// A Unix-domain row.
#[derive(Debug, Serialize)]
pub struct UnixRow {
    /// The row's anchor.
    pub anchor: String,
    /// `stream`, `seqpacket`.
    pub socket_type: &'static str,
    /// The backlog passed.
    pub backlog: i32,
    /// What `listen()` did.
    pub listen: String,
    /// The filled queue (`6`, `≥ 6`, `-`).
    pub queue: String,
    /// Connections accepted afterwards.
    pub accepted: u32,
    /// The kernel's stored limit (`-`, `n/a`).
    pub kernel_limit: String,
    /// How the fill ended.
    pub overflow: String,
}

/// A re-listen row.
#[derive(Debug, Serialize)]
pub struct RelistenRow {
    /// The row's anchor.
    pub anchor: String,
    /// The first backlog.
    pub first_backlog: i32,
    /// The second.
    pub second_backlog: i32,
    /// What the second `listen()` did (or the first's failure).
    pub second_listen: String,
    /// The kernel's stored limit after the second call.
    pub kernel_limit: String,
    /// The filled queue.
    pub queue: String,
    /// Connections accepted afterwards.
    pub accepted: u32,
    /// How the fill ended.
    pub overflow: String,
}

/// A runtime-default row.
#[derive(Debug, Serialize)]
pub struct RuntimeRow {
    /// The row's anchor.
    pub anchor: String,
    /// `std::net::TcpListener::bind`.
    pub api: String,
    /// What the runtime's source passes, `-` where not cited.
    pub passed: String,
    /// `measured`, `unsupported: ...`.
    pub status: String,
    /// The kernel's view of the stored backlog.
    pub kernel_limit: String,
    /// A fill where the OS has no view.
    pub queue: String,
    /// How the fill ended.
    pub overflow: String,
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
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

/// A fill's queue and how it ended, from its verdict, `-` for each where there was no fill.
fn fill_cells(fill: Option<&FillResult>, verdict: Option<&FillVerdict>) -> (String, String) {
    fill.zip(verdict).map_or_else(
        || ("-".to_string(), "-".to_string()),
        |(fill, verdict)| (queue_text(verdict), overflow_text(fill, verdict)),
    )
}

/// One extras report's section. `kernel_view` false where the stack's `TCP_INFO` is no view of
/// the queue (gVisor): the kernel limit is `n/a`.
pub(super) fn section(os: OsFamily, sourced: &SourcedExtras, kernel_view: bool) -> ExtrasSection {
    let report = &sourced.report;
    let limit = |limit: Option<u32>| match limit {
        Some(_) if !kernel_view => "n/a".to_string(),
        other => optional(other),
    };
    // Under gVisor the runtimes are the same Linux binaries.
    let runtime_os = if os == OsFamily::Gvisor {
        OsFamily::Linux
    } else {
        os
    };
    ExtrasSection {
        summary: report.environment.summary(),
        file_name: sourced.file_name.clone(),
        tool: report.tool.name.clone(),
        version: report.tool.version.clone(),
        udp: report
            .udp
            .iter()
            .map(|udp| UdpRow {
                anchor: sourced.udp_anchor(udp),
                family: udp.family.to_string(),
                backlog: udp.backlog,
                listen: listen_text(&udp.listen),
            })
            .collect(),
        unix: report
            .unix_domain
            .iter()
            .map(|case| {
                let (queue, overflow) = fill_cells(case.fill.as_ref(), case.verdict.as_ref());
                UnixRow {
                    anchor: sourced.unix_anchor(case),
                    socket_type: case.socket_type.as_str(),
                    backlog: case.backlog,
                    listen: listen_text(&case.listen),
                    queue,
                    accepted: case.accepted,
                    kernel_limit: limit(case.kernel_queue.map(|q| q.limit)),
                    overflow,
                }
            })
            .collect(),
        relisten: report
            .relisten
            .iter()
            .map(|case| {
                let (queue, overflow) = fill_cells(case.fill.as_ref(), case.verdict.as_ref());
                let second_listen = match (&case.second_listen, case.first_listen.ok) {
                    (_, false) => format!("first {}", listen_text(&case.first_listen)),
                    (Some(second), true) => listen_text(second),
                    (None, true) => "-".to_string(),
                };
                RelistenRow {
                    anchor: sourced.relisten_anchor(case),
                    first_backlog: case.first_backlog,
                    second_backlog: case.second_backlog,
                    second_listen,
                    kernel_limit: limit(case.kernel_queue.map(|q| q.limit)),
                    queue,
                    accepted: case.accepted,
                    overflow,
                }
            })
            .collect(),
        runtimes: report
            .runtime_defaults
            .iter()
            .map(|runtime| {
                let (queue, overflow) = fill_cells(runtime.fill.as_ref(), runtime.verdict.as_ref());
                RuntimeRow {
                    anchor: sourced.runtime_anchor(runtime),
                    api: runtime.api.clone(),
                    passed: passed_by(&runtime.api, runtime_os).unwrap_or_else(|| "-".to_string()),
                    status: status_text(runtime),
                    kernel_limit: limit(runtime.kernel_limit),
                    queue,
                    overflow,
                }
            })
            .collect(),
        runtime_versions: report
            .runtime_versions
            .iter()
            .map(|(runtime, version)| format!("{runtime} `{version}`"))
            .collect(),
    }
}
