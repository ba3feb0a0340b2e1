//! The documentation generator: report JSON files in, `docs/` files out.
//!
//! `backlog-probe docs --reports DIR --out docs/` reads every `report-*.json` in `DIR` and writes
//! three files, all pure functions of those reports and of the model in [`crate::predict`]:
//!
//! - `results.md`: one table per OS with a stable anchor on every row; an OS without a report
//!   gets the model's table, labelled "prediction, not measured";
//! - `queue-length.svg`: effective queue length against backlog per OS (measured points solid,
//!   predicted points hollow);
//! - `answers.md`: the common questions about `listen()`, answered with numbers that link to
//!   the results rows or to a cited source.
//!
//! The same reports always give byte-identical files, so `tests/docs_fresh.rs` can fail when the
//! committed `docs/` is stale.

mod answers;
mod results;
mod svg;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::plan::Backlog;
use crate::predict::{self, Limits, OsFamily, Prediction};
use crate::report::{CaseReport, Report};

/// A report and the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedReport {
    /// The file name (`report-linux-x86_64.json`), used in links and anchors.
    pub file_name: String,
    /// The report.
    pub report: Report,
}

impl SourcedReport {
    /// The file name without `report-` and `.json` (`linux-x86_64`): the prefix of its row
    /// anchors.
    pub fn key(&self) -> String {
        let stem = self
            .file_name
            .strip_suffix(".json")
            .unwrap_or(&self.file_name);
        slug(stem.strip_prefix("report-").unwrap_or(stem))
    }

    /// The OS family this report measures, if the model knows it and the run was native (a run
    /// under an emulator measured the host's TCP, not the target's).
    pub fn measured_os(&self) -> Option<OsFamily> {
        if self.report.environment.emulator.is_some() {
            return None;
        }
        OsFamily::from_target_os(&self.report.environment.target_os)
    }

    /// The anchor of a case's row in `results.md`.
    pub fn anchor(&self, case: &CaseReport) -> String {
        format!("{}-{}", self.key(), slug(&case.name))
    }
}

/// A generated file: its path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    /// `results.md`, `answers.md` or `queue-length.svg`.
    pub path: &'static str,
    /// The full contents.
    pub contents: String,
}

/// Why the docs could not be generated.
#[derive(Debug)]
pub struct DocsError(pub String);

impl fmt::Display for DocsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DocsError {}

/// Lowercase, with every run of other characters turned into one `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// One of the default backlogs as a document row names it, with its value on a given OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefaultBacklog {
    /// `0`, `somaxconn`, `i32::min`, ...
    pub label: String,
    /// The value passed to `listen()` on that OS.
    pub value: i32,
    /// `backlog-zero`, `backlog-somaxconn`, ...: the anchor suffix, matching case names.
    pub slug: String,
}

/// The default backlogs with `SOMAXCONN` resolved for `limits`, not for the machine that
/// generates the docs.
pub(crate) fn default_backlogs(limits: &Limits) -> Vec<DefaultBacklog> {
    Backlog::DEFAULTS
        .iter()
        .map(|&backlog| DefaultBacklog {
            label: backlog.label(),
            value: match backlog {
                Backlog::Value(v) => v,
                Backlog::Somaxconn => i32::try_from(limits.somaxconn_constant).unwrap_or(i32::MAX),
            },
            slug: format!("backlog-{}", slug(&backlog.slug())),
        })
        .collect()
}

/// The anchor of a model row in `results.md` (`macos-predicted-backlog-zero`).
pub(crate) fn predicted_anchor(os: OsFamily, backlog_slug: &str) -> String {
    format!("{}-predicted-{backlog_slug}", os.as_str())
}

/// Everything the pages need, gathered once.
#[derive(Debug)]
pub(crate) struct Corpus<'a> {
    reports: &'a [SourcedReport],
}

/// A number for the answers page: where it comes from and a link to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Figure {
    /// The queue length, or `None` when unknown.
    pub value: Option<u32>,
    /// True for a measurement, false for the model.
    pub measured: bool,
    /// `results.md#...`.
    pub link: String,
    /// The case, when measured.
    pub case: Option<CaseReport>,
    /// The model's prediction for the same backlog and limits.
    pub prediction: Prediction,
}

impl Figure {
    /// `**2** ([measured](results.md#...))` or `**128** ([model](results.md#...))`.
    pub fn markdown(&self) -> String {
        let value = self
            .value
            .map_or_else(|| "unknown".to_string(), |v| v.to_string());
        let what = if self.measured { "measured" } else { "model" };
        format!("**{value}** ([{what}]({}))", self.link)
    }
}

