//! `run` spreads cases over worker processes when one process's descriptor limit cannot hold
//! them all at once, and the results are the same as in one process.

mod common;

#[cfg(unix)]
use serde_json::Value;

/// The parts of a case that must not differ between two runs on the same machine.
#[cfg(unix)]
fn stable(case: &Value) -> Value {
    serde_json::json!({
        "name": case["name"],
        "queue_length": case["queue_length"],
        "accepted": case["accepted"],
        "overflow": case["overflow"]["kind"],
        "os_error": case["overflow"]["os_error"],
        "late": case["late_completion"]["kind"],
        "kernel_queue": case["kernel_queue"],
    })
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
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 100 && exec \"$0\" run --format json --family ipv4 {list}"
            ))
            .arg(env!("CARGO_BIN_EXE_backlog-probe"))
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("sh runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("running the cases in 2 worker processes"),
            "{stderr}"
        );
        let spread: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");

        let output = common::backlog_probe(&[
            "run", "--quiet", "--format", "json", "--family", "ipv4", list,
        ]);
        assert_eq!(output.status.code(), Some(0));
        let single: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");

        let spread = spread["cases"].as_array().expect("cases");
        let single = single["cases"].as_array().expect("cases");
        assert_eq!(spread.len(), 4);
        for (case, reference) in spread.iter().zip(single) {
            assert_ne!(case["overflow"]["kind"], "inconclusive", "{case}");
            assert!(case["queue_length"].as_u64().is_some(), "{case}");
            assert_eq!(stable(case), stable(reference));
        }
        // One progress line per case, from the workers' reports.
        for case in spread {
            let name = case["name"].as_str().expect("a name");
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
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 100 && exec \"$0\" run --workers 1 --format json --family ipv4 --backlog=2,3,4,5")
            .arg(env!("CARGO_BIN_EXE_backlog-probe"))
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("sh runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("worker processes"), "{stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
        for case in report["cases"].as_array().expect("cases") {
            assert_ne!(case["overflow"]["kind"], "inconclusive", "{case}");
            assert!(case["queue_length"].as_u64().is_some(), "{case}");
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
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 100 && exec \"$0\" run --format json --family ipv4 --backlog=16,100 --sysctl net.core.somaxconn=16")
            .arg(env!("CARGO_BIN_EXE_backlog-probe"))
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("sh runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(2) && stderr.contains("network namespace") {
            eprintln!("skipped: {}", stderr.trim());
            return;
        }
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("worker processes"), "{stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
        let cases = report["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 2);
        for case in cases {
            assert_eq!(case["kernel_queue"]["limit"], 16, "{case}");
            assert_ne!(case["overflow"]["kind"], "inconclusive", "{case}");
        }
        assert_eq!(cases[0]["queue_length"], cases[1]["queue_length"]);
    }
}
