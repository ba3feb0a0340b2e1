//! Other stacks' answers to a full queue and slow machines, built on Linux in private network
//! namespaces, so the harness's verdict is checked against stacks it does not run on here:
//!
//! - a slow loopback (`tc` token bucket, handshakes of a few hundred milliseconds): a slow
//!   handshake must not be taken for a dropped SYN, so the counts are Linux's own, N + 1;
//! - FreeBSD's answer (the handshake completes, then the final ACK is answered with RST;
//!   sys/netinet/tcp_syncache.c with `net.inet.tcp.syncache.rst_on_sock_fail=1`): an nftables
//!   rule resets the final ACK of every connection after the first N, and the case must report
//!   N and `reset` (ECONNRESET), however late the reset arrives;
//! - Windows' answer (RST to the SYN): the same rule on SYNs, reported as N and `refused`.
//!
//! Each runs on a fast and on a slowed loopback, one case per namespace (the rules count the
//! whole namespace's packets). They need root and `ip`, `tc` and `nft`; elsewhere they are
//! reported as ignored, with the reason.

mod common;

use backlog_probe::report::{CaseReport, Report};

/// Packets on the slowed loopback leave at about 10 kbit/s, one at a time (the peak bucket
/// holds one small packet): a handshake takes a hundred milliseconds or more, a few hundred
/// when several cases share the link.
const SLOW_LINK: &str =
    "tc qdisc add dev lo root tbf rate 10kbit burst 1600 latency 5s peakrate 11kbit mtu 100";

/// Connections admitted before the simulated stack answers with RST.
const ADMITTED: u32 = 3;

/// An nftables rule set that answers with RST every packet matching `flags` after the first
/// `ADMITTED` of them: a byte quota, with the size of those packets on loopback (a SYN with
/// Linux's options is 60 bytes in IPv4 and 80 in IPv6; a pure ACK with timestamps 52 and 72).
fn reset_after(flags: &str, ipv4_bytes: u32, ipv6_bytes: u32) -> String {
    format!(
        "table inet simulated {{\n chain input {{\n  type filter hook input priority 0;\n  \
         meta nfproto ipv4 {flags} quota over {} bytes reject with tcp reset\n  \
         meta nfproto ipv6 {flags} quota over {} bytes reject with tcp reset\n }}\n}}\n",
        ADMITTED * ipv4_bytes,
        ADMITTED * ipv6_bytes
    )
}

/// The final ACK of each handshake (a pure ACK: the clients never send data).
fn final_ack_rule() -> String {
    reset_after("tcp flags & (fin|syn|rst|ack) == ack", 52, 72)
}

/// Each SYN.
fn syn_rule() -> String {
    reset_after("tcp flags & (syn|ack) == syn", 60, 80)
}

