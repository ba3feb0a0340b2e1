//! The backlog runtimes choose when the caller gives none: std's `TcpListener::bind` and
//! `UnixListener::bind`, tokio's `TcpListener::bind` (with the `tokio` feature), and Python's
//! `socket.listen()` without an argument and with -1.
//!
//! Each listener is measured from the kernel's view where the OS has one (Linux `TCP_INFO`
//! `tcpi_sacked`, the stored backlog after clamping), and by filling its queue where it does
//! not. Python reads its own `TCP_INFO` (struct-unpacked `tcpi_state` and `tcpi_sacked`) and
//! prints it; where it cannot, the harness fills Python's listener from outside.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{SockAddr, SockRef, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::observation::extras::{MeasureStatus, RuntimeDefault};
use crate::os_error::{OsError, os_error_of};
use crate::sys::{self, KernelQueue};

/// The most clients one runtime-default fill opens.
const DEFAULTS_CAP: u32 = 70_000;
/// How long Python may take to start and print its listener.
const PYTHON_START: Duration = Duration::from_secs(20);
/// How long Python may take to exit once its standard input closes.
const PYTHON_EXIT: Duration = Duration::from_secs(5);

/// A runtime default whose setup step failed with `error`.
fn failed(api: &str, error: &std::io::Error, step: &str) -> RuntimeDefault {
    RuntimeDefault {
        os_error: Some(os_error_of(error)),
        ..RuntimeDefault::not_measured(api, MeasureStatus::Failed, format!("{step} failed"))
    }
}

/// Measure a listener some runtime set up: the kernel view if the OS has one, else fill it
/// with descriptors from `budget` (and drain it; the listener is switched to non-blocking for
/// that).
pub fn measure_listener(
    api: &str,
    listener: &Socket,
    ty: Type,
    budget: &FdBudget,
) -> RuntimeDefault {
    let mut result = RuntimeDefault {
        api: api.to_string(),
        status: MeasureStatus::Measured,
        kernel_limit: None,
        fill: None,
        os_error: None,
        detail: None,
    };
    let target = match listener.local_addr() {
        Ok(target) => target,
        Err(e) => return failed(api, &e, "getsockname()"),
    };
    if let Err(e) = listener.set_nonblocking(true) {
        return failed(api, &e, "set_nonblocking()");
    }
    match tracked_view(listener, &target, ty) {
        Ok(view) => {
            result.kernel_limit = Some(view.limit);
            return result;
        }
        // No view, or one that did not count a client (gVisor's reads 0/0): fill instead.
        Err(Some(reason)) => result.detail = Some(format!("kernel view not used: {reason}")),
        Err(None) => {}
    }
    let held = fill_held(&target, ty, Some(listener), DEFAULTS_CAP, budget);
    result.fill = Some(held.result.clone());
    drain_all(listener);
    drop(held);
    result
}

/// How long the one client that checks a kernel view may take to connect and be counted.
const VIEW_CHECK: Duration = Duration::from_secs(2);