impl<'a> Corpus<'a> {
    pub(crate) fn new(reports: &'a [SourcedReport]) -> Self {
        Corpus { reports }
    }

    /// Native reports of one OS, in file-name order.
    pub(crate) fn measured(&self, os: OsFamily) -> Vec<&'a SourcedReport> {
        self.reports
            .iter()
            .filter(|r| r.measured_os() == Some(os))
            .collect()
    }

    /// Reports that measure no OS the model knows natively (emulators, other systems).
    pub(crate) fn unplaced(&self) -> Vec<&'a SourcedReport> {
        self.reports
            .iter()
            .filter(|r| r.measured_os().is_none())
            .collect()
    }

    /// The limits of the first native report of `os`, else the OS's typical limits.
    pub(crate) fn limits(&self, os: OsFamily) -> Limits {
        self.measured(os).first().map_or_else(
            || Limits::typical(os),
            |r| Limits::from_environment(&r.report.environment),
        )
    }

    /// The queue length for `backlog` on `os`: the first native report's IPv4 case (IPv6 if
    /// there is no IPv4 one) with exactly that backlog, else the model.
    pub(crate) fn figure(&self, os: OsFamily, backlog: i32) -> Figure {
        let limits = self.limits(os);
        let prediction = predict::predict(os, backlog, &limits);
        for sourced in self.measured(os) {
            let found = sourced
                .report
                .cases
                .iter()
                .filter(|c| c.backlog == backlog && c.queue_length.is_some())
                .min_by_key(|c| c.family);
            if let Some(case) = found {
                return Figure {
                    value: case.queue_length,
                    measured: true,
                    link: format!("results.md#{}", sourced.anchor(case)),
                    case: Some(case.clone()),
                    prediction,
                };
            }
        }
        let has_model_row = self.measured(os).is_empty();
        let link = match default_backlogs(&limits)
            .into_iter()
            .find(|b| b.value == backlog)
        {
            Some(row) if has_model_row => {
                format!("results.md#{}", predicted_anchor(os, &row.slug))
            }
            _ => format!("results.md#{}", os.as_str()),
        };
        Figure {
            value: prediction.queue_length,
            measured: false,
            link,
            case: None,
            prediction,
        }
    }

    /// The figure for one of the default backlogs, by label (`0`, `somaxconn`, `-1`, ...).
    pub(crate) fn default_figure(&self, os: OsFamily, label: &str) -> Figure {
        let limits = self.limits(os);
        let value = default_backlogs(&limits)
            .into_iter()
            .find(|b| b.label == label)
            .map_or(0, |b| b.value);
        self.figure(os, value)
    }
}

/// Render every documentation file from the reports (sorted by file name first, so the
/// order the files were found in does not matter).
pub fn render(reports: &[SourcedReport]) -> Vec<DocFile> {
    let mut sorted = reports.to_vec();
    sorted.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let corpus = Corpus::new(&sorted);
    vec![
        DocFile {
            path: "results.md",
            contents: results::render(&corpus),
        },
        DocFile {
            path: "answers.md",
            contents: answers::render(&corpus),
        },
        DocFile {
            path: "queue-length.svg",
            contents: svg::render(&corpus),
        },
    ]
}

/// Read every `report-*.json` in `dir`, sorted by file name.
pub fn load_reports(dir: &Path) -> Result<Vec<SourcedReport>, DocsError> {
    let entries = fs::read_dir(dir).map_err(|e| {
        DocsError(format!(
            "cannot read report directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut reports = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DocsError(format!("{}: {e}", dir.display())))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !(file_name.starts_with("report-") && file_name.ends_with(".json")) {
            continue;
        }
        let path = entry.path();
        let text = fs::read_to_string(&path)
            .map_err(|e| DocsError(format!("cannot read {}: {e}", path.display())))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| DocsError(format!("{} is not a report: {e}", path.display())))?;
        reports.push(SourcedReport { file_name, report });
    }
    if reports.is_empty() {
        return Err(DocsError(format!(
            "no report-*.json files in {}",
            dir.display()
        )));
    }
    reports.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    Ok(reports)
}

/// Regenerate the docs: read the reports in `reports_dir`, write the files into `out_dir`
/// (created if missing), and return the paths written.
pub fn regenerate(reports_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let reports = load_reports(reports_dir)?;
    fs::create_dir_all(out_dir)
        .map_err(|e| DocsError(format!("cannot create {}: {e}", out_dir.display())))?;
    let mut written = Vec::new();
    for file in render(&reports) {
        let path = out_dir.join(file.path);
        fs::write(&path, &file.contents)
            .map_err(|e| DocsError(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
