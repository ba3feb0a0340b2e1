//! Spreads cases over worker processes when one process's descriptor limit cannot hold every
//! case at once.
//!
//! RLIMIT_NOFILE is a per-process limit, and every completed client holds a descriptor until its
//! case ends. With 20 000 descriptors, four of the default matrix's eight 4 097-connection cases
//! fit in one process; the other four would wait for them, which costs a second round of
//! "fill, then wait out one SYN retransmission". Worker processes, each with its own limit, run
//! every case at once instead. The cases themselves are unchanged: a worker is the same binary
//! running [`run_cases`](super::run_cases) on its share, in the same network namespace.
//!
//! Both halves of the protocol live here. The parent ([`run_in_workers`]) plans the split from
//! each case's estimated need ([`groups`]), writes a [`Job`] as JSON to each worker's stdin and
//! reads one [`Finished`] JSON line per case from its stdout as cases end, so progress stays
//! live. The child ([`serve`], the binary's hidden `worker` subcommand) reads the job, runs it
//! and writes the lines. A worker that crashes, or is killed for outliving the run's ceiling
//! (`--deadline`) or for reporting nothing for a few times its cases' expected time (stopped,
//! hung; [`silence_bound`]), leaves its unreported cases `lost` (overflow `inconclusive`, with
//! the reason): never a guessed number. A worker that cannot be started at all (a process
//! limit) leaves its cases to the parent, which runs them itself, one such group at a time.
//!
//! A worker dies with its parent: on Linux the kernel kills it (`PR_SET_PDEATHSIG`, asked for
//! by the worker; each worker is started from a thread that waits for it, so the "parent
//! thread" the kernel watches lives as long as the worker), and everywhere the worker's
//! command polls for its stdout pipe closing and, on Unix, for its parent id changing (the
//! parent passes its id in [`PARENT_ENV`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::observation::tcp::{Observation, Setup};
use crate::os_error::os_error_of;
use crate::plan::{CaseSpec, Settings};
use crate::report::CaseReport;
use crate::report::read::Limited;
use crate::sys;

/// The hidden subcommand a worker process runs.
pub const WORKER_SUBCOMMAND: &str = "worker";

/// The worker's option for the size of its job: the parent passes the exact length of the job it
/// writes, so a worker never reads more.
pub const MAX_JOB_BYTES_FLAG: &str = "--max-input-bytes";

/// The environment variable through which a parent names itself (its process id) to its
/// workers, so a worker can tell that it was orphaned (its parent id changed).
pub const PARENT_ENV: &str = "BACKLOG_PROBE_PARENT_PID";

/// The default for `run --workers`: at most this many worker processes. Beyond it, groups
/// share a worker, where the descriptor budget runs them in turn.
pub const DEFAULT_MAX_WORKERS: usize = 8;

/// With `--deadline`, how long past it a worker may take to report the cases it cut short.
const GRACE_AFTER_DEADLINE: Duration = Duration::from_secs(10);

/// How often the parent checks whether a worker has exited.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// A parent poll that comes back this much later than [`EXIT_POLL`] means the parent itself was
/// not running (stopped, suspended): that time is not held against its workers.
const PARENT_STALL: Duration = Duration::from_millis(500);

/// How long a worker process may take to start and read its job before its first case is due.
const WORKER_START: Duration = Duration::from_secs(5);

/// The waits every case has whatever its size: past the first SYN retransmission while a
/// connect is pending (at most three [`sys::PENDING_DEADLINE`]s where the kernel view shows room),
/// then the late-completion watch ([`sys::LATE_WINDOW`]) and the drain's straggler poll.
fn fixed_case_time() -> Duration {
    sys::PENDING_DEADLINE * 3 + sys::LATE_WINDOW + Duration::from_secs(1)
}

/// Connect, confirm, accept and close, per connection of the whole run (the cases of every
/// worker share the machine's cores): 250 µs. Measured: a default run's 8 × 4 097 connections
/// fill in about 0.3 s on two cores (under 10 µs each), and a world with somaxconn 65 535
/// (8 × 65 536 connections at once) took 90-114 s, about 200 µs each.
const PER_CONNECTION: Duration = Duration::from_micros(250);

/// How many times its cases' expected time a worker may stay silent before it is taken for
/// stuck: room for a loaded machine (two busy cores, a 10 % CPU quota) without waiting forever.
const SILENCE_FACTOR: u32 = 3;

