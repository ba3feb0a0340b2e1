//! `answers.md`: the questions people ask about `listen()`, answered with numbers. The prose is
//! a fixed template; every number comes from a report (linked to its results row) or from the
//! model (linked to its rule), so regenerating from the same reports gives the same page.

use super::Corpus;
use super::extras::{listen_text, queue_text};
use super::results::first_client_error;
use crate::classify::LateKind;
use crate::experiment::extras::fill::{FillResult, FillStop};
use crate::experiment::extras::local::LocalType;
use crate::experiment::extras::relisten::RelistenCase;
use crate::predict::OsFamily;

const LINUX: OsFamily = OsFamily::Linux;
const MACOS: OsFamily = OsFamily::Macos;
const FREEBSD: OsFamily = OsFamily::Freebsd;
const WINDOWS: OsFamily = OsFamily::Windows;

/// What a runtime passes to `listen()` on each OS, and where that is written down.
struct Runtime {
    name: &'static str,
    /// The `api` of the extras report's runtime-default row that measures this runtime, if any.
    measured_api: Option<&'static str>,
    /// Linux, macOS, FreeBSD, Windows; `None` where the value is the system's own somaxconn
    /// setting (read at run time, like Go).
    passes: [Passes; 4],
    source: &'static str,
}

#[derive(Clone, Copy)]
enum Passes {
    /// This exact value.
    Value(i32),
    /// The system's somaxconn setting, read at run time (Go, Netty on Linux).
    SomaxconnSetting,
    /// The platform `SOMAXCONN` constant (Ruby).
    SomaxconnConstant,
}

use Passes::{SomaxconnConstant, SomaxconnSetting, Value};

const fn same(value: i32) -> [Passes; 4] {
    [Value(value); 4]
}

/// Each source is cited the way the project's reference notes cite it.
const RUNTIMES: &[Runtime] = &[
    Runtime {
        name: "Rust std `TcpListener::bind`",
        measured_api: Some("std::net::TcpListener::bind"),
        passes: same(128),
        source: "rust-lang/rust `library/std/src/sys/net/connection/socket.rs`",
    },
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio ≤ 1.0.4",
        measured_api: None,
        passes: same(1024),
        source: "tokio-rs/mio `src/net/tcp/listener.rs` (v1.0.4: `listen(&listener.inner, 1024)`)",
    },
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio 1.1.0–1.1.1",
        measured_api: None,
        passes: [Value(-1), Value(-1), Value(-1), Value(128)],
        source: "tokio-rs/mio `src/sys/mod.rs` (v1.1.0, PR #1896)",
    },
    // `backlog-probe extras --features tokio` measures the tokio this crate locks, whose mio
    // (1.2.5 in Cargo.lock) is in this row's range.
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio ≥ 1.2.0",
        measured_api: Some("tokio::net::TcpListener::bind"),
        passes: same(128),
        source: "tokio-rs/mio `src/net/tcp/listener.rs` (v1.2.0, PR #1934)",
    },
    Runtime {
        name: "Python `socket.listen()` (no argument)",
        measured_api: Some("python3 socket.listen()"),
        passes: same(128),
        source: "cpython `Modules/socketmodule.c` `sock_listen`: `Py_MIN(SOMAXCONN, 128)`; a negative argument is forced to 0",
    },
    Runtime {
        name: "Python `socket.listen(-1)`",
        measured_api: Some("python3 socket.listen(-1)"),
        passes: same(0),
        source: "cpython `Modules/socketmodule.c` `sock_listen`: \"if it is lower, it is set to 0\"",
    },
    Runtime {
        name: "Python `socketserver.TCPServer` (and `http.server`)",
        measured_api: None,
        passes: same(5),
        source: "cpython `Lib/socketserver.py` `request_queue_size = 5`",
    },
    Runtime {
        name: "Python asyncio `create_server` / `start_server`",
        measured_api: None,
        passes: same(100),
        source: "cpython `Doc/library/asyncio-eventloop.rst` (`backlog=100`)",
    },
    Runtime {
        name: "Java `ServerSocket`, `ServerSocketChannel.bind` (≤ 0 → 50)",
        measured_api: None,
        passes: same(50),
        source: "openjdk/jdk `src/java.base/share/classes/java/net/ServerSocket.java`; `sun/nio/ch/ServerSocketChannelImpl.java`",
    },
    Runtime {
        name: ".NET `Socket.Listen()` / `TcpListener.Start()`",
        measured_api: None,
        passes: same(i32::MAX),
        source: "dotnet/runtime `System.Net.Sockets/src/System/Net/Sockets/Socket.cs` (`Listen() => Listen(int.MaxValue)`); `TCPListener.cs`",
    },
    Runtime {
        name: "Kestrel (socket transport)",
        measured_api: None,
        passes: same(512),
        source: "dotnet/aspnetcore `src/Servers/Kestrel/Transport.Sockets/src/SocketTransportOptions.cs` (`Backlog = 512`)",
    },
    Runtime {
        name: "Netty (`NetUtil.SOMAXCONN`, newer builds)",
        measured_api: None,
        passes: [SomaxconnSetting, Value(128), Value(4096), Value(200)],
        source: "netty/netty `common/src/main/java/io/netty/util/NetUtil.java` (Linux reads `/proc/sys/net/core/somaxconn`; fallbacks Windows 200, macOS 128, others 4096)",
    },
    Runtime {
        name: "Erlang/OTP `gen_tcp`",
        measured_api: None,
        passes: same(5),
        source: "erlang/otp `lib/kernel/src/inet_int.hrl` (`-define(LISTEN_BACKLOG, 5)`)",
    },
    Runtime {
        name: "Ruby `TCPServer.new`",
        measured_api: None,
        passes: [SomaxconnConstant; 4],
        source: "ruby/ruby `ext/socket/ipsocket.c` `init_inetsock_internal` (`listen(fd, SOMAXCONN)`)",
    },
    Runtime {
        name: "PHP `stream_socket_server`",
        measured_api: None,
        passes: same(32),
        source: "php/php-src `main/streams/transports.c` `_php_stream_xport_create` (`int backlog = 32;`)",
    },
    Runtime {
        name: "Node.js `server.listen` (0 and negatives → 511)",
        measured_api: None,
        passes: same(511),
        source: "nodejs/node `lib/net.js` `setupListenHandle` (`backlog || 511`); doc/api/net.md",
    },
    Runtime {
        name: "Go `net.Listen`",
        measured_api: None,
        passes: [
            SomaxconnSetting,
            SomaxconnSetting,
            SomaxconnSetting,
            Value(i32::MAX),
        ],
        source: "golang/go `src/net/sock_linux.go`, `sock_bsd.go`, `sock_windows.go` (Windows: `syscall.SOMAXCONN`)",
    },
    Runtime {
        name: "nginx `listen` (default `backlog=`)",
        measured_api: None,
        passes: [Value(511), Value(-1), Value(-1), Value(511)],
        source: "nginx `src/os/unix/ngx_linux_config.h`, `ngx_darwin_config.h`, `ngx_freebsd_config.h`, `src/os/win32/ngx_win32_config.h`",
    },
    Runtime {
        name: "Apache httpd `ListenBacklog`",
        measured_api: None,
        passes: same(511),
        source: "Apache httpd `include/mpm_common.h` `DEFAULT_LISTENBACKLOG`",
    },
    Runtime {
        name: "Redis `tcp-backlog`",
        measured_api: None,
        passes: same(511),
        source: "Redis `src/config.c` (`tcp-backlog`, default 511)",
    },
    Runtime {
        name: "PostgreSQL postmaster (`max_connections` = 100)",
        measured_api: None,
        passes: same(200),
        source: "PostgreSQL `src/backend/libpq/pqcomm.c` `ListenServerPort` (`MaxConnections * 2`)",
    },
    Runtime {
        name: "HAProxy (no `backlog`, no `maxconn`)",
        measured_api: None,
        passes: same(1024),
        source: "HAProxy `src/listener.c` `listener_backlog()`",
    },
    Runtime {
        name: "gunicorn / uvicorn",
        measured_api: None,
        passes: same(2048),
        source: "gunicorn `config.py` `class Backlog`; uvicorn `uvicorn/config.py` (`backlog: int = 2048`)",
    },
];

