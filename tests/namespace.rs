//! Linux: the clamp follows the network namespace's own `net.core.somaxconn`, measured in fresh
//! namespaces made with the system's own tools (`unshare -n`, `ip`, `sysctl`) rather than the
//! binary's `--sysctl`, so the host's setting is never touched and the world code is not what is
//! tested. Where namespaces cannot be made the tests are reported as ignored, with the reason.

mod common;

use serde_json::Value;

/// Run the binary in a new network namespace with `net.core.somaxconn` set.
fn run_in_namespace(somaxconn: u32, backlogs: &str) -> Value {
    let script = format!(
        "ip link set lo up && sysctl -qw net.core.somaxconn={somaxconn} && exec \"$0\" run --quiet --format json --backlog={backlogs}"
    );
    let output = common::in_fresh_namespace(&script, &[], &[]);
    assert!(
        output.status.success(),
        "unshare -n with ip and sysctl (iproute2, procps): {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// min(backlog as u32, somaxconn) + 1 (net/socket.c `__sys_listen_socket()`, include/net/sock.h
/// `sk_acceptq_is_full()`), for backlogs below, at and above a namespace's somaxconn, and for a
/// somaxconn of 0, where every backlog queues exactly one connection.
fn the_clamp_follows_the_namespace_somaxconn() {
    for somaxconn in [64u32, 0] {
        let report = run_in_namespace(somaxconn, "0,1,5,63,64,65,1000,-1,i32::min,i32::max");
        assert_eq!(
            report["environment"]["somaxconn"]["setting"],
            Value::from(somaxconn),
            "the run saw the namespace's setting"
        );
        let cases = report["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 20);
        for case in cases {
            let backlog = case["backlog"].as_i64().expect("backlog") as i32;
            let expected = (backlog as u32).min(somaxconn) + 1;
            assert_eq!(
                case["queue_length"],
                Value::from(expected),
                "somaxconn {somaxconn}, {}",
                case["name"]
            );
            assert_eq!(case["overflow"]["kind"], "dropped", "{}", case["name"]);
            assert_eq!(
                case["kernel_queue"]["limit"],
                Value::from(expected - 1),
                "{}",
                case["name"]
            );
        }
    }
}

/// With IPv6 disabled in the namespace, the IPv6 cases are reported as unavailable and the
/// IPv4 cases still run; asking for IPv6 alone is a clear exit 2.
fn ipv6_unavailable_is_reported_per_case() {
    let script = "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1 && \"$0\" run --quiet --format json --backlog=1; \"$0\" run --family ipv6 --backlog=1";
    let output = common::in_fresh_namespace(script, &[], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).expect("the first run printed a report");
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["family"], "ipv4");
    assert!(cases[0]["queue_length"].as_u64().is_some());
    assert_eq!(cases[1]["family"], "ipv6");
    assert_eq!(cases[1]["overflow"]["kind"], "unavailable", "{}", cases[1]);
    assert_eq!(cases[1]["listen"]["ok"], false);
    // The second command (IPv6 alone) fails with one clear line and exit 2 (the shell's status).
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ipv6 loopback is unavailable here"),
        "{stderr}"
    );
}

/// A queue larger than the client's port range: with 1000 ephemeral ports, IPv4 clients move
/// on to other loopback source addresses (Linux routes all of 127/8 to `lo`) and measure the
/// true queue, min(2000, somaxconn) + 1; IPv6 has only ::1, so its case ends inconclusive and
/// names the port limit instead of showing the port range as the queue.
fn client_ports_spread_or_the_case_names_the_port_limit() {
    let script = "ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range='40000 40999' && exec \"$0\" run --quiet --format json --backlog=2000";
    let output = common::in_fresh_namespace(script, &[], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let somaxconn = report["environment"]["somaxconn"]["setting"]
        .as_u64()
        .expect("somaxconn");
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases[0]["family"], "ipv4");
    assert_eq!(
        cases[0]["queue_length"],
        Value::from(somaxconn.min(2000) + 1),
        "{}",
        cases[0]
    );
    assert_eq!(cases[0]["overflow"]["kind"], "dropped");
    assert_eq!(cases[1]["family"], "ipv6");
    assert_eq!(cases[1]["queue_length"], Value::Null, "{}", cases[1]);
    assert_eq!(cases[1]["overflow"]["kind"], "inconclusive");
    let detail = cases[1]["overflow"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("ran out of local ports"), "{detail}");
    assert_eq!(cases[1]["overflow"]["os_error"]["name"], "EADDRNOTAVAIL");
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces(
        &[
            (
                "the_clamp_follows_the_namespace_somaxconn",
                the_clamp_follows_the_namespace_somaxconn,
            ),
            (
                "ipv6_unavailable_is_reported_per_case",
                ipv6_unavailable_is_reported_per_case,
            ),
            (
                "client_ports_spread_or_the_case_names_the_port_limit",
                client_ports_spread_or_the_case_names_the_port_limit,
            ),
        ],
        &[],
    )
}
