//! `backlog-probe run`: the default matrix (or the given backlogs), progress on stderr, the
//! report on stdout.

use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, ValueEnum};

use super::UsageError;
use super::args::{BacklogList, FamiliesArg, parse_backlogs};
use super::output::{progress_message, write_stdout};
use backlog_probe::classify::tcp::OverflowKind;
use backlog_probe::experiment;
use backlog_probe::export::{self, Format};
use backlog_probe::netns::SysctlRequest;
use backlog_probe::plan::{self, Backlog, Settings};
use backlog_probe::report::CaseReport;
use backlog_probe::run::{self, workers};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned text for a terminal.
    Table,
    /// The JSON wire format (documented in the crate docs, "Wire format").
    Json,
    /// A Markdown table (for job summaries and docs).
    Markdown,
}

/// `backlog-probe run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address families to test.
    #[arg(long, value_enum, default_value = "both")]
    family: FamiliesArg,

    /// Comma-separated backlogs: integers (negative allowed), `somaxconn`, `i32::min`,
    /// `i32::max`. Write negative lists as --backlog=-1,5.
    /// [default: 0,1,5,somaxconn,-1,i32::min,i32::max]
    #[arg(long, value_name = "LIST", allow_hyphen_values = true, value_parser = parse_backlogs)]
    pub(super) backlog: Option<BacklogList>,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,

    /// Stop a case after this many completed connections (reported as overflow `none`).
    #[arg(long, value_name = "N", default_value_t = Settings::DEFAULT_CAP,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    cap: u32,

    /// End the run after SECS seconds whatever the OS does: unfinished cases are reported as
    /// inconclusive and named on stderr (each case normally takes 1-6 s).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    deadline: Option<u64>,

    /// At most N worker processes. When the cases need more file descriptors than one process may
    /// hold, they are spread over up to N worker processes (this same binary) so that all run at
    /// once; 1 keeps everything in this process, where cases that do not fit wait for
    /// descriptors (slower, fewer descriptors in use at once).
    #[arg(long, value_name = "N", default_value_t = workers::DEFAULT_MAX_WORKERS as u32,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,

    /// Run the whole matrix N times and mark each case whose stable fields (queue length,
    /// overflow, late completion, ...) differ between runs as unstable, with their range. The
    /// report shows the first run. [default: 1]
    #[arg(long, value_name = "N", default_value_t = 1, hide_default_value = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,

    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,

    /// Run in a private network namespace with this knob set (repeatable), e.g.
    /// --sysctl net.core.somaxconn=16. Linux only, needs root; the host is never touched.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    sysctls: Vec<SysctlRequest>,
}

