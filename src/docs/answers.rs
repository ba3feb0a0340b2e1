//! `answers.md`: the questions people ask about `listen()`, answered with numbers. The prose is
//! the template `templates/answers.md`; every number comes from a report (linked to its results
//! row) or from the model (linked to its rule), so regenerating from the same reports gives the
//! same page. The runtimes table's data is [`crate::predict::runtimes`].

use super::cells::{first_client_error, listen_text, queue_text};
use super::stack_results::{self, case_of, kernels_row_anchor};
use super::stacks::SourcedStack;
use super::{Corpus, SourcedReport};
use crate::classify::extras::queue_was_full;
use crate::classify::tcp::LateKind;
use crate::export::text::seconds;
use crate::observation::FailedAt;
use crate::observation::extras::{FillResult, FillStop, LocalType, RelistenCase};
use crate::plan::Family;
use crate::predict::OsFamily;
use crate::predict::runtimes::{Passes, RUNTIMES, Runtime, passed};

const LINUX: OsFamily = OsFamily::Linux;
const MACOS: OsFamily = OsFamily::Macos;
const FREEBSD: OsFamily = OsFamily::Freebsd;
const WINDOWS: OsFamily = OsFamily::Windows;
const GVISOR: OsFamily = OsFamily::Gvisor;

/// One line per OS: how many measured cases agree with the model.
fn agreement_summary(corpus: &Corpus<'_>) -> String {
    let mut out = String::new();
    for os in OsFamily::ALL {
        let reports = corpus.measured(os);
        if reports.is_empty() {
            out.push_str(&format!(
                "- {}: no report yet; every {} number on this page is the model's.\n",
                os.display_name(),
                os.display_name()
            ));
            continue;
        }
        for sourced in reports {
            let env = &sourced.report.environment;
            let mut compared = 0;
            let mut disagree = Vec::new();
            for case in &sourced.report.cases {
                if let Some(p) = crate::predict::for_case(env, case) {
                    match p.agrees {
                        Some(true) => compared += 1,
                        Some(false) => {
                            compared += 1;
                            disagree.push(format!("[{0}](results.md#{0})", sourced.anchor(case)));
                        }
                        None => {}
                    }
                }
            }
            if disagree.is_empty() {
                out.push_str(&format!(
                    "- {} ({}): all {compared} comparable measured cases agree with the model.\n",
                    os.display_name(),
                    env.summary()
                ));
            } else {
                out.push_str(&format!(
                    "- {} ({}): **{} of {compared} measured cases contradict the model**: {}.\n",
                    os.display_name(),
                    env.summary(),
                    disagree.len(),
                    disagree.join(", ")
                ));
            }
        }
    }
    out
}

/// One line per measured stack: how many cases of its reports (default matrix, worlds, further
/// runs) agree with the model, with links to those that do not.
fn stacks_agreement(corpus: &Corpus<'_>) -> String {
    let mut out = String::new();
    for stack in corpus.kernels().into_iter().chain(corpus.gvisors()) {
        let mut compared = 0;
        let mut disagree = Vec::new();
        let mut files = 0;
        for (_, sourced) in stack.reports() {
            files += 1;
            for case in &sourced.report.cases {
                match stack_results::agrees(sourced, case) {
                    Some(true) => compared += 1,
                    Some(false) => {
                        compared += 1;
                        disagree.push(format!("[{0}](results.md#{0})", sourced.anchor(case)));
                    }
                    None => {}
                }
            }
        }
        for (run, sourced) in stack.repeats.iter().enumerate() {
            files += 1;
            for case in &sourced.report.cases {
                match stack_results::agrees(sourced, case) {
                    Some(true) => compared += 1,
                    Some(false) => {
                        compared += 1;
                        disagree.push(format!(
                            "[{} {}, run {}](results.md#{}-runs-{})",
                            case.family,
                            case.label,
                            run + 2,
                            super::slug(stack.file_key()),
                            super::slug(&case.name)
                        ));
                    }
                    None => {}
                }
            }
        }
        let what = if stack.family() == GVISOR {
            format!("{} (`runsc`)", stack.label())
        } else {
            format!("Linux {} (Debian, under QEMU)", stack.label())
        };
        let link = format!("[{what}](results.md#{})", stack.anchor());
        if disagree.is_empty() {
            out.push_str(&format!(
                "- {link}: all {compared} comparable measured cases of its {files} report(s) agree with the model.\n"
            ));
        } else {
            out.push_str(&format!(
                "- {link}: **{} of {compared} measured cases contradict the model**: {}.\n",
                disagree.len(),
                disagree.join(", ")
            ));
        }
    }
    out
}

