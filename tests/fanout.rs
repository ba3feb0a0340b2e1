//! `run` spreads cases over worker processes when one process's descriptor limit cannot hold
//! them all at once, and the results are the same as in one process.

mod common;

#[cfg(unix)]
use backlog_probe::classify::tcp::OverflowKind;
#[cfg(unix)]
use backlog_probe::report::Report;

/// The report on stdout of a run that must have succeeded, with its stderr.
#[cfg(unix)]
fn report_of(output: &std::process::Output) -> (Report, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report = serde_json::from_slice(&output.stdout).expect("a JSON report");
    (report, stderr)
}

/// Under `ulimit -n 100` a process has 36 descriptors to spare after the harness's margin;
/// backlogs 2 to 5 need about 12 to 15 each, so they do not fit one process and the run uses
/// two workers. Every case must still be measured, in plan order, with the results of a run
/// in one process.
fn cases_that_outgrow_one_process_run_in_workers_with_the_same_results() {
    #[cfg(unix)]
    {
        let list = "--backlog=2,3,4,5";
        let (spread, stderr) = report_of(&common::with_fd_limit(
            100,
            &format!("run --format json --family ipv4 {list}"),
        ));
        assert!(
            stderr.contains("running the cases in 2 worker processes"),
            "{stderr}"
        );
        let (single, _) = report_of(&common::backlog_probe(&[
            "run", "--quiet", "--format", "json", "--family", "ipv4", list,
        ]));

        let setting = spread.environment.somaxconn.setting;
        assert_eq!(spread.cases.len(), 4);
        for (case, reference) in spread.cases.iter().zip(&single.cases) {
            assert_ne!(case.overflow.kind, OverflowKind::Inconclusive, "{case:?}");
            assert!(case.queue_length.is_some(), "{case:?}");
            assert_eq!(case.name, reference.name);
            assert_eq!(case.stable_view(setting), reference.stable_view(setting));
        }
        // One progress line per case, from the workers' reports.
        for case in &spread.cases {
            let name = &case.name;
            assert_eq!(stderr.matches(&format!("{name} ")).count(), 1, "{stderr}");
        }
    }
}

/// `--workers 1` keeps every case in one process: the same cases wait for descriptors in turn
/// instead, and are still all measured.
fn one_worker_keeps_the_cases_in_one_process() {
    #[cfg(unix)]
    {
        let (report, stderr) = report_of(&common::with_fd_limit(
            100,
            "run --workers 1 --format json --family ipv4 --backlog=2,3,4,5",
        ));
        assert!(!stderr.contains("worker processes"), "{stderr}");
        for case in &report.cases {
            assert_ne!(case.overflow.kind, OverflowKind::Inconclusive, "{case:?}");
            assert!(case.queue_length.is_some(), "{case:?}");
        }
    }
}

