//! `answers.md`: the questions people ask about `listen()`, answered with numbers. The prose is
//! a fixed template; every number comes from a report (linked to its results row) or from the
//! model (linked to its rule), so regenerating from the same reports gives the same page.

use super::Corpus;
use super::results::first_client_error;
use crate::classify::LateKind;
use crate::predict::OsFamily;

const LINUX: OsFamily = OsFamily::Linux;
const MACOS: OsFamily = OsFamily::Macos;
const FREEBSD: OsFamily = OsFamily::Freebsd;
const WINDOWS: OsFamily = OsFamily::Windows;

/// What a runtime passes to `listen()` on each OS, and where that is written down.
struct Runtime {
    name: &'static str,
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
        passes: same(128),
        source: "rust-lang/rust `library/std/src/sys/net/connection/socket.rs`",
    },
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio ≤ 1.0.4",
        passes: same(1024),
        source: "tokio-rs/mio `src/net/tcp/listener.rs` (v1.0.4: `listen(&listener.inner, 1024)`)",
    },
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio 1.1.0–1.1.1",
        passes: [Value(-1), Value(-1), Value(-1), Value(128)],
        source: "tokio-rs/mio `src/sys/mod.rs` (v1.1.0, PR #1896)",
    },
    Runtime {
        name: "tokio / mio `TcpListener::bind`, mio ≥ 1.2.0",
        passes: same(128),
        source: "tokio-rs/mio `src/net/tcp/listener.rs` (v1.2.0, PR #1934)",
    },
    Runtime {
        name: "Python `socket.listen()` (no argument)",
        passes: same(128),
        source: "cpython `Modules/socketmodule.c` `sock_listen`: `Py_MIN(SOMAXCONN, 128)`; a negative argument is forced to 0",
    },
    Runtime {
        name: "Python `socket.listen(-1)`",
        passes: same(0),
        source: "cpython `Modules/socketmodule.c` `sock_listen`: \"if it is lower, it is set to 0\"",
    },
    Runtime {
        name: "Python `socketserver.TCPServer` (and `http.server`)",
        passes: same(5),
        source: "cpython `Lib/socketserver.py` `request_queue_size = 5`",
    },
    Runtime {
        name: "Python asyncio `create_server` / `start_server`",
        passes: same(100),
        source: "cpython `Doc/library/asyncio-eventloop.rst` (`backlog=100`)",
    },
    Runtime {
        name: "Java `ServerSocket`, `ServerSocketChannel.bind` (≤ 0 → 50)",
        passes: same(50),
        source: "openjdk/jdk `src/java.base/share/classes/java/net/ServerSocket.java`; `sun/nio/ch/ServerSocketChannelImpl.java`",
    },
    Runtime {
        name: ".NET `Socket.Listen()` / `TcpListener.Start()`",
        passes: same(i32::MAX),
        source: "dotnet/runtime `System.Net.Sockets/src/System/Net/Sockets/Socket.cs` (`Listen() => Listen(int.MaxValue)`); `TCPListener.cs`",
    },
    Runtime {
        name: "Kestrel (socket transport)",
        passes: same(512),
        source: "dotnet/aspnetcore `src/Servers/Kestrel/Transport.Sockets/src/SocketTransportOptions.cs` (`Backlog = 512`)",
    },
    Runtime {
        name: "Netty (`NetUtil.SOMAXCONN`, newer builds)",
        passes: [SomaxconnSetting, Value(128), Value(4096), Value(200)],
        source: "netty/netty `common/src/main/java/io/netty/util/NetUtil.java` (Linux reads `/proc/sys/net/core/somaxconn`; fallbacks Windows 200, macOS 128, others 4096)",
    },
    Runtime {
        name: "Erlang/OTP `gen_tcp`",
        passes: same(5),
        source: "erlang/otp `lib/kernel/src/inet_int.hrl` (`-define(LISTEN_BACKLOG, 5)`)",
    },
    Runtime {
        name: "Ruby `TCPServer.new`",
        passes: [SomaxconnConstant; 4],
        source: "ruby/ruby `ext/socket/ipsocket.c` `init_inetsock_internal` (`listen(fd, SOMAXCONN)`)",
    },
    Runtime {
        name: "PHP `stream_socket_server`",
        passes: same(32),
        source: "php/php-src `main/streams/transports.c` `_php_stream_xport_create` (`int backlog = 32;`)",
    },
    Runtime {
        name: "Node.js `server.listen` (0 and negatives → 511)",
        passes: same(511),
        source: "nodejs/node `lib/net.js` `setupListenHandle` (`backlog || 511`); doc/api/net.md",
    },
    Runtime {
        name: "Go `net.Listen`",
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
        passes: [Value(511), Value(-1), Value(-1), Value(511)],
        source: "nginx `src/os/unix/ngx_linux_config.h`, `ngx_darwin_config.h`, `ngx_freebsd_config.h`, `src/os/win32/ngx_win32_config.h`",
    },
    Runtime {
        name: "Apache httpd `ListenBacklog`",
        passes: same(511),
        source: "Apache httpd `include/mpm_common.h` `DEFAULT_LISTENBACKLOG`",
    },
    Runtime {
        name: "Redis `tcp-backlog`",
        passes: same(511),
        source: "Redis `src/config.c` (`tcp-backlog`, default 511)",
    },
    Runtime {
        name: "PostgreSQL postmaster (`max_connections` = 100)",
        passes: same(200),
        source: "PostgreSQL `src/backend/libpq/pqcomm.c` `ListenServerPort` (`MaxConnections * 2`)",
    },
    Runtime {
        name: "HAProxy (no `backlog`, no `maxconn`)",
        passes: same(1024),
        source: "HAProxy `src/listener.c` `listener_backlog()`",
    },
    Runtime {
        name: "gunicorn / uvicorn",
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

fn runtime_table(corpus: &Corpus<'_>) -> String {
    let mut out = String::from(
        "| runtime / server | Linux | macOS | FreeBSD | Windows | source |\n|---|---|---|---|---|---|\n",
    );
    for runtime in RUNTIMES {
        let mut cells = Vec::new();
        for (&os, passes) in OsFamily::ALL.iter().zip(runtime.passes) {
            let limits = corpus.limits(os);
            let (value, passed) = match passes {
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
            let passed = if value == i32::MAX && passed == value.to_string() {
                "int.MaxValue".to_string()
            } else {
                passed
            };
            cells.push(format!(
                "{passed} → {}",
                corpus.figure(os, value).markdown()
            ));
        }
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            runtime.name,
            cells.join(" | "),
            runtime.source
        ));
    }
    out
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
                    "; once the server accepted one connection, the waiting client got in {} later",
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
    out.push_str("Only to connection-oriented sockets. `listen()` on a UDP socket fails with `EOPNOTSUPP` on Linux (`net/ipv4/af_inet.c`: `inet_dgram_ops` has `.listen = sock_no_listen`); listen(2) says it \"applies only to sockets of type SOCK_STREAM or SOCK_SEQPACKET\". The same number limits Unix-domain stream listeners (Linux `net/unix/af_unix.c` `unix_recvq_full()`, also a `>` test, so N + 1) and SCTP. backlog-probe measures TCP over loopback only.\n");

    out.push_str(
        "\n## What do common runtimes and servers pass, and what queue does that give?\n\n",
    );
    out.push_str("The value each one passes to `listen()` by default, and the queue it gets on each OS: measured where a report has exactly that backlog, the model otherwise (with the limits of the measured system where there is one, the OS defaults elsewhere). Sources are cited as in the project's reference notes.\n\n");
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
