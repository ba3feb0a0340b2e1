//! The documentation generator: report JSON files in, `docs/` files out.
//!
//! `cargo run -p docs-gen -- --reports DIR --out docs/` reads every `report-*.json` (the main harness)
//! and every `extras-*.json` (`backlog-probe extras --format json`, optional) in `DIR`, and the
//! files of each stack `cargo xtask stacks` measured (grouped by its `stack-*.json` manifest,
//! [`stacks`]), and the day each was measured (`measured-on.json`, optional), and writes four
//! files, all pure functions of those reports and of the model in
//! [`backlog_probe::predict`]:
//!
//! - `results.md`: one table per OS with a stable anchor on every row; an OS without a report
//!   gets the model's table, labelled "prediction, not measured"; an OS with an extras report
//!   also gets its UDP, Unix-domain, re-listen and runtime-default rows; the kernel stacks get a
//!   table with one column per kernel (the knob worlds included) and a section each, gVisor a
//!   section of its own;
//! - `queue-length.svg`: effective queue length against backlog per OS (measured points solid,
//!   predicted points hollow);
//! - `answers.md`: the common questions about `listen()`, answered with numbers that link to
//!   the results rows or to a cited source; its prose is the template `templates/answers.md`,
//!   its lines wrapped at 100 characters;
//! - `answers-depth.md`: the long answers over the same page model (`templates/answers-depth.md`).
//!
//! Each page is a template over a plain page model ([`template`]): the data is computed here,
//! in Rust, from the reports and the model; the words are in `templates/` (MiniJinja). The
//! chart is a small renderer of its own (`svg.rs`): its geometry is arithmetic, not words.
//!
//! This is a workspace crate of its own (`publish = false`), so neither the library nor the
//! `backlog-probe` binary carries it: the binary's old `docs` subcommand is a hidden stub that
//! names this command.
//!
//! The same reports always give byte-identical files, so `tests/docs_fresh.rs` can fail when the
//! committed `docs/` is stale.

mod agreement;
mod answers;
mod cells;
mod extras;
mod results;
mod stack_results;
pub mod stacks;
mod svg;
mod tables;
pub mod template;
mod wrap;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use backlog_probe::environment::Environment;
use backlog_probe::plan::Backlog;
use backlog_probe::predict::{self, Limits, OsFamily, Prediction};
use backlog_probe::report::extras::ExtrasReport;
use backlog_probe::report::extras::{
    LocalCase, MeasureStatus, RelistenCase, RuntimeDefault, UdpListen,
};
use backlog_probe::report::{CaseReport, Report, read};
use stacks::SourcedStack;

/// A report of some kind and the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<R> {
    /// The file name (`report-linux-x86_64.json`), used in links and anchors.
    pub file_name: String,
    /// The report.
    pub report: R,
}

/// A main report (`backlog-probe run --format json`) and its file.
pub type SourcedReport = Sourced<Report>;
/// An extras report (`backlog-probe extras --format json`) and its file.
pub type SourcedExtras = Sourced<ExtrasReport>;

/// A kind of report file: its name's prefix and where the report ran.
pub trait ReportFile {
    /// `report-`, `extras-`.
    const PREFIX: &'static str;
    /// Where it ran.
    fn environment(&self) -> &Environment;
}

impl ReportFile for Report {
    const PREFIX: &'static str = REPORT_PREFIX;
    fn environment(&self) -> &Environment {
        &self.environment
    }
}

impl ReportFile for ExtrasReport {
    const PREFIX: &'static str = EXTRAS_PREFIX;
    fn environment(&self) -> &Environment {
        &self.environment
    }
}

impl<R: ReportFile> Sourced<R> {
    /// The file name without its prefix and `.json`, as a slug (`linux-x86-64`): the prefix of
    /// its row anchors (a main report and an extras report of one platform share it; their row
    /// names differ).
    pub fn key(&self) -> String {
        file_key(&self.file_name, R::PREFIX)
    }

    /// The OS family this report measures, if the model knows it and the run was native (a run
    /// under an emulator measured the host's TCP, not the target's; one under gVisor measured
    /// gVisor's, which is a stack, not an OS).
    pub fn measured_os(&self) -> Option<OsFamily> {
        let env = self.report.environment();
        if env.emulator.is_some() || env.sandbox.is_some_and(|s| s.has_own_tcp_stack()) {
            return None;
        }
        OsFamily::from_target_os(&env.target_os)
    }
}

