//! The runtime programs of `runtimes/`, measured by `extras`: every installed runtime gives a
//! measured row whose stored limit is the kernel's own (compared with `ss -lnt` in a private
//! network namespace) and the model's (src/predict/runtimes.rs); a runtime that is missing or
//! broken gives rows with the reason.
//!
//! On Linux the runtimes Debian packages (Python, Go, Node.js, Java, Ruby, PHP) are needed by
//! the two tests that compare every runtime with the model: where one is missing, they are
//! reported as *ignored* with the reason ("go is not installed: install golang-go"), so that
//! `cargo test` passes on a machine with only the Rust toolchain. With
//! `BACKLOG_PROBE_REQUIRE_RUNTIMES=1` (`.ci/run` sets it) they run and fail instead, naming the
//! package. .NET has no Debian package and is never required. Elsewhere every row must still be
//! measured or say why not. The tests of Python's rows (its snapshot, and its stored limits on
//! Linux) need python3 on every OS, under the same rule.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use backlog_probe::classify::extras::measured_queue;
use backlog_probe::environment::Environment;
use backlog_probe::experiment::budget::process_budget;
use backlog_probe::experiment::extras::runtimes::{self, PROGRAMS, Program};
use backlog_probe::predict::runtimes::{RUNTIMES, model_of};
use backlog_probe::predict::{Limits, OsFamily};
use backlog_probe::report::extras::ExtrasReport;
use backlog_probe::report::extras::{MeasureStatus, RuntimeDefault};

/// The runtime programs this OS's test machines must have.
fn required() -> Vec<&'static Program> {
    if cfg!(target_os = "linux") {
        PROGRAMS.iter().filter(|p| p.key != "dotnet").collect()
    } else {
        Vec::new()
    }
}

/// Set to `1`, a missing required runtime fails the tests that need it instead of having them
/// ignored.
const REQUIRE_RUNTIMES: &str = "BACKLOG_PROBE_REQUIRE_RUNTIMES";

/// The tests that need every required runtime.
const NEEDING_RUNTIMES: [&str; 2] = [
    "every_installed_runtime_is_measured_with_its_version",
    "stored_limits_equal_ss_and_the_model",
];

/// The tests that need Python only (every OS's CI runner has it).
const NEEDING_PYTHON: [&str; 2] = ["python_defaults_match_snapshot", "linux_python_defaults"];

/// What is missing of the required runtimes, one "go is not installed: install golang-go"
/// each, joined; `None` where all are on PATH.
fn missing_runtimes() -> Option<String> {
    missing_of(required())
}

/// [`missing_runtimes`] for Python alone.
fn missing_python() -> Option<String> {
    missing_of(vec![
        runtimes::program("python").expect("Python is a runtime program"),
    ])
}

/// What is missing of `programs`, as [`missing_runtimes`] words it.
fn missing_of(programs: Vec<&'static Program>) -> Option<String> {
    let missing: Vec<String> = programs
        .into_iter()
        .filter(|program| !common::on_path(program.command))
        .map(|program| {
            format!(
                "{} is not installed: install {}",
                program.command, program.install
            )
        })
        .collect();
    (!missing.is_empty()).then(|| missing.join("; "))
}

/// Fail, naming the package, unless every required runtime is on PATH.
fn require_runtimes() {
    if let Some(missing) = missing_runtimes() {
        panic!("{missing} (this test compares every runtime with the model)");
    }
}

/// Fail, naming the package, unless python3 is on PATH.
fn require_python() {
    if let Some(missing) = missing_python() {
        panic!("{missing} (this test measures Python's listeners)");
    }
}

/// The library's extras report (every runtime program that is installed), measured once.
fn report() -> &'static ExtrasReport {
    static REPORT: std::sync::OnceLock<ExtrasReport> = std::sync::OnceLock::new();
    REPORT.get_or_init(backlog_probe::run::extras_report)
}

/// The rows of Python's program in [`report`] (python3 must be on PATH).
fn python_rows() -> Vec<&'static RuntimeDefault> {
    require_python();
    let python = rows_of(report(), "python");
    assert_eq!(python.len(), 3, "{python:?}");
    python
}

