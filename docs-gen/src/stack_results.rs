//! The stacks on `results.md`: "Linux across kernels" (one column per kernel, the worlds
//! included, then each kernel's own tables) and "gVisor" (its tables, its repeated runs), as
//! page-model data. The words are the templates `templates/results-kernels.md` and
//! `templates/results-gvisor.md`.

use serde::Serialize;

use super::agreement::agrees;
use super::extras::{self, ExtrasSection};
use super::stacks::{
    DEFAULT_WORLD, SourcedStack, WORLD_ORDER, case_of, kernels_row_anchor, suffix, world_report,
};
use super::tables::{CaseTable, MeasuredReport, case_table, measured_report};
use super::{Corpus, Link, SourcedReport, slug};
use backlog_probe::classify::tcp::LateKind;
use backlog_probe::export::text::backlog_text;
use backlog_probe::export::world_summary;
use backlog_probe::plan::Family;
use backlog_probe::predict::{self, Limits, OsFamily};
use backlog_probe::report::CaseReport;

/// The model's prediction for a case of a report, and whether the case agrees with it.
pub(super) fn model_of(sourced: &SourcedReport, case: &CaseReport) -> Option<predict::Prediction> {
    let os = OsFamily::of(&sourced.report.environment)?;
    let limits = Limits::from_environment(&sourced.report.environment);
    Some(predict::predict(os, case.backlog, &limits))
}

/// "Linux across kernels".
#[derive(Debug, Serialize)]
pub struct KernelsSection {
    /// One per kernel stack, oldest first: the table's columns.
    pub kernels: Vec<KernelColumn>,
    /// The table: a row per world and backlog.
    pub rows: Vec<KernelsRow>,
    /// The cells that contradict the model.
    pub contradicted: Vec<Link>,
    /// The SYN retransmission rows (kernels with a timing).
    pub retransmissions: Vec<RetransmissionRow>,
    /// Each kernel's own section.
    pub sections: Vec<KernelSection>,
}

/// A kernel column.
#[derive(Debug, Serialize)]
pub struct KernelColumn {
    /// `5.10.223`.
    pub label: String,
    /// Its section.
    pub anchor: String,
    /// `linux-5.10`.
    pub stack: String,
}

/// One row of the kernels table.
#[derive(Debug, Serialize)]
pub struct KernelsRow {
    /// `default`, `syncookies_0`, ...
    pub world: String,
    /// The world's knobs (`net.ipv4.tcp_syncookies=0`); none for the default matrix, or where
    /// no report says.
    pub knobs: Vec<String>,
    /// The row's anchor.
    pub anchor: String,
    /// `somaxconn (4096)`.
    pub backlog: String,
    /// One per kernel.
    pub cells: Vec<KernelCell>,
    /// The model: kernels grouped by the value it gives them.
    pub model: Vec<ModelGroup>,
}

/// One kernel's cell: the IPv4 count (IPv6 where there is no IPv4), and IPv6 where it differs.
#[derive(Debug, Serialize)]
pub struct KernelCell {
    /// The count shown, none where the kernel did not measure it.
    pub main: Option<Count>,
    /// IPv6's, where it differs.
    pub ipv6: Option<Count>,
}

/// A measured count with its row.
#[derive(Debug, Serialize)]
pub struct Count {
    /// The queue length, or `-`.
    pub value: String,
    /// The row.
    pub anchor: String,
    /// True where it contradicts the model.
    pub contradicts: bool,
}

/// Kernels the model gives the same value.
#[derive(Debug, Serialize)]
pub struct ModelGroup {
    /// The value, or `unknown`.
    pub value: String,
    /// The kernels.
    pub kernels: Vec<String>,
}

/// One kernel's SYN retransmission timing.
#[derive(Debug, Serialize)]
pub struct RetransmissionRow {
    /// The row's anchor.
    pub anchor: String,
    /// The kernel.
    pub label: String,
    /// Its section.
    pub stack_anchor: String,
    /// `tcp_syn_linear_timeouts`, absent before 6.5.
    pub setting: Option<String>,
    /// Each retransmission, seconds with two decimals.
    pub times: Vec<String>,
    /// The timing's file.
    pub file: String,
    /// The model's schedule (seconds), where it has one.
    pub schedule: Option<Vec<u32>>,
    /// True where the timing contradicts it.
    pub contradicts: bool,
}

