//! `results.md`: one table per OS, measured where a report exists, the model's otherwise.

use std::collections::BTreeSet;

use super::cells::first_client_error;
use super::{Corpus, SourcedReport, default_backlogs, predicted_anchor};
use crate::export::text::{backlog_text, escape, late_text, markdown_row};
use crate::export::{DISAGREE_MARK, prediction_text};
use crate::predict::{self, OsFamily};

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

fn measured_section(out: &mut String, sourced: &SourcedReport) {
    let report = &sourced.report;
    let env = &report.environment;
    out.push_str(&format!("### Measured: {}\n\n", escape(&env.summary())));
    out.push_str(&format!(
        "Report: [`data/{0}`](data/{0}), {1} {2}, cap {3} connections per case.{4}",
        sourced.file_name,
        report.tool.name,
        report.tool.version,
        report.settings.cap,
        settings_sentence(env)
    ));
    out.push_str("\n\n");
    let disagreements = case_table(out, sourced, true);
    disagreement_line(out, &disagreements);
}

fn predicted_section(out: &mut String, corpus: &Corpus<'_>, os: OsFamily) {
    let limits = corpus.limits(os);
    out.push_str(&format!(
        "### Prediction, not measured: {} (no report yet)\n\n",
        os.display_name()
    ));
    let mut assumed = vec![format!("SOMAXCONN = {}", limits.somaxconn_constant)];
    if let Some(setting) = limits.somaxconn_setting {
        assumed.push(format!("system somaxconn = {setting}"));
    }
    if let Some(compat) = limits.soqlimitcompat {
        assumed.push(format!("kern.ipc.soqlimitcompat = {compat}"));
    }
    out.push_str(&format!(
        "These rows are the model in `src/predict/`, read from kernel source or documentation, with the default limits ({}). Nothing here was measured.\n\n",
        assumed.join(", ")
    ));
    out.push_str(
        "| backlog | predicted queue length | predicted overflow | rule | source | confidence |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    let mut notices = BTreeSet::new();
    for backlog in default_backlogs(&limits) {
        let p = predict::predict(os, backlog.value, &limits);
        notices.insert(p.client_notices);
        let label = backlog_text(&backlog.label, backlog.value);
        let cells = [
            format!(
                "<a id=\"{}\"></a>{label}",
                predicted_anchor(os, &backlog.slug)
            ),
            p.queue_length
                .map_or_else(|| "unknown".to_string(), |n| n.to_string()),
            p.overflow.as_str().to_string(),
            p.rule.to_string(),
            p.source.to_string(),
            p.confidence.as_str().to_string(),
        ];
        out.push_str(&markdown_row(&cells));
    }
    out.push('\n');
    for notice in notices {
        out.push_str(&format!("A client of a full queue, predicted: {notice}.\n"));
    }
    out.push('\n');
}

/// Why a report is not counted as any OS's results.
fn unplaced_reason(env: &crate::environment::Environment) -> String {
    match (&env.emulator, env.sandbox) {
        (Some(emulator), _) => format!("ran under {emulator}, whose TCP is the host's"),
        (None, Some(crate::sys::Sandbox::Gvisor)) => {
            "ran under gVisor, whose TCP is its own netstack, without the stack runner's manifest (`stack-*.json`) that would place it".to_string()
        }
        (None, _) => format!("no model for `{}`", env.target_os),
    }
}

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    let mut out = String::from("# Results: what `listen(fd, backlog)` does, per OS\n\n");
    out.push_str("Generated by `backlog-probe docs --reports docs/data --out docs` from the reports in [`data/`](data/); edit the generator, not this file.\n\n");
    out.push_str("- **queue length**: connections a client completed, one at a time, before the first that did not fit.\n");
    out.push_str("- **accepted**: connections the server accepted afterwards, including a pending client that got in late.\n");
    out.push_str("- **kernel limit**: the clamped backlog the kernel stored (Linux `tcpi_sacked`, macOS `soi_qlimit`, FreeBSD `SO_LISTENQLIMIT`); `-` where the OS has no view, `n/a` under gVisor (its `TCP_INFO` on a listener reads 0).\n");
    out.push_str("- **overflow** and **first client error**: what the first connection that did not fit saw, classified from the raw OS error and its timing.\n");
    out.push_str(&format!("- **predicted**: the model in `src/predict/` (kernel source or documentation), computed from the report's own environment (for Linux, its kernel version too). It is never a measurement; **{DISAGREE_MARK}** marks a measurement that contradicts it.\n"));
    out.push_str("- **Other measurements** (where an `extras-*.json` report exists): `listen()` on UDP, Unix-domain stream and seqpacket queues, `listen()` called twice, and the backlog runtimes choose by default, from `backlog-probe extras`.\n");
    out.push_str("- **Stacks**: each OS section holds the native reports of that OS. Other real TCP stacks that `cargo xtask stacks` measured have sections of their own: [Linux across kernels](#linux-across-kernels) (Debian kernels booted under QEMU, one column per kernel, the knob worlds included) and [gVisor](#gvisor) (its netstack under `runsc`).\n\n");
    out.push_str("Every row has a stable anchor (`#linux-x86-64-ipv4-backlog-zero`, `#macos-predicted-backlog-zero`, `#linux-x86-64-unix-stream-backlog-5`, `#linux-kernels-syncookies-0-backlog-zero`, `#world-linux-6-1-x86-64-syncookies-0-ipv4-backlog-zero`) for links.\n\n");
    for os in OsFamily::ALL {
        out.push_str(&format!("## {}\n\n", os.display_name()));
        let measured = corpus.measured(os);
        if measured.is_empty() {
            predicted_section(&mut out, corpus, os);
        } else {
            for sourced in measured {
                measured_section(&mut out, sourced);
            }
        }
        super::extras::sections(&mut out, corpus, os);
        if os == OsFamily::Linux {
            out.push_str(&super::stack_results::kernels_section(corpus));
        }
    }
    out.push_str(&super::stack_results::gvisor_section(corpus));
    let unplaced = corpus.unplaced();
    let unplaced_extras = corpus.unplaced_extras();
    if !unplaced.is_empty() || !unplaced_extras.is_empty() {
        out.push_str("## Reports not counted as any OS's results\n\n");
        for sourced in unplaced {
            let why = unplaced_reason(&sourced.report.environment);
            out.push_str(&format!(
                "- [`data/{0}`](data/{0}): {1}.\n",
                sourced.file_name, why
            ));
        }
        for sourced in unplaced_extras {
            out.push_str(&format!(
                "- [`data/{0}`](data/{0}): {1}.\n",
                sourced.file_name,
                unplaced_reason(&sourced.report.environment)
            ));
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
