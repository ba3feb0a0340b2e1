//! Table tests for the model. Each table cites the kernel source or documentation its expected
//! values come from.

use super::*;
use crate::classify::tcp::Overflow;
use crate::observation::ListenReport;
use crate::plan::Family;

const MIN: i32 = i32::MIN;
const MAX: i32 = i32::MAX;

fn queue(os: OsFamily, backlog: i32, limits: &Limits) -> Option<u32> {
    predict(os, backlog, limits).queue_length
}

#[test]
fn linux_table() {
    // net/socket.c __sys_listen_socket(): `if ((unsigned int)backlog > somaxconn) backlog =
    // somaxconn;` include/net/sock.h sk_acceptq_is_full(): `sk_ack_backlog > sk_max_ack_backlog`.
    let limits = Limits::typical(OsFamily::Linux);
    for (backlog, expected) in [
        (0, 1),
        (1, 2),
        (5, 6),
        (4096, 4097),
        (4097, 4097),
        (-1, 4097),
        (MIN, 4097),
        (MAX, 4097),
    ] {
        assert_eq!(
            queue(OsFamily::Linux, backlog, &limits),
            Some(expected),
            "{backlog}"
        );
    }
    // A container's namespace (or a lowered sysctl) clamps lower: somaxconn 128 → 129.
    let small = Limits {
        somaxconn_setting: Some(128),
        ..limits
    };
    assert_eq!(queue(OsFamily::Linux, -1, &small), Some(129));
    assert_eq!(queue(OsFamily::Linux, 4096, &small), Some(129));
    let p = predict(OsFamily::Linux, 5, &limits);
    assert_eq!(p.overflow, OverflowKind::Dropped);
    assert_eq!(p.confidence, Confidence::Source);
    assert!(p.source.contains("sk_acceptq_is_full"));
}

#[test]
fn linux_backlog_zero_without_syncookies_is_open() {
    // Commit 3479c7549fb1 (6.13): before it, `inet_csk_reqsk_queue_is_full()` used `>=`, so
    // backlog 0 with tcp_syncookies=0 admitted nothing; after it, 1.
    let limits = Limits {
        syncookies: Some(0),
        ..Limits::typical(OsFamily::Linux)
    };
    let p = predict(OsFamily::Linux, 0, &limits);
    assert_eq!(p.queue_length, None);
    assert_eq!(p.confidence, Confidence::Low);
    assert_eq!(queue(OsFamily::Linux, 1, &limits), Some(2));
}

#[test]
fn macos_table() {
    // xnu bsd/kern/uipc_socket.c solisten(): `if (backlog <= 0 || backlog > somaxconn) backlog =
    // somaxconn;` uipc_socket2.c sonewconn_internal(): `so_qlen >= so_qlimit` with
    // soqlimitcompat=1 (the default), so no + 1.
    let limits = Limits::typical(OsFamily::Macos);
    for (backlog, expected) in [
        (0, 128),
        (1, 1),
        (5, 5),
        (128, 128),
        (129, 128),
        (-1, 128),
        (MIN, 128),
        (MAX, 128),
    ] {
        assert_eq!(
            queue(OsFamily::Macos, backlog, &limits),
            Some(expected),
            "{backlog}"
        );
    }
    assert_eq!(
        predict(OsFamily::Macos, 1, &limits).overflow,
        OverflowKind::Dropped
    );
    // kern.ipc.soqlimitcompat=0 restores the 3/2 factor.
    let compat_off = Limits {
        soqlimitcompat: Some(0),
        ..limits
    };
    assert_eq!(queue(OsFamily::Macos, 5, &compat_off), Some(7));
    // so_qlimit is a short (bsd/sys/socketvar.h): above 32767 the model says "unknown".
    let huge = Limits {
        somaxconn_setting: Some(40_000),
        ..limits
    };
    assert_eq!(queue(OsFamily::Macos, -1, &huge), None);
    assert_eq!(queue(OsFamily::Macos, 32_767, &huge), Some(32_767));
}

#[test]
fn freebsd_table() {
    // sys/kern/uipc_socket.c solisten_proto(): `if (backlog < 0 || backlog > somaxconn) backlog =
    // somaxconn;` solisten_clone(): `over = (sol_qlen > 3 * sol_qlimit / 2)`.
    let limits = Limits::typical(OsFamily::Freebsd);
    for (backlog, expected) in [
        (0, 1),
        (1, 2),
        (5, 8),
        (128, 193),
        (129, 193),
        (-1, 193),
        (MIN, 193),
        (MAX, 193),
    ] {
        assert_eq!(
            queue(OsFamily::Freebsd, backlog, &limits),
            Some(expected),
            "{backlog}"
        );
    }
    // tcp_syncache.c: rst_on_sock_fail defaults to 1, so the client is reset after the handshake.
    assert_eq!(
        predict(OsFamily::Freebsd, 5, &limits).overflow,
        OverflowKind::Reset
    );
}

