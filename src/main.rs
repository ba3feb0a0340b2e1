//! `backlog-probe`: see `backlog-probe --help` and the crate documentation. The command line
//! lives in the binary ([`cli`]); everything it runs is the library's.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
