//! Knob worlds on Linux: `backlog-probe run --sysctl ...` measures in a private network
//! namespace, so any knob value can be snapshotted without touching the host. Each world is a
//! separate process and so a separate namespace. Where namespaces cannot be made (not root, not
//! Linux) every test is reported as ignored, with the reason on stderr (`common::
//! run_with_namespaces`); the CI workflow runs this binary as root.

mod common;

use backlog_probe::classify::tcp::{LateKind, OverflowKind};
use backlog_probe::report::{Report, StableCase};
use serde::Serialize;

/// Run the binary in a world.
fn run_world(sysctls: &[&str], extra: &[&str]) -> Report {
    common::in_world("run", sysctls, extra)
}

/// What a world's snapshot holds: the knobs as read back inside the namespace and the stable
/// view of every case (no timings, no counters: those depend on timing, and are asserted
/// instead).
#[derive(Serialize)]
struct WorldSnapshot {
    sysctls: Vec<(String, i64)>,
    cases: Vec<StableCase>,
}

fn snapshot_of(report: &Report) -> WorldSnapshot {
    let world = report
        .world
        .as_ref()
        .expect("a world report records its world");
    WorldSnapshot {
        sysctls: world
            .sysctls
            .iter()
            .map(|s| (s.key.clone(), s.read_back))
            .collect(),
        cases: report
            .cases
            .iter()
            .map(|c| c.stable_view(report.environment.somaxconn.setting))
            .collect(),
    }
}

/// Facts that hold in every world: the knobs read back as written, the kernel's queue agrees
/// with the client's count, and the namespace's counters saw every overflow.
///
/// Counters are run-level (the cases share the namespace and run concurrently): each `dropped`
/// case had at least one SYN meet a full accept queue, which `tcp_conn_request()` counts as
/// ListenOverflows (net/ipv4/tcp_input.c), and `tcp_listendrop()` counts every such drop in
/// ListenDrops too, so drops >= overflows >= dropped cases.
fn check_world_invariants(report: &Report) {
    let world = report.world.as_ref().expect("world");
    for sysctl in &world.sysctls {
        assert_eq!(sysctl.read_back, sysctl.requested, "{}", sysctl.key);
    }
    for case in &report.cases {
        if let (Some(view), Some(queued)) = (case.kernel_queue, case.queue_length) {
            assert_eq!(view.queued, queued, "{}", case.name);
        }
    }
    let counters = world.counters.expect("Linux keeps per-namespace counters");
    let dropped = report
        .cases
        .iter()
        .filter(|c| c.overflow.kind == OverflowKind::Dropped)
        .count() as u64;
    assert!(
        counters.delta.listen_overflows >= dropped,
        "{dropped} dropped cases but ListenOverflows +{}",
        counters.delta.listen_overflows
    );
    assert!(counters.delta.listen_drops >= counters.delta.listen_overflows);
}

fn assert_world_snapshot(name: &str, report: &Report) {
    let _scope = common::snapshot_settings(&report.environment).bind_to_scope();
    insta::assert_json_snapshot!(name, snapshot_of(report));
}

/// somaxconn 16, below some backlogs: the queue is min(backlog as u32, 16) + 1, so 16, 17, 100
/// and -1 all queue 17 (net/socket.c `__sys_listen_socket()` clamps with an unsigned compare;
/// include/net/sock.h `sk_acceptq_is_full()` is strict).
fn somaxconn_below_the_backlog_clamps_it() {
    let report = run_world(
        &["net.core.somaxconn=16"],
        &["--backlog=0,1,5,16,17,100,-1"],
    );
    check_world_invariants(&report);
    assert_eq!(report.environment.somaxconn.setting, Some(16));
    for case in &report.cases {
        let expected = (case.backlog as u32).min(16) + 1;
        assert_eq!(case.queue_length, Some(expected), "{}", case.name);
        assert_eq!(case.overflow.kind, OverflowKind::Dropped, "{}", case.name);
    }
    assert_world_snapshot("world_somaxconn_16", &report);
}

/// Syncookies off. Since commit 3479c7549fb1 (Jan 2025, 6.13, backported to the stable trees)
/// `inet_csk_reqsk_queue_is_full()` tests `>` like the accept queue, so backlog 0 admits one
/// connection even without cookies; before it, the first SYN was dropped at the SYN-queue test
/// and the queue was 0 (os-semantics.md §1.2). Overflows are still plain SYN drops (§1.3).
fn syncookies_off_still_admits_one_at_backlog_zero() {
    let report = run_world(&["net.ipv4.tcp_syncookies=0"], &["--backlog=0,1,5"]);
    check_world_invariants(&report);
    for case in &report.cases {
        assert_eq!(
            case.queue_length,
            Some(case.backlog as u32 + 1),
            "{}",
            case.name
        );
    }
    assert_world_snapshot("world_syncookies_0", &report);
}

