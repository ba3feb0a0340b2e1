//! `cargo xtask stacks`: the suite on other real TCP stacks, each written to its own files.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::debian::{self, Fetched, KERNELS, Kernel};
use crate::experiments::{self, Experiment, Kind};
use crate::guest::{self, Accel, Event, Initramfs};
use crate::{gvisor, proc};
use stack_files::{StackFile, StackManifest};

const ABOUT: &str =
    "Measure backlog-probe on other real TCP stacks: Debian kernels under QEMU, and gVisor";

const LONG_ABOUT: &str = "\
Measure backlog-probe on other real TCP stacks: Debian's cloud kernels booted under QEMU (no \
network device: every experiment stays on the guest's loopback), and gVisor's netstack under \
runsc (--network=none). Each stack runs the default matrix, the knob worlds (syncookies 0, \
somaxconn 16 and 0, abort_on_overflow 1), the extras and a burst (a kernel also times a \
client's SYN retransmissions), and each output is written to its own file in --out.

Without --kernel and --gvisor every default kernel and gVisor are measured. Kernels are fetched \
once into the cache (an apt configuration of the runner's own, never the system's) and reused \
until --refresh.";

const AFTER_HELP: &str = "\
Files written (STACK is linux-6.1, gvisor-20221219.0, ...; ARCH the host's):
  report-STACK-ARCH.json          the default matrix (run --format json)
  world-STACK-ARCH-WORLD.json     a knob world (run --sysctl ...)
  extras-STACK-ARCH.json          extras --format json --runtimes python
  burst-STACK-ARCH.json           burst --backlog 5 --clients 64
  retrans-STACK-ARCH.json         kernels only: when a client's SYN to a full queue is retransmitted
  repeat-STACK-ARCH-N.json        gVisor's further runs of the default matrix
  stack-STACK-ARCH.json           what ran: versions, uname, accelerator, files, timings, problems

Exit status: 0 when every stack wrote every file, 1 when a stack failed (the others are still \
written), 2 for a usage error or a missing host tool.

Examples:
  cargo xtask stacks
  cargo xtask stacks --kernel 5.10 --kernel sid --out /tmp/stacks
  cargo xtask stacks --gvisor --gvisor-runs 5";

/// `cargo xtask stacks` arguments.
#[derive(clap::Args)]
#[command(about = ABOUT, long_about = LONG_ABOUT, after_long_help = AFTER_HELP)]
pub struct Args {
    /// A kernel to measure (repeatable): 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie), sid;
    /// or one of the extras bullseye-release, bookworm-backports, experimental
    #[arg(long = "kernel", value_name = "KERNEL", value_parser = kernel_name)]
    kernels: Vec<&'static Kernel>,

    /// Measure gVisor (runsc; needs root)
    #[arg(long)]
    gvisor: bool,

    /// Where the files go [default: docs/data in the workspace]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Stacks measured at once (each QEMU guest has 2 vCPUs)
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    jobs: u32,

    /// QEMU's accelerator: auto tries KVM with a probe guest and falls back to TCG
    #[arg(long, value_enum, default_value_t = Accel::Auto)]
    accel: Accel,

    /// Read the package indexes again and fetch kernels newer than the cached ones
    #[arg(long)]
    refresh: bool,

    /// How many times gVisor runs the default matrix (to see run-to-run differences)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    gvisor_runs: u32,

    /// Seconds one stack may take before it is stopped and reported as failed
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,

    /// The cache [default: ${XDG_CACHE_HOME:-~/.cache}/backlog-probe/stacks]
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

fn kernel_name(name: &str) -> Result<&'static Kernel, String> {
    Kernel::named(name).ok_or_else(|| {
        let known: Vec<String> = KERNELS
            .iter()
            .map(|k| format!("{} ({})", k.id, k.about))
            .collect();
        format!("unknown kernel; known: {}", known.join(", "))
    })
}

/// How long the release build may take.
const BUILD_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// How long one runsc invocation may take at most.
const RUNSC_STEP_DEADLINE: Duration = Duration::from_secs(120);

/// Progress lines on stderr, stamped with the time since the start.
struct Progress(Instant);