/// The longest a worker may go without reporting a case (from its start, and from each case it
/// reports) before it is ended: three times what one case is expected to take when
/// every connection of the run (`connections`, the estimated descriptor needs of every case)
/// shares the machine, plus 5 s to start. Its cases run concurrently, and one that waits
/// for descriptors waits for another to end (and be reported), so a working worker reports
/// within one case's time; a stopped or hung one does not.
pub fn silence_bound(connections: usize) -> Duration {
    let connections = u32::try_from(connections).unwrap_or(u32::MAX);
    WORKER_START + (fixed_case_time() + PER_CONNECTION * connections) * SILENCE_FACTOR
}

/// What one worker runs: cases with their index in the whole plan, and the run's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `(index in the plan, case)`.
    pub cases: Vec<(usize, CaseSpec)>,
    /// Settings, with the deadline shortened to what was left when the worker started.
    pub settings: Settings,
}

/// One finished case, as a worker reports it (one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    /// Index in the whole plan.
    pub index: usize,
    /// The case.
    pub case: CaseReport,
}

/// The child half: read a [`Job`] from `input`, run its cases in this process, and write one
/// [`Finished`] line per case to `output` as each ends. `Ok` says whether the worker had to
/// make do with fewer threads; `Err` is a one-line reason (the job could not be read or is not
/// a job).
pub fn serve(
    input: impl Read,
    output: impl Write + Send,
    max_job_bytes: u64,
) -> Result<Option<super::ThreadShortfall>, String> {
    // Streamed and bounded: a parent hands over exactly the job's bytes and closes the pipe, so
    // anything longer (`worker < /dev/zero`) is not a job.
    let mut limited = Limited::new(input, max_job_bytes);
    let job: Result<Job, _> = serde_json::from_reader(BufReader::new(&mut limited));
    let job = match job {
        Ok(job) => job,
        Err(_) if limited.is_over() => {
            return Err(format!(
                "worker: the job is larger than its limit of {max_job_bytes} bytes (--max-input-bytes)"
            ));
        }
        Err(e) if e.is_io() => return Err(format!("worker: could not read the job: {e}")),
        Err(e) => return Err(format!("worker: not a job: {e}")),
    };
    let specs: Vec<CaseSpec> = job.cases.iter().map(|(_, spec)| *spec).collect();
    let output = Mutex::new(output);
    let run = super::run_cases(&specs, &job.settings, &|position, obs| {
        let finished = Finished {
            index: job.cases[position].0,
            case: CaseReport::from_observation(obs),
        };
        if let Ok(mut line) = serde_json::to_string(&finished) {
            line.push('\n');
            let mut output = output.lock().unwrap_or_else(|p| p.into_inner());
            // A parent that went away stops reading; the cases still end on their own.
            let _ = output
                .write_all(line.as_bytes())
                .and_then(|()| output.flush());
        }
    });
    Ok(run.shortfall)
}

/// Split cases into groups whose estimated descriptor needs fit `capacity`, at most
/// `max_groups` of them: first-fit by decreasing need, so the large cases spread out first.
/// A case larger than `capacity` gets a group of its own; once `max_groups` exist, a case that
/// fits nowhere joins the least loaded group. Each group lists plan indices in plan order, and
/// the groups are ordered by their first index.
pub fn groups(needs: &[usize], capacity: usize, max_groups: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..needs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(needs[i]));
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for index in order {
        let need = needs[index];
        let fits = groups
            .iter()
            .position(|(load, _)| load.saturating_add(need) <= capacity);
        let slot = match fits {
            Some(slot) => slot,
            None if groups.len() < max_groups.max(1) => {
                groups.push((0, Vec::new()));
                groups.len() - 1
            }
            None => (0..groups.len())
                .min_by_key(|&slot| groups[slot].0)
                .unwrap_or(0),
        };
        groups[slot].0 = groups[slot].0.saturating_add(need);
        groups[slot].1.push(index);
    }
    let mut groups: Vec<Vec<usize>> = groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_unstable();
            members
        })
        .collect();
    groups.sort_by_key(|members| members.first().copied());
    groups
}

/// How a worker's run ended when it did not end cleanly.
enum WorkerFailure {
    /// The process, or the thread that reads it, could not be started (a process limit such as
    /// a cgroup's `pids.max`), so nothing of it was read: its cases run elsewhere.
    NotStarted(String),
    /// It started and ended badly: the cases it did not report are lost, with this reason.
    Ended(String),
}