impl SourcedReport {
    /// The anchor of a case's row in `results.md`.
    pub fn anchor(&self, case: &CaseReport) -> String {
        format!("{}-{}", self.key(), slug(&case.name))
    }
}

impl SourcedExtras {
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

/// A link into `results.md`: its text and the row's anchor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// What the link says.
    pub text: String,
    /// The anchor in `results.md`, without `#`.
    pub anchor: String,
}

impl Link {
    /// A link to a row that says its own anchor.
    pub(crate) fn row(anchor: String) -> Link {
        Link {
            text: anchor.clone(),
            anchor,
        }
    }
}

/// A generated file: its path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    /// `results.md`, `answers.md`, `answers-depth.md` or `queue-length.svg`.
    pub path: &'static str,
    /// The full contents.
    pub contents: String,
}

/// Why the docs could not be generated. Each displays as one line (the command prints it after
/// `docs-gen: error:`); a caller may branch on the case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// The report directory cannot be listed.
    #[error("cannot read report directory {}: {source}", dir.display())]
    ReportDirectory {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An input cannot be opened as a bounded regular file (its own line names it).
    #[error(transparent)]
    Input(Box<read::ReadError>),
    /// An input is not what its name says.
    #[error("{} is not {what}: {source}", path.display())]
    NotWhatItSays {
        /// The file.
        path: PathBuf,
        /// `a report`, `an extras report`, `a stack manifest`, ...
        what: &'static str,
        /// Why.
        source: Box<read::ReadError>,
    },
    /// No `report-*.json` at all.
    #[error("no report-*.json files in {}", dir.display())]
    NoReports {
        /// The directory.
        dir: PathBuf,
    },
    /// Two files whose names differ only by case or punctuation: their rows would get the same
    /// anchors, so neither is chosen.
    #[error("{first} and {second} in {} name the same platform ({key}): rename or remove one", dir.display())]
    SameKey {
        /// The directory.
        dir: PathBuf,
        /// The first file, by name.
        first: String,
        /// The second.
        second: String,
        /// The key both give (`linux-x86-64`).
        key: String,
    },
    /// The output directory cannot be made.
    #[error("cannot create {}: {source}", dir.display())]
    CreateOutput {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A directory stands where a page goes.
    #[error("cannot replace {}: it is a directory (nothing replaced)", target.display())]
    TargetIsDirectory {
        /// The page's path.
        target: PathBuf,
    },
    /// A page could not be written in full beside its target.
    #[error("cannot write {}: {source} (nothing replaced)", target.display())]
    Write {
        /// The page's path.
        target: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `measured-on.json` names a day that is not `YYYY-MM-DD`.
    #[error("{}: {name}: {day:?} is not a YYYY-MM-DD date", path.display())]
    MeasuredOn {
        /// The file.
        path: PathBuf,
        /// The report it dates.
        name: String,
        /// What it says instead of a date.
        day: String,
    },
    /// A page could not replace its target; the pages already replaced were put back.
    #[error("cannot replace {}: {source} (nothing replaced)", target.display())]
    Replace {
        /// The page's path.
        target: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

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
    /// The day each data file was measured, by file name: the report's own
    /// (`environment.measured_on`), else [`MEASURED_ON`]'s.
    measured_on: BTreeMap<String, String>,
}

/// A number for the answers page: where it comes from and a link to it. Templates see its
/// value, whether it was measured and its link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Figure {
    /// The queue length, or `None` when unknown.
    pub value: Option<u32>,
    /// True for a measurement, false for the model.
    pub measured: bool,
    /// `results.md#...`.
    pub link: String,
    /// The case, when measured.
    #[serde(skip)]
    pub case: Option<CaseReport>,
    /// The model's prediction for the same backlog and limits.
    #[serde(skip)]
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
    pub(crate) fn with_stacks(
        reports: &'a [SourcedReport],
        extras: &'a [SourcedExtras],
        stacks: &'a [SourcedStack],
    ) -> Self {
        let mut measured_on = BTreeMap::new();
        let mut own_day = |file_name: &str, environment: &Environment| {
            if let Some(day) = environment.measured_on.as_ref().filter(|day| is_day(day)) {
                measured_on.insert(file_name.to_string(), day.clone());
            }
        };
        for report in reports.iter().chain(stacks.iter().flat_map(|stack| {
            stack
                .report
                .iter()
                .chain(stack.worlds.iter().map(|world| &world.sourced))
                .chain(&stack.repeats)
        })) {
            own_day(&report.file_name, &report.report.environment);
        }
        for extras in extras
            .iter()
            .chain(stacks.iter().filter_map(|stack| stack.extras.as_ref()))
        {
            own_day(&extras.file_name, &extras.report.environment);
        }
        Corpus {
            reports,
            extras,
            stacks,
            measured_on,
        }
    }

    /// The same reports, with the day each was measured (file name → `YYYY-MM-DD`) where the
    /// report carries no day of its own (one written before `environment.measured_on`).
    pub(crate) fn with_measured_on(mut self, measured_on: BTreeMap<String, String>) -> Self {
        for (name, day) in measured_on {
            self.measured_on.entry(name).or_insert(day);
        }
        self
    }

    /// The day each data file was measured, by file name, where `measured-on.json` names it.
    pub(crate) fn measured_on(&self) -> &BTreeMap<String, String> {
        &self.measured_on
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
    render_with_dates(reports, extras, stacks, BTreeMap::new())
}

/// [`render_with_stacks`], with the day each data file was measured ([`load_measured_on`]),
/// which results.md shows beside each report.
pub fn render_with_dates(
    reports: &[SourcedReport],
    extras: &[SourcedExtras],
    stacks: &[SourcedStack],
    measured_on: BTreeMap<String, String>,
) -> Vec<DocFile> {
    let mut sorted = reports.to_vec();
    sorted.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let mut sorted_extras = extras.to_vec();
    sorted_extras.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let mut sorted_stacks = stacks.to_vec();
    sorted_stacks.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let corpus =
        Corpus::with_stacks(&sorted, &sorted_extras, &sorted_stacks).with_measured_on(measured_on);
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
            path: "answers-depth.md",
            contents: answers::render_depth(&corpus),
        },
        DocFile {
            path: "queue-length.svg",
            contents: svg::render(&corpus),
        },
    ]
}

/// Every `{prefix}*.json` entry in `dir`: its name (lossily decoded, for anchors) and its path
/// (exactly as the directory has it), sorted by name.
fn names_in(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, DocsError> {
    let entries = fs::read_dir(dir).map_err(|source| DocsError::ReportDirectory {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DocsError::ReportDirectory {
            dir: dir.to_path_buf(),
            source,
        })?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(prefix) && file_name.ends_with(".json") {
            names.push((file_name, entry.path()));
        }
    }
    names.sort();
    // Names that differ only by case or punctuation give the same anchors: refuse both rather
    // than let one page mix them up or pick one silently.
    let mut keys: Vec<(String, &str)> = names
        .iter()
        .map(|(name, _)| (file_key(name, prefix), name.as_str()))
        .collect();
    keys.sort();
    if let Some(pair) = keys.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(DocsError::SameKey {
            dir: dir.to_path_buf(),
            first: pair[0].1.to_string(),
            second: pair[1].1.to_string(),
            key: pair[0].0.clone(),
        });
    }
    Ok(names)
}

/// Every `{prefix}*.json` in `dir` parsed with `parse`, with its file name, sorted by file name.
/// Each is a bounded input ([`read::open_input`]): a regular file (a FIFO or a symlink to a
/// device is refused without waiting or reading) of at most `max_bytes`, schema-checked.
fn load_each<T>(
    dir: &Path,
    prefix: &str,
    max_bytes: u64,
    what: &'static str,
    parse: impl Fn(read::InputFile) -> Result<T, read::ReadError>,
) -> Result<Vec<(String, T)>, DocsError> {
    let mut loaded = Vec::new();
    for (file_name, path) in names_in(dir, prefix)? {
        let input =
            read::open_input(&path, max_bytes).map_err(|e| DocsError::Input(Box::new(e)))?;
        let value = parse(input).map_err(|source| DocsError::NotWhatItSays {
            path: path.clone(),
            what,
            source: Box::new(source),
        })?;
        loaded.push((file_name, value));
    }
    Ok(loaded)
}

/// Read every `report-*.json` in `dir`, sorted by file name; at least one must exist. Each file
/// may be at most [`read::DEFAULT_MAX_INPUT_BYTES`].
pub fn load_reports(dir: &Path) -> Result<Vec<SourcedReport>, DocsError> {
    load_reports_bounded(dir, read::DEFAULT_MAX_INPUT_BYTES)
}

/// [`load_reports`] with each file at most `max_bytes`.
pub fn load_reports_bounded(dir: &Path, max_bytes: u64) -> Result<Vec<SourcedReport>, DocsError> {
    let reports: Vec<SourcedReport> = load_each(
        dir,
        REPORT_PREFIX,
        max_bytes,
        "a report",
        read::InputFile::report,
    )?
    .into_iter()
    .map(|(file_name, report)| SourcedReport { file_name, report })
    .collect();
    if reports.is_empty() {
        return Err(DocsError::NoReports {
            dir: dir.to_path_buf(),
        });
    }
    Ok(reports)
}

/// Read every `extras-*.json` (an [`ExtrasReport`]) in `dir`, sorted by file name; there may
/// be none. Each file may be at most [`read::DEFAULT_MAX_INPUT_BYTES`].
pub fn load_extras(dir: &Path) -> Result<Vec<SourcedExtras>, DocsError> {
    load_extras_bounded(dir, read::DEFAULT_MAX_INPUT_BYTES)
}

/// [`load_extras`] with each file at most `max_bytes`.
pub fn load_extras_bounded(dir: &Path, max_bytes: u64) -> Result<Vec<SourcedExtras>, DocsError> {
    Ok(load_each(
        dir,
        EXTRAS_PREFIX,
        max_bytes,
        "an extras report",
        read::InputFile::extras,
    )?
    .into_iter()
    .map(|(file_name, report)| SourcedExtras { file_name, report })
    .collect())
}

/// The file in a report directory that names the day each report was measured, for the reports
/// that carry no date of their own (`environment.measured_on`, absent from older reports): `{"measured_on": {"report-linux-x86_64.json": "2026-11-25"}}`.
pub const MEASURED_ON: &str = "measured-on.json";

#[derive(serde::Deserialize)]
struct MeasuredOnFile {
    measured_on: BTreeMap<String, String>,
}

/// The days in `dir`'s [`MEASURED_ON`] (none when it is missing), a bounded input like the
/// reports; a date that is not `YYYY-MM-DD` is refused.
pub fn load_measured_on(dir: &Path, max_bytes: u64) -> Result<BTreeMap<String, String>, DocsError> {
    let path = dir.join(MEASURED_ON);
    if fs::symlink_metadata(&path).is_err() {
        return Ok(BTreeMap::new());
    }
    let what = "a list of measurement dates";
    let input = read::open_input(&path, max_bytes).map_err(|e| DocsError::Input(Box::new(e)))?;
    let file: MeasuredOnFile = input
        .json(what)
        .map_err(|source| DocsError::NotWhatItSays {
            path: path.clone(),
            what,
            source: Box::new(source),
        })?;
    for (name, day) in &file.measured_on {
        if !is_day(day) {
            return Err(DocsError::MeasuredOn {
                path: path.clone(),
                name: name.clone(),
                day: day.clone(),
            });
        }
    }
    Ok(file.measured_on)
}

/// Whether `day` has the shape `YYYY-MM-DD` (a report's own day of another shape is not shown:
/// [`MEASURED_ON`]'s, if any, is).
fn is_day(day: &str) -> bool {
    day.len() == 10
        && day.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// Regenerate the docs: read the reports and extras reports in `reports_dir` (each at most
/// [`read::DEFAULT_MAX_INPUT_BYTES`]), write the files into `out_dir` (created if missing), and
/// return the paths written.
pub fn regenerate(reports_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    regenerate_bounded(reports_dir, out_dir, read::DEFAULT_MAX_INPUT_BYTES)
}

/// [`regenerate`] with each input file at most `max_bytes`. The files are replaced all or none
/// ([`write_all_or_none`]).
pub fn regenerate_bounded(
    reports_dir: &Path,
    out_dir: &Path,
    max_bytes: u64,
) -> Result<Vec<PathBuf>, DocsError> {
    let mut reports = load_reports_bounded(reports_dir, max_bytes)?;
    let mut extras = load_extras_bounded(reports_dir, max_bytes)?;
    let stacks = stacks::load(reports_dir, max_bytes, &mut reports, &mut extras)?;
    let measured_on = load_measured_on(reports_dir, max_bytes)?;
    write_all_or_none(
        out_dir,
        &render_with_dates(&reports, &extras, &stacks, measured_on),
    )
}

/// Write `files` into `out_dir` (created if missing) all or none, and return their paths.
///
/// Every file is first written in full to a temporary file beside its target (a new name, so
/// nothing is written through a symlink planted in `out_dir`); only when all of them are
/// written does each replace its target by `rename`, which replaces a symlink itself rather
/// than what it points to. A failed write (a full disk) leaves every target as it was; a rename
/// that fails after others succeeded puts those back from the copies kept aside.
pub fn write_all_or_none(out_dir: &Path, files: &[DocFile]) -> Result<Vec<PathBuf>, DocsError> {
    use std::io::Write as _;
    fs::create_dir_all(out_dir).map_err(|source| DocsError::CreateOutput {
        dir: out_dir.to_path_buf(),
        source,
    })?;
    let temporary = |name: &str, role: &str| {
        let prefix = format!(".{name}.{role}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // The pages are read like any other file, not only by their owner.
        if let Some(permissions) = backlog_probe::sys::readable_file_permissions() {
            builder.permissions(permissions);
        }
        builder.tempfile_in(out_dir)
    };
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        let target = out_dir.join(file.path);
        // A directory where a page goes is never moved aside: refused before anything changes.
        if fs::symlink_metadata(&target).is_ok_and(|meta| meta.is_dir()) {
            return Err(DocsError::TargetIsDirectory { target });
        }
        let cannot = |source: std::io::Error| DocsError::Write {
            target: target.clone(),
            source,
        };
        let mut temp = temporary(file.path, "new").map_err(cannot)?;
        temp.write_all(file.contents.as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(cannot)?;
        staged.push((target, temp));
    }
    // The old targets are kept aside until every new file is in place: a hard link where the
    // target is a regular file (so it never goes missing), a rename where it is anything else.
    let mut replaced: Vec<(PathBuf, Option<tempfile::TempPath>)> = Vec::new();
    let undo = |replaced: Vec<(PathBuf, Option<tempfile::TempPath>)>| {
        for (target, old) in replaced.into_iter().rev() {
            match old {
                Some(old) => {
                    let _ = fs::rename(&old, &target);
                    let _ = old.keep();
                }
                None => {
                    let _ = fs::remove_file(&target);
                }
            }
        }
    };
    for (target, temp) in staged {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kept = match fs::symlink_metadata(&target) {
            Err(_) => Ok(None),
            Ok(meta) => temporary(&name, "old").and_then(|old| {
                let old = old.into_temp_path();
                if meta.is_file() {
                    // A copy where the file system has no hard links.
                    fs::remove_file(&old).and_then(|()| {
                        fs::hard_link(&target, &old)
                            .or_else(|_| fs::copy(&target, &old).map(|_| ()))
                    })
                } else {
                    fs::rename(&target, &old)
                }
                .map(|()| Some(old))
            }),
        };
        let kept = match kept {
            Ok(kept) => kept,
            Err(e) => {
                undo(replaced);
                return Err(DocsError::Replace { target, source: e });
            }
        };
        if let Err(e) = temp.persist(&target) {
            if let Some(old) = &kept {
                // A target moved aside goes back before the others are undone.
                if !fs::symlink_metadata(&target).is_ok_and(|m| m.is_file()) {
                    let _ = fs::rename(old, &target);
                }
            }
            undo(replaced);
            return Err(DocsError::Replace {
                target,
                source: e.error,
            });
        }
        replaced.push((target, kept));
    }
    // Every file is in place: the copies kept aside go (TempPath removes them on drop).
    Ok(replaced.into_iter().map(|(target, _)| target).collect())
}

#[cfg(test)]
mod tests;
