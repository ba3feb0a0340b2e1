//! The documentation generator: report JSON files in, `docs/` files out.
//!
//! `backlog-probe docs --reports DIR --out docs/` reads every `report-*.json` (the main harness)
//! and every `extras-*.json` (`backlog-probe extras --format json`, optional) in `DIR`, and the
//! files of each stack `cargo xtask stacks` measured (grouped by its `stack-*.json` manifest,
//! [`stacks`]), and writes three files, all pure functions of those reports and of the model in
//! [`crate::predict`]:
//!
//! - `results.md`: one table per OS with a stable anchor on every row; an OS without a report
//!   gets the model's table, labelled "prediction, not measured"; an OS with an extras report
//!   also gets its UDP, Unix-domain, re-listen and runtime-default rows; the kernel stacks get a
//!   table with one column per kernel (the knob worlds included) and a section each, gVisor a
//!   section of its own;
//! - `queue-length.svg`: effective queue length against backlog per OS (measured points solid,
//!   predicted points hollow);
//! - `answers.md`: the common questions about `listen()`, answered with numbers that link to
//!   the results rows or to a cited source; its prose is the template `templates/answers.md`.
//!
//! The same reports always give byte-identical files, so `tests/docs_fresh.rs` can fail when the
//! committed `docs/` is stale.

mod answers;
mod cells;
mod extras;
mod results;
mod stack_results;
pub mod stacks;
mod svg;
mod template;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::observation::extras::{
    LocalCase, MeasureStatus, RelistenCase, RuntimeDefault, UdpListen,
};
use crate::plan::Backlog;
use crate::predict::{self, Limits, OsFamily, Prediction};
use crate::report::extras::ExtrasReport;
use crate::report::{CaseReport, Report};
use stacks::SourcedStack;

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
        file_key(&self.file_name, REPORT_PREFIX)
    }

    /// The OS family this report measures, if the model knows it and the run was native (a run
    /// under an emulator measured the host's TCP, not the target's; one under gVisor measured
    /// gVisor's, which is a stack, not an OS).
    pub fn measured_os(&self) -> Option<OsFamily> {
        let env = &self.report.environment;
        if env.emulator.is_some() || env.sandbox.is_some_and(|s| s.has_own_tcp_stack()) {
            return None;
        }
        OsFamily::from_target_os(&env.target_os)
    }

    /// The anchor of a case's row in `results.md`.
    pub fn anchor(&self, case: &CaseReport) -> String {
        format!("{}-{}", self.key(), slug(&case.name))
    }
}

/// An extras report (`backlog-probe extras --format json`) and the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedExtras {
    /// The file name (`extras-linux-x86_64.json`), used in links and anchors.
    pub file_name: String,
    /// The report.
    pub report: ExtrasReport,
}

impl SourcedExtras {
    /// The file name without `extras-` and `.json` (`linux-x86-64`): the prefix of its row
    /// anchors, the same as the main report's of the same platform (the row names differ).
    pub fn key(&self) -> String {
        file_key(&self.file_name, EXTRAS_PREFIX)
    }

    /// The OS family this report measures, if the model knows it and the run was native.
    pub fn measured_os(&self) -> Option<OsFamily> {
        let env = &self.report.environment;
        if env.emulator.is_some() || env.sandbox.is_some_and(|s| s.has_own_tcp_stack()) {
            return None;
        }
        OsFamily::from_target_os(&env.target_os)
    }

    /// The anchor of a UDP row (`linux-x86-64-udp-ipv4`).
    pub fn udp_anchor(&self, udp: &UdpListen) -> String {
        format!("{}-udp-{}", self.key(), udp.family)
    }

    /// The anchor of a Unix-domain row (`linux-x86-64-unix-stream-backlog-5`).
    pub fn unix_anchor(&self, case: &LocalCase) -> String {
        format!(
            "{}-unix-{}-backlog-{}",
            self.key(),
            case.socket_type.as_str(),
            number_slug(case.backlog)
        )
    }

