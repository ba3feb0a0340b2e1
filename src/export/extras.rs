//! The extras report as plain text for a terminal.

use std::fmt::Write;

use super::text::{fill_cut_text, listen_text};
use crate::observation::extras::{FillResult, MeasureStatus};
use crate::report::extras::ExtrasReport;

fn fill_text(fill: Option<&FillResult>) -> String {
    match fill {
        None => "-".to_string(),
        Some(fill) if fill_cut_text(fill).is_some() => {
            format!("not measured: {}", fill_cut_text(fill).unwrap_or_default())
        }
        Some(fill) => {
            let mut text = format!("queue {} then {}", fill.queue_length, fill.stop.as_str());
            if let Some(error) = &fill.os_error {
                let _ = write!(text, " {error}");
            }
            text
        }
    }
}

/// One section per experiment group, one line per case.
pub fn render(report: &ExtrasReport) -> String {
    let mut out = format!("# {}\n", report.environment.summary());
    out.push_str("\n## listen() on UDP\n");
    for case in &report.udp {
        let _ = writeln!(
            out,
            "{}  listen({})  {}",
            case.family,
            case.backlog,
            listen_text(&case.listen)
        );
    }
    out.push_str("\n## Unix-domain listeners\n");
    for case in &report.unix_domain {
        let mut listen = listen_text(&case.listen);
        if let Some(detail) = &case.detail {
            let _ = write!(listen, " ({detail})");
        }
        let _ = writeln!(
            out,
            "{:<9}  listen({})  {}  {}  accepted {}",
            case.socket_type.as_str(),
            case.backlog,
            listen,
            fill_text(case.fill.as_ref()),
            case.accepted
        );
    }
    out.push_str("\n## listen() again on a listening TCP socket\n");
    for case in &report.relisten {
        let second = case
            .second_listen
            .as_ref()
            .map_or_else(|| "-".to_string(), listen_text);
        let limit = case
            .kernel_queue
            .map_or_else(|| "-".to_string(), |q| q.limit.to_string());
        let _ = writeln!(
            out,
            "listen({}) then listen({}): {}  kernel limit {}  {}",
            case.first_backlog,
            case.second_backlog,
            second,
            limit,
            fill_text(case.fill.as_ref())
        );
    }
    out.push_str("\n## Runtime defaults\n");
    for default in &report.runtime_defaults {
        let what = match default.status {
            MeasureStatus::Measured => match (default.kernel_limit, &default.fill) {
                (Some(limit), None) => format!("kernel limit {limit}"),
                (Some(limit), Some(fill)) => {
                    format!("kernel limit {limit}, {}", fill_text(Some(fill)))
                }
                (None, fill) => fill_text(fill.as_ref()),
            },
            status => {
                let mut text = status.as_str().to_string();
                if let Some(detail) = &default.detail {
                    let _ = write!(text, ": {detail}");
                }
                if let Some(error) = &default.os_error {
                    let _ = write!(text, " ({error})");
                }
                text
            }
        };
        let _ = writeln!(out, "{:<42}  {what}", default.api);
    }
    if !report.runtime_versions.is_empty() {
        out.push_str("\n## Runtime versions\n");
        for (runtime, version) in &report.runtime_versions {
            let _ = writeln!(out, "{runtime:<8}  {version}");
        }
    }
    out
}