/// abort_on_overflow only acts at the final-ACK site (net/ipv4/tcp_minisocks.c
/// `tcp_check_req()` `listen_overflow:`); one-at-a-time connects overflow at the SYN site,
/// which drops silently whatever the knob says (os-semantics.md §1.3). So the sequential
/// experiment looks exactly as on the host: `dropped`, then a late completion. The burst
/// experiment (tests/bursts.rs) is where the knob shows.
fn abort_on_overflow_does_not_change_a_syn_drop() {
    let report = run_world(&["net.ipv4.tcp_abort_on_overflow=1"], &["--backlog=0,1,5"]);
    check_world_invariants(&report);
    for case in &report.cases {
        assert_eq!(case.overflow.kind, OverflowKind::Dropped, "{}", case.name);
        assert_eq!(
            case.late_completion.kind,
            LateKind::Completed,
            "{}",
            case.name
        );
    }
    assert_world_snapshot("world_abort_on_overflow_1", &report);
}

/// One case per world makes the counters that case's own. Backlog 0 with syncookies off: the
/// dropped SYN is counted as a ListenOverflow (the accept-queue test in `tcp_conn_request()`),
/// not as a SYN-queue drop, which would raise ListenDrops alone. On a kernel without
/// 3479c7549fb1 this case would show queue 0 and ListenDrops > ListenOverflows = 0.
fn per_case_counters_in_a_world_of_one_case() {
    let report = run_world(
        &["net.ipv4.tcp_syncookies=0"],
        &["--backlog=0", "--family", "ipv4"],
    );
    check_world_invariants(&report);
    let case = &report.cases[0];
    assert_eq!(case.queue_length, Some(1));
    let delta = report
        .world
        .as_ref()
        .and_then(|w| w.counters)
        .expect("counters")
        .delta;
    assert!(delta.listen_overflows >= 1, "{delta:?}");
}

/// somaxconn 0 is a legal value (`proc_dointvec_minmax`, minimum 0): every backlog becomes 0
/// and queues one connection.
fn somaxconn_zero_queues_one() {
    let report = run_world(
        &["net.core.somaxconn=0"],
        &["--backlog=0,5,-1", "--family", "ipv4"],
    );
    check_world_invariants(&report);
    for case in &report.cases {
        assert_eq!(case.queue_length, Some(1), "{}", case.name);
    }
}

/// Bad knobs are usage errors with one line, checked inside the namespace (so they need one).
fn bad_knobs_exit_2_with_one_line() {
    for (sysctl, says) in [
        ("net.core.no_such_knob=1", "unknown sysctl"),
        ("net.ipv4.tcp_available_congestion_control=1", "read-only"),
        ("net.ipv4.ip_local_port_range=1", "single integer"),
        ("net.core.somaxconn=-5", "refused"),
        ("kernel.pid_max=5", "not a net.* sysctl"),
        ("net.core.somaxconn", "KEY=VALUE"),
    ] {
        let output = common::backlog_probe(&["run", "--quiet", "--sysctl", sysctl]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{sysctl}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{sysctl}: {stderr}");
        assert!(stderr.contains(says), "{sysctl}: {stderr}");
        assert!(output.stdout.is_empty(), "{sysctl}");
    }
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces(
        &[
            (
                "somaxconn_below_the_backlog_clamps_it",
                somaxconn_below_the_backlog_clamps_it,
            ),
            (
                "syncookies_off_still_admits_one_at_backlog_zero",
                syncookies_off_still_admits_one_at_backlog_zero,
            ),
            (
                "abort_on_overflow_does_not_change_a_syn_drop",
                abort_on_overflow_does_not_change_a_syn_drop,
            ),
            (
                "per_case_counters_in_a_world_of_one_case",
                per_case_counters_in_a_world_of_one_case,
            ),
            ("somaxconn_zero_queues_one", somaxconn_zero_queues_one),
            (
                "bad_knobs_exit_2_with_one_line",
                bad_knobs_exit_2_with_one_line,
            ),
        ],
        &[],
    )
}
