//! The CI's shell scripts, run here on what a runner would give them: the FreeBSD VM script with
//! a failing `cargo` (status file, what the copy-back would carry, exit 0), the measurement
//! writing a report only on success, the comparison leaving out a report that does not parse,
//! and the results-pr job's script on fixture artifacts (which files it changes, and the pull
//! request's body).
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn probe_bin() -> &'static str {
    env!("CARGO_BIN_EXE_backlog-probe")
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "backlog-probe-ci-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_into(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().expect("a parent")).expect("create dirs");
    fs::copy(from, to).unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
}

fn copy_tree(from: &Path, to: &Path) {
    for (relative, _) in files_under(from) {
        copy_into(&from.join(&relative), &to.join(&relative));
    }
}

/// Every file under `dir` (relative path, with `/`) and its bytes.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                let name = relative.to_string_lossy().replace('\\', "/");
                out.insert(name, fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A command that runs as on a developer's machine, not as a step of the job that runs this
/// test: nothing may land in the real job summary or step outputs.
fn isolated(program: &str) -> Command {
    let mut command = Command::new(program);
    for name in [
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_ENV",
        "GITHUB_RUN_ID",
        "INSTA_UPDATE",
        "INSTA_PENDING_DIR",
        "BACKLOG_PROBE",
        "DOCS_GEN",
        "REFRESH_REPORTS",
        "CARGO_TARGET_DIR",
        "CI_TEST_TIMEOUT",
        "CI_MEASURE_TIMEOUT",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

/// A workspace holding the CI scripts and what they read, plus a fake `cargo` on PATH: `cargo
/// test` writes one pending snapshot and exits `FAKE_TEST_EXIT` (after `FAKE_TEST_SLEEP`
/// seconds); `cargo run -- run` prints `FAKE_REPORT` and exits `FAKE_RUN_EXIT`; `cargo run --
/// extras` prints `FAKE_EXTRAS`; other subcommands run the real binary.
struct FakeRunner {
    dir: TempDir,
}

const FAKE_CARGO: &str = r#"#!/bin/sh
case "$1" in
  test)
    printf '%s %s\n' "$INSTA_UPDATE" "$CARGO_TARGET_DIR" >fake-cargo-test.env
    if [ -n "${FAKE_TEST_SLEEP:-}" ]; then sleep "$FAKE_TEST_SLEEP"; fi
    mkdir -p "$INSTA_PENDING_DIR/snapshots/freebsd"
    printf -- '---\nsource: tests/default_matrix.rs\nassertion_line: 40\n---\n{}\n' \
      >"$INSTA_PENDING_DIR/snapshots/freebsd/ipv4_backlog_zero.snap.new"
    exit "${FAKE_TEST_EXIT:-0}"
    ;;
  run)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
    shift
    case "$1" in
      run) cat "$FAKE_REPORT"; exit "${FAKE_RUN_EXIT:-0}" ;;
      extras) cat "$FAKE_EXTRAS"; exit 0 ;;
      *) exec "$FAKE_PROBE" "$@" ;;
    esac
    ;;
esac
echo "fake cargo: unexpected: $*" >&2
exit 3
"#;