/// Where everything fits (the default fd limit and a small list), nothing is spread.
fn a_run_that_fits_stays_in_one_process() {
    let output = common::backlog_probe(&["run", "--family", "ipv4", "--backlog", "0,1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("worker processes"), "{stderr}");
}

/// Workers are started after `--sysctl` entered its namespace, so they measure in it: under
/// `ulimit -n 100`, backlogs 16 and 100 in a world with somaxconn 16 need two workers, and
/// both listeners must show the namespace's clamp (net/socket.c `__sys_listen_socket()` caps
/// the backlog at the netns's `somaxconn`), not the host's. It needs a private network
/// namespace: where none can be made, the harness reports it ignored.
fn workers_measure_in_their_parents_world() {
    #[cfg(target_os = "linux")]
    {
        let output = common::with_fd_limit(
            100,
            "run --format json --family ipv4 --backlog=16,100 --sysctl net.core.somaxconn=16",
        );
        let (report, stderr) = report_of(&output);
        assert!(stderr.contains("worker processes"), "{stderr}");
        assert_eq!(report.cases.len(), 2);
        for case in &report.cases {
            assert_eq!(case.kernel_queue.map(|q| q.limit), Some(16), "{case:?}");
            assert_ne!(case.overflow.kind, OverflowKind::Inconclusive, "{case:?}");
        }
        assert_eq!(report.cases[0].queue_length, report.cases[1].queue_length);
    }
}

/// The backlog-probe processes whose parent is `parent` (its workers, not the programs
/// environment detection starts), from `ps` (Linux, macOS and FreeBSD alike).
#[cfg(unix)]
fn workers_of(parent: u32) -> Vec<u32> {
    let output = std::process::Command::new("ps")
        .args(["-A", "-o", "pid=", "-o", "ppid=", "-o", "comm="])
        .output()
        .expect("ps runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let pid = fields.next()?.parse::<u32>().ok()?;
            let ppid = fields.next()?.parse::<u32>().ok()?;
            let command = fields.next()?;
            (ppid == parent && command.contains("backlog-probe")).then_some(pid)
        })
        .collect()
}

/// Whether `pid` still runs (a zombie waiting for whoever adopted it does not).
#[cfg(unix)]
fn running(pid: u32) -> bool {
    let output = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .expect("ps runs");
    let state = String::from_utf8_lossy(&output.stdout);
    let state = state.trim();
    !state.is_empty() && !state.starts_with('Z')
}

/// SIGKILL to the parent alone (what `kill -9 PID` or a service manager's last resort does)
/// leaves no worker running: the workers of a run that spread over two of them, each with
/// seconds of cases left, are gone within two seconds.
fn workers_die_with_their_parent() {
    #[cfg(unix)]
    {
        use std::io::{BufRead, BufReader};
        use std::time::{Duration, Instant};
        // 12 cases under 36 spare descriptors per process: two workers, each running its six
        // cases two or three at a time, for several seconds.
        let backlogs: Vec<String> = (2..14).map(|b| b.to_string()).collect();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 100 && exec \"$0\" run --workers 2 --family ipv4 --backlog={}",
                backlogs.join(",")
            ))
            .arg(env!("CARGO_BIN_EXE_backlog-probe"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        let parent = child.id();
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        loop {
            let line = receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("the run spreads into workers");
            if line.contains("running the cases in 2 worker processes") {
                break;
            }
        }
        let mut workers = Vec::new();
        while workers.len() < 2 && started.elapsed() < Duration::from_secs(30) {
            workers = workers_of(parent);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(workers.len(), 2, "{workers:?}");
        let pid = libc::pid_t::try_from(parent).expect("pid fits");
        // SAFETY: plain syscall on the child we spawned and still own.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let _ = child.wait();
        let killed = Instant::now();
        while workers.iter().any(|&w| running(w)) && killed.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left: Vec<u32> = workers.iter().copied().filter(|&w| running(w)).collect();
        for &worker in &left {
            // SAFETY: clean up what the test started before failing.
            unsafe { libc::kill(libc::pid_t::try_from(worker).unwrap_or(0), libc::SIGKILL) };
        }
        assert!(
            left.is_empty(),
            "workers {left:?} outlived their parent by {:?}",
            killed.elapsed()
        );
    }
}

/// The portable check on its own: a worker whose stdout reader goes away (its parent's end of
/// the pipe, closed) stops within a fraction of a second, where its job would take seconds.
fn a_worker_stops_when_its_parent_stops_reading() {
    #[cfg(unix)]
    {
        use backlog_probe::plan::{Backlog, CaseSpec, Family, Settings};
        use backlog_probe::run::workers::Job;
        use std::io::Write;
        use std::time::{Duration, Instant};
        let job = Job {
            cases: (0..4)
                .map(|i| {
                    (
                        i,
                        CaseSpec {
                            family: Family::Ipv4,
                            backlog: Backlog::Value(i as i32 + 1),
                        },
                    )
                })
                .collect(),
            settings: Settings::default(),
        };
        let text = serde_json::to_string(&job).expect("json");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
            .args(["worker", "--max-input-bytes", &text.len().to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("job");
        drop(stdin);
        // The parent goes away: its end of the worker's stdout closes.
        drop(child.stdout.take());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > Duration::from_millis(900) {
                let _ = child.kill();
                panic!("the worker kept running its cases with nobody to report to");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // 3: the worker's own "orphaned" exit, not an error reading its job.
        assert_eq!(status.code(), Some(3), "{status}");
    }
}

fn main() -> std::process::ExitCode {
    // What the Unix-only tests need: sh and ulimit, ps and SIGKILL, the zero-byte write check.
    let unix_only: [(common::Test, &'static str); 4] = [
        (
            (
                "cases_that_outgrow_one_process_run_in_workers_with_the_same_results",
                cases_that_outgrow_one_process_run_in_workers_with_the_same_results,
            ),
            "uses sh and ulimit to lower RLIMIT_NOFILE",
        ),
        (
            (
                "one_worker_keeps_the_cases_in_one_process",
                one_worker_keeps_the_cases_in_one_process,
            ),
            "uses sh and ulimit to lower RLIMIT_NOFILE",
        ),
        (
            (
                "workers_die_with_their_parent",
                workers_die_with_their_parent,
            ),
            "uses sh, ulimit, ps and SIGKILL",
        ),
        (
            (
                "a_worker_stops_when_its_parent_stops_reading",
                a_worker_stops_when_its_parent_stops_reading,
            ),
            "the zero-byte write check is exercised on Unix here",
        ),
    ];
    let mut plain: Vec<common::Test> = vec![(
        "a_run_that_fits_stays_in_one_process",
        a_run_that_fits_stays_in_one_process,
    )];
    let mut unsupported = Vec::new();
    for (test, reason) in unix_only {
        if cfg!(unix) {
            plain.push(test);
        } else {
            unsupported.push((test.0, reason));
        }
    }
    common::run_tests(
        &[(
            "workers_measure_in_their_parents_world",
            workers_measure_in_their_parents_world,
        )],
        &[],
        &plain,
        &unsupported,
    )
}
