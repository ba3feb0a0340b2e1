//! The default matrix on this OS: one snapshot per case under `snapshots/<os>/`, and the facts
//! that hold on every OS as plain asserts.

mod common;

use backlog_probe::classify::tcp::OverflowKind;
use backlog_probe::plan::{Backlog, CaseSpec, Family};
use rstest::rstest;

/// Each default case against its reviewed snapshot. A kernel that changes behaviour shows up
/// as a snapshot diff; a new OS or runner shows up as new snapshots to review.
#[rstest]
#[case::ipv4_backlog_zero(Family::Ipv4, Backlog::Value(0))]
#[case::ipv4_backlog_one(Family::Ipv4, Backlog::Value(1))]
#[case::ipv4_backlog_five(Family::Ipv4, Backlog::Value(5))]
#[case::ipv4_backlog_somaxconn(Family::Ipv4, Backlog::Somaxconn)]
#[case::ipv4_backlog_minus_one(Family::Ipv4, Backlog::Value(-1))]
#[case::ipv4_backlog_i32_min(Family::Ipv4, Backlog::Value(i32::MIN))]
#[case::ipv4_backlog_i32_max(Family::Ipv4, Backlog::Value(i32::MAX))]
#[case::ipv6_backlog_zero(Family::Ipv6, Backlog::Value(0))]
#[case::ipv6_backlog_one(Family::Ipv6, Backlog::Value(1))]
#[case::ipv6_backlog_five(Family::Ipv6, Backlog::Value(5))]
#[case::ipv6_backlog_somaxconn(Family::Ipv6, Backlog::Somaxconn)]
#[case::ipv6_backlog_minus_one(Family::Ipv6, Backlog::Value(-1))]
#[case::ipv6_backlog_i32_min(Family::Ipv6, Backlog::Value(i32::MIN))]
#[case::ipv6_backlog_i32_max(Family::Ipv6, Backlog::Value(i32::MAX))]
fn default_case_matches_snapshot(#[case] family: Family, #[case] backlog: Backlog) {
    let report = common::default_report();
    let spec = CaseSpec { family, backlog };
    let case = report
        .cases
        .iter()
        .find(|case| case.name == spec.name())
        .expect("every default case is in the report");
    if common::behaviour_not_compared(&report.environment, &spec.name()) {
        return;
    }
    let _scope = common::snapshot_settings(&report.environment).bind_to_scope();
    insta::assert_json_snapshot!(
        spec.name(),
        case.stable_view(report.environment.somaxconn.setting)
    );
}

/// The default cases the invariants judge. Under an emulator (Wine), sockets are host
/// descriptors whose limit the Windows build cannot see, so a case can run out of them: such a
/// case is inconclusive by design (never a wrong number), or, when the descriptors ran out
/// while its server accepted, carries an `inconsistent` note that says so; either is left out
/// here, with a note.
fn judged_cases() -> Vec<&'static backlog_probe::report::CaseReport> {
    let report = common::default_report();
    let emulated = common::behaviour_skip_reason(&report.environment);
    report
        .cases
        .iter()
        .filter(|case| {
            let skip = emulated.is_some()
                && (case.overflow.kind == OverflowKind::Inconclusive
                    || !case.inconsistent.is_empty());
            if skip {
                eprintln!(
                    "{}: inconclusive or inconsistent under an emulator, not judged: {:?} {:?}",
                    case.name, case.overflow.detail, case.inconsistent
                );
            }
            !skip
        })
        .collect()
}

/// A listener that accepted `listen(b)` with b >= 1 queues at least one connection: every OS
/// documents the backlog as a hint to queue that many (POSIX listen(), "a backlog argument of
/// 0 may allow ...", and b >= 1 must allow at least one).
#[test]
fn positive_backlogs_queue_at_least_one_connection() {
    for case in judged_cases() {
        if case.listen.ok && case.backlog >= 1 {
            assert!(
                case.queue_length >= Some(1),
                "{}: {:?}",
                case.name,
                case.queue_length
            );
        }
    }
}

