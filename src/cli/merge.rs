//! `backlog-probe merge`: several runners' reports in one cross-OS table.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::UsageError;
use super::output::write_stdout;
use backlog_probe::export::merge;
use backlog_probe::report::read::{DEFAULT_MAX_INPUT_BYTES, read_report};

/// Output format of `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MergeFormat {
    /// A Markdown comparison table plus each report's environment.
    Markdown,
    /// The reports as one JSON array.
    Json,
}

/// `backlog-probe merge` arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Report files written by `backlog-probe run --format json`.
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: MergeFormat,

    /// Refuse a report file larger than this many bytes (reports are regular files; FIFOs and
    /// devices are refused whatever the size).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_input_bytes: u64,
}

/// Read every report and print the comparison.
pub fn run(args: &MergeArgs) -> Result<(), UsageError> {
    let reports = args
        .reports
        .iter()
        .map(|path| read_report(path, args.max_input_bytes).map_err(|e| UsageError(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    write_stdout(&match args.format {
        MergeFormat::Markdown => merge::markdown(&reports),
        MergeFormat::Json => backlog_probe::export::json(&reports)
            .map_err(|e| UsageError(format!("cannot write the reports: {e}")))?,
    })?;
    Ok(())
}
