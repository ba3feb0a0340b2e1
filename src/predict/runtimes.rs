//! What common runtimes and servers pass to `listen()` when the caller names no backlog, per
//! OS, with the file it is written in. Data, read by the answers page; the queue each value gives
//! is the model's ([`super::predict`](fn@super::predict)) or a measurement's.

use super::{Limits, OsFamily};

/// What a runtime passes to `listen()` on each OS, and where that is written down.
#[derive(Debug)]
pub struct Runtime {
    /// The runtime or server, as the table names it.
    pub name: &'static str,
    /// The `api` of the extras report's runtime-default row that measures this runtime, if any.
    pub measured_api: Option<&'static str>,
    /// What it passes on Linux, macOS, FreeBSD and Windows ([`OsFamily::ALL`] order).
    pub passes: [Passes; 4],
    /// Where the value is written down (repository and file).
    pub source: &'static str,
}

/// What a runtime passes to `listen()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passes {
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

/// Every runtime the answers page lists. Each source is cited the way the project's reference
/// notes cite it.
pub const RUNTIMES: &[Runtime] = &[
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
        name: "Python `socket.listen(socket.SOMAXCONN)`",
        measured_api: Some("python3 socket.listen(socket.SOMAXCONN)"),
        passes: [SomaxconnConstant; 4],
        source: "cpython `Modules/socketmodule.c` (`socket.SOMAXCONN` is the platform's `SOMAXCONN`)",
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
        name: "Java `new ServerSocket(port)`",
        measured_api: Some("java new ServerSocket(0)"),
        passes: same(50),
        source: "openjdk/jdk `src/java.base/share/classes/java/net/ServerSocket.java` (`this(port, 50, null)`)",
    },
    Runtime {
        name: "Java `new ServerSocket(port, 0, addr)` (≤ 0 → 50)",
        measured_api: Some("java new ServerSocket(0, 0, loopback)"),
        passes: same(50),
        source: "openjdk/jdk `src/java.base/share/classes/java/net/ServerSocket.java` (`if (backlog < 1) backlog = 50;`)",
    },
    Runtime {
        name: "Java `ServerSocketChannel.bind(addr)`",
        measured_api: Some("java ServerSocketChannel.bind(addr)"),
        passes: same(50),
        source: "openjdk/jdk `sun/nio/ch/ServerSocketChannelImpl.java` (`Net.listen(fd, backlog < 1 ? 50 : backlog)`; `bind(local)` is `bind(local, 0)`)",
    },
    Runtime {
        name: ".NET `Socket.Listen()`",
        measured_api: Some("dotnet Socket.Listen()"),
        passes: same(i32::MAX),
        source: "dotnet/runtime `System.Net.Sockets/src/System/Net/Sockets/Socket.cs` (`Listen() => Listen(int.MaxValue)`)",
    },
    Runtime {
        name: ".NET `TcpListener.Start()`",
        measured_api: Some("dotnet TcpListener.Start()"),
        passes: same(i32::MAX),
        source: "dotnet/runtime `System.Net.Sockets/src/System/Net/Sockets/TCPListener.cs` (`Start((int)SocketOptionName.MaxConnections)`, 0x7fffffff)",
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
        measured_api: Some("ruby TCPServer.new"),
        passes: [SomaxconnConstant; 4],
        source: "ruby/ruby `ext/socket/ipsocket.c` `init_inetsock_internal` (`listen(fd, SOMAXCONN)`)",
    },
    Runtime {
        name: "PHP `stream_socket_server`",
        measured_api: Some("php stream_socket_server"),
        passes: same(32),
        source: "php/php-src `main/streams/transports.c` `_php_stream_xport_create` (`int backlog = 32;`)",
    },
    Runtime {
        name: "PHP `socket_listen($socket)` (ext/sockets)",
        measured_api: Some("php socket_listen($socket)"),
        passes: same(0),
        source: "php/php-src `ext/sockets/sockets.c` `PHP_FUNCTION(socket_listen)` (`zend_long backlog = 0;`)",
    },
    Runtime {
        name: "Node.js `server.listen(port, host)`",
        measured_api: Some("node server.listen(0, host)"),
        passes: same(511),
        source: "nodejs/node `lib/net.js` `setupListenHandle` (`backlog || 511`); doc/api/net.md",
    },
    Runtime {
        name: "Node.js `server.listen(port, host, -1)` (0 and negatives → 511)",
        measured_api: Some("node server.listen(0, host, -1)"),
        passes: same(511),
        source: "nodejs/node `lib/net.js` `Server.prototype.listen` (`toNumber(x)`: `x >= 0 ? x : false`), `setupListenHandle` (`backlog || 511`)",
    },
    Runtime {
        name: "Node.js `server.listen({port, host, backlog: -1})`",
        measured_api: Some("node server.listen({port: 0, host, backlog: -1})"),
        passes: same(-1),
        source: "nodejs/node `lib/net.js` `Server.prototype.listen` (`backlog = options.backlog || backlogFromArgs`: a truthy -1 is passed on)",
    },
    Runtime {
        name: "Go `net.Listen`",
        measured_api: Some("go net.Listen"),
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

/// What a runtime passes, as a cell shows it, and that value as a backlog, with `limits` deciding
/// the system-dependent values.
pub fn passed(passes: Passes, limits: &Limits) -> (i32, String) {
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
/// according to its source, if [`RUNTIMES`] cites it.
pub fn passed_by(api: &str, os: OsFamily) -> Option<String> {
    let runtime = RUNTIMES.iter().find(|r| r.measured_api == Some(api))?;
    let index = OsFamily::ALL.iter().position(|&o| o == os)?;
    let passes = runtime.passes[index];
    Some(passed(passes, &Limits::typical(os)).1)
}

/// What the model says a runtime's listener gets: the value its source passes, the limit the
/// kernel stores for it and the queue that gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeModel {
    /// The backlog passed to `listen()`.
    pub passed: i32,
    /// That value as a cell shows it (`somaxconn setting (4096)`).
    pub passed_text: String,
    /// The limit the kernel stores, where the model knows the OS's clamp.
    pub stored_limit: Option<u32>,
    /// The queue it gives ([`super::predict`](fn@super::predict)).
    pub queue: Option<u32>,
    /// Where the passed value is written down.
    pub source: &'static str,
}

/// The limit `listen(fd, backlog)` stores on `os`: Linux clamps the backlog, taken as unsigned,
/// to somaxconn (net/socket.c `__sys_listen_socket()`: `if ((unsigned int)backlog > somaxconn)
/// backlog = somaxconn;`), so a negative one stores somaxconn. `None` for the other OSes, whose
/// stored limit the model does not state.
pub fn stored_limit(os: OsFamily, backlog: i32, limits: &Limits) -> Option<u32> {
    match os {
        OsFamily::Linux => {
            let somaxconn = u32::try_from(limits.somaxconn().max(0)).unwrap_or(u32::MAX);
            Some((backlog as u32).min(somaxconn))
        }
        _ => None,
    }
}

/// The model for the runtime measured as `api` on `os` with `limits`, if [`RUNTIMES`] cites it.
pub fn model_of(api: &str, os: OsFamily, limits: &Limits) -> Option<RuntimeModel> {
    let runtime = RUNTIMES.iter().find(|r| r.measured_api == Some(api))?;
    let index = OsFamily::ALL.iter().position(|&o| o == os)?;
    let (passed, passed_text) = passed(runtime.passes[index], limits);
    Some(RuntimeModel {
        passed,
        passed_text,
        stored_limit: stored_limit(os, passed, limits),
        queue: super::predict(os, passed, limits).queue_length,
        source: runtime.source,
    })
}
