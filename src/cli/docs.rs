//! `backlog-probe docs`: regenerate `docs/` from report files.

use std::path::PathBuf;

use clap::Args;

use super::UsageError;
use super::output::progress_message;
use backlog_probe::report::read::DEFAULT_MAX_INPUT_BYTES;

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

    /// Refuse a report file larger than this many bytes (reports are regular files; FIFOs and
    /// devices are refused whatever the size).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_input_bytes: u64,
}

/// Regenerate the pages and name each file written.
pub fn run(args: &DocsArgs) -> Result<(), UsageError> {
    let written =
        backlog_probe::docs::regenerate_bounded(&args.reports, &args.out, args.max_input_bytes)
            .map_err(|error| UsageError(error.to_string()))?;
    for path in written {
        progress_message(&format!("backlog-probe: wrote {}", path.display()));
    }
    Ok(())
}
