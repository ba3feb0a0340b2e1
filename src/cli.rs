//! The command line: argument parsing, progress on stderr, the report on stdout, exit codes.
//!
//! Exit codes: 0 when the report was produced, whatever the OS did; 2 for bad arguments or an
//! environment the run cannot use (one line on stderr, never a panic).

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::budget;
use crate::classify::OverflowKind;
use crate::experiment;
use crate::export::{self, Format};
use crate::merge;
use crate::plan::{self, Backlog, Family, Settings};
use crate::report::CaseReport;
use crate::run;

/// Measure what listen(fd, backlog) really does on this OS.
///
/// For each address family and backlog, backlog-probe binds a loopback listener, calls listen()
/// with the exact value, opens client connections one at a time without accepting, and reports
/// how many completed, how the first overflow looked (raw OS error and timing), whether the
/// pending client got in once a slot freed, and the kernel's own view of the queue.
#[derive(Debug, Parser)]
#[command(
    name = "backlog-probe",
    bin_name = "backlog-probe",
    version,
    propagate_version = true
)]
#[command(
    after_help = "Examples:\n  backlog-probe run\n  backlog-probe burst --backlog 5 --clients 64 --sysctl net.ipv4.tcp_abort_on_overflow=1\n  backlog-probe run --family ipv4 --backlog=-1,0,1,somaxconn --format json\n  backlog-probe run --format markdown >> \"$GITHUB_STEP_SUMMARY\""
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the experiments and print a report.
    Run(RunArgs),
    /// Connect many clients at once to a listener that does not accept, and report what each
    /// one got: accepted, half-open, reset, refused, still pending.
    Burst(crate::burst_cli::BurstArgs),
    /// Beyond one TCP listen(): UDP, Unix-domain listeners, listen() twice, runtime defaults.
    Extras(ExtrasArgs),
    /// Bind a loopback listener, fill its queue, print its address, and keep it full until
    /// Ctrl-C or --for SECS.
    Hold(HoldArgs),
    /// Combine reports from several machines (`run --format json` output) into one
    /// cross-OS table.
    Merge(MergeArgs),
    /// Regenerate docs/ (results.md, answers.md, queue-length.svg) from report JSON files.
    Docs(DocsArgs),
    /// Internal: run a share of `run`'s cases for a parent `backlog-probe run` (a job as JSON on
    /// stdin, one finished case per line on stdout). See the `fanout` module.
    #[command(hide = true)]
    Worker,
}

/// Output format of `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MergeFormat {
    /// A Markdown comparison table plus each report's environment.
    Markdown,
    /// The reports as one JSON array.
    Json,
}

/// Output format of `extras`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExtrasFormat {
    /// Plain text.
    Table,
    /// JSON (crate docs, module `extras`, "Wire format").
    Json,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// Report files written by `backlog-probe run --format json`.
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<std::path::PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: MergeFormat,
}

#[derive(Debug, Args)]
struct ExtrasArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ExtrasFormat,
}

#[derive(Debug, Args)]
struct HoldArgs {
    /// The backlog passed to listen() (negative allowed: --backlog=-1).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    backlog: i32,

    /// Loopback family.
    #[arg(long, value_enum, default_value = "ipv4")]
    family: HoldFamily,

    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long = "for", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(0..=86_400 * 365))]
    for_secs: Option<u64>,
}

/// The loopback family `hold` listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HoldFamily {
    /// 127.0.0.1.
    Ipv4,
    /// ::1.
    Ipv6,
}

#[derive(Debug, Args)]
struct DocsArgs {
    /// Directory holding report-*.json files (from `run --format json`) and, optionally,
    /// extras-*.json files (from `extras --format json`).
    #[arg(long, value_name = "DIR", default_value = "docs/data")]
    reports: std::path::PathBuf,

    /// Directory to write the documentation into.
    #[arg(long, value_name = "DIR", default_value = "docs")]
    out: std::path::PathBuf,
}

