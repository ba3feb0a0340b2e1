//! Running experiments into reports: the orchestration every subcommand shares.
//!
//! - [`run_report`]: `run`'s cases, concurrently within the process's descriptor budget, and
//!   across [`workers`] processes when one budget cannot hold them all at once; then the
//!   report with its environment and the model's predictions.
//! - [`burst_report`] and [`extras_report`]: one burst, and the extra experiments, with their
//!   environment.
//!
//! Each goes experiment → observation → classify → report; rendering is the caller's
//! ([`crate::export`]). A world (`--sysctl`) is entered by the caller before any of these, on
//! the main thread (see [`crate::netns`]).

// Harness plumbing: the worker protocol between the binary and its own worker processes.
#[doc(hidden)]
pub mod workers;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::environment::Environment;
use crate::experiment::budget::{FdBudget, process_budget};
use crate::experiment::{burst, extras, tcp};
use crate::netns::World;
use crate::observation::burst::BurstSpec;
use crate::observation::tcp::{Observation, Setup};
use crate::os_error::{OsError, os_error_of};
use crate::plan::{CaseSpec, Settings};
use crate::report::burst::BurstReport;
use crate::report::extras::ExtrasReport;
use crate::report::{CaseReport, Report, SCHEMA_VERSION, Stability, Tool};

/// At most this many cases run at once. Each case is one thread that mostly waits, so this
/// bounds threads for long user-given lists rather than CPU.
const MAX_CONCURRENT_CASES: usize = 64;

/// Where cases run.
#[derive(Debug, Clone, Copy)]
pub enum Fanout<'a> {
    /// All in this process, within its descriptor budget (cases that do not fit wait their turn).
    InProcess,
    /// In up to `max_workers` worker processes of `program` (the `backlog-probe` binary) when
    /// the estimated descriptor needs exceed this process's budget; in this process otherwise.
    Workers {
        /// The binary to start workers from.
        program: &'a Path,
        /// At most this many workers; 1 keeps every case in this process.
        max_workers: usize,
    },
}

/// Fewer threads than planned could be started (a thread or process limit such as `ulimit -u`
/// or a container's pids limit, or too little address space for their stacks). Nothing is lost:
/// the threads that did start, and the calling thread, run every case; fewer run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadShortfall {
    /// Threads running cases, the calling thread included.
    pub running: usize,
    /// Threads the run wanted.
    pub wanted: usize,
    /// The error of the first thread that could not start.
    pub error: OsError,
}

impl std::fmt::Display for ThreadShortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could start only {} of {} case threads ({}): the cases run {} at a time",
            self.running, self.wanted, self.error, self.running
        )
    }
}

/// What [`run_cases`] returns: one observation per spec, in plan order, and whether it had to
/// make do with fewer threads.
#[derive(Debug, Clone)]
pub struct CasesRun {
    /// One per spec, in plan order.
    pub observations: Vec<Observation>,
    /// Set when not every planned thread could start.
    pub shortfall: Option<ThreadShortfall>,
}

/// Run every case in this process; cases run concurrently, the connects inside a case stay
/// sequential. `on_done` is called from worker threads with the case's index as each case
/// finishes (for progress output). Thread starts are fallible: the calling thread runs cases
/// too, so every case runs even when no other thread can start.
pub fn run_cases(
    specs: &[CaseSpec],
    settings: &Settings,
    on_done: &(dyn Fn(usize, &Observation) + Sync),
) -> CasesRun {
    let budget = process_budget();
    let deadline = settings
        .deadline_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Observation>>> = Mutex::new(vec![None; specs.len()]);
    let wanted = specs.len().clamp(1, MAX_CONCURRENT_CASES);
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(spec) = specs.get(index) else { break };
            let obs = if deadline.is_some_and(|d| Instant::now() >= d) {
                Observation::empty(*spec, Setup::NotRun)
            } else {
                tcp::run_case_until(*spec, settings, budget, deadline)
            };
            on_done(index, &obs);
            results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(obs);
        }
    };
    let shortfall = std::thread::scope(|scope| {
        let mut shortfall = None;
        // The calling thread is the last of the `wanted` threads.
        for started in 0..wanted - 1 {
            let spawned = std::thread::Builder::new()
                .name("case".into())
                .spawn_scoped(scope, work);
            if let Err(error) = spawned {
                shortfall = Some(ThreadShortfall {
                    running: started + 1,
                    wanted,
                    error: os_error_of(&error),
                });
                break;
            }
        }
        work();
        shortfall
    });
    let observations = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect();
    CasesRun {
        observations,
        shortfall,
    }
}

