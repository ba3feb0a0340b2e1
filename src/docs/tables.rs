//! A measured report's table and the sentences around it, shared by the per-OS sections of
//! `results.md` and the stacks' sections.

use super::SourcedReport;
use super::cells::first_client_error;
use crate::export::text::{backlog_text, late_text, markdown_row};
use crate::export::{DISAGREE_MARK, prediction_text};
use crate::predict;

/// The columns of a measured table.
const CASE_TABLE_HEAD: &str = "| backlog | family | queue length | accepted | kernel limit | overflow | first client error | late completion | predicted |\n|---|---|---|---|---|---|---|---|---|\n";

/// One row per case of a measured report, with its anchor; returns the anchors of the rows whose
/// measurement contradicts the model. `kernel_view` false where the stack's `TCP_INFO` on a
/// listener is no view of the queue (gVisor fills in zeros): the column then says `n/a`.
pub(super) fn case_table(
    out: &mut String,
    sourced: &SourcedReport,
    kernel_view: bool,
) -> Vec<String> {
    let report = &sourced.report;
    let env = &report.environment;
    out.push_str(CASE_TABLE_HEAD);
    let mut disagreements = Vec::new();
    for case in &report.cases {
        let anchor = sourced.anchor(case);
        // The model is recomputed from the report's environment, so the page follows the
        // current model even for reports measured before it existed.
        let mut case = case.clone();
        case.prediction = predict::for_case(env, &case);
        if case.prediction.as_ref().and_then(|p| p.agrees) == Some(false) {
            disagreements.push(anchor.clone());
        }
        let kernel_limit = match case.kernel_queue {
            Some(_) if !kernel_view => "n/a".to_string(),
            Some(q) => q.limit.to_string(),
            None => "-".to_string(),
        };
        let cells = [
            format!(
                "<a id=\"{anchor}\"></a>{}",
                backlog_text(&case.label, case.backlog)
            ),
            case.family.to_string(),
            case.queue_length
                .map_or_else(|| "-".to_string(), |n| n.to_string()),
            case.accepted.to_string(),
            kernel_limit,
            case.overflow.kind.as_str().to_string(),
            first_client_error(&case, report.settings.cap),
            late_text(&case.late_completion),
            prediction_text(&case),
        ];
        out.push_str(&markdown_row(&cells));
    }
    out.push('\n');
    disagreements
}

/// The line under a measured table: all agree, or which rows do not.
pub(super) fn disagreement_line(out: &mut String, disagreements: &[String]) {
    if disagreements.is_empty() {
        out.push_str("Every comparable case agrees with the model.\n\n");
    } else {
        let links: Vec<String> = disagreements
            .iter()
            .map(|a| format!("[{a}](#{a})"))
            .collect();
        out.push_str(&format!(
            "**{DISAGREE_MARK} {} case(s) contradict the model:** {}. A disagreement is a finding: the model or its sources are wrong for this system.\n\n",
            disagreements.len(),
            links.join(", ")
        ));
    }
}

/// The `Settings:` sentence of a report, or nothing.
pub(super) fn settings_sentence(env: &crate::environment::Environment) -> String {
    if env.settings.is_empty() {
        return String::new();
    }
    let knobs: Vec<String> = env
        .settings
        .iter()
        .map(|(k, v)| format!("`{k}={v}`"))
        .collect();
    format!(" Settings: {}.", knobs.join(", "))
}
