//! `answers.md`: the questions people ask about `listen()`, answered with numbers. The words are
//! the template `templates/answers.md`; this module computes its page model, [`AnswersPage`]:
//! every number comes from a report (linked to its results row) or from the model (linked to
//! its rule), so regenerating from the same reports gives the same page. The runtimes table's
//! data is [`backlog_probe::predict::runtimes`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::agreement::Agreement;
use super::cells::{fill_error, first_client_error, listen_text, queue_text};
use super::stacks::{
    self, DEFAULT_WORLD, SourcedStack, WORLD_ORDER, case_of, kernels_row_anchor, world_report,
};
use super::{Corpus, Figure, Link, SourcedReport, default_backlogs};
use backlog_probe::classify::extras::{
    FillOutcome, FillVerdict, QueuePattern, RelistenOutcome, UdpOutcome as Udp, contradicts,
    queue_pattern, relisten_outcome, relisten_verdict,
};
use backlog_probe::classify::tcp::LateKind;
use backlog_probe::export::text::seconds;
use backlog_probe::plan::{Backlog, Family};
use backlog_probe::predict::runtimes::{Passes, RUNTIMES, Runtime, model_of, passed};
use backlog_probe::predict::{OsFamily, relisten};
use backlog_probe::report::extras::{FillResult, LocalType};

const LINUX: OsFamily = OsFamily::Linux;
const GVISOR: OsFamily = OsFamily::Gvisor;

/// Backlogs other than the defaults whose figure the page quotes (`figures.windows["-100000"]`).
const OTHER_BACKLOGS: [i32; 1] = [-100_000];

/// Everything `templates/answers.md` shows.
#[derive(Debug, Serialize)]
pub struct AnswersPage {
    /// Per OS (`linux`, `macos`, `freebsd`, `windows`, `gvisor`), per default backlog label
    /// (`0`, `1`, `5`, `somaxconn`, `-1`, `i32::min`, `i32::max`) and per
    /// [`OTHER_BACKLOGS`] value (`-100000`): the queue length, measured or the model's.
    pub figures: BTreeMap<&'static str, BTreeMap<String, Figure>>,
    /// How the native reports of each of the four OSes agree with the model.
    pub agreement: Vec<OsAgreement>,
    /// How each measured stack (kernels, then gVisor) agrees with the model.
    pub stacks_agreement: Vec<StackAgreement>,
    /// [`Self::agreement`] and [`Self::stacks_agreement`] in totals, for answers.md's one
    /// sentence (its size does not grow with the reports; the lines are answers-depth.md's).
    pub agreement_total: AgreementTotal,
    /// The overview table: the default backlogs on every OS (and gVisor where measured).
    pub overview: Overview,
    /// Linux's `TCP_INFO` view of its `listen(5)` case, where measured.
    pub linux_kernel_view: Option<KernelView>,
    /// Per OS: what a client of a full `listen(5)` queue saw, or the model's prediction.
    pub overflow: BTreeMap<&'static str, Overflow>,
    /// Per world (`default`, `syncookies_0`, ...) and case suffix (`backlog_zero`, ...): that
    /// case on every kernel stack.
    pub kernel_cases: BTreeMap<String, BTreeMap<String, KernelCase>>,
    /// The kernel stacks' labels, oldest first (`5.10.223`, ...).
    pub kernels: Vec<String>,
    /// Each kernel's measured SYN retransmissions.
    pub retransmissions: Retransmissions,
    /// The first gVisor stack, if one was measured.
    pub gvisor_stack: Option<GvisorStack>,
    /// What the measured gVisor reported as `net.core.somaxconn`.
    pub gvisor_somaxconn: Option<MeasuredValue>,
    /// The gVisor stacks with repeated runs.
    pub gvisor_runs: Vec<GvisorRuns>,
    /// `listen()` on UDP, per OS (and gVisor where measured).
    pub udp: Vec<UdpAnswer>,
    /// Unix-domain queues, per OS with an extras report that measured them.
    pub unix: Vec<UnixAnswer>,
    /// `listen()` twice, per OS (and gVisor where measured).
    pub relisten: Vec<RelistenAnswer>,
    /// The runtimes table, one row per runtime or server.
    pub runtimes: Vec<RuntimeRow>,
    /// The cases that differ between kernels, one row each, one column per kernel.
    pub kernel_table: KernelTable,
}

/// A compact table of the cases that differ between kernels: one column per kernel stack.
#[derive(Debug, Serialize)]
pub struct KernelTable {
    /// Each kernel (its label) with its section's anchor.
    pub kernels: Vec<Link>,
    /// One row per case.
    pub rows: Vec<KernelTableRow>,
}

