//! `backlog-probe burst`: many clients at once against a listener that does not accept.

use clap::{Args, ValueEnum};

use super::UsageError;
use super::args::FamilyArg;
use super::output::{progress_message, write_stdout};
use backlog_probe::experiment;
use backlog_probe::export;
use backlog_probe::netns::SysctlRequest;
use backlog_probe::observation::burst::{BurstSetupStep, BurstSpec};
use backlog_probe::plan::Family;
use backlog_probe::run;

/// Output format of a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BurstFormat {
    /// Aligned text for a terminal.
    Table,
    /// JSON (documented in the crate docs, module `report::burst`).
    Json,
}

/// `backlog-probe burst` arguments.
#[derive(Debug, Args)]
pub struct BurstArgs {
    /// The backlog passed to listen() (negative allowed: --backlog=-1).
    #[arg(long, allow_hyphen_values = true, default_value_t = 5)]
    backlog: i32,

    /// Clients that connect at once.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,

    /// Address family.
    #[arg(long, value_enum, default_value = "ipv4")]
    family: FamilyArg,

    /// Connecting, watching and probing end within this many seconds; the accept passes after
    /// them take at most 4 s more.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    deadline: u64,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: BurstFormat,

    /// Run in a private network namespace with this knob set (repeatable); Linux, root.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    sysctls: Vec<SysctlRequest>,

    /// No progress line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Run a burst and print its report.
pub fn run(args: &BurstArgs) -> Result<(), UsageError> {
    // The namespace must be entered on this thread before the burst spawns its threads.
    let world = super::enter_world(&args.sysctls)?;
    let family = Family::from(args.family);
    if let Err(error) = experiment::family_available(family) {
        return Err(UsageError(format!(
            "{family} loopback is unavailable here ({error})"
        )));
    }
    let spec = BurstSpec {
        family,
        backlog: args.backlog,
        clients: args.clients,
        deadline_ms: args.deadline * 1000,
    };
    if !args.quiet {
        progress_message(&format!(
            "backlog-probe: burst of {} clients against backlog {} ({family})",
            spec.clients, spec.backlog
        ));
    }
    let report = run::burst_report(spec, world);
    match &report.setup_error {
        Some((BurstSetupStep::FdBudget, _)) => {
            let limit = report
                .environment
                .fd_limit
                .map_or_else(String::new, |limit| {
                    format!(" (fd limit {}, hard {})", limit.soft, limit.hard)
                });
            return Err(UsageError(format!(
                "{} clients need more file descriptors than this process may open{limit}; lower --clients or raise `ulimit -n`",
                spec.clients
            )));
        }
        Some((BurstSetupStep::Threads, error)) => {
            let error = error
                .as_ref()
                .map_or_else(String::new, |e| format!(" ({e})"));
            return Err(UsageError(format!(
                "could not start the burst's connect threads{error}: a thread or process limit (`ulimit -u`, a container's pids limit) or the address-space limit (`ulimit -v`) is too low; no client connected"
            )));
        }
        _ => {}
    }
    write_stdout(&match args.format {
        BurstFormat::Table => export::burst::table(&report),
        BurstFormat::Json => export::json(&report)
            .map_err(|e| UsageError(format!("cannot write the report: {e}")))?,
    })?;
    Ok(())
}
