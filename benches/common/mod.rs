//! What both benchmarks share: the binary under test, one default run of it, and their own
//! arguments.

use std::process::{Command, Stdio};
use std::time::Instant;

use backlog_probe::report::Report;

/// The binary under test, built by `cargo bench` in the bench (release) profile.
pub const BINARY: &str = env!("CARGO_BIN_EXE_backlog-probe");

/// One default `backlog-probe run --format json`: the seconds it took (without reading the
/// report) and the report.
pub fn timed_default_run() -> (f64, Report) {
    let started = Instant::now();
    let output = Command::new(BINARY)
        .args(["run", "--quiet", "--format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .expect("backlog-probe starts");
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "backlog-probe run failed");
    let report = serde_json::from_slice(&output.stdout).expect("a JSON report");
    (seconds, report)
}

/// The benchmark's own arguments: `cargo bench` adds `--bench`, the rest come after `--`.
pub fn own_args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}