/// Python's rows against their snapshot (the per-OS folder of tests/extras.rs' snapshots),
/// unless this OS's behaviour cannot be measured here (Wine).
fn python_defaults_match_snapshot() {
    let python = python_rows();
    let environment = &report().environment;
    if common::behaviour_not_compared(environment, "extras_runtime_defaults_python") {
        return;
    }
    let _scope = common::snapshot_settings(environment).bind_to_scope();
    insta::assert_json_snapshot!(
        "extras_runtime_defaults_python",
        serde_json::json!({
            "system_somaxconn": environment.somaxconn.setting,
            "runtime_defaults": python,
        })
    );
}

/// CPython Modules/socketmodule.c `sock_listen()`: no argument means
/// `Py_MIN(SOMAXCONN, 128)`, and "We support backlog < 0 ... backlog = 0"; `socket.SOMAXCONN`
/// is the C constant (glibc 4096), clamped to somaxconn (net/socket.c). On Linux the listener
/// listing (sock_diag) shows the stored backlog exactly.
fn linux_python_defaults() {
    let python = python_rows();
    let limit = |api: &str| {
        python
            .iter()
            .find(|d| d.api == api)
            .and_then(|d| d.kernel_limit)
    };
    assert_eq!(limit("python3 socket.listen()"), Some(128), "{python:?}");
    assert_eq!(limit("python3 socket.listen(-1)"), Some(0), "{python:?}");
    let somaxconn = report()
        .environment
        .somaxconn
        .setting
        .expect("Linux exposes net.core.somaxconn") as u32;
    assert_eq!(
        limit("python3 socket.listen(socket.SOMAXCONN)"),
        Some(somaxconn.min(4096)),
        "{python:?}"
    );
}

/// `extras --format json` with `args`, `PATH` replaced where `path` is given, within a bound
/// far above any deadline the run has.
fn extras_json(args: &[&str], path: Option<&Path>) -> ExtrasReport {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"));
    command.args(["extras", "--format", "json"]).args(args);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = common::bounded(command, Duration::from_secs(300));
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

/// The rows of `report` that runtime `key`'s program gave.
fn rows_of<'a>(report: &'a ExtrasReport, key: &str) -> Vec<&'a RuntimeDefault> {
    report
        .runtime_defaults
        .iter()
        .filter(|row| row.runtime.as_deref() == Some(key))
        .collect()
}

/// Linux: the kernel stores `min(backlog as u32, somaxconn)` (net/socket.c
/// `__sys_listen_socket()`) and queues one more (include/net/sock.h `sk_acceptq_is_full()`,
/// `>`); the model computes both from what the runtime's source passes. `row` must match it and
/// have been measured both ways.
fn assert_matches_model(row: &RuntimeDefault, limits: &Limits) {
    assert_eq!(row.status, MeasureStatus::Measured, "{row:?}");
    let model = model_of(&row.api, OsFamily::Linux, limits)
        .unwrap_or_else(|| panic!("{} is not in the predict table", row.api));
    assert_eq!(
        row.kernel_limit, model.stored_limit,
        "{}: measured stored limit against the model ({}, {})",
        row.api, model.passed_text, model.source
    );
    let fill = row.fill.as_ref().expect("every runtime listener is filled");
    assert_eq!(
        measured_queue(fill),
        model.queue,
        "{}: measured queue against the model ({}, {})",
        row.api,
        model.passed_text,
        model.source
    );
}