/// What a run tells its caller while it goes (for progress output).
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// The cases do not fit one process's descriptor budget together and are spread over this
    /// many worker processes.
    Spread {
        /// Worker processes.
        workers: usize,
        /// The descriptor budget of each.
        budget_per_process: usize,
    },
    /// A case finished.
    Finished(&'a CaseReport),
    /// With a repeat: run `run` of `runs` starts (from 2 on).
    Round {
        /// This run, from 1.
        run: u32,
        /// Runs in all.
        runs: u32,
    },
    /// Fewer threads than planned could start in this process; every case still runs, fewer
    /// at once.
    ThreadsShort(&'a ThreadShortfall),
    /// A worker process could not be started; its cases run in this process instead.
    WorkerNotStarted {
        /// Why (with the raw error).
        detail: &'a str,
        /// How many cases move to this process.
        cases: usize,
    },
}

/// Run the whole matrix `settings.repeat` times (once without it) and report the first run,
/// each case carrying its [`Stability`] over all runs: a count that changes from run to run is
/// marked unstable with its range instead of being reported as a fact.
pub fn run_repeated(
    specs: &[CaseSpec],
    settings: &Settings,
    fanout: Fanout<'_>,
    on_event: &(dyn Fn(RunEvent<'_>) + Sync),
) -> Report {
    let runs = settings.repeat.unwrap_or(1).max(1);
    let mut report = run_report(specs, settings, fanout, on_event);
    if runs == 1 {
        return report;
    }
    let mut others = Vec::new();
    for run in 2..=runs {
        on_event(RunEvent::Round { run, runs });
        others.push(run_report(specs, settings, fanout, on_event));
    }
    let somaxconn = report.environment.somaxconn.setting;
    for (index, case) in report.cases.iter_mut().enumerate() {
        let mut all: Vec<&CaseReport> = vec![&*case];
        all.extend(others.iter().filter_map(|other| other.cases.get(index)));
        let stability = Stability::of(&all, somaxconn);
        case.stability = Some(stability);
    }
    report
}

/// Run every case and build the report. `on_event` hears how the cases are spread and sees
/// each case as it finishes.
pub fn run_report(
    specs: &[CaseSpec],
    settings: &Settings,
    fanout: Fanout<'_>,
    on_event: &(dyn Fn(RunEvent<'_>) + Sync),
) -> Report {
    let on_done = &|case: &CaseReport| on_event(RunEvent::Finished(case));
    // The descriptor limit is raised before anything else, so the environment reports it and
    // the plan below uses it.
    let budget = process_budget();
    let split = match fanout {
        Fanout::InProcess => None,
        Fanout::Workers {
            program,
            max_workers,
        } => worker_groups(specs, settings, budget, max_workers)
            .map(|(groups, needs)| (program, groups, needs)),
    };
    if let (Some((_, groups, _)), Some(total)) = (&split, budget.total()) {
        on_event(RunEvent::Spread {
            workers: groups.len(),
            budget_per_process: total,
        });
    }
    // Detecting the environment may start a program (os_info runs lsb_release), so it runs
    // beside the cases rather than before them; where no thread can start for it, after them.
    let started = SystemTime::now();
    let (environment, cases) = std::thread::scope(|scope| {
        let environment = std::thread::Builder::new()
            .name("environment".into())
            .spawn_scoped(scope, Environment::detect)
            .ok();
        let cases = match &split {
            Some((program, groups, needs)) => workers::run_in_workers(
                program,
                specs,
                settings,
                groups,
                needs,
                on_done,
                &|detail, cases| on_event(RunEvent::WorkerNotStarted { detail, cases }),
            ),
            None => {
                let run = run_cases(specs, settings, &|_, obs| {
                    on_done(&CaseReport::from_observation(obs));
                });
                if let Some(shortfall) = &run.shortfall {
                    on_event(RunEvent::ThreadsShort(shortfall));
                }
                run.observations
                    .iter()
                    .map(CaseReport::from_observation)
                    .collect()
            }
        };
        let environment = environment
            .and_then(|thread| thread.join().ok())
            .unwrap_or_else(Environment::detect)
            .started_at(started);
        (environment, cases)
    });
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        environment,
        settings: *settings,
        cases,
        world: None,
    };
    crate::predict::annotate(&mut report);
    report
}

/// The worker groups for `specs` and the cases' estimated descriptor needs, or `None` when the
/// cases stay in this process: at most one worker is allowed, the OS sets no descriptor limit,
/// a need cannot be estimated, the needs fit the budget, or they do not fit the cgroup's memory
/// limit (which every worker shares: more processes hold no more connections, so the cases
/// take turns in this process's budget, which the memory limit bounds).
#[allow(clippy::type_complexity)]
fn worker_groups(
    specs: &[CaseSpec],
    settings: &Settings,
    budget: &FdBudget,
    max_workers: usize,
) -> Option<(Vec<Vec<usize>>, Vec<usize>)> {
    if max_workers <= 1 || budget.memory_limit().is_some() {
        return None;
    }
    let total = budget.total()?;
    let needs: Vec<usize> = tcp::descriptor_needs(specs, settings.cap)
        .into_iter()
        .collect::<Option<_>>()?;
    let need: usize = needs.iter().sum();
    if need <= total {
        return None;
    }
    let memory_room = crate::experiment::budget::process_memory_limit()
        .as_ref()
        .map(crate::experiment::budget::connections_within);
    if memory_room.is_some_and(|room| need > room) {
        return None;
    }
    let groups = workers::groups(&needs, total, max_workers);
    (groups.len() > 1).then_some((groups, needs))
}

/// Run one burst (in `world` when there is one, which then counts the burst's own kernel
/// counters) and build its report.
pub fn burst_report(spec: BurstSpec, world: Option<World>) -> BurstReport {
    let environment = Environment::detect();
    let budget = process_budget();
    let mut world = world;
    let observation = match world.as_mut() {
        Some(world) => world.counted(|| burst::run_burst(spec, budget)),
        None => burst::run_burst(spec, budget),
    };
    BurstReport::new(observation, environment, world)
}

/// Run every extra experiment and build their report, with descriptors from the process's
/// shared budget.
pub fn extras_report() -> ExtrasReport {
    extras_report_with(process_budget())
}

/// Run every extra experiment with descriptors from `budget` and build their report. The
/// `extras` command passes [`solo_budget`](crate::experiment::budget::solo_budget): it runs
/// one experiment at a time in a process that opens little else.
pub fn extras_report_with(budget: &FdBudget) -> ExtrasReport {
    extras_report_with_runtimes(budget, &extras::RuntimeOptions::default())
}

/// [`extras_report_with`], running the runtime programs `runtimes` selects.
pub fn extras_report_with_runtimes(
    budget: &FdBudget,
    runtimes: &extras::RuntimeOptions,
) -> ExtrasReport {
    let started = SystemTime::now();
    let measured = extras::run_extras_with(budget, runtimes);
    ExtrasReport::new(measured, Environment::detect().started_at(started))
}

/// The smallest descriptor budget that can run even one case.
const MIN_USABLE_FDS: usize = 16;

/// This process's descriptor limit leaves too few descriptors to run any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFewDescriptors {
    /// The limit, after raising the soft limit as far as the hard limit allows.
    pub limit: crate::sys::FdLimit,
    /// How many more descriptors the smallest case needs.
    pub missing: usize,
}

/// The cgroup memory limit leaves too little room to run any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLittleMemory {
    /// The limit, as read at start.
    pub limit: crate::sys::MemoryLimit,
    /// How many more bytes the smallest case needs.
    pub missing_bytes: u64,
}

impl std::fmt::Display for TooLittleMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is too low: backlog-probe needs at least {:.1} MiB more to run one case",
            self.limit,
            self.missing_bytes as f64 / f64::from(1u32 << 20)
        )
    }
}