    /// The anchor of a re-listen row (`linux-x86-64-relisten-5-then-2`).
    pub fn relisten_anchor(&self, case: &RelistenCase) -> String {
        format!(
            "{}-relisten-{}-then-{}",
            self.key(),
            number_slug(case.first_backlog),
            number_slug(case.second_backlog)
        )
    }

    /// The anchor of a runtime-default row (`linux-x86-64-runtime-std-net-tcplistener-bind`).
    pub fn runtime_anchor(&self, runtime: &RuntimeDefault) -> String {
        format!("{}-runtime-{}", self.key(), slug(&runtime.api))
    }
}

const REPORT_PREFIX: &str = "report-";
const EXTRAS_PREFIX: &str = "extras-";

/// The file name without `prefix` and `.json`, as a slug.
fn file_key(file_name: &str, prefix: &str) -> String {
    let stem = file_name.strip_suffix(".json").unwrap_or(file_name);
    slug(stem.strip_prefix(prefix).unwrap_or(stem))
}

/// A backlog in an anchor: `5`, `minus-1` (a bare `-` would vanish in a slug).
fn number_slug(value: i32) -> String {
    if value < 0 {
        format!("minus-{}", value.unsigned_abs())
    } else {
        value.to_string()
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

/// Where gVisor's clamp is, for a gVisor number no stack measured.
const GVISOR_LISTEN_SOURCE: &str = "https://github.com/google/gvisor/blob/release-20260817.0/pkg/sentry/syscalls/linux/sys_socket.go";

/// Everything the pages need, gathered once.
#[derive(Debug)]
pub(crate) struct Corpus<'a> {
    reports: &'a [SourcedReport],
    extras: &'a [SourcedExtras],
    stacks: &'a [SourcedStack],
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
    #[cfg(test)]
    pub(crate) fn new(reports: &'a [SourcedReport], extras: &'a [SourcedExtras]) -> Self {
        Corpus::with_stacks(reports, extras, &[])
    }

    pub(crate) fn with_stacks(
        reports: &'a [SourcedReport],
        extras: &'a [SourcedExtras],
        stacks: &'a [SourcedStack],
    ) -> Self {
        Corpus {
            reports,
            extras,
            stacks,
        }
    }

    /// The Linux kernel stacks, oldest first.
    pub(crate) fn kernels(&self) -> Vec<&'a SourcedStack> {
        stacks::kernels(self.stacks)
    }

    /// The gVisor stacks.
    pub(crate) fn gvisors(&self) -> Vec<&'a SourcedStack> {
        stacks::gvisors(self.stacks)
    }

    /// Native extras reports of one OS, in file-name order; for gVisor, its stacks' extras.
    pub(crate) fn measured_extras(&self, os: OsFamily) -> Vec<&'a SourcedExtras> {
        if os == OsFamily::Gvisor {
            return self
                .gvisors()
                .into_iter()
                .filter_map(|s| s.extras.as_ref())
                .collect();
        }
        self.extras
            .iter()
            .filter(|r| r.measured_os() == Some(os))
            .collect()
    }

    /// Extras reports that measure no OS the model knows natively.
    pub(crate) fn unplaced_extras(&self) -> Vec<&'a SourcedExtras> {
        self.extras
            .iter()
            .filter(|r| r.measured_os().is_none())
            .collect()
    }

    /// The first native extras report of `os` that measured `api`, and that measurement.
    pub(crate) fn runtime_default(
        &self,
        os: OsFamily,
        api: &str,
    ) -> Option<(&'a SourcedExtras, &'a RuntimeDefault)> {
        self.measured_extras(os).into_iter().find_map(|sourced| {
            sourced
                .report
                .runtime_defaults
                .iter()
                .find(|r| r.api == api && r.status == MeasureStatus::Measured)
                .map(|r| (sourced, r))
        })
    }

    /// Native reports of one OS, in file-name order; for gVisor, its stacks' default matrices
    /// (the first run of each).
    pub(crate) fn measured(&self, os: OsFamily) -> Vec<&'a SourcedReport> {
        if os == OsFamily::Gvisor {
            return self
                .gvisors()
                .into_iter()
                .filter_map(|s| s.report.as_ref())
                .collect();
        }
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
            // gVisor has no model table: its section exists only with a measured stack.
            _ if os == OsFamily::Gvisor && has_model_row => GVISOR_LISTEN_SOURCE.to_string(),
            _ if os == OsFamily::Gvisor => format!("results.md#{}", os.as_str()),
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