/// Run `groups` of `specs` in worker processes of `program` (this binary), calling `on_done`
/// as each case's line arrives; `needs` are the cases' estimated descriptor needs (for how long
/// a worker may stay silent, [`silence_bound`]). A group whose worker process cannot be
/// started runs in this process instead, one such group at a time, as `--workers 1` runs every
/// case (`on_not_started` hears why, and how many cases that moves). Returns one report per
/// spec, in plan order.
pub fn run_in_workers(
    program: &Path,
    specs: &[CaseSpec],
    settings: &Settings,
    groups: &[Vec<usize>],
    needs: &[usize],
    on_done: &(dyn Fn(&CaseReport) + Sync),
    on_not_started: &(dyn Fn(&str, usize) + Sync),
) -> Vec<CaseReport> {
    let started = Instant::now();
    let ceiling = settings
        .deadline_ms
        .map(|ms| started + Duration::from_millis(ms) + GRACE_AFTER_DEADLINE);
    let silence = silence_bound(needs.iter().sum());
    let results: Mutex<Vec<Option<CaseReport>>> = Mutex::new(vec![None; specs.len()]);
    let lost: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    // One group at a time runs in this process: each fits its descriptor budget alone.
    let here = Mutex::new(());
    let mark_lost = |group: &[usize], detail: &str| {
        lost.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(group.iter().map(|&i| (i, detail.to_string())));
    };
    let remaining = || {
        settings.deadline_ms.map(|ms| {
            let spent = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            ms.saturating_sub(spent).max(1)
        })
    };
    let reported = |finished: Finished| {
        on_done(&finished.case);
        results.lock().unwrap_or_else(|p| p.into_inner())[finished.index] = Some(finished.case);
    };
    let run_here = |group: &[usize]| {
        let _turn = here.lock().unwrap_or_else(|p| p.into_inner());
        let settings = Settings {
            deadline_ms: remaining(),
            ..*settings
        };
        let own: Vec<CaseSpec> = group.iter().map(|&i| specs[i]).collect();
        super::run_cases(&own, &settings, &|position, obs| {
            reported(Finished {
                index: group[position],
                case: CaseReport::from_observation(obs),
            });
        });
    };
    let run_group = |group: &[usize]| {
        let job = Job {
            cases: group.iter().map(|&i| (i, specs[i])).collect(),
            settings: Settings {
                deadline_ms: remaining(),
                ..*settings
            },
        };
        match run_worker(program, &job, ceiling, silence, &reported) {
            Ok(()) => {}
            Err(WorkerFailure::NotStarted(detail)) => {
                on_not_started(&detail, group.len());
                run_here(group);
            }
            Err(WorkerFailure::Ended(detail)) => mark_lost(group, &detail),
        }
    };
    std::thread::scope(|scope| {
        // One thread per worker process; the calling thread looks after the last one, then
        // runs any group whose thread could not start.
        let Some((last, others)) = groups.split_last() else {
            return;
        };
        let mut unwatched = Vec::new();
        for group in others {
            let spawned = std::thread::Builder::new()
                .name("worker-watch".into())
                .spawn_scoped(scope, move || run_group(group));
            if spawned.is_err() {
                unwatched.push(group);
            }
        }
        run_group(last);
        for group in unwatched {
            run_group(group);
        }
    });
    let lost = lost.into_inner().unwrap_or_else(|p| p.into_inner());
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .enumerate()
        .map(|(index, case)| {
            case.unwrap_or_else(|| {
                let detail = lost
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map_or("the worker did not report this case", |(_, d)| d.as_str());
                let obs = Observation::empty(
                    specs[index],
                    Setup::Lost {
                        detail: detail.to_string(),
                    },
                );
                let case = CaseReport::from_observation(&obs);
                on_done(&case);
                case
            })
        })
        .collect()
}

