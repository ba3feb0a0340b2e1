//! The hidden `worker` subcommand: a share of a parent `run`'s cases (see
//! `backlog_probe::run::workers`).

use super::UsageError;
use super::output::progress_message;
use backlog_probe::run::workers;

/// Read the job on stdin, run it, and write one line per finished case on stdout.
pub fn run() -> Result<(), UsageError> {
    let shortfall =
        workers::serve(std::io::stdin().lock(), std::io::stdout()).map_err(UsageError)?;
    if let Some(shortfall) = shortfall {
        progress_message(&format!("backlog-probe: worker: {shortfall}"));
    }
    Ok(())
}