/// Render every documentation file from the reports and the extras reports (each sorted by
/// file name first, so the order the files were found in does not matter).
pub fn render(reports: &[SourcedReport], extras: &[SourcedExtras]) -> Vec<DocFile> {
    render_with_stacks(reports, extras, &[])
}

/// [`render`], with the stacks `cargo xtask stacks` measured ([`stacks::load`] takes their
/// reports out of the OS reports first).
pub fn render_with_stacks(
    reports: &[SourcedReport],
    extras: &[SourcedExtras],
    stacks: &[SourcedStack],
) -> Vec<DocFile> {
    let mut sorted = reports.to_vec();
    sorted.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let mut sorted_extras = extras.to_vec();
    sorted_extras.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let mut sorted_stacks = stacks.to_vec();
    sorted_stacks.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let corpus = Corpus::with_stacks(&sorted, &sorted_extras, &sorted_stacks);
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

/// Every `{prefix}*.json` in `dir` parsed as `T`, with its file name, sorted by file name.
fn load_json<T: DeserializeOwned>(
    dir: &Path,
    prefix: &str,
    what: &str,
) -> Result<Vec<(String, T)>, DocsError> {
    let entries = fs::read_dir(dir).map_err(|e| {
        DocsError(format!(
            "cannot read report directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut loaded = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DocsError(format!("{}: {e}", dir.display())))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !(file_name.starts_with(prefix) && file_name.ends_with(".json")) {
            continue;
        }
        let path = entry.path();
        let text = fs::read_to_string(&path)
            .map_err(|e| DocsError(format!("cannot read {}: {e}", path.display())))?;
        let value: T = serde_json::from_str(&text)
            .map_err(|e| DocsError(format!("{} is not {what}: {e}", path.display())))?;
        loaded.push((file_name, value));
    }
    loaded.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(loaded)
}

/// Read every `report-*.json` in `dir`, sorted by file name; at least one must exist.
pub fn load_reports(dir: &Path) -> Result<Vec<SourcedReport>, DocsError> {
    let reports: Vec<SourcedReport> = load_json::<Report>(dir, REPORT_PREFIX, "a report")?
        .into_iter()
        .map(|(file_name, report)| SourcedReport { file_name, report })
        .collect();
    if reports.is_empty() {
        return Err(DocsError(format!(
            "no report-*.json files in {}",
            dir.display()
        )));
    }
    Ok(reports)
}

/// Read every `extras-*.json` (an [`ExtrasReport`]) in `dir`, sorted by file name; there may
/// be none.
pub fn load_extras(dir: &Path) -> Result<Vec<SourcedExtras>, DocsError> {
    Ok(
        load_json::<ExtrasReport>(dir, EXTRAS_PREFIX, "an extras report")?
            .into_iter()
            .map(|(file_name, report)| SourcedExtras { file_name, report })
            .collect(),
    )
}

/// Regenerate the docs: read the reports and extras reports in `reports_dir`, write the files
/// into `out_dir` (created if missing), and return the paths written.
pub fn regenerate(reports_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let mut reports = load_reports(reports_dir)?;
    let mut extras = load_extras(reports_dir)?;
    let stacks = stacks::load(reports_dir, &mut reports, &mut extras)?;
    fs::create_dir_all(out_dir)
        .map_err(|e| DocsError(format!("cannot create {}: {e}", out_dir.display())))?;
    let mut written = Vec::new();
    for file in render_with_stacks(&reports, &extras, &stacks) {
        let path = out_dir.join(file.path);
        fs::write(&path, &file.contents)
            .map_err(|e| DocsError(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