/// One row of [`KernelTable`].
#[derive(Debug, Serialize)]
pub struct KernelTableRow {
    /// The world (`default`, `syncookies_0`, ...), for the template's row label.
    pub world: &'static str,
    /// The case suffix (`backlog_zero`, ...), or `syn_retransmissions`.
    pub case: &'static str,
    /// Per kernel, in the columns' order: the measured value and its row, or none.
    pub cells: Vec<Option<Link>>,
}

/// One OS's agreement line(s).
#[derive(Debug, Serialize)]
pub struct OsAgreement {
    /// `Linux`, `macOS`, ...
    pub name: &'static str,
    /// One per native report (none: "no report yet").
    pub reports: Vec<ReportAgreement>,
}

/// How one report's cases compare with the model.
#[derive(Debug, Serialize)]
pub struct ReportAgreement {
    /// The report's environment in one line.
    pub summary: String,
    /// Cases the model could be compared with.
    pub compared: usize,
    /// Those that contradict it.
    pub contradicting: Vec<Link>,
}

/// How all native reports and stacks compare with the model, in totals.
#[derive(Debug, Serialize)]
pub struct AgreementTotal {
    /// Native reports counted.
    pub reports: usize,
    /// Stacks counted (Linux kernels, gVisor).
    pub stacks: usize,
    /// Cases the model could be compared with, over all of them.
    pub compared: usize,
    /// Those that contradict it.
    pub contradicting: usize,
    /// Reports and stacks with at least one contradiction.
    pub contradicting_sources: usize,
    /// The OSes without a native report (`macOS`, ...).
    pub unmeasured: Vec<&'static str>,
}

impl AgreementTotal {
    fn of(agreement: &[OsAgreement], stacks: &[StackAgreement]) -> Self {
        let reports = agreement.iter().flat_map(|os| &os.reports);
        let lines = reports
            .clone()
            .map(|r| (r.compared, r.contradicting.len()))
            .chain(stacks.iter().map(|s| (s.compared, s.contradicting.len())));
        AgreementTotal {
            reports: reports.count(),
            stacks: stacks.len(),
            compared: lines.clone().map(|(compared, _)| compared).sum(),
            contradicting: lines.clone().map(|(_, contradicting)| contradicting).sum(),
            contradicting_sources: lines
                .filter(|&(_, contradicting)| contradicting > 0)
                .count(),
            unmeasured: agreement
                .iter()
                .filter(|os| os.reports.is_empty())
                .map(|os| os.name)
                .collect(),
        }
    }
}

/// How one stack's reports compare with the model.
#[derive(Debug, Serialize)]
pub struct StackAgreement {
    /// `5.10.223`, `gVisor 20221219.0`.
    pub label: String,
    /// True for gVisor, false for a Linux kernel.
    pub gvisor: bool,
    /// The stack's section in `results.md`.
    pub anchor: String,
    /// Cases the model could be compared with, over all its reports.
    pub compared: usize,
    /// Its report files counted.
    pub files: usize,
    /// The cases that contradict the model.
    pub contradicting: Vec<Link>,
}

/// The overview table.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// The column headings (`Linux`, ..., `gVisor`).
    pub columns: Vec<&'static str>,
    /// One row per default backlog.
    pub rows: Vec<OverviewRow>,
}

/// One row of the overview table.
#[derive(Debug, Serialize)]
pub struct OverviewRow {
    /// `0`, ..., `SOMAXCONN`, ..., `i32::max`.
    pub label: &'static str,
    /// One figure per column.
    pub cells: Vec<Figure>,
}

/// A measured `TCP_INFO` view of a listener.
#[derive(Debug, Serialize)]
pub struct KernelView {
    /// Connections the client completed.
    pub queue_length: u32,
    /// Children ready for `accept()`, by the kernel.
    pub queued: u32,
    /// The stored limit.
    pub limit: u32,
    /// The row.
    pub link: String,
}

/// What the first connection that did not fit into `listen(5)` saw.
#[derive(Debug, Serialize)]
pub struct Overflow {
    /// The measurement, where there is one.
    pub measured: Option<MeasuredOverflow>,
    /// The row (measured) or the rule (model).
    pub link: String,
    /// The model's overflow kind (`dropped`, ...).
    pub predicted: &'static str,
    /// What the model says a client notices.
    pub client_notices: &'static str,
}

