//! Beyond one TCP listen(): UDP, Unix-domain listeners, listen() twice, runtime defaults. One
//! snapshot per group under `snapshots/<os>/`, and the rules the kernel sources state as plain
//! asserts.

mod common;

use std::sync::OnceLock;

use backlog_probe::classify::extras::queue_was_full;
use backlog_probe::experiment::budget::process_budget;
use backlog_probe::experiment::extras::{defaults, unix};
use backlog_probe::observation::FailedAt;
use backlog_probe::report::extras::{EXTRAS_SCHEMA_VERSION, ExtrasReport};
use backlog_probe::report::extras::{FillStop, LocalType, MeasureStatus, RuntimeDefault};
use serde_json::json;

/// All extras, run once per test binary and shared.
fn report() -> &'static ExtrasReport {
    static REPORT: OnceLock<ExtrasReport> = OnceLock::new();
    REPORT.get_or_init(backlog_probe::run::extras_report)
}

fn somaxconn() -> Option<i64> {
    report().environment.somaxconn.setting
}

/// Snapshot `value` as `name` with the environment as metadata, unless this OS's behaviour
/// cannot be measured here (Wine).
fn snapshot(name: &str, value: serde_json::Value) {
    if common::behaviour_not_compared(&report().environment, name) {
        return;
    }
    let _scope = common::snapshot_settings(&report().environment).bind_to_scope();
    insta::assert_json_snapshot!(name, value);
}

fn is_tokio(default: &RuntimeDefault) -> bool {
    default.api.starts_with("tokio")
}

#[test]
fn udp_matches_snapshot() {
    snapshot("extras_udp", json!({ "udp": report().udp }));
}

#[test]
fn unix_domain_matches_snapshot() {
    snapshot(
        "extras_unix_domain",
        json!({ "system_somaxconn": somaxconn(), "unix_domain": report().unix_domain }),
    );
}

#[test]
fn relisten_matches_snapshot() {
    snapshot(
        "extras_relisten",
        json!({ "system_somaxconn": somaxconn(), "relisten": report().relisten }),
    );
}

/// std's listeners. tokio has its own snapshot: it is measured through the dev-dependency
/// whatever the features. Python's rows and every other runtime program are tests/runtimes.rs'
/// (ignored with the reason where the runtime is not installed).
#[test]
fn std_runtime_defaults_match_snapshot() {
    let std_only: Vec<&RuntimeDefault> = report()
        .runtime_defaults
        .iter()
        .filter(|d| d.runtime.is_none() && !is_tokio(d))
        .collect();
    assert_eq!(std_only.len(), 2);
    snapshot(
        "extras_runtime_defaults_std",
        json!({ "system_somaxconn": somaxconn(), "runtime_defaults": std_only }),
    );
}

/// tokio's `TcpListener::bind`, measured through the same function the `tokio` feature uses.
#[test]
fn tokio_default_matches_snapshot() {
    // tokio's Windows reactor runs on Wine's AFD emulation, which is not what is measured.
    if common::behaviour_not_compared(&report().environment, "tokio default") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a current-thread runtime");
    let measured = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("loopback bind");
        defaults::measure_listener(
            "tokio::net::TcpListener::bind",
            &socket2::SockRef::from(&listener),
            socket2::Type::STREAM,
            process_budget(),
        )
    });
    assert_eq!(measured.status, MeasureStatus::Measured, "{measured:?}");
    assert!(
        measured.kernel_limit.is_some()
            || measured
                .fill
                .as_ref()
                .is_some_and(|f| queue_was_full(f.stop)),
        "{measured:?}"
    );
    snapshot(
        "extras_runtime_defaults_tokio",
        json!({ "system_somaxconn": somaxconn(), "runtime_defaults": [measured] }),
    );
}

