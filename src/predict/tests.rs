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

fn linux_on(release: &str, build: Option<&str>) -> Limits {
    Limits {
        kernel: kernel::KernelVersion::parse(release, build),
        ..Limits::typical(OsFamily::Linux)
    }
}

#[test]
fn linux_backlog_zero_without_syncookies_follows_the_kernel_version() {
    // Commit 3479c7549fb1 ("tcp/dccp: allow a connection when sk_max_ack_backlog is zero",
    // 6.13; stable 6.12.10, 6.6.72, 6.1.125, 5.15.177, 5.10.234, 5.4.290) changed
    // inet_csk_reqsk_queue_is_full() from `>=` to `>`: before it, backlog 0 with
    // tcp_syncookies=0 admitted nothing. Measured by `cargo xtask stacks`: 0 on Debian
    // 5.10.223, 1 on 5.10.262, 6.1.192, 6.12.118 and 7.2.13.
    for (release, build, expected, confidence) in [
        (
            "5.10.0-32-cloud-amd64",
            Some("#1 SMP Debian 5.10.223-1 (2024-08-10)"),
            Some(0),
            Confidence::Source,
        ),
        (
            "5.10.0-46-cloud-amd64",
            Some("#1 SMP Debian 5.10.262-1 (2026-07-31)"),
            Some(1),
            Confidence::Source,
        ),
        (
            "6.1.0-57-cloud-amd64",
            Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"),
            Some(1),
            Confidence::Source,
        ),
        (
            "6.12.118+deb13-cloud-amd64",
            None,
            Some(1),
            Confidence::Source,
        ),
        ("6.12.9", None, Some(0), Confidence::Source),
        (
            "7.2.13+deb14-cloud-amd64",
            None,
            Some(1),
            Confidence::Source,
        ),
        ("6.18.44-fc-v782", None, Some(1), Confidence::Source),
        // An ABI name without Debian's build string: the patch level, and so the answer, is open.
        ("5.10.0-32-cloud-amd64", None, None, Confidence::Low),
        (
            "5.15.0-91-generic",
            Some("#101-Ubuntu SMP"),
            None,
            Confidence::Low,
        ),
    ] {
        let limits = Limits {
            syncookies: Some(0),
            ..linux_on(release, build)
        };
        let p = predict(OsFamily::Linux, 0, &limits);
        assert_eq!(
            (p.queue_length, p.confidence),
            (expected, confidence),
            "{release}"
        );
        assert!(p.source.contains("3479c7549fb1"), "{release}");
        if expected == Some(0) {
            assert!(p.client_notices.contains("every SYN is dropped"));
        }
        // Only backlog 0 depends on it; syncookies on (the default) always admits 1.
        assert_eq!(queue(OsFamily::Linux, 1, &limits), Some(2));
        let cookies = Limits {
            syncookies: Some(1),
            ..limits
        };
        assert_eq!(queue(OsFamily::Linux, 0, &cookies), Some(1), "{release}");
    }
    // somaxconn 0 clamps every backlog to 0: the same rule decides.
    let old = Limits {
        syncookies: Some(0),
        somaxconn_setting: Some(0),
        ..linux_on("5.10.0-32-cloud-amd64", Some("Debian 5.10.223-1"))
    };
    assert_eq!(queue(OsFamily::Linux, 5, &old), Some(0));
    assert_eq!(queue(OsFamily::Linux, -1, &old), Some(0));
}

#[test]
fn linux_somaxconn_default_follows_the_kernel_version() {
    // 19f92a030ca6 "net: increase SOMAXCONN to 4096" (5.4): before it the default was 128.
    // The setting, where read, always wins.
    let unread = |release| Limits {
        somaxconn_setting: None,
        ..linux_on(release, None)
    };
    assert_eq!(queue(OsFamily::Linux, -1, &unread("4.19.325")), Some(129));
    // Before 4.10 (5ea8ea2cb7f1) a SYN meeting a full accept queue was still answered while
    // few requests were young: a one-at-a-time fill connects past the queue, not modelled.
    let old = predict(OsFamily::Linux, 5, &unread("4.9.337"));
    assert_eq!(old.queue_length, None);
    assert!(old.rule.contains("5ea8ea2cb7f1") && old.source.contains("5ea8ea2cb7f1"));
    assert_eq!(queue(OsFamily::Linux, 5, &unread("4.10.0")), Some(6));
    assert_eq!(queue(OsFamily::Linux, -1, &unread("5.3.18")), Some(129));
    assert!(
        predict(OsFamily::Linux, -1, &unread("5.3.18"))
            .rule
            .contains("128, the default before 5.4")
    );
    assert_eq!(queue(OsFamily::Linux, -1, &unread("5.4.0")), Some(4097));
    assert_eq!(queue(OsFamily::Linux, 200, &unread("4.19.325")), Some(129));
    let read = Limits {
        somaxconn_setting: Some(1024),
        ..linux_on("4.19.325", None)
    };
    assert_eq!(queue(OsFamily::Linux, -1, &read), Some(1025));
}

