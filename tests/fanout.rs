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
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
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
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
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
#[test]
fn a_run_that_fits_stays_in_one_process() {
    let output = common::backlog_probe(&["run", "--family", "ipv4", "--backlog", "0,1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("worker processes"), "{stderr}");
}

/// Workers are started after `--sysctl` entered its namespace, so they measure in it: under
/// `ulimit -n 100`, backlogs 16 and 100 in a world with somaxconn 16 need two workers, and
/// both listeners must show the namespace's clamp (net/socket.c `__sys_listen_socket()` caps
/// the backlog at the netns's `somaxconn`), not the host's.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "--sysctl worlds are Linux network namespaces"
)]
fn workers_measure_in_their_parents_world() {
    #[cfg(target_os = "linux")]
    {
        let output = common::with_fd_limit(
            100,
            "run --format json --family ipv4 --backlog=16,100 --sysctl net.core.somaxconn=16",
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(2) && stderr.contains("network namespace") {
            eprintln!("skipped: {}", stderr.trim());
            return;
        }
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
