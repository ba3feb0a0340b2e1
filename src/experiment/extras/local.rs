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

use serde::{Deserialize, Serialize};
use socket2::{Domain, SockAddr, Socket, Type};

use super::fill::{FillResult, drain, fill};
use crate::os_error::os_error_of;
use crate::report::ListenReport;
use crate::sys::{self, KernelQueue};

/// The backlogs tried for each Unix-domain socket type.
pub const LOCAL_BACKLOGS: [i32; 3] = [0, 1, 5];
/// The most clients one Unix-domain case opens.
const LOCAL_CAP: u32 = 10_000;

/// A Unix-domain socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
}

impl LocalType {
    /// Both types.
    pub const ALL: [LocalType; 2] = [LocalType::Stream, LocalType::Seqpacket];

    fn socket_type(self) -> Type {
        match self {
            LocalType::Stream => Type::STREAM,
            LocalType::Seqpacket => Type::SEQPACKET,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalType::Stream => "stream",
            LocalType::Seqpacket => "seqpacket",
        }
    }
}

/// One Unix-domain experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCase {
    /// Socket type.
    pub socket_type: LocalType,
    /// The backlog passed to `listen()`.
    pub backlog: i32,
    /// Listener setup: `ok`, or the failed step and its raw error (`socket` where the OS lacks
    /// the type).
    pub listen: ListenReport,
    /// The sequential fill, or null when the listener never came up.
    pub fill: Option<FillResult>,
    /// Connections the listener accepted afterwards.
    pub accepted: u32,
    /// The kernel's view of the listener after the fill, where the OS has one for Unix-domain
    /// sockets (null on Linux: its view is TCP_INFO).
    pub kernel_queue: Option<KernelQueue>,
}

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

fn failed(stage: &str, error: &std::io::Error) -> ListenReport {
    ListenReport {
        ok: false,
        failed_at: Some(stage.to_string()),
        os_error: Some(os_error_of(error)),
    }
}

/// Bind, listen and make non-blocking; `Err` carries the report of the failed step.
fn open_local_listener(
    socket_type: LocalType,
    backlog: i32,
    address: &SockAddr,
) -> Result<Socket, ListenReport> {
    let socket = Socket::new(Domain::UNIX, socket_type.socket_type(), None)
        .map_err(|e| failed("socket", &e))?;
    socket.bind(address).map_err(|e| failed("bind", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| failed("bind", &e))?;
    socket.listen(backlog).map_err(|e| failed("listen", &e))?;
    Ok(socket)
}

/// Run one Unix-domain case: listen on a temporary path, fill, drain, remove the path.
pub fn local_case(socket_type: LocalType, backlog: i32) -> LocalCase {
    let mut case = LocalCase {
        socket_type,
        backlog,
        listen: ListenReport {
            ok: true,
            failed_at: None,
            os_error: None,
        },
        fill: None,
        accepted: 0,
        kernel_queue: None,
    };
    let path = TempSocketPath::new();
    let address = match SockAddr::unix(path.path()) {
        Ok(address) => address,
        Err(e) => {
            case.listen = failed("bind", &e);
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
    let held = fill(
        &address,
        socket_type.socket_type(),
        Some(&listener),
        LOCAL_CAP,
    );
    case.kernel_queue = sys::kernel_queue(&listener);
    case.fill = Some(held.result.clone());
    // Accept while the clients are still open, so every queued connection counts.
    case.accepted = drain(&listener);
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
