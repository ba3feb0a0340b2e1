//! The facts the CI workflow must keep for the suite to mean anything: every OS family in the
//! matrix, fail-fast off, one artifact name per runner, pinned actions, bounded jobs.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

fn workflow() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/ci.yml");
    let text = std::fs::read_to_string(path).expect("the workflow exists");
    serde_yaml_ng::from_str(&text).expect("the workflow is YAML")
}

fn jobs(workflow: &Value) -> &serde_yaml_ng::Mapping {
    workflow["jobs"].as_mapping().expect("jobs")
}

fn matrix_entries(workflow: &Value) -> Vec<(String, String)> {
    workflow["jobs"]["test"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("test matrix include list")
        .iter()
        .map(|entry| {
            (
                entry["os"].as_str().expect("os").to_string(),
                entry["slug"].as_str().expect("slug").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_matrix_covers_linux_macos_and_windows_on_both_architectures() {
    let entries = matrix_entries(&workflow());
    for family in ["ubuntu-", "macos-", "windows-"] {
        let labels: Vec<&String> = entries
            .iter()
            .map(|(os, _)| os)
            .filter(|os| os.starts_with(family))
            .collect();
        assert!(labels.len() >= 2, "{family}: {labels:?}");
    }
    let slugs: Vec<&str> = entries.iter().map(|(_, slug)| slug.as_str()).collect();
    for slug in [
        "linux-x86_64",
        "linux-aarch64",
        "macos-aarch64",
        "macos-x86_64",
        "windows-x86_64",
    ] {
        assert!(slugs.contains(&slug), "{slug} missing from {slugs:?}");
    }
    // Labels pinned to a release, not -latest, so a runner image move is a visible commit.
    assert!(
        entries.iter().all(|(os, _)| !os.ends_with("-latest")),
        "{entries:?}"
    );
}

#[test]
fn fail_fast_is_off() {
    assert_eq!(
        workflow()["jobs"]["test"]["strategy"]["fail-fast"],
        Value::Bool(false)
    );
}

#[test]
fn artifact_names_are_unique_per_runner() {
    let workflow = workflow();
    let slugs: Vec<String> = matrix_entries(&workflow)
        .into_iter()
        .map(|(_, slug)| slug)
        .collect();
    let unique: BTreeSet<&String> = slugs.iter().collect();
    assert_eq!(unique.len(), slugs.len(), "matrix slugs repeat: {slugs:?}");
    let mut names = Vec::new();
    for (job_name, job) in jobs(&workflow) {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            let uses = step["uses"].as_str().unwrap_or_default();
            if !uses.starts_with("actions/upload-artifact@") {
                continue;
            }
            let name = step["with"]["name"]
                .as_str()
                .expect("artifact name")
                .to_string();
            if job_name.as_str() == Some("test") {
                assert!(
                    name.contains("${{ matrix.slug }}"),
                    "{name} must vary per runner"
                );
                for slug in &slugs {
                    names.push(name.replace("${{ matrix.slug }}", slug));
                }
            } else {
                names.push(name);
            }
        }
    }
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "artifact names repeat: {names:?}"
    );
    assert!(
        names.iter().any(|n| n == "report-freebsd-x86_64"),
        "{names:?}"
    );
}

#[test]
fn actions_are_pinned_and_jobs_are_bounded() {
    let workflow = workflow();
    assert!(
        workflow["permissions"].is_mapping(),
        "top-level permissions"
    );
    for (name, job) in jobs(&workflow) {
        assert!(
            job["timeout-minutes"].is_u64(),
            "{name:?} has no timeout-minutes"
        );
        assert!(
            job["permissions"].is_mapping(),
            "{name:?} has no permissions"
        );
        for step in job["steps"].as_sequence().into_iter().flatten() {
            let Some(uses) = step["uses"].as_str() else {
                continue;
            };
            let (_, reference) = uses.split_once('@').expect("uses has a ref");
            assert!(
                reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                "{uses} is not pinned to a commit"
            );
            if uses.starts_with("actions/checkout@") {
                assert_eq!(
                    step["with"]["persist-credentials"],
                    Value::Bool(false),
                    "{name:?}"
                );
            }
        }
    }
}

#[test]
fn the_tests_run_locked_and_the_reports_feed_the_comparison() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.github/workflows/ci.yml"
    ))
    .unwrap();
    // The suite runs locked, through the test jobs' scripts.
    assert!(text.contains("bash .ci/cargo-test"));
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/cargo-test")).unwrap();
    assert!(script.contains("cargo test --locked"));
    let workflow = workflow();
    let needs: Vec<&str> = workflow["jobs"]["compare"]["needs"]
        .as_sequence()
        .expect("compare needs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(needs, ["test", "freebsd"]);
    // Never reject or delete unreferenced snapshots: on one OS every other OS's are unreferenced.
    assert!(!text.contains("--unreferenced=reject") && !text.contains("--unreferenced=delete"));
}