/// Whether the cgroup memory limit over this process leaves room for a case at all.
pub fn check_memory() -> Result<(), TooLittleMemory> {
    let budget = process_budget();
    let (Some(limit), Some(total)) = (budget.memory_limit(), budget.total()) else {
        return Ok(());
    };
    if total < MIN_USABLE_FDS {
        let needed = crate::experiment::budget::PROCESS_MEMORY
            + MIN_USABLE_FDS as u64 * crate::experiment::budget::SOCKET_MEMORY_PER_CONNECTION;
        return Err(TooLittleMemory {
            limit: limit.clone(),
            missing_bytes: needed.saturating_sub(limit.headroom_bytes()),
        });
    }
    Ok(())
}

/// Whether this process can run a case at all (the limit is raised first, once). A budget that
/// a memory limit made smaller is [`check_memory`]'s.
pub fn check_descriptors() -> Result<(), TooFewDescriptors> {
    if process_budget().memory_limit().is_some() {
        return Ok(());
    }
    let (Some(limit), Some(total)) = (crate::sys::fd_limit(), process_budget().total()) else {
        return Ok(());
    };
    if total < MIN_USABLE_FDS {
        return Err(TooFewDescriptors {
            limit,
            missing: MIN_USABLE_FDS - total,
        });
    }
    Ok(())
}