/// On this OS, `extras --format json` has a measured row for every variant of every installed
/// runtime and for Rust's std and tokio, each runtime with its version; on Linux each row agrees
/// with the model. A runtime that is not installed is a `skipped` row saying so.
fn every_installed_runtime_is_measured_with_its_version() {
    require_runtimes();
    let report = extras_json(&[], None);
    let versions = &report.runtime_versions;
    assert!(
        versions
            .get("rust")
            .is_some_and(|v| v.starts_with("rustc ")),
        "{versions:?}"
    );
    let std_tcp = report
        .runtime_defaults
        .iter()
        .find(|row| row.api == "std::net::TcpListener::bind")
        .expect("std row");
    assert_eq!(std_tcp.status, MeasureStatus::Measured, "{std_tcp:?}");
    let tokio = report
        .runtime_defaults
        .iter()
        .find(|row| row.api == "tokio::net::TcpListener::bind")
        .expect("tokio row");
    if cfg!(feature = "tokio") {
        assert_eq!(tokio.status, MeasureStatus::Measured, "{tokio:?}");
        assert!(
            versions
                .get("tokio")
                .is_some_and(|v| v.starts_with("tokio ")),
            "{versions:?}"
        );
    } else {
        assert_eq!(tokio.status, MeasureStatus::Unsupported, "{tokio:?}");
        assert!(!versions.contains_key("tokio"), "{versions:?}");
    }
    let limits = Limits::from_environment(&report.environment);
    for program in PROGRAMS {
        let rows = rows_of(&report, program.key);
        let apis: Vec<&str> = rows.iter().map(|row| row.api.as_str()).collect();
        let expected: Vec<&str> = program.variants.iter().map(|v| v.api).collect();
        assert_eq!(apis, expected, "one row per variant, in order");
        let installed = common::on_path(program.command);
        for row in rows {
            if !installed {
                assert_eq!(row.status, MeasureStatus::Skipped, "{row:?}");
                assert!(
                    row.detail
                        .as_deref()
                        .is_some_and(|d| d.contains("not installed")),
                    "{row:?}"
                );
                continue;
            }
            if cfg!(target_os = "linux") {
                assert_matches_model(row, &limits);
            } else {
                assert!(
                    row.status == MeasureStatus::Measured || row.detail.is_some(),
                    "a row that is not measured says why: {row:?}"
                );
            }
        }
        if installed && cfg!(target_os = "linux") {
            assert!(
                versions.get(program.key).is_some_and(|v| !v.is_empty()),
                "{} printed no version: {versions:?}",
                program.name
            );
        }
    }
    // Rust's std and tokio in the model too (std: rust-lang/rust socket.rs passes 128; tokio
    // through mio >= 1.2.0 the same), the limit from the listener's own TCP_INFO.
    if cfg!(target_os = "linux") {
        for row in [std_tcp]
            .into_iter()
            .chain(cfg!(feature = "tokio").then_some(tokio))
        {
            let model = model_of(&row.api, OsFamily::Linux, &limits).expect("in the table");
            assert_eq!(row.kernel_limit, model.stored_limit, "{row:?}");
        }
    }
}

/// `ss -lnt` in this thread's network namespace: each listener's port, and its Recv-Q and
/// Send-Q (for a listener: the accept queue and the stored limit, net/ipv4/tcp_diag.c
/// `tcp_diag_get_info()`).
fn ss_listeners() -> BTreeMap<u16, (u32, u32)> {
    let output = std::process::Command::new("ss")
        .arg("-lntH")
        .output()
        .expect("ss runs (iproute2)");
    assert!(output.status.success(), "ss -lntH failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields[3]
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("ss line without a port: {line}"));
            let number = |i: usize| fields[i].parse::<u32>().expect("a queue figure");
            (port, (number(1), number(2)))
        })
        .collect()
}

