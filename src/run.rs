//! Runs cases concurrently within the process's descriptor budget.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::budget;
use crate::environment::Environment;
use crate::experiment;
use crate::observation::{Observation, Setup};
use crate::plan::{CaseSpec, Settings};
use crate::report::{CaseReport, Report, SCHEMA_VERSION, Tool};

/// At most this many cases run at once. Each case is one thread that mostly waits, so this
/// bounds threads for long user-given lists rather than CPU.
const MAX_CONCURRENT_CASES: usize = 64;

/// Run every case; cases run concurrently, the connects inside a case stay sequential.
/// `on_done` is called from worker threads as each case finishes (for progress output).
pub fn run_cases(
    specs: &[CaseSpec],
    settings: &Settings,
    on_done: &(dyn Fn(&Observation) + Sync),
) -> Vec<Observation> {
    let (_, budget) = budget::process_budget();
    let deadline = settings
        .deadline_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Observation>>> = Mutex::new(vec![None; specs.len()]);
    let workers = specs.len().clamp(1, MAX_CONCURRENT_CASES);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(index) else { break };
                    let obs = if deadline.is_some_and(|d| Instant::now() >= d) {
                        Observation::empty(*spec, Setup::NotRun)
                    } else {
                        experiment::run_case_until(*spec, settings, budget, deadline)
                    };
                    on_done(&obs);
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(obs);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Run every case and build the report.
pub fn run_report(
    specs: &[CaseSpec],
    settings: &Settings,
    on_done: &(dyn Fn(&Observation) + Sync),
) -> Report {
    let environment = Environment::detect();
    let observations = run_cases(specs, settings, on_done);
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        environment,
        settings: *settings,
        cases: observations
            .iter()
            .map(CaseReport::from_observation)
            .collect(),
        world: None,
    };
    crate::predict::annotate(&mut report);
    report
}