/// Every OS refuses listen() on a datagram socket: listen(2) is for connection-oriented
/// sockets (POSIX listen(): "[EOPNOTSUPP] The socket protocol does not support listen()";
/// Winsock: WSAEOPNOTSUPP).
#[test]
fn listen_on_udp_fails_everywhere() {
    for case in &report().udp {
        if case.listen.failed_at != Some(FailedAt::Listen) {
            eprintln!(
                "{}: UDP setup failed before listen(): {:?}",
                case.family, case.listen
            );
            continue;
        }
        assert!(!case.listen.ok, "{case:?}");
        assert!(case.listen.os_error.is_some(), "{case:?}");
    }
}

/// Every Unix-domain case reaches a verdict and the server accepts every connection the client
/// saw complete; where the OS lacks a type, `socket()` reports it instead of a panic.
#[test]
fn unix_domain_cases_reach_a_verdict() {
    if common::behaviour_not_compared(&report().environment, "unix-domain verdicts") {
        return;
    }
    for case in &report().unix_domain {
        match (&case.fill, &case.listen.failed_at) {
            (Some(fill), None) => {
                assert!(queue_was_full(fill.stop), "{case:?}");
                assert!(case.accepted >= fill.queue_length, "{case:?}");
            }
            (None, Some(_)) => assert!(case.listen.os_error.is_some(), "{case:?}"),
            _ => panic!("inconsistent case: {case:?}"),
        }
    }
}

/// Linux, net/unix/af_unix.c: `unix_stream_connect()` (stream and seqpacket) refuses a
/// connection when `unix_recvq_full_lockless(other)`, i.e.
/// `skb_queue_len_lockless(&sk->sk_receive_queue) > sk->sk_max_ack_backlog`: strict, so backlog
/// N queues N + 1; a non-blocking client then gets `-EAGAIN` from `connect()` itself
/// (`if (!timeo) { err = -EAGAIN; goto out_unlock; }`): no dropped SYN and no wait.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the rule is Linux's (net/unix/af_unix.c)"
)]
fn linux_unix_domain_queue_is_backlog_plus_one_then_eagain() {
    let cases = &report().unix_domain;
    assert_eq!(cases.len(), 2 * unix::LOCAL_BACKLOGS.len());
    for ty in LocalType::ALL {
        for case in cases.iter().filter(|c| c.socket_type == ty) {
            let fill = case.fill.as_ref().expect("Linux has both types");
            assert_eq!(fill.queue_length, case.backlog as u32 + 1, "{case:?}");
            assert_eq!(fill.stop, FillStop::FailedImmediately, "{case:?}");
            assert_eq!(
                fill.os_error.as_ref().and_then(|e| e.name.as_deref()),
                Some("EAGAIN"),
                "{case:?}"
            );
        }
    }
}

/// Linux, net/ipv4/af_inet.c `__inet_listen_sk()` (called by `inet_listen()`): it stores
/// `WRITE_ONCE(sk->sk_max_ack_backlog, backlog)` first, and on a socket already in TCP_LISTEN
/// "we can only allow the backlog to be adjusted", smaller or larger, so the queue becomes second + 1 (include/net/sock.h `sk_acceptq_is_full()`, `>`).
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the rule is Linux's (net/ipv4/af_inet.c)"
)]
fn linux_relisten_applies_the_new_backlog() {
    for case in &report().relisten {
        assert!(
            case.second_listen.as_ref().is_some_and(|l| l.ok),
            "{case:?}"
        );
        let second = case.second_backlog as u32;
        assert_eq!(case.kernel_queue.map(|q| q.limit), Some(second), "{case:?}");
        let fill = case.fill.as_ref().expect("filled");
        assert_eq!(fill.queue_length, second + 1, "{case:?}");
        assert_eq!(fill.stop, FillStop::Pending, "{case:?}");
    }
}