/// In a private network namespace (no other listener can interfere): every required runtime's
/// listeners, and std's, as `ss -lnt` shows them, then measured as `extras` measures them. The
/// stored limit equals ss's Send-Q and the model's value; the queue the model's.
fn stored_limits_equal_ss_and_the_model() {
    require_runtimes();
    let outcome = std::thread::spawn(|| {
        backlog_probe::sys::enter_network_namespace().expect("a private network namespace");
        let environment = Environment::detect();
        let limits = Limits::from_environment(&environment);
        let started: Vec<runtimes::Running> = required()
            .into_iter()
            .map(|program| {
                runtimes::start(program, program.start_deadline)
                    .unwrap_or_else(|failure| panic!("{} did not start: {failure:?}", program.name))
            })
            .collect();
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("std bind");
        let std_port = std_listener.local_addr().expect("address").port();
        let ss = ss_listeners();
        let expected_listeners: usize =
            started.iter().map(|r| r.listeners.len()).sum::<usize>() + 1;
        assert_eq!(
            ss.len(),
            expected_listeners,
            "only ours in the namespace: {ss:?}"
        );
        for running in &started {
            for (variant, port) in &running.listeners {
                let port = *port
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{}: {e}", variant.api));
                let (queued, send_q) = ss[&port];
                assert_eq!(queued, 0, "{}: nothing queued yet", variant.api);
                let row = runtimes::measure_port(
                    runtimes::row(running.program, variant),
                    port,
                    process_budget(),
                );
                assert_eq!(
                    row.kernel_limit,
                    Some(send_q),
                    "{}: extras' stored limit against ss's Send-Q",
                    variant.api
                );
                assert_matches_model(&row.into(), &limits);
            }
        }
        let std_row = backlog_probe::experiment::extras::defaults::measure_listener(
            "std::net::TcpListener::bind",
            &socket2::SockRef::from(&std_listener),
            socket2::Type::STREAM,
            process_budget(),
        );
        assert_eq!(std_row.kernel_limit, Some(ss[&std_port].1), "{std_row:?}");
        drop(started);
    })
    .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A directory holding only `programs` (name, shell script) as executables, for a PATH that
/// lacks everything else.
#[cfg(unix)]
fn path_with(programs: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, script) in programs {
        let file = dir.path().join(name);
        std::fs::write(&file, script).expect("write the fake");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A runtime hidden from PATH is a `skipped` row per variant that says it is not installed and
/// what to install; no version is reported for it.
fn a_runtime_hidden_from_path_is_a_row_saying_so() {
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path();
        let report = extras_json(&["--runtimes", "ruby,node"], Some(path));
        for key in ["ruby", "node"] {
            let program = runtimes::program(key).expect("known");
            let rows = rows_of(&report, key);
            assert_eq!(rows.len(), program.variants.len(), "{rows:?}");
            for row in rows {
                assert_eq!(row.status, MeasureStatus::Skipped, "{row:?}");
                let detail = row.detail.as_deref().unwrap_or_default();
                assert!(detail.contains("is not installed"), "{detail}");
                assert!(detail.contains(program.install), "{detail}");
                assert_eq!((row.kernel_limit, &row.fill), (None, &None), "{row:?}");
            }
            assert!(!report.runtime_versions.contains_key(key));
        }
        // Only the runtimes asked for.
        assert!(rows_of(&report, "go").is_empty());
    }
}

/// A runtime program that never prints a port is a `failed` row once its deadline passed (the
/// run ends: `bounded` fails a run that hangs), naming the deadline; one that exits at once is a
/// `failed` row quoting its last line on stderr. (Unix: the fakes are shell scripts.)
#[cfg(unix)]
fn a_runtime_that_prints_no_port_is_a_failed_row() {
    {
        let (_dir, path) = path_with(&[
            // Prints a version, then waits on its standard input, which the harness holds
            // open: never a port.
            (
                "go",
                "#!/bin/sh\necho 'version fake go'\nwhile read -r line; do :; done\n",
            ),
            (
                "php",
                "#!/bin/sh\necho 'php: cannot load the sockets extension' >&2\nexit 3\n",
            ),
        ]);
        let report = extras_json(
            &["--runtimes", "go,php", "--runtime-deadline", "1"],
            Some(&path),
        );
        let go = rows_of(&report, "go");
        assert_eq!(go.len(), 1);
        assert_eq!(go[0].status, MeasureStatus::Failed, "{:?}", go[0]);
        let detail = go[0].detail.as_deref().unwrap_or_default();
        assert!(detail.contains("printed no port within 1 s"), "{detail}");
        let php = rows_of(&report, "php");
        assert_eq!(php.len(), 2);
        for row in php {
            assert_eq!(row.status, MeasureStatus::Failed, "{row:?}");
            let detail = row.detail.as_deref().unwrap_or_default();
            assert!(detail.contains("exited"), "{detail}");
            assert!(
                detail.contains("php: cannot load the sockets extension"),
                "{detail}"
            );
        }
    }
}

/// `--runtimes` with a name it does not know, or a deadline that is no duration, is a usage
/// error (exit 2) naming the problem, before anything runs.
fn bad_runtime_options_are_usage_errors() {
    for args in [
        &["extras", "--runtimes", "cobol"][..],
        &["extras", "--runtime-deadline=-1"][..],
        &["extras", "--runtime-deadline", "0"][..],
        &["extras", "--runtime-deadline", "soon"][..],
    ] {
        let output = common::backlog_probe(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("runtime"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// Every runtime program's listeners are in the predict table (so the docs link the measured
/// row to the model's value and source), and the runtimes/ README has a line for each program.
fn every_program_is_in_the_table_and_the_readme() {
    let readme = include_str!("../runtimes/README.md");
    for program in PROGRAMS {
        assert!(
            readme.contains(&format!("{}/{}", program.key, program.file)),
            "runtimes/README.md lacks {}",
            program.file
        );
        for variant in program.variants {
            assert!(
                RUNTIMES
                    .iter()
                    .any(|runtime| runtime.measured_api == Some(variant.api)),
                "{} is not a measured_api of src/predict/runtimes.rs",
                variant.api
            );
        }
    }
}

/// Contract note: `runtime_versions` and a row's `runtime` are optional additions, so
/// `EXTRAS_SCHEMA_VERSION` stays 1: a report without them reads (and is written back without
/// them), and rows of Rust's own listeners carry no `runtime`.
fn the_runtime_additions_keep_version_1_readable() {
    let fixture = include_str!("fixtures/extras-linux.json");
    let old = backlog_probe::report::read::parse_extras(fixture).expect("a version-1 report");
    assert!(old.runtime_versions.is_empty());
    assert!(old.runtime_defaults.iter().all(|row| row.runtime.is_none()));
    let json = serde_json::to_value(&old).expect("json");
    assert!(json.get("runtime_versions").is_none());
    assert!(
        json["runtime_defaults"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|row| row.get("runtime").is_none())
    );
}

fn main() -> std::process::ExitCode {
    // Unix adds the test whose fakes are shell scripts.
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut plain: Vec<(&'static str, fn())> = vec![
        (
            "every_installed_runtime_is_measured_with_its_version",
            every_installed_runtime_is_measured_with_its_version,
        ),
        (
            "a_runtime_hidden_from_path_is_a_row_saying_so",
            a_runtime_hidden_from_path_is_a_row_saying_so,
        ),
        (
            "bad_runtime_options_are_usage_errors",
            bad_runtime_options_are_usage_errors,
        ),
        (
            "every_program_is_in_the_table_and_the_readme",
            every_program_is_in_the_table_and_the_readme,
        ),
        (
            "the_runtime_additions_keep_version_1_readable",
            the_runtime_additions_keep_version_1_readable,
        ),
    ];
    #[cfg(unix)]
    plain.push((
        "a_runtime_that_prints_no_port_is_a_failed_row",
        a_runtime_that_prints_no_port_is_a_failed_row,
    ));
    plain.push((
        "python_defaults_match_snapshot",
        python_defaults_match_snapshot,
    ));
    let mut unsupported = Vec::new();
    if cfg!(target_os = "linux") {
        plain.push(("linux_python_defaults", linux_python_defaults));
    } else {
        unsupported.push(("linux_python_defaults", "Python's TCP_INFO read is Linux's"));
    }
    // A missing runtime: the tests that need it are ignored with the reason, unless required.
    let required = std::env::var_os(REQUIRE_RUNTIMES).is_some_and(|v| v == "1");
    let missing = missing_runtimes().filter(|_| !required);
    let python = missing_python().filter(|_| !required);
    common::run_tests_needing(
        &[(
            "stored_limits_equal_ss_and_the_model",
            stored_limits_equal_ss_and_the_model,
        )],
        &["ss"],
        &plain,
        &unsupported,
        |name| {
            if NEEDING_RUNTIMES.contains(&name) {
                missing.clone()
            } else if NEEDING_PYTHON.contains(&name) {
                python.clone()
            } else {
                None
            }
        },
    )
}