/// Start one worker, give it `job`, pass each line it reports to `reported`, and wait for it to
/// exit, killing it at `ceiling` or once it has reported nothing for `silence` (a stopped or
/// hung worker). `Err` says how the worker ended when that was not cleanly; cases it reported
/// before are kept either way.
fn run_worker(
    program: &Path,
    job: &Job,
    ceiling: Option<Instant>,
    silence: Duration,
    reported: &(dyn Fn(Finished) + Sync),
) -> Result<(), WorkerFailure> {
    let ended = |detail: &str| WorkerFailure::Ended(detail.to_string());
    let indices: Vec<usize> = job.cases.iter().map(|(i, _)| *i).collect();
    let input = serde_json::to_string(job).map_err(|e| ended(&e.to_string()))?;
    let mut child = Command::new(program)
        .arg(WORKER_SUBCOMMAND)
        .arg(MAX_JOB_BYTES_FLAG)
        .arg(input.len().to_string())
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            WorkerFailure::NotStarted(format!(
                "could not start a worker process ({})",
                os_error_of(&e)
            ))
        })?;
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(input.as_bytes()));
    // stdin is closed here, so the worker sees the end of its job.
    if !matches!(fed, Some(Ok(()))) {
        stop(&mut child);
        return Err(ended("could not hand the job to its worker process"));
    }
    let Some(stdout) = child.stdout.take() else {
        stop(&mut child);
        return Err(ended("the worker process has no output"));
    };
    let last_report = Mutex::new(Instant::now());
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("worker-read".into())
            .spawn_scoped(scope, || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // Only lines that parse and name one of this worker's cases count.
                    if let Ok(finished) = serde_json::from_str::<Finished>(&line) {
                        if indices.contains(&finished.index) {
                            *last_report.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            reported(finished);
                        }
                    }
                }
            });
        if let Err(error) = reader {
            // Nothing of this worker has been read, so its cases are as good as never started:
            // they run in this process instead (under pids.max the reader thread is what fails).
            stop(&mut child);
            return Err(WorkerFailure::NotStarted(format!(
                "could not start a thread to read its worker process ({})",
                os_error_of(&error)
            )));
        }
        // The reader ends when the worker's stdout closes, which a kill forces.
        wait_until(&mut child, ceiling, silence, &last_report).map_err(WorkerFailure::Ended)
    })
}

