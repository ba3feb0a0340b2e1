//! Unix-domain listeners (`AF_UNIX`, `SOCK_STREAM` and `SOCK_SEQPACKET`): the sequential fill on
//! a socket path in the temporary directory, removed afterwards.
//!
//! On Linux a full Unix-domain queue does not drop anything: `unix_stream_connect()`
//! (net/unix/af_unix.c, which serves both stream and seqpacket) checks
//! `unix_recvq_full_lockless(other)`, that is
//! `skb_queue_len_lockless(&sk->sk_receive_queue) > sk->sk_max_ack_backlog` (older kernels:
//! `unix_recvq_full()`, the same strict `>`), as TCP's `sk_acceptq_is_full()` does, so backlog N
//! queues N + 1. A non-blocking client then gets `-EAGAIN` from `connect()` itself
//! (`if (!timeo) { err = -EAGAIN; goto out_unlock; }`), where a blocking one would sleep in
//! `unix_wait_for_peer()`. The harness measures it rather than assuming it.
//! Windows 10 1803+ has `AF_UNIX` stream sockets (socket2 passes `AF_UNIX` through); where the
//! OS lacks a socket type, `socket()` fails and the case reports that error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::observation::extras::{LocalCase, LocalType};
use crate::observation::{ListenReport, SetupStage};
use crate::os_error::os_error_of;
use crate::sys;

/// The backlogs tried for each Unix-domain socket type.
pub const LOCAL_BACKLOGS: [i32; 3] = [0, 1, 5];
/// The most clients one Unix-domain case opens.
const LOCAL_CAP: u32 = 10_000;

/// A socket path in the temporary directory that is removed when dropped.
#[derive(Debug)]
pub struct TempSocketPath(PathBuf);

impl TempSocketPath {
    /// A fresh, unused path: process id plus a counter, short enough for `sun_path`.
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "bp-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        TempSocketPath(path)
    }

    /// The path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for TempSocketPath {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempSocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn failed(stage: SetupStage, error: &std::io::Error) -> ListenReport {
    ListenReport::failed(stage, os_error_of(error))
}

/// The socket2 type of a Unix-domain socket type.
fn socket_type(local: LocalType) -> Type {
    match local {
        LocalType::Stream => Type::STREAM,
        LocalType::Seqpacket => Type::SEQPACKET,
    }
}

/// Bind, listen and make non-blocking; `Err` carries the report of the failed step.
fn open_local_listener(
    local_type: LocalType,
    backlog: i32,
    address: &SockAddr,
) -> Result<Socket, ListenReport> {
    let socket = Socket::new(Domain::UNIX, socket_type(local_type), None)
        .map_err(|e| failed(SetupStage::Socket, &e))?;
    socket
        .bind(address)
        .map_err(|e| failed(SetupStage::Bind, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| failed(SetupStage::Bind, &e))?;
    socket
        .listen(backlog)
        .map_err(|e| failed(SetupStage::Listen, &e))?;
    Ok(socket)
}

/// Run one Unix-domain case: listen on a temporary path, fill with descriptors from `budget`,
/// drain, remove the path.
pub fn local_case(socket_type: LocalType, backlog: i32, budget: &FdBudget) -> LocalCase {
    let mut case = LocalCase {
        socket_type,
        backlog,
        listen: ListenReport::ok(),
        fill: None,
        accepted: 0,
        kernel_queue: None,
    };
    let path = TempSocketPath::new();
    let address = match SockAddr::unix(path.path()) {
        Ok(address) => address,
        Err(e) => {
            case.listen = failed(SetupStage::Bind, &e);
            return case;
        }
    };
    let listener = match open_local_listener(socket_type, backlog, &address) {
        Ok(listener) => listener,
        Err(report) => {
            case.listen = report;
            return case;
        }
    };
    let held = fill_held(
        &address,
        self::socket_type(socket_type),
        Some(&listener),
        LOCAL_CAP,
        budget,
    );
    case.kernel_queue = sys::kernel_queue(&listener);
    case.fill = Some(held.result.clone());
    // Accept while the clients are still open, so every queued connection counts.
    case.accepted = drain_all(&listener);
    drop(held);
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_socket_path_is_removed_on_drop() {
        let path = TempSocketPath::new();
        let kept = path.path().to_path_buf();
        std::fs::write(&kept, b"").unwrap();
        assert!(kept.exists());
        drop(path);
        assert!(!kept.exists());
    }

    #[test]
    fn temporary_socket_paths_are_distinct() {
        assert_ne!(TempSocketPath::new().path(), TempSocketPath::new().path());
    }
}
