//! backlog-probe's project automation (the xtask pattern: `cargo xtask ...`, an alias in
//! `.cargo/config.toml`). See xtask/README.md.

mod debian;
mod experiments;
mod guest;
mod gvisor;
mod proc;
mod stacks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// backlog-probe's project automation.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    Stacks(stacks::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Task::Stacks(args) => stacks::main(args),
    }
}
