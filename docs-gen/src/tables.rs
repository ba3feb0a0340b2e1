//! A measured report's table, shared by the per-OS sections of `results.md` and the stacks'
//! sections: its rows as data, and the anchors of the rows that contradict the model.

use serde::Serialize;

use super::SourcedReport;
use super::agreement::Agreement;
use super::cells::first_client_error;
use backlog_probe::environment::Environment;
use backlog_probe::export::prediction_text;
use backlog_probe::export::text::{backlog_text, late_text};
use backlog_probe::predict;

/// One measured report's case table.
#[derive(Debug, Serialize)]
pub struct CaseTable {
    /// One row per case, in report order.
    pub rows: Vec<CaseRow>,
    /// The anchors of the rows whose measurement contradicts the model.
    pub contradicting: Vec<String>,
}

/// One case of a measured table, each cell as it is shown.
#[derive(Debug, Serialize)]
pub struct CaseRow {
    /// The row's anchor.
    pub anchor: String,
    /// `somaxconn (4096)`.
    pub backlog: String,
    /// `ipv4`, `ipv6`.
    pub family: String,
    /// The queue length, or `-`.
    pub queue_length: String,
    /// Connections accepted afterwards.
    pub accepted: u32,
    /// The kernel's stored limit, `-` without a view, `n/a` where the view is no view.
    pub kernel_limit: String,
    /// The overflow kind.
    pub overflow: &'static str,
    /// When and how the client first saw an error.
    pub first_client_error: String,
    /// What the pending client did.
    pub late: String,
    /// The model's prediction, marked where it is contradicted.
    pub predicted: String,
}

/// The rows of a measured report. `kernel_view` false where the stack's `TCP_INFO` on a
/// listener is no view of the queue (gVisor fills in zeros): the column then says `n/a`.
pub(super) fn case_table(sourced: &SourcedReport, kernel_view: bool) -> CaseTable {
    let report = &sourced.report;
    let env = &report.environment;
    let mut rows = Vec::new();
    for case in &report.cases {
        let anchor = sourced.anchor(case);
        // The model is recomputed from the report's environment, so the page follows the
        // current model even for reports measured before it existed.
        let mut case = case.clone();
        case.prediction = predict::for_case(env, &case);
        let kernel_limit = match case.kernel_queue {
            Some(_) if !kernel_view => "n/a".to_string(),
            Some(q) => q.limit.to_string(),
            None => "-".to_string(),
        };
        rows.push(CaseRow {
            anchor,
            backlog: backlog_text(&case.label, case.backlog),
            family: case.family.to_string(),
            queue_length: case
                .queue_length
                .map_or_else(|| "-".to_string(), |n| n.to_string()),
            accepted: case.accepted,
            kernel_limit,
            overflow: case.overflow.kind.as_str(),
            first_client_error: first_client_error(&case, report.settings.cap),
            late: late_text(&case.late_completion),
            predicted: prediction_text(&case),
        });
    }
    CaseTable {
        rows,
        contradicting: Agreement::of_report(sourced)
            .contradicting
            .into_iter()
            .map(|link| link.anchor)
            .collect(),
    }
}

/// A report's settings (`net.ipv4.tcp_syncookies=0`), each `key=value`.
pub(super) fn settings(env: &Environment) -> Vec<String> {
    env.settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// A measured report and its table.
#[derive(Debug, Serialize)]
pub struct MeasuredReport {
    /// The environment in one line.
    pub summary: String,
    /// `report-linux-x86_64.json`.
    pub file_name: String,
    /// The tool that wrote it.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// Connections per case at most.
    pub cap: u32,
    /// The recorded settings (`key=value`).
    pub settings: Vec<String>,
    /// The cases.
    pub table: CaseTable,
}

pub(super) fn measured_report(sourced: &SourcedReport, kernel_view: bool) -> MeasuredReport {
    let report = &sourced.report;
    MeasuredReport {
        summary: report.environment.summary(),
        file_name: sourced.file_name.clone(),
        tool: report.tool.name.clone(),
        version: report.tool.version.clone(),
        cap: report.settings.cap,
        settings: settings(&report.environment),
        table: case_table(sourced, kernel_view),
    }
}
