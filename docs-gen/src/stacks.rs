//! The stacks `cargo xtask stacks` measured (Debian kernels under QEMU, gVisor under `runsc`):
//! each one's files in the report directory, grouped by its `stack-<stack>-<arch>.json`
//! manifest. A stack's report is a measured *stack*, not a second report of an OS: the OS
//! sections keep the native host's reports, and the stacks get sections of their own.

use std::path::Path;

use super::{DocsError, SourcedExtras, SourcedReport, load_each, slug};
use backlog_probe::plan::Family;
use backlog_probe::predict::kernel::KernelVersion;
use backlog_probe::predict::{Limits, OsFamily};
use backlog_probe::report::CaseReport;
use backlog_probe::report::read::InputFile;
use stack_files::{
    MANIFEST_PREFIX, REPEAT_PREFIX, RETRANSMISSIONS_PREFIX, StackFile, WORLD_PREFIX,
};
pub use stack_files::{StackManifest, SynRetransmissions};

/// A knob world of a stack: its name in the file (`syncookies_0`) and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedWorld {
    /// `syncookies_0`, `somaxconn_16`, ...
    pub name: String,
    /// The report, with its file name.
    pub sourced: SourcedReport,
}

/// One measured stack and every file of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedStack {
    /// `stack-linux-5.10-x86_64.json`.
    pub file_name: String,
    /// Its contents.
    pub manifest: StackManifest,
    /// The default matrix.
    pub report: Option<SourcedReport>,
    /// The knob worlds, in the runner's order.
    pub worlds: Vec<SourcedWorld>,
    /// The extras.
    pub extras: Option<SourcedExtras>,
    /// gVisor's further runs of the default matrix, in order.
    pub repeats: Vec<SourcedReport>,
    /// The SYN retransmission timing, with its file name.
    pub retransmissions: Option<(String, SynRetransmissions)>,
}

/// The runner's worlds in the order it runs them (others follow, by name).
pub const WORLD_ORDER: [&str; 4] = [
    "syncookies_0",
    "somaxconn_16",
    "somaxconn_0",
    "abort_on_overflow_1",
];

impl SourcedStack {
    /// `linux-5.10-x86_64`: the manifest's file name without `stack-` and `.json`.
    pub fn file_key(&self) -> &str {
        stack_files::manifest_key(&self.file_name).unwrap_or(&self.file_name)
    }

    /// The anchor of the stack's section in `results.md` (`stack-linux-5-10-x86-64`).
    pub fn anchor(&self) -> String {
        format!("stack-{}", slug(self.file_key()))
    }

    /// The model family of this stack's TCP: gVisor's or Linux's.
    pub fn family(&self) -> OsFamily {
        if self.manifest.kind == "gvisor" || self.manifest.runsc_version.is_some() {
            return OsFamily::Gvisor;
        }
        self.report
            .as_ref()
            .and_then(|r| OsFamily::of(&r.report.environment))
            .unwrap_or(OsFamily::Linux)
    }

    /// True for a Linux kernel (not gVisor).
    pub fn is_kernel(&self) -> bool {
        self.family() == OsFamily::Linux
    }

    /// The upstream kernel version a kernel stack ran (`5.10.262`), from Debian's package
    /// version, else from the report's `uname -r` and `uname -v`.
    pub fn kernel_version(&self) -> Option<KernelVersion> {
        let from_package = self.manifest.package_version.as_deref().and_then(|v| {
            let upstream = v.split(['-', '~', '+']).next().unwrap_or(v);
            KernelVersion::parse(upstream, None).filter(|k| k.patch.is_some())
        });
        from_package.or_else(|| {
            self.report
                .as_ref()
                .and_then(|r| Limits::from_environment(&r.report.environment).kernel)
        })
    }

    /// A column or heading label: `5.10.262`, `gVisor 20221219.0`.
    pub fn label(&self) -> String {
        if self.family() == OsFamily::Gvisor {
            let release = self
                .manifest
                .stack
                .strip_prefix("gvisor-")
                .unwrap_or(&self.manifest.stack);
            return format!("gVisor {release}");
        }
        self.kernel_version()
            .map_or_else(|| self.manifest.stack.clone(), |v| v.to_string())
    }

    /// Every report of the stack with the world it ran in (`None` for the default matrix).
    pub fn reports(&self) -> impl Iterator<Item = (Option<&str>, &SourcedReport)> {
        self.report.iter().map(|r| (None, r)).chain(
            self.worlds
                .iter()
                .map(|w| (Some(w.name.as_str()), &w.sourced)),
        )
    }

    /// A world's report by name.
    pub fn world(&self, name: &str) -> Option<&SourcedReport> {
        self.worlds
            .iter()
            .find(|w| w.name == name)
            .map(|w| &w.sourced)
    }

    /// The anchor of gVisor's table of repeated runs (`gvisor-20221219-0-x86-64-runs`).
    pub fn runs_anchor(&self) -> String {
        format!("{}-runs", slug(self.file_key()))
    }

    /// The anchor of the retransmission row (`linux-5-10-x86-64-syn-retransmissions`).
    pub fn retransmissions_anchor(&self) -> String {
        format!("{}-syn-retransmissions", slug(self.file_key()))
    }
}

