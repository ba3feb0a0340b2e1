//! Helpers shared by the integration tests.
// Not every test binary uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use backlog_probe::environment::Environment;
use backlog_probe::plan::{self, Backlog, Family, Settings};
use backlog_probe::report::Report;
use backlog_probe::run;

/// The default matrix (both families × the default backlogs), run once per test binary and
/// shared by every test in it: the cases run concurrently, so this costs about one case.
pub fn default_report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let specs = plan::matrix(&Family::ALL, &Backlog::DEFAULTS);
        run::run_report(
            &specs,
            &Settings::default(),
            run::Fanout::InProcess,
            &|_| {},
        )
    })
}

/// The one place that decides which machines share a snapshot folder: `snapshots/<key>/`.
///
/// `<os>-<arch>` as Rust names them (`linux-x86_64`, `macos-aarch64`, `windows-aarch64`): each
/// CI runner's own folder, named like the runner (its matrix slug), so two runners of one OS
/// that measure differently (Windows Server 2025 x86_64 and Windows 11 arm64) never propose
/// different contents for one file. Pending snapshots, their artifacts and the results pull
/// request follow the path.
pub fn snapshot_key() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// `snapshots/<key>/` ([`snapshot_key`]) at the top of the repository (insta would resolve a
/// relative path from the test file's folder).
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(snapshot_key())
}

/// insta settings for behaviour snapshots: the per-OS folder, plain names, and the environment
/// as metadata (shown in review, not compared).
pub fn snapshot_settings(environment: &Environment) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshot_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(environment.summary());
    settings.set_info(environment);
    settings
}

/// Why measured behaviour must not be compared with this OS's snapshots here, if it must not:
/// under Wine the TCP stack is the Linux host's, not Windows'.
pub fn behaviour_skip_reason(environment: &Environment) -> Option<String> {
    environment.emulator.as_ref().map(|emulator| {
        format!(
            "running under the emulator {emulator}, whose TCP is the host's, not {}'s",
            std::env::consts::OS
        )
    })
}