/// Run `backlog-probe run` with `args` in a fresh namespace with loopback up, optionally
/// slowed, optionally with an nftables rule set.
fn run_in(slow: bool, rules: Option<&str>, args: &[&str]) -> Report {
    let mut script = String::from("ip link set lo up || exit 97; ");
    if slow {
        script.push_str(&format!("{SLOW_LINK} || exit 98; "));
    }
    if rules.is_some() {
        script.push_str("printf '%s' \"$RULES\" | nft -f - || exit 99; ");
    }
    script.push_str("exec \"$0\" run --quiet --format json \"$@\"");
    let output = common::in_fresh_namespace(&script, args, &[("RULES", rules.unwrap_or_default())]);
    assert!(
        output.status.success(),
        "{script}: {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// A case whose facts agree with each other.
fn assert_consistent(case: &CaseReport) {
    assert!(
        case.inconsistent.is_empty(),
        "{}: {:?}",
        case.name,
        case.inconsistent
    );
    assert_eq!(case.kernel_queue_unusable, None, "{}", case.name);
}

/// The link was really slow: otherwise the test would prove nothing.
fn assert_slow(case: &CaseReport) {
    let slowest = case.slowest_handshake_us.unwrap_or(0);
    assert!(
        slowest > 20_000,
        "{}: slowest handshake {slowest} µs",
        case.name
    );
}

/// Linux's N + 1 (include/net/sock.h `sk_acceptq_is_full()` tests `>`), on a loopback slow
/// enough that every handshake outlasts the 200 ms a connect was once given: backlogs 0, 1, 5
/// queue 1, 2, 6 in both families, and the overflow is a dropped SYN, not a slow handshake.
fn slow_handshakes_are_not_taken_for_drops() {
    let report = run_in(true, None, &["--backlog=0,1,5"]);
    assert_eq!(report.cases.len(), 6);
    for case in &report.cases {
        assert_eq!(
            case.queue_length,
            Some(case.backlog as u32 + 1),
            "{}",
            case.name
        );
        assert_eq!(case.overflow.kind.as_str(), "dropped", "{}", case.name);
        assert_consistent(case);
        assert_slow(case);
    }
}

/// The simulated FreeBSD answer: `ADMITTED` connections, then a reset after completion.
fn check_reset_after_completion(slow: bool) {
    for family in ["ipv4", "ipv6"] {
        let report = run_in(
            slow,
            Some(&final_ack_rule()),
            &["--backlog=5", "--family", family],
        );
        let case = &report.cases[0];
        assert_eq!(case.queue_length, Some(ADMITTED), "{}", case.name);
        assert_eq!(
            case.overflow.kind.as_str(),
            "reset",
            "{}: {:?}",
            case.name,
            case.overflow
        );
        let error = case
            .overflow
            .os_error
            .as_ref()
            .and_then(|e| e.name.as_deref());
        assert_eq!(error, Some("ECONNRESET"), "{}", case.name);
        assert_eq!(case.accepted, ADMITTED, "{}", case.name);
        assert_consistent(case);
        if slow {
            assert_slow(case);
        }
    }
}

fn reset_after_completion_on_a_fast_loopback() {
    check_reset_after_completion(false);
}

fn reset_after_completion_on_a_slow_loopback() {
    check_reset_after_completion(true);
}

/// The simulated Windows answer: `ADMITTED` connections, then an RST to the SYN.
fn check_refused_syn(slow: bool) {
    for family in ["ipv4", "ipv6"] {
        let report = run_in(
            slow,
            Some(&syn_rule()),
            &["--backlog=5", "--family", family],
        );
        let case = &report.cases[0];
        assert_eq!(case.queue_length, Some(ADMITTED), "{}", case.name);
        assert_eq!(case.overflow.kind.as_str(), "refused", "{}", case.name);
        let error = case
            .overflow
            .os_error
            .as_ref()
            .and_then(|e| e.name.as_deref());
        assert_eq!(error, Some("ECONNREFUSED"), "{}", case.name);
        assert_consistent(case);
        if slow {
            assert_slow(case);
        }
    }
}

fn refused_syn_on_a_fast_loopback() {
    check_refused_syn(false);
}

fn refused_syn_on_a_slow_loopback() {
    check_refused_syn(true);
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces_and_tools(
        &[
            (
                "slow_handshakes_are_not_taken_for_drops",
                slow_handshakes_are_not_taken_for_drops,
            ),
            (
                "reset_after_completion_on_a_fast_loopback",
                reset_after_completion_on_a_fast_loopback,
            ),
            (
                "reset_after_completion_on_a_slow_loopback",
                reset_after_completion_on_a_slow_loopback,
            ),
            (
                "refused_syn_on_a_fast_loopback",
                refused_syn_on_a_fast_loopback,
            ),
            (
                "refused_syn_on_a_slow_loopback",
                refused_syn_on_a_slow_loopback,
            ),
        ],
        &["ip", "tc", "nft", "unshare"],
        &[],
    )
}
