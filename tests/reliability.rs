//! The harness under its own limits: a run deadline, a descriptor limit too low for a case or
//! for any case. Never a panic, never a wrong number: an inconclusive case says why, or the
//! run exits 2 naming the limit.

mod common;

use serde_json::Value;

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is a report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A case takes at least one SYN retransmission (about 1 s) plus its fill; a 1 s deadline
/// always ends the somaxconn case early.
#[test]
fn a_deadline_ends_the_run_and_names_what_it_cut() {
    let output = common::backlog_probe(&[
        "run",
        "--format",
        "json",
        "--family",
        "ipv4",
        "--backlog",
        "somaxconn",
        "--deadline",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let report = json_of(&output);
    assert_eq!(report["settings"]["deadline_ms"], 1000);
    let case = &report["cases"][0];
    assert_eq!(case["overflow"]["kind"], "inconclusive", "{case}");
    assert!(
        case["overflow"]["detail"]
            .as_str()
            .unwrap()
            .contains("deadline"),
        "{case}"
    );
    assert_eq!(
        case["queue_length"],
        Value::Null,
        "a cut-short fill is not a queue length"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("deadline ended 1 case(s) early: ipv4_backlog_somaxconn"),
        "{stderr}"
    );
}

/// With 100 descriptors (36 to spare after the harness's margin), backlog 1 is still measured
/// and SOMAXCONN (128 or more on every OS) is inconclusive with the limit named.
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
fn a_low_fd_limit_makes_large_cases_inconclusive_not_wrong() {
    #[cfg(unix)]
    {
        let output = common::with_fd_limit(
            100,
            "run --quiet --format json --family ipv4 --backlog=1,somaxconn",
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = json_of(&output);
        assert_eq!(report["environment"]["fd_limit"]["soft"], 100);
        let small = &report["cases"][0];
        assert!(
            small["queue_length"].as_u64().is_some_and(|q| q >= 1),
            "{small}"
        );
        assert_ne!(small["overflow"]["kind"], "inconclusive", "{small}");
        let large = &report["cases"][1];
        assert_eq!(large["overflow"]["kind"], "inconclusive", "{large}");
        assert!(
            large["overflow"]["detail"]
                .as_str()
                .unwrap()
                .contains("fd limit 100"),
            "{large}"
        );
        assert_eq!(large["queue_length"], Value::Null);
    }
}

/// Too few descriptors to run anything: exit 2 with one line that names the limit.
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
fn an_unusable_fd_limit_is_a_clear_error() {
    #[cfg(unix)]
    {
        let output = common::with_fd_limit(40, "run --family ipv4 --backlog 1");
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("file-descriptor limit 40"), "{stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

/// A burst whose connect threads cannot start (none or only some under `ulimit -u 1` or `-u 3`, or too
/// little address space for their stacks under `ulimit -v`) ends at once with one line naming
/// the limit: the threads already started are released, nothing waits for one never started.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "uses bash ulimit -u/-v and setpriv"
)]
fn a_burst_that_cannot_start_its_threads_ends_at_once() {
    #[cfg(target_os = "linux")]
    for ulimits in ["-u 1", "-u 3", "-v 20000"] {
        let out = common::bounded(
            common::limited_command(ulimits, "burst --clients 64 --quiet"),
            std::time::Duration::from_secs(30),
        );
        assert_eq!(out.code, Some(2), "{ulimits}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim_end().lines().count(),
            1,
            "{ulimits}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("could not start the burst's connect threads"),
            "{ulimits}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{ulimits}");
    }
}

/// A run that can start no thread besides its own (`ulimit -u 1` as an unprivileged user) or
/// only some (`ulimit -v`) still measures every case, on the threads it has, and says so.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "uses bash ulimit -u/-v and setpriv"
)]
fn a_run_short_of_threads_still_measures_every_case() {
    #[cfg(target_os = "linux")]
    {
        let run = |ulimits: &str| {
            common::bounded(
                common::limited_command(ulimits, "run --format json --family ipv4 --backlog=0,1,5"),
                std::time::Duration::from_secs(60),
            )
        };
        let check = |ulimits: &str, out: &common::Bounded| {
            assert_eq!(out.code, Some(0), "{ulimits}: {}", out.stderr);
            assert!(
                !out.stderr.contains("panicked"),
                "{ulimits}: {}",
                out.stderr
            );
            let report: Value = serde_json::from_slice(&out.stdout).expect("a report");
            let cases = report["cases"].as_array().expect("cases");
            assert_eq!(cases.len(), 3);
            for case in cases {
                assert!(case["queue_length"].as_u64().is_some(), "{ulimits}: {case}");
                assert_ne!(
                    case["overflow"]["kind"], "inconclusive",
                    "{ulimits}: {case}"
                );
            }
        };
        let out = run("-u 1");
        check("-u 1", &out);
        assert!(
            out.stderr.contains("could start only 1 of 3 case threads"),
            "{}",
            out.stderr
        );
        // An address-space limit that leaves room for the process but not for every thread's
        // stack: where that lies depends on the build, so the limit grows until the process
        // itself can run (below it, the allocator aborts before any case starts).
        let mut short = false;
        for kib in (12_000..=24_000).step_by(2_000) {
            let ulimits = format!("-v {kib}");
            let out = run(&ulimits);
            if out.stderr.contains("memory allocation of") {
                continue;
            }
            check(&ulimits, &out);
            short |= out.stderr.contains("case threads");
        }
        assert!(
            short,
            "no address-space limit left the run short of threads"
        );
    }
}

/// Worker processes and their threads under a thread limit: the cases of a worker that cannot
/// start run in this process, on the threads it has (here only its own), and are measured;
/// the run says so and exits 0 with a report. (They were all `lost`, as under `pids.max`.)
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "uses bash ulimit -u and setpriv")]
fn workers_that_cannot_start_leave_their_cases_to_this_process() {
    #[cfg(target_os = "linux")]
    {
        let out = common::bounded(
            common::limited_command(
                "-n 100 -u 1",
                "run --format json --family ipv4 --backlog=2,3,4,5",
            ),
            std::time::Duration::from_secs(60),
        );
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("could not start a worker process (EAGAIN"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("run in this process"), "{}", out.stderr);
        let report: Value = serde_json::from_slice(&out.stdout).expect("a report");
        for (case, backlog) in report["cases"].as_array().expect("cases").iter().zip(2..) {
            // Linux queues backlog + 1 (sk_acceptq_is_full() in include/net/sock.h uses >).
            assert_eq!(case["queue_length"], backlog + 1, "{case}");
            assert_ne!(case["overflow"]["kind"], "inconclusive", "{case}");
        }
    }
}