/// A measured overflow.
#[derive(Debug, Serialize)]
pub struct MeasuredOverflow {
    /// `dropped`, `refused`, ...
    pub kind: &'static str,
    /// When and how the client first saw an error.
    pub first_client_error: String,
    /// The waiting client afterwards: `completed`, `pending`, `failed`, or none.
    pub late: Option<&'static str>,
    /// For `completed`: how long after its `connect()`.
    pub late_after: Option<String>,
}

/// One world's case on every kernel stack.
#[derive(Debug, Serialize)]
pub struct KernelCase {
    /// The kernels grouped by the value they measured, in order of first appearance.
    pub groups: Vec<KernelGroup>,
    /// The case's row in the kernels table.
    pub table_anchor: String,
}

/// Kernels that measured the same value.
#[derive(Debug, Serialize)]
pub struct KernelGroup {
    /// The queue length, or `-`.
    pub value: String,
    /// Each kernel (its label) with a link to its row.
    pub kernels: Vec<Link>,
}

/// Kernels' SYN retransmission timings, by schedule.
#[derive(Debug, Serialize)]
pub struct Retransmissions {
    /// Kernels with `tcp_syn_linear_timeouts` set.
    pub linear: Vec<Retransmission>,
    /// Kernels without it.
    pub exponential: Vec<Retransmission>,
}

/// One kernel's timing.
#[derive(Debug, Serialize)]
pub struct Retransmission {
    /// The kernel.
    pub label: String,
    /// Each retransmission, in seconds with one decimal.
    pub times: Vec<String>,
    /// Its row.
    pub anchor: String,
}

/// A measured gVisor stack.
#[derive(Debug, Serialize)]
pub struct GvisorStack {
    /// `gVisor 20221219.0`.
    pub label: String,
    /// Its section.
    pub anchor: String,
    /// `runsc --version`, where recorded.
    pub runsc_version: Option<String>,
}

/// A measured value and its section.
#[derive(Debug, Serialize)]
pub struct MeasuredValue {
    /// The value.
    pub value: i64,
    /// The section's anchor.
    pub anchor: String,
}

/// A gVisor stack's repeated runs.
#[derive(Debug, Serialize)]
pub struct GvisorRuns {
    /// How many runs, the first included.
    pub runs: usize,
    /// The stack.
    pub label: String,
    /// The runs table.
    pub anchor: String,
}

/// One OS's UDP answer.
#[derive(Debug, Serialize)]
pub struct UdpAnswer {
    /// `linux`, ...: the key of its source in the template.
    pub os: &'static str,
    /// `Linux`, ...
    pub name: &'static str,
    /// The measured outcomes (none: not measured).
    pub outcomes: Vec<UdpOutcome>,
}

/// One outcome of `listen()` on UDP and the rows that saw it.
#[derive(Debug, Serialize)]
pub struct UdpOutcome {
    /// `succeeded`, `failed` (at `listen()`) or `not_set_up` (an earlier step failed).
    pub result: &'static str,
    /// The raw error of a failed `listen()`, by name.
    pub error: Option<String>,
    /// The whole listen step as a cell says it (for `not_set_up`).
    pub listen: String,
    /// The rows, by family.
    pub rows: Vec<Link>,
}

/// One OS's Unix-domain answer.
#[derive(Debug, Serialize)]
pub struct UnixAnswer {
    /// `Linux`, ...
    pub name: &'static str,
    /// Per socket type measured.
    pub types: Vec<UnixType>,
    /// `plus_one` (backlog + 1 each time), `exact` (the backlog each time) or none.
    pub pattern: Option<&'static str>,
    /// How the next client saw a full queue, each way once.
    pub overflows: Vec<UnixOverflow>,
}

/// One socket type's measured backlogs.
#[derive(Debug, Serialize)]
pub struct UnixType {
    /// `stream`, `seqpacket`.
    pub socket_type: &'static str,
    /// Its cases, in report order.
    pub cases: Vec<UnixCase>,
}

/// One Unix-domain case.
#[derive(Debug, Serialize)]
pub struct UnixCase {
    /// The backlog.
    pub backlog: i32,
    /// The queue (`6`, `≥ 6`) where `listen()` succeeded and the queue was filled.
    pub queue: Option<String>,
    /// The listen step as a cell says it (shown when there is no queue).
    pub listen: String,
    /// The row.
    pub link: String,
}

/// How a full Unix-domain queue showed itself to the next client.
#[derive(Debug, PartialEq, Serialize)]
pub struct UnixOverflow {
    /// `failed_at_once`, `failed`, `pending` or `cut` (the fill ended first).
    pub stop: &'static str,
    /// The raw error, or `no error`.
    pub error: String,
}

