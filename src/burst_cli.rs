//! The `burst` subcommand: arguments, the optional world, and output.

use clap::{Args, ValueEnum};

use crate::burst_report::BurstReport;
use crate::environment::Environment;
use crate::experiment::burst::{self, BurstSpec};
use crate::plan::Family;
use crate::world::{SysctlRequest, World};

/// Which loopback family a burst uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BurstFamily {
    /// 127.0.0.1.
    Ipv4,
    /// ::1.
    Ipv6,
}

/// Output format of a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BurstFormat {
    /// Aligned text for a terminal.
    Table,
    /// JSON (documented in the crate docs, module `burst_report`).
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
    family: BurstFamily,

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

/// Run a burst; `Err` is a one-line usage error (exit 2).
pub fn burst_command(args: &BurstArgs) -> Result<(), String> {
    // The namespace must be entered on this thread before the burst spawns its threads.
    let mut world = if args.sysctls.is_empty() {
        None
    } else {
        Some(World::enter(&args.sysctls).map_err(|e| e.0)?)
    };
    let family = match args.family {
        BurstFamily::Ipv4 => Family::Ipv4,
        BurstFamily::Ipv6 => Family::Ipv6,
    };
    if let Err(error) = crate::experiment::family_available(family) {
        return Err(format!("{family} loopback is unavailable here ({error})"));
    }
    let spec = BurstSpec {
        family,
        backlog: args.backlog,
        clients: args.clients,
        deadline_ms: args.deadline * 1000,
    };
    if !args.quiet {
        crate::cli::progress_message(&format!(
            "backlog-probe: burst of {} clients against backlog {} ({family})",
            spec.clients, spec.backlog
        ));
    }
    let environment = Environment::detect();
    let observation = match world.as_mut() {
        Some(world) => world.counted(|| burst::run_burst(spec)),
        None => burst::run_burst(spec),
    };
    if let Some(("fd_budget", _)) = observation
        .setup_error
        .as_ref()
        .map(|(s, e)| (s.as_str(), e))
    {
        return Err(format!(
            "{} clients need more file descriptors than this process may open; lower --clients or raise `ulimit -n`",
            spec.clients
        ));
    }
    let report = BurstReport::new(observation, environment, world);
    crate::cli::write_stdout(&match args.format {
        BurstFormat::Table => report.to_table(),
        BurstFormat::Json => report.to_json(),
    });
    Ok(())
}
