//! `backlog-probe hold`: a loopback listener kept full until Ctrl-C or `--for SECS`.

use std::process::ExitCode;

use clap::Args;

use super::UsageError;
use super::args::FamilyArg;
use super::interrupt;
use super::output::{Delivered, progress_message, report_error, write_stdout};
use backlog_probe::classify::extras::{FillCut, fill_cut};
use backlog_probe::experiment::budget::solo_budget;
use backlog_probe::experiment::hold;
use backlog_probe::export::text::fill_cut_text;
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

    /// Accept (and close at once) one queued connection every MS milliseconds instead of
    /// never: a slow server, whose queue drains at a known rate (1..=3600000).
    #[arg(long, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    accept_every: Option<u64>,
}

/// Exit 0 after Ctrl-C, the deadline, or its reader going away; 1 when the queue could not be
/// filled; 2 when stdout cannot be written.
pub fn run(args: &HoldArgs) -> ExitCode {
    if let Err(error) = interrupt::catch() {
        report_error(&format!(
            "error: cannot install the Ctrl-C handler: {error}"
        ));
        return ExitCode::FAILURE;
    }
    // One experiment in a process that opens little else: only a small margin is kept back,
    // so a small backlog works under a small descriptor limit.
    let full = match hold::full_listener(args.family.into(), args.backlog, solo_budget()) {
        Ok(full) => full,
        Err(error) => {
            report_error(&format!("error: {}", hold_error_text(&error)));
            return ExitCode::FAILURE;
        }
    };
    let stop = match &full.fill.os_error {
        Some(error) => format!("{} ({error})", full.fill.stop.as_str()),
        None => full.fill.stop.as_str().to_string(),
    };
    match write_stdout(&format!("{}\n", full.address)) {
        Ok(Delivered::All) => {}
        Ok(Delivered::ReaderGone) => {
            progress_message("backlog-probe: stdout was closed; every socket closed");
            return ExitCode::SUCCESS;
        }
        Err(UsageError(message)) => {
            report_error(&format!("error: {message}"));
            return ExitCode::from(2);
        }
    }
    let accepting = args.accept_every.map_or_else(
        || "never accepted".to_string(),
        |ms| format!("accepting one every {ms} ms"),
    );
    progress_message(&format!(
        "backlog-probe: listening on {} with listen({}); {} connections queued, {accepting}; \
         the next connect was {stop}. Holding {}; Ctrl-C to stop.",
        full.address,
        args.backlog,
        full.clients(),
        args.for_secs
            .map_or_else(|| "until interrupted".to_string(), |s| format!("for {s} s")),
    ));
    let outcome = hold::hold_until(
        full,
        args.for_secs.map(std::time::Duration::from_secs),
        args.accept_every.map(std::time::Duration::from_millis),
        &|| {
            if interrupt::interrupted() {
                Some(hold::HoldEnd::Interrupted)
            } else if sys::stdout_reader_gone() {
                Some(hold::HoldEnd::ReaderGone)
            } else {
                None
            }
        },
    );
    let accepted = if args.accept_every.is_some() {
        format!("; {} connections accepted", outcome.accepted)
    } else {
        String::new()
    };
    progress_message(&format!(
        "backlog-probe: {}{accepted}; every socket closed",
        match outcome.end {
            hold::HoldEnd::Interrupted => "interrupted",
            hold::HoldEnd::DeadlineReached => "time is up",
            hold::HoldEnd::ReaderGone => "stdout was closed",
        }
    ));
    ExitCode::SUCCESS
}

/// Why the listener could not be held, naming the limit that stopped the fill where one did.
fn hold_error_text(error: &hold::HoldError) -> String {
    match error {
        hold::HoldError::NotFull(fill) => match fill_cut(fill) {
            Some(FillCut::FdLimit(limit)) => format!(
                "the file-descriptor limit {} (hard {}) let the fill hold {} descriptors: it stopped after {} connections, before the queue was full; raise it with `ulimit -n` or lower --backlog",
                limit.soft, limit.hard, limit.descriptors, fill.queue_length
            ),
            _ => format!(
                "could not fill the queue: {}",
                fill_cut_text(fill).unwrap_or_else(|| fill.stop.as_str().to_string())
            ),
        },
        other => other.to_string(),
    }
}
