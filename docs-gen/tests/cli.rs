//! The `docs-gen` command: the committed pages from `docs/data`, progress on stderr, and one
//! line with exit 2 for a directory that is not there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn docs_gen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docs-gen"))
        .args(args)
        .output()
        .expect("docs-gen runs")
}

/// The file's text with line endings normalised (a checkout with `core.autocrlf`).
fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n")
}

#[test]
fn writes_the_committed_pages_and_names_each_on_stderr() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = docs_gen(&[
        "--reports",
        &repo().join("docs/data").to_string_lossy(),
        "--out",
        &out.path().to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty(), "progress goes to stderr");
    for name in ["results.md", "answers.md", "queue-length.svg"] {
        assert_eq!(
            read(&out.path().join(name)),
            read(&repo().join("docs").join(name)),
            "{name}"
        );
        assert!(
            stderr.contains(&format!(
                "docs-gen: wrote {}",
                out.path().join(name).display()
            )),
            "{stderr}"
        );
    }
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
}

#[test]
fn a_missing_report_directory_is_one_line_and_exit_2() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = docs_gen(&[
        "--reports",
        &out.path().join("nowhere").to_string_lossy(),
        "--out",
        &out.path().to_string_lossy(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("docs-gen: error: cannot read report directory"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let output = docs_gen(&["--max-input-bytes", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("docs-gen: error:"), "{stderr}");
}
