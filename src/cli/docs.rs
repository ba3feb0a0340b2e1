//! `backlog-probe docs`: regenerate `docs/` from report files.

use std::path::PathBuf;

use clap::Args;

use super::UsageError;
use super::output::progress_message;

/// `backlog-probe docs` arguments.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Directory holding report-*.json files (from `run --format json`) and, optionally,
    /// extras-*.json files (from `extras --format json`).
    #[arg(long, value_name = "DIR", default_value = "docs/data")]
    reports: PathBuf,

    /// Directory to write the documentation into.
    #[arg(long, value_name = "DIR", default_value = "docs")]
    out: PathBuf,
}

/// Regenerate the pages and name each file written.
pub fn run(args: &DocsArgs) -> Result<(), UsageError> {
    let written = backlog_probe::docs::regenerate(&args.reports, &args.out)
        .map_err(|error| UsageError(error.to_string()))?;
    for path in written {
        progress_message(&format!("backlog-probe: wrote {}", path.display()));
    }
    Ok(())
}
