//! The runtime programs of the repository's `runtimes/` folder: one small program per language
//! runtime (Python, Go, Node.js, Java, .NET, Ruby, PHP) that opens loopback listeners the way
//! that runtime's documentation shows, names no backlog (and, where the runtime has an idiom for
//! "the system maximum" or a special value, opens that variant too), prints their ports and
//! waits without accepting.
//!
//! The harness starts every selected program at once (a JVM or a .NET host costs seconds), each
//! with a deadline for its listener lines, and measures each listener twice:
//!
//! - the **stored limit**, from the OS's listing of listeners ([`crate::sys::tcp_listeners`]:
//!   Linux sock_diag, the view `ss -lnt` reads), trusted only when, while the harness holds its
//!   clients, it counts them;
//! - the **effective queue**, by the same sequential fill as the TCP experiment
//!   ([`crate::experiment::connect::fill_held`]).
//!
//! A runtime whose command is not on PATH gives rows with status `skipped` saying so; one that
//! fails to start, exits early or prints no port within its deadline gives rows with status
//! `failed` and the reason (its last line on stderr). Nothing is left out silently.
//!
//! # The listener protocol
//!
//! A program is started as `COMMAND [ARGS] FILE [AFTER] LIFETIME` in a private temporary
//! directory holding its source, with standard input a pipe. It prints, one per line:
//!
//! - `version TEXT`: the runtime's own version;
//! - `listen VARIANT PORT`: a listener on 127.0.0.1 (or every address) and its port;
//! - `unavailable VARIANT REASON`: a variant it could not open;
//! - `ready`: every variant is listed.
//!
//! It then waits, never accepting, until standard input closes or `LIFETIME` seconds pass, and
//! exits. The harness closes standard input when it is done, and kills a program that has not
//! exited a few seconds later.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use socket2::{SockAddr, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{HeldFill, fill_held, fill_held_for_limit};
use crate::observation::extras::{MeasureStatus, RuntimeDefault};
use crate::os_error::OsError;
use crate::sys::KernelQueue;

/// One listener a runtime program opens.
#[derive(Debug)]
pub struct Variant {
    /// The name the program prints in its `listen` line.
    pub id: &'static str,
    /// The call, as the report's `api` names it.
    pub api: &'static str,
}

/// One runtime program and how to run it.
#[derive(Debug)]
pub struct Program {
    /// The report's `runtime`: `python`, `go`, `node`, `java`, `dotnet`, `ruby`, `php`.
    pub key: &'static str,
    /// The runtime's name in prose.
    pub name: &'static str,
    /// The command looked up on PATH.
    pub command: &'static str,
    /// Arguments before the source file.
    pub args: &'static [&'static str],
    /// The source file's name, in `runtimes/<key>/` and in the temporary directory.
    pub file: &'static str,
    /// Arguments between the source file and the lifetime.
    pub after: &'static [&'static str],
    /// The program's text.
    pub source: &'static str,
    /// What to install where it is missing (Debian's package where there is one).
    pub install: &'static str,
    /// How long it may take to print `ready` (compiling Go or C# is part of it).
    pub start_deadline: Duration,
    /// Its listeners, in the order the report lists them.
    pub variants: &'static [Variant],
}