/// The listener's kernel view, once it has counted one client connected to check it (then
/// accepted and closed): a view that does not count it is no view of this queue. `Err(None)`:
/// the OS has no view; `Err(Some(reason))`: it did not track the client.
fn tracked_view(
    listener: &Socket,
    target: &SockAddr,
    ty: Type,
) -> Result<KernelQueue, Option<String>> {
    sys::kernel_queue(listener).ok_or(None)?;
    let protocol = (target.domain() != socket2::Domain::UNIX).then_some(socket2::Protocol::TCP);
    let client = Socket::new(target.domain(), ty, protocol)
        .and_then(|client| client.connect_timeout(target, VIEW_CHECK).map(|()| client))
        .map_err(|e| {
            Some(format!(
                "its check client could not connect ({})",
                os_error_of(&e)
            ))
        })?;
    let until = Instant::now() + VIEW_CHECK;
    let counted = loop {
        match sys::kernel_queue(listener) {
            Some(view) if view.queued >= 1 => break Some(view),
            _ if Instant::now() >= until => break None,
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    drain_all(listener);
    drop(client);
    counted.ok_or_else(|| Some("it did not count a connected client".to_string()))
}

/// `std::net::TcpListener::bind("127.0.0.1:0")`.
pub fn std_tcp_listener(budget: &FdBudget) -> RuntimeDefault {
    const API: &str = "std::net::TcpListener::bind";
    match std::net::TcpListener::bind(("127.0.0.1", 0)) {
        Ok(listener) => measure_listener(API, &SockRef::from(&listener), Type::STREAM, budget),
        Err(e) => failed(API, &e, "bind"),
    }
}

/// `std::os::unix::net::UnixListener::bind(path)` on a temporary path (Unix only).
pub fn std_unix_listener(budget: &FdBudget) -> RuntimeDefault {
    const API: &str = "std::os::unix::net::UnixListener::bind";
    #[cfg(unix)]
    {
        let path = match super::unix::TempSocketPath::new() {
            Ok(path) => path,
            Err(error) => {
                let os_error = match &error {
                    super::unix::SocketPathError::Dir(e) => OsError::from_io(e),
                    super::unix::SocketPathError::TooLong(_) => None,
                };
                return RuntimeDefault {
                    os_error,
                    ..RuntimeDefault::not_measured(API, MeasureStatus::Failed, error.to_string())
                };
            }
        };
        match std::os::unix::net::UnixListener::bind(path.path()) {
            Ok(listener) => measure_listener(API, &SockRef::from(&listener), Type::STREAM, budget),
            Err(e) => failed(API, &e, "bind"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = budget; // nothing to fill without Unix-domain sockets
        RuntimeDefault::not_measured(
            API,
            MeasureStatus::Unsupported,
            "std::os::unix::net exists on Unix only".to_string(),
        )
    }
}

/// tokio's `TcpListener::bind("127.0.0.1:0")` on a current-thread runtime (needs the `tokio`
/// feature).
pub fn tokio_tcp_listener(budget: &FdBudget) -> RuntimeDefault {
    const API: &str = "tokio::net::TcpListener::bind";
    #[cfg(feature = "tokio")]
    {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => return failed(API, &e, "building the tokio runtime"),
        };
        // Everything runs inside the runtime so the listener registers and deregisters there.
        runtime.block_on(async {
            match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(listener) => {
                    measure_listener(API, &SockRef::from(&listener), Type::STREAM, budget)
                }
                Err(e) => failed(API, &e, "bind"),
            }
        })
    }
    #[cfg(not(feature = "tokio"))]
    {
        let _ = budget; // nothing to fill without tokio
        RuntimeDefault::not_measured(
            API,
            MeasureStatus::Unsupported,
            "built without the `tokio` feature (cargo run --features tokio -- extras)".to_string(),
        )
    }
}

/// Listens on 127.0.0.1 with `socket.listen()` (argument `none`) or `socket.listen(N)`, prints
/// `port limit`, then waits for its standard input to close. The limit is its own TCP_INFO's,
/// read once that view has counted a client the script connected to check it (then accepted and
/// closed); -1 when the view is not a Linux listener's or did not count the client (gVisor's
/// reads 0/0), and the harness fills the queue from outside instead. `tcp_info` starts with eight bytes of u8 fields; `tcpi_unacked` and
/// `tcpi_sacked` are the u32s at offsets 24 and 28 (include/uapi/linux/tcp.h); state 10 is
/// TCP_LISTEN.
const PYTHON_SCRIPT: &str = r#"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if sys.argv[1] == "none":
    s.listen()
else:
    s.listen(int(sys.argv[1]))
limit = -1
if hasattr(socket, "TCP_INFO"):
    try:
        client = socket.create_connection(s.getsockname(), timeout=2)
        for _ in range(400):
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            state, unacked, sacked = struct.unpack_from("=B23xII", info)
            if state == 10 and unacked >= 1:
                limit = sacked
                break
            time.sleep(0.005)
        s.accept()[0].close()
        client.close()
    except OSError:
        pass
print(s.getsockname()[1], limit, flush=True)
sys.stdin.read()
s.close()
"#;

/// The Python interpreter the harness runs.
pub const PYTHON: &str = "python3";

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

/// `socket.listen()` (`backlog` None) or `socket.listen(backlog)` in python3.
pub fn python_listener(backlog: Option<i32>, budget: &FdBudget) -> RuntimeDefault {
    let api = match backlog {
        None => "python3 socket.listen()".to_string(),
        Some(value) => format!("python3 socket.listen({value})"),
    };
    let argument = backlog.map_or_else(|| "none".to_string(), |value| value.to_string());
    let mut child = match Command::new(PYTHON)
        .arg("-c")
        .arg(PYTHON_SCRIPT)
        .arg(&argument)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        // Missing is a skip; anything else (a process limit, no memory) is a failure to name.
        Err(e) => {
            let (status, detail) = if e.kind() == std::io::ErrorKind::NotFound {
                (MeasureStatus::Skipped, format!("{PYTHON} is not installed"))
            } else {
                (
                    MeasureStatus::Failed,
                    format!("{PYTHON} could not be started"),
                )
            };
            return RuntimeDefault {
                os_error: e.raw_os_error().map(OsError::from_code),
                ..RuntimeDefault::not_measured(&api, status, detail)
            };
        }
    };
    let Some(stdout) = child.stdout.take() else {
        reap(&mut child, Duration::ZERO);
        return RuntimeDefault::not_measured(&api, MeasureStatus::Failed, "no stdout".into());
    };
    // Read the one line on a thread, so a silent interpreter cannot hang the harness.
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("python-read".into())
        .spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
    if let Err(e) = reader {
        reap(&mut child, Duration::ZERO);
        return RuntimeDefault {
            os_error: Some(os_error_of(&e)),
            ..RuntimeDefault::not_measured(
                &api,
                MeasureStatus::Failed,
                format!("could not start a thread to read {PYTHON}'s output"),
            )
        };
    }
    let line = receiver.recv_timeout(PYTHON_START).unwrap_or_default();
    let mut fields = line.split_whitespace().map(str::parse::<i64>);
    let (Some(Ok(port)), Some(Ok(limit))) = (fields.next(), fields.next()) else {
        reap(&mut child, Duration::ZERO);
        return RuntimeDefault::not_measured(
            &api,
            MeasureStatus::Failed,
            format!("{PYTHON} printed no listener: {:?}", line.trim()),
        );
    };
    let mut result = RuntimeDefault {
        api,
        status: MeasureStatus::Measured,
        kernel_limit: u32::try_from(limit).ok(),
        fill: None,
        os_error: None,
        detail: None,
    };
    if result.kernel_limit.is_none() {
        let port = u16::try_from(port).unwrap_or(0);
        let target = SockAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        let held = fill_held(&target, Type::STREAM, None, DEFAULTS_CAP, budget);
        result.fill = Some(held.result.clone());
        drop(held);
    }
    // Closing its standard input lets the script close its listener and exit.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.flush();
    }
    reap(&mut child, PYTHON_EXIT);
    result
}
