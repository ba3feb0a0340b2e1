//! `docs-gen`: regenerate `docs/` from report files (`cargo run -p docs-gen -- --reports
//! docs/data --out docs`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use backlog_probe::report::read::DEFAULT_MAX_INPUT_BYTES;

/// Regenerate backlog-probe's docs/ (results.md, answers.md, queue-length.svg) from report JSON
/// files.
#[derive(Debug, Parser)]
#[command(
    name = "docs-gen",
    version,
    after_help = "Example:\n  cargo run -p docs-gen -- --reports docs/data --out docs"
)]
struct DocsArgs {
    /// Directory holding report-*.json files (from `run --format json`) and, optionally,
    /// extras-*.json files (from `extras --format json`) and the stack runner's files.
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

/// One line on stderr, never split (progress and errors alike).
fn say(line: &str) {
    eprintln!("docs-gen: {}", line.replace(['\n', '\r'], " "));
}

fn main() -> ExitCode {
    let args = match DocsArgs::try_parse() {
        Ok(args) => args,
        // Help and version go to stdout with exit 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let lines: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
                .collect();
            say(&lines.join("; "));
            return ExitCode::from(2);
        }
    };
    match docs_gen::regenerate_bounded(&args.reports, &args.out, args.max_input_bytes) {
        Ok(written) => {
            for path in written {
                say(&format!("wrote {}", path.display()));
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            say(&format!("error: {error}"));
            ExitCode::from(2)
        }
    }
}