/// Which loopback families to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FamilyChoice {
    /// 127.0.0.1 only.
    Ipv4,
    /// ::1 only (exit 2 if IPv6 is unavailable).
    Ipv6,
    /// Both; an unavailable family is reported as such in its cases.
    Both,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatChoice {
    /// Aligned text for a terminal.
    Table,
    /// The JSON wire format (documented in the crate docs, "Wire format").
    Json,
    /// A Markdown table (for job summaries and docs).
    Markdown,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Address families to test.
    #[arg(long, value_enum, default_value = "both")]
    family: FamilyChoice,

    /// Comma-separated backlogs: integers (negative allowed), `somaxconn`, `i32::min`,
    /// `i32::max`. Write negative lists as --backlog=-1,5.
    /// [default: 0,1,5,somaxconn,-1,i32::min,i32::max]
    #[arg(long, value_name = "LIST", allow_hyphen_values = true, value_parser = parse_backlogs)]
    backlog: Option<BacklogList>,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatChoice,

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
    #[arg(long, value_name = "N", default_value_t = crate::fanout::DEFAULT_MAX_WORKERS as u32,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,

    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,

    /// Run in a private network namespace with this knob set (repeatable), e.g.
    /// --sysctl net.core.somaxconn=16. Linux only, needs root; the host is never touched.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    sysctls: Vec<crate::world::SysctlRequest>,
}

/// A parsed `--backlog` list (a newtype, so clap takes the whole list as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BacklogList(Vec<Backlog>);

fn parse_backlogs(text: &str) -> Result<BacklogList, String> {
    plan::parse_backlog_list(text)
        .map(BacklogList)
        .map_err(|e| e.to_string())
}

/// The smallest descriptor budget that can run even one case.
const MIN_USABLE_FDS: usize = 16;

/// A problem with the arguments or environment: one line, exit 2.
struct UsageError(String);

/// Parse arguments from the process and run; the binary's `main` is just this.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout with exit 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A bare `backlog-probe` shows the whole help (on stderr, exit 2).
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            report_error(&one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run_command(&args).map(|()| ExitCode::SUCCESS),
        Command::Worker => worker_command().map(|()| ExitCode::SUCCESS),
        Command::Merge(args) => merge_command(&args).map(|()| ExitCode::SUCCESS),
        Command::Extras(args) => {
            extras_command(&args);
            Ok(ExitCode::SUCCESS)
        }
        Command::Hold(args) => Ok(hold_command(&args)),
        Command::Burst(args) => crate::burst_cli::burst_command(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(UsageError),
        Command::Docs(args) => crate::docs::regenerate(&args.reports, &args.out)
            .map(|written| {
                for path in written {
                    progress_message(&format!("backlog-probe: wrote {}", path.display()));
                }
                ExitCode::SUCCESS
            })
            .map_err(|error| UsageError(error.to_string())),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(message)) => {
            report_error(&format!("error: {message}"));
            ExitCode::from(2)
        }
    }
}

fn merge_command(args: &MergeArgs) -> Result<(), UsageError> {
    let mut reports = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "cannot read {}: {}",
                path.display(),
                crate::os_error::os_error_of(&e)
            ))
        })?;
        let report = merge::parse_report(&text)
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        reports.push(report);
    }
    write_stdout(&match args.format {
        MergeFormat::Markdown => merge::markdown(&reports),
        MergeFormat::Json => merge::json(&reports),
    });
    Ok(())
}

fn extras_command(args: &ExtrasArgs) {
    progress_message("backlog-probe: running the extra experiments (a few seconds)");
    let report = crate::experiment::extras::run_extras();
    for default in &report.runtime_defaults {
        if let Some(detail) = &default.detail {
            progress_message(&format!("backlog-probe: {}: {detail}", default.api));
        }
    }
    write_stdout(&match args.format {
        ExtrasFormat::Table => crate::experiment::extras::text::render(&report),
        ExtrasFormat::Json => report.to_json(),
    });
}

