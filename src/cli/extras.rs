//! `backlog-probe extras`: UDP `listen()`, Unix-domain listeners, re-listen, runtime defaults.

use clap::{Args, ValueEnum};

use super::UsageError;
use super::interrupt;
use super::output::{progress_message, write_stdout};
use backlog_probe::experiment::budget::solo_budget;
use backlog_probe::export;
use backlog_probe::run;

/// Output format of `extras`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtrasFormat {
    /// Plain text.
    Table,
    /// JSON (crate docs, module `report::extras`, "Wire format").
    Json,
}

/// `backlog-probe extras` arguments.
#[derive(Debug, Args)]
pub struct ExtrasArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ExtrasFormat,
}

/// Run the extra experiments and print their report.
pub fn run(args: &ExtrasArgs) -> Result<(), UsageError> {
    // A signal must not leave the Unix-domain sockets' private directories behind.
    if let Err(error) = interrupt::clean_up_and_exit() {
        progress_message(&format!(
            "backlog-probe: no signal handler ({error}): an interrupted run may leave its socket directories (bp-*) in the temporary directory"
        ));
    }
    progress_message("backlog-probe: running the extra experiments (a few seconds)");
    // One experiment at a time: only a small margin of descriptors is kept back.
    let report = run::extras_report_with(solo_budget());
    for default in &report.runtime_defaults {
        if let Some(detail) = &default.detail {
            progress_message(&format!("backlog-probe: {}: {detail}", default.api));
        }
    }
    write_stdout(&match args.format {
        ExtrasFormat::Table => export::extras::render(&report),
        ExtrasFormat::Json => export::json(&report)
            .map_err(|e| UsageError(format!("cannot write the report: {e}")))?,
    })?;
    Ok(())
}