/// One OS's re-listen answer.
#[derive(Debug, Serialize)]
pub struct RelistenAnswer {
    /// `linux`, ...: the key of its source in the template.
    pub os: &'static str,
    /// `Linux`, ...
    pub name: &'static str,
    /// The measured cases (none: not measured).
    pub rows: Vec<RelistenRow>,
    /// `applied` (every case shows the second backlog), `stayed` (the first), or none.
    pub verdict: Option<&'static str>,
    /// What the OS's source or documentation says ([`backlog_probe::predict::relisten`]).
    pub source: &'static str,
}

/// One measured re-listen case.
#[derive(Debug, Serialize)]
pub struct RelistenRow {
    /// The first backlog.
    pub first_backlog: i32,
    /// The second.
    pub second_backlog: i32,
    /// The row.
    pub link: String,
    /// The first `listen()`'s failure, as a cell says it.
    pub first_failed: Option<String>,
    /// The second `listen()`'s failure.
    pub second_failed: Option<String>,
    /// The kernel's stored limit after the second call (not under gVisor).
    pub kernel_limit: Option<u32>,
    /// The filled queue, or `-`.
    pub queue: String,
}

/// One row of the runtimes table.
#[derive(Debug, Serialize)]
pub struct RuntimeRow {
    /// The runtime or server.
    pub name: &'static str,
    /// One cell per OS (Linux, macOS, FreeBSD, Windows).
    pub cells: Vec<RuntimeCell>,
    /// Where its default is cited from.
    pub source: &'static str,
}

/// One OS's cell of a runtime row.
#[derive(Debug, Serialize)]
pub struct RuntimeCell {
    /// What the runtime passes, as the source says it.
    pub passed: String,
    /// The extras report's measurement of the runtime itself, beside the model's values.
    pub measured: Option<RuntimeMeasured>,
    /// The queue for the value it passes.
    pub figure: Figure,
}

/// A runtime's listener as an extras report measured it, and what the model says it gets
/// ([`backlog_probe::predict::runtimes::model_of`]).
#[derive(Debug, Serialize)]
pub struct RuntimeMeasured {
    /// The extras row.
    pub link: String,
    /// The stored limit the kernel showed, where it showed one.
    pub limit: Option<u32>,
    /// The effective queue the fill found, where it filled the queue.
    pub queue: Option<u32>,
    /// The model's stored limit, where it states the OS's clamp.
    pub model_limit: Option<u32>,
    /// The model's queue.
    pub model_queue: Option<u32>,
    /// Both limits known and different.
    pub limit_differs: bool,
    /// Both queues known and different.
    pub queue_differs: bool,
}

/// The four OSes, and gVisor where a gVisor stack was measured.
fn with_gvisor(corpus: &Corpus<'_>) -> Vec<OsFamily> {
    let mut list = OsFamily::ALL.to_vec();
    if !corpus.gvisors().is_empty() {
        list.push(GVISOR);
    }
    list
}

