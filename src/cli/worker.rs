//! The hidden `worker` subcommand: a share of a parent `run`'s cases (see
//! `backlog_probe::run::workers`).

use clap::Args;

use super::UsageError;
use super::output::progress_message;
use backlog_probe::report::read::DEFAULT_MAX_INPUT_BYTES;
use backlog_probe::run::workers;

/// `backlog-probe worker` arguments.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Read at most this many bytes of job (the parent passes the job's exact length).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_input_bytes: u64,
}

/// Read the job on stdin, run it, and write one line per finished case on stdout.
pub fn run(args: &WorkerArgs) -> Result<(), UsageError> {
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