/// Issue 25, item 2: with a thousand backlogs, a case still accepting (and abortively closing)
/// its queue during the late-completion watch accepted the pending client's own connection
/// when its retransmitted SYN got in, and reset the client it was watching: late completion
/// `failed ECONNRESET`, with the server one accept ahead of the clients (10-16 cases a run).
/// The pending client's connection is now kept open until the watch ends.
#[test]
#[cfg_attr(
    windows,
    ignore = "a thousand cases of up to 1 000 connections take many minutes through Wine's Winsock; the reset was seen with Linux's SYN timing"
)]
fn a_long_backlog_list_makes_no_resets_of_its_own() {
    let backlogs: Vec<String> = (0..1000).map(|b| b.to_string()).collect();
    let list = format!("--backlog={}", backlogs.join(","));
    let output = common::backlog_probe(&[
        "run", "--quiet", "--format", "json", "--family", "ipv4", &list,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&output);
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 1000);
    let self_made: Vec<&Value> = cases
        .iter()
        .filter(|case| {
            case["inconsistent"].as_array().is_some_and(|notes| {
                notes.iter().any(|n| {
                    n.as_str()
                        .is_some_and(|n| n.contains("more than the clients completed"))
                })
            })
        })
        .collect();
    assert!(
        self_made.is_empty(),
        "{} cases: {self_made:?}",
        self_made.len()
    );
}

/// Issue 25, item 6: `--sysctl` given the same key twice applied the last value and recorded
/// the first; it is refused before anything is touched.
#[test]
fn a_repeated_sysctl_key_is_refused() {
    for subcommand in ["run", "burst"] {
        let output = common::backlog_probe(&[
            subcommand,
            "--sysctl",
            "net.core.somaxconn=16",
            "--sysctl",
            "net.ipv4.tcp_abort_on_overflow=0",
            "--sysctl",
            "net.core.somaxconn=32",
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{subcommand}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--sysctl net.core.somaxconn is given twice (16 and 32)"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

/// Issue 25, item 6: progress promised "each takes about 1-2 s" where a world with somaxconn
/// 65535 takes 90 s and more; it makes no such promise.
#[test]
fn progress_promises_no_case_duration() {
    let output = common::backlog_probe(&["run", "--family", "ipv4", "--backlog", "1"]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("backlog-probe: running 1 cases"),
        "{stderr}"
    );
    assert!(!stderr.contains("each takes"), "{stderr}");
}

/// Issue 25, item 6: a temporary directory that cannot be written to made every Unix-domain
/// row fail ("cannot make a private directory for the socket: EROFS"); the sockets go under
/// /tmp instead, as for a missing TMPDIR. As root the directory is a read-only tmpfs in a
/// mount namespace of the run's own (or, where root may not make one, `/proc`, where nobody can
/// make a directory); otherwise a directory of mode 0555.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "uses unshare -m and mount (Linux)")]
fn a_read_only_temporary_directory_falls_back_to_tmp() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().expect("temp dir");
        let read_only = base.path().join("ro");
        std::fs::create_dir(&read_only).expect("mkdir");
        let mount_namespaces = common::is_root()
            && std::process::Command::new("unshare")
                .args(["-m", "true"])
                .status()
                .is_ok_and(|status| status.success());
        let output = if mount_namespaces {
            std::process::Command::new("unshare")
                .args(["-m", "sh", "-c"])
                .arg("mount -t tmpfs -o ro tmpfs \"$1\" && TMPDIR=\"$1\" exec \"$0\" extras --format json")
                .arg(env!("CARGO_BIN_EXE_backlog-probe"))
                .arg(&read_only)
                .output()
                .expect("unshare runs")
        } else {
            let unwritable = if common::is_root() {
                std::path::PathBuf::from("/proc")
            } else {
                std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555))
                    .expect("chmod");
                read_only.clone()
            };
            std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
                .args(["extras", "--format", "json"])
                .env("TMPDIR", unwritable)
                .output()
                .expect("extras runs")
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("private directory"), "{stderr}");
        let report = json_of(&output);
        for case in report["unix_domain"].as_array().expect("unix_domain") {
            assert_eq!(case["listen"]["ok"], true, "{case}");
        }
    }
}

