//! The facts the CI workflow must keep for the suite to mean anything: every OS family in the
//! matrix, fail-fast off, one artifact name per runner, pinned actions and toolchain, bounded
//! jobs and steps, the privileged tests run on Linux, and write access only in the job that
//! opens the results pull request.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

fn workflow_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/ci.yml");
    std::fs::read_to_string(path).expect("the workflow exists")
}

fn workflow() -> Value {
    serde_yaml_ng::from_str(&workflow_text()).expect("the workflow is YAML")
}

fn repo_file(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn steps<'a>(workflow: &'a Value, job: &str) -> &'a Vec<Value> {
    workflow["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("job {job} has steps"))
}

/// The step of `job` whose `run:` or `uses:` contains `needle`.
fn step<'a>(workflow: &'a Value, job: &str, needle: &str) -> &'a Value {
    steps(workflow, job)
        .iter()
        .find(|step| {
            step["run"].as_str().unwrap_or_default().contains(needle)
                || step["uses"].as_str().unwrap_or_default().contains(needle)
        })
        .unwrap_or_else(|| panic!("no step of {job} runs {needle:?}"))
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
    let text = workflow_text();
    let workflow = workflow();
    // The test jobs run the suite through their scripts, locked.
    step(&workflow, "test", "bash .ci/cargo-test");
    assert!(repo_file(".ci/cargo-test").contains("cargo test --locked"));
    assert!(
        repo_file(".ci/freebsd-run")
            .contains("record \"${CI_TEST_TIMEOUT:-25m}\" cargo test --locked")
    );
    let needs: Vec<&str> = workflow["jobs"]["compare"]["needs"]
        .as_sequence()
        .expect("compare needs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(needs, ["test", "freebsd", "stacks"]);
    // Never reject or delete unreferenced snapshots: on one OS every other OS's are unreferenced.
    assert!(!text.contains("--unreferenced=reject") && !text.contains("--unreferenced=delete"));
}

/// Linux runs every test binary as root, so the network-namespace tests (worlds, bursts,
/// namespace, and any added later) compare their snapshots instead of skipping; no list of
/// privileged binaries to keep up to date.
#[test]
fn linux_runs_the_whole_suite_as_root() {
    let workflow = workflow();
    let test = step(&workflow, "test", ".ci/cargo-test");
    assert_eq!(
        test["run"].as_str().map(str::trim),
        Some("bash .ci/cargo-test")
    );
    let script = repo_file(".ci/cargo-test");
    assert!(script.contains("sudo env \"${env_args[@]}\""), "{script}");
    assert!(script.contains("cargo test --locked \"$@\""), "{script}");
    assert!(!script.contains("--test "), "no per-binary list: {script}");
    // What root's cargo needs to find the same toolchain and keep insta's pending snapshots.
    for kept in ["PATH=", "CARGO_HOME=", "RUSTUP_HOME=", "INSTA_*"] {
        assert!(
            script.contains(kept),
            "{kept} is not passed to root: {script}"
        );
    }
    // And no test step runs a subset of the suite by name.
    let text = workflow_text();
    assert!(!text.contains("--test namespace"), "{text}");
}

/// A job that reaches its own timeout counts as cancelled and skips every upload; each step
/// that can hang has a shorter limit, so the uploads after it still run.
#[test]
fn steps_that_can_hang_stop_before_their_job_does() {
    let workflow = workflow();
    let minutes = |value: &Value, what: &str| {
        value["timeout-minutes"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what} has no timeout-minutes"))
    };
    for (job, needles) in [
        ("test", &[".ci/cargo-test", ".ci/measure"][..]),
        ("freebsd", &["vmactions/freebsd-vm@"][..]),
        ("results-pr", &[".ci/collect-results"][..]),
        ("stacks", &[".ci/stacks-setup", ".ci/stacks stacks-out"][..]),
    ] {
        let job_limit = minutes(&workflow["jobs"][job], job);
        let sum: u64 = needles
            .iter()
            .map(|needle| {
                let limit = minutes(step(&workflow, job, needle), needle);
                assert!(limit < job_limit, "{job}: {needle} {limit} >= {job_limit}");
                limit
            })
            .sum();
        // Room for checkout, toolchain, cache and the uploads after the steps' limits.
        assert!(
            sum + 5 <= job_limit,
            "{job}: steps {sum} min, job {job_limit} min"
        );
    }
    // The measurement and the uploads run after a failed or timed-out test step.
    assert_eq!(
        step(&workflow, "test", ".ci/measure")["if"].as_str(),
        Some("${{ !cancelled() }}")
    );
    // Inside the VM the script's own limits, set in the step's `run:`, plus the VM's boot,
    // `pkg install` and both rsyncs (10 minutes in, 3 back, timeout's 30 s grace per command)
    // end before the step's own limit: a hang is cut off by the script, and the results still
    // come back.
    let vm = step(&workflow, "freebsd", "vmactions/freebsd-vm@");
    let run = vm["with"]["run"].as_str().expect("run:");
    let set = |name: &str| -> u64 {
        let value = run
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} is not set in the VM step's run: {run:?}"));
        value
            .strip_suffix('m')
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("{name}={value}: whole minutes, like 25m"))
    };
    let inner = set("CI_TEST_TIMEOUT") + set("CI_MEASURE_TIMEOUT") + 1;
    let vm_limit = minutes(vm, "vm");
    assert!(
        inner + 10 + 3 <= vm_limit,
        "FreeBSD: the script's limits ({inner} min) and the VM's boot, pkg install and rsyncs \
         (13 min) do not fit the step's {vm_limit} min"
    );
    let script = repo_file(".ci/freebsd-run");
    assert!(
        script.contains("${CI_TEST_TIMEOUT:-25m}") && script.contains("${CI_MEASURE_TIMEOUT:-10m}")
    );
}