#[test]
fn linux_retransmission_schedule_follows_the_kernel() {
    // ccce324dabfe "tcp: make the first N SYN RTO backoffs linear" (6.5): ip-sysctl.rst says
    // 67 s to the last retransmission and 131 s to the timeout with tcp_syn_linear_timeouts = 4,
    // 63 s and 127 s without.
    let notices = |linear: Option<i64>, release: Option<&str>| {
        let limits = Limits {
            syn_linear_timeouts: linear,
            kernel: release.and_then(|r| kernel::KernelVersion::parse(r, None)),
            ..Limits::typical(OsFamily::Linux)
        };
        predict(OsFamily::Linux, 5, &limits).client_notices
    };
    assert!(notices(Some(4), None).contains("1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s"));
    assert!(notices(Some(4), None).contains("131 s"));
    assert!(notices(Some(0), None).contains("1, 3, 7, 15, 31, 63 s"));
    assert!(notices(Some(0), None).contains("127 s"));
    assert!(notices(Some(2), None).contains("then doubling"));
    assert!(notices(None, Some("6.1.192")).contains("127 s"));
    assert!(notices(None, Some("6.12.118")).contains("131 s"));
    let either = notices(None, None);
    assert!(
        either.contains("131 s") && either.contains("127 s"),
        "{either}"
    );
}

#[test]
fn retransmission_schedules_as_data() {
    // Measured by `cargo xtask stacks` (retrans-*.json): 6.12.118 at 1.2, 2.18, 3.15, 4.04,
    // 5.35, 7.16 s; 6.1.192 at 1.03, 3.13, 7.21 s.
    let on = |release: &str, linear: Option<i64>| Limits {
        syn_linear_timeouts: linear,
        ..linux_on(release, None)
    };
    let new = syn_retransmissions(OsFamily::Linux, &on("6.12.118", Some(4))).unwrap();
    let old = syn_retransmissions(OsFamily::Linux, &on("6.1.192", Some(0))).unwrap();
    assert!(retransmissions_agree(
        new,
        &[1.2, 2.18, 3.15, 4.04, 5.35, 7.16],
        9.0
    ));
    assert!(retransmissions_agree(old, &[1.03, 3.13, 7.21], 9.0));
    assert!(!retransmissions_agree(new, &[1.03, 3.13, 7.21], 9.0));
    assert!(!retransmissions_agree(old, &[1.03, 3.8, 7.21], 9.0));
    assert_eq!(
        syn_retransmissions(OsFamily::Linux, &on("6.1.192", None)),
        Some(&EXPONENTIAL_SYN_RETRANSMISSIONS[..])
    );
    assert_eq!(
        syn_retransmissions(
            OsFamily::Linux,
            &Limits {
                syn_linear_timeouts: None,
                ..Limits::typical(OsFamily::Linux)
            }
        ),
        None
    );
    assert_eq!(
        syn_retransmissions(OsFamily::Macos, &Limits::typical(OsFamily::Macos)),
        None
    );
    assert_eq!(
        syn_retransmissions(OsFamily::Gvisor, &Limits::typical(OsFamily::Gvisor)),
        Some(&EXPONENTIAL_SYN_RETRANSMISSIONS[..])
    );
}

#[test]
fn linux_release_candidates_that_counted_n() {
    // f211ac154577 made sk_acceptq_is_full() `>=` in 5.12-rc5; c609e6aae4ef reverted it in
    // 5.12-rc7. No stable release carried it.
    let rc6 = linux_on("5.12.0-rc6", None);
    assert_eq!(queue(OsFamily::Linux, 5, &rc6), Some(5));
    assert_eq!(queue(OsFamily::Linux, 0, &rc6), Some(0));
    assert_eq!(
        queue(OsFamily::Linux, 5, &linux_on("5.12.0-rc7", None)),
        Some(6)
    );
    assert_eq!(
        queue(OsFamily::Linux, 5, &linux_on("5.12.0", None)),
        Some(6)
    );
}