/// What the runner recorded about a stack, for its section's first paragraph.
#[derive(Debug, Serialize)]
pub struct Provenance {
    /// `linux-5.10`.
    pub stack: String,
    /// The kernel image package and its version.
    pub package: Option<String>,
    /// Its Debian version.
    pub package_version: Option<String>,
    /// The archives and suites.
    pub sources: Vec<String>,
    /// QEMU's accelerator.
    pub accel: Option<String>,
    /// `uname -r` in the guest.
    pub uname_r: Option<String>,
    /// `uname -v`.
    pub uname_v: Option<String>,
    /// The run record and the burst files.
    pub files: Vec<String>,
    /// What failed.
    pub problems: Vec<String>,
}

/// One kernel's own section.
#[derive(Debug, Serialize)]
pub struct KernelSection {
    /// Its anchor.
    pub anchor: String,
    /// `5.10.223`.
    pub label: String,
    /// Where it came from.
    pub provenance: Provenance,
    /// The default matrix.
    pub default: Option<MeasuredReport>,
    /// The knob worlds.
    pub worlds: Vec<WorldSection>,
    /// The extras.
    pub extras: Option<ExtrasSection>,
}

/// A knob world's report.
#[derive(Debug, Serialize)]
pub struct WorldSection {
    /// `syncookies_0`.
    pub name: String,
    /// Its file.
    pub file_name: String,
    /// Its knobs and counters in one line.
    pub summary: String,
    /// Its cases.
    pub table: CaseTable,
}

/// One gVisor stack's section.
#[derive(Debug, Serialize)]
pub struct GvisorSection {
    /// Its anchor.
    pub anchor: String,
    /// `gVisor 20221219.0`.
    pub label: String,
    /// Where it came from.
    pub provenance: Provenance,
    /// `runsc --version`.
    pub runsc_version: Option<String>,
    /// runsc's platform.
    pub platform: Option<String>,
    /// runsc's network.
    pub network: Option<String>,
    /// What the binary saw inside, where a default matrix was written.
    pub inside: Option<Inside>,
    /// The knob worlds the runner could not run.
    pub unsupported_worlds: Vec<String>,
    /// Why (the first note's reason).
    pub unsupported_reason: String,
    /// The default matrix.
    pub default: Option<MeasuredReport>,
    /// The default matrix run after run.
    pub runs: Option<RunsTable>,
    /// The extras.
    pub extras: Option<ExtrasSection>,
}

/// What a binary saw inside gVisor.
#[derive(Debug, Serialize)]
pub struct Inside {
    /// `uname -r`.
    pub uname_r: Option<String>,
    /// `net.core.somaxconn` (a static file).
    pub somaxconn: Option<i64>,
    /// The OS files from the host.
    pub os_name: String,
}

/// gVisor's default matrix, run after run.
#[derive(Debug, Serialize)]
pub struct RunsTable {
    /// Its anchor.
    pub anchor: String,
    /// Each run's file, run 1 first.
    pub files: Vec<String>,
    /// One row per case of run 1.
    pub rows: Vec<RunsRow>,
    /// Each measurement that contradicts the model, and why.
    pub contradicting: Vec<RunContradiction>,
}

/// One case, run after run.
#[derive(Debug, Serialize)]
pub struct RunsRow {
    /// The row's anchor.
    pub anchor: String,
    /// `ipv4`.
    pub family: String,
    /// `somaxconn (4096)`.
    pub backlog: String,
    /// One per run.
    pub cells: Vec<RunCell>,
    /// The model's queue length, or `unknown`.
    pub model: String,
}

/// One run's count of a case.
#[derive(Debug, Serialize)]
pub struct RunCell {
    /// The queue length, `-`; none where the run has no such case.
    pub value: Option<String>,
    /// True where the pending client was still pending.
    pub late_pending: bool,
    /// True where it contradicts the model.
    pub contradicts: bool,
}

