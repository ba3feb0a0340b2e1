//! The stacks on `results.md`: "Linux across kernels" (one column per kernel, the worlds
//! included, then each kernel's own tables) and "gVisor" (its tables, its repeated runs). The
//! prose is the templates `templates/results-kernels.md` and `templates/results-gvisor.md`.

use super::stacks::{SourcedStack, WORLD_ORDER};
use super::tables::{case_table, disagreement_line, settings_sentence};
use super::{Corpus, SourcedReport, slug};
use crate::classify::tcp::LateKind;
use crate::export::text::{backlog_text, escape, markdown_row};
use crate::export::{DISAGREE_MARK, world_summary};
use crate::plan::Family;
use crate::predict::{self, Limits, OsFamily};
use crate::report::CaseReport;

const KERNELS_TEMPLATE: &str = include_str!("templates/results-kernels.md");
const GVISOR_TEMPLATE: &str = include_str!("templates/results-gvisor.md");

/// `default`, `syncookies_0`, ...: how a world is named in anchors and placeholders.
pub(super) const DEFAULT_WORLD: &str = "default";

/// The anchor of a row of the kernels table (`linux-kernels-syncookies-0-backlog-zero`).
pub(super) fn kernels_row_anchor(world: &str, suffix: &str) -> String {
    format!("linux-kernels-{}-{}", slug(world), slug(suffix))
}

/// A case name without its family: `ipv4_backlog_zero` → `backlog_zero`.
fn suffix(case: &CaseReport) -> &str {
    case.name
        .split_once('_')
        .map_or(case.name.as_str(), |(_, rest)| rest)
}

/// A stack's report for a world (`default` for the default matrix).
pub(super) fn world_report<'a>(stack: &'a SourcedStack, world: &str) -> Option<&'a SourcedReport> {
    if world == DEFAULT_WORLD {
        stack.report.as_ref()
    } else {
        stack.world(world)
    }
}

/// The case of `family` named `<family>_<suffix>` in a report.
pub(super) fn case_of<'a>(
    sourced: &'a SourcedReport,
    family: Family,
    suffix: &str,
) -> Option<&'a CaseReport> {
    sourced
        .report
        .cases
        .iter()
        .find(|c| c.family == family && self::suffix(c) == suffix)
}

/// The model's prediction for a case of a report, and whether the case agrees with it.
pub(super) fn model_of(sourced: &SourcedReport, case: &CaseReport) -> Option<predict::Prediction> {
    let os = OsFamily::of(&sourced.report.environment)?;
    let limits = Limits::from_environment(&sourced.report.environment);
    Some(predict::predict(os, case.backlog, &limits))
}

/// Whether a measured case contradicts the model (`Some(false)` when it does).
pub(super) fn agrees(sourced: &SourcedReport, case: &CaseReport) -> Option<bool> {
    predict::for_case(&sourced.report.environment, case).and_then(|p| p.agrees)
}

/// `[6](#anchor)`, with `≠` when it contradicts the model.
fn linked_count(sourced: &SourcedReport, case: &CaseReport) -> String {
    let value = case
        .queue_length
        .map_or_else(|| "-".to_string(), |n| n.to_string());
    let mark = if agrees(sourced, case) == Some(false) {
        format!("{DISAGREE_MARK} ")
    } else {
        String::new()
    };
    format!("{mark}[{value}](#{})", sourced.anchor(case))
}

/// One kernel's cell for a case: IPv4, and IPv6 where it differs.
fn kernel_cell(sourced: &SourcedReport, suffix: &str) -> String {
    let v4 = case_of(sourced, Family::Ipv4, suffix);
    let v6 = case_of(sourced, Family::Ipv6, suffix);
    match (v4, v6) {
        (Some(v4), Some(v6)) if v6.queue_length != v4.queue_length => format!(
            "{} (IPv6 {})",
            linked_count(sourced, v4),
            linked_count(sourced, v6)
        ),
        (Some(case), _) | (None, Some(case)) => linked_count(sourced, case),
        (None, None) => "-".to_string(),
    }
}