/// Each runner's name is its snapshot folder's key, `<os>-<arch>` as Rust names them
/// (tests/common/mod.rs `snapshot_key()`), so the job summary and the results pull request can
/// tell a runner without a baseline from one whose behaviour changed.
#[test]
fn every_runner_is_named_by_its_snapshot_folder() {
    let workflow = workflow();
    for (os, slug) in matrix_entries(&workflow) {
        let (family, arch) = slug.split_once('-').expect("<os>-<arch>");
        let expected_family = match os.split('-').next() {
            Some("ubuntu") => "linux",
            Some(other) => other,
            None => unreachable!(),
        };
        assert_eq!(family, expected_family, "{os}: {slug}");
        let arm = os.ends_with("-arm") || os == "macos-15";
        assert_eq!(arch, if arm { "aarch64" } else { "x86_64" }, "{os}: {slug}");
    }
    let vm = step(&workflow, "freebsd", "vmactions/freebsd-vm@");
    assert!(
        vm["with"]["run"]
            .as_str()
            .unwrap()
            .contains(" freebsd-x86_64 ")
    );
    let summary = step(&workflow, "test", ".ci/pending-summary");
    assert_eq!(summary["if"].as_str(), Some("${{ failure() }}"));
    assert_eq!(
        summary["run"].as_str().map(str::trim),
        Some("sh .ci/pending-summary \"$SLUG\" \"pending-snapshots/$SLUG\"")
    );
    let freebsd = step(&workflow, "freebsd", ".ci/pending-summary");
    assert_eq!(freebsd["if"].as_str(), Some("${{ failure() }}"));
    assert_eq!(
        freebsd["run"].as_str().map(str::trim),
        Some("sh .ci/pending-summary freebsd-x86_64 pending-snapshots/freebsd-x86_64")
    );
}