fn seconds(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// One line per OS: how many measured cases agree with the model.
fn agreement_summary(corpus: &Corpus<'_>) -> String {
    let mut out = String::new();
    for os in OsFamily::ALL {
        let reports = corpus.measured(os);
        if reports.is_empty() {
            out.push_str(&format!(
                "- {}: no report yet; every {} number on this page is the model's.\n",
                os.display_name(),
                os.display_name()
            ));
            continue;
        }
        for sourced in reports {
            let env = &sourced.report.environment;
            let mut compared = 0;
            let mut disagree = Vec::new();
            for case in &sourced.report.cases {
                if let Some(p) = crate::predict::for_case(env, case) {
                    match p.agrees {
                        Some(true) => compared += 1,
                        Some(false) => {
                            compared += 1;
                            disagree.push(format!("[{0}](results.md#{0})", sourced.anchor(case)));
                        }
                        None => {}
                    }
                }
            }
            if disagree.is_empty() {
                out.push_str(&format!(
                    "- {} ({}): all {compared} comparable measured cases agree with the model.\n",
                    os.display_name(),
                    env.summary()
                ));
            } else {
                out.push_str(&format!(
                    "- {} ({}): **{} of {compared} measured cases contradict the model**: {}.\n",
                    os.display_name(),
                    env.summary(),
                    disagree.len(),
                    disagree.join(", ")
                ));
            }
        }
    }
    out
}

fn overview(corpus: &Corpus<'_>) -> String {
    let mut out =
        String::from("| backlog | Linux | macOS | FreeBSD | Windows |\n|---|---|---|---|---|\n");
    for label in ["0", "1", "5", "somaxconn", "-1", "i32::min", "i32::max"] {
        let cells: Vec<String> = OsFamily::ALL
            .iter()
            .map(|&os| corpus.default_figure(os, label).markdown())
            .collect();
        let shown = if label == "somaxconn" {
            "SOMAXCONN"
        } else {
            label
        };
        out.push_str(&format!("| `{shown}` | {} |\n", cells.join(" | ")));
    }
    out
}

/// What a runtime passes on `os`, as a cell shows it, and that value as a backlog.
fn passed(passes: Passes, limits: &crate::predict::Limits) -> (i32, String) {
    let (value, text) = match passes {
        Value(v) => (v, v.to_string()),
        SomaxconnConstant => {
            let v = i32::try_from(limits.somaxconn_constant).unwrap_or(i32::MAX);
            (v, format!("SOMAXCONN ({v})"))
        }
        SomaxconnSetting => match limits.somaxconn_setting {
            Some(setting) => {
                let v = i32::try_from(setting).unwrap_or(i32::MAX);
                (v, format!("somaxconn setting ({v})"))
            }
            None => {
                let v = i32::try_from(limits.somaxconn_constant).unwrap_or(i32::MAX);
                (v, format!("SOMAXCONN ({v})"))
            }
        },
    };
    if value == i32::MAX && text == value.to_string() {
        (value, "int.MaxValue".to_string())
    } else {
        (value, text)
    }
}

/// What the runtime measured as `api` in an extras report passes to `listen()` on `os`,
/// according to its source, if the runtimes table cites it.
pub(super) fn passed_by(api: &str, os: OsFamily) -> Option<String> {
    let runtime = RUNTIMES.iter().find(|r| r.measured_api == Some(api))?;
    let index = OsFamily::ALL.iter().position(|&o| o == os)?;
    let passes = runtime.passes[index];
    Some(passed(passes, &crate::predict::Limits::typical(os)).1)
}

/// One cell of the runtimes table: the extras measurement where there is one, else the
/// queue for the value the source says the runtime passes.
fn runtime_cell(corpus: &Corpus<'_>, os: OsFamily, runtime: &Runtime, passes: Passes) -> String {
    let (value, passed) = passed(passes, &corpus.limits(os));
    let measured = runtime
        .measured_api
        .and_then(|api| corpus.runtime_default(os, api));
    if let Some((sourced, default)) = measured {
        let link = format!("results.md#{}", sourced.runtime_anchor(default));
        if let Some(limit) = default.kernel_limit {
            let queue = corpus.figure(os, i32::try_from(limit).unwrap_or(i32::MAX));
            return format!(
                "{passed}; kernel limit **{limit}** ([measured]({link})) → {}",
                queue.markdown()
            );
        }
        if let Some(fill) = default.fill.as_ref().filter(|f| f.stop.queue_was_full()) {
            return format!("{passed} → **{}** ([measured]({link}))", fill.queue_length);
        }
    }
    format!("{passed} → {}", corpus.figure(os, value).markdown())
}

fn runtime_table(corpus: &Corpus<'_>) -> String {
    let mut out = String::from(
        "| runtime / server | Linux | macOS | FreeBSD | Windows | source |\n|---|---|---|---|---|---|\n",
    );
    for runtime in RUNTIMES {
        let cells: Vec<String> = OsFamily::ALL
            .iter()
            .zip(runtime.passes)
            .map(|(&os, passes)| runtime_cell(corpus, os, runtime, passes))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            runtime.name,
            cells.join(" | "),
            runtime.source
        ));
    }
    out
}