/// Take `file_name` out of `items` (matched by `name`), if there.
fn take<T>(items: &mut Vec<T>, name: impl Fn(&T) -> &str, file_name: &str) -> Option<T> {
    let index = items.iter().position(|item| name(item) == file_name)?;
    Some(items.remove(index))
}

/// Every `{prefix}*.json` in `dir` parsed as plain JSON `T`, each at most `max_bytes`.
fn load_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    prefix: &str,
    max_bytes: u64,
    what: &'static str,
) -> Result<Vec<(String, T)>, DocsError> {
    load_each(dir, prefix, max_bytes, what, |input: InputFile| {
        input.json(what)
    })
}

/// Group the runner's files in `dir` by their manifests, taking each stack's report and extras
/// out of `reports` and `extras` (what stays there is a native OS's). Stacks come sorted by
/// manifest file name; the pages order them further.
pub fn load(
    dir: &Path,
    max_bytes: u64,
    reports: &mut Vec<SourcedReport>,
    extras: &mut Vec<SourcedExtras>,
) -> Result<Vec<SourcedStack>, DocsError> {
    let manifests: Vec<(String, StackManifest)> =
        load_json(dir, MANIFEST_PREFIX, max_bytes, "a stack manifest")?;
    if manifests.is_empty() {
        return Ok(Vec::new());
    }
    let reports_of = |prefix, what| load_each(dir, prefix, max_bytes, what, InputFile::report);
    let mut worlds = reports_of(WORLD_PREFIX, "a world report")?;
    let mut repeats = reports_of(REPEAT_PREFIX, "a report")?;
    let mut retrans: Vec<(String, SynRetransmissions)> = load_json(
        dir,
        RETRANSMISSIONS_PREFIX,
        max_bytes,
        "a SYN retransmission timing",
    )?;
    let mut stacks = Vec::new();
    for (file_name, manifest) in manifests {
        let key = stack_files::manifest_key(&file_name)
            .unwrap_or(&file_name)
            .to_string();
        let report = take(reports, |r| &r.file_name, &StackFile::Report.name(&key));
        let extras = take(extras, |r| &r.file_name, &StackFile::Extras.name(&key));
        let mut stack_worlds: Vec<SourcedWorld> = Vec::new();
        worlds.retain(|(name, report)| {
            let Some(world) = stack_files::world_of(name, &key) else {
                return true;
            };
            stack_worlds.push(SourcedWorld {
                name: world.to_string(),
                sourced: SourcedReport {
                    file_name: name.clone(),
                    report: report.clone(),
                },
            });
            false
        });
        stack_worlds.sort_by_key(|w| {
            (
                WORLD_ORDER
                    .iter()
                    .position(|n| *n == w.name)
                    .unwrap_or(WORLD_ORDER.len()),
                w.name.clone(),
            )
        });
        let mut stack_repeats: Vec<(u32, SourcedReport)> = Vec::new();
        repeats.retain(|(name, report)| {
            let Some(run) = stack_files::repeat_of(name, &key) else {
                return true;
            };
            stack_repeats.push((
                run,
                SourcedReport {
                    file_name: name.clone(),
                    report: report.clone(),
                },
            ));
            false
        });
        stack_repeats.sort_by_key(|(run, _)| *run);
        let retransmissions = take(
            &mut retrans,
            |(n, _)| n,
            &StackFile::Retransmissions.name(&key),
        );
        stacks.push(SourcedStack {
            file_name,
            manifest,
            report,
            worlds: stack_worlds,
            extras,
            repeats: stack_repeats.into_iter().map(|(_, r)| r).collect(),
            retransmissions,
        });
    }
    Ok(stacks)
}

/// The kernel stacks, oldest version first (then by name), and the gVisor stacks by name.
pub fn kernels(stacks: &[SourcedStack]) -> Vec<&SourcedStack> {
    let mut kernels: Vec<&SourcedStack> = stacks.iter().filter(|s| s.is_kernel()).collect();
    kernels.sort_by_key(|s| {
        let version = s.kernel_version();
        (
            version.map(|v| (v.major, v.minor, v.patch.unwrap_or(0))),
            s.file_name.clone(),
        )
    });
    kernels
}

/// The gVisor stacks, by file name.
pub fn gvisors(stacks: &[SourcedStack]) -> Vec<&SourcedStack> {
    stacks
        .iter()
        .filter(|s| s.family() == OsFamily::Gvisor)
        .collect()
}

/// `default`, `syncookies_0`, ...: how a world is named in anchors and placeholders.
pub(super) const DEFAULT_WORLD: &str = "default";

/// The anchor of a row of the kernels table (`linux-kernels-syncookies-0-backlog-zero`).
pub(super) fn kernels_row_anchor(world: &str, suffix: &str) -> String {
    format!("linux-kernels-{}-{}", slug(world), slug(suffix))
}

/// A case name without its family: `ipv4_backlog_zero` → `backlog_zero`.
pub(super) fn suffix(case: &CaseReport) -> &str {
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