/// Every connection the client saw complete was queued by the server, so the server can
/// accept at least that many.
#[test]
fn the_server_accepts_every_completed_connection() {
    for case in judged_cases() {
        if let Some(queued) = case.queue_length {
            assert!(
                case.accepted >= queued,
                "{}: accepted {} < queue {queued}",
                case.name,
                case.accepted
            );
        }
    }
}

/// Where the kernel reports its queue, it agrees with the client-side count: the harness's
/// count is exact, not a race.
#[test]
fn the_kernel_view_agrees_with_the_client_count() {
    for case in judged_cases() {
        if let (Some(view), Some(queued)) = (case.kernel_queue, case.queue_length) {
            assert_eq!(view.queued, queued, "{}", case.name);
        }
    }
}

/// The address family does not change the queue: IPv4 and IPv6 give the same numbers for the
/// same backlog (both go through the same listen() and accept-queue code on every OS studied).
#[test]
fn ipv4_and_ipv6_agree() {
    let cases = judged_cases();
    for v4 in cases.iter().filter(|c| c.family == Family::Ipv4) {
        let Some(v6) = cases
            .iter()
            .find(|c| c.family == Family::Ipv6 && c.backlog == v4.backlog)
        else {
            continue;
        };
        if v6.overflow.kind == OverflowKind::Unavailable {
            eprintln!("{}: IPv6 unavailable here, nothing to compare", v6.name);
            continue;
        }
        assert_eq!(
            (v4.queue_length, v4.overflow.kind),
            (v6.queue_length, v6.overflow.kind),
            "backlog {}",
            v4.backlog
        );
    }
}

/// Every default case reaches a verdict: a test failure here means the harness could not tell
/// what the OS did (out of descriptors, or contradictory facts), which is worth a look.
#[test]
fn every_case_reaches_a_verdict() {
    for case in judged_cases() {
        assert!(
            !matches!(
                case.overflow.kind,
                OverflowKind::Inconclusive | OverflowKind::Other
            ),
            "{}: {:?}",
            case.name,
            case.overflow
        );
    }
}

/// Linux: the effective queue is min(backlog as u32, somaxconn) + 1.
/// - net/socket.c `__sys_listen_socket()`: `if ((unsigned int)backlog > somaxconn) backlog =
///   somaxconn;` (so every negative backlog becomes somaxconn);
/// - include/net/sock.h `sk_acceptq_is_full()`: `sk_ack_backlog > sk_max_ack_backlog`, strict,
///   so N queues N + 1 (commit 64a146513f8f);
/// - net/ipv4/tcp_input.c `tcp_conn_request()`: a SYN meeting a full accept queue is dropped
///   without an answer, so the overflow is `dropped`, and the client's retransmitted SYN gets in
///   once a slot frees.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the formula is Linux's (include/net/sock.h)"
)]
fn linux_queue_is_clamped_backlog_plus_one() {
    let report = common::default_report();
    let somaxconn = report
        .environment
        .somaxconn
        .setting
        .expect("Linux exposes net.core.somaxconn") as u32;
    assert_eq!(
        report.environment.somaxconn.setting_name.as_deref(),
        Some("net.core.somaxconn")
    );
    for case in &report.cases {
        let expected = (case.backlog as u32).min(somaxconn) + 1;
        assert_eq!(case.queue_length, Some(expected), "{}", case.name);
        assert_eq!(case.overflow.kind, OverflowKind::Dropped, "{}", case.name);
        assert_eq!(
            case.kernel_queue.map(|q| q.limit),
            Some(expected - 1),
            "{}: TCP_INFO tcpi_sacked is the clamped backlog",
            case.name
        );
        assert_eq!(
            case.late_completion.kind,
            backlog_probe::classify::tcp::LateKind::Completed,
            "{}: the retransmitted SYN gets in",
            case.name
        );
    }
}
