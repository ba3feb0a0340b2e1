//! The JSON wire format, checked from outside: the binary's real output must deserialize into
//! these test-side mirror types, which reject unknown fields. A field added, renamed or retyped
//! in `src/report.rs` fails here until the documented format and this mirror are updated.

mod common;

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    schema_version: u32,
    tool: Tool,
    environment: Environment,
    settings: Settings,
    cases: Vec<Case>,
    #[serde(default)]
    world: Option<World>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct World {
    kind: String,
    sysctls: Vec<SysctlSetting>,
    counters: Option<CounterDelta>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SysctlSetting {
    key: String,
    requested: i64,
    read_back: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterDelta {
    before: ListenCounters,
    after: ListenCounters,
    delta: ListenCounters,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenCounters {
    listen_overflows: u64,
    listen_drops: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tool {
    name: String,
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Environment {
    target_os: String,
    target_arch: String,
    os: OsInfo,
    kernel: Option<String>,
    somaxconn: Somaxconn,
    settings: BTreeMap<String, String>,
    fd_limit: Option<FdLimit>,
    emulator: Option<String>,
    #[serde(default)]
    sandbox: Option<String>,
    /// Optional on the wire: reports written before it have none.
    #[serde(default)]
    measured_on: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OsInfo {
    os_type: String,
    version: String,
    edition: Option<String>,
    codename: Option<String>,
    bitness: String,
    architecture: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Somaxconn {
    constant: i64,
    setting: Option<i64>,
    setting_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FdLimit {
    soft_before: u64,
    soft: u64,
    hard: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    cap: u32,
    #[serde(default)]
    deadline_ms: Option<u64>,
    #[serde(default)]
    repeat: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    family: String,
    backlog: i32,
    label: String,
    backlog_meaning: Option<String>,
    listen: Listen,
    queue_length: Option<u32>,
    accepted: u32,
    overflow: Overflow,
    late_completion: LateCompletion,
    kernel_queue: Option<KernelQueue>,
    duration_ms: u64,
    #[serde(default)]
    prediction: Option<Prediction>,
    #[serde(default)]
    inconsistent: Vec<String>,
    #[serde(default)]
    kernel_queue_unusable: Option<String>,
    #[serde(default)]
    slowest_handshake_us: Option<u64>,
    #[serde(default)]
    stability: Option<Stability>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stability {
    runs: u32,
    stable: bool,
    #[serde(default)]
    queue_length: Option<Range>,
    accepted: Range,
    #[serde(default)]
    differs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    min: u32,
    max: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Prediction {
    queue_length: Option<u32>,
    overflow: String,
    rule: String,
    source: String,
    confidence: String,
    agrees: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listen {
    ok: bool,
    failed_at: Option<String>,
    os_error: Option<OsError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OsError {
    name: Option<String>,
    code: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Overflow {
    kind: String,
    os_error: Option<OsError>,
    elapsed_ms: Option<u64>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LateCompletion {
    kind: String,
    elapsed_ms: Option<u64>,
    os_error: Option<OsError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelQueue {
    queued: u32,
    limit: u32,
    #[serde(default)]
    incomplete: Option<u32>,
}

const OVERFLOW_KINDS: &[&str] = &[
    "dropped",
    "refused",
    "reset",
    "timed_out",
    "none",
    "listen_failed",
    "unavailable",
    "inconclusive",
    "other",
];
const INCONCLUSIVE_REASONS: &[&str] = &[
    "not_run",
    "deadline",
    "lost",
    "no_listener",
    "resources",
    "kernel_queued_unseen",
];
const LATE_KINDS: &[&str] = &["completed", "pending", "failed", "not_applicable"];

fn run_output_matches_the_documented_wire_format() {
    let day_before = backlog_probe::environment::utc_date(std::time::SystemTime::now());
    let output = common::backlog_probe(&[
        "run",
        "--quiet",
        "--format",
        "json",
        "--backlog=1,-1,somaxconn",
        "--cap",
        "50",
        "--deadline",
        "60",
        "--repeat",
        "2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(text.ends_with("}\n"), "one object and a newline");
    let report: Report = serde_json::from_str(&text).expect("output matches the mirror types");

    assert_eq!(report.schema_version, 1);
    assert_eq!(report.tool.name, "backlog-probe");
    assert!(!report.tool.version.is_empty());
    assert_eq!(report.environment.target_os, std::env::consts::OS);
    assert_eq!(report.environment.target_arch, std::env::consts::ARCH);
    let os = &report.environment.os;
    assert!(!os.os_type.is_empty() && !os.version.is_empty() && !os.bitness.is_empty());
    for optional in [&os.edition, &os.codename, &os.architecture]
        .into_iter()
        .flatten()
    {
        assert!(!optional.is_empty(), "{os:?}: a present field has a value");
    }
    assert!(report.environment.somaxconn.constant > 0);
    assert_eq!(
        report.environment.somaxconn.setting.is_some(),
        report.environment.somaxconn.setting_name.is_some()
    );
    let environment = &report.environment;
    if let Some(kernel) = &environment.kernel {
        assert!(!kernel.is_empty());
    }
    if let (Some(name), Some(value)) = (
        &environment.somaxconn.setting_name,
        environment.somaxconn.setting,
    ) {
        // The knob is read once and reported twice: as the clamp and among the settings.
        assert_eq!(environment.settings.get(name), Some(&value.to_string()));
    }
    for (knob, value) in &environment.settings {
        assert!(!knob.is_empty() && !value.is_empty(), "{knob}={value}");
    }
    if let Some(emulator) = &environment.emulator {
        assert!(emulator.starts_with("wine"), "{emulator}");
    }
    if let Some(sandbox) = &environment.sandbox {
        assert!(
            ["gvisor", "wsl", "container"].contains(&sandbox.as_str()),
            "{sandbox}"
        );
    }
    // The UTC day the run started, as `date -u +%F` gives it (the run may cross midnight).
    let day_after = backlog_probe::environment::utc_date(std::time::SystemTime::now());
    let measured_on = environment.measured_on.clone();
    assert!(
        measured_on == day_before || measured_on == day_after,
        "{measured_on:?}, not {day_before:?} or {day_after:?}"
    );
    let day = measured_on.expect("a new report carries its day");
    let bytes = day.as_bytes();
    assert!(
        bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && day
                .split('-')
                .all(|part| part.bytes().all(|b| b.is_ascii_digit())),
        "YYYY-MM-DD: {day}"
    );
    if let Some(limit) = &report.environment.fd_limit {
        assert!(limit.soft >= limit.soft_before.min(limit.hard) && limit.soft <= limit.hard);
    }
    assert_eq!(report.settings.cap, 50);
    assert_eq!(report.settings.deadline_ms, Some(60_000));
    assert_eq!(report.settings.repeat, Some(2));

    let names: Vec<&str> = report.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ipv4_backlog_one",
            "ipv4_backlog_minus_one",
            "ipv4_backlog_somaxconn",
            "ipv6_backlog_one",
            "ipv6_backlog_minus_one",
            "ipv6_backlog_somaxconn"
        ]
    );
    for case in &report.cases {
        assert!(case.family == "ipv4" || case.family == "ipv6");
        assert!(
            OVERFLOW_KINDS.contains(&case.overflow.kind.as_str()),
            "{:?}",
            case.overflow
        );
        assert!(LATE_KINDS.contains(&case.late_completion.kind.as_str()));
        assert_eq!(case.listen.ok, case.listen.failed_at.is_none());
        assert_eq!(case.listen.ok, case.listen.os_error.is_none());
        assert_eq!(case.listen.ok, case.queue_length.is_some());
        for error in [
            &case.overflow.os_error,
            &case.late_completion.os_error,
            &case.listen.os_error,
        ]
        .into_iter()
        .flatten()
        {
            assert!(error.name.is_some() || error.code != 0, "{error:?}");
        }
        assert!(!case.label.is_empty());
        if let Some(meaning) = &case.backlog_meaning {
            assert!(!meaning.is_empty());
        }
        // Every connection the client completed is accepted in the end (the pending client may
        // add one), and the overflow's time is within the case's.
        if let Some(queued) = case.queue_length {
            assert!(case.accepted >= queued, "{}", case.name);
        }
        if let Some(elapsed) = case.overflow.elapsed_ms {
            assert!(elapsed <= case.duration_ms, "{}", case.name);
        }
        // `detail` and `reason` explain an inconclusive case; a measured one has no reason.
        if case.overflow.kind == "inconclusive" {
            assert!(case.overflow.detail.is_some(), "{:?}", case.overflow);
            assert!(
                INCONCLUSIVE_REASONS.contains(&case.overflow.reason.as_deref().unwrap_or("")),
                "{:?}",
                case.overflow
            );
        } else {
            assert_eq!(case.overflow.reason, None, "{:?}", case.overflow);
        }
        assert_eq!(
            case.late_completion.elapsed_ms.is_none(),
            case.late_completion.kind == "not_applicable",
            "{:?}",
            case.late_completion
        );
        if let Some(view) = &case.kernel_queue {
            assert!(
                view.incomplete
                    .is_none_or(|n| n <= view.queued + view.limit + 1)
            );
            if let Some(queued) = case.queue_length {
                assert!(view.queued <= queued + 1, "{}: {view:?}", case.name);
            }
        }
        // Linux, macOS, FreeBSD and Windows have rules in the model; the prediction sits beside
        // the measurement and never replaces it. Other systems get none.
        let modelled = ["linux", "macos", "freebsd", "windows"].contains(&std::env::consts::OS);
        assert_eq!(case.prediction.is_some(), modelled, "{:?}", case.prediction);
        let Some(prediction) = case.prediction.as_ref() else {
            continue;
        };
        assert!(
            OVERFLOW_KINDS.contains(&prediction.overflow.as_str()),
            "{prediction:?}"
        );
        assert!(["source", "documented", "low"].contains(&prediction.confidence.as_str()));
        assert!(!prediction.rule.is_empty() && !prediction.source.is_empty());
        // Contradictions and an unusable view are sentences; the handshake time is there once a
        // client completed.
        assert!(case.inconsistent.iter().all(|note| !note.is_empty()));
        assert!(
            case.kernel_queue_unusable
                .as_ref()
                .is_none_or(|r| !r.is_empty())
        );
        if case.queue_length.is_some_and(|q| q > 0) {
            assert!(case.slowest_handshake_us.is_some(), "{}", case.name);
        }
        // --repeat 2: every case carries its stability over both runs.
        let stability = case.stability.as_ref().expect("--repeat gives a stability");
        assert_eq!(stability.runs, 2, "{}", case.name);
        assert_eq!(
            stability.stable,
            stability.differs.is_empty(),
            "{}",
            case.name
        );
        assert!(stability.accepted.min <= stability.accepted.max);
        if let (Some(range), Some(queued)) = (&stability.queue_length, case.queue_length) {
            assert!(range.min <= queued && queued <= range.max, "{}", case.name);
        }
        // `agrees` compares the queue length only where both sides have one.
        if prediction.queue_length.is_none() || case.queue_length.is_none() {
            assert_eq!(prediction.agrees, None, "{prediction:?}");
        }
    }
    let minus_one = &report.cases[1];
    assert_eq!((minus_one.backlog, minus_one.label.as_str()), (-1, "-1"));
    // --cap 50 stops the large cases early, unless the OS clamps below 50.
    let somaxconn = &report.cases[2];
    assert!(
        somaxconn.queue_length <= Some(50),
        "{:?}",
        somaxconn.queue_length
    );
}

/// `--sysctl` adds a `world` object (absent for the host), documented in `src/report.rs`. It
/// needs a private network namespace: where none can be made, the harness reports it ignored.
fn world_output_matches_the_documented_wire_format() {
    let host = common::backlog_probe(&[
        "run",
        "--quiet",
        "--format",
        "json",
        "--backlog=1",
        "--family",
        "ipv4",
    ]);
    let host: Report = serde_json::from_slice(&host.stdout).expect("host report");
    assert!(host.world.is_none(), "no world key for the host");

    let output = common::backlog_probe(&[
        "run",
        "--quiet",
        "--format",
        "json",
        "--backlog=1",
        "--family",
        "ipv4",
        "--sysctl",
        "net.core.somaxconn=7",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Report = serde_json::from_slice(&output.stdout).expect("world report");
    let world = report.world.expect("a world");
    assert_eq!(world.kind, "network_namespace");
    assert_eq!(world.sysctls.len(), 1);
    let knob = &world.sysctls[0];
    assert_eq!(
        (knob.key.as_str(), knob.requested, knob.read_back),
        ("net.core.somaxconn", 7, 7)
    );
    let counters = world.counters.expect("Linux counters");
    assert_eq!(
        counters.delta.listen_overflows,
        counters.after.listen_overflows - counters.before.listen_overflows
    );
    assert!(counters.delta.listen_drops >= counters.delta.listen_overflows);
}

fn main() -> std::process::ExitCode {
    common::run_with_namespaces(
        &[(
            "world_output_matches_the_documented_wire_format",
            world_output_matches_the_documented_wire_format,
        )],
        &[(
            "run_output_matches_the_documented_wire_format",
            run_output_matches_the_documented_wire_format,
        )],
    )
}
