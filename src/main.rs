//! `backlog-probe`: see `backlog-probe --help` and the crate documentation.

fn main() -> std::process::ExitCode {
    backlog_probe::cli::main()
}