/// Every runtime program, in report order.
pub const PROGRAMS: &[Program] = &[
    Program {
        key: "python",
        name: "Python",
        command: "python3",
        args: &[],
        file: "listen.py",
        after: &[],
        source: include_str!("../../../runtimes/python/listen.py"),
        install: "python3",
        start_deadline: Duration::from_secs(20),
        variants: &[
            Variant {
                id: "default",
                api: "python3 socket.listen()",
            },
            Variant {
                id: "minus-1",
                api: "python3 socket.listen(-1)",
            },
            Variant {
                id: "somaxconn",
                api: "python3 socket.listen(socket.SOMAXCONN)",
            },
        ],
    },
    Program {
        key: "go",
        name: "Go",
        command: "go",
        args: &["run"],
        file: "listen.go",
        after: &[],
        source: include_str!("../../../runtimes/go/listen.go"),
        install: "golang-go",
        start_deadline: Duration::from_secs(90),
        variants: &[Variant {
            id: "default",
            api: "go net.Listen",
        }],
    },
    Program {
        key: "node",
        name: "Node.js",
        command: "node",
        args: &[],
        file: "listen.js",
        after: &[],
        source: include_str!("../../../runtimes/node/listen.js"),
        install: "nodejs",
        start_deadline: Duration::from_secs(20),
        variants: &[
            Variant {
                id: "default",
                api: "node server.listen(0, host)",
            },
            Variant {
                id: "positional-minus-1",
                api: "node server.listen(0, host, -1)",
            },
            Variant {
                id: "options-minus-1",
                api: "node server.listen({port: 0, host, backlog: -1})",
            },
        ],
    },
    Program {
        key: "java",
        name: "Java",
        command: "java",
        // A single source file (Java 11 and later); the C1 compiler, the serial collector and
        // no perf-data file (hsperfdata) keep a short run's start short.
        args: &[
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
        ],
        file: "Listen.java",
        after: &[],
        source: include_str!("../../../runtimes/java/Listen.java"),
        install: "default-jdk-headless",
        start_deadline: Duration::from_secs(45),
        variants: &[
            Variant {
                id: "server-socket",
                api: "java new ServerSocket(0)",
            },
            Variant {
                id: "backlog-0",
                api: "java new ServerSocket(0, 0, loopback)",
            },
            Variant {
                id: "channel",
                api: "java ServerSocketChannel.bind(addr)",
            },
        ],
    },
    Program {
        key: "dotnet",
        name: ".NET",
        command: "dotnet",
        args: &["run"],
        file: "Listen.cs",
        after: &["--"],
        source: include_str!("../../../runtimes/dotnet/Listen.cs"),
        install: "the .NET SDK 10 or later from Microsoft; Debian has no package",
        start_deadline: Duration::from_secs(120),
        variants: &[
            Variant {
                id: "tcplistener-start",
                api: "dotnet TcpListener.Start()",
            },
            Variant {
                id: "socket-listen",
                api: "dotnet Socket.Listen()",
            },
        ],
    },
    Program {
        key: "ruby",
        name: "Ruby",
        command: "ruby",
        args: &[],
        file: "listen.rb",
        after: &[],
        source: include_str!("../../../runtimes/ruby/listen.rb"),
        install: "ruby",
        start_deadline: Duration::from_secs(20),
        variants: &[Variant {
            id: "default",
            api: "ruby TCPServer.new",
        }],
    },
    Program {
        key: "php",
        name: "PHP",
        command: "php",
        args: &[],
        file: "listen.php",
        after: &[],
        source: include_str!("../../../runtimes/php/listen.php"),
        install: "php-cli",
        start_deadline: Duration::from_secs(20),
        variants: &[
            Variant {
                id: "default",
                api: "php stream_socket_server",
            },
            Variant {
                id: "socket-listen",
                api: "php socket_listen($socket)",
            },
        ],
    },
];

/// The program with this key.
pub fn program(key: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.key == key)
}

/// Which runtime programs `extras` runs, and how long each may take to start.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// The programs, in report order.
    pub programs: Vec<&'static Program>,
    /// Every program's start deadline instead of its own, where set.
    pub start_deadline: Option<Duration>,
}

impl Default for RuntimeOptions {
    /// Every program, each with its own deadline.
    fn default() -> Self {
        RuntimeOptions {
            programs: PROGRAMS.iter().collect(),
            start_deadline: None,
        }
    }
}

/// The most clients one runtime listener's fill opens.
const RUNTIME_CAP: u32 = 70_000;
/// How long a program lives past its start deadline if nobody closes its standard input: the
/// measurement of its listeners is over long before.
const LIFETIME_MARGIN: Duration = Duration::from_secs(300);
/// How long a program may take to exit once its standard input closes.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// How much of a program's standard error is kept for a failure's reason.
const STDERR_KEPT: usize = 4096;
/// The longest reason quoted from standard error.
const REASON_CHARS: usize = 300;

/// Fills of listeners whose stored limit is unknown reserve the whole descriptor budget: they
/// run one at a time.
static UNVIEWED_FILLS: Mutex<()> = Mutex::new(());

/// Why a program gave no listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFailure {
    /// Its command is not on PATH.
    NotInstalled,
    /// It could not be started, exited early or printed no `ready` in time.
    Failed {
        /// What happened.
        detail: String,
        /// The raw error, where one caused it.
        os_error: Option<OsError>,
    },
}

/// A started program, its listeners up. Dropping it closes its standard input and waits for it
/// to exit (killing it a few seconds later).
#[derive(Debug)]
pub struct Running {
    /// The program.
    pub program: &'static Program,
    /// Its `version` line, where it printed one.
    pub version: Option<String>,
    /// Each variant's port, or why it has none, in [`Program::variants`] order.
    pub listeners: Vec<(&'static Variant, Result<u16, String>)>,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Holds the source; removed on drop, after the program exited.
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Closing standard input tells the program to close its listeners and exit.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        reap(&mut self.child, EXIT_WAIT);
    }
}