/// The worlds measured on any of `kernels`, default first, in the runner's order.
fn worlds_of(kernels: &[&SourcedStack]) -> Vec<String> {
    let mut worlds = vec![DEFAULT_WORLD.to_string()];
    for name in WORLD_ORDER {
        if kernels.iter().any(|k| k.world(name).is_some()) {
            worlds.push(name.to_string());
        }
    }
    let mut others: Vec<String> = kernels
        .iter()
        .flat_map(|k| k.worlds.iter().map(|w| w.name.clone()))
        .filter(|n| !worlds.contains(n))
        .collect();
    others.sort();
    others.dedup();
    worlds.extend(others);
    worlds
}

/// How a world reads in the table: `default`, `` `net.ipv4.tcp_syncookies=0` ``.
fn world_label(kernels: &[&SourcedStack], world: &str) -> String {
    if world == DEFAULT_WORLD {
        return "default".to_string();
    }
    kernels
        .iter()
        .find_map(|k| k.world(world))
        .and_then(|sourced| sourced.report.world.as_ref())
        .map(|w| {
            w.sysctls
                .iter()
                .map(|s| format!("`{}={}`", s.key, s.requested))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| format!("`{world}`"))
}

/// The model column: one number where every kernel gets the same, else each group of kernels.
fn model_cell(kernels: &[&SourcedStack], world: &str, suffix: &str) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kernel in kernels {
        let Some(sourced) = world_report(kernel, world) else {
            continue;
        };
        let Some(case) = case_of(sourced, Family::Ipv4, suffix)
            .or_else(|| case_of(sourced, Family::Ipv6, suffix))
        else {
            continue;
        };
        let value = model_of(sourced, case)
            .and_then(|p| p.queue_length)
            .map_or_else(|| "unknown".to_string(), |n| n.to_string());
        match groups.iter_mut().find(|(v, _)| *v == value) {
            Some((_, labels)) => labels.push(kernel.label()),
            None => groups.push((value, vec![kernel.label()])),
        }
    }
    match groups.as_slice() {
        [] => "-".to_string(),
        [(value, _)] => value.clone(),
        _ => groups
            .iter()
            .map(|(value, labels)| format!("{value} on {}", labels.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The table with one column per kernel and a row per world and backlog.
fn kernels_table(kernels: &[&SourcedStack]) -> String {
    let mut out = String::from("| world | backlog |");
    for kernel in kernels {
        out.push_str(&format!(" [{}](#{}) |", kernel.label(), kernel.anchor()));
    }
    out.push_str(" model |\n|---|---|");
    out.push_str(&"---|".repeat(kernels.len()));
    out.push_str("---|\n");
    let mut contradicted = Vec::new();
    for world in worlds_of(kernels) {
        // The rows: the first kernel's cases of this world, in their order (IPv4 first).
        let Some(first) = kernels.iter().find_map(|k| world_report(k, &world)) else {
            continue;
        };
        let mut suffixes: Vec<(&str, &CaseReport)> = Vec::new();
        for case in &first.report.cases {
            if !suffixes.iter().any(|(s, _)| *s == suffix(case)) {
                suffixes.push((suffix(case), case));
            }
        }
        for (suffix, sample) in suffixes {
            let anchor = kernels_row_anchor(&world, suffix);
            let mut cells = vec![
                world_label(kernels, &world),
                format!(
                    "<a id=\"{anchor}\"></a>{}",
                    backlog_text(&sample.label, sample.backlog)
                ),
            ];
            for kernel in kernels {
                let cell = world_report(kernel, &world)
                    .map_or_else(|| "-".to_string(), |r| kernel_cell(r, suffix));
                if cell.contains(DISAGREE_MARK) {
                    contradicted.push(format!("[{}, {}](#{anchor})", kernel.label(), world));
                }
                cells.push(cell);
            }
            cells.push(model_cell(kernels, &world, suffix));
            out.push_str(&markdown_row(&cells));
        }
    }
    out.push('\n');
    if contradicted.is_empty() {
        out.push_str("Every measured cell agrees with the model for its kernel.\n\n");
    } else {
        out.push_str(&format!(
            "**{DISAGREE_MARK} {} cell(s) contradict the model:** {}; each kernel's section says why.\n\n",
            contradicted.len(),
            contradicted.join(", ")
        ));
    }
    out
}

/// `1.04, 3.13, 7.23 s`.
fn times_text(times: &[f64]) -> String {
    let parts: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
    format!("{} s", parts.join(", "))
}

/// What the model expects a kernel's client to do, and whether the timing agrees.
fn retrans_model(stack: &SourcedStack) -> Option<(&'static [u32], Option<bool>)> {
    let report = stack.report.as_ref()?;
    let limits = Limits::from_environment(&report.report.environment);
    let schedule = predict::syn_retransmissions(stack.family(), &limits)?;
    let agrees = stack
        .retransmissions
        .as_ref()
        .map(|(_, r)| predict::retransmissions_agree(schedule, &r.times_s, r.window_s));
    Some((schedule, agrees))
}

/// The retransmission table: one row per kernel with a timing.
fn retrans_table(kernels: &[&SourcedStack]) -> String {
    let mut out = String::from(
        "| kernel | `tcp_syn_linear_timeouts` | retransmitted at (after the connect) | model |\n|---|---|---|---|\n",
    );
    let mut any = false;
    for kernel in kernels {
        let Some((file, timing)) = &kernel.retransmissions else {
            continue;
        };
        any = true;
        let setting = kernel
            .report
            .as_ref()
            .and_then(|r| {
                r.report
                    .environment
                    .settings
                    .get("net.ipv4.tcp_syn_linear_timeouts")
            })
            .map_or_else(|| "absent (before 6.5)".to_string(), |v| format!("`{v}`"));
        let (model, mark) = match retrans_model(kernel) {
            Some((schedule, agrees)) => {
                let listed: Vec<String> = schedule.iter().map(u32::to_string).collect();
                let mark = if agrees == Some(false) {
                    format!("{DISAGREE_MARK} ")
                } else {
                    String::new()
                };
                (format!("{} … s", listed.join(", ")), mark)
            }
            None => ("-".to_string(), String::new()),
        };
        out.push_str(&markdown_row(&[
            format!(
                "<a id=\"{}\"></a>[{}](#{})",
                kernel.retransmissions_anchor(),
                kernel.label(),
                kernel.anchor()
            ),
            setting,
            format!(
                "{mark}{} ([`data/{file}`](data/{file}))",
                times_text(&timing.times_s)
            ),
            model,
        ]));
    }
    if !any {
        return "No kernel stack has a timing yet.\n\n".to_string();
    }
    out.push('\n');
    out
}

/// The provenance paragraph of a kernel stack.
fn kernel_provenance(stack: &SourcedStack) -> String {
    let m = &stack.manifest;
    let mut text = String::new();
    match (&m.package, &m.package_version) {
        (Some(package), Some(version)) => {
            text.push_str(&format!("Debian's `{package}` {version}"));
        }
        _ => text.push_str(&format!("Stack `{}`", m.stack)),
    }
    if !m.sources.is_empty() {
        text.push_str(&format!(" from {}", m.sources.join(", ")));
    }
    if let Some(accel) = &m.accel {
        text.push_str(&format!(", booted under QEMU ({accel})"));
    }
    text.push('.');
    if let (Some(r), Some(v)) = (&m.uname_r, &m.uname_v) {
        text.push_str(&format!(" `uname -r`: `{r}`; `uname -v`: `{v}`."));
    }
    text
}

/// The files of a stack, linked.
fn files_sentence(stack: &SourcedStack) -> String {
    let mut files = vec![stack.file_name.clone()];
    files.extend(
        stack
            .manifest
            .files
            .iter()
            .filter(|f| f.starts_with("burst-"))
            .cloned(),
    );
    let links: Vec<String> = files
        .iter()
        .map(|f| format!("[`data/{f}`](data/{f})"))
        .collect();
    format!(" Run record and burst: {}.", links.join(", "))
}

/// Problems and notes the runner recorded, as bullets (nothing when there are none).
fn runner_findings(out: &mut String, stack: &SourcedStack) {
    for problem in &stack.manifest.problems {
        out.push_str(&format!("- **Failed:** {}\n", escape(problem)));
    }
    if !stack.manifest.problems.is_empty() {
        out.push('\n');
    }
}

/// One kernel's own section: its provenance, the default matrix, each world, the extras.
fn kernel_section(out: &mut String, stack: &SourcedStack) {
    out.push_str(&format!(
        "### <a id=\"{}\"></a>Linux {} (`{}`)\n\n",
        stack.anchor(),
        stack.label(),
        stack.manifest.stack
    ));
    out.push_str(&kernel_provenance(stack));
    out.push_str(&files_sentence(stack));
    out.push_str("\n\n");
    runner_findings(out, stack);
    let Some(report) = &stack.report else {
        out.push_str("No default matrix was written for this stack.\n\n");
        return;
    };
    out.push_str(&format!(
        "#### Default matrix\n\nReport: [`data/{0}`](data/{0}), cap {1} connections per case.{2}\n\n",
        report.file_name,
        report.report.settings.cap,
        settings_sentence(&report.report.environment)
    ));
    let mut disagreements = case_table(out, report, true);
    disagreement_line(out, &disagreements);
    for world in &stack.worlds {
        let sourced = &world.sourced;
        let summary = sourced
            .report
            .world
            .as_ref()
            .map_or_else(|| world.name.clone(), world_summary);
        out.push_str(&format!(
            "#### World `{}`\n\nReport: [`data/{1}`](data/{1}); {2}.\n\n",
            world.name,
            sourced.file_name,
            escape(&summary)
        ));
        disagreements = case_table(out, sourced, true);
        disagreement_line(out, &disagreements);
    }
    if let Some(extras) = &stack.extras {
        super::extras::section_at(out, OsFamily::Linux, extras, 4, true);
    }
}

/// "Linux across kernels": a note alone when no kernel stack was measured.
pub(super) fn kernels_section(corpus: &Corpus<'_>) -> String {
    let kernels = corpus.kernels();
    if kernels.is_empty() {
        return "## Linux across kernels\n\nNo kernel stack measured yet: `cargo xtask stacks` boots Debian kernels under QEMU and writes their reports into `docs/data/` (`xtask/README.md`).\n\n".to_string();
    }
    let measured: Vec<String> = kernels
        .iter()
        .map(|k| format!("[{}](#{})", k.label(), k.anchor()))
        .collect();
    let resolve = |key: &str| -> Option<String> {
        Some(match key {
            "kernels_measured" => format!(
                "Measured kernels: {}, each a Debian cloud kernel ({}).",
                measured.join(", "),
                kernels
                    .iter()
                    .map(|k| format!("`{}`", k.manifest.stack))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "kernels_table" => kernels_table(&kernels),
            "retrans_table" => retrans_table(&kernels),
            "kernel_sections" => {
                let mut out = String::new();
                for kernel in &kernels {
                    kernel_section(&mut out, kernel);
                }
                out
            }
            _ => return None,
        })
    };
    tidy(&super::template::fill(KERNELS_TEMPLATE, resolve))
}

/// No more than one blank line in a row (the generated blocks end in one of their own).
fn tidy(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

/// Why a gVisor case differs from the model, from its own data: a slow handshake the harness
/// counted as the overflow, or netstack's delivery race.
fn gvisor_explanation(case: &CaseReport, predicted: Option<u32>) -> Option<String> {
    let (measured, predicted) = (case.queue_length?, predicted?);
    if measured < predicted {
        let overflow_at = case.overflow.elapsed_ms?;
        let late = case.late_completion.elapsed_ms?;
        if case.late_completion.kind == LateKind::Completed && late < 1000 {
            return Some(format!(
                "{measured} instead of {predicted}: connect {} was still unanswered at {overflow_at} ms, past the harness's 200 ms admission grace, and completed at {late} ms, before any SYN retransmission (the first comes at 1 s): a slow handshake under ptrace on busy cores, counted as the overflow, not a full queue",
                measured + 1
            ));
        }
        return None;
    }
    (measured > predicted).then(|| {
        format!(
            "{measured} instead of {predicted}: netstack tests for a full queue when the SYN arrives, counting only connections already delivered to the accept queue, and `deliverAccepted()` queues a finished handshake without testing again (\"We always queue the endpoint and on purpose do not check if accept queue is full at this point\", `pkg/tcpip/transport/tcp/dispatcher.go`): a handshake still in flight lets one more in"
        )
    })
}

/// The default matrix run after run: one row per case, a column per run.
fn repeats_table(out: &mut String, stack: &SourcedStack) {
    let Some(first) = &stack.report else {
        return;
    };
    let runs: Vec<&SourcedReport> = std::iter::once(first).chain(&stack.repeats).collect();
    out.push_str(&format!(
        "#### <a id=\"{}\"></a>The default matrix, {} runs\n\nThe runner ran the default matrix {} times to see how much gVisor varies ([`data/{}`](data/{}) is run 1). Each number links to its file.\n\n",
        stack.runs_anchor(),
        runs.len(),
        runs.len(),
        first.file_name,
        first.file_name
    ));
    out.push_str("| case |");
    for (i, run) in runs.iter().enumerate() {
        out.push_str(&format!(" [run {}](data/{}) |", i + 1, run.file_name));
    }
    out.push_str(" model |\n|---|");
    out.push_str(&"---|".repeat(runs.len()));
    out.push_str("---|\n");
    let mut explanations = Vec::new();
    for case in &first.report.cases {
        let anchor = format!("{}-runs-{}", slug(stack.file_key()), slug(&case.name));
        let predicted = model_of(first, case).and_then(|p| p.queue_length);
        let mut cells = vec![format!(
            "<a id=\"{anchor}\"></a>{} {}",
            case.family,
            backlog_text(&case.label, case.backlog)
        )];
        for (i, run) in runs.iter().enumerate() {
            let Some(measured) = run.report.cases.iter().find(|c| c.name == case.name) else {
                cells.push("-".to_string());
                continue;
            };
            let value = measured
                .queue_length
                .map_or_else(|| "-".to_string(), |n| n.to_string());
            let late = match measured.late_completion.kind {
                LateKind::Pending => ", late: pending",
                _ => "",
            };
            if agrees(run, measured) == Some(false) {
                cells.push(format!("{DISAGREE_MARK} {value}{late}"));
                let why = gvisor_explanation(measured, predicted)
                    .unwrap_or_else(|| "not explained by the source or the data".to_string());
                explanations.push(format!(
                    "- [{} {}, run {}](#{anchor}): {why}.",
                    case.family,
                    case.label,
                    i + 1
                ));
            } else {
                cells.push(format!("{value}{late}"));
            }
        }
        cells.push(predicted.map_or_else(|| "unknown".to_string(), |n| n.to_string()));
        out.push_str(&markdown_row(&cells));
    }
    out.push('\n');
    if explanations.is_empty() {
        out.push_str("Every run agrees with the model.\n\n");
    } else {
        out.push_str(&format!(
            "**{DISAGREE_MARK} {} measurement(s) contradict the model**, each explained by the data or gVisor's source:\n\n{}\n\n",
            explanations.len(),
            explanations.join("\n")
        ));
    }
}

/// One gVisor stack's section.
fn gvisor_stack_section(out: &mut String, stack: &SourcedStack) {
    let m = &stack.manifest;
    out.push_str(&format!(
        "### <a id=\"{}\"></a>{} (`{}`)\n\n",
        stack.anchor(),
        stack.label(),
        m.stack
    ));
    let mut how = format!(
        "`runsc` {}",
        m.runsc_version
            .as_deref()
            .unwrap_or("(version not recorded)")
    );
    if let Some(platform) = &m.platform {
        how.push_str(&format!(", platform {platform}"));
    }
    if let Some(network) = &m.network {
        how.push_str(&format!(", network {network}"));
    }
    out.push_str(&format!("Measured with {how}."));
    if let Some(report) = &stack.report {
        let env = &report.report.environment;
        out.push_str(&format!(
            " Inside, the binary saw `uname -r` {} and `net.core.somaxconn` {} (the static file), with {} files from the host.",
            env.kernel.as_deref().map_or_else(|| "-".to_string(), |k| format!("`{k}`")),
            env.somaxconn.setting.map_or_else(|| "-".to_string(), |v| v.to_string()),
            escape(&env.os_name())
        ));
    }
    out.push_str(&files_sentence(stack));
    out.push_str("\n\n");
    runner_findings(out, stack);
    let unsupported: Vec<&String> = m
        .notes
        .iter()
        .filter(|n| n.contains("unsupported"))
        .collect();
    if !unsupported.is_empty() {
        let worlds: Vec<String> = unsupported
            .iter()
            .filter_map(|n| n.split(':').next())
            .map(|w| format!("`{}`", w.trim_start_matches("world-")))
            .collect();
        let reason = unsupported[0]
            .split_once("unsupported: ")
            .map_or("", |(_, r)| r);
        out.push_str(&format!(
            "The knob worlds ({}) need a network namespace of their own, which this runsc cannot make: {}.\n\n",
            worlds.join(", "),
            escape(reason.trim())
        ));
    }
    let Some(report) = &stack.report else {
        out.push_str("No default matrix was written for this stack.\n\n");
        return;
    };
    out.push_str(&format!(
        "#### Default matrix\n\nReport: [`data/{0}`](data/{0}), cap {1} connections per case.{2}\n\n",
        report.file_name,
        report.report.settings.cap,
        settings_sentence(&report.report.environment)
    ));
    let disagreements = case_table(out, report, false);
    disagreement_line(out, &disagreements);
    if !stack.repeats.is_empty() {
        repeats_table(out, stack);
    }
    if let Some(extras) = &stack.extras {
        super::extras::section_at(out, OsFamily::Gvisor, extras, 4, false);
    }
}

/// "gVisor": a note alone when no gVisor stack was measured.
pub(super) fn gvisor_section(corpus: &Corpus<'_>) -> String {
    let stacks = corpus.gvisors();
    if stacks.is_empty() {
        return "## gVisor\n\nNo gVisor stack measured yet: `cargo xtask stacks --gvisor` runs the suite under `runsc` and writes its reports into `docs/data/` (`xtask/README.md`).\n\n".to_string();
    }
    tidy(&super::template::fill(GVISOR_TEMPLATE, |key| match key {
        "gvisor_sections" => {
            let mut out = String::new();
            for stack in &stacks {
                gvisor_stack_section(&mut out, stack);
            }
            Some(out)
        }
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_resolves() {
        for template in [KERNELS_TEMPLATE, GVISOR_TEMPLATE] {
            for key in super::super::template::placeholders(template) {
                assert!(
                    [
                        "kernels_measured",
                        "kernels_table",
                        "retrans_table",
                        "kernel_sections",
                        "gvisor_sections"
                    ]
                    .contains(&key),
                    "{{{{{key}}}}}"
                );
            }
        }
    }

    #[test]
    fn row_anchors_are_stable() {
        assert_eq!(
            kernels_row_anchor("syncookies_0", "backlog_zero"),
            "linux-kernels-syncookies-0-backlog-zero"
        );
        assert_eq!(
            kernels_row_anchor(DEFAULT_WORLD, "backlog_i32_min"),
            "linux-kernels-default-backlog-i32-min"
        );
    }
}