fn overview(corpus: &Corpus<'_>) -> String {
    let gvisor = !corpus.gvisors().is_empty();
    let mut columns: Vec<OsFamily> = OsFamily::ALL.to_vec();
    if gvisor {
        columns.push(GVISOR);
    }
    let mut out = String::from("| backlog |");
    for os in &columns {
        out.push_str(&format!(" {} |", os.display_name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for label in ["0", "1", "5", "somaxconn", "-1", "i32::min", "i32::max"] {
        let cells: Vec<String> = columns
            .iter()
            .map(|&os| corpus.default_figure(os, label).markdown())
            .collect();
        let shown = if label == "somaxconn" {
            "SOMAXCONN"
        } else {
            label
        };
        out.push_str(&format!("| `{shown}` | {} |\n", cells.join(" | ")));
    }
    out
}

/// One cell of the runtimes table: the extras measurement where there is one, else the
/// queue for the value the source says the runtime passes.
fn runtime_cell(corpus: &Corpus<'_>, os: OsFamily, runtime: &Runtime, passes: Passes) -> String {
    let (value, passed) = passed(passes, &corpus.limits(os));
    let measured = runtime
        .measured_api
        .and_then(|api| corpus.runtime_default(os, api));
    if let Some((sourced, default)) = measured {
        let link = format!("results.md#{}", sourced.runtime_anchor(default));
        if let Some(limit) = default.kernel_limit {
            let queue = corpus.figure(os, i32::try_from(limit).unwrap_or(i32::MAX));
            return format!(
                "{passed}; kernel limit **{limit}** ([measured]({link})) → {}",
                queue.markdown()
            );
        }
        if let Some(fill) = default.fill.as_ref().filter(|f| queue_was_full(f.stop)) {
            return format!("{passed} → **{}** ([measured]({link}))", fill.queue_length);
        }
    }
    format!("{passed} → {}", corpus.figure(os, value).markdown())
}

fn runtime_table(corpus: &Corpus<'_>) -> String {
    let mut out = String::from(
        "| runtime / server | Linux | macOS | FreeBSD | Windows | source |\n|---|---|---|---|---|---|\n",
    );
    for runtime in RUNTIMES {
        let cells: Vec<String> = OsFamily::ALL
            .iter()
            .zip(runtime.passes)
            .map(|(&os, passes)| runtime_cell(corpus, os, runtime, passes))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            runtime.name,
            cells.join(" | "),
            runtime.source
        ));
    }
    out
}

const LISTEN_DOC: &str =
    "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen";

/// What `listen()` on UDP does on an OS according to its source or documentation.
fn udp_source(os: OsFamily) -> String {
    match os {
        LINUX => "source: `net/ipv4/af_inet.c`, `inet_dgram_ops` has `.listen = sock_no_listen`, which returns `EOPNOTSUPP`".to_string(),
        MACOS => "source: xnu's UDP leaves `pru_listen` at `pru_listen_notsupp` (`EOPNOTSUPP`)".to_string(),
        FREEBSD => "source: UDP leaves `pru_listen` at `pru_listen_notsupp` (`EOPNOTSUPP`)".to_string(),
        WINDOWS => format!("documented: `WSAEOPNOTSUPP`, \"The referenced socket is not of a type that supports the listen operation\" ([listen() documentation]({LISTEN_DOC}))"),
        GVISOR => "source: gVisor's `pkg/tcpip/transport/udp/endpoint.go` `Listen()` returns `ErrNotSupported`, which `pkg/syserr/netstack.go` maps to `EOPNOTSUPP`".to_string(),
    }
}

/// `[ipv4](results.md#...), [ipv6](results.md#...)`.
fn links(items: &[(String, String)]) -> String {
    items
        .iter()
        .map(|(text, anchor)| format!("[{text}](results.md#{anchor})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The UDP bullet of one OS: the measured outcomes with links, then the source.
fn udp_bullet(corpus: &Corpus<'_>, os: OsFamily) -> String {
    // Outcome text → the rows that saw it, in report order.
    let mut outcomes: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for udp in &sourced.report.udp {
            let outcome = if udp.listen.ok {
                "succeeded".to_string()
            } else if udp.listen.failed_at == Some(FailedAt::Listen) {
                match &udp.listen.os_error {
                    Some(error) => format!("failed with `{error}`"),
                    None => "failed".to_string(),
                }
            } else {
                format!("could not be set up ({})", listen_text(&udp.listen))
            };
            let row = (udp.family.to_string(), sourced.udp_anchor(udp));
            match outcomes.iter_mut().find(|(o, _)| *o == outcome) {
                Some((_, rows)) => rows.push(row),
                None => outcomes.push((outcome, vec![row])),
            }
        }
    }
    if outcomes.is_empty() {
        return format!(
            "- **{}**: not measured here yet; {}.\n",
            os.display_name(),
            udp_source(os)
        );
    }
    let measured: Vec<String> = outcomes
        .iter()
        .map(|(outcome, rows)| format!("{outcome} ({})", links(rows)))
        .collect();
    format!(
        "- **{}**, measured: `listen()` on a bound UDP socket {}; {}.\n",
        os.display_name(),
        measured.join("; "),
        udp_source(os)
    )
}

/// How a full Unix-domain queue showed itself to the next client, as a phrase.
fn unix_overflow_phrase(fill: &FillResult) -> String {
    let error = fill
        .os_error
        .as_ref()
        .map_or_else(|| "no error".to_string(), ToString::to_string);
    match fill.stop {
        FillStop::FailedImmediately => {
            format!("the next non-blocking `connect()` failed at once with `{error}`")
        }
        FillStop::FailedInHandshake => format!("the next `connect()` failed with `{error}`"),
        FillStop::Pending => "the next `connect()` stayed pending".to_string(),
        FillStop::Cap | FillStop::OutOfResources => {
            "the fill ended before the queue was full".to_string()
        }
    }
}

/// The Unix-domain bullet of one OS with an extras report, or `None` without one.
fn unix_bullet(corpus: &Corpus<'_>, os: OsFamily) -> Option<String> {
    let reports = corpus.measured_extras(os);
    if reports.iter().all(|r| r.report.unix_domain.is_empty()) {
        return None;
    }
    let mut parts = Vec::new();
    let mut overflows: Vec<String> = Vec::new();
    let mut full = Vec::new();
    for sourced in &reports {
        for ty in LocalType::ALL {
            let mut numbers = Vec::new();
            for case in sourced
                .report
                .unix_domain
                .iter()
                .filter(|c| c.socket_type == ty)
            {
                let link = format!("results.md#{}", sourced.unix_anchor(case));
                match &case.fill {
                    Some(fill) if case.listen.ok => {
                        numbers.push(format!(
                            "`listen({})` **{}** ([measured]({link}))",
                            case.backlog,
                            queue_text(fill)
                        ));
                        if queue_was_full(fill.stop) {
                            full.push((case.backlog, fill.queue_length));
                        }
                        let phrase = unix_overflow_phrase(fill);
                        if !overflows.contains(&phrase) {
                            overflows.push(phrase);
                        }
                    }
                    _ => numbers.push(format!(
                        "`listen({})` {} ([measured]({link}))",
                        case.backlog,
                        listen_text(&case.listen)
                    )),
                }
            }
            if !numbers.is_empty() {
                parts.push(format!("{} {}", ty.as_str(), numbers.join(", ")));
            }
        }
    }
    let pattern = if !full.is_empty()
        && full
            .iter()
            .all(|&(backlog, queue)| i64::from(queue) == i64::from(backlog) + 1)
    {
        ": backlog + 1 each time"
    } else if !full.is_empty()
        && full
            .iter()
            .all(|&(backlog, queue)| i64::from(queue) == i64::from(backlog))
    {
        ": exactly the backlog each time"
    } else {
        ""
    };
    let overflow = if overflows.is_empty() {
        String::new()
    } else {
        format!("; then {}", overflows.join(" or "))
    };
    Some(format!(
        "- **{}**, measured on Unix-domain listeners: {}{pattern}{overflow}.",
        os.display_name(),
        parts.join("; ")
    ))
}

/// Which backlog a re-listen case shows the kernel kept: the kernel's view where there is
/// one, else the queue against what each backlog gives on this OS.
fn relisten_kept(corpus: &Corpus<'_>, os: OsFamily, case: &RelistenCase) -> Option<bool> {
    if case.first_backlog == case.second_backlog || !case.second_listen.as_ref()?.ok {
        return None;
    }
    // gVisor's TCP_INFO reads 0/0: no view of the queue.
    if let Some(view) = case.kernel_queue.filter(|_| os != GVISOR) {
        let limit = i64::from(view.limit);
        if limit == i64::from(case.second_backlog) {
            return Some(false);
        }
        if limit == i64::from(case.first_backlog) {
            return Some(true);
        }
        return None;
    }
    let fill = case.fill.as_ref().filter(|f| queue_was_full(f.stop))?;
    let first = corpus.figure(os, case.first_backlog).value;
    let second = corpus.figure(os, case.second_backlog).value;
    if first == second {
        None
    } else if second == Some(fill.queue_length) {
        Some(false)
    } else if first == Some(fill.queue_length) {
        Some(true)
    } else {
        None
    }
}

/// What the source or documentation of an OS says about a second `listen()`.
fn relisten_source(os: OsFamily) -> String {
    match os {
        LINUX => "source: the new value applies; `net/ipv4/af_inet.c` `__inet_listen_sk()` stores `sk_max_ack_backlog` again (\"Really, if the socket is already in listen state we can only allow the backlog to be adjusted\")".to_string(),
        MACOS => "source: the new value applies; xnu `bsd/kern/uipc_socket.c` `solisten()` stores the new `so_qlimit` on a listening socket".to_string(),
        FREEBSD => "source: the new value applies; `sys/kern/uipc_socket.c` `solisten_proto()` stores the new `sol_qlimit`".to_string(),
        WINDOWS => format!("documentation: the old value stays; \"If the listen function is called on an already listening socket, it will return success without changing the value for the backlog parameter\" ([listen() documentation]({LISTEN_DOC}))"),
        GVISOR => "source: the new value applies, unless more connections are already queued than it allows (then `EINVAL`); gVisor's `pkg/tcpip/transport/tcp/endpoint.go` `listen()`: \"Adjust the size of the backlog iff we can fit existing pending connections into the new one\"".to_string(),
    }
}

/// The re-listen bullet of one OS: the measured rows with links, then the source.
fn relisten_bullet(corpus: &Corpus<'_>, os: OsFamily) -> String {
    let mut rows = Vec::new();
    let mut kept = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for case in &sourced.report.relisten {
            let link = format!("results.md#{}", sourced.relisten_anchor(case));
            let second = case.second_listen.as_ref();
            let what = if !case.first_listen.ok {
                format!("the first {}", listen_text(&case.first_listen))
            } else if let Some(second) = second.filter(|l| !l.ok) {
                format!("the second call {}", listen_text(second))
            } else {
                let limit = case
                    .kernel_queue
                    .filter(|_| os != GVISOR)
                    .map(|q| format!("kernel limit **{}**, ", q.limit))
                    .unwrap_or_default();
                let queue = case
                    .fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text);
                format!("{limit}queue **{queue}**")
            };
            rows.push(format!(
                "`listen({})` then `listen({})`: {what} ([measured]({link}))",
                case.first_backlog, case.second_backlog
            ));
            kept.push(relisten_kept(corpus, os, case));
        }
    }
    if rows.is_empty() {
        return format!(
            "- **{}**: not measured here yet; by the {}.\n",
            os.display_name(),
            relisten_source(os)
        );
    }
    let verdict = if kept.iter().all(|k| *k == Some(false)) {
        " The second call's backlog applied."
    } else if kept.iter().all(|k| *k == Some(true)) {
        " The first backlog stayed."
    } else {
        ""
    };
    format!(
        "- **{}**, measured: {}.{verdict} By the {}.\n",
        os.display_name(),
        rows.join("; "),
        relisten_source(os)
    )
}

/// What the first overflow looked like on an OS, in one sentence, for the "refused or
/// ignored" answer.
fn overflow_sentence(corpus: &Corpus<'_>, os: OsFamily) -> String {
    let figure = corpus.default_figure(os, "5");
    match &figure.case {
        Some(case) => {
            let cap = corpus
                .measured(os)
                .first()
                .map_or(0, |r| r.report.settings.cap);
            let late = match (case.late_completion.kind, case.late_completion.elapsed_ms) {
                (LateKind::Completed, Some(ms)) => format!(
                    "; once the server started accepting, the waiting client got in {} after its connect()",
                    seconds(ms)
                ),
                (LateKind::Pending, _) => {
                    "; the waiting client was still pending when the watch ended".to_string()
                }
                (LateKind::Failed, _) => "; the waiting client then failed".to_string(),
                _ => String::new(),
            };
            format!(
                "Measured with `listen(5)`: overflow `{}`, first client error: {}{late} ([row]({})). The model predicts `{}`: {}.",
                case.overflow.kind.as_str(),
                first_client_error(case, cap),
                figure.link,
                figure.prediction.overflow.as_str(),
                figure.prediction.client_notices
            )
        }
        None => format!(
            "Not measured yet. The model predicts `{}`: {} ([rule]({})).",
            figure.prediction.overflow.as_str(),
            figure.prediction.client_notices,
            figure.link
        ),
    }
}

/// The Linux kernel's own view of the `listen(5)` case, if measured.
fn linux_kernel_view(corpus: &Corpus<'_>) -> String {
    let figure = corpus.default_figure(LINUX, "5");
    match figure
        .case
        .as_ref()
        .and_then(|c| c.kernel_queue.map(|q| (c, q)))
    {
        Some((case, queue)) => format!(
            " Measured: after `listen(5)` the client completed {} connections and `TCP_INFO` on the listener reported {} children ready for `accept()` against a stored limit of {} ([row]({})): the queue holds completed connections, limit + 1 of them.",
            case.queue_length.unwrap_or(0),
            queue.queued,
            queue.limit,
            figure.link
        ),
        None => String::new(),
    }
}

/// `**0** on 5.10.223 ([measured](...)); **1** on 5.10.262 ([measured](...)) and 6.1.192
/// ([measured](...))`: one world's case on every kernel, grouped by value, oldest first.
fn kernel_figures(corpus: &Corpus<'_>, world: &str, suffix: &str) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kernel in corpus.kernels() {
        let Some(sourced) = stack_results::world_report(kernel, world) else {
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
        let item = format!(
            "{} ([measured](results.md#{}))",
            kernel.label(),
            sourced.anchor(case)
        );
        match groups.iter_mut().find(|(v, _)| *v == value) {
            Some((_, items)) => items.push(item),
            None => groups.push((value, vec![item])),
        }
    }
    if groups.is_empty() {
        return "not measured here (no kernel stack in `docs/data/`)".to_string();
    }
    groups
        .iter()
        .map(|(value, items)| format!("**{value}** on {}", and_list(items)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A link to the kernels table's row of a world's case, where a kernel measured it.
fn kernel_row_link(corpus: &Corpus<'_>, world: &str, suffix: &str) -> String {
    let measured = corpus.kernels().into_iter().any(|kernel| {
        stack_results::world_report(kernel, world).is_some_and(|sourced| {
            case_of(sourced, Family::Ipv4, suffix)
                .or_else(|| case_of(sourced, Family::Ipv6, suffix))
                .is_some()
        })
    });
    if measured {
        format!("[table](results.md#{})", kernels_row_anchor(world, suffix))
    } else {
        "no kernel table row yet".to_string()
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The kernels measured, linked to the table: `5.10.223, ... and 7.2.13`.
fn kernels_list(corpus: &Corpus<'_>) -> String {
    let labels: Vec<String> = corpus.kernels().iter().map(|k| k.label()).collect();
    if labels.is_empty() {
        return "no kernel yet".to_string();
    }
    format!(
        "{} ([table](results.md#linux-across-kernels))",
        and_list(&labels)
    )
}

/// Each kernel's measured SYN retransmissions, grouped by schedule.
fn retrans_summary(corpus: &Corpus<'_>) -> String {
    let mut linear = Vec::new();
    let mut exponential = Vec::new();
    for kernel in corpus.kernels() {
        let Some((_, timing)) = &kernel.retransmissions else {
            continue;
        };
        let times: Vec<String> = timing.times_s.iter().map(|t| format!("{t:.1}")).collect();
        let item = format!(
            "{} at {} s ([row](results.md#{}))",
            kernel.label(),
            times.join(", "),
            kernel.retransmissions_anchor()
        );
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
    if linear.is_empty() && exponential.is_empty() {
        return "Not timed here yet (the kernel stacks time it: `cargo xtask stacks`).".to_string();
    }
    let mut parts = Vec::new();
    if !linear.is_empty() {
        parts.push(format!(
            "with `tcp_syn_linear_timeouts=4`: {}",
            and_list(&linear)
        ));
    }
    if !exponential.is_empty() {
        parts.push(format!("without it: {}", and_list(&exponential)));
    }
    format!("Measured (the first 9 s): {}.", parts.join("; "))
}

/// The gVisor stack measured, linked, with its runsc version.
fn gvisor_stack(corpus: &Corpus<'_>) -> String {
    match corpus.gvisors().first() {
        Some(stack) => format!(
            "[{}](results.md#{}) (`runsc` {})",
            stack.label(),
            stack.anchor(),
            stack
                .manifest
                .runsc_version
                .as_deref()
                .unwrap_or("of an unrecorded version")
        ),
        None => "no gVisor stack measured yet".to_string(),
    }
}

/// What the measured gVisor reported as `net.core.somaxconn`.
fn gvisor_somaxconn(corpus: &Corpus<'_>) -> String {
    let first: Option<(&SourcedStack, &SourcedReport)> = corpus
        .gvisors()
        .into_iter()
        .find_map(|s| s.report.as_ref().map(|r| (s, r)));
    match first.and_then(|(s, r)| r.report.environment.somaxconn.setting.map(|v| (s, v))) {
        Some((stack, value)) => format!("**{value}** ([measured](results.md#{}))", stack.anchor()),
        None => "the static value".to_string(),
    }
}

/// A link to each gVisor stack's table of repeated runs.
fn gvisor_runs(corpus: &Corpus<'_>) -> String {
    let links: Vec<String> = corpus
        .gvisors()
        .into_iter()
        .filter(|s| !s.repeats.is_empty())
        .map(|s| {
            format!(
                "[{} runs of {}](results.md#{})",
                s.repeats.len() + 1,
                s.label(),
                s.runs_anchor()
            )
        })
        .collect();
    if links.is_empty() {
        "not repeated here yet".to_string()
    } else {
        and_list(&links)
    }
}

/// The page's prose, with a placeholder for every number and measured passage.
const TEMPLATE: &str = include_str!("templates/answers.md");

/// The OS a placeholder names (`linux`, `macos`, `freebsd`, `windows`, `gvisor`).
fn os_named(name: &str) -> Option<OsFamily> {
    OsFamily::ALL
        .into_iter()
        .chain([GVISOR])
        .find(|os| os.as_str() == name)
}

/// What the published-reports bullet of `os` says about this project's own measurement.
fn reports_status(corpus: &Corpus<'_>, os: OsFamily) -> Option<String> {
    Some(match os {
        LINUX => {
            let zero = corpus.default_figure(LINUX, "0");
            let five = corpus.default_figure(LINUX, "5");
            match &five.case {
                Some(case) => format!(
                    "Measured here: `listen(5)` {} and `listen(0)` {}, overflow `{}`",
                    five.markdown(),
                    zero.markdown(),
                    case.overflow.kind.as_str()
                ),
                None => "No Linux report yet".to_string(),
            }
        }
        MACOS => {
            let five = corpus.default_figure(MACOS, "5");
            match &five.case {
                Some(case) => format!(
                    "measured `listen(5)`: {} with overflow `{}`",
                    five.markdown(),
                    case.overflow.kind.as_str()
                ),
                None => format!(
                    "not measured here yet; the model (from xnu-11417 source) predicts {} with a silent drop",
                    five.markdown()
                ),
            }
        }
        WINDOWS => {
            let max = corpus.default_figure(WINDOWS, "i32::max");
            let hint = corpus.figure(WINDOWS, -1);
            if max.measured {
                format!(
                    "measured: `SOMAXCONN` {}, `SOMAXCONN_HINT(1)` {}",
                    max.markdown(),
                    hint.markdown()
                )
            } else {
                format!(
                    "not measured here yet; the model says `SOMAXCONN` {} and `SOMAXCONN_HINT(1)` {}",
                    max.markdown(),
                    hint.markdown()
                )
            }
        }
        FREEBSD | GVISOR => return None,
    })
}

/// The four OSes, and gVisor where a gVisor stack was measured.
fn with_gvisor(corpus: &Corpus<'_>) -> Vec<OsFamily> {
    let mut list = OsFamily::ALL.to_vec();
    if !corpus.gvisors().is_empty() {
        list.push(GVISOR);
    }
    list
}

/// The text of one placeholder: `f OS LABEL` (a default backlog's figure), `v OS VALUE` (any
/// backlog's figure), `overflow OS`, `reports OS`, `k WORLD CASE` (a case on every kernel stack,
/// `default` for the default matrix), `krow WORLD CASE` (its row of the kernels table), `g
/// LABEL` (gVisor's figure), or a passage (`agreement`, `overview`, `linux_kernel_view`, `udp`,
/// `unix`, `relisten`, `runtimes`, `kernels`, `retrans`, `gvisor_stack`, `gvisor_somaxconn`,
/// `gvisor_runs`).
/// `None` for an unknown one.
fn resolve(corpus: &Corpus<'_>, key: &str) -> Option<String> {
    let words: Vec<&str> = key.split_whitespace().collect();
    Some(match words.as_slice() {
        ["f", os, label] => corpus.default_figure(os_named(os)?, label).markdown(),
        ["v", os, value] => corpus.figure(os_named(os)?, value.parse().ok()?).markdown(),
        ["overflow", os] => overflow_sentence(corpus, os_named(os)?),
        ["reports", os] => reports_status(corpus, os_named(os)?)?,
        ["agreement"] => format!("{}{}", agreement_summary(corpus), stacks_agreement(corpus)),
        ["overview"] => overview(corpus),
        ["k", world, suffix] => kernel_figures(corpus, world, suffix),
        ["krow", world, suffix] => kernel_row_link(corpus, world, suffix),
        ["kernels"] => kernels_list(corpus),
        ["retrans"] => retrans_summary(corpus),
        ["g", label] => corpus.default_figure(GVISOR, label).markdown(),
        ["gvisor_stack"] => gvisor_stack(corpus),
        ["gvisor_somaxconn"] => gvisor_somaxconn(corpus),
        ["gvisor_runs"] => gvisor_runs(corpus),
        ["linux_kernel_view"] => linux_kernel_view(corpus),
        ["udp"] => with_gvisor(corpus)
            .into_iter()
            .map(|os| udp_bullet(corpus, os))
            .collect::<String>(),
        ["unix"] => {
            let bullets: Vec<String> = with_gvisor(corpus)
                .into_iter()
                .filter_map(|os| unix_bullet(corpus, os))
                .collect();
            if bullets.is_empty() {
                String::new()
            } else {
                format!("\n{}\n", bullets.join("\n"))
            }
        }
        ["relisten"] => with_gvisor(corpus)
            .into_iter()
            .map(|os| relisten_bullet(corpus, os))
            .collect::<String>(),
        ["runtimes"] => runtime_table(corpus),
        _ => return None,
    })
}

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    super::template::fill(TEMPLATE, |key| resolve(corpus, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placeholder of the template names something the page can compute, with or without
    /// reports.
    #[test]
    fn every_placeholder_resolves() {
        let corpus = Corpus::new(&[], &[]);
        for key in super::super::template::placeholders(TEMPLATE) {
            assert!(resolve(&corpus, key).is_some(), "{{{{{key}}}}}");
        }
        assert_eq!(resolve(&corpus, "f plan9 0"), None);
        assert_eq!(resolve(&corpus, "nonsense"), None);
    }
}
