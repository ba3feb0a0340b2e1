//! Times the default `backlog-probe run` against the naive baseline in `naive_probe.rs`, in one
//! process, and reports the ratio, peak file descriptors and peak memory.
//!
//! ```text
//! cargo run --release --example bench            # 3 runs of backlog-probe, 1 of the baseline
//! cargo run --release --example bench -- 5 skip  # 5 runs, no baseline
//! ```
//!
//! The baseline takes about 45 s: every case ends only when one connect times out after 3 s.

#[path = "naive_probe.rs"]
mod naive_probe;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backlog_probe::plan::{self, Backlog, Family, Settings};
use backlog_probe::run;

/// Open descriptors of this process, where the OS lists them (Linux: /proc/self/fd).
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count())
}

/// Peak resident memory (Linux: VmHWM in /proc/self/status), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let skip_baseline = args.next().as_deref() == Some("skip");

    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(n) = open_fds() {
                    peak.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let specs = plan::matrix(&Family::ALL, &Backlog::DEFAULTS);
    let mut times = Vec::new();
    let mut largest_queue = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let report = run::run_report(&specs, &Settings::default(), &|_| {});
        times.push(started.elapsed().as_secs_f64());
        largest_queue = report
            .cases
            .iter()
            .filter_map(|c| c.queue_length)
            .max()
            .unwrap_or(0)
            .max(largest_queue);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "backlog-probe run (default matrix, {} cases): median {median:.2} s over {runs} runs (min {:.2}, max {:.2})",
        specs.len(),
        times[0],
        times[times.len() - 1]
    );
    match open_fds() {
        Some(_) => println!(
            "peak open descriptors {} (largest case queued {largest_queue}; the budget admits cases while they fit)",
            peak.load(Ordering::Relaxed)
        ),
        None => println!("peak open descriptors: not available on this OS"),
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory {mib:.1} MiB");
    }
    if skip_baseline {
        return;
    }
    let started = Instant::now();
    let rows = naive_probe::run_all();
    let baseline = started.elapsed().as_secs_f64();
    println!(
        "naive baseline (one case at a time, {} s deadline per connect): {baseline:.2} s for {} cases",
        naive_probe::CONNECT_DEADLINE.as_secs(),
        rows.len()
    );
    println!("ratio: {:.3} of the baseline", median / baseline);
}
