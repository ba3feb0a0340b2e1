//! The command line as a user meets it: help, errors, exit codes, pipes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_explains_the_run_flags() {
    let output = common::backlog_probe(&["run", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--family",
        "--backlog",
        "--format",
        "--cap",
        "somaxconn",
        "i32::min",
    ] {
        assert!(help.contains(flag), "help mentions {flag}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line_and_no_panic() {
    let cases: &[&[&str]] = &[
        &["run", "--backlog", "abc"],
        &["run", "--backlog", "1,,2"],
        &["run", "--backlog", "2147483648"],
        &["run", "--backlog=-2147483649"],
        &["run", "--cap", "0"],
        &["run", "--cap", "many"],
        &["run", "--family", "ipx"],
        &["run", "--format", "yaml"],
        &["run", "--no-such-flag"],
        &["run", "--workers", "0"],
        &["run", "--workers", "65"],
        &["run", "--workers", "many"],
        // The hidden worker subcommand with no job on stdin.
        &["worker"],
        &["frobnicate"],
    ];
    for args in cases {
        let output = common::backlog_probe(args);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("backlog-probe: error:"),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_bare_invocation_shows_the_commands() {
    let output = common::backlog_probe(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("Usage: backlog-probe <COMMAND>"),
        "{stderr}"
    );
    assert!(stderr.contains("run"), "{stderr}");
}

#[test]
fn progress_goes_to_stderr_and_the_table_to_stdout() {
    let output = common::backlog_probe(&["run", "--family", "ipv4", "--backlog", "1"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("# "), "environment line: {}", lines[0]);
    assert!(lines[1].starts_with("family"), "header: {}", lines[1]);
    assert!(lines[2].starts_with("ipv4"), "row: {}", lines[2]);
    assert_eq!(lines.len(), 3);
    let stderr = stderr_of(&output);
    assert!(stderr.contains("[1/1] ipv4_backlog_one"), "{stderr}");
}

#[test]
fn markdown_is_a_table() {
    let output = common::backlog_probe(&[
        "run",
        "-q",
        "--family",
        "ipv4",
        "--backlog=0",
        "--format",
        "markdown",
    ]);
    assert!(output.status.success());
    assert!(output.stderr.is_empty(), "--quiet prints nothing on stderr");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[1].starts_with("|---|"));
}

/// `backlog-probe run | head -1`: the reader goes away early and the binary still exits cleanly.
#[test]
fn a_closed_pipe_is_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
        .args([
            "run",
            "--family",
            "ipv4",
            "--backlog=0,1",
            "--format",
            "json",
        ])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    assert_eq!(first.trim(), "{");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    assert!(!stderr_of(&output).contains("panicked"));
}

#[test]
fn version_is_printed() {
    let output = common::backlog_probe(&["--version"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("backlog-probe "));
}

/// A report that cannot be written whole (`/dev/full`: every write fails with ENOSPC, as on a
/// full disk) is a one-line error and exit 2, never exit 0 with a cut-off report.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs /dev/full")]
fn a_report_that_cannot_be_written_is_an_error() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report-linux.json"
    );
    for args in [
        &["run", "--quiet", "--family", "ipv4", "--backlog", "1"][..],
        &[
            "run",
            "--quiet",
            "--family",
            "ipv4",
            "--backlog",
            "1",
            "--format",
            "json",
        ],
        &["merge", fixture],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let output = Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .stdout(full)
            .output()
            .expect("spawn");
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write the output to stdout: ENOSPC"),
            "{args:?}: {stderr}"
        );
    }
}
