//! Bursts on Linux: many clients at once against a listener that does not accept, in private
//! network namespaces (each burst is its own process and namespace, so the kernel counters are
//! the burst's own). Where namespaces cannot be made those tests are reported as ignored, with
//! the reason on stderr; the burst from the host's namespace runs everywhere.
//!
//! What is stable was measured (Linux 6.18, 2 CPUs, 64 clients, backlog 5, 30 bursts per world,
//! several batches): the listener, the stored limit (5), and no client refused or failed. What
//! varies: most bursts admit exactly 6 (limit + 1) and leave 58 pending, but up to one in four
//! has one final-ACK overflow (a half-open client, or a reset with `tcp_abort_on_overflow=1`),
//! and a few admit 7 (two handshakes on two CPUs pass the lockless full test together). So those
//! counts are invariants here, not snapshots.

mod common;

use backlog_probe::classify::burst::ClientOutcome;
use backlog_probe::report::burst::BurstReport;

/// Bursts per world in the tests that compare the knob's two settings.
const REPEATS: usize = 6;

fn run_burst(sysctls: &[&str], extra: &[&str]) -> BurstReport {
    common::in_world("burst", sysctls, extra)
}

/// What holds in every Linux burst far above the queue:
/// - every client is counted once;
/// - the queue fills at least to its capacity, limit + 1 (include/net/sock.h
///   `sk_acceptq_is_full()` is strict), and the kernel's queue agrees with the accepted count;
/// - nothing is refused: a SYN meeting a full queue is dropped, not answered
///   (net/ipv4/tcp_input.c `tcp_conn_request()`), so those clients are pending;
/// - the server accepted every accepted client and the half-open ones the probe completed;
/// - the namespace's ListenOverflows count each overflow: one per pending client (its SYN,
///   dropped once before the burst ends) and one per half-open or reset client (the final
///   ACK), at least (a slow machine lets a retransmitted SYN meet the full queue again);
///   ListenDrops counts at least as much.
fn check_burst_invariants(report: &BurstReport) {
    let clients = report.burst.clients;
    assert_eq!(report.clients.len() as u32, clients);
    assert_eq!(
        report.outcomes.iter().map(|s| s.count).sum::<u32>(),
        clients
    );
    assert!(!report.deadline_hit);
    let limit = report.kernel_queue.expect("TCP_INFO on Linux").limit;
    assert!(
        report.admitted() > limit,
        "admitted {} with limit {limit}",
        report.admitted()
    );
    let accepted = report.count(ClientOutcome::Accepted);
    assert_eq!(report.kernel_queue.map(|q| q.queued), Some(accepted));
    assert_eq!(report.count(ClientOutcome::Refused), 0);
    assert_eq!(report.count(ClientOutcome::Failed), 0);
    // At least: a pending client's SYN retransmitted at 1 s can get in during the drain on a
    // slow machine.
    assert!(
        report.accepted_total >= accepted + report.probes.accepted_after_probe,
        "{} accepted, {:?}",
        report.accepted_total,
        report.probes
    );
    let overflowed = report.count(ClientOutcome::Pending)
        + report.count(ClientOutcome::HalfOpen)
        + report.count(ClientOutcome::Reset);
    let counters = report
        .world
        .as_ref()
        .and_then(|w| w.counters)
        .expect("a world's counters")
        .delta;
    assert!(
        counters.listen_overflows >= u64::from(overflowed),
        "{overflowed} overflowed clients, {counters:?}"
    );
    assert!(counters.listen_drops >= counters.listen_overflows);
}

/// The stable part of a burst of 64 against backlog 5 in a world with somaxconn 16.
fn burst_in_a_world_matches_snapshot() {
    let report = run_burst(
        &["net.core.somaxconn=16"],
        &["--backlog", "5", "--clients", "64"],
    );
    check_burst_invariants(&report);
    let _scope = common::snapshot_settings(&report.environment).bind_to_scope();
    insta::assert_json_snapshot!("burst_backlog_5_clients_64", report.stable_view());
}