/// A deadline that cuts 10 000 cases names a few and counts the rest, in one short line.
#[test]
fn a_deadline_over_many_cases_is_summarised_in_one_short_line() {
    let backlogs: Vec<String> = (0..10_000).map(|b| b.to_string()).collect();
    let list = format!("--backlog={}", backlogs.join(","));
    let output = common::backlog_probe(&[
        "run",
        "--quiet",
        "--family",
        "ipv4",
        "--workers",
        "1",
        "--deadline",
        "1",
        &list,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains("deadline ended"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.len() < 300, "{} bytes: {line:.300}", line.len());
    assert!(line.contains("case(s) early: ipv4_backlog_"), "{line}");
    assert!(line.ends_with(" more"), "{line}");
}

/// `extras` under a descriptor limit: a fill the limit cut short names the limit (text and
/// JSON), never a queue length; what fits is still measured. Under `ulimit -n 30` the Unix
/// rows said "queue 0" (truth 1, 2, 6), under `ulimit -n 200` `UnixListener::bind` said
/// "queue 128" (truth somaxconn + 1).
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
fn extras_name_the_descriptor_limit_instead_of_a_number() {
    #[cfg(unix)]
    for limit in [30u64, 200] {
        let output = common::with_fd_limit(limit as u32, "extras --format json");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{limit}: {stderr}");
        let report = json_of(&output);
        let fills = report["unix_domain"]
            .as_array()
            .expect("unix_domain")
            .iter()
            .chain(report["relisten"].as_array().expect("relisten"))
            .chain(report["runtime_defaults"].as_array().expect("defaults"))
            .filter_map(|row| row.get("fill").filter(|f| !f.is_null()).map(|f| (row, f)));
        let mut limited = 0;
        for (row, fill) in fills {
            match fill["stop"].as_str() {
                Some("out_of_resources") | Some("cap") => {
                    assert_eq!(fill["fd_limit"]["soft"], limit, "{limit}: {row}");
                    limited += 1;
                }
                _ => assert!(fill.get("fd_limit").is_none(), "{limit}: {row}"),
            }
        }
        // std's UnixListener::bind listens with somaxconn (at least 128): more than fits.
        let unix_listener = report["runtime_defaults"]
            .as_array()
            .expect("defaults")
            .iter()
            .find(|d| d["api"] == "std::os::unix::net::UnixListener::bind")
            .expect("the UnixListener row");
        assert_eq!(
            unix_listener["fill"]["fd_limit"]["soft"], limit,
            "{unix_listener}"
        );
        assert!(limited >= 1);
        #[cfg(target_os = "linux")]
        if limit == 30 {
            // Small Unix-domain queues fit under 30 descriptors: measured, backlog + 1.
            for case in report["unix_domain"].as_array().expect("unix_domain") {
                let backlog = case["backlog"].as_u64().expect("backlog");
                assert_eq!(case["fill"]["queue_length"], backlog + 1, "{case}");
            }
        }
        // The table says "not measured" and names the limit where the JSON has fd_limit.
        let table = common::with_fd_limit(limit as u32, "extras");
        let text = String::from_utf8_lossy(&table.stdout);
        let row = text
            .lines()
            .find(|l| l.starts_with("std::os::unix::net::UnixListener::bind"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            row.contains(&format!(
                "not measured: the fd limit {limit} (hard {limit})"
            )),
            "{row}"
        );
    }
}

/// `hold --backlog 5` needs about 8 descriptors and works under `ulimit -n 30`; a backlog that
/// cannot fit is refused at once, blaming the descriptor limit.
#[test]
#[cfg_attr(not(unix), ignore = "uses sh and ulimit to lower RLIMIT_NOFILE")]
fn hold_needs_only_what_its_backlog_needs() {
    #[cfg(unix)]
    {
        let output = common::with_fd_limit(30, "hold --backlog 5 --for 1");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let address = String::from_utf8_lossy(&output.stdout);
        assert!(
            address.trim().parse::<std::net::SocketAddr>().is_ok(),
            "{address}"
        );
        assert!(stderr.contains("6 connections queued"), "{stderr}");

        let started = std::time::Instant::now();
        let output = common::with_fd_limit(30, "hold --backlog 100 --for 1");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("the file-descriptor limit 30 (hard 30)"),
            "{stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