/// Run the cases and print the report.
pub fn run(args: &RunArgs) -> Result<(), UsageError> {
    // The namespace belongs to this (main) thread and the threads it spawns later, so it comes
    // before anything else.
    let mut world = super::enter_world(&args.sysctls)?;
    let families = args.family.families();
    if args.family != FamiliesArg::Both {
        for &family in &families {
            if let Err(error) = experiment::family_available(family) {
                return Err(UsageError(format!(
                    "{family} loopback is unavailable here ({error}); try --family both to report it per case"
                )));
            }
        }
    }
    run::check_memory().map_err(|short| UsageError(short.to_string()))?;
    run::check_descriptors().map_err(|short| {
        UsageError(format!(
            "file-descriptor limit {} (hard limit {}) is too low: backlog-probe needs at least {} more descriptors; raise it with `ulimit -n`",
            short.limit.soft, short.limit.hard, short.missing
        ))
    })?;
    let backlogs = args
        .backlog
        .clone()
        .map_or_else(|| Backlog::DEFAULTS.to_vec(), |list| list.0);
    let specs = plan::matrix(&families, &backlogs);
    let settings = Settings {
        cap: args.cap,
        deadline_ms: args.deadline.map(|secs| secs * 1000),
        repeat: (args.repeat > 1).then_some(args.repeat),
    };
    let total = specs.len();
    let done = AtomicUsize::new(0);
    if !args.quiet {
        progress_message(&format!(
            "backlog-probe: running {total} cases (they run concurrently)"
        ));
    }
    let progress = |event: run::RunEvent<'_>| match event {
        run::RunEvent::Finished(case) => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if !args.quiet {
                progress_message(&progress_line(n, total, case));
            }
        }
        run::RunEvent::Round { run, runs } => {
            if !args.quiet {
                progress_message(&format!("backlog-probe: run {run} of {runs}"));
                done.store(0, Ordering::Relaxed);
            }
        }
        run::RunEvent::ThreadsShort(shortfall) => {
            if !args.quiet {
                progress_message(&format!("backlog-probe: {shortfall}"));
            }
        }
        run::RunEvent::WorkerNotStarted { detail, cases } => {
            if !args.quiet {
                progress_message(&format!(
                    "backlog-probe: {detail}: its {cases} case(s) run in this process, in turn"
                ));
            }
        }
        run::RunEvent::Spread {
            workers,
            budget_per_process,
        } => {
            if !args.quiet {
                progress_message(&format!(
                    "backlog-probe: one process may hold {budget_per_process} descriptors, too few for every case at once; running the cases in {workers} worker processes"
                ));
            }
        }
    };
    // Worker processes (where one process's descriptor limit cannot hold every case at once)
    // are this same binary; without a path to it, everything runs here.
    let program = std::env::current_exe().ok();
    let fanout = program
        .as_deref()
        .map_or(run::Fanout::InProcess, |program| run::Fanout::Workers {
            program,
            max_workers: args.workers as usize,
        });
    let mut report = match world.as_mut() {
        Some(world) => world.counted(|| run::run_repeated(&specs, &settings, fanout, &progress)),
        None => run::run_repeated(&specs, &settings, fanout, &progress),
    };
    report.world = world;
    let cut_short: Vec<&str> = report
        .cases
        .iter()
        .filter(|case| case.overflow.reason.is_some_and(|r| r.is_deadline()))
        .map(|case| case.name.as_str())
        .collect();
    if !cut_short.is_empty() {
        progress_message(&format!(
            "backlog-probe: the {} s deadline ended {} case(s) early: {}",
            args.deadline.unwrap_or(0),
            cut_short.len(),
            name_some(&cut_short, NAMES_SHOWN)
        ));
    }
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
    };
    let text = export::render(&report, format)
        .map_err(|e| UsageError(format!("cannot write the report: {e}")))?;
    write_stdout(&text)?;
    Ok(())
}

/// How many case names a summary line shows before it only counts the rest.
const NAMES_SHOWN: usize = 5;

/// `a, b, c` for up to `shown` names, then `a, b, c and 9995 more`: one short line however many
/// cases a run has.
fn name_some(names: &[&str], shown: usize) -> String {
    let mut text = names[..names.len().min(shown)].join(", ");
    if names.len() > shown {
        text.push_str(&format!(" and {} more", names.len() - shown));
    }
    text
}

/// `[ 3/14] ipv4_backlog_five   queue      6  dropped  1.2 s`.
fn progress_line(n: usize, total: usize, case: &CaseReport) -> String {
    let queue = case
        .queue_length
        .map_or_else(|| "-".to_string(), |q| q.to_string());
    let mut line = format!(
        "[{n:>width$}/{total}] {:<28} queue {queue:>6}  {}",
        case.name,
        case.overflow.kind.as_str(),
        width = total.to_string().len()
    );
    if let Some(error) = &case.overflow.os_error {
        line.push_str(&format!(" {error}"));
    }
    if case.overflow.kind == OverflowKind::Inconclusive {
        if let Some(detail) = &case.overflow.detail {
            line.push_str(&format!(" ({detail})"));
        }
    }
    line.push_str(&format!("  {:.1} s", case.duration_ms as f64 / 1000.0));
    line
}

#[cfg(test)]
mod tests {
    use super::name_some;

    #[test]
    fn a_summary_names_a_few_and_counts_the_rest() {
        assert_eq!(name_some(&["a"], 5), "a");
        assert_eq!(name_some(&["a", "b", "c"], 3), "a, b, c");
        let many: Vec<String> = (0..10_000).map(|i| format!("case_{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let line = name_some(&many, 5);
        assert_eq!(line, "case_0, case_1, case_2, case_3, case_4 and 9995 more");
    }
}
