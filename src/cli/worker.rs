//! The hidden `worker` subcommand: a share of a parent `run`'s cases (see
//! `backlog_probe::run::workers`).

use std::time::Duration;

use clap::Args;

use super::UsageError;
use super::output::progress_message;
use backlog_probe::report::read::DEFAULT_MAX_INPUT_BYTES;
use backlog_probe::run::workers;
use backlog_probe::sys;

/// `backlog-probe worker` arguments.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Read at most this many bytes of job (the parent passes the job's exact length).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_input_bytes: u64,
}

/// How often a worker looks for its parent.
const PARENT_POLL: Duration = Duration::from_millis(100);

/// Make this worker end when its parent `run` does, whatever killed the parent: the kernel's
/// death signal where there is one (Linux), and everywhere a thread that ends the process once
/// the parent's end of stdout closes or (Unix) the parent id is no longer the one the parent
/// passed. An orphan has no one to report to, so it exits silently.
fn die_with_parent() {
    let _ = sys::die_with_parent();
    let expected: Option<u32> = std::env::var(workers::PARENT_ENV)
        .ok()
        .and_then(|pid| pid.parse().ok());
    let orphaned = move || {
        sys::stdout_reader_gone()
            || matches!((expected, sys::parent_pid()), (Some(parent), Some(now)) if parent != now)
    };
    // A parent that died before the death signal was asked for is caught here.
    if orphaned() {
        std::process::exit(EXIT_ORPHANED);
    }
    // Without the thread (a thread limit), the Linux death signal still applies, and elsewhere
    // the worker's cases end on their own deadlines.
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(PARENT_POLL);
                if orphaned() {
                    std::process::exit(EXIT_ORPHANED);
                }
            }
        });
}

/// The exit status of a worker whose parent went away (nobody reads it).
const EXIT_ORPHANED: i32 = 3;

/// Read the job on stdin, run it, and write one line per finished case on stdout.
pub fn run(args: &WorkerArgs) -> Result<(), UsageError> {
    die_with_parent();
    let shortfall = workers::serve(
        std::io::stdin().lock(),
        std::io::stdout(),
        args.max_input_bytes,
    )
    .map_err(UsageError)?;
    if let Some(shortfall) = shortfall {
        progress_message(&format!("backlog-probe: worker: {shortfall}"));
    }
    Ok(())
}
