//! The command line (binary only): argument parsing, one module per subcommand, progress on
//! stderr, the report on stdout, exit codes.
//!
//! Exit codes: 0 when the report was produced, whatever the OS did; 2 for bad arguments or an
//! environment the run cannot use (one line on stderr, never a panic); `hold` exits 1 when it
//! cannot fill its queue.

mod args;
mod burst;
mod extras;
mod hold;
mod interrupt;
mod listeners;
mod merge;
mod output;
mod run;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use backlog_probe::netns::{SysctlRequest, World};
use output::report_error;

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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the experiments and print a report.
    Run(run::RunArgs),
    /// Connect many clients at once to a listener that does not accept, and report what each
    /// one got: accepted, half-open, reset, refused, still pending.
    Burst(burst::BurstArgs),
    /// Beyond one TCP listen(): UDP, Unix-domain listeners, listen() twice, runtime defaults.
    Extras(extras::ExtrasArgs),
    /// Bind a loopback listener, fill its queue, print its address, and keep it full until
    /// Ctrl-C or --for SECS (or drain it one connection every --accept-every MS).
    Hold(hold::HoldArgs),
    /// List this machine's TCP listeners (this network namespace on Linux): each one's
    /// accept queue, the limit the kernel stored and why (the somaxconn clamp), its owner where
    /// visible; with --watch, the highest queues and the overflow counters over a window.
    /// Read-only: it connects to nothing.
    Listeners(listeners::ListenersArgs),
    /// Combine reports from several machines (`run --format json` output) into one
    /// cross-OS table.
    Merge(merge::MergeArgs),
    /// Moved: the pages of docs/ are written by the workspace's own tool, `cargo run -p
    /// docs-gen`. Kept hidden so that the old command says where it went.
    #[command(hide = true)]
    Docs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// Internal: run a share of `run`'s cases for a parent `backlog-probe run` (a job as JSON on
    /// stdin, one finished case per line on stdout). See the `run::workers` module.
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

/// A problem with the arguments or environment: one line, exit 2.
struct UsageError(String);

/// Parse arguments from the process and run.
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
        Command::Run(args) => run::run(&args),
        Command::Burst(args) => burst::run(&args),
        Command::Extras(args) => extras::run(&args),
        Command::Hold(args) => return hold::run(&args),
        Command::Listeners(args) => listeners::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Docs { .. } => Err(UsageError(
            "`docs` moved out of backlog-probe: in a checkout, run `cargo run -p docs-gen -- --reports docs/data --out docs`"
                .to_string(),
        )),
        Command::Worker(args) => worker::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(UsageError(message)) => {
            report_error(&format!("error: {message}"));
            ExitCode::from(2)
        }
    }
}

/// Enter the world `--sysctl` asks for; `None` (the host) when there are no knobs. Call on the
/// main thread before anything spawns a thread.
fn enter_world(requests: &[SysctlRequest]) -> Result<Option<World>, UsageError> {
    if requests.is_empty() {
        return Ok(None);
    }
    World::enter(requests)
        .map(Some)
        .map_err(|e| UsageError(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use backlog_probe::plan::Backlog;
    use backlog_probe::run::workers;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_worker_subcommand_is_the_one_run_starts_and_is_hidden() {
        let cli = Cli::try_parse_from(["backlog-probe", workers::WORKER_SUBCOMMAND]).unwrap();
        assert!(matches!(cli.command, Command::Worker(_)));
        let cli = Cli::try_parse_from([
            "backlog-probe",
            workers::WORKER_SUBCOMMAND,
            workers::MAX_JOB_BYTES_FLAG,
            "120",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Worker(_)));
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
            Some(args::BacklogList(vec![
                Backlog::Value(-1),
                Backlog::Value(5)
            ]))
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
            &["backlog-probe", "burst", "--family", "both"],
            &[
                "backlog-probe",
                "hold",
                "--backlog",
                "1",
                "--family",
                "both",
            ],
            &["backlog-probe", "launch"],
            &["backlog-probe", "listeners", "--watch", "0"],
            &["backlog-probe", "listeners", "--watch", "-1"],
            &["backlog-probe", "listeners", "--watch", "99999999"],
            &["backlog-probe", "listeners", "--watch", "ten"],
            &["backlog-probe", "listeners", "--interval", "100"],
            &[
                "backlog-probe",
                "listeners",
                "--watch",
                "1",
                "--interval",
                "0",
            ],
            &["backlog-probe", "listeners", "--port", "0"],
            &["backlog-probe", "listeners", "--port", "70000"],
            &["backlog-probe", "listeners", "--pid", "x"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert!(err.use_stderr(), "{args:?}");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