#[test]
fn limits_read_the_kernel_from_the_environment() {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
    let limits = Limits::from_environment(&report.environment);
    assert_eq!(limits.kernel.map(|v| v.to_string()), Some("6.18.44".into()));
    assert_eq!(limits.syn_linear_timeouts, Some(4));
    // A Debian ABI name finds its patch level in kernel.version (uname -v).
    report.environment.kernel = Some("5.10.0-32-cloud-amd64".into());
    report.environment.settings.insert(
        "kernel.version".into(),
        "#1 SMP Debian 5.10.223-1 (2024-08-10)".into(),
    );
    report
        .environment
        .settings
        .remove("net.ipv4.tcp_syn_linear_timeouts");
    let limits = Limits::from_environment(&report.environment);
    assert_eq!(
        limits.kernel.map(|v| v.to_string()),
        Some("5.10.223".into())
    );
    // The other TCP knobs were read and this one was not there: a kernel before 6.5.
    assert_eq!(limits.syn_linear_timeouts, Some(0));
    // Darwin's release is no Linux version.
    report.environment.target_os = "macos".into();
    report.environment.kernel = Some("24.5.0".into());
    assert_eq!(Limits::from_environment(&report.environment).kernel, None);
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
    // so_qlimit is a short (bsd/sys/socketvar.h) and solisten() stores `(short)backlog`: a
    // clamped 32768-65535 is negative, `so_qlen >= so_qlimit` always holds, nothing is
    // admitted; larger values wrap. tarantool PR #10141: values above 32767 "behave worse".
    let huge = Limits {
        somaxconn_setting: Some(40_000),
        ..limits
    };
    assert_eq!(queue(OsFamily::Macos, -1, &huge), Some(0));
    assert_eq!(queue(OsFamily::Macos, 0, &huge), Some(0));
    assert_eq!(queue(OsFamily::Macos, 32_767, &huge), Some(32_767));
    assert_eq!(queue(OsFamily::Macos, 32_768, &huge), Some(0));
    assert_eq!(
        predict(OsFamily::Macos, -1, &huge).confidence,
        Confidence::Source
    );
    let wrapped = Limits {
        somaxconn_setting: Some(70_000),
        ..limits
    };
    assert_eq!(queue(OsFamily::Macos, 65_537, &wrapped), Some(1));
    assert_eq!(queue(OsFamily::Macos, 65_536, &wrapped), Some(0));
    // With the 3/2 factor the limit is still negative.
    let huge_compat_off = Limits {
        soqlimitcompat: Some(0),
        ..huge
    };
    assert_eq!(queue(OsFamily::Macos, -1, &huge_compat_off), Some(0));
    assert_eq!(
        queue(
            OsFamily::Macos,
            65_537,
            &Limits {
                soqlimitcompat: Some(0),
                ..wrapped
            }
        ),
        Some(1)
    );
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
    // 65535)"; SOMAXCONN_HINT(b) is -(b), so every negative is a hint except INT_MIN, which no
    // n gives. Plain values are only "limited (silently) to a reasonable value": nothing says
    // 1 or 5 is used as given, and icerpc-csharp counted 30 and 47 for Listen(18) (issue #4099,
    // PR #4100), so 1..=200 are unknown. Above 200: about 200 (c-schembri/weave, one Windows 11
    // host; CSS_SQL_Networking_Tools wiki "typically 200").
    let limits = Limits::typical(OsFamily::Windows);
    for (backlog, expected, confidence) in [
        (0, None, Confidence::Low),
        (1, None, Confidence::Low),
        (5, None, Confidence::Low),
        (18, None, Confidence::Low),
        (200, None, Confidence::Low),
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
        // Both answers Microsoft describes: refused, or reset after the handshake with SYN-attack
        // protection (learn.microsoft.com/en-us/archive/blogs/wndp/winsock-connect-and-tcp-syn-attack-protection).
        assert_eq!(p.overflow, OverflowKind::Refused);
        assert_eq!(p.overflow_also, Some(OverflowKind::Reset));
        assert!(
            p.client_notices.contains("WSAECONNREFUSED")
                && p.client_notices.contains("WSAECONNRESET")
                && p.client_notices
                    .contains("winsock-connect-and-tcp-syn-attack-protection"),
            "{}",
            p.client_notices
        );
        assert!(!p.rule.is_empty() && p.source.starts_with("https://"));
        assert!(!p.rule.contains("used as given"), "{backlog}: {}", p.rule);
    }
    for backlog in [1, 5] {
        let p = predict(OsFamily::Windows, backlog, &limits);
        assert!(p.source.contains("icerpc-csharp/pull/4100"), "{}", p.source);
    }
    let min = predict(OsFamily::Windows, MIN, &limits);
    assert!(min.rule.contains("no SOMAXCONN_HINT(n)") && !min.rule.contains("overflows"));
}