/// Whether a comparison of `what` with this OS's behaviour must be left out here, and if so,
/// says so in the test output (written past the harness's capture, so a passing test shows it
/// too): under Wine the TCP stack is the host's, not Windows'.
pub fn behaviour_not_compared(environment: &Environment, what: &str) -> bool {
    use std::io::Write;
    let Some(reason) = behaviour_skip_reason(environment) else {
        return false;
    };
    // One write of the whole line, so the harness's own output cannot split it.
    let line = format!("{what}: not compared, {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    true
}

/// Run the binary with arguments; never inherits a terminal.
pub fn backlog_probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

/// Run the binary with a shell-quoted argument string under `ulimit -n limit` (soft and hard).
#[cfg(unix)]
pub fn with_fd_limit(limit: u32, args: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" {args}"))
        .arg(env!("CARGO_BIN_EXE_backlog-probe"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("sh runs")
}

/// Run a subcommand (`run`, `burst`) in a world made by `--sysctl` and parse its JSON output.
/// Only the tests [`run_with_namespaces`] runs as privileged call it.
pub fn in_world<T: serde::de::DeserializeOwned>(
    subcommand: &str,
    sysctls: &[&str],
    extra: &[&str],
) -> T {
    let mut args = vec![subcommand, "--quiet", "--format", "json"];
    for sysctl in sysctls {
        args.extend(["--sysctl", sysctl]);
    }
    args.extend(extra);
    let output = backlog_probe(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// `sh -c script` in a fresh network namespace made with the system's `unshare -n` (not the
/// binary's `--sysctl`), with the binary as `$0` and `args` after it, and `env` set: its output.
pub fn in_fresh_namespace(script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            script,
            env!("CARGO_BIN_EXE_backlog-probe"),
        ])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("unshare runs (util-linux)")
}

/// Why this process cannot make a private network namespace (`--sysctl`, `unshare -n`), or
/// `None` when it can. Checked by entering one on a thread of its own: `unshare(CLONE_NEWNET)`
/// moves only the calling thread, which then ends, so the test process stays where it was.
pub fn namespace_unavailable() -> Option<String> {
    std::thread::spawn(backlog_probe::sys::enter_network_namespace)
        .join()
        .unwrap_or(Err(backlog_probe::sys::NamespaceError::Unsupported))
        .err()
        .map(|error| match error {
            backlog_probe::sys::NamespaceError::Unsupported => {
                "network namespaces are Linux's".to_string()
            }
            backlog_probe::sys::NamespaceError::NotPermitted(code) => format!(
                "needs CAP_SYS_ADMIN (network namespaces): unshare failed with {}",
                backlog_probe::os_error::OsError::from_code(code)
            ),
            backlog_probe::sys::NamespaceError::Failed { step, code } => format!(
                "cannot make a network namespace: {step} failed with {}",
                backlog_probe::os_error::OsError::from_code(code)
            ),
        })
}

/// The `main` of a test binary whose tests need a private network namespace: `privileged`
/// tests run where one can be made (root, or CAP_SYS_ADMIN, on Linux) and are reported as
/// *ignored* elsewhere, with the reason on stderr, never as passed; `plain` tests always run.
/// A test fails by panicking, as under the built-in harness.
pub fn run_with_namespaces(privileged: &[Test], plain: &[Test]) -> std::process::ExitCode {
    run_with_namespaces_and_tools(privileged, &[], plain)
}

/// A test of a `harness = false` binary: its name and its body, which fails by panicking.
pub type Test = (&'static str, fn());

/// [`run_with_namespaces`], where the privileged tests also need these programs on PATH
/// (`tc`, `nft`, `runsc`): without one, they are ignored and the missing program named.
pub fn run_with_namespaces_and_tools(
    privileged: &[Test],
    tools: &[&str],
    plain: &[Test],
) -> std::process::ExitCode {
    run_tests(privileged, tools, plain, &[])
}

/// The harness behind [`run_with_namespaces`]: `privileged` tests need a private network
/// namespace and `tools` on PATH, `plain` tests always run, and `unsupported` ones (name, why)
/// cannot run on this OS: they are reported as ignored with their reason, and fail if run
/// anyway (`--include-ignored`), since nothing would be checked.
pub fn run_tests(
    privileged: &[Test],
    tools: &[&str],
    plain: &[Test],
    unsupported: &[(&'static str, &'static str)],
) -> std::process::ExitCode {
    use libtest_mimic::{Arguments, Trial};
    let args = Arguments::from_args();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| !on_path(tool))
        .collect();
    let unavailable = namespace_unavailable()
        .or_else(|| (!missing.is_empty()).then(|| format!("needs {} on PATH", missing.join(", "))));
    if let Some(reason) = unavailable.as_ref().filter(|_| !privileged.is_empty()) {
        eprintln!(
            "{} namespace test(s) ignored: {reason}; run as root with the tools installed to include them",
            privileged.len()
        );
    }
    for (name, reason) in unsupported {
        eprintln!("{name} ignored: {reason}");
    }
    let trial = |&(name, test): &Test| {
        Trial::test(name, move || {
            test();
            Ok(())
        })
    };
    let trials = privileged
        .iter()
        .map(|t| trial(t).with_ignored_flag(unavailable.is_some()))
        .chain(plain.iter().map(trial))
        .chain(unsupported.iter().map(|&(name, reason)| {
            Trial::test(name, move || {
                Err(format!("not supported here: {reason}").into())
            })
            .with_ignored_flag(true)
        }))
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Whether `program` is an executable file in a PATH directory.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The output of a child that had to end within a time limit.
#[derive(Debug)]
pub struct Bounded {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// How long it ran.
    pub took: std::time::Duration,
}

/// Start `command` with piped output and wait for it at most `within`; a child still running
/// then is killed and the test fails, naming what hung. Output is read on threads, so a child
/// that writes a lot cannot block on a full pipe.
pub fn bounded(mut command: Command, within: std::time::Duration) -> Bounded {
    use std::io::Read;
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = command
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            panic!("{command:?} still ran after {within:?}; stderr: {stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = started.elapsed();
    Bounded {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
        took,
    }
}

/// True when this process runs as root.
#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The binary where another user can run it. As root, a copy in a directory of its own under
/// the system's temporary directory (mode 0755, made once per test binary and removed when it
/// exits): the checkout, and `target/` with it, may be closed to others (GitHub's runners check
/// out under `/home/runner`, mode 0750), and its permissions are never loosened for a test.
/// As anyone else, the binary itself.
#[cfg(unix)]
pub fn binary_for_other_users() -> &'static std::path::Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove_copy() {
        if let Some(dir) = COPY.get().and_then(|binary| binary.parent()) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if !is_root() {
        return std::path::Path::new(env!("CARGO_BIN_EXE_backlog-probe"));
    }
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("backlog-probe-bin-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert_reachable_by_others(dir.path());
        let binary = dir.path().join("backlog-probe");
        std::fs::copy(env!("CARGO_BIN_EXE_backlog-probe"), &binary).expect("copy the binary");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // Kept for the rest of the process (tests run on threads that share it), then removed.
        let _ = dir.keep();
        // SAFETY: registers a plain function without arguments; it runs once, at exit, when
        // COPY holds the binary.
        unsafe { libc::atexit(remove_copy) };
        binary
    })
}

/// Another program of the workspace ([`docs_gen`]) where another user can run it: as root, a
/// copy beside [`binary_for_other_users`]'s (made once per program), as anyone else the program
/// itself.
#[cfg(unix)]
pub fn program_for_other_users(program: &Path) -> PathBuf {
    static COPIED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let own = binary_for_other_users();
    if !is_root() || program == Path::new(env!("CARGO_BIN_EXE_backlog-probe")) {
        return if is_root() {
            own.to_path_buf()
        } else {
            program.to_path_buf()
        };
    }
    use std::os::unix::fs::PermissionsExt;
    let copy = own
        .parent()
        .expect("the copy's directory")
        .join(program.file_name().expect("a program's file name"));
    let mut copied = COPIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !copied.contains(&copy) {
        std::fs::copy(program, &copy).expect("copy the program");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        copied.push(copy.clone());
    }
    copy
}

/// Fails the test, naming the directory, unless every directory above `path` lets other users
/// pass (the unprivileged user of [`limited_command`] must reach what it runs and reads).
#[cfg(unix)]
pub fn assert_reachable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for dir in path.ancestors().skip(1) {
        let mode = std::fs::metadata(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .permissions()
            .mode();
        assert!(
            mode & 0o001 != 0,
            "{} (mode {:o}) cannot be entered by other users, so the unprivileged user cannot \
             reach {}: point TMPDIR at a directory they can enter, such as /tmp",
            dir.display(),
            mode & 0o7777,
            path.display()
        );
    }
}

/// The binary under bash `ulimit` settings (`-u` and `-v` need bash; dash lacks `-u`), with a
/// shell-quoted argument string. As root it runs as the unprivileged user `nobody` (uid and gid
/// 65534, through `setpriv`), since RLIMIT_NPROC does not bind root; `ulimit -u 1` then leaves
/// no room for a single extra thread or process whatever else that user runs. That user runs
/// [`binary_for_other_users`], from its directory (the checkout may be closed to it).
#[cfg(target_os = "linux")]
pub fn limited_command(ulimits: &str, args: &str) -> Command {
    limited_program(
        Path::new(env!("CARGO_BIN_EXE_backlog-probe")),
        ulimits,
        args,
    )
}

/// [`limited_command`] for another program of the workspace ([`docs_gen`]).
#[cfg(target_os = "linux")]
pub fn limited_program(program: &Path, ulimits: &str, args: &str) -> Command {
    let script = format!("ulimit {ulimits} && exec \"$0\" {args}");
    let binary = program_for_other_users(program);
    let mut command = if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "bash",
                "-c",
            ])
            .current_dir(binary.parent().expect("the copy's directory"));
        command
    } else {
        let mut command = Command::new("bash");
        command.arg("-c");
        command
    };
    command.arg(script).arg(binary);
    command
}

/// The workspace's page generator, `docs-gen` (`cargo run -p docs-gen`), built once per test
/// binary beside this package's binary, with the same profile. Cargo runs the tests after it
/// has let go of the build directory, so building from a test is safe.
pub fn docs_gen() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let probe = Path::new(env!("CARGO_BIN_EXE_backlog-probe"));
        let dir = probe.parent().expect("the binary's directory");
        let bin = dir.join(format!("docs-gen{}", std::env::consts::EXE_SUFFIX));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--locked", "--quiet", "-p", "docs-gen"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let output = build.output().expect("cargo runs");
        assert!(
            output.status.success() && bin.exists(),
            "cargo build -p docs-gen: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        bin
    })
}