/// The FreeBSD VM step never fails (the action would skip its copy-back); a host step fails
/// the job from the status file, before the uploads that look at failure().
#[test]
fn freebsd_results_come_back_before_the_job_fails() {
    let workflow = workflow();
    let vm = step(&workflow, "freebsd", "vmactions/freebsd-vm@");
    let with = &vm["with"];
    assert_eq!(with["sync"].as_str(), Some("rsync"));
    assert_eq!(with["copyback"], Value::Bool(true));
    assert_eq!(
        with["run"].as_str().map(str::trim),
        Some(
            "CI_TEST_TIMEOUT=25m CI_MEASURE_TIMEOUT=10m sh .ci/freebsd-run freebsd-x86_64 </dev/null"
        )
    );
    let names: Vec<String> = steps(&workflow, "freebsd")
        .iter()
        .map(|step| {
            step["run"]
                .as_str()
                .or(step["uses"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let check = names
        .iter()
        .position(|s| s.contains(".ci/check-status ci-status.txt"))
        .expect("a status check step");
    let vm_at = names
        .iter()
        .position(|s| s.contains("freebsd-vm@"))
        .unwrap();
    let first_upload = names
        .iter()
        .position(|s| s.contains("upload-artifact@"))
        .unwrap();
    assert!(vm_at < check && check < first_upload, "{names:?}");
    assert!(repo_file(".ci/freebsd-run").contains("\nexit 0\n"));
}

/// Only results-pr may write, only on the weekly schedule or a manual run from the default
/// branch, with every expression in its shell steps passed through env.
#[test]
fn only_the_results_pull_request_job_writes() {
    let workflow = workflow();
    assert_eq!(workflow["permissions"], Value::Mapping(Default::default()));
    for (name, job) in jobs(&workflow) {
        let name = name.as_str().unwrap();
        let permissions = job["permissions"].as_mapping().expect("job permissions");
        let writes: BTreeSet<&str> = permissions
            .iter()
            .filter(|(_, level)| level.as_str() == Some("write"))
            .map(|(scope, _)| scope.as_str().unwrap())
            .collect();
        if name == "results-pr" {
            assert_eq!(writes, BTreeSet::from(["contents", "pull-requests"]));
            assert_eq!(permissions.len(), 2, "{permissions:?}");
        } else {
            assert!(writes.is_empty(), "{name} writes {writes:?}");
        }
    }
    let job = &workflow["jobs"]["results-pr"];
    let condition = job["if"].as_str().expect("results-pr has an if");
    assert!(
        condition.contains("github.event_name == 'schedule'"),
        "{condition}"
    );
    assert!(
        condition.contains("github.event_name == 'workflow_dispatch'"),
        "{condition}"
    );
    assert!(condition.contains("default_branch"), "{condition}");
    assert!(!condition.contains("pull_request"), "{condition}");
    assert!(
        condition.contains("!cancelled()"),
        "a failed test job must not stop it"
    );
    let needs: Vec<&str> = job["needs"]
        .as_sequence()
        .expect("needs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(needs, ["test", "freebsd"]);
    for step in steps(&workflow, "results-pr") {
        if let Some(run) = step["run"].as_str() {
            assert!(!run.contains("${{"), "expressions go through env: {run}");
        }
    }
    // One branch, so one pull request; only snapshots and docs are committed.
    let pr = step(&workflow, "results-pr", "peter-evans/create-pull-request@");
    assert_eq!(pr["with"]["branch"].as_str(), Some("ci/runner-results"));
    let paths: Vec<&str> = pr["with"]["add-paths"]
        .as_str()
        .expect("add-paths")
        .lines()
        .collect();
    assert_eq!(paths, ["snapshots/**", "docs/**"]);
    assert!(pr["with"]["body-path"].as_str().is_some());
}

/// collect-results reads pending/<runner>/ and reports/: both downloads merge their artifacts,
/// which keeps that layout for one artifact or many, and each runner's pending snapshots sit
/// in a folder named after it.
#[test]
fn the_results_job_downloads_the_layout_its_script_reads() {
    let workflow = workflow();
    for (pattern, folder) in [
        ("report-*", "/artifacts/reports"),
        ("pending-snapshots-*", "/artifacts/pending"),
    ] {
        let download = steps(&workflow, "results-pr")
            .iter()
            .find(|step| step["with"]["pattern"].as_str() == Some(pattern))
            .unwrap_or_else(|| panic!("no download of {pattern}"));
        assert_eq!(download["with"]["merge-multiple"], Value::Bool(true));
        assert!(
            download["with"]["path"].as_str().unwrap().ends_with(folder),
            "{download:?}"
        );
    }
    let text = workflow_text();
    assert!(text.contains("INSTA_PENDING_DIR=$GITHUB_WORKSPACE/pending-snapshots/$MATRIX_SLUG"));
    assert!(
        repo_file(".ci/freebsd-run").contains("INSTA_PENDING_DIR=$PWD/pending-snapshots/$slug")
    );
}

/// Re-running a job replaces its artifacts instead of failing on an existing name, and the
/// reports come from the script that writes them only on success.
#[test]
fn uploads_overwrite_and_reports_are_written_on_success_only() {
    let workflow = workflow();
    for (name, job) in jobs(&workflow) {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            if step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/upload-artifact@"))
            {
                assert_eq!(step["with"]["overwrite"], Value::Bool(true), "{name:?}");
            }
        }
    }
    assert_eq!(
        step(&workflow, "test", ".ci/measure")["run"]
            .as_str()
            .map(str::trim),
        Some("sh .ci/measure \"$SLUG\"")
    );
    assert!(repo_file(".ci/freebsd-run").contains("sh \"$here/measure\" \"$slug\""));
    assert!(
        !workflow_text().contains("> \"report-"),
        "no report written in place"
    );
}

/// The lint job denies warnings, so the toolchain is a pinned release, installed from
/// rust-toolchain.toml on every job; nothing is downloaded outside rustup.
#[test]
fn the_toolchain_is_pinned_and_installed_by_rustup() {
    let toml = repo_file("rust-toolchain.toml");
    let channel = toml
        .lines()
        .find_map(|line| line.strip_prefix("channel = "))
        .expect("a channel")
        .trim_matches('"');
    let parts: Vec<&str> = channel.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "a release like 1.95.0, not {channel}"
    );
    assert!(
        toml.contains("components = [\"rustfmt\", \"clippy\"]"),
        "{toml}"
    );
    let text = workflow_text();
    for gone in ["rustup-init", "rustup default stable", "curl "] {
        assert!(!text.contains(gone), "{gone}");
    }
    let workflow = workflow();
    for job in ["lint", "test", "compare", "results-pr", "stacks"] {
        let install = step(&workflow, job, "rustup toolchain install");
        assert_eq!(
            install["run"].as_str().unwrap().lines().next(),
            Some("rustup toolchain install"),
            "{job}: no argument, so rust-toolchain.toml decides"
        );
    }
}

/// Every `uses:` line carries the version its commit stands for, as `# vX.Y.Z`.
#[test]
fn pinned_actions_name_their_version() {
    for line in workflow_text().lines() {
        let Some((_, uses)) = line.split_once("uses: ") else {
            continue;
        };
        let (_, comment) = uses
            .split_once(" # v")
            .unwrap_or_else(|| panic!("no version comment: {line}"));
        assert!(
            comment.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{line}"
        );
    }
}

/// The stack runner on GitHub (issue 14): Debian kernels under QEMU with KVM where the runner
/// allows it, gVisor from its own release channel with its checksum checked, the measured files
/// uploaded and merged by the comparison, and a weekly run that follows sid and gVisor's latest
/// release. The results pull request does not wait for it (its snapshots are a level deeper than
/// collect-results applies).
#[test]
fn the_stacks_job_measures_kernels_and_gvisor_and_feeds_the_comparison() {
    let workflow = workflow();
    let job = &workflow["jobs"]["stacks"];
    assert_eq!(job["runs-on"].as_str(), Some("ubuntu-24.04"));
    assert_eq!(job["env"]["INSTA_UPDATE"].as_str(), Some("new"));
    assert_eq!(
        step(&workflow, "stacks", ".ci/stacks-setup")["run"]
            .as_str()
            .map(str::trim),
        Some("bash .ci/stacks-setup")
    );
    assert_eq!(
        step(&workflow, "stacks", ".ci/stacks stacks-out")["run"]
            .as_str()
            .map(str::trim),
        Some("bash .ci/stacks stacks-out")
    );
    let setup = repo_file(".ci/stacks-setup");
    for needed in [
        "https://storage.googleapis.com/gvisor/releases/release/$release/$(uname -m)",
        "sha512sum -c runsc.sha512",
        "runsc --version",
        "KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0666\"",
        "qemu-system-x86",
        "busybox-static",
        "debian-archive-keyring",
        // The weekly (and a manual) run follows gVisor's releases; others the committed one.
        "schedule | workflow_dispatch) default_release=latest",
        "*) default_release=20221219",
    ] {
        assert!(setup.contains(needed), "{needed}");
    }
    let script = repo_file(".ci/stacks");
    for needed in [
        "cargo xtask stacks",
        "--gvisor",
        "STACKS_DATA_DIR=$data cargo test --locked --test stacks",
        // The weekly (and a manual) run boots sid's current kernel too.
        "schedule | workflow_dispatch) default_kernels=\"5.10 6.1 6.12 bullseye-release sid\"",
        "*) default_kernels=\"5.10 6.1 6.12 bullseye-release\"",
        "INSTA_PENDING_DIR=${INSTA_PENDING_DIR:-$PWD/pending-snapshots/stacks}",
        // What gVisor's run as root wrote goes back to the runner's user: the results, the
        // build and cargo's home (which the cache action saves).
        "hand-back\" \"$out\" \"${CARGO_TARGET_DIR:-target}\" \"$cargo_home\"",
    ] {
        assert!(script.contains(needed), "{needed}");
    }
    assert!(
        !script.contains("cp \"${files[@]}\" docs/data"),
        "the checkout is never rewritten"
    );
    // The measured files go up as one artifact, which the comparison downloads beside the
    // runners' reports; the results pull request neither waits for nor downloads it.
    let upload = steps(&workflow, "stacks")
        .iter()
        .find(|s| s["with"]["name"].as_str() == Some("stacks-x86_64"))
        .expect("the stacks artifact");
    assert_eq!(upload["with"]["path"].as_str(), Some("stacks-out/"));
    assert_eq!(upload["if"].as_str(), Some("${{ !cancelled() }}"));
    let download = steps(&workflow, "compare")
        .iter()
        .find(|s| s["with"]["pattern"].as_str() == Some("stacks-*"))
        .expect("compare downloads the stacks");
    assert_eq!(download["with"]["path"].as_str(), Some("reports"));
    assert_eq!(download["with"]["merge-multiple"], Value::Bool(true));
    assert!(repo_file(".ci/compare-reports").contains("\"$dir\"/stack-*.json"));
    for step in steps(&workflow, "results-pr") {
        let pattern = step["with"]["pattern"].as_str().unwrap_or_default();
        assert!(!pattern.starts_with("stacks"), "{pattern}");
    }
}
