//! The backlog Rust chooses when the caller gives none, measured in this process: std's
//! `TcpListener::bind` and `UnixListener::bind`, and tokio's `TcpListener::bind` (with the
//! `tokio` feature). Other runtimes run as programs of their own ([`super::runtimes`]).
//!
//! Each listener is measured from the kernel's view where the OS has one (Linux `TCP_INFO`
//! `tcpi_sacked`, the stored backlog after clamping), trusted once it counted a client, and by
//! filling its queue where it has not.

use std::time::{Duration, Instant};

use socket2::{SockAddr, SockRef, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::observation::extras::{MeasureStatus, RuntimeDefault};
use crate::os_error::os_error_of;
use crate::sys::{self, KernelQueue};

/// The most clients one runtime-default fill opens.
const DEFAULTS_CAP: u32 = 70_000;
/// What the report gives as Rust's version (`runtime_versions["rust"]`): the compiler that
/// built this binary.
pub const RUST_VERSION: &str = env!("BACKLOG_PROBE_RUSTC_VERSION");
/// What the report gives as tokio's version (`runtime_versions["tokio"]`, with the `tokio`
/// feature): the tokio and mio Cargo.lock locks.
pub const TOKIO_VERSION: &str = env!("BACKLOG_PROBE_TOKIO_VERSION");

/// A runtime default whose setup step failed with `error`.
fn failed(api: &str, error: &std::io::Error, step: &str) -> RuntimeDefault {
    RuntimeDefault {
        os_error: Some(os_error_of(error)),
        ..RuntimeDefault::not_measured(api, MeasureStatus::Failed, format!("{step} failed"))
    }
}

/// Measure a listener this process set up: the kernel view if the OS has one, else fill it
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
        runtime: None,
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
                    super::unix::SocketPathError::Dir(e) => crate::os_error::OsError::from_io(e),
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