/// Wait for a child to exit, killing it after `deadline`.
fn reap(child: &mut Child, deadline: Duration) {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last line of what a program wrote on standard error, shortened.
fn last_words(stderr: &Mutex<Vec<u8>>) -> Option<String> {
    let bytes = stderr.lock().map(|b| b.clone()).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let mut words: String = line.chars().take(REASON_CHARS).collect();
    if words.len() < line.len() {
        words.push('…');
    }
    Some(words)
}

/// Whether `go run` can use its build cache (`go env GOCACHE`, under the user's cache
/// directory): not where the home directory is missing or not writable (a service account, a
/// test as `nobody`). Then a private cache beside the source is used, which costs a build of
/// the standard packages the program imports.
fn go_cache_usable() -> bool {
    let Ok(output) = Command::new("go")
        .args(["env", "GOCACHE"])
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    let cache = String::from_utf8_lossy(&output.stdout).trim().to_string();
    output.status.success()
        && !cache.is_empty()
        && cache != "off"
        && std::fs::create_dir_all(&cache).is_ok()
        && tempfile::tempfile_in(&cache).is_ok()
}

/// One line of the listener protocol.
enum Line {
    Text(String),
    End,
}

/// Start `program` and read its listener lines, waiting at most `deadline` for `ready`.
pub fn start(program: &'static Program, deadline: Duration) -> Result<Running, StartFailure> {
    let failed =
        |detail: String, os_error: Option<OsError>| StartFailure::Failed { detail, os_error };
    let dir = tempfile::Builder::new()
        .prefix("backlog-probe-runtime-")
        .tempdir()
        .map_err(|e| {
            failed(
                "could not make a temporary directory for its source".to_string(),
                OsError::from_io(&e),
            )
        })?;
    let file = dir.path().join(program.file);
    std::fs::write(&file, program.source).map_err(|e| {
        failed(
            format!("could not write {}", program.file),
            OsError::from_io(&e),
        )
    })?;
    let lifetime = (deadline + LIFETIME_MARGIN).as_secs().to_string();
    let mut command = Command::new(program.command);
    command
        .args(program.args)
        .arg(program.file)
        .args(program.after)
        .arg(&lifetime)
        .current_dir(dir.path())
        // The runtime's own temporary files (Go's build directory) go where the source is,
        // and are removed with it.
        .env("TMPDIR", dir.path())
        .env("TMP", dir.path())
        .env("TEMP", dir.path())
        // Go: never fetch another toolchain; .NET: no banner, no telemetry.
        .env("GOTOOLCHAIN", "local")
        .env("DOTNET_NOLOGO", "1")
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if program.key == "go" && !go_cache_usable() {
        command.env("GOCACHE", dir.path().join("go-cache"));
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StartFailure::NotInstalled);
        }
        Err(e) => {
            return Err(failed(
                format!("{} could not be started", program.command),
                OsError::from_io(&e),
            ));
        }
    };
    let stdin = child.stdin.take();
    let (Some(stdout), Some(mut stderr_pipe)) = (child.stdout.take(), child.stderr.take()) else {
        reap(&mut child, Duration::ZERO);
        return Err(failed("no output pipes".to_string(), None));
    };
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&stderr);
    let stderr_reader = std::thread::Builder::new()
        .name(format!("{}-stderr", program.key))
        .spawn(move || {
            let mut chunk = [0u8; 1024];
            while let Ok(n) = stderr_pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.extend_from_slice(&chunk[..n]);
                    let excess = kept.len().saturating_sub(STDERR_KEPT);
                    kept.drain(..excess);
                }
            }
        });
    let (sender, receiver) = mpsc::channel();
    let stdout_reader = std::thread::Builder::new()
        .name(format!("{}-stdout", program.key))
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(Line::Text(line)).is_err() {
                    return;
                }
            }
            let _ = sender.send(Line::End);
        });
    if let Err(e) = stderr_reader.and(stdout_reader) {
        reap(&mut child, Duration::ZERO);
        return Err(failed(
            format!(
                "could not start a thread to read {}'s output",
                program.command
            ),
            OsError::from_io(&e),
        ));
    }
    let started = Instant::now();
    let mut version = None;
    let mut ports: Vec<(String, Result<u16, String>)> = Vec::new();
    let outcome = loop {
        let left = deadline.saturating_sub(started.elapsed());
        match receiver.recv_timeout(left) {
            Ok(Line::Text(line)) => {
                let line = line.trim();
                let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
                match word {
                    "ready" => break Ok(()),
                    "version" => version = Some(rest.trim().to_string()),
                    "listen" => {
                        let (id, port) = rest.split_once(' ').unwrap_or((rest, ""));
                        let port = port
                            .trim()
                            .parse::<u16>()
                            .map_err(|_| format!("printed an unreadable port {port:?}"));
                        ports.push((id.to_string(), port));
                    }
                    "unavailable" => {
                        let (id, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                        ports.push((id.to_string(), Err(format!("could not open it: {reason}"))));
                    }
                    _ => {}
                }
            }
            Ok(Line::End) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Its output ended before `ready`: it exited (or closed standard output).
                let status = {
                    let waited = Instant::now();
                    loop {
                        match child.try_wait() {
                            Ok(Some(status)) => break Some(status),
                            _ if waited.elapsed() > Duration::from_secs(2) => break None,
                            _ => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                };
                // Give the standard-error reader a moment to take the last words.
                std::thread::sleep(Duration::from_millis(100));
                let how = status.map_or_else(
                    || "closed its output".to_string(),
                    |status| format!("exited ({status})"),
                );
                break Err(format!(
                    "{} {how} before listing its listeners",
                    program.command
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                break Err(format!(
                    "{} printed no port within {} s",
                    program.command,
                    deadline.as_secs_f64()
                ));
            }
        }
    };
    if let Err(detail) = outcome {
        reap(&mut child, Duration::ZERO);
        let detail = match last_words(&stderr) {
            Some(words) => format!("{detail}; its last words on stderr: {words}"),
            None => detail,
        };
        return Err(failed(detail, None));
    }
    let listeners = program
        .variants
        .iter()
        .map(|variant| {
            let port = ports.iter().find(|(id, _)| id == variant.id).map_or_else(
                || Err("the program listed no such listener".to_string()),
                |(_, port)| port.clone(),
            );
            (variant, port)
        })
        .collect();
    Ok(Running {
        program,
        version,
        listeners,
        child,
        stdin,
        _dir: dir,
    })
}

/// The OS's listing entry for the listener on `port` that 127.0.0.1 reaches (bound to it, or
/// to every address): its queue now and its stored limit.
pub fn listed_listener(port: u16) -> Result<KernelQueue, String> {
    let listeners = crate::sys::tcp_listeners().map_err(|e| e.to_string())?;
    let reaches = |addr: &SocketAddr| match addr {
        SocketAddr::V4(v4) => v4.ip().is_loopback() || v4.ip().is_unspecified(),
        SocketAddr::V6(v6) => {
            v6.ip().is_unspecified() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    let entry = listeners
        .iter()
        .find(|entry| entry.addr.port() == port && reaches(&entry.addr))
        .ok_or_else(|| format!("the OS's listener listing shows no listener on port {port}"))?;
    match (entry.queue, entry.limit) {
        (Some(queued), Some(limit)) => Ok(KernelQueue {
            queued,
            limit,
            incomplete: entry.syn_queue,
        }),
        _ => Err("the OS's listener listing shows no queue or limit".to_string()),
    }
}

/// A row of `program`'s `variant` before anything was measured.
pub fn row(program: &Program, variant: &Variant) -> RuntimeDefault {
    RuntimeDefault {
        api: variant.api.to_string(),
        status: MeasureStatus::Measured,
        kernel_limit: None,
        fill: None,
        os_error: None,
        detail: None,
        runtime: Some(program.key.to_string()),
    }
}

/// Measure the listener on 127.0.0.1:`port`: its stored limit from the OS's listing and its
/// effective queue by a fill from this process.
pub fn measure_port(mut result: RuntimeDefault, port: u16, budget: &FdBudget) -> RuntimeDefault {
    let target = SockAddr::from(SocketAddr::from(([127, 0, 0, 1], port)));
    let before = listed_listener(port);
    // Only the fill's clients are counted: then the view of the held queue must show them.
    let measure = |held: HeldFill<'_>| {
        let after = listed_listener(port);
        (held.result.clone(), after)
    };
    let (fill, after) = match &before {
        Ok(view) => measure(fill_held_for_limit(
            &target,
            Type::STREAM,
            view.limit,
            RUNTIME_CAP,
            budget,
        )),
        Err(_) => {
            let _one_at_a_time = UNVIEWED_FILLS.lock();
            measure(fill_held(&target, Type::STREAM, None, RUNTIME_CAP, budget))
        }
    };
    match after {
        Ok(view) if view.queued >= 1 || fill.queue_length == 0 => {
            result.kernel_limit = Some(view.limit);
        }
        Ok(view) => {
            result.detail = Some(format!(
                "kernel view not used: the listener listing counted {} queued while {} clients were held",
                view.queued, fill.queue_length
            ));
        }
        Err(reason) => result.detail = Some(format!("kernel view not available: {reason}")),
    }
    result.fill = Some(fill);
    result
}

/// Start `program`, measure each of its listeners (side by side) and stop it: a row per
/// variant, and the version it reported.
pub fn measure_program(
    program: &'static Program,
    deadline: Duration,
    budget: &FdBudget,
) -> (Vec<RuntimeDefault>, Option<String>) {
    let running = match start(program, deadline) {
        Ok(running) => running,
        Err(failure) => {
            let (status, detail, os_error) = match failure {
                StartFailure::NotInstalled => (
                    MeasureStatus::Skipped,
                    format!(
                        "{} is not installed ({} is not on PATH): install {}",
                        program.name, program.command, program.install
                    ),
                    None,
                ),
                StartFailure::Failed { detail, os_error } => {
                    (MeasureStatus::Failed, detail, os_error)
                }
            };
            let rows = program
                .variants
                .iter()
                .map(|variant| RuntimeDefault {
                    status,
                    detail: Some(detail.clone()),
                    os_error: os_error.clone(),
                    ..row(program, variant)
                })
                .collect();
            return (rows, None);
        }
    };
    let rows = std::thread::scope(|scope| {
        let measuring: Vec<_> = running
            .listeners
            .iter()
            .map(|(variant, port)| {
                let result = row(program, variant);
                match port {
                    Ok(port) => {
                        let port = *port;
                        let spare = result.clone();
                        std::thread::Builder::new()
                            .name(format!("{}-measure", program.key))
                            .spawn_scoped(scope, move || measure_port(result, port, budget))
                            // No thread to be had: measure it here, one after the other.
                            .map_err(|_| measure_port(spare, port, budget))
                            .map_or_else(Ok, Err)
                    }
                    Err(reason) => Ok(RuntimeDefault {
                        status: MeasureStatus::Failed,
                        detail: Some(reason.clone()),
                        ..result
                    }),
                }
            })
            .collect();
        measuring
            .into_iter()
            .zip(&running.listeners)
            .map(|(measured, (variant, _))| match measured {
                Ok(row) => row,
                Err(handle) => handle.join().unwrap_or_else(|_| RuntimeDefault {
                    status: MeasureStatus::Failed,
                    detail: Some("its measurement panicked".to_string()),
                    ..row(program, variant)
                }),
            })
            .collect()
    });
    (rows, running.version.clone())
}

/// Every selected program started at once, each measured and stopped: their rows, in
/// `options` order, and the versions they reported, by program key.
pub fn run_programs(
    options: &RuntimeOptions,
    budget: &FdBudget,
) -> (Vec<RuntimeDefault>, BTreeMap<String, String>) {
    let mut versions = BTreeMap::new();
    let rows = std::thread::scope(|scope| {
        let handles: Vec<_> = options
            .programs
            .iter()
            .map(|&program| {
                let deadline = options.start_deadline.unwrap_or(program.start_deadline);
                let started = std::thread::Builder::new()
                    .name(format!("{}-runtime", program.key))
                    .spawn_scoped(scope, move || measure_program(program, deadline, budget))
                    // No thread to be had: this program after the others, on this thread.
                    .map_err(|_| (program, deadline));
                (program, started)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(program, started)| {
                let joined = match started {
                    Ok(handle) => handle.join(),
                    Err((program, deadline)) => Ok(measure_program(program, deadline, budget)),
                };
                let (rows, version) = joined.unwrap_or_else(|_| {
                    let rows = program
                        .variants
                        .iter()
                        .map(|variant| RuntimeDefault {
                            status: MeasureStatus::Failed,
                            detail: Some("its measurement panicked".to_string()),
                            ..row(program, variant)
                        })
                        .collect();
                    (rows, None)
                });
                if let Some(version) = version {
                    versions.insert(program.key.to_string(), version);
                }
                rows
            })
            .collect()
    });
    (rows, versions)
}