/// `hold`: exit 0 after Ctrl-C or the deadline, 1 when the queue could not be filled.
fn hold_command(args: &HoldArgs) -> ExitCode {
    use crate::experiment::extras::hold;
    if let Err(error) = crate::sys::install_interrupt_handler() {
        report_error(&format!(
            "error: cannot install the Ctrl-C handler: {}",
            crate::os_error::OsError::from_io(&error)
                .map_or_else(|| error.to_string(), |e| e.to_string())
        ));
        return ExitCode::FAILURE;
    }
    let family = match args.family {
        HoldFamily::Ipv4 => Family::Ipv4,
        HoldFamily::Ipv6 => Family::Ipv6,
    };
    let full = match hold::full_listener(family, args.backlog) {
        Ok(full) => full,
        Err(error) => {
            report_error(&format!("error: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let stop = match &full.fill.os_error {
        Some(error) => format!("{} ({error})", full.fill.stop.as_str()),
        None => full.fill.stop.as_str().to_string(),
    };
    write_stdout(&format!("{}\n", full.address));
    progress_message(&format!(
        "backlog-probe: listening on {} with listen({}); {} connections queued, never accepted; \
         the next connect was {stop}. Holding {}; Ctrl-C to stop.",
        full.address,
        args.backlog,
        full.clients(),
        args.for_secs
            .map_or_else(|| "until interrupted".to_string(), |s| format!("for {s} s")),
    ));
    let end = hold::hold_until(
        full,
        args.for_secs.map(std::time::Duration::from_secs),
        &crate::sys::interrupted,
    );
    progress_message(&format!(
        "backlog-probe: {}; every socket closed",
        match end {
            hold::HoldEnd::Interrupted => "interrupted",
            hold::HoldEnd::DeadlineReached => "time is up",
        }
    ));
    ExitCode::SUCCESS
}

fn run_command(args: &RunArgs) -> Result<(), UsageError> {
    // The namespace belongs to this (main) thread and the threads it spawns later, so it comes
    // before anything else.
    let mut world = enter_world(&args.sysctls)?;
    let families: Vec<Family> = match args.family {
        FamilyChoice::Ipv4 => vec![Family::Ipv4],
        FamilyChoice::Ipv6 => vec![Family::Ipv6],
        FamilyChoice::Both => Family::ALL.to_vec(),
    };
    if args.family != FamilyChoice::Both {
        for &family in &families {
            if let Err(error) = experiment::family_available(family) {
                return Err(UsageError(format!(
                    "{family} loopback is unavailable here ({error}); try --family both to report it per case"
                )));
            }
        }
    }
    let (limit, budget) = budget::process_budget();
    if let (Some(limit), Some(total)) = (limit, budget.total()) {
        if total < MIN_USABLE_FDS {
            return Err(UsageError(format!(
                "file-descriptor limit {} (hard limit {}) is too low: backlog-probe needs at least {} more descriptors; raise it with `ulimit -n`",
                limit.soft,
                limit.hard,
                MIN_USABLE_FDS - total
            )));
        }
    }
    let backlogs = args
        .backlog
        .clone()
        .map_or_else(|| Backlog::DEFAULTS.to_vec(), |list| list.0);
    let specs = plan::matrix(&families, &backlogs);
    let settings = Settings {
        cap: args.cap,
        deadline_ms: args.deadline.map(|secs| secs * 1000),
    };
    let total = specs.len();
    let done = AtomicUsize::new(0);
    if !args.quiet {
        progress_message(&format!(
            "backlog-probe: running {total} cases (each takes about 1-2 s; they run concurrently)"
        ));
    }
    let progress = |event: run::RunEvent<'_>| match event {
        run::RunEvent::Finished(case) => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if !args.quiet {
                progress_message(&progress_line(n, total, case));
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
    let report = match world.as_mut() {
        Some(world) => world.counted(|| run::run_report(&specs, &settings, fanout, &progress)),
        None => run::run_report(&specs, &settings, fanout, &progress),
    };
    let report = crate::report::Report { world, ..report };
    let cut_short: Vec<&str> = report
        .cases
        .iter()
        .filter(|case| {
            case.overflow.kind == OverflowKind::Inconclusive
                && case
                    .overflow
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.contains("deadline"))
        })
        .map(|case| case.name.as_str())
        .collect();
    if !cut_short.is_empty() {
        progress_message(&format!(
            "backlog-probe: the {} s deadline ended {} case(s) early: {}",
            args.deadline.unwrap_or(0),
            cut_short.len(),
            cut_short.join(", ")
        ));
    }
    let format = match args.format {
        FormatChoice::Table => Format::Table,
        FormatChoice::Json => Format::Json,
        FormatChoice::Markdown => Format::Markdown,
    };
    write_stdout(&export::render(&report, format));
    Ok(())
}

/// The hidden `worker` subcommand: read a [`Job`](crate::fanout::Job) from stdin, run its
/// cases in this process, and write one [`Finished`](crate::fanout::Finished) line per case to
/// stdout as each ends.
fn worker_command() -> Result<(), UsageError> {
    let mut input = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut input)
        .map_err(|e| UsageError(format!("worker: could not read the job: {e}")))?;
    let job: crate::fanout::Job =
        serde_json::from_str(&input).map_err(|e| UsageError(format!("worker: not a job: {e}")))?;
    let specs: Vec<plan::CaseSpec> = job.cases.iter().map(|(_, spec)| *spec).collect();
    run::run_cases(&specs, &job.settings, &|position, obs| {
        let finished = crate::fanout::Finished {
            index: job.cases[position].0,
            case: CaseReport::from_observation(obs),
        };
        if let Ok(mut line) = serde_json::to_string(&finished) {
            line.push('\n');
            write_stdout(&line);
        }
    });
    Ok(())
}

/// Enter the world `--sysctl` asks for; `None` (the host) when there are no knobs.
fn enter_world(
    requests: &[crate::world::SysctlRequest],
) -> Result<Option<crate::world::World>, UsageError> {
    if requests.is_empty() {
        return Ok(None);
    }
    crate::world::World::enter(requests)
        .map(Some)
        .map_err(|e| UsageError(e.0))
}

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

/// Fold clap's multi-line error into one line: the error, then its hints, without the
/// "For more information" footer.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One line on stderr, prefixed with the program name.
pub(crate) fn report_error(message: &str) {
    progress_message(&format!("backlog-probe: {message}"));
}

/// A line on stderr; a closed stderr is ignored rather than a reason to panic.
pub(crate) fn progress_message(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn write_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_worker_subcommand_is_the_one_fanout_starts_and_is_hidden() {
        let cli = Cli::try_parse_from(["backlog-probe", crate::fanout::WORKER_SUBCOMMAND]).unwrap();
        assert!(matches!(cli.command, Command::Worker));
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("worker"), "{help}");
    }

    #[test]
    fn negative_backlogs_parse_with_and_without_equals() {
        let cli = Cli::try_parse_from(["backlog-probe", "run", "--backlog", "-1,5"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("parsed as run");
        };
        assert_eq!(
            args.backlog,
            Some(BacklogList(vec![Backlog::Value(-1), Backlog::Value(5)]))
        );
        assert!(Cli::try_parse_from(["backlog-probe", "run", "--backlog=-2147483648"]).is_ok());
    }

    #[test]
    fn clap_errors_fold_into_one_line() {
        let err = Cli::try_parse_from(["backlog-probe", "run", "--family", "ipv5"]).unwrap_err();
        let line = one_line(&err.render().to_string());
        assert!(!line.contains('\n'));
        assert!(line.starts_with("error: invalid value 'ipv5'"), "{line}");
        assert!(line.contains("possible values: ipv4, ipv6, both"), "{line}");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["backlog-probe", "run", "--backlog", "abc"][..],
            &["backlog-probe", "run", "--backlog", "99999999999"],
            &["backlog-probe", "run", "--cap", "0"],
            &["backlog-probe", "run", "--cap", "-3"],
            &["backlog-probe", "run", "--family", "ipv5"],
            &["backlog-probe", "run", "--format", "xml"],
            &["backlog-probe", "launch"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert!(err.use_stderr(), "{args:?}");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    /// A deterministic xorshift generator: the same junk on every run and every OS.
    fn junk_source(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Fuzz-style: thousands of argument lists built from real flags, real values and junk
    /// never panic the parser; a rejected list is a usage error (exit 2), never anything else.
    #[test]
    fn junk_arguments_never_panic_the_parser() {
        const WORDS: &[&str] = &[
            "run",
            "merge",
            "docs",
            "extras",
            "hold",
            "--family",
            "--backlog",
            "--format",
            "--cap",
            "--deadline",
            "--workers",
            "worker",
            "--quiet",
            "-q",
            "--for",
            "--reports",
            "--out",
            "ipv4",
            "ipv6",
            "both",
            "json",
            "table",
            "markdown",
            "somaxconn",
            "-1",
            "0",
            "5",
            "2147483647",
            "2147483648",
            "-2147483649",
            "i32::min",
            "1,,2",
            ",",
            "",
            "--",
            "=",
            "--backlog=-5",
            "--cap=0",
            "\u{0}",
            "é",
            "--help",
            "-V",
            "99999999999999999999",
        ];
        let mut next = junk_source(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let length = (next() % 7) as usize;
            let mut args = vec!["backlog-probe".to_string()];
            for _ in 0..length {
                let pick = next();
                if pick % 5 == 0 {
                    let bytes: Vec<u8> = (0..(next() % 12))
                        .map(|_| (next() % 95 + 32) as u8)
                        .collect();
                    args.push(String::from_utf8(bytes).unwrap());
                } else {
                    args.push(WORDS[(pick % WORDS.len() as u64) as usize].to_string());
                }
            }
            if let Err(e) = Cli::try_parse_from(&args) {
                let code = e.exit_code();
                assert!(code == 0 || code == 2, "{args:?}: exit {code}");
                assert!(!one_line(&e.render().to_string()).contains('\n'));
            }
        }
    }
}
