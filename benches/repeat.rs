//! Repeat the default `backlog-probe run` (the release binary, as a user runs it) on a loaded
//! machine and check that every run gives the same stable results (the snapshot view: no
//! timings, ports or addresses).
//!
//! ```text
//! cargo bench --bench repeat -- 20 2     # 20 runs, 2 busy-spinning threads as load
//! ```
//!
//! Prints one line per run and a summary such as `20/20 runs identical`; exits 1 on any
//! difference, naming the case.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use backlog_probe::report::StableCase;

fn main() {
    let mut args = common::own_args().into_iter();
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let load: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);

    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..load)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut x: u64 = 1;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    std::hint::black_box(x);
                }
            })
        })
        .collect();

    let mut first: Option<Vec<StableCase>> = None;
    let mut identical = 0;
    let mut differences = Vec::new();
    for run_number in 1..=runs {
        let started = Instant::now();
        let (_, report) = common::timed_default_run();
        let setting = report.environment.somaxconn.setting;
        let stable: Vec<StableCase> = report
            .cases
            .iter()
            .map(|c| c.stable_view(setting))
            .collect();
        let same = match &first {
            None => {
                first = Some(stable);
                true
            }
            Some(reference) => {
                let mut same = true;
                for (a, b) in reference.iter().zip(&stable) {
                    if a != b {
                        same = false;
                        differences.push(format!("run {run_number}: {a:?} became {b:?}"));
                    }
                }
                same
            }
        };
        identical += usize::from(same);
        println!(
            "run {run_number:>2}/{runs}: {:.2} s, {}",
            started.elapsed().as_secs_f64(),
            if same { "identical" } else { "DIFFERENT" }
        );
    }
    stop.store(true, Ordering::Relaxed);
    for spinner in spinners {
        let _ = spinner.join();
    }
    println!("{identical}/{runs} runs identical with {load} busy threads as load");
    for difference in &differences {
        println!("{difference}");
    }
    if !differences.is_empty() {
        std::process::exit(1);
    }
}
