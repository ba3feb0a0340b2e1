//! Linux: the clamp follows the network namespace's own `net.core.somaxconn`, measured in fresh
//! namespaces (`unshare -n`) so the host's setting is never touched.
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;

use serde_json::Value;

/// Run the binary in a new network namespace with `net.core.somaxconn` set, or say why not.
fn run_in_namespace(somaxconn: u32, backlogs: &str) -> Result<Value, String> {
    let script = format!(
        "ip link set lo up && sysctl -qw net.core.somaxconn={somaxconn} && exec \"$0\" run --quiet --format json --backlog={backlogs}"
    );
    let output = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            &script,
            env!("CARGO_BIN_EXE_backlog-probe"),
        ])
        .output()
        .map_err(|e| format!("unshare is not available: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cannot make a network namespace here (needs root or CAP_SYS_ADMIN, iproute2 and procps): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("bad JSON: {e}"))
}

/// min(backlog as u32, somaxconn) + 1 (net/socket.c `__sys_listen_socket()`, include/net/sock.h
/// `sk_acceptq_is_full()`), for backlogs below, at and above a namespace's somaxconn, and for a
/// somaxconn of 0, where every backlog queues exactly one connection.
#[test]
fn the_clamp_follows_the_namespace_somaxconn() {
    for somaxconn in [64u32, 0] {
        let report = match run_in_namespace(somaxconn, "0,1,5,63,64,65,1000,-1,i32::min,i32::max") {
            Ok(report) => report,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return;
            }
        };
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