/// A run's measurement that contradicts the model.
#[derive(Debug, Serialize)]
pub struct RunContradiction {
    /// `ipv4`.
    pub family: String,
    /// The backlog's label.
    pub label: String,
    /// The run (1 first).
    pub run: usize,
    /// The row.
    pub anchor: String,
    /// Why, from its own data.
    pub explanation: Explanation,
}

/// Why a gVisor case differs from the model.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// `slow_handshake` (fewer: a handshake slower than the admission grace),
    /// `delivery_race` (more: netstack's race), or `unexplained`.
    pub kind: &'static str,
    /// The measured queue.
    pub measured: Option<u32>,
    /// The model's.
    pub predicted: Option<u32>,
    /// For `slow_handshake`: the connect that counted as the overflow (measured + 1).
    pub connect: Option<u32>,
    /// When it was still unanswered.
    pub overflow_at_ms: Option<u64>,
    /// When it completed.
    pub late_ms: Option<u64>,
}

fn count(sourced: &SourcedReport, case: &CaseReport) -> Count {
    Count {
        value: case
            .queue_length
            .map_or_else(|| "-".to_string(), |n| n.to_string()),
        anchor: sourced.anchor(case),
        contradicts: agrees(sourced, case) == Some(false),
    }
}

/// One kernel's cell for a case: IPv4, and IPv6 where it differs.
fn kernel_cell(sourced: Option<&SourcedReport>, suffix: &str) -> KernelCell {
    let Some(sourced) = sourced else {
        return KernelCell {
            main: None,
            ipv6: None,
        };
    };
    let v4 = case_of(sourced, Family::Ipv4, suffix);
    let v6 = case_of(sourced, Family::Ipv6, suffix);
    match (v4, v6) {
        (Some(v4), Some(v6)) if v6.queue_length != v4.queue_length => KernelCell {
            main: Some(count(sourced, v4)),
            ipv6: Some(count(sourced, v6)),
        },
        (Some(case), _) | (None, Some(case)) => KernelCell {
            main: Some(count(sourced, case)),
            ipv6: None,
        },
        (None, None) => KernelCell {
            main: None,
            ipv6: None,
        },
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

/// A world's knobs as a report of it records them (`net.ipv4.tcp_syncookies=0`).
fn world_knobs(kernels: &[&SourcedStack], world: &str) -> Vec<String> {
    if world == DEFAULT_WORLD {
        return Vec::new();
    }
    kernels
        .iter()
        .find_map(|k| k.world(world))
        .and_then(|sourced| sourced.report.world.as_ref())
        .map(|w| {
            w.sysctls
                .iter()
                .map(|s| format!("{}={}", s.key, s.requested))
                .collect()
        })
        .unwrap_or_default()
}

/// The model column: kernels grouped by the value the model gives them.
fn model_groups(kernels: &[&SourcedStack], world: &str, suffix: &str) -> Vec<ModelGroup> {
    let mut groups: Vec<ModelGroup> = Vec::new();
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
        match groups.iter_mut().find(|g| g.value == value) {
            Some(group) => group.kernels.push(kernel.label()),
            None => groups.push(ModelGroup {
                value,
                kernels: vec![kernel.label()],
            }),
        }
    }
    groups
}

/// The table's rows: per world, the first kernel's cases of it in their order (IPv4 first).
fn kernels_rows(kernels: &[&SourcedStack], contradicted: &mut Vec<Link>) -> Vec<KernelsRow> {
    let mut rows = Vec::new();
    for world in worlds_of(kernels) {
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
            let mut cells = Vec::new();
            for kernel in kernels {
                let cell = kernel_cell(world_report(kernel, &world), suffix);
                let contradicts = cell.main.iter().chain(&cell.ipv6).any(|c| c.contradicts);
                if contradicts {
                    contradicted.push(Link {
                        text: format!("{}, {}", kernel.label(), world),
                        anchor: anchor.clone(),
                    });
                }
                cells.push(cell);
            }
            rows.push(KernelsRow {
                knobs: world_knobs(kernels, &world),
                world: world.clone(),
                anchor,
                backlog: backlog_text(&sample.label, sample.backlog),
                cells,
                model: model_groups(kernels, &world, suffix),
            });
        }
    }
    rows
}