/// The burst is clamped like a single listener: backlog 100 under somaxconn 16 holds 17.
fn burst_respects_the_namespace_somaxconn() {
    let report = run_burst(
        &["net.core.somaxconn=16"],
        &["--backlog", "100", "--clients", "64"],
    );
    check_burst_invariants(&report);
    assert_eq!(report.kernel_queue.map(|q| q.limit), Some(16));
}

/// tcp_abort_on_overflow decides what a final-ACK overflow becomes (net/ipv4/tcp_minisocks.c
/// `tcp_check_req()` `listen_overflow:`): with 0 the ACK is ignored and the client is
/// half-open; with 1 the server resets it. Overflows at the final ACK happen in only some
/// bursts, so this asserts what can never happen (a reset with 0, a half-open with 1) over
/// several bursts and prints what was seen.
fn abort_on_overflow_turns_half_open_into_reset() {
    let mut tallies = Vec::new();
    for abort in [0, 1] {
        let sysctl = format!("net.ipv4.tcp_abort_on_overflow={abort}");
        let (mut half_open, mut reset) = (0, 0);
        for _ in 0..REPEATS {
            let report = run_burst(&[&sysctl], &["--backlog", "5", "--clients", "64"]);
            check_burst_invariants(&report);
            half_open += report.count(ClientOutcome::HalfOpen);
            reset += report.count(ClientOutcome::Reset);
            if abort == 0 {
                assert_eq!(report.count(ClientOutcome::Reset), 0, "abort_on_overflow=0");
                // A half-open client's probe byte carries the ACK again; with the queue
                // drained, tcp_check_req() creates the child and the server accepts it.
                let half_open = report.count(ClientOutcome::HalfOpen);
                assert_eq!(report.probes.probed, half_open);
                assert_eq!(
                    report.probes.accepted_after_probe, half_open,
                    "{:?}",
                    report.probes
                );
            } else {
                assert_eq!(
                    report.count(ClientOutcome::HalfOpen),
                    0,
                    "abort_on_overflow=1"
                );
            }
        }
        tallies.push(format!(
            "abort_on_overflow={abort}: {half_open} half-open, {reset} reset in {REPEATS} bursts"
        ));
    }
    eprintln!("{}", tallies.join("; "));
}

/// A burst from the host's namespace needs no privileges and still leaves nothing behind:
/// every client is accounted for and the deadline holds.
fn burst_on_the_host_accounts_for_every_client() {
    let output = common::backlog_probe(&[
        "burst",
        "--quiet",
        "--format",
        "json",
        "--clients",
        "20",
        "--backlog",
        "2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: BurstReport = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(report.world.is_none());
    assert_eq!(report.outcomes.iter().map(|s| s.count).sum::<u32>(), 20);
    assert!(!report.deadline_hit);
}

/// Bad burst arguments are one-line usage errors.
fn bad_burst_arguments_exit_2() {
    let mut cases = vec![
        &["burst", "--clients", "0"][..],
        &["burst", "--clients", "many"],
        &["burst", "--backlog", "x"],
        &["burst", "--deadline", "0"],
    ];
    // More clients than the descriptor limit allows is a usage error where there is such a
    // limit (Unix; Windows counts handles, without a per-process limit to check against).
    if cfg!(unix) {
        cases.push(&["burst", "--clients", "100000", "--quiet"]);
    }
    for args in cases {
        let output = common::backlog_probe(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces(
        &[
            (
                "burst_in_a_world_matches_snapshot",
                burst_in_a_world_matches_snapshot,
            ),
            (
                "burst_respects_the_namespace_somaxconn",
                burst_respects_the_namespace_somaxconn,
            ),
            (
                "abort_on_overflow_turns_half_open_into_reset",
                abort_on_overflow_turns_half_open_into_reset,
            ),
        ],
        &[
            (
                "burst_on_the_host_accounts_for_every_client",
                burst_on_the_host_accounts_for_every_client,
            ),
            ("bad_burst_arguments_exit_2", bad_burst_arguments_exit_2),
        ],
    )
}