/// Linux: std's `TcpListener::bind` passes 128 (rust-lang/rust
/// library/std/src/sys/net/connection/socket.rs); `UnixListener::bind` passes -1 (rust-lang/rust
/// PR #97963), which net/socket.c clamps to somaxconn, so its queue is somaxconn + 1.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the numbers are Linux's (net/socket.c clamp)"
)]
fn linux_std_defaults() {
    let defaults = &report().runtime_defaults;
    let tcp = defaults
        .iter()
        .find(|d| d.api == "std::net::TcpListener::bind")
        .expect("std TCP");
    assert_eq!(tcp.kernel_limit, Some(128), "{tcp:?}");
    let unix = defaults
        .iter()
        .find(|d| d.api == "std::os::unix::net::UnixListener::bind")
        .expect("std Unix");
    let somaxconn = somaxconn().expect("Linux exposes net.core.somaxconn") as u32;
    let fill = unix
        .fill
        .as_ref()
        .expect("no kernel view for AF_UNIX on Linux");
    assert_eq!(fill.queue_length, somaxconn + 1, "{unix:?}");
}

/// The binary's JSON has every documented section.
#[test]
fn extras_json_has_every_section() {
    let output = common::backlog_probe(&["extras", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(value["schema_version"], EXTRAS_SCHEMA_VERSION);
    for key in [
        "tool",
        "environment",
        "udp",
        "unix_domain",
        "relisten",
        "runtime_defaults",
    ] {
        assert!(value.get(key).is_some(), "missing {key}");
    }
    // The day the run started (tests/json_contract.rs checks its shape for the run report).
    let day = value["environment"]["measured_on"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(day.len(), "YYYY-MM-DD".len(), "{}", value["environment"]);
    let fill = &value["unix_domain"][0]["fill"];
    if !fill.is_null() {
        for key in ["queue_length", "stop", "os_error"] {
            assert!(fill.get(key).is_some(), "fill lacks {key}: {fill}");
        }
    }
}

/// Contract note: `fill.fd_limit` (`{"soft", "hard", "descriptors"}`, where the descriptor
/// limit stopped a fill) and `unix_domain[].detail` (a setup failure without an OS error) are
/// optional additions, absent otherwise, so `EXTRAS_SCHEMA_VERSION` stays 1: a version-1
/// report still reads, and a reader that knows only version 1's fields reads the new JSON.
#[test]
fn the_extras_additions_keep_version_1_readable() {
    use backlog_probe::report::read::parse_extras;
    let fixture = include_str!("fixtures/extras-linux.json");
    let old = parse_extras(fixture).expect("a version-1 report reads");
    assert!(
        old.unix_domain
            .iter()
            .filter_map(|c| c.fill.as_ref())
            .all(|f| f.fd_limit.is_none())
    );
    // A version-1 reader: the fields it knew, unknown ones ignored (serde's default).
    #[derive(serde::Deserialize)]
    struct FillV1 {
        #[allow(dead_code)]
        queue_length: u32,
        stop: String,
        #[allow(dead_code)]
        os_error: Option<serde_json::Value>,
    }
    let new = serde_json::json!({
        "queue_length": 7,
        "stop": "out_of_resources",
        "os_error": null,
        "fd_limit": {"soft": 30, "hard": 30, "descriptors": 14}
    });
    let read: FillV1 = serde_json::from_value(new.clone()).expect("a v1 reader reads it");
    assert_eq!(read.stop, "out_of_resources");
    let current: backlog_probe::observation::extras::FillResult =
        serde_json::from_value(new.clone()).expect("this build reads it");
    assert_eq!(serde_json::to_value(&current).expect("json"), new);
}

/// `extras` with its temporary directory set to `tmp`, output piped.
#[cfg(unix)]
fn spawn_extras(tmp: &std::path::Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
        .arg("extras")
        .args(args)
        .env("TMPDIR", tmp)
        .env("RUST_BACKTRACE", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn extras")
}

/// The entries of a directory.
#[cfg(unix)]
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// The Unix-domain sockets live in private directories (`bp-` and a random suffix, mode 0700)
/// that are gone when `extras` ends normally.
#[test]
#[cfg_attr(not(unix), ignore = "Unix-domain socket paths")]
fn socket_directories_are_private_and_removed() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut child = spawn_extras(tmp.path(), &["--format", "json"]);
        // Catch one of the directories while it exists.
        let started = std::time::Instant::now();
        let mut seen = None;
        while child.try_wait().expect("try_wait").is_none()
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            if let Some(name) = entries(tmp.path())
                .into_iter()
                .find(|n| n.starts_with("bp-"))
            {
                if let Ok(meta) = std::fs::metadata(tmp.path().join(&name)) {
                    seen = Some((name, meta.permissions().mode() & 0o777, meta.is_dir()));
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let output = child.wait_with_output().expect("output");
        assert!(output.status.success());
        let (name, mode, is_dir) = seen.expect("a socket directory was seen");
        assert!(is_dir, "{name}");
        assert_eq!(mode, 0o700, "{name}");
        assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
    }
}

/// A signal while the sockets exist (SIGINT, SIGTERM or SIGHUP) removes their directories
/// before the process ends, with exit 130; nothing is left in the temporary directory.
#[test]
#[cfg_attr(not(unix), ignore = "sends Unix signals")]
fn a_signal_leaves_no_socket_behind() {
    #[cfg(unix)]
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut child = spawn_extras(tmp.path(), &[]);
        let started = std::time::Instant::now();
        loop {
            if entries(tmp.path()).iter().any(|n| n.starts_with("bp-")) {
                break;
            }
            assert!(
                child.try_wait().expect("try_wait").is_none(),
                "extras ended before a socket directory was seen"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(60));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
        // SAFETY: plain syscall on the child we spawned and still own.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "signal {signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            entries(tmp.path()).is_empty(),
            "signal {signal}: {:?}",
            entries(tmp.path())
        );
    }
}

/// Another user who fills the temporary directory with the names a run would have used
/// (`bp-PID-N.sock` was predictable) breaks nothing: the directories are random and made
/// exclusively, so every Unix-domain row is still measured.
#[test]
#[cfg_attr(not(unix), ignore = "Unix-domain socket paths")]
fn names_taken_in_advance_break_nothing() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        // The shell's pid is the binary's after exec: take its old socket names first, as the
        // unprivileged user where this runs as root.
        let mkdir = if common::is_root() {
            common::assert_reachable_by_others(tmp.path());
            "setpriv --reuid=65534 --regid=65534 --clear-groups mkdir"
        } else {
            "mkdir"
        };
        let script = format!(
            "for n in 0 1 2 3 4 5 6 7 8 9 10 11 12; do {mkdir} \"$TMPDIR/bp-$$-$n.sock\" \"$TMPDIR/bp-$$\" 2>/dev/null; done; exec \"$0\" extras --format json"
        );
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_backlog-probe"))
            .env("TMPDIR", tmp.path())
            .output()
            .expect("sh runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        for case in report["unix_domain"].as_array().expect("unix_domain") {
            // Where the OS has the socket type at all, the listener comes up.
            if case["listen"]["failed_at"] != "socket" {
                assert_eq!(case["listen"]["ok"], true, "{case}");
            }
        }
        let unix_listener = report["runtime_defaults"]
            .as_array()
            .expect("defaults")
            .iter()
            .find(|d| d["api"] == "std::os::unix::net::UnixListener::bind")
            .expect("row");
        assert_eq!(unix_listener["status"], "measured", "{unix_listener}");
    }
}

/// A temporary directory whose path is too long for a Unix-domain address (`sun_path`, about
/// 104 bytes) made every Unix-domain row fail with "os error -1"; the sockets now go under
/// `/tmp` instead, and every row is measured.
#[test]
#[cfg_attr(not(unix), ignore = "Unix-domain socket paths")]
fn a_long_temporary_directory_is_no_reason_to_fail() {
    #[cfg(unix)]
    {
        let tmp = tempfile::tempdir().expect("temp dir");
        let long = tmp.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&long).expect("mkdir");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
            .arg("extras")
            .env("TMPDIR", &long)
            .output()
            .expect("extras runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{text}");
        assert!(!text.contains("os error -1"), "{text}");
        let unix_rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("stream ") || l.starts_with("seqpacket "))
            .collect();
        assert_eq!(unix_rows.len(), 6, "{text}");
        for row in unix_rows {
            // "ok", or socket() failing where the OS lacks the type: never bind.
            assert!(!row.contains("bind"), "{row}");
        }
    }
}