/// The retransmission rows: one per kernel with a timing.
fn retransmission_rows(kernels: &[&SourcedStack]) -> Vec<RetransmissionRow> {
    let mut rows = Vec::new();
    for kernel in kernels {
        let Some((file, timing)) = &kernel.retransmissions else {
            continue;
        };
        let report = kernel.report.as_ref();
        let setting = report.and_then(|r| {
            r.report
                .environment
                .settings
                .get("net.ipv4.tcp_syn_linear_timeouts")
                .cloned()
        });
        let schedule = report.and_then(|r| {
            let limits = Limits::from_environment(&r.report.environment);
            predict::syn_retransmissions(kernel.family(), &limits)
        });
        let contradicts = schedule.is_some_and(|schedule| {
            !predict::retransmissions_agree(schedule, &timing.times_s, timing.window_s)
        });
        rows.push(RetransmissionRow {
            anchor: kernel.retransmissions_anchor(),
            label: kernel.label(),
            stack_anchor: kernel.anchor(),
            setting,
            times: timing.times_s.iter().map(|t| format!("{t:.2}")).collect(),
            file: file.clone(),
            schedule: schedule.map(<[u32]>::to_vec),
            contradicts,
        });
    }
    rows
}

fn provenance(stack: &SourcedStack) -> Provenance {
    let m = &stack.manifest;
    let mut files = vec![stack.file_name.clone()];
    files.extend(m.files.iter().filter(|f| f.starts_with("burst-")).cloned());
    Provenance {
        stack: m.stack.clone(),
        package: m.package.clone(),
        package_version: m.package_version.clone(),
        sources: m.sources.clone(),
        accel: m.accel.clone(),
        uname_r: m.uname_r.clone(),
        uname_v: m.uname_v.clone(),
        files,
        problems: m.problems.clone(),
    }
}

fn kernel_section(stack: &SourcedStack) -> KernelSection {
    KernelSection {
        anchor: stack.anchor(),
        label: stack.label(),
        provenance: provenance(stack),
        default: stack.report.as_ref().map(|r| measured_report(r, true)),
        worlds: stack
            .worlds
            .iter()
            .map(|world| {
                let sourced = &world.sourced;
                WorldSection {
                    name: world.name.clone(),
                    file_name: sourced.file_name.clone(),
                    summary: sourced
                        .report
                        .world
                        .as_ref()
                        .map_or_else(|| world.name.clone(), world_summary),
                    table: case_table(sourced, true),
                }
            })
            .collect(),
        extras: stack
            .extras
            .as_ref()
            .map(|e| extras::section(OsFamily::Linux, e, true)),
    }
}

/// "Linux across kernels", or none when no kernel stack was measured.
pub(super) fn kernels_section(corpus: &Corpus<'_>) -> Option<KernelsSection> {
    let kernels = corpus.kernels();
    if kernels.is_empty() {
        return None;
    }
    let mut contradicted = Vec::new();
    let rows = kernels_rows(&kernels, &mut contradicted);
    Some(KernelsSection {
        kernels: kernels
            .iter()
            .map(|k| KernelColumn {
                label: k.label(),
                anchor: k.anchor(),
                stack: k.manifest.stack.clone(),
            })
            .collect(),
        rows,
        contradicted,
        retransmissions: retransmission_rows(&kernels),
        sections: kernels.iter().map(|k| kernel_section(k)).collect(),
    })
}

