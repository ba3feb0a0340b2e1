//! gVisor: a second, independent TCP implementation (its netstack), run as root with `runsc
//! --network=none --platform=ptrace do`, which gives the sandbox a loopback of its own and no
//! other network. Its `TCP_INFO` on a listener reads 0/0, its handshakes complete
//! asynchronously, and its `uname` is made up: the report must say gVisor, show no kernel view
//! as data, keep the late completion and the accepted count consistent, and count what an
//! independent client-only probe counts. Where runsc (or root) is missing the tests are
//! reported as ignored, with the reason.

mod common;

use std::process::Command;

use backlog_probe::report::Report;

/// The backlogs compared with the client-only probe.
const BACKLOGS: [i32; 3] = [0, 1, 5];

/// Run `program args` inside gVisor; its stdout.
fn in_gvisor(program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new("runsc")
        .args(["--network=none", "--platform=ptrace", "do", program])
        .args(args)
        .output()
        .expect("runsc runs");
    assert!(
        output.status.success(),
        "runsc {program} {args:?}: {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// An independent count: connect one non-blocking client at a time to a listener that never
/// accepts, giving each 3 s (past the first SYN retransmission) to complete, and print how
/// many did before the first that did not. Nothing of backlog-probe is involved.
const CLIENT_ONLY_PROBE: &str = r#"
import select, socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(int(sys.argv[1]))
clients = []
while len(clients) < 100:
    client = socket.socket()
    client.setblocking(False)
    try:
        client.connect(listener.getsockname())
    except BlockingIOError:
        pass
    if not select.select([], [client], [], 3)[1] or client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
        break
    clients.append(client)
print(len(clients))
"#;

fn probe_count(backlog: i32) -> u32 {
    let backlog = backlog.to_string();
    let stdout = in_gvisor("/usr/bin/python3", &["-c", CLIENT_ONLY_PROBE, &backlog]);
    String::from_utf8_lossy(&stdout)
        .trim()
        .parse()
        .expect("the probe prints a count")
}

fn gvisor_report() -> Report {
    let list = format!("--backlog={}", BACKLOGS.map(|b| b.to_string()).join(","));
    let stdout = in_gvisor(
        env!("CARGO_BIN_EXE_backlog-probe"),
        &[
            "run", "--quiet", "--format", "json", "--family", "ipv4", &list,
        ],
    );
    serde_json::from_slice(&stdout).expect("a JSON report")
}

/// The environment names gVisor, no 0/0 view is shown as data, and each case's facts agree.
fn the_report_names_gvisor_and_shows_no_false_view() {
    let report = gvisor_report();
    assert_eq!(
        report.environment.sandbox,
        Some(backlog_probe::sys::Sandbox::Gvisor)
    );
    assert!(report.environment.summary().starts_with("gVisor"));
    for case in &report.cases {
        assert_eq!(
            case.kernel_queue, None,
            "{}: {:?}",
            case.name, case.kernel_queue
        );
        assert!(case.kernel_queue_unusable.is_some(), "{}", case.name);
        assert!(
            case.inconsistent.is_empty(),
            "{}: {:?}",
            case.name,
            case.inconsistent
        );
        // The pending client gets in once a slot is free, and the server accepts it too.
        assert_eq!(
            case.late_completion.kind.as_str(),
            "completed",
            "{}",
            case.name
        );
        assert_eq!(
            Some(case.accepted),
            case.queue_length.map(|q| q + 1),
            "{}",
            case.name
        );
    }
}

/// The harness counts what the client-only probe counts.
fn queue_lengths_agree_with_a_client_only_probe() {
    let report = gvisor_report();
    for (case, backlog) in report.cases.iter().zip(BACKLOGS) {
        assert_eq!(case.backlog, backlog);
        assert_eq!(
            case.queue_length,
            Some(probe_count(backlog)),
            "{}",
            case.name
        );
    }
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces_and_tools(
        &[
            (
                "the_report_names_gvisor_and_shows_no_false_view",
                the_report_names_gvisor_and_shows_no_false_view,
            ),
            (
                "queue_lengths_agree_with_a_client_only_probe",
                queue_lengths_agree_with_a_client_only_probe,
            ),
        ],
        &["runsc", "python3"],
        &[],
    )
}