impl FakeRunner {
    fn new(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let work = dir.path().join("work");
        for script in [
            "freebsd-run",
            "measure",
            "valid-result",
            "print-environment",
            "check-status",
        ] {
            copy_into(
                &repo().join(".ci").join(script),
                &work.join(".ci").join(script),
            );
        }
        copy_into(
            &repo().join("tests/fixtures/report-linux.json"),
            &work.join("tests/fixtures/report-linux.json"),
        );
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        let cargo = bin.join("cargo");
        fs::write(&cargo, FAKE_CARGO).unwrap();
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
        FakeRunner { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = isolated(program);
        let path = std::env::var("PATH").unwrap_or_default();
        command
            .current_dir(self.work())
            .env(
                "PATH",
                format!("{}:{path}", self.dir.path().join("bin").display()),
            )
            .env("HOME", self.dir.path())
            .env("FAKE_PROBE", probe_bin())
            .env("DOCS_GEN", common::docs_gen())
            .env(
                "FAKE_REPORT",
                repo().join("tests/fixtures/report-linux.json"),
            )
            .env(
                "FAKE_EXTRAS",
                repo().join("tests/fixtures/extras-linux.json"),
            );
        command
    }

    /// The files the work tree holds now, less the scripts and fixtures put there.
    fn results(&self) -> BTreeSet<String> {
        files_under(&self.work())
            .into_keys()
            .filter(|name| !name.starts_with(".ci/") && !name.starts_with("tests/"))
            .collect()
    }

    fn status_lines(&self) -> Vec<String> {
        fs::read_to_string(self.work().join("ci-status.txt"))
            .expect("a status file")
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// vmactions/freebsd-vm's way of running `run:`: `set -eu`, `cd "$GITHUB_WORKSPACE"`, then the
/// text, fed to sh on stdin (index.js `execSSH`); the action copies back only after exit 0.
fn run_like_vmactions(runner: &FakeRunner, configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = runner.command("sh");
    command
        .env("GITHUB_WORKSPACE", runner.work())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("sh runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"set -eu\ncd \"$GITHUB_WORKSPACE\"\nsh .ci/freebsd-run freebsd-x86_64 </dev/null\n",
        )
        .unwrap();
    child.wait_with_output().expect("sh finishes")
}

#[test]
fn the_freebsd_script_exits_0_when_the_tests_fail_and_leaves_its_results_for_the_copy_back() {
    let runner = FakeRunner::new("freebsd-fail");
    let output = run_like_vmactions(&runner, |c| {
        c.env("FAKE_TEST_EXIT", "101");
    });
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        runner.status_lines(),
        [
            "101\tcargo test --locked",
            "0\tsh .ci/measure freebsd-x86_64",
        ],
        "{}",
        text(&output)
    );
    // What the action's rsync copies back: the status, the reports, the pending snapshots in
    // the runner's folder, and no build tree or half-written file.
    assert_eq!(
        runner.results(),
        BTreeSet::from(
            [
                "ci-status.txt",
                "extras-freebsd-x86_64.json",
                "fake-cargo-test.env",
                "pending-snapshots/freebsd-x86_64/snapshots/freebsd/ipv4_backlog_zero.snap.new",
                "report-freebsd-x86_64.json",
            ]
            .map(String::from)
        )
    );
    let env = fs::read_to_string(runner.work().join("fake-cargo-test.env")).unwrap();
    let (update, target) = env.trim().split_once(' ').expect("two fields");
    assert_eq!(update, "new");
    assert!(
        !Path::new(target).starts_with(runner.work()),
        "the build must stay out of the copied-back tree: {target}"
    );
    assert_eq!(
        fs::read(runner.work().join("report-freebsd-x86_64.json")).unwrap(),
        fs::read(repo().join("tests/fixtures/report-linux.json")).unwrap()
    );

    // The host step then fails the job, naming the command.
    let check = runner
        .command("sh")
        .args([".ci/check-status", "ci-status.txt"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("::error::'cargo test --locked' exited 101"),
        "{}",
        text(&check)
    );
}

#[test]
fn the_freebsd_script_passes_when_everything_passes_and_check_status_agrees() {
    let runner = FakeRunner::new("freebsd-pass");
    let output = run_like_vmactions(&runner, |_| {});
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        runner
            .status_lines()
            .iter()
            .all(|line| line.starts_with("0\t")),
        "{:?}",
        runner.status_lines()
    );
    let check = runner
        .command("sh")
        .args([".ci/check-status", "ci-status.txt"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    // No status file at all (the script never ran to its end): the job fails.
    fs::remove_file(runner.work().join("ci-status.txt")).unwrap();
    let check = runner
        .command("sh")
        .args([".ci/check-status", "ci-status.txt"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
}

#[test]
fn the_freebsd_script_cuts_off_a_hanging_test_run_and_still_measures() {
    if isolated("sh")
        .args(["-c", "command -v timeout"])
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        return eprintln!("skipped: no timeout(1) here");
    }
    let runner = FakeRunner::new("freebsd-hang");
    let output = run_like_vmactions(&runner, |c| {
        c.env("FAKE_TEST_SLEEP", "30").env("CI_TEST_TIMEOUT", "1s");
    });
    assert!(output.status.success(), "{}", text(&output));
    let lines = runner.status_lines();
    assert_eq!(lines[0], "124\tcargo test --locked", "{lines:?}");
    assert!(lines[1].starts_with("0\t"), "{lines:?}");
    assert!(runner.work().join("report-freebsd-x86_64.json").exists());
}

#[test]
fn a_failed_or_empty_measurement_leaves_no_report() {
    // The run fails half-way through its output.
    let runner = FakeRunner::new("measure-fail");
    let partial = runner.dir.path().join("partial.json");
    fs::write(&partial, "{\"schema_version\": 1, \"cases\": [").unwrap();
    let output = runner
        .command("sh")
        .args([".ci/measure", "linux-x86_64"])
        .env("FAKE_REPORT", &partial)
        .env("FAKE_RUN_EXIT", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(
        runner.results(),
        BTreeSet::from(["extras-linux-x86_64.json".to_string()]),
        "{}",
        text(&output)
    );

    // It exits 0 but prints nothing (the old `> report.json` left exactly this file behind).
    let runner = FakeRunner::new("measure-empty");
    let empty = runner.dir.path().join("empty.json");
    fs::write(&empty, "").unwrap();
    let output = runner
        .command("sh")
        .args([".ci/measure", "linux-x86_64"])
        .env("FAKE_REPORT", &empty)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!runner.results().contains("report-linux-x86_64.json"));

    // Success: both files, and the table on stdout.
    let runner = FakeRunner::new("measure-ok");
    let output = runner
        .command("sh")
        .args([".ci/measure", "linux-x86_64"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        runner.results(),
        BTreeSet::from(["extras-linux-x86_64.json", "report-linux-x86_64.json"].map(String::from))
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("| family |"));
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the comparison job runs on Linux (bash 4)"
)]
fn the_comparison_leaves_out_and_names_a_report_that_does_not_parse() {
    let dir = TempDir::new("compare");
    let reports = dir.path().join("reports");
    for name in [
        "report-linux.json",
        "report-macos-fixture.json",
        "extras-linux.json",
    ] {
        copy_into(
            &repo().join("tests/fixtures").join(name),
            &reports.join(name),
        );
    }
    fs::write(reports.join("report-windows-x86_64.json"), "").unwrap();
    let output = isolated("bash")
        .arg(repo().join(".ci/compare-reports"))
        .arg(&reports)
        .current_dir(dir.path())
        .env("BACKLOG_PROBE", probe_bin())
        .env("DOCS_GEN", common::docs_gen())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let results = fs::read_to_string(dir.path().join("cross-os/results.md")).unwrap();
    assert!(
        results.starts_with(
            "**Left out, backlog-probe cannot read them:** report-windows-x86_64.json"
        ),
        "{results}"
    );
    assert!(results.contains("macos aarch64"), "{results}");
    assert!(dir.path().join("cross-os/docs/results.md").exists());

    // Nothing readable at all: that is a failure.
    for name in ["report-linux.json", "report-macos-fixture.json"] {
        fs::write(reports.join(name), "{").unwrap();
    }
    let output = isolated("bash")
        .arg(repo().join(".ci/compare-reports"))
        .arg(&reports)
        .current_dir(dir.path())
        .env("BACKLOG_PROBE", probe_bin())
        .env("DOCS_GEN", common::docs_gen())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
}

/// The stacks job's artifact lands beside the runners' reports: the comparison merges the stack
/// reports and the regenerated pages show them as stacks (a kernel column, a gVisor section),
/// grouped by their manifests.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the comparison job runs on Linux (bash 4)"
)]
fn the_comparison_shows_the_stacks_job_files_as_stacks() {
    let dir = TempDir::new("compare-stacks");
    let reports = dir.path().join("reports");
    copy_into(
        &repo().join("tests/fixtures/report-linux.json"),
        &reports.join("report-linux-x86_64.json"),
    );
    let data = repo().join("docs/data");
    let mut copied = 0;
    for entry in fs::read_dir(&data).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.contains("-linux-6.12-") || name.contains("-gvisor-") {
            copy_into(&data.join(&name), &reports.join(&name));
            copied += 1;
        }
    }
    assert!(
        copied >= 10,
        "the committed 6.12 and gVisor stacks: {copied} files"
    );
    let output = isolated("bash")
        .arg(repo().join(".ci/compare-reports"))
        .arg(&reports)
        .current_dir(dir.path())
        .env("BACKLOG_PROBE", probe_bin())
        .env("DOCS_GEN", common::docs_gen())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let merged = fs::read_to_string(dir.path().join("cross-os/results.md")).unwrap();
    assert!(merged.contains("6.12.118"), "{merged}");
    let results = fs::read_to_string(dir.path().join("cross-os/docs/results.md")).unwrap();
    assert!(
        results.contains("| world | backlog | [6.12.118](#stack-linux-6-12-x86-64) | model |"),
        "{results}"
    );
    assert!(results.contains("<a id=\"stack-gvisor-20221219-0-x86-64\"></a>"));
    let linux = results
        .split("## Linux across kernels")
        .next()
        .unwrap_or_default();
    assert_eq!(
        linux.matches("### Measured:").count(),
        1,
        "the host's alone"
    );
}

/// A repository for `.ci/collect-results`: the committed Linux snapshot it may change, the
/// fixture Linux report and extras as docs/data, and the docs generated from them.
fn results_repo(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let root = dir.path();
    copy_into(
        &repo().join("snapshots/linux/ipv4_backlog_five.snap"),
        &root.join("snapshots/linux/ipv4_backlog_five.snap"),
    );
    for name in ["report-linux-x86_64.json", "extras-linux-x86_64.json"] {
        copy_into(
            &repo()
                .join("tests/fixtures/.ci-artifacts/reports")
                .join(name),
            &root.join("docs/data").join(name),
        );
    }
    let output = isolated(&common::docs_gen().to_string_lossy())
        .args(["--reports", "docs/data", "--out", "docs"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    dir
}

fn collect(root: &Path, artifacts: &Path) -> (Output, String) {
    let body = root.with_extension("body.md");
    let output = isolated("bash")
        .arg(repo().join(".ci/collect-results"))
        .arg(artifacts)
        .arg(&body)
        .current_dir(root)
        .env("BACKLOG_PROBE", probe_bin())
        .env("DOCS_GEN", common::docs_gen())
        .output()
        .unwrap();
    let text = fs::read_to_string(&body).unwrap_or_default();
    let _ = fs::remove_file(&body);
    (output, text)
}

fn changed_files(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|name| before.get(*name) != after.get(*name))
        .cloned()
        .collect()
}

/// The `.snap` insta would write from a `.snap.new`: the same text without `assertion_line`.
fn accepted(pending: &Path) -> String {
    fs::read_to_string(pending)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("assertion_line: "))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the results-pr job runs on Linux (bash 4, jq)"
)]
fn collect_results_applies_the_fixture_artifacts() {
    let repo_dir = results_repo("collect");
    let root = repo_dir.path();
    let artifacts = repo().join("tests/fixtures/.ci-artifacts");
    let before = files_under(root);
    let (output, body) = collect(root, &artifacts);
    assert!(output.status.success(), "{}", text(&output));
    let after = files_under(root);
    let changed = changed_files(&before, &after);

    // The macOS snapshot both macOS runners proposed, the new runner's report, and the docs
    // regenerated from it; nothing for Linux (same results) or Windows (an empty report).
    let not_docs: BTreeSet<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|name| !name.starts_with("docs/") || name.starts_with("docs/data/"))
        .collect();
    assert_eq!(
        not_docs,
        BTreeSet::from([
            "docs/data/report-macos-aarch64.json",
            "snapshots/macos/ipv4_backlog_zero.snap",
        ]),
        "{}",
        text(&output)
    );
    assert!(changed.contains("docs/results.md"), "{changed:?}");
    assert!(
        changed.iter().all(|name| !name.starts_with("docs/")
            || name.starts_with("docs/data/")
            || [
                "docs/results.md",
                "docs/answers.md",
                "docs/queue-length.svg"
            ]
            .contains(&name.as_str())),
        "{changed:?}"
    );
    assert_eq!(
        String::from_utf8(after["snapshots/macos/ipv4_backlog_zero.snap"].clone()).unwrap(),
        accepted(
            &artifacts.join("pending/macos-aarch64/snapshots/macos/ipv4_backlog_zero.snap.new")
        )
    );
    assert_eq!(
        after["docs/data/report-macos-aarch64.json"],
        fs::read(artifacts.join("reports/report-macos-aarch64.json")).unwrap()
    );
    // stdout names exactly the changed files.
    let listed: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, changed);

    // The body: per runner what changed and its environment.
    for needle in [
        "## linux-x86_64",
        "## macos-aarch64",
        "## macos-x86_64",
        "## windows-x86_64",
        "`snapshots/macos/ipv4_backlog_zero.snap`: new (the same result from macos-x86_64)",
        "`docs/data/report-macos-aarch64.json`: new (a new runner)",
        "- OS: Mac OS 15.5.0, macos/aarch64",
        "- kernel: 24.5.0",
        "- somaxconn: kern.ipc.somaxconn = 128 (SOMAXCONN 128)",
        "`kern.ipc.soqlimitcompat=1`",
        "- kernel: 6.18.44-fc-v782",
        "report: same behaviour and environment as `docs/data/report-linux-x86_64.json`, not copied",
        "`report-windows-x86_64.json`: not used, backlog-probe cannot read it",
        "+  \"queue_length\": 128,",
    ] {
        assert!(body.contains(needle), "{needle:?} missing from\n{body}");
    }

    // A second run over the same artifacts changes nothing.
    let (output, body) = collect(root, &artifacts);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(files_under(root), after);
    assert!(
        body.contains("None: every runner's results match"),
        "{body}"
    );
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the results-pr job runs on Linux (bash 4, jq)"
)]
fn collect_results_keeps_disagreeing_machines_and_stray_files_out() {
    let repo_dir = results_repo("collect-conflict");
    let root = repo_dir.path();
    let artifacts = TempDir::new("collect-conflict-artifacts");
    copy_tree(
        &repo().join("tests/fixtures/.ci-artifacts"),
        artifacts.path(),
    );
    // The Intel Mac measured something else for the same snapshot file.
    let intel = artifacts
        .path()
        .join("pending/macos-x86_64/snapshots/macos/ipv4_backlog_zero.snap.new");
    let text_of = fs::read_to_string(&intel).unwrap();
    fs::write(
        &intel,
        text_of.replace("\"queue_length\": 128", "\"queue_length\": 129"),
    )
    .unwrap();
    // Linux changed behaviour: a pending snapshot for a committed file.
    let committed =
        fs::read_to_string(repo().join("snapshots/linux/ipv4_backlog_five.snap")).unwrap();
    assert!(committed.contains("\"queue_length\": 6,"));
    let linux = artifacts
        .path()
        .join("pending/linux-x86_64/snapshots/linux/ipv4_backlog_five.snap.new");
    fs::create_dir_all(linux.parent().unwrap()).unwrap();
    fs::write(
        &linux,
        committed
            .replacen(
                "source: tests/default_matrix.rs\n",
                "source: tests/default_matrix.rs\nassertion_line: 40\n",
                1,
            )
            .replace("\"queue_length\": 6,", "\"queue_length\": 5,"),
    )
    .unwrap();
    // Files that are no snapshot of ours.
    for stray in [
        "pending/linux-x86_64/src/evil.snap.new",
        "pending/linux-x86_64/tests/.cli.rs.pending-snap",
        "pending/linux-x86_64/snapshots/notes.txt",
    ] {
        let path = artifacts.path().join(stray);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "x\n").unwrap();
    }

    let before = files_under(root);
    let (output, body) = collect(root, artifacts.path());
    assert!(output.status.success(), "{}", text(&output));
    let after = files_under(root);
    let changed = changed_files(&before, &after);
    assert!(
        changed.contains("snapshots/linux/ipv4_backlog_five.snap"),
        "{changed:?}"
    );
    assert_eq!(
        String::from_utf8(after["snapshots/linux/ipv4_backlog_five.snap"].clone()).unwrap(),
        committed.replace("\"queue_length\": 6,", "\"queue_length\": 5,")
    );
    assert!(
        !after.contains_key("snapshots/macos/ipv4_backlog_zero.snap"),
        "a disagreement is never applied"
    );
    assert!(
        changed
            .iter()
            .all(|name| name.starts_with("snapshots/linux/") || name.starts_with("docs/")),
        "{changed:?}"
    );
    for needle in [
        "macos-aarch64 macos-x86_64 measured different results",
        "`snapshots/linux/ipv4_backlog_five.snap`: changed",
        "-  \"queue_length\": 6,",
        "+  \"queue_length\": 5,",
        "`src/evil.snap.new` from linux-x86_64: not under snapshots/<key>/",
        "`tests/.cli.rs.pending-snap` from linux-x86_64: an inline snapshot",
        "`snapshots/notes.txt` from linux-x86_64: not a pending snapshot",
    ] {
        assert!(body.contains(needle), "{needle:?} missing from\n{body}");
    }
}