/// Why a gVisor case differs from the model, from its own data: a slow handshake the harness
/// counted as the overflow, or netstack's delivery race.
fn gvisor_explanation(case: &CaseReport, predicted: Option<u32>) -> Explanation {
    let mut explanation = Explanation {
        kind: "unexplained",
        measured: case.queue_length,
        predicted,
        connect: None,
        overflow_at_ms: case.overflow.elapsed_ms,
        late_ms: case.late_completion.elapsed_ms,
    };
    let (Some(measured), Some(predicted)) = (case.queue_length, predicted) else {
        return explanation;
    };
    if measured < predicted {
        if let (Some(_), Some(late)) = (case.overflow.elapsed_ms, case.late_completion.elapsed_ms) {
            if case.late_completion.kind == LateKind::Completed && late < 1000 {
                explanation.kind = "slow_handshake";
                explanation.connect = Some(measured + 1);
            }
        }
    } else if measured > predicted {
        explanation.kind = "delivery_race";
    }
    explanation
}

/// The default matrix run after run: one row per case, a column per run.
fn runs_table(stack: &SourcedStack) -> Option<RunsTable> {
    let first = stack.report.as_ref()?;
    if stack.repeats.is_empty() {
        return None;
    }
    let runs: Vec<&SourcedReport> = std::iter::once(first).chain(&stack.repeats).collect();
    let mut rows = Vec::new();
    let mut contradicting = Vec::new();
    for case in &first.report.cases {
        let anchor = format!("{}-runs-{}", slug(stack.file_key()), slug(&case.name));
        let predicted = model_of(first, case).and_then(|p| p.queue_length);
        let mut cells = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let Some(measured) = run.report.cases.iter().find(|c| c.name == case.name) else {
                cells.push(RunCell {
                    value: None,
                    late_pending: false,
                    contradicts: false,
                });
                continue;
            };
            let contradicts = agrees(run, measured) == Some(false);
            if contradicts {
                contradicting.push(RunContradiction {
                    family: case.family.to_string(),
                    label: case.label.clone(),
                    run: i + 1,
                    anchor: anchor.clone(),
                    explanation: gvisor_explanation(measured, predicted),
                });
            }
            cells.push(RunCell {
                value: Some(
                    measured
                        .queue_length
                        .map_or_else(|| "-".to_string(), |n| n.to_string()),
                ),
                late_pending: measured.late_completion.kind == LateKind::Pending,
                contradicts,
            });
        }
        rows.push(RunsRow {
            anchor,
            family: case.family.to_string(),
            backlog: backlog_text(&case.label, case.backlog),
            cells,
            model: predicted.map_or_else(|| "unknown".to_string(), |n| n.to_string()),
        });
    }
    Some(RunsTable {
        anchor: stack.runs_anchor(),
        files: runs.iter().map(|r| r.file_name.clone()).collect(),
        rows,
        contradicting,
    })
}

fn gvisor_section(stack: &SourcedStack) -> GvisorSection {
    let m = &stack.manifest;
    let unsupported: Vec<&String> = m
        .notes
        .iter()
        .filter(|n| n.contains("unsupported"))
        .collect();
    GvisorSection {
        anchor: stack.anchor(),
        label: stack.label(),
        provenance: provenance(stack),
        runsc_version: m.runsc_version.clone(),
        platform: m.platform.clone(),
        network: m.network.clone(),
        inside: stack.report.as_ref().map(|report| {
            let env = &report.report.environment;
            Inside {
                uname_r: env.kernel.clone(),
                somaxconn: env.somaxconn.setting,
                os_name: env.os_name(),
            }
        }),
        unsupported_worlds: unsupported
            .iter()
            .filter_map(|n| n.split(':').next())
            .map(|w| w.trim_start_matches("world-").to_string())
            .collect(),
        unsupported_reason: unsupported
            .first()
            .and_then(|n| n.split_once("unsupported: "))
            .map_or("", |(_, r)| r)
            .trim()
            .to_string(),
        default: stack.report.as_ref().map(|r| measured_report(r, false)),
        runs: runs_table(stack),
        extras: stack
            .extras
            .as_ref()
            .map(|e| extras::section(OsFamily::Gvisor, e, false)),
    }
}

/// One section per gVisor stack.
pub(super) fn gvisor_sections(corpus: &Corpus<'_>) -> Vec<GvisorSection> {
    corpus.gvisors().into_iter().map(gvisor_section).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
