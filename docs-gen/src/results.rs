//! `results.md`: one section per OS (measured where a report exists, the model's table
//! otherwise, and the extras), then the stacks. The words are `templates/results.md` (with
//! `results-kernels.md` and `results-gvisor.md`); this module computes its page model,
//! [`ResultsPage`].

use std::collections::BTreeSet;

use serde::Serialize;

use super::extras::{self, ExtrasSection};
use super::stack_results::{self, GvisorSection, KernelsSection};
use super::tables::{MeasuredReport, measured_report};
use super::{Corpus, default_backlogs, predicted_anchor};
use backlog_probe::environment::Environment;
use backlog_probe::export::text::backlog_text;
use backlog_probe::predict::{self, OsFamily};
use backlog_probe::sys::Sandbox;

/// Everything `templates/results.md` shows.
#[derive(Debug, Serialize)]
pub struct ResultsPage {
    /// One section per OS the model knows (gVisor is a stack: [`Self::gvisor`]).
    pub oses: Vec<OsSection>,
    /// "Linux across kernels", or none when no kernel stack was measured.
    pub kernels: Option<KernelsSection>,
    /// One section per gVisor stack (none measured: the page says so).
    pub gvisor: Vec<GvisorSection>,
    /// Reports not counted as any OS's results.
    pub unplaced: Vec<Unplaced>,
}

/// One OS's section.
#[derive(Debug, Serialize)]
pub struct OsSection {
    /// `linux`, ...
    pub key: &'static str,
    /// `Linux`, ...
    pub name: &'static str,
    /// Its native reports.
    pub measured: Vec<MeasuredReport>,
    /// The model's table, where no report exists.
    pub predicted: Option<PredictedTable>,
    /// Its native extras reports.
    pub extras: Vec<ExtrasSection>,
}

/// The model's table for an OS without a report.
#[derive(Debug, Serialize)]
pub struct PredictedTable {
    /// `SOMAXCONN` as the headers define it.
    pub somaxconn_constant: i64,
    /// The system somaxconn the model assumes, where there is one.
    pub somaxconn_setting: Option<i64>,
    /// FreeBSD's `kern.ipc.soqlimitcompat`, where it applies.
    pub soqlimitcompat: Option<i64>,
    /// One row per default backlog.
    pub rows: Vec<PredictedRow>,
    /// What a client of a full queue notices, each way once.
    pub notices: Vec<&'static str>,
}

/// One row of the model's table.
#[derive(Debug, Serialize)]
pub struct PredictedRow {
    /// Its anchor.
    pub anchor: String,
    /// `somaxconn (128)`.
    pub backlog: String,
    /// The predicted queue length, or `unknown`.
    pub queue_length: String,
    /// The predicted overflow.
    pub overflow: &'static str,
    /// The rule.
    pub rule: &'static str,
    /// Where the rule is from.
    pub source: &'static str,
    /// How sure the model is.
    pub confidence: &'static str,
}

/// A report not counted as any OS's results, and why.
#[derive(Debug, Serialize)]
pub struct Unplaced {
    /// Its file.
    pub file_name: String,
    /// The emulator it ran under (its TCP is the host's).
    pub emulator: Option<String>,
    /// True when it ran under gVisor without the stack runner's manifest.
    pub gvisor: bool,
    /// Its `target_os`, which the model does not know (when neither of the above).
    pub target_os: String,
}

fn predicted_table(corpus: &Corpus<'_>, os: OsFamily) -> PredictedTable {
    let limits = corpus.limits(os);
    let mut notices = BTreeSet::new();
    let rows = default_backlogs(&limits)
        .into_iter()
        .map(|backlog| {
            let p = predict::predict(os, backlog.value, &limits);
            notices.insert(p.client_notices);
            PredictedRow {
                anchor: predicted_anchor(os, &backlog.slug),
                backlog: backlog_text(&backlog.label, backlog.value),
                queue_length: p
                    .queue_length
                    .map_or_else(|| "unknown".to_string(), |n| n.to_string()),
                overflow: p.overflow.as_str(),
                rule: p.rule,
                source: p.source,
                confidence: p.confidence.as_str(),
            }
        })
        .collect();
    PredictedTable {
        somaxconn_constant: limits.somaxconn_constant,
        somaxconn_setting: limits.somaxconn_setting,
        soqlimitcompat: limits.soqlimitcompat,
        rows,
        notices: notices.into_iter().collect(),
    }
}

fn unplaced(file_name: &str, env: &Environment) -> Unplaced {
    Unplaced {
        file_name: file_name.to_string(),
        emulator: env.emulator.clone(),
        gvisor: env.emulator.is_none() && env.sandbox == Some(Sandbox::Gvisor),
        target_os: env.target_os.clone(),
    }
}

/// The page model of `results.md`.
pub fn page(corpus: &Corpus<'_>) -> ResultsPage {
    let oses = OsFamily::ALL
        .into_iter()
        .map(|os| {
            let measured = corpus.measured(os);
            OsSection {
                key: os.as_str(),
                name: os.display_name(),
                predicted: measured.is_empty().then(|| predicted_table(corpus, os)),
                measured: measured
                    .into_iter()
                    .map(|sourced| measured_report(sourced, true))
                    .collect(),
                extras: corpus
                    .measured_extras(os)
                    .into_iter()
                    .map(|sourced| extras::section(os, sourced, true))
                    .collect(),
            }
        })
        .collect();
    let unplaced = corpus
        .unplaced()
        .into_iter()
        .map(|s| unplaced(&s.file_name, &s.report.environment))
        .chain(
            corpus
                .unplaced_extras()
                .into_iter()
                .map(|s| unplaced(&s.file_name, &s.report.environment)),
        )
        .collect();
    ResultsPage {
        oses,
        kernels: stack_results::kernels_section(corpus),
        gvisor: stack_results::gvisor_sections(corpus),
        unplaced,
    }
}

/// No more than one blank line in a row, and one newline at the end: the templates may leave
/// a blank line more where a section ends.
fn tidy(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    tidy(&super::template::render("results.md", &page(corpus)))
}