const LISTEN_DOC: &str =
    "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen";

/// What `listen()` on UDP does on an OS according to its source or documentation.
fn udp_source(os: OsFamily) -> String {
    match os {
        LINUX => "source: `net/ipv4/af_inet.c`, `inet_dgram_ops` has `.listen = sock_no_listen`, which returns `EOPNOTSUPP`".to_string(),
        MACOS => "source: xnu's UDP leaves `pru_listen` at `pru_listen_notsupp` (`EOPNOTSUPP`)".to_string(),
        FREEBSD => "source: UDP leaves `pru_listen` at `pru_listen_notsupp` (`EOPNOTSUPP`)".to_string(),
        WINDOWS => format!("documented: `WSAEOPNOTSUPP`, \"The referenced socket is not of a type that supports the listen operation\" ([listen() documentation]({LISTEN_DOC}))"),
    }
}

/// `[ipv4](results.md#...), [ipv6](results.md#...)`.
fn links(items: &[(String, String)]) -> String {
    items
        .iter()
        .map(|(text, anchor)| format!("[{text}](results.md#{anchor})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The UDP bullet of one OS: the measured outcomes with links, then the source.
fn udp_bullet(corpus: &Corpus<'_>, os: OsFamily) -> String {
    // Outcome text → the rows that saw it, in report order.
    let mut outcomes: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for udp in &sourced.report.udp {
            let outcome = if udp.listen.ok {
                "succeeded".to_string()
            } else if udp.listen.failed_at.as_deref() == Some("listen") {
                match &udp.listen.os_error {
                    Some(error) => format!("failed with `{error}`"),
                    None => "failed".to_string(),
                }
            } else {
                format!("could not be set up ({})", listen_text(&udp.listen))
            };
            let row = (udp.family.to_string(), sourced.udp_anchor(udp));
            match outcomes.iter_mut().find(|(o, _)| *o == outcome) {
                Some((_, rows)) => rows.push(row),
                None => outcomes.push((outcome, vec![row])),
            }
        }
    }
    if outcomes.is_empty() {
        return format!(
            "- **{}**: not measured here yet; {}.\n",
            os.display_name(),
            udp_source(os)
        );
    }
    let measured: Vec<String> = outcomes
        .iter()
        .map(|(outcome, rows)| format!("{outcome} ({})", links(rows)))
        .collect();
    format!(
        "- **{}**, measured: `listen()` on a bound UDP socket {}; {}.\n",
        os.display_name(),
        measured.join("; "),
        udp_source(os)
    )
}

/// How a full Unix-domain queue showed itself to the next client, as a phrase.
fn unix_overflow_phrase(fill: &FillResult) -> String {
    let error = fill
        .os_error
        .as_ref()
        .map_or_else(|| "no error".to_string(), ToString::to_string);
    match fill.stop {
        FillStop::FailedImmediately => {
            format!("the next non-blocking `connect()` failed at once with `{error}`")
        }
        FillStop::FailedInHandshake => format!("the next `connect()` failed with `{error}`"),
        FillStop::Pending => "the next `connect()` stayed pending".to_string(),
        FillStop::Cap | FillStop::OutOfResources => {
            "the fill ended before the queue was full".to_string()
        }
    }
}

/// The Unix-domain bullet of one OS with an extras report, or `None` without one.
fn unix_bullet(corpus: &Corpus<'_>, os: OsFamily) -> Option<String> {
    let reports = corpus.measured_extras(os);
    if reports.iter().all(|r| r.report.unix_domain.is_empty()) {
        return None;
    }
    let mut parts = Vec::new();
    let mut overflows: Vec<String> = Vec::new();
    let mut full = Vec::new();
    for sourced in &reports {
        for ty in LocalType::ALL {
            let mut numbers = Vec::new();
            for case in sourced
                .report
                .unix_domain
                .iter()
                .filter(|c| c.socket_type == ty)
            {
                let link = format!("results.md#{}", sourced.unix_anchor(case));
                match &case.fill {
                    Some(fill) if case.listen.ok => {
                        numbers.push(format!(
                            "`listen({})` **{}** ([measured]({link}))",
                            case.backlog,
                            queue_text(fill)
                        ));
                        if fill.stop.queue_was_full() {
                            full.push((case.backlog, fill.queue_length));
                        }
                        let phrase = unix_overflow_phrase(fill);
                        if !overflows.contains(&phrase) {
                            overflows.push(phrase);
                        }
                    }
                    _ => numbers.push(format!(
                        "`listen({})` {} ([measured]({link}))",
                        case.backlog,
                        listen_text(&case.listen)
                    )),
                }
            }
            if !numbers.is_empty() {
                parts.push(format!("{} {}", ty.as_str(), numbers.join(", ")));
            }
        }
    }
    let pattern = if !full.is_empty()
        && full
            .iter()
            .all(|&(backlog, queue)| i64::from(queue) == i64::from(backlog) + 1)
    {
        ": backlog + 1 each time"
    } else if !full.is_empty()
        && full
            .iter()
            .all(|&(backlog, queue)| i64::from(queue) == i64::from(backlog))
    {
        ": exactly the backlog each time"
    } else {
        ""
    };
    let overflow = if overflows.is_empty() {
        String::new()
    } else {
        format!("; then {}", overflows.join(" or "))
    };
    Some(format!(
        "- **{}**, measured on Unix-domain listeners: {}{pattern}{overflow}.",
        os.display_name(),
        parts.join("; ")
    ))
}

/// Which backlog a re-listen case shows the kernel kept: the kernel's view where there is
/// one, else the queue against what each backlog gives on this OS.
fn relisten_kept(corpus: &Corpus<'_>, os: OsFamily, case: &RelistenCase) -> Option<bool> {
    if case.first_backlog == case.second_backlog || !case.second_listen.as_ref()?.ok {
        return None;
    }
    if let Some(view) = case.kernel_queue {
        let limit = i64::from(view.limit);
        if limit == i64::from(case.second_backlog) {
            return Some(false);
        }
        if limit == i64::from(case.first_backlog) {
            return Some(true);
        }
        return None;
    }
    let fill = case.fill.as_ref().filter(|f| f.stop.queue_was_full())?;
    let first = corpus.figure(os, case.first_backlog).value;
    let second = corpus.figure(os, case.second_backlog).value;
    if first == second {
        None
    } else if second == Some(fill.queue_length) {
        Some(false)
    } else if first == Some(fill.queue_length) {
        Some(true)
    } else {
        None
    }
}

/// What the source or documentation of an OS says about a second `listen()`.
fn relisten_source(os: OsFamily) -> String {
    match os {
        LINUX => "source: the new value applies; `net/ipv4/af_inet.c` `__inet_listen_sk()` stores `sk_max_ack_backlog` again (\"Really, if the socket is already in listen state we can only allow the backlog to be adjusted\")".to_string(),
        MACOS => "source: the new value applies; xnu `bsd/kern/uipc_socket.c` `solisten()` stores the new `so_qlimit` on a listening socket".to_string(),
        FREEBSD => "source: the new value applies; `sys/kern/uipc_socket.c` `solisten_proto()` stores the new `sol_qlimit`".to_string(),
        WINDOWS => format!("documentation: the old value stays; \"If the listen function is called on an already listening socket, it will return success without changing the value for the backlog parameter\" ([listen() documentation]({LISTEN_DOC}))"),
    }
}

/// The re-listen bullet of one OS: the measured rows with links, then the source.
fn relisten_bullet(corpus: &Corpus<'_>, os: OsFamily) -> String {
    let mut rows = Vec::new();
    let mut kept = Vec::new();
    for sourced in corpus.measured_extras(os) {
        for case in &sourced.report.relisten {
            let link = format!("results.md#{}", sourced.relisten_anchor(case));
            let second = case.second_listen.as_ref();
            let what = if !case.first_listen.ok {
                format!("the first {}", listen_text(&case.first_listen))
            } else if let Some(second) = second.filter(|l| !l.ok) {
                format!("the second call {}", listen_text(second))
            } else {
                let limit = case
                    .kernel_queue
                    .map(|q| format!("kernel limit **{}**, ", q.limit))
                    .unwrap_or_default();
                let queue = case
                    .fill
                    .as_ref()
                    .map_or_else(|| "-".to_string(), queue_text);
                format!("{limit}queue **{queue}**")
            };
            rows.push(format!(
                "`listen({})` then `listen({})`: {what} ([measured]({link}))",
                case.first_backlog, case.second_backlog
            ));
            kept.push(relisten_kept(corpus, os, case));
        }
    }
    if rows.is_empty() {
        return format!(
            "- **{}**: not measured here yet; by the {}.\n",
            os.display_name(),
            relisten_source(os)
        );
    }
    let verdict = if kept.iter().all(|k| *k == Some(false)) {
        " The second call's backlog applied."
    } else if kept.iter().all(|k| *k == Some(true)) {
        " The first backlog stayed."
    } else {
        ""
    };
    format!(
        "- **{}**, measured: {}.{verdict} By the {}.\n",
        os.display_name(),
        rows.join("; "),
        relisten_source(os)
    )
}

/// What the first overflow looked like on an OS, in one sentence, for the "refused or
/// ignored" answer.
fn overflow_sentence(corpus: &Corpus<'_>, os: OsFamily) -> String {
    let figure = corpus.default_figure(os, "5");
    match &figure.case {
        Some(case) => {
            let cap = corpus
                .measured(os)
                .first()
                .map_or(0, |r| r.report.settings.cap);
            let late = match (case.late_completion.kind, case.late_completion.elapsed_ms) {
                (LateKind::Completed, Some(ms)) => format!(
                    "; once the server started accepting, the waiting client got in {} after its connect()",
                    seconds(ms)
                ),
                (LateKind::Pending, _) => {
                    "; the waiting client was still pending when the watch ended".to_string()
                }
                (LateKind::Failed, _) => "; the waiting client then failed".to_string(),
                _ => String::new(),
            };
            format!(
                "Measured with `listen(5)`: overflow `{}`, first client error: {}{late} ([row]({})). The model predicts `{}`: {}.",
                case.overflow.kind.as_str(),
                first_client_error(case, cap),
                figure.link,
                figure.prediction.overflow.as_str(),
                figure.prediction.client_notices
            )
        }
        None => format!(
            "Not measured yet. The model predicts `{}`: {} ([rule]({})).",
            figure.prediction.overflow.as_str(),
            figure.prediction.client_notices,
            figure.link
        ),
    }
}

/// The Linux kernel's own view of the `listen(5)` case, if measured.
fn linux_kernel_view(corpus: &Corpus<'_>) -> String {
    let figure = corpus.default_figure(LINUX, "5");
    match figure
        .case
        .as_ref()
        .and_then(|c| c.kernel_queue.map(|q| (c, q)))
    {
        Some((case, queue)) => format!(
            " Measured: after `listen(5)` the client completed {} connections and `TCP_INFO` on the listener reported {} children ready for `accept()` against a stored limit of {} ([row]({})): the queue holds completed connections, limit + 1 of them.",
            case.queue_length.unwrap_or(0),
            queue.queued,
            queue.limit,
            figure.link
        ),
        None => String::new(),
    }
}

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    let f = |os: OsFamily, label: &str| corpus.default_figure(os, label).markdown();
    let v = |os: OsFamily, backlog: i32| corpus.figure(os, backlog).markdown();
    let mut out = String::new();
    out.push_str("# Answers: what `listen(fd, backlog)` really does\n\n");
    out.push_str("Generated by `backlog-probe docs --reports docs/data --out docs`; edit the generator, not this file. Every number is either **measured** (a link to its row in [results.md](results.md)) or the **model** (`src/predict.rs`, which reads the rules out of kernel source and vendor documentation; a link to the rule). A model number is a prediction, not a measurement.\n\n");
    out.push_str("How the measurements compare with the model:\n\n");
    out.push_str(&agreement_summary(corpus));
    out.push_str("\nEffective queue length (connections a client completes before the first one that does not fit) for the default backlogs:\n\n");
    out.push_str(&overview(corpus));

    out.push_str("\n## What exactly is queued: completed or half-open connections?\n\n");
    out.push_str(&format!(
        "- **Linux** queues *completed* connections in the accept queue (`sk_ack_backlog`, `include/net/sock.h` `sk_acceptq_is_full()`). Half-open connections live in the SYN queue, whose limit is the same number since commit 3479c7549fb1 (`inet_csk_reqsk_queue_is_full()`).{}\n",
        linux_kernel_view(corpus)
    ));
    out.push_str("- **macOS** counts *incomplete and completed connections together* (`so_qlen` in xnu `bsd/kern/uipc_socket2.c` `sonewconn_internal()`): XNU creates the socket when the SYN arrives, so a handshake in flight takes a slot. On loopback handshakes finish at once, so the count is of completed connections.\n");
    out.push_str("- **FreeBSD** counts *completed* connections only (`sol_qlen`, `sys/kern/uipc_socket.c` `solisten_clone()`); half-open connections sit in the syncache.\n");
    out.push_str("- **Windows** does not say. \"There is no standard provision to obtain the actual backlog value\" ([listen() documentation](https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen)), so only a client-side count can tell.\n");

    out.push_str("\n## Does `listen(1)` differ from `listen(5)`?\n\n");
    out.push_str(&format!(
        "Yes, on every OS with a rule for small values: Linux {} against {}; macOS {} against {}; FreeBSD {} against {}; Windows {} against {} (documented only, low confidence). Linux adds one (the full test is `>`, and commit 64a146513f8f says \"A backlog value of N really does mean allow N + 1 connections\"), macOS adds nothing, FreeBSD multiplies by 3/2 and adds one.\n",
        f(LINUX, "1"), f(LINUX, "5"), f(MACOS, "1"), f(MACOS, "5"), f(FREEBSD, "1"), f(FREEBSD, "5"), f(WINDOWS, "1"), f(WINDOWS, "5")
    ));

    out.push_str("\n## What does `listen(0)` mean, and why is 0 the minimum?\n\n");
    out.push_str(&format!(
        "POSIX lets 0 mean \"an implementation-defined minimum\" and says a negative backlog behaves as 0 (the wording is quoted in xnu `bsd/kern/uipc_socket.c` `solisten()`). The OSes read that differently:\n\n- **Linux**: 0 stays 0 and still queues {}: the accept-queue test is `>`. Since commit 3479c7549fb1 (6.13, backported to the stable trees in January 2025) the SYN-queue test is `>` too; before it, `listen(0)` with `net.ipv4.tcp_syncookies=0` admitted nothing, and with syncookies on the one connection came in through a SYN cookie with a \"Possible SYN flooding\" log line.\n- **macOS**: 0 means *somaxconn*: {} (`if (backlog <= 0 || backlog > somaxconn) backlog = somaxconn;`).\n- **FreeBSD**: 0 stays 0 and queues {} (⌊3·0/2⌋ + 1).\n- **Windows**: {}: the documentation only says illegal values are \"replaced by the nearest legal value\".\n\n0 is the minimum because nothing smaller is defined: POSIX treats a negative backlog as 0, and the kernels go further and reinterpret negative values (next answer); Linux's `net.core.somaxconn` sysctl likewise has a minimum of 0 (`net/core/sysctl_net_core.c`). Even 0 does not switch the queue off on Linux or FreeBSD: their strict `>` test admits one connection.\n",
        f(LINUX, "0"), f(MACOS, "0"), f(FREEBSD, "0"), f(WINDOWS, "0")
    ));

    out.push_str("\n## Negative values, and values above SOMAXCONN\n\n");
    out.push_str(&format!(
        "- **Linux** compares `(unsigned int)backlog > somaxconn` (`net/socket.c` `__sys_listen_socket()`), so every negative value becomes a huge unsigned number and is clamped: `-1` {}, `i32::MIN` {}, `i32::MAX` {}.\n- **macOS**: negative values and values above somaxconn become somaxconn: `-1` {}, `i32::MAX` {}.\n- **FreeBSD**: negative values become somaxconn (\"Previously, a negative backlog was silently translated into 0\"), then ×3/2 + 1: `-1` {}, `i32::MAX` {}.\n- **Windows**: a negative value is `SOMAXCONN_HINT(-b)` (`#define SOMAXCONN_HINT(b) (-(b))` in winsock2.h), \"adjusted to be within the range (200, 65535)\": `-1` {}, `-100000` {}; `i32::MIN` is {} because `-(INT_MIN)` overflows. `i32::MAX` *is* `SOMAXCONN`, \"a maximum reasonable value\": {} (reported as typically 200; low confidence).\n- Runtimes get in the way: Python turns a negative backlog into 0, so `sock.listen(-1)` on Linux queues {} instead of {}; Node.js turns 0 and negative values into 511.\n",
        f(LINUX, "-1"), f(LINUX, "i32::min"), f(LINUX, "i32::max"),
        f(MACOS, "-1"), f(MACOS, "i32::max"),
        f(FREEBSD, "-1"), f(FREEBSD, "i32::max"),
        f(WINDOWS, "-1"), v(WINDOWS, -100_000), f(WINDOWS, "i32::min"), f(WINDOWS, "i32::max"),
        f(LINUX, "0"), f(LINUX, "-1")
    ));

    out.push_str("\n## Is there a preferred value?\n\n");
    out.push_str(&format!(
        "There is no value that means the same everywhere:\n\n- **\"As many as the system allows\"**: `-1` does it on Linux ({}), macOS ({}) and FreeBSD ({}); the Linux commit that raised SOMAXCONN to 4096 (19f92a030ca6) notes that \"many applications indeed setup a TCP listener with listen(fd, -1); meaning they let the system select the backlog\". On Windows `-1` is `SOMAXCONN_HINT(1)`, the *bottom* of the hint range ({}); there pass `SOMAXCONN` ({}) or `SOMAXCONN_HINT(n)` for more than about 200.\n- **Never 0** for \"small\": it is {} on Linux but {} on macOS.\n- **A concrete number** (128, 511, 1024) behaves predictably, but every kernel clamps it to its somaxconn first, so a value above the system setting only documents intent. Size it for the connections that arrive between two `accept()` calls under load; a longer queue only makes clients wait longer instead of failing fast.\n",
        f(LINUX, "-1"), f(MACOS, "-1"), f(FREEBSD, "-1"), f(WINDOWS, "-1"), f(WINDOWS, "somaxconn"), f(LINUX, "0"), f(MACOS, "0")
    ));

    out.push_str("\n## Refused or ignored, and how long until a client notices?\n\n");
    out.push_str("The Linux man page says a client of a full queue \"may receive an error with an indication of ECONNREFUSED or, if the underlying protocol supports retransmission, the request may be ignored so that a later reattempt at connection succeeds\" ([listen(2)](https://man.archlinux.org/man/listen.2)). Which one happens depends on the OS:\n\n");
    for (os, verdict, why) in [
        (
            LINUX,
            "ignored",
            "`net/ipv4/tcp_input.c` `tcp_conn_request()` drops the SYN (`goto drop`, counted as ListenOverflows); SYN cookies do not get around a full accept queue",
        ),
        (
            MACOS,
            "ignored, by the source",
            "xnu `bsd/netinet/tcp_input.c`: `sonewconn()` fails and the SYN is dropped (`tcps_listendrop`); the client gives up at `TCPTV_KEEP_INIT` = 75 s. Published reports also show `ECONNRESET` and `ECONNREFUSED` (below)",
        ),
        (
            FREEBSD,
            "reset after the handshake",
            "the syncache answers the SYN; `sonewconn()` fails at the final ACK and `net.inet.tcp.syncache.rst_on_sock_fail=1` sends RST, although the man page says \"silently dropped\"",
        ),
        (
            WINDOWS,
            "refused",
            "the server answers the SYN with RST (CSS_SQL_Networking_Tools trace); a Windows client retries for about 2 s before `WSAECONNREFUSED` (unslothai/unsloth PR #11213 measured 2002–2011 ms for a closed loopback port)",
        ),
    ] {
        out.push_str(&format!(
            "- **{}**: {verdict}: {}. {}\n",
            os.display_name(),
            why,
            overflow_sentence(corpus, os)
        ));
    }

    out.push_str(
        "\n## Do the old Winsock limits (1 to 5, SOMAXCONN = 5 in Winsock 1) still apply?\n\n",
    );
    out.push_str(&format!(
        "Winsock 1's `winsock.h` defined `SOMAXCONN` as 5, and Microsoft KB127144 lists a maximum backlog of 5 on NT 4.0 Workstation (and Windows 2000 Professional) against 200 on NT 4.0 Server. Winsock 2 defines `SOMAXCONN` as `0x7fffffff`, \"a maximum reasonable value\", and the [listen() documentation](https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen) says the maximum \"defaults to a large value (typically several hundred or more)\". Published measurements on current Windows contradict a cap of 5: icerpc-csharp issue #4099 counted 30 and 47 connections for `Listen(18)` on a Windows VM, and the \"Weave\" note counted 200 for a plain `listen(8192)` on Windows 11. The model therefore uses the value as given up to about 200 ({} for `listen(5)`, low confidence) and is open until a Windows report exists.\n",
        f(WINDOWS, "5")
    ));

    out.push_str("\n## Does the backlog apply to UDP or other protocols?\n\n");
    out.push_str("Only to connection-oriented sockets: listen(2) says it \"applies only to sockets of type SOCK_STREAM or SOCK_SEQPACKET\". On UDP:\n\n");
    for os in OsFamily::ALL {
        out.push_str(&udp_bullet(corpus, os));
    }
    out.push_str("\nThe same number limits Unix-domain stream and seqpacket listeners and SCTP.");
    out.push_str(" On Linux `net/unix/af_unix.c` `unix_stream_connect()` (both types) tests `unix_recvq_full_lockless()`, a `>` test like TCP's, so N + 1, and a non-blocking client gets `-EAGAIN` from `connect()` itself instead of a dropped handshake.\n");
    let unix: Vec<String> = OsFamily::ALL
        .iter()
        .filter_map(|&os| unix_bullet(corpus, os))
        .collect();
    if !unix.is_empty() {
        out.push('\n');
        for bullet in unix {
            out.push_str(&bullet);
            out.push('\n');
        }
    }
    out.push_str("\nThe main harness measures TCP over loopback; `backlog-probe extras` measures the UDP and Unix-domain rows in [results.md](results.md).\n");

    out.push_str("\n## Does calling `listen()` again change the backlog?\n\n");
    out.push_str("Whether a second `listen()` on a socket that is already listening replaces its backlog differs by OS:\n\n");
    for os in OsFamily::ALL {
        out.push_str(&relisten_bullet(corpus, os));
    }

    out.push_str(
        "\n## What do common runtimes and servers pass, and what queue does that give?\n\n",
    );
    out.push_str("The value each one passes to `listen()` by default, and the queue it gets on each OS: measured where a report has exactly that backlog, the model otherwise (with the limits of the measured system where there is one, the OS defaults elsewhere). Where an extras report measured the runtime itself (Rust std, tokio, Python), the cell shows the kernel limit its listener got (or its filled queue where the OS has no kernel view), marked measured and linked to its row. Sources are cited as in the project's reference notes.\n\n");
    out.push_str(&runtime_table(corpus));
    out.push_str("\nOn Windows a libuv server (Node.js) also pre-posts 32 `AcceptEx` calls (`src/win/tcp.c` `uv_simultaneous_server_accepts = 32`), which take connections before the backlog does: nodejs/node issue #38736 saw calls 232–299 of 300 concurrent requests refused, which fits 200 + 32. Java since JDK-8330940 sends a backlog above 200 as `SOMAXCONN_HINT` on Windows.\n");

    out.push_str(
        "\n## What published reports say, and what the measurements confirm or contradict\n\n",
    );
    let linux_zero = corpus.default_figure(LINUX, "0");
    let linux_five = corpus.default_figure(LINUX, "5");
    let linux_status = if linux_five.measured {
        format!(
            "Measured here: `listen(5)` {} and `listen(0)` {}, overflow `{}`",
            linux_five.markdown(),
            linux_zero.markdown(),
            linux_five
                .case
                .as_ref()
                .map_or("-", |c| c.overflow.kind.as_str())
        )
    } else {
        "No Linux report yet".to_string()
    };
    out.push_str(&format!(
        "- **Linux, N + 1 and silent drops** (Veithen 2014, Cloudflare 2018, Xilinx-CNS/onload PR #182): {linux_status}.\n"
    ));
    let macos_five = corpus.default_figure(MACOS, "5");
    let macos_status = match &macos_five.case {
        Some(case) => format!(
            "measured `listen(5)`: {} with overflow `{}`",
            macos_five.markdown(),
            case.overflow.kind.as_str()
        ),
        None => format!(
            "not measured here yet; the model (from xnu-11417 source) predicts {} with a silent drop",
            macos_five.markdown()
        ),
    };
    out.push_str(&format!(
        "- **macOS, `ECONNRESET` and `ECONNREFUSED`**: tarantool #8130 saw \"Connection reset by peer\" from 1000 non-blocking connects to `listen(128)`; drumih/turbo-fieldfare PR #153 saw `ECONNRESET` in 17 of 20 runs on a machine reported as macOS 27 and a stall on macOS 26; gdb/pyseidon PR #1 saw `ECONNREFUSED` with `listen(1)`; icerpc-csharp PR #4141 found that macOS 26.0 did not honour the backlog at all. These contradict the source's silent drop for some releases; {macos_status}.\n"
    ));
    let windows_max = corpus.default_figure(WINDOWS, "i32::max");
    let windows_hint = corpus.figure(WINDOWS, -1);
    let windows_status = if windows_max.measured {
        format!(
            "measured: `SOMAXCONN` {}, `SOMAXCONN_HINT(1)` {}",
            windows_max.markdown(),
            windows_hint.markdown()
        )
    } else {
        format!(
            "not measured here yet; the model says `SOMAXCONN` {} and `SOMAXCONN_HINT(1)` {}",
            windows_max.markdown(),
            windows_hint.markdown()
        )
    };
    out.push_str(&format!(
        "- **Windows, a 200 cap against `SOMAXCONN_HINT`**: the \"Weave\" note measured 200 for a plain `listen(8192)` and all 1024 clients for `SOMAXCONN_HINT(8192)` on Windows 11; OpenJDK's `LargeBacklogTest` (bug 8330940) expects at least backlog − 5 for hinted backlogs of 242 and 213; CUBRID PR #4512 and the CSS_SQL_Networking_Tools wiki say \"typically 200\". Status: {windows_status}.\n"
    ));
    out.push_str("- **FreeBSD, the ×1.5**: listen(2) on FreeBSD says \"the real maximum queue length will be 1.5 times more than the value specified\"; the source adds one more (`>`). No published measurement found.\n");

    out.push_str("\n## Is the Linux \"+1\" off by one on some kernels? (gVisor's comment)\n\n");
    out.push_str("gVisor's `test/syscalls/linux/socket_inet_loopback.cc` avoids asserting backlog + 1 because \"on some kernels this value can be off by one … see commit c609e6aae4ef\". That commit is Eric Dumazet's `Revert \"net: correct sk_acceptq_is_full()\"` (31 March 2021): it undid f211ac154577, which had changed the test from `>` to `>=` (N instead of N + 1) in the networking tree in March 2021, and added the comment that now sits above `sk_acceptq_is_full()`. The revert went into 5.12-rc7, where the networking pull lists it under \"Current release - regressions\": the `>=` had reached the 5.12 release candidates before rc7, and no mainline release shipped it. The stable-tree automation had queued f211ac154577 for 5.11 and 5.10 (`[PATCH AUTOSEL 5.11 10/38]`, `[PATCH AUTOSEL 5.10 09/33]`); after Eric Dumazet objected, Sasha Levin answered \"Dropped\" for 5.11, and a reviewer asked for the 5.10 copy to be dropped as well. So the kernels that count N are 5.12-rc builds before rc7, and any vendor kernel that picked the patch up in those weeks. The same mistake was made and reverted once before, in 2007 (8488df894d05, reverted by 64a146513f8f). Still open: the 5.10 drop was not confirmed in the thread found, and stable releases were not checked one by one.\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
