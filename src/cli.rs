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
#[command(name = "backlog-probe", version, propagate_version = true)]
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
    match cli.command {
        Command::Run(args) => match run_command(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(UsageError(message)) => {
                report_error(&format!("error: {message}"));
                ExitCode::from(2)
            }
        },
        Command::Burst(args) => match crate::burst_cli::burst_command(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                report_error(&format!("error: {message}"));
                ExitCode::from(2)
            }
        },
    }
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
    let settings = Settings { cap: args.cap };
    let total = specs.len();
    let done = AtomicUsize::new(0);
    if !args.quiet {
        progress_message(&format!(
            "backlog-probe: running {total} cases (each takes about 1-2 s; they run concurrently)"
        ));
    }
    let progress = |obs: &crate::observation::Observation| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if !args.quiet {
            let case = CaseReport::from_observation(obs);
            progress_message(&progress_line(n, total, &case));
        }
    };
    let report = match world.as_mut() {
        Some(world) => world.counted(|| run::run_report(&specs, &settings, &progress)),
        None => run::run_report(&specs, &settings, &progress),
    };
    let report = crate::report::Report { world, ..report };
    let format = match args.format {
        FormatChoice::Table => Format::Table,
        FormatChoice::Json => Format::Json,
        FormatChoice::Markdown => Format::Markdown,
    };
    write_stdout(&export::render(&report, format));
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
    fn negative_backlogs_parse_with_and_without_equals() {
        let cli = Cli::try_parse_from(["backlog-probe", "run", "--backlog", "-1,5"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("parsed as run")
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
}