fn figures(corpus: &Corpus<'_>) -> BTreeMap<&'static str, BTreeMap<String, Figure>> {
    OsFamily::ALL
        .into_iter()
        .chain([GVISOR])
        .map(|os| {
            let mut by_label: BTreeMap<String, Figure> = default_backlogs(&corpus.limits(os))
                .into_iter()
                .map(|b| (b.label.clone(), corpus.figure(os, b.value)))
                .collect();
            for value in OTHER_BACKLOGS {
                by_label.insert(value.to_string(), corpus.figure(os, value));
            }
            (os.as_str(), by_label)
        })
        .collect()
}

fn agreement(corpus: &Corpus<'_>) -> Vec<OsAgreement> {
    OsFamily::ALL
        .into_iter()
        .map(|os| OsAgreement {
            name: os.display_name(),
            reports: corpus
                .measured(os)
                .into_iter()
                .map(|sourced| {
                    let Agreement {
                        compared,
                        contradicting,
                    } = Agreement::of_report(sourced);
                    ReportAgreement {
                        summary: sourced.report.environment.summary(),
                        compared,
                        contradicting,
                    }
                })
                .collect(),
        })
        .collect()
}

fn stacks_agreement(corpus: &Corpus<'_>) -> Vec<StackAgreement> {
    let mut lines = Vec::new();
    for stack in corpus.kernels().into_iter().chain(corpus.gvisors()) {
        let mut agreement = Agreement::default();
        let mut files = 0;
        for (_, sourced) in stack.reports() {
            files += 1;
            agreement.add_report(sourced);
        }
        for (run, sourced) in stack.repeats.iter().enumerate() {
            files += 1;
            for case in &sourced.report.cases {
                agreement.count(sourced, case, || Link {
                    text: format!("{} {}, run {}", case.family, case.label, run + 2),
                    anchor: format!(
                        "{}-runs-{}",
                        super::slug(stack.file_key()),
                        super::slug(&case.name)
                    ),
                });
            }
        }
        lines.push(StackAgreement {
            label: stack.label(),
            gvisor: stack.family() == GVISOR,
            anchor: stack.anchor(),
            compared: agreement.compared,
            files,
            contradicting: agreement.contradicting,
        });
    }
    lines
}

fn overview(corpus: &Corpus<'_>) -> Overview {
    let columns = with_gvisor(corpus);
    let rows = ["0", "1", "5", "somaxconn", "-1", "i32::min", "i32::max"]
        .into_iter()
        .map(|label| OverviewRow {
            label: if label == "somaxconn" {
                "SOMAXCONN"
            } else {
                label
            },
            cells: columns
                .iter()
                .map(|&os| corpus.default_figure(os, label))
                .collect(),
        })
        .collect();
    Overview {
        columns: columns.iter().map(|os| os.display_name()).collect(),
        rows,
    }
}

/// One cell of the runtimes table: the extras measurement where there is one, else the
/// queue for the value the source says the runtime passes.
fn runtime_cell(
    corpus: &Corpus<'_>,
    os: OsFamily,
    runtime: &Runtime,
    passes: Passes,
) -> RuntimeCell {
    let (value, passed) = passed(passes, &corpus.limits(os));
    let measured = runtime
        .measured_api
        .and_then(|api| corpus.runtime_default(os, api));
    let limits = corpus.limits(os);
    let measured = measured.map(|(sourced, default)| {
        let model = model_of(&default.api, os, &limits);
        let queue = default.verdict.and_then(|v| v.queue.measured());
        let model_limit = model.as_ref().and_then(|m| m.stored_limit);
        let model_queue = model.as_ref().and_then(|m| m.queue);
        RuntimeMeasured {
            link: format!("results.md#{}", sourced.runtime_anchor(default)),
            limit: default.kernel_limit,
            queue,
            model_limit,
            model_queue,
            limit_differs: contradicts(default.kernel_limit, model_limit),
            queue_differs: contradicts(queue, model_queue),
        }
    });
    RuntimeCell {
        passed,
        measured,
        figure: corpus.figure(os, value),
    }
}

fn runtimes(corpus: &Corpus<'_>) -> Vec<RuntimeRow> {
    RUNTIMES
        .iter()
        .map(|runtime| RuntimeRow {
            name: runtime.name,
            cells: OsFamily::ALL
                .iter()
                .zip(runtime.passes)
                .map(|(&os, passes)| runtime_cell(corpus, os, runtime, passes))
                .collect(),
            source: runtime.source,
        })
        .collect()
}

/// The UDP answer of one OS: the measured outcomes with links.
fn udp(corpus: &Corpus<'_>, os: OsFamily) -> UdpAnswer {
    // Outcomes in order of first appearance, each with the rows that saw it.
    let mut outcomes: Vec<UdpOutcome> = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for udp in &sourced.report.udp {
            let (result, error) = match udp.outcome {
                Udp::Succeeded => ("succeeded", None),
                Udp::Failed => (
                    "failed",
                    udp.listen.os_error.as_ref().map(ToString::to_string),
                ),
                Udp::NotSetUp => ("not_set_up", None),
            };
            let listen = listen_text(&udp.listen);
            let row = Link {
                text: udp.family.to_string(),
                anchor: sourced.udp_anchor(udp),
            };
            let same = |o: &&mut UdpOutcome| {
                o.result == result
                    && o.error == error
                    && (result != "not_set_up" || o.listen == listen)
            };
            match outcomes.iter_mut().find(same) {
                Some(outcome) => outcome.rows.push(row),
                None => outcomes.push(UdpOutcome {
                    result,
                    error,
                    listen,
                    rows: vec![row],
                }),
            }
        }
    }
    UdpAnswer {
        os: os.as_str(),
        name: os.display_name(),
        outcomes,
    }
}