/// Wait for `child` to exit, killing it at `ceiling`, or once `silence` has passed since
/// `last_report` (time this process itself was not running does not count).
fn wait_until(
    child: &mut Child,
    ceiling: Option<Instant>,
    silence: Duration,
    last_report: &Mutex<Instant>,
) -> Result<(), String> {
    let mut stalled = Duration::ZERO;
    let mut last_poll = Instant::now();
    loop {
        let now = Instant::now();
        let gap = now - last_poll;
        if gap > EXIT_POLL + PARENT_STALL {
            stalled += gap;
        }
        last_poll = now;
        let quiet =
            now.saturating_duration_since(*last_report.lock().unwrap_or_else(|p| p.into_inner()));
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("its worker process ended with {status}")),
            Ok(None) if ceiling.is_some_and(|ceiling| now >= ceiling) => {
                stop(child);
                return Err("its worker process outlived the run's ceiling and was ended".into());
            }
            Ok(None) if quiet > silence + stalled => {
                stop(child);
                return Err(format!(
                    "its worker process reported nothing for {} s (the bound from its cases' expected time) and was ended",
                    silence.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(EXIT_POLL),
            Err(e) => {
                stop(child);
                return Err(format!("could not watch its worker process: {e}"));
            }
        }
    }
}

/// Kill and reap a worker.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_fits_stays_in_one_group() {
        assert_eq!(groups(&[10, 20, 30], 100, 8), vec![vec![0, 1, 2]]);
        assert_eq!(groups(&[], 100, 8), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn the_default_matrix_on_twenty_thousand_descriptors_needs_two_workers() {
        // Six small cases and eight of 4 097 clients plus overhead, against a budget of
        // 20 000 - 64: four large cases fit per worker.
        let small = 8 + 8;
        let large = 4098 + 8;
        let needs = [
            small, small, small, large, large, large, large, small, small, small, large, large,
            large, large,
        ];
        let split = groups(&needs, 19_936, 8);
        assert_eq!(split.len(), 2);
        for group in &split {
            let load: usize = group.iter().map(|&i| needs[i]).sum();
            assert!(load <= 19_936, "{group:?} needs {load}");
        }
        let mut all: Vec<usize> = split.concat();
        all.sort_unstable();
        assert_eq!(all, (0..needs.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_case_larger_than_the_budget_gets_its_own_group() {
        assert_eq!(groups(&[500, 50, 50], 100, 8), vec![vec![0], vec![1, 2]]);
    }

    #[test]
    fn the_worker_count_is_bounded() {
        let split = groups(&[100; 20], 100, 3);
        assert_eq!(split.len(), 3);
        let sizes: Vec<usize> = split.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| (6..=7).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn groups_keep_plan_order() {
        let split = groups(&[60, 60, 60, 60], 120, 8);
        assert_eq!(split, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn cases_of_a_worker_that_cannot_start_run_in_this_process() {
        use crate::classify::tcp::OverflowKind;
        use crate::plan::{Backlog, Family};
        let specs = [
            CaseSpec {
                family: Family::Ipv4,
                backlog: Backlog::Value(1),
            },
            CaseSpec {
                family: Family::Ipv4,
                backlog: Backlog::Value(5),
            },
        ];
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let not_started = Mutex::new(Vec::new());
        let cases = run_in_workers(
            Path::new("/nonexistent/backlog-probe-worker"),
            &specs,
            &Settings::default(),
            &[vec![0], vec![1]],
            &[16, 16],
            &|_| {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
            &|detail, cases| {
                not_started
                    .lock()
                    .unwrap()
                    .push((detail.to_string(), cases))
            },
        );
        assert_eq!(seen.into_inner(), 2, "progress hears about every case");
        let not_started = not_started.into_inner().unwrap();
        assert_eq!(not_started.len(), 2, "{not_started:?}");
        for (detail, cases) in &not_started {
            assert!(
                detail.contains("could not start a worker process"),
                "{detail}"
            );
            assert_eq!(*cases, 1);
        }
        assert_eq!(cases.len(), 2);
        for (case, spec) in cases.iter().zip(&specs) {
            assert_eq!(case.name, spec.name());
            assert_ne!(case.overflow.kind, OverflowKind::Inconclusive, "{case:?}");
            assert!(case.queue_length.is_some(), "{case:?}");
        }
    }

    #[test]
    fn a_worker_may_stay_silent_for_a_few_times_its_cases_expected_time() {
        // Fixed waits: 3 × 1.5 s pending + 3.5 s late watch + 1 s drain on Linux.
        let small = silence_bound(16);
        let default_matrix = silence_bound(8 * 4105 + 6 * 16);
        assert!(small >= WORKER_START + fixed_case_time() * SILENCE_FACTOR);
        // About a minute at most, far below the old 600 s ceiling: 32 s on Linux, 64 s on Windows,
        // whose pending deadline waits out the RST retries (sys::PENDING_DEADLINE).
        assert!(small < Duration::from_secs(90), "{small:?}");
        assert!(default_matrix > small);
        // somaxconn 65 535 in every large case: 90-114 s measured, well inside the bound.
        assert!(silence_bound(8 * 65_545) > Duration::from_secs(3 * 114));
    }

    #[test]
    fn a_served_job_reports_each_case_by_its_plan_index() {
        use crate::plan::{Backlog, Family};
        let job = Job {
            cases: vec![(
                7,
                CaseSpec {
                    family: Family::Ipv4,
                    backlog: Backlog::Value(1),
                },
            )],
            settings: Settings::default(),
        };
        let mut output = Vec::new();
        let text = serde_json::to_string(&job).unwrap();
        serve(text.as_bytes(), &mut output, text.len() as u64).unwrap();
        let lines: Vec<Finished> = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].index, 7);
        assert_eq!(lines[0].case.name, "ipv4_backlog_one");
        assert!(lines[0].case.queue_length.is_some(), "{:?}", lines[0].case);
    }

    #[test]
    fn a_worker_without_a_job_says_why() {
        let error = serve(&b"{not json"[..], Vec::new(), 1000).unwrap_err();
        assert!(error.starts_with("worker: not a job"), "{error}");
    }

    #[test]
    fn a_worker_reads_no_more_than_its_limit() {
        // An endless stream of whitespace would keep an unbounded parser reading forever.
        let endless = std::io::repeat(b' ');
        let error = serve(endless, Vec::new(), 1 << 20).unwrap_err();
        assert!(
            error.contains("larger than its limit of 1048576 bytes"),
            "{error}"
        );
        let error = serve(std::io::repeat(0), Vec::new(), 1 << 20).unwrap_err();
        assert!(error.starts_with("worker: not a job"), "{error}");
    }

    #[test]
    fn job_and_lines_round_trip() {
        use crate::plan::{Backlog, Family};
        let job = Job {
            cases: vec![(
                3,
                CaseSpec {
                    family: Family::Ipv6,
                    backlog: Backlog::Somaxconn,
                },
            )],
            settings: Settings {
                cap: 10,
                deadline_ms: Some(5),
                repeat: None,
            },
        };
        let text = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
    }
}