#[test]
fn gvisor_table() {
    // gvisor pkg/sentry/syscalls/linux/sys_socket.go Listen(): `backlog := args[1].Uint()`,
    // `if backlog > maxListenBacklog { backlog = maxListenBacklog }` (1024), `backlog++`;
    // pkg/tcpip/transport/tcp/accept.go: `a.endpoints.Len() >= a.capacity`. The same at
    // release-20221219.0 and release-20260817.0. Measured under runsc 0.0~20221219.0: 1, 2, 6
    // and 1025 for the rest.
    for limits in [
        Limits::typical(OsFamily::Gvisor),
        // Neither somaxconn (a static /proc file) nor syncookies (no off switch) matter.
        Limits {
            somaxconn_setting: Some(128),
            syncookies: Some(0),
            ..Limits::typical(OsFamily::Linux)
        },
    ] {
        for (backlog, expected) in [
            (0, 1),
            (1, 2),
            (5, 6),
            (1023, 1024),
            (1024, 1025),
            (4096, 1025),
            (-1, 1025),
            (MIN, 1025),
            (MAX, 1025),
        ] {
            let p = predict(OsFamily::Gvisor, backlog, &limits);
            assert_eq!(p.queue_length, Some(expected), "{backlog}");
            assert_eq!(p.overflow, OverflowKind::Dropped);
            assert_eq!(p.confidence, Confidence::Source);
            assert!(p.source.contains("maxListenBacklog"));
        }
    }
}

#[test]
fn gvisor_reports_get_gvisor_rules_never_linux_version_rules() {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json")).unwrap();
    // What the sandbox reports: its made-up release and a static somaxconn of 128.
    report.environment.kernel = Some("4.4.0".into());
    report.environment.somaxconn.setting = Some(128);
    report
        .environment
        .settings
        .insert("net.ipv4.tcp_syncookies".into(), "0".into());
    report.environment.sandbox = Some(crate::sys::Sandbox::Gvisor);
    assert_eq!(OsFamily::of(&report.environment), Some(OsFamily::Gvisor));
    annotate(&mut report);
    for case in &report.cases {
        let prediction = case.prediction.as_ref().unwrap();
        assert!(prediction.source.starts_with("gvisor "), "{}", case.name);
        let expected = (case.backlog as u32).min(1024) + 1;
        assert_eq!(prediction.queue_length, Some(expected), "{}", case.name);
    }
    // A container is still the host's kernel.
    report.environment.sandbox = Some(crate::sys::Sandbox::Container);
    assert_eq!(OsFamily::of(&report.environment), Some(OsFamily::Linux));
}

#[test]
fn every_rule_cites_a_source() {
    for os in OsFamily::ALL.into_iter().chain([OsFamily::Gvisor]) {
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
    // Windows until a report decides: a reset after the handshake agrees as well as a refusal,
    // a silent drop does not.
    let windows = predict(
        OsFamily::Windows,
        i32::MAX,
        &Limits::typical(OsFamily::Windows),
    );
    for (kind, expected) in [
        (OverflowKind::Refused, Some(true)),
        (OverflowKind::Reset, Some(true)),
        (OverflowKind::Dropped, Some(false)),
    ] {
        assert_eq!(
            agreement(&windows, &case(i32::MAX, Some(200), kind)),
            expected,
            "{kind:?}"
        );
    }
    // Every other OS names one outcome.
    for os in [
        OsFamily::Linux,
        OsFamily::Macos,
        OsFamily::Freebsd,
        OsFamily::Gvisor,
    ] {
        assert_eq!(
            predict(os, 5, &Limits::typical(os)).overflow_also,
            None,
            "{os}"
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