/// How a full Unix-domain queue showed itself to the next client, from the fill's verdict.
fn unix_overflow(fill: &FillResult, verdict: &FillVerdict) -> UnixOverflow {
    let stop = match verdict.outcome {
        FillOutcome::FailedAtOnce => "failed_at_once",
        FillOutcome::FailedInHandshake => "failed",
        FillOutcome::Pending => "pending",
        FillOutcome::Cut(_) => "cut",
    };
    UnixOverflow {
        stop,
        error: fill_error(fill),
    }
}

/// The Unix-domain answer of one OS with an extras report, or `None` without one.
fn unix(corpus: &Corpus<'_>, os: OsFamily) -> Option<UnixAnswer> {
    let reports = corpus.measured_extras(os);
    if reports.iter().all(|r| r.report.unix_domain.is_empty()) {
        return None;
    }
    let mut types = Vec::new();
    let mut overflows: Vec<UnixOverflow> = Vec::new();
    let mut full = Vec::new();
    for sourced in &reports {
        for ty in LocalType::ALL {
            let mut cases = Vec::new();
            for case in sourced
                .report
                .unix_domain
                .iter()
                .filter(|c| c.socket_type == ty)
            {
                let link = format!("results.md#{}", sourced.unix_anchor(case));
                let mut queue = None;
                let filled = case.fill.as_ref().zip(case.verdict.as_ref());
                if let Some((fill, verdict)) = filled.filter(|_| case.listen.ok) {
                    queue = Some(queue_text(verdict));
                    if let Some(measured) = verdict.queue.measured() {
                        full.push((case.backlog, measured));
                    }
                    let overflow = unix_overflow(fill, verdict);
                    if !overflows.contains(&overflow) {
                        overflows.push(overflow);
                    }
                }
                cases.push(UnixCase {
                    backlog: case.backlog,
                    queue,
                    listen: listen_text(&case.listen),
                    link,
                });
            }
            if !cases.is_empty() {
                types.push(UnixType {
                    socket_type: ty.as_str(),
                    cases,
                });
            }
        }
    }
    let pattern = queue_pattern(&full).map(|pattern| match pattern {
        QueuePattern::PlusOne => "plus_one",
        QueuePattern::Exact => "exact",
    });
    Some(UnixAnswer {
        name: os.display_name(),
        types,
        pattern,
        overflows,
    })
}

/// The re-listen answer of one OS: the measured rows with links.
fn relisten(corpus: &Corpus<'_>, os: OsFamily) -> RelistenAnswer {
    let mut rows = Vec::new();
    let mut kept = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for case in &sourced.report.relisten {
            let second = case.second_listen.as_ref();
            rows.push(RelistenRow {
                first_backlog: case.first_backlog,
                second_backlog: case.second_backlog,
                link: format!("results.md#{}", sourced.relisten_anchor(case)),
                first_failed: (!case.first_listen.ok).then(|| listen_text(&case.first_listen)),
                second_failed: second.filter(|l| !l.ok).map(listen_text),
                kernel_limit: case.kernel_queue.filter(|_| os != GVISOR).map(|q| q.limit),
                queue: case
                    .verdict
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text),
            });
            // gVisor's TCP_INFO reads 0/0: no view of the queue.
            kept.push(relisten_outcome(
                &case.observed(),
                os != GVISOR,
                corpus.figure(os, case.first_backlog).value,
                corpus.figure(os, case.second_backlog).value,
            ));
        }
    }
    let verdict = match relisten_verdict(&kept) {
        Some(RelistenOutcome::SecondApplied) => Some("applied"),
        Some(RelistenOutcome::FirstKept) => Some("stayed"),
        _ => None,
    };
    RelistenAnswer {
        os: os.as_str(),
        name: os.display_name(),
        rows,
        verdict,
        source: relisten::rule(os).source,
    }
}

/// What the first overflow of `listen(5)` looked like on an OS.
fn overflow(corpus: &Corpus<'_>, os: OsFamily) -> Overflow {
    let figure = corpus.default_figure(os, "5");
    let measured = figure.case.as_ref().map(|case| {
        let cap = corpus
            .measured(os)
            .first()
            .map_or(0, |r| r.report.settings.cap);
        let (late, late_after) = match (case.late_completion.kind, case.late_completion.elapsed_ms)
        {
            (LateKind::Completed, Some(ms)) => (Some("completed"), Some(seconds(ms))),
            (LateKind::Pending, _) => (Some("pending"), None),
            (LateKind::Failed, _) => (Some("failed"), None),
            _ => (None, None),
        };
        MeasuredOverflow {
            kind: case.overflow.kind.as_str(),
            first_client_error: first_client_error(case, cap),
            late,
            late_after,
        }
    });
    Overflow {
        measured,
        link: figure.link.clone(),
        predicted: figure.prediction.overflow.as_str(),
        client_notices: figure.prediction.client_notices,
    }
}

