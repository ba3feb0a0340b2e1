//! The committed `docs/` must be exactly what the generator makes from `docs/data/`: a change to
//! the generator, the model or a report without regenerating fails here.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The file's text with line endings normalised: a checkout with `core.autocrlf` (the Windows
/// default) must not count as stale.
fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n")
}

#[test]
fn committed_docs_are_fresh() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let written = docs_gen::regenerate(&repo().join("docs/data"), out.path())
        .expect("docs/data holds reports");
    assert_eq!(written.len(), 4);
    for path in written {
        let name = path.file_name().expect("a file name");
        let committed = repo().join("docs").join(name);
        assert!(
            read(&committed) == read(&path),
            "docs/{} is stale: regenerate with `cargo run -p docs-gen -- --reports docs/data --out docs`",
            name.to_string_lossy()
        );
    }
}

/// The generator left the binary: `backlog-probe docs` says, in one line, what runs it now.
#[test]
fn the_docs_subcommand_names_the_generator() {
    let output = common::backlog_probe(&["docs", "--reports", "docs/data", "--out", "docs"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cargo run -p docs-gen -- --reports docs/data --out docs"),
        "{stderr}"
    );
}

#[test]
fn a_missing_report_directory_is_an_error_naming_it() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let error =
        docs_gen::regenerate(&out.path().join("nowhere"), out.path()).expect_err("no directory");
    assert!(
        matches!(error, docs_gen::DocsError::ReportDirectory { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot read report directory"),
        "{error}"
    );
}

#[test]
fn the_committed_report_is_a_native_linux_run() {
    // The Linux results page rests on this file: it must be a real run, not an emulated one.
    let text = read(&repo().join("docs/data/report-linux-x86_64.json"));
    let report: backlog_probe::report::Report = serde_json::from_str(&text).expect("a report");
    assert_eq!(report.environment.target_os, "linux");
    assert_eq!(report.environment.emulator, None);
    assert_eq!(
        report.cases.len(),
        14,
        "both families x the 7 default backlogs"
    );
}

#[test]
fn the_committed_extras_report_is_a_native_linux_run() {
    // The Linux extras section and the UDP, Unix-domain, re-listen and runtime answers rest on
    // this file: it must be a real run that measured tokio too.
    let text = read(&repo().join("docs/data/extras-linux-x86_64.json"));
    let report: backlog_probe::report::extras::ExtrasReport =
        serde_json::from_str(&text).expect("an extras report");
    assert_eq!(report.environment.target_os, "linux");
    assert_eq!(report.environment.emulator, None);
    let tokio = report
        .runtime_defaults
        .iter()
        .find(|r| r.api == "tokio::net::TcpListener::bind")
        .expect("a tokio row");
    assert_eq!(
        tokio.status,
        backlog_probe::observation::extras::MeasureStatus::Measured,
        "run `cargo run --release --features tokio -- extras --format json`"
    );
}

/// An anchor as the pages write it: ASCII letters and digits lower-cased, anything else `-`.
fn anchor_of(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Every stack `cargo xtask stacks` wrote is documented as a stack (a kernel column and section,
/// or a gVisor section), never as a second report of its OS; the Linux section stays the host's.
#[test]
fn the_committed_stacks_are_documented_as_stacks() {
    let results = read(&repo().join("docs/results.md"));
    let (os_sections, _) = results
        .split_once("## Linux across kernels")
        .expect("a kernels section");
    let linux = os_sections
        .split("## Linux")
        .nth(1)
        .expect("a Linux section");
    assert_eq!(
        linux.matches("### Measured:").count(),
        1,
        "the host's alone"
    );
    let mut manifests: Vec<PathBuf> = fs::read_dir(repo().join("docs/data"))
        .expect("docs/data")
        .map(|entry| entry.expect("an entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("stack-") && n.ends_with(".json"))
        })
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 5, "four kernels and gVisor at least");
    for path in manifests {
        let manifest: serde_json::Value = serde_json::from_str(&read(&path)).expect("JSON");
        let stack = manifest["stack"].as_str().expect("a stack name");
        let key = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("stack-"))
            .expect("a key");
        let anchor = anchor_of(&format!("stack-{key}"));
        assert!(
            results.contains(&format!("<a id=\"{anchor}\"></a>")),
            "{stack}: no section #{anchor}"
        );
        assert!(!linux.contains(key), "{stack} in the host's Linux section");
        let report_path = repo().join(format!("docs/data/report-{key}.json"));
        let report: backlog_probe::report::Report =
            serde_json::from_str(&read(&report_path)).expect("a report");
        if manifest["kind"] == "gvisor" {
            // Re-run with a binary that detects gVisor: the report says where it ran.
            assert_eq!(
                report.environment.sandbox,
                Some(backlog_probe::sys::Sandbox::Gvisor),
                "{stack}: re-run `cargo xtask stacks --gvisor`"
            );
        } else {
            // The upstream version is readable from the report itself (uname -v).
            assert!(
                report.environment.settings.contains_key("kernel.version"),
                "{stack}: re-run `cargo xtask stacks` with a binary that records kernel.version"
            );
            // The column links the section by its exact kernel version (`5.10.262-1` →
            // `#stack-linux-5-10-262-x86-64`); the anchor by file name stays beside it.
            let upstream = manifest["package_version"]
                .as_str()
                .and_then(|v| v.split(['-', '~', '+']).next())
                .expect("the kernel package's version");
            let arch = manifest["arch"].as_str().expect("an arch");
            let versioned = anchor_of(&format!("stack-linux-{upstream}-{arch}"));
            assert!(
                results.contains(&format!("](#{versioned}) |")),
                "{stack}: no column in the kernels table"
            );
            assert!(results.contains(&format!("<a id=\"{versioned}\"></a>")));
        }
    }
    // Debian's 5.10.223 predates commit 3479c7549fb1: listen(0) without syncookies admits 0.
    if results.contains("#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero") {
        assert!(results.contains("| `net.ipv4.tcp_syncookies=0` | <a id=\"linux-kernels-syncookies-0-backlog-zero\"></a>0 | [0](#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero) |"));
    }
}