impl Progress {
    fn say(&self, who: &str, what: impl std::fmt::Display) {
        eprintln!("[{:6.1}s] {who}: {what}", self.0.elapsed().as_secs_f64());
    }
}

/// What the stacks share.
struct Context {
    progress: Progress,
    out: PathBuf,
    arch: &'static str,
    binary: PathBuf,
    timeout: Duration,
}

/// One stack's result.
struct Outcome {
    name: String,
    /// What ran (kernel version or runsc version, accelerator).
    detail: String,
    /// Each step and its time.
    steps: Vec<(String, Duration)>,
    total: Duration,
    /// What failed: a stack with problems fails the run.
    problems: Vec<String>,
    /// What was seen but is not a failure (an experiment the stack does not support).
    notes: Vec<String>,
}

impl Outcome {
    fn new(name: String, detail: String) -> Self {
        Outcome {
            name,
            detail,
            steps: Vec::new(),
            total: Duration::ZERO,
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn failed(name: String, detail: String, problem: String) -> Self {
        let mut outcome = Outcome::new(name, detail);
        outcome.problems.push(problem);
        outcome
    }

    /// The summed time of the steps whose names start with `prefix`.
    fn time(&self, prefix: &str) -> Option<Duration> {
        let matching: Vec<Duration> = self
            .steps
            .iter()
            .filter(|(step, _)| step.starts_with(prefix))
            .map(|(_, d)| *d)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }
}

/// What the runner must find on the host, and the Debian package that has it.
fn missing_tools(kernels: bool, gvisor: bool) -> Vec<String> {
    let mut needed: Vec<(&str, &str)> = Vec::new();
    if kernels {
        needed.extend([
            ("qemu-system-x86_64", "qemu-system-x86"),
            ("cpio", "cpio"),
            ("ldd", "libc-bin"),
            ("apt-get", "apt"),
            ("dpkg-deb", "dpkg"),
            ("curl", "curl"),
        ]);
    }
    if gvisor {
        needed.push(("runsc", "runsc, or gVisor's release channel"));
    }
    let mut missing: Vec<String> = needed
        .into_iter()
        .filter(|(tool, _)| proc::find_in_path(tool).is_none())
        .map(|(tool, package)| format!("{tool} (package {package})"))
        .collect();
    if kernels {
        match proc::find_in_path("busybox") {
            Some(busybox) if is_static(&busybox) => {}
            Some(_) => missing.push("a static busybox (package busybox-static)".to_string()),
            None => missing.push("busybox (package busybox-static)".to_string()),
        }
        if !Path::new(debian::KEYRING).is_file() {
            missing.push(format!(
                "{} (package debian-archive-keyring)",
                debian::KEYRING
            ));
        }
    }
    missing
}

fn is_static(binary: &Path) -> bool {
    proc::run(Command::new("ldd").arg(binary), Duration::from_secs(10)).is_ok_and(|out| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        text.contains("not a dynamic executable") || text.contains("statically linked")
    })
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("cargo xtask stacks: {message}");
    ExitCode::from(2)
}

/// The workspace's top directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("backlog-probe").join("stacks")
}