/// The Linux kernel's own view of the `listen(5)` case, if measured.
fn linux_kernel_view(corpus: &Corpus<'_>) -> Option<KernelView> {
    let figure = corpus.default_figure(LINUX, "5");
    let case = figure.case.as_ref()?;
    let queue = case.kernel_queue?;
    Some(KernelView {
        queue_length: case.queue_length.unwrap_or(0),
        queued: queue.queued,
        limit: queue.limit,
        link: figure.link.clone(),
    })
}

/// One world's case on every kernel, grouped by value, oldest first.
fn kernel_case(corpus: &Corpus<'_>, world: &str, suffix: &str) -> KernelCase {
    let mut groups: Vec<KernelGroup> = Vec::new();
    for kernel in corpus.kernels() {
        let Some(sourced) = world_report(kernel, world) else {
            continue;
        };
        let Some(case) = case_of(sourced, Family::Ipv4, suffix)
            .or_else(|| case_of(sourced, Family::Ipv6, suffix))
        else {
            continue;
        };
        let value = case
            .queue_length
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        let item = Link {
            text: kernel.label(),
            anchor: sourced.anchor(case),
        };
        match groups.iter_mut().find(|g| g.value == value) {
            Some(group) => group.kernels.push(item),
            None => groups.push(KernelGroup {
                value,
                kernels: vec![item],
            }),
        }
    }
    KernelCase {
        groups,
        table_anchor: kernels_row_anchor(world, suffix),
    }
}

/// Every world (the default matrix, the runner's worlds, any other measured) and every case
/// suffix (the default backlogs', any other measured), on every kernel.
fn kernel_cases(corpus: &Corpus<'_>) -> BTreeMap<String, BTreeMap<String, KernelCase>> {
    let kernels = corpus.kernels();
    let mut worlds: Vec<String> = [DEFAULT_WORLD]
        .into_iter()
        .chain(WORLD_ORDER)
        .map(str::to_string)
        .collect();
    let mut suffixes: Vec<String> = Backlog::DEFAULTS
        .iter()
        .map(|b| format!("backlog_{}", b.slug()))
        .collect();
    for kernel in &kernels {
        for (world, sourced) in kernel.reports() {
            let world = world.unwrap_or(DEFAULT_WORLD).to_string();
            if !worlds.contains(&world) {
                worlds.push(world);
            }
            for case in &sourced.report.cases {
                let suffix = stacks::suffix(case).to_string();
                if !suffixes.contains(&suffix) {
                    suffixes.push(suffix);
                }
            }
        }
    }
    worlds
        .iter()
        .map(|world| {
            let cases = suffixes
                .iter()
                .map(|suffix| (suffix.clone(), kernel_case(corpus, world, suffix)))
                .collect();
            (world.clone(), cases)
        })
        .collect()
}

/// Each kernel's measured SYN retransmissions, grouped by schedule.
fn retransmissions(corpus: &Corpus<'_>) -> Retransmissions {
    let mut linear = Vec::new();
    let mut exponential = Vec::new();
    for kernel in corpus.kernels() {
        let Some((_, timing)) = &kernel.retransmissions else {
            continue;
        };
        let item = Retransmission {
            label: kernel.label(),
            times: timing.times_s.iter().map(|t| format!("{t:.1}")).collect(),
            anchor: kernel.retransmissions_anchor(),
        };
        let has_linear = kernel
            .report
            .as_ref()
            .and_then(|r| {
                r.report
                    .environment
                    .settings
                    .get("net.ipv4.tcp_syn_linear_timeouts")
            })
            .is_some_and(|v| v.trim() != "0");
        if has_linear {
            linear.push(item);
        } else {
            exponential.push(item);
        }
    }
    Retransmissions {
        linear,
        exponential,
    }
}

/// The rows of [`KernelTable`]: the cases the kernels differ in, and the one they share a
/// knob for (`tcp_abort_on_overflow=1`).
const KERNEL_TABLE_ROWS: [(&str, &str); 5] = [
    ("syncookies_0", "backlog_zero"),
    ("default", "backlog_minus_one"),
    ("somaxconn_16", "backlog_minus_one"),
    ("somaxconn_0", "backlog_minus_one"),
    ("abort_on_overflow_1", "backlog_five"),
];

