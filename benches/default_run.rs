//! Times the default `backlog-probe run` (the release binary, as a user runs it) against the
//! naive baseline in `examples/naive_probe.rs`, in the same run, and reports the ratio, then
//! the peak file descriptors and resident memory of one more run.
//!
//! ```text
//! cargo bench --bench default_run              # 5 timed runs, then the baseline (about 45 s)
//! cargo bench --bench default_run -- 10 skip   # 10 timed runs, no baseline
//! ```
//!
//! The timed runs are not sampled, so the sampling cannot slow them down; the resource run
//! samples `/proc` every few milliseconds (Linux only) over backlog-probe and its worker
//! processes.
//!
//! Last, it measures the floor no harness can beat on this machine: the largest cases' connects
//! alone (socket and a non-blocking connect, nothing else, all cases at once in as many
//! processes as the descriptor limit needs), plus the one SYN retransmission every case waits
//! out to see the pending client get in (about 1 s on Linux).

mod common;
#[path = "../examples/naive_probe.rs"]
mod naive_probe;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use common::BINARY;

/// The process ids of `root` and its descendants (Linux: parent ids from /proc/*/stat).
fn process_tree(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The command name is in parentheses and may hold spaces: the parent id is the
            // second field after the last ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree
}

/// Open descriptors of one process.
fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|dir| dir.count())
}

/// Peak resident memory of one process so far (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peaks seen while sampling a run.
#[derive(Default)]
struct Peaks {
    processes: usize,
    fds_per_process: usize,
    fds_all_processes: usize,
    rss_kib: HashMap<u32, u64>,
}

/// One more default run, sampled for descriptors and memory; `None` where /proc is missing.
fn sampled_run() -> Option<Peaks> {
    std::fs::metadata("/proc/self/fd").ok()?;
    let mut child = Command::new(BINARY)
        .args(["run", "--quiet", "--format", "json"])
        .stdout(Stdio::null())
        .spawn()
        .expect("backlog-probe starts");
    let root = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let mut peaks = Peaks::default();
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                // Only backlog-probe itself and its workers, not a helper such as
                // lsb_release that os_info starts.
                let tree: Vec<u32> = process_tree(root)
                    .into_iter()
                    .filter(|pid| {
                        std::fs::read_to_string(format!("/proc/{pid}/comm"))
                            .is_ok_and(|comm| comm.trim() == "backlog-probe")
                    })
                    .collect();
                peaks.processes = peaks.processes.max(tree.len());
                let mut all = 0;
                for pid in tree {
                    let fds = open_fds(pid).unwrap_or(0);
                    peaks.fds_per_process = peaks.fds_per_process.max(fds);
                    all += fds;
                    if let Some(kib) = peak_rss_kib(pid) {
                        let seen = peaks.rss_kib.entry(pid).or_insert(0);
                        *seen = (*seen).max(kib);
                    }
                }
                peaks.fds_all_processes = peaks.fds_all_processes.max(all);
                std::thread::sleep(Duration::from_millis(5));
            }
            peaks
        })
    };
    let status = child.wait().expect("backlog-probe ends");
    done.store(true, Ordering::Relaxed);
    assert!(status.success(), "backlog-probe run failed");
    sampler.join().ok()
}

/// Argument that makes this benchmark a floor-probe child: `FLOOR_CHILD cases connections`.
const FLOOR_CHILD: &str = "floor-child";

/// In a child: open `cases` loopback listeners (backlog SOMAXCONN) and, one thread per
/// listener, `connections` clients each with nothing but socket() and a non-blocking
/// connect(); print the seconds until every thread has issued its last connect.
fn floor_child(cases: usize, connections: usize) {
    let started = Instant::now();
    let threads: Vec<_> = (0..cases)
        .map(|_| {
            std::thread::spawn(move || {
                let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
                let address: std::net::SocketAddr = "127.0.0.1:0".parse().expect("an address");
                listener.bind(&address.into()).expect("bind");
                listener
                    .listen(backlog_probe::plan::Backlog::Somaxconn.value())
                    .expect("listen");
                let target = listener.local_addr().expect("an address");
                let mut clients = Vec::with_capacity(connections);
                for _ in 0..connections {
                    let client = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
                    client.set_nonblocking(true).expect("non-blocking");
                    let _ = client.connect(&target);
                    clients.push(client);
                }
                (listener, clients)
            })
        })
        .collect();
    let held: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    println!("{}", started.elapsed().as_secs_f64());
    drop(held);
}

/// The connects of `cases` cases of `connections` clients, all at once, spread over child
/// processes so each stays within its descriptor budget: the slowest child's seconds.
fn floor_fill(cases: usize, connections: usize) -> Option<f64> {
    let budget = backlog_probe::experiment::budget::process_budget();
    let per_process = budget
        .total()
        .map_or(cases, |total| (total / (connections + 8)).max(1));
    let program = std::env::current_exe().ok()?;
    let children: Vec<_> = (0..cases)
        .step_by(per_process.max(1))
        .map(|first| {
            let share = per_process.min(cases - first);
            Command::new(&program)
                .args([FLOOR_CHILD, &share.to_string(), &connections.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()
        .ok()?;
    let mut slowest: f64 = 0.0;
    for child in children {
        let output = child.wait_with_output().ok()?;
        let seconds: f64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .ok()?;
        slowest = slowest.max(seconds);
    }
    Some(slowest)
}

fn main() {
    let args = common::own_args();
    if args.first().map(String::as_str) == Some(FLOOR_CHILD) {
        let number = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(1);
        floor_child(number(1), number(2));
        return;
    }
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let skip_baseline = args.get(1).map(String::as_str) == Some("skip");

    let mut times = Vec::new();
    let mut largest_queue = 0;
    let mut largest_cases = 0;
    let mut late_ms: u64 = 0;
    let mut cases = 0;
    for _ in 0..runs.max(1) {
        let (seconds, report) = common::timed_default_run();
        times.push(seconds);
        cases = report.cases.len();
        largest_queue = report
            .cases
            .iter()
            .filter_map(|c| c.queue_length)
            .max()
            .unwrap_or(0)
            .max(largest_queue);
        largest_cases = report
            .cases
            .iter()
            .filter(|c| c.queue_length == Some(largest_queue))
            .count();
        late_ms = report
            .cases
            .iter()
            .filter_map(|c| c.late_completion.elapsed_ms)
            .min()
            .unwrap_or(0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "backlog-probe run (default matrix, {cases} cases): median {median:.2} s over {} runs (min {:.2}, max {:.2})",
        times.len(),
        times[0],
        times[times.len() - 1]
    );
    match sampled_run() {
        Some(peaks) => {
            let rss_max = peaks.rss_kib.values().max().copied().unwrap_or(0);
            let rss_sum: u64 = peaks.rss_kib.values().sum();
            println!(
                "peak open descriptors: {} in one process, {} across {} processes (largest case queued {largest_queue})",
                peaks.fds_per_process, peaks.fds_all_processes, peaks.processes
            );
            println!(
                "peak resident memory: {:.1} MiB in one process, {:.1} MiB summed over processes",
                rss_max as f64 / 1024.0,
                rss_sum as f64 / 1024.0
            );
        }
        None => println!("peak descriptors and memory: not available on this OS (no /proc)"),
    }
    match floor_fill(largest_cases, largest_queue as usize) {
        Some(fill) => {
            let late = late_ms as f64 / 1000.0;
            println!(
                "floor: {largest_cases} x {largest_queue} bare connects at once take {fill:.2} s; with the {late:.2} s until a pending client gets in: {:.2} s",
                fill + late
            );
        }
        None => println!("floor: could not be measured here"),
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
