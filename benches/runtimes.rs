//! Times `backlog-probe extras` with every runtime program this machine has (the release
//! binary, as a user runs it): the whole command, and with `--runtimes none` the part that is
//! not the runtime programs, so the difference is what starting and measuring them costs.
//!
//! ```text
//! cargo bench --features tokio --bench runtimes          # 5 runs of each
//! cargo bench --features tokio --bench runtimes -- 10    # 10 runs of each
//! ```
//!
//! Prints every run, then the median and the slowest of each, and which runtimes were measured,
//! skipped or failed in the last full run. The target is under 15 s for the whole command on the
//! development machine (2 cores): the programs start at once, so a JVM's start is paid once,
//! beside the others, not after them.

// The default-run helper there is the other benchmarks'.
#[allow(dead_code)]
mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use backlog_probe::observation::extras::MeasureStatus;
use backlog_probe::report::extras::ExtrasReport;

use common::BINARY;

/// One `extras --format json` with `runtimes`: its seconds and its report.
fn timed_extras(runtimes: &str) -> (f64, ExtrasReport) {
    let started = Instant::now();
    let output = Command::new(BINARY)
        .args(["extras", "--format", "json", "--runtimes", runtimes])
        .stderr(Stdio::null())
        .output()
        .expect("backlog-probe starts");
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "backlog-probe extras failed");
    let report = serde_json::from_slice(&output.stdout).expect("a JSON report");
    (seconds, report)
}

/// The median and the largest of `values`.
fn median_and_max(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[values.len() - 1])
}

fn main() {
    let runs: usize = common::own_args()
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut last = None;
    let mut groups = Vec::new();
    for runtimes in ["all", "none"] {
        let mut seconds = Vec::new();
        for run in 1..=runs {
            let (took, report) = timed_extras(runtimes);
            println!("extras --runtimes {runtimes}: run {run}: {took:.2} s");
            seconds.push(took);
            if runtimes == "all" {
                last = Some(report);
            }
        }
        let (median, max) = median_and_max(&mut seconds);
        groups.push((runtimes, median, max));
    }
    for (runtimes, median, max) in &groups {
        println!(
            "extras --runtimes {runtimes}: median {median:.2} s, slowest {max:.2} s ({runs} runs)"
        );
    }
    if let Some(report) = last {
        let mut by_status: Vec<(MeasureStatus, Vec<String>)> = Vec::new();
        for row in report
            .runtime_defaults
            .iter()
            .filter(|r| r.runtime.is_some())
        {
            let key = row.runtime.clone().unwrap_or_default();
            match by_status.iter_mut().find(|(s, _)| *s == row.status) {
                Some((_, keys)) if keys.contains(&key) => {}
                Some((_, keys)) => keys.push(key),
                None => by_status.push((row.status, vec![key])),
            }
        }
        for (status, keys) in by_status {
            println!("runtimes {}: {}", status.as_str(), keys.join(", "));
        }
        for (runtime, version) in &report.runtime_versions {
            println!("  {runtime}: {version}");
        }
    }
}