fn kernel_table(corpus: &Corpus<'_>) -> KernelTable {
    let kernels = corpus.kernels();
    let mut rows: Vec<KernelTableRow> = KERNEL_TABLE_ROWS
        .iter()
        .map(|&(world, case)| KernelTableRow {
            world,
            case,
            cells: kernels
                .iter()
                .map(|kernel| {
                    let sourced = world_report(kernel, world)?;
                    let found = case_of(sourced, Family::Ipv4, case)
                        .or_else(|| case_of(sourced, Family::Ipv6, case))?;
                    Some(Link {
                        text: found
                            .queue_length
                            .map_or_else(|| "-".to_string(), |n| n.to_string()),
                        anchor: sourced.anchor(found),
                    })
                })
                .collect(),
        })
        .collect();
    rows.push(KernelTableRow {
        world: "default",
        case: "syn_retransmissions",
        cells: kernels
            .iter()
            .map(|kernel| {
                let (_, timing) = kernel.retransmissions.as_ref()?;
                let times: Vec<String> = timing.times_s.iter().map(|t| format!("{t:.1}")).collect();
                Some(Link {
                    text: times.join(", "),
                    anchor: kernel.retransmissions_anchor(),
                })
            })
            .collect(),
    });
    KernelTable {
        kernels: kernels
            .iter()
            .map(|k| Link {
                text: k.label(),
                anchor: k.anchor(),
            })
            .collect(),
        rows,
    }
}

fn gvisor_stack(corpus: &Corpus<'_>) -> Option<GvisorStack> {
    corpus.gvisors().first().map(|stack| GvisorStack {
        label: stack.label(),
        anchor: stack.anchor(),
        runsc_version: stack.manifest.runsc_version.clone(),
    })
}

fn gvisor_somaxconn(corpus: &Corpus<'_>) -> Option<MeasuredValue> {
    let first: Option<(&SourcedStack, &SourcedReport)> = corpus
        .gvisors()
        .into_iter()
        .find_map(|s| s.report.as_ref().map(|r| (s, r)));
    let (stack, report) = first?;
    Some(MeasuredValue {
        value: report.report.environment.somaxconn.setting?,
        anchor: stack.anchor(),
    })
}

fn gvisor_runs(corpus: &Corpus<'_>) -> Vec<GvisorRuns> {
    corpus
        .gvisors()
        .into_iter()
        .filter(|s| !s.repeats.is_empty())
        .map(|s| GvisorRuns {
            runs: s.repeats.len() + 1,
            label: s.label(),
            anchor: s.runs_anchor(),
        })
        .collect()
}

/// The page model of `answers.md`.
pub fn page(corpus: &Corpus<'_>) -> AnswersPage {
    let os_agreement = agreement(corpus);
    let stacks_agreement = stacks_agreement(corpus);
    AnswersPage {
        figures: figures(corpus),
        agreement_total: AgreementTotal::of(&os_agreement, &stacks_agreement),
        agreement: os_agreement,
        stacks_agreement,
        overview: overview(corpus),
        linux_kernel_view: linux_kernel_view(corpus),
        overflow: OsFamily::ALL
            .into_iter()
            .chain([GVISOR])
            .map(|os| (os.as_str(), overflow(corpus, os)))
            .collect(),
        kernel_cases: kernel_cases(corpus),
        kernels: corpus.kernels().iter().map(|k| k.label()).collect(),
        retransmissions: retransmissions(corpus),
        gvisor_stack: gvisor_stack(corpus),
        gvisor_somaxconn: gvisor_somaxconn(corpus),
        gvisor_runs: gvisor_runs(corpus),
        udp: with_gvisor(corpus)
            .into_iter()
            .map(|os| udp(corpus, os))
            .collect(),
        unix: with_gvisor(corpus)
            .into_iter()
            .filter_map(|os| unix(corpus, os))
            .collect(),
        relisten: with_gvisor(corpus)
            .into_iter()
            .map(|os| relisten(corpus, os))
            .collect(),
        runtimes: runtimes(corpus),
        kernel_table: kernel_table(corpus),
    }
}

/// The width the answer pages' prose lines wrap at.
const WIDTH: usize = 100;

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    super::wrap::prose(&super::template::render("answers.md", &page(corpus)), WIDTH)
}

/// `answers-depth.md`: the long answers, over the same page model.
pub(super) fn render_depth(corpus: &Corpus<'_>) -> String {
    super::wrap::prose(
        &super::template::render("answers-depth.md", &page(corpus)),
        WIDTH,
    )
}