#[test]
fn windows_table() {
    // learn.microsoft.com listen(): SOMAXCONN_HINT(N) "adjusted to be within the range (200,
    // 65535)"; SOMAXCONN_HINT(b) is -(b), so every negative is a hint. Plain values are
    // "limited (silently) to a reasonable value", typically 200 (CSS_SQL_Networking_Tools wiki).
    let limits = Limits::typical(OsFamily::Windows);
    for (backlog, expected, confidence) in [
        (0, None, Confidence::Low),
        (1, Some(1), Confidence::Low),
        (5, Some(5), Confidence::Low),
        (200, Some(200), Confidence::Low),
        (201, Some(200), Confidence::Low),
        (MAX, Some(200), Confidence::Low),
        (-1, Some(200), Confidence::Documented),
        (-300, Some(300), Confidence::Documented),
        (-100_000, Some(65535), Confidence::Documented),
        (MIN + 1, Some(65535), Confidence::Documented),
        (MIN, None, Confidence::Low),
    ] {
        let p = predict(OsFamily::Windows, backlog, &limits);
        assert_eq!(
            (p.queue_length, p.confidence),
            (expected, confidence),
            "{backlog}"
        );
        assert_eq!(p.overflow, OverflowKind::Refused);
        assert!(!p.rule.is_empty() && p.source.starts_with("https://"));
    }
}

#[test]
fn every_rule_cites_a_source() {
    for os in OsFamily::ALL {
        for backlog in [MIN, -1, 0, 1, 5, 128, 4096, MAX] {
            let p = predict(os, backlog, &Limits::typical(os));
            assert!(!p.rule.is_empty(), "{os} {backlog}");
            assert!(!p.source.is_empty(), "{os} {backlog}");
            assert!(!p.client_notices.is_empty(), "{os} {backlog}");
        }
    }
}

fn case(backlog: i32, queue_length: Option<u32>, kind: OverflowKind) -> CaseReport {
    CaseReport {
        name: "ipv4_case".into(),
        family: Family::Ipv4,
        backlog,
        label: backlog.to_string(),
        backlog_meaning: None,
        listen: ListenReport {
            ok: true,
            failed_at: None,
            os_error: None,
        },
        queue_length,
        accepted: queue_length.unwrap_or(0),
        overflow: Overflow {
            kind,
            os_error: None,
            elapsed_ms: Some(200),
            detail: None,
            reason: None,
        },
        late_completion: crate::classify::tcp::late_completion(
            &crate::observation::tcp::Late::NotWatched,
        ),
        kernel_queue: None,
        kernel_queue_unusable: None,
        slowest_handshake_us: None,
        inconsistent: Vec::new(),
        stability: None,
        duration_ms: 1000,
        prediction: None,
    }
}

#[test]
fn agreement_table() {
    let limits = Limits::typical(OsFamily::Linux);
    let p = predict(OsFamily::Linux, 5, &limits);
    for (measured, kind, expected) in [
        (Some(6), OverflowKind::Dropped, Some(true)),
        (Some(5), OverflowKind::Dropped, Some(false)),
        (Some(6), OverflowKind::Refused, Some(false)),
        // The cap stopped the case before the predicted length: no verdict.
        (Some(3), OverflowKind::None, None),
        // The cap was reached past the predicted length: the queue is longer than predicted.
        (Some(50), OverflowKind::None, Some(false)),
        (None, OverflowKind::ListenFailed, None),
        (Some(6), OverflowKind::Inconclusive, None),
    ] {
        assert_eq!(
            agreement(&p, &case(5, measured, kind)),
            expected,
            "{measured:?} {kind:?}"
        );
    }
    // An unknown prediction never claims agreement.
    let unknown = predict(OsFamily::Windows, 0, &Limits::typical(OsFamily::Windows));
    assert_eq!(
        agreement(&unknown, &case(0, Some(1), OverflowKind::Refused)),
        None
    );
}

#[test]
fn annotate_never_touches_measured_fields() {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
    let before = report.clone();
    annotate(&mut report);
    for (after, before) in report.cases.iter().zip(&before.cases) {
        let mut stripped = after.clone();
        stripped.prediction = None;
        assert_eq!(&stripped, before);
        let prediction = after.prediction.as_ref().expect("linux has rules");
        // The fixture was measured with net.core.somaxconn=4096 on 6.18: every case agrees.
        assert_eq!(prediction.agrees, Some(true), "{}", after.name);
    }
}

#[test]
fn emulated_runs_are_not_compared() {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
    report.environment.emulator = Some("wine 8.0".into());
    annotate(&mut report);
    assert!(
        report
            .cases
            .iter()
            .all(|c| c.prediction.as_ref().unwrap().agrees.is_none())
    );
}

#[test]
fn unknown_os_has_no_prediction() {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
    report.environment.target_os = "haiku".into();
    annotate(&mut report);
    assert!(report.cases.iter().all(|c| c.prediction.is_none()));
}
