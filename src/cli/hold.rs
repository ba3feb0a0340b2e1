//! `backlog-probe hold`: a loopback listener kept full until Ctrl-C or `--for SECS`.

use std::process::ExitCode;

use clap::Args;

use super::args::FamilyArg;
use super::output::{progress_message, report_error, write_stdout};
use backlog_probe::experiment::budget::process_budget;
use backlog_probe::experiment::hold;
use backlog_probe::os_error::OsError;
use backlog_probe::sys;

/// `backlog-probe hold` arguments.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The backlog passed to listen() (negative allowed: --backlog=-1).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    backlog: i32,

    /// Loopback family.
    #[arg(long, value_enum, default_value = "ipv4")]
    family: FamilyArg,

    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long = "for", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(0..=86_400 * 365))]
    for_secs: Option<u64>,
}

/// Exit 0 after Ctrl-C or the deadline, 1 when the queue could not be filled.
pub fn run(args: &HoldArgs) -> ExitCode {
    if let Err(error) = sys::install_interrupt_handler() {
        report_error(&format!(
            "error: cannot install the Ctrl-C handler: {}",
            OsError::from_io(&error).map_or_else(|| error.to_string(), |e| e.to_string())
        ));
        return ExitCode::FAILURE;
    }
    let full = match hold::full_listener(args.family.into(), args.backlog, process_budget()) {
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
    let _ = write_stdout(&format!("{}\n", full.address));
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
        &sys::interrupted,
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
