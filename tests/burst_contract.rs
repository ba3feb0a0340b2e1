//! The burst's JSON, checked from outside against mirror types that reject unknown fields (the
//! format is documented in `src/burst_report.rs`). Runs in the host's namespace, on every OS.

mod common;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstReport {
    schema_version: u32,
    tool: serde_json::Value,
    environment: serde_json::Value,
    #[serde(default)]
    world: Option<serde_json::Value>,
    burst: Spec,
    setup_error: Option<(String, Option<OsError>)>,
    kernel_queue: Option<serde_json::Value>,
    accepted_total: u32,
    outcomes: Vec<Outcome>,
    probes: Probes,
    deadline_hit: bool,
    duration_ms: u64,
    clients: Vec<Client>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    family: String,
    backlog: i32,
    clients: u32,
    deadline_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OsError {
    name: Option<String>,
    code: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outcome {
    outcome: String,
    count: u32,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probes {
    probed: u32,
    write_ok: u32,
    no_answer: u32,
    reset: u32,
    accepted_after_probe: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Client {
    outcome: String,
    connect: Connect,
    accepted: bool,
    probe: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    state: String,
    #[serde(default)]
    after_us: Option<u64>,
    #[serde(default)]
    watched_us: Option<u64>,
    #[serde(default)]
    error: Option<OsError>,
}

const OUTCOMES: &[&str] = &[
    "accepted",
    "half_open",
    "reset",
    "refused",
    "pending",
    "failed",
    "not_opened",
];
const STATES: &[&str] = &["connected", "failed", "pending", "not_opened"];

#[test]
fn burst_output_matches_the_documented_wire_format() {
    let output = common::backlog_probe(&[
        "burst",
        "--quiet",
        "--format",
        "json",
        "--backlog",
        "1",
        "--clients",
        "12",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(text.ends_with("}\n"));
    let report: BurstReport = serde_json::from_str(&text).expect("output matches the mirror");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.tool["name"], "backlog-probe");
    assert!(report.environment.is_object());
    // The run report's environment (tests/json_contract.rs), its day included.
    let day = report.environment["measured_on"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(day.len(), "YYYY-MM-DD".len(), "{:?}", report.environment);
    assert!(report.world.is_none(), "no world key for the host");
    let spec = &report.burst;
    assert_eq!(
        (spec.family.as_str(), spec.backlog, spec.clients),
        ("ipv4", 1, 12)
    );
    assert_eq!(spec.deadline_ms, 10_000);
    assert!(report.setup_error.is_none(), "{:?}", report.setup_error);
    let accepted = report
        .outcomes
        .iter()
        .find(|o| o.outcome == "accepted")
        .map_or(0, |o| o.count);
    assert!(
        report.accepted_total >= accepted,
        "{}",
        report.accepted_total
    );
    if let Some(view) = &report.kernel_queue {
        // Read before the drain: the kernel held what the server then accepted.
        assert_eq!(view["queued"].as_u64(), Some(u64::from(accepted)), "{view}");
        assert!(view["limit"].as_u64().is_some(), "{view}");
    }
    assert!(report.duration_ms >= 1, "a burst takes time");
    assert!(!report.deadline_hit);
    assert_eq!(report.outcomes.iter().map(|o| o.count).sum::<u32>(), 12);
    for outcome in &report.outcomes {
        assert!(OUTCOMES.contains(&outcome.outcome.as_str()), "{outcome:?}");
        assert!(outcome.p50_ms <= outcome.p99_ms && outcome.p99_ms <= outcome.max_ms);
    }
    let p = &report.probes;
    assert!(p.write_ok <= p.probed && p.no_answer <= p.probed && p.reset <= p.probed);
    assert!(p.accepted_after_probe <= p.probed);
    assert_eq!(report.clients.len(), 12);
    for client in &report.clients {
        assert!(OUTCOMES.contains(&client.outcome.as_str()), "{client:?}");
        let connect = &client.connect;
        assert!(STATES.contains(&connect.state.as_str()), "{client:?}");
        if let Some(error) = &connect.error {
            assert!(error.name.is_some() || error.code != 0, "{error:?}");
        }
        match connect.state.as_str() {
            "connected" => assert!(connect.after_us.is_some()),
            "failed" => assert!(connect.after_us.is_some() && connect.error.is_some()),
            "pending" => assert!(connect.watched_us.is_some()),
            _ => assert!(connect.error.is_some()),
        }
        // An `accepted` client was accepted and a half-open one was not (a pending client's
        // retransmitted SYN may get in during the drain: it stays `pending`); only a half-open
        // one is probed.
        match client.outcome.as_str() {
            "accepted" => assert!(client.accepted, "{client:?}"),
            "half_open" => assert!(!client.accepted, "{client:?}"),
            _ => {}
        }
        assert_eq!(
            client.probe.is_some(),
            client.outcome == "half_open",
            "{client:?}"
        );
        if let Some(probe) = &client.probe {
            let read = probe["read"].as_str().unwrap_or_default();
            assert!(
                ["would_block", "eof", "data", "error"].contains(&read),
                "{probe}"
            );
        }
    }
}