pub fn main(args: Args) -> ExitCode {
    let start = Instant::now();
    let (kernels, gvisor): (Vec<&'static Kernel>, bool) = if args.kernels.is_empty() && !args.gvisor
    {
        (KERNELS.iter().filter(|k| k.default).collect(), true)
    } else {
        let mut kernels: Vec<&'static Kernel> = Vec::new();
        for &kernel in &args.kernels {
            if !kernels.iter().any(|seen| seen.id == kernel.id) {
                kernels.push(kernel);
            }
        }
        (kernels, args.gvisor)
    };
    if !kernels.is_empty() && std::env::consts::ARCH != "x86_64" {
        return usage_error("the kernels are Debian's amd64 images: run on an x86_64 host");
    }
    let missing = missing_tools(!kernels.is_empty(), gvisor);
    if !missing.is_empty() {
        return usage_error(&format!(
            "missing host tools, install them first: {}",
            missing.join(", ")
        ));
    }
    // SAFETY: geteuid has no preconditions.
    if gvisor && unsafe { libc::geteuid() } != 0 {
        return usage_error("--gvisor needs root (runsc do)");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace().join("docs/data"));
    let cache = args.cache.clone().unwrap_or_else(default_cache);
    for dir in [&out, &cache] {
        if let Err(e) = fs::create_dir_all(dir) {
            return usage_error(&format!("cannot create {}: {e}", dir.display()));
        }
    }
    let progress = Progress(start);
    progress.say(
        "stacks",
        format!(
            "{} kernel(s){}, {} at once; cache {}, out {}",
            kernels.len(),
            if gvisor { " and gVisor" } else { "" },
            args.jobs,
            cache.display(),
            out.display()
        ),
    );

    // The binary and the kernels, at once: one is the CPU's work, the other the network's.
    let mirrors = debian::Mirrors::debian();
    let (binary, fetched) = thread::scope(|scope| {
        let build = scope.spawn(|| build_binary(&progress));
        let fetches: Vec<_> = kernels
            .iter()
            .map(|&kernel| {
                let (progress, cache, mirrors) = (&progress, &cache, &mirrors);
                scope.spawn(move || {
                    let who = format!("kernel {}", kernel.id);
                    let fetch_start = Instant::now();
                    let result = debian::fetch(kernel, mirrors, cache, args.refresh, &|line| {
                        progress.say(&who, line)
                    });
                    if let Ok(f) = &result {
                        progress.say(
                            &who,
                            format!(
                                "{} {} ready ({:.1} s)",
                                f.package,
                                f.version,
                                fetch_start.elapsed().as_secs_f64()
                            ),
                        );
                    }
                    (kernel, result)
                })
            })
            .collect();
        let binary = build.join().expect("the build thread does not panic");
        let fetched: Vec<_> = fetches
            .into_iter()
            .map(|h| h.join().expect("a fetch thread does not panic"))
            .collect();
        (binary, fetched)
    });
    let binary = match binary {
        Ok(binary) => binary,
        Err(e) => {
            progress.say("build", &e);
            eprintln!("cargo xtask stacks: nothing measured: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut outcomes = Vec::new();
    let mut ready = Vec::new();
    for (kernel, result) in fetched {
        match result {
            Ok(f) => ready.push(f),
            Err(e) => {
                progress.say(&format!("kernel {}", kernel.id), format!("FAILED: {e}"));
                outcomes.push(Outcome::failed(
                    format!("linux ({})", kernel.id),
                    kernel.about.to_string(),
                    format!("fetch: {e}"),
                ));
            }
        }
    }

    let work = cache.join(format!("work-{}", std::process::id()));
    let context = Context {
        progress,
        out,
        arch: std::env::consts::ARCH,
        binary,
        timeout: Duration::from_secs(args.timeout),
    };
    let initramfs;
    let mut jobs: VecDeque<Job> = VecDeque::new();
    if !ready.is_empty() {
        match prepare_guests(&context, &work, args.accel, &ready) {
            Ok((built, accel)) => {
                initramfs = Some(built);
                jobs.extend(ready.into_iter().map(|fetched| Job::Kernel {
                    fetched,
                    initramfs: initramfs.as_ref().expect("just built"),
                    accel,
                }));
            }
            Err(e) => {
                context.progress.say("guest", format!("FAILED: {e}"));
                outcomes.extend(ready.iter().map(|f| {
                    Outcome::failed(f.stack_name(), f.version.clone(), format!("initramfs: {e}"))
                }));
            }
        }
    }
    if gvisor {
        // First: it is the shortest stack and uses about one core, so it runs beside a
        // kernel; a kernel left alone at the end gets both cores, gVisor would leave one idle.
        jobs.push_front(Job::Gvisor {
            runs: args.gvisor_runs,
            state: work.join("runsc"),
        });
    }
    let run_start = Instant::now();
    let mut measured = run_jobs(&context, jobs, args.jobs as usize);
    // The table lists the kernels first, in the order asked for.
    measured.sort_by_key(|o| o.name.starts_with("gvisor"));
    outcomes.extend(measured);
    let _ = fs::remove_dir_all(&work);

    print_summary(&outcomes, run_start.elapsed(), start.elapsed());
    if outcomes.iter().any(|o| !o.problems.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `cargo build --release -p backlog-probe --features tokio`: the binary every stack runs
/// (with tokio, so the extras measure tokio's default backlog as the committed host report
/// does).
fn build_binary(progress: &Progress) -> Result<PathBuf, String> {
    let build_start = Instant::now();
    progress.say(
        "build",
        "cargo build --release -p backlog-probe --features tokio",
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let stdout = proc::run(
        Command::new(cargo).current_dir(workspace()).args([
            "build",
            "--release",
            "--package",
            "backlog-probe",
            "--features",
            "tokio",
            "--message-format=json-render-diagnostics",
        ]),
        BUILD_DEADLINE,
    )?
    .ok("cargo build")?;
    let binary = String::from_utf8_lossy(&stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "backlog-probe")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or("cargo build named no backlog-probe executable")?;
    progress.say(
        "build",
        format!(
            "{} ({:.1} s)",
            binary.display(),
            build_start.elapsed().as_secs_f64()
        ),
    );
    Ok(binary)
}

/// The initramfs, and the accelerator the guests will use.
fn prepare_guests(
    context: &Context,
    work: &Path,
    accel: Accel,
    kernels: &[Fetched],
) -> Result<(Initramfs, Accel), String> {
    let busybox = proc::find_in_path("busybox").ok_or("busybox is gone")?;
    let qemu = proc::find_in_path("qemu-system-x86_64").ok_or("qemu is gone")?;
    let initramfs = guest::build_initramfs(work, &context.binary, &busybox, experiments::ALL)?;
    let accel = match accel {
        Accel::Auto => match guest::kvm_works(&qemu, &kernels[0].vmlinuz, &initramfs) {
            Ok(()) => Accel::Kvm,
            Err(why) => {
                context
                    .progress
                    .say("guest", format!("TCG, not KVM: {why}"));
                Accel::Tcg
            }
        },
        chosen => chosen,
    };
    context.progress.say(
        "guest",
        format!(
            "initramfs {} ({} KiB), accelerator {}",
            initramfs.path.display(),
            fs::metadata(&initramfs.path).map_or(0, |m| m.len() / 1024),
            accel.name()
        ),
    );
    Ok((initramfs, accel))
}

enum Job<'a> {
    Kernel {
        fetched: Fetched,
        initramfs: &'a Initramfs,
        accel: Accel,
    },
    Gvisor {
        runs: u32,
        state: PathBuf,
    },
}

/// Run the jobs on `workers` threads, in order; outcomes in the jobs' order.
fn run_jobs(context: &Context, jobs: VecDeque<Job>, workers: usize) -> Vec<Outcome> {
    let count = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let done = Mutex::new(Vec::with_capacity(count));
    thread::scope(|scope| {
        for _ in 0..workers.min(count) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop_front();
                    let Some((index, job)) = next else { break };
                    let outcome = match job {
                        Job::Kernel {
                            fetched,
                            initramfs,
                            accel,
                        } => run_kernel(context, &fetched, initramfs, accel),
                        Job::Gvisor { runs, state } => run_gvisor(context, runs, &state),
                    };
                    done.lock().expect("results").push((index, outcome));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("results");
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, outcome)| outcome).collect()
}

/// Boot one kernel with every experiment and write what it printed.
fn run_kernel(
    context: &Context,
    fetched: &Fetched,
    initramfs: &Initramfs,
    accel: Accel,
) -> Outcome {
    let start = Instant::now();
    let name = fetched.stack_name();
    let progress = &context.progress;
    let mut outcome = Outcome::new(
        name.clone(),
        format!("{} {}", fetched.version, accel.name()),
    );
    progress.say(
        &name,
        format!(
            "booting {} {} ({})",
            fetched.package,
            fetched.version,
            accel.name()
        ),
    );
    // A guest that dies before its first experiment measured nothing: boot it once more, and
    // say so. (Seen under TCG: the sid kernel oopsed on an int3 2 s into one boot of several.)
    let mut retried = false;
    let (boot, steps) = loop {
        let left = context.timeout.saturating_sub(start.elapsed());
        match boot_kernel(context, fetched, initramfs, accel, &name, left) {
            Err(e) => {
                outcome.problems.push(e);
                outcome.total = start.elapsed();
                return outcome;
            }
            Ok((boot, _)) if !retried && boot.died_before_experiments() => {
                let note = format!(
                    "the first boot died before the first experiment ({}), booted again",
                    boot.failure(left)
                );
                progress.say(&name, &note);
                outcome.notes.push(note);
                retried = true;
            }
            Ok(booted) => break booted,
        }
    };
    if let Some(boot_time) = boot.boot_time {
        outcome.steps.push(("boot".to_string(), boot_time));
    }
    outcome
        .steps
        .extend(steps.into_iter().filter(|(s, _)| s != "uname"));
    let console = &boot.console;
    let uname = console.text("uname").map(|(t, _)| t).unwrap_or_default();
    let mut uname_lines = uname.lines();
    let (uname_r, uname_v) = (uname_lines.next(), uname_lines.next());
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for experiment in experiments::ALL {
        let result = match console.text(experiment.step) {
            // One problem for the whole guest below, not one per experiment.
            None if !console.done => {
                missing.push(experiment.step);
                continue;
            }
            None => Err("no output".to_string()),
            Some((text, rc)) => {
                let stderr = console
                    .text(&format!("{}.stderr", experiment.step))
                    .map(|(t, _)| t)
                    .unwrap_or_default();
                accept(experiment, &text, rc, &stderr)
            }
        };
        record(
            context,
            &mut outcome,
            &mut files,
            experiment.step,
            experiment.file_name(&name, context.arch),
            result,
        );
    }
    if !console.done {
        let problem = format!(
            "the guest did not finish: {}; no output from {}",
            boot.failure(context.timeout),
            missing.join(", ")
        );
        progress.say(&name, format!("FAILED {problem}"));
        outcome.problems.push(problem);
    }
    outcome.total = start.elapsed();
    write_manifest(
        context,
        &mut outcome,
        json!({
            "kind": "linux-qemu",
            "sources": fetched.sources.iter().map(debian::Source::describe).collect::<Vec<_>>(),
            "archive": debian::archive_of(&fetched.sources),
            "package": fetched.package,
            "package_version": fetched.version,
            "uname_r": uname_r,
            "uname_v": uname_v,
            "accel": accel.name(),
        }),
        files,
    );
    outcome
}

/// One boot of the kernel with every experiment; the steps' times as the console showed them.
fn boot_kernel(
    context: &Context,
    fetched: &Fetched,
    initramfs: &Initramfs,
    accel: Accel,
    name: &str,
    deadline: Duration,
) -> Result<(guest::Boot, Vec<(String, Duration)>), String> {
    let qemu = proc::find_in_path("qemu-system-x86_64").unwrap_or_default();
    let mut started: Option<(String, Instant)> = None;
    let mut steps = Vec::new();
    let boot = guest::boot(
        &qemu,
        accel,
        &fetched.vmlinuz,
        initramfs,
        deadline,
        &mut |event| match event {
            Event::Start(step) => started = Some((step.to_string(), Instant::now())),
            Event::End(step) => {
                if let Some((_, at)) = started.take().filter(|(s, _)| s == step) {
                    let took = at.elapsed();
                    context
                        .progress
                        .say(name, format!("{step} ({:.1} s)", took.as_secs_f64()));
                    steps.push((step.to_string(), took));
                }
            }
        },
    )?;
    Ok((boot, steps))
}

/// backlog-probe's output if it exited with 0 and printed what its kind promises.
fn accept(experiment: &Experiment, text: &str, rc: i32, stderr: &str) -> Result<String, String> {
    if rc != 0 {
        return Err(format!(
            "exit status {rc}{}: {}",
            if rc == 137 {
                " (killed by the guest's timeout)"
            } else {
                ""
            },
            proc::tail(stderr.as_bytes(), 3)
        ));
    }
    experiment.check(text)
}

/// Write an accepted output into --out, or note the problem.
fn record(
    context: &Context,
    outcome: &mut Outcome,
    files: &mut Vec<String>,
    step: &str,
    file: String,
    result: Result<String, String>,
) {
    if let Some(note) = result
        .as_ref()
        .ok()
        .and_then(|text| experiments::view_disagreements(text))
    {
        let note = format!("{file}: {note}");
        context.progress.say(&outcome.name, &note);
        outcome.notes.push(note);
    }
    // Written all the same, for a look; but the run fails.
    if let Some(what) = result
        .as_ref()
        .ok()
        .and_then(|text| experiments::inconclusive_cases(text))
    {
        let problem = format!("{step}: {what}");
        context
            .progress
            .say(&outcome.name, format!("FAILED {problem}"));
        outcome.problems.push(problem);
    }
    let written = result.and_then(|text| {
        fs::write(context.out.join(&file), text).map_err(|e| format!("cannot write {file}: {e}"))
    });
    match written {
        Ok(()) => files.push(file),
        Err(e) => {
            let problem = format!("{step}: {e}");
            context
                .progress
                .say(&outcome.name, format!("FAILED {problem}"));
            outcome.problems.push(problem);
        }
    }
}

/// gVisor: the default matrix `runs` times (the first is the report, the others are kept as
/// repeats and compared with it), the worlds where gVisor can make them, extras and a burst.
fn run_gvisor(context: &Context, runs: u32, state: &Path) -> Outcome {
    let start = Instant::now();
    let progress = &context.progress;
    let runsc = proc::find_in_path("runsc").unwrap_or_default();
    let version = match gvisor::version(&runsc) {
        Ok(version) => version,
        Err(e) => return Outcome::failed("gvisor".to_string(), String::new(), e),
    };
    let name = gvisor::stack_name(&version);
    let mut outcome = Outcome::new(name.clone(), format!("runsc {version} ptrace"));
    progress.say(
        &name,
        format!("runsc {version}, platform ptrace, network none"),
    );
    if let Err(e) = fs::create_dir_all(state) {
        outcome
            .problems
            .push(format!("cannot create {}: {e}", state.display()));
        return outcome;
    }
    let mut files = Vec::new();
    let mut matrices = Vec::new();
    for experiment in experiments::ALL {
        if experiment.kernel_only() {
            continue;
        }
        let repeats = if experiment.kind == Kind::Report {
            runs
        } else {
            1
        };
        for run in 1..=repeats {
            let step = if run == 1 {
                experiment.step.to_string()
            } else {
                format!("{}-{run}", experiment.step)
            };
            let left = context.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                outcome.problems.push(format!(
                    "{step}: not run, the stack's {} s were used up",
                    context.timeout.as_secs()
                ));
                continue;
            }
            let step_start = Instant::now();
            let finished = gvisor::run(
                &runsc,
                state,
                &context.binary,
                &experiment.args(),
                left.min(RUNSC_STEP_DEADLINE),
            );
            let took = step_start.elapsed();
            progress.say(&name, format!("{step} ({:.1} s)", took.as_secs_f64()));
            outcome.steps.push((step.clone(), took));
            let result = finished.and_then(|f| {
                let stdout = String::from_utf8_lossy(&f.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&f.stderr).into_owned();
                match f.status {
                    None => Err(format!("killed after {:.0} s", took.as_secs_f64())),
                    Some(status) => Ok((stdout, status.code().unwrap_or(-1), stderr)),
                }
            });
            let result = match result {
                // A world needs a network namespace of its own, which not every gVisor can make:
                // that is a fact about the stack, noted rather than failed.
                Ok((_, 2, stderr))
                    if matches!(experiment.kind, Kind::World { .. })
                        && stderr.contains("network namespace") =>
                {
                    let note = format!("{step}: unsupported: {}", proc::tail(stderr.as_bytes(), 1));
                    progress.say(&name, &note);
                    outcome.notes.push(note);
                    continue;
                }
                Ok((stdout, rc, stderr)) => accept(experiment, &stdout, rc, &stderr),
                Err(e) => Err(e),
            };
            if experiment.kind == Kind::Report {
                if let Ok(text) = &result {
                    matrices.push(serde_json::from_str::<Value>(text).unwrap_or_default());
                }
            }
            let file = if run == 1 {
                experiment.file_name(&name, context.arch)
            } else {
                StackFile::Repeat(run).name(&stack_files::key(&name, context.arch))
            };
            record(context, &mut outcome, &mut files, &step, file, result);
        }
    }
    let differences = compare_runs(&matrices);
    for difference in &differences {
        progress.say(&name, format!("differs between runs: {difference}"));
    }
    outcome.total = start.elapsed();
    write_manifest(
        context,
        &mut outcome,
        json!({
            "kind": "gvisor",
            "runsc_version": version,
            "platform": "ptrace",
            "network": "none",
            "default_matrix_runs": runs,
            "differences_between_runs": differences,
        }),
        files,
    );
    outcome
}

/// Where the default-matrix runs disagree, case by case: queue length, accepted, overflow and
/// late completion, one value per run.
fn compare_runs(runs: &[Value]) -> Vec<String> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let facts = |run: &Value, name: &str| -> String {
        run["cases"]
            .as_array()
            .and_then(|cases| cases.iter().find(|c| c["name"] == name))
            .map_or("missing".to_string(), |c| {
                format!(
                    "queue {} accepted {} {} late {}",
                    c["queue_length"],
                    c["accepted"],
                    c["overflow"]["kind"].as_str().unwrap_or("?"),
                    c["late_completion"]["kind"].as_str().unwrap_or("?")
                )
            })
    };
    let names: Vec<&str> = first["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    names
        .into_iter()
        .filter_map(|name| {
            let seen: Vec<String> = runs.iter().map(|run| facts(run, name)).collect();
            seen.iter()
                .any(|s| s != &seen[0])
                .then(|| format!("{name}: {}", seen.join(" / ")))
        })
        .collect()
}

/// `stack-STACK-ARCH.json`: what ran, what was written, the timings and the problems.
fn write_manifest(context: &Context, outcome: &mut Outcome, what: Value, files: Vec<String>) {
    let file = StackFile::Manifest.name(&stack_files::key(&outcome.name, context.arch));
    let seconds: serde_json::Map<String, Value> = outcome
        .steps
        .iter()
        .map(|(step, d)| (step.clone(), json!((d.as_secs_f64() * 10.0).round() / 10.0)))
        .collect();
    let mut manifest = json!({
        "stack": outcome.name,
        "arch": context.arch,
        "runner": "cargo xtask stacks",
        "files": files,
        "seconds": seconds,
        "total_seconds": (outcome.total.as_secs_f64() * 10.0).round() / 10.0,
        "notes": outcome.notes,
        "problems": outcome.problems,
    });
    if let (Some(manifest), Some(what)) = (manifest.as_object_mut(), what.as_object()) {
        manifest.extend(what.clone());
    }
    // Through the type docs-gen reads it with: a field of the wrong type fails here, in the
    // run, not later in the pages.
    let manifest = match serde_json::from_value::<StackManifest>(manifest) {
        Ok(typed) => serde_json::to_value(typed).unwrap_or_default(),
        Err(e) => {
            outcome
                .problems
                .push(format!("{file} does not fit the manifest type: {e}"));
            return;
        }
    };
    if let Err(e) = fs::write(context.out.join(&file), format!("{manifest:#}\n")) {
        outcome.problems.push(format!("cannot write {file}: {e}"));
    }
}

/// The per-stack timing table, the problems, and the wall times.
fn print_summary(outcomes: &[Outcome], stacks_time: Duration, total: Duration) {
    let secs =
        |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.1}", d.as_secs_f64()));
    let mut table = format!(
        "\n{:<20} {:<28} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7}  result\n",
        "stack", "version", "boot", "report", "worlds", "extras", "burst", "total"
    );
    for o in outcomes {
        let _ = writeln!(
            table,
            "{:<20} {:<28} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7}  {}",
            o.name,
            o.detail,
            secs(o.time("boot")),
            secs(o.time("report")),
            secs(o.time("world-")),
            secs(o.time("extras")),
            secs(o.time("burst")),
            secs(Some(o.total)),
            if o.problems.is_empty() {
                "ok".to_string()
            } else {
                format!("FAILED ({})", o.problems.len())
            }
        );
    }
    eprint!("{table}");
    for o in outcomes {
        for note in &o.notes {
            eprintln!("note: {}: {note}", o.name);
        }
        for problem in &o.problems {
            eprintln!("FAILED: {}: {problem}", o.name);
        }
    }
    eprintln!(
        "stacks: {:.1} s; wall time with build and fetch: {:.1} s",
        stacks_time.as_secs_f64(),
        total.as_secs_f64()
    );
}
