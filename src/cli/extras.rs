//! `backlog-probe extras`: UDP `listen()`, Unix-domain listeners, re-listen, runtime defaults
//! (Rust in this process, the runtime programs side by side).

use std::time::Duration;

use clap::{Args, ValueEnum};

use super::UsageError;
use super::interrupt;
use super::output::{progress_message, write_stdout};
use backlog_probe::experiment::budget::solo_budget;
use backlog_probe::experiment::extras;
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
    /// Runtime programs to start and measure, comma-separated: python, go, node, java,
    /// dotnet, ruby, php; `all` (the default) or `none`. Each one not installed is a row
    /// saying so. Rust std and tokio are measured in this process whatever this says.
    #[arg(long, value_name = "LIST", default_value = "all")]
    runtimes: String,
    /// Seconds each runtime program may take to print its listeners, instead of its own
    /// deadline (20 s; Java 45 s, Go 90 s, .NET 120 s: they compile first).
    #[arg(long, value_name = "SECONDS")]
    runtime_deadline: Option<f64>,
}

/// The runtime programs `list` names.
fn runtime_options(args: &ExtrasArgs) -> Result<extras::RuntimeOptions, UsageError> {
    let programs = match args.runtimes.trim() {
        "all" => extras::runtimes::PROGRAMS.iter().collect(),
        "none" | "" => Vec::new(),
        list => list
            .split(',')
            .map(|key| {
                extras::runtimes::program(key.trim()).ok_or_else(|| {
                    let known: Vec<&str> =
                        extras::runtimes::PROGRAMS.iter().map(|p| p.key).collect();
                    UsageError(format!(
                        "--runtimes: unknown runtime {key:?} (known: {}, or all, none)",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let start_deadline = match args.runtime_deadline {
        None => None,
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 => {
            Some(Duration::from_secs_f64(seconds))
        }
        Some(seconds) => {
            return Err(UsageError(format!(
                "--runtime-deadline: {seconds} is not a number of seconds between 0 and 3600"
            )));
        }
    };
    Ok(extras::RuntimeOptions {
        programs,
        start_deadline,
    })
}

/// Run the extra experiments and print their report.
pub fn run(args: &ExtrasArgs) -> Result<(), UsageError> {
    // A signal must not leave the Unix-domain sockets' private directories behind.
    if let Err(error) = interrupt::clean_up_and_exit() {
        progress_message(&format!(
            "backlog-probe: no signal handler ({error}): an interrupted run may leave its socket directories (bp-*) in the temporary directory"
        ));
    }
    let runtimes = runtime_options(args)?;
    progress_message("backlog-probe: running the extra experiments (a few seconds)");
    // One experiment group at a time: only a small margin of descriptors is kept back.
    let report = run::extras_report_with_runtimes(solo_budget(), &runtimes);
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
