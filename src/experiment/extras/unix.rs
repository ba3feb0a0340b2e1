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

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use socket2::{SockAddr, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::experiment::listen_at;
use crate::observation::extras::{LocalCase, LocalType};
use crate::observation::{ListenReport, SetupStage};
use crate::os_error::os_error_of;
use crate::sys;

/// The backlogs tried for each Unix-domain socket type.
pub const LOCAL_BACKLOGS: [i32; 3] = [0, 1, 5];
/// The most clients one Unix-domain case opens.
const LOCAL_CAP: u32 = 10_000;

/// The private directories of the socket paths alive now, for [`remove_socket_dirs`].
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A socket path in a private directory of its own, both removed when dropped.
///
/// The directory is made with `mkdtemp(3)` semantics (the `tempfile` crate: a random name,
/// created exclusively, mode 0700), so its name cannot be predicted or taken in advance by
/// another user, and nobody else can reach the socket in it. It lives under the temporary
/// directory, or under `/tmp` where the temporary directory's path is too long for
/// `sun_path`. A signal handler removes what is left with [`remove_socket_dirs`].
#[derive(Debug)]
pub struct TempSocketPath {
    /// Taken (and removed) in `drop`, under the lock of [`LIVE_DIRS`].
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

/// Why no socket path could be made: the raw error where the OS gave one, or what went wrong.
#[derive(Debug)]
pub enum SocketPathError {
    /// Creating the private directory failed.
    Dir(io::Error),
    /// Every candidate path is longer than a Unix-domain address holds (`sun_path`).
    TooLong(PathBuf),
}

impl std::fmt::Display for SocketPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketPathError::Dir(error) => write!(
                f,
                "cannot make a private directory for the socket: {}",
                crate::os_error::OsError::from_io(error)
                    .map_or_else(|| error.to_string(), |e| e.to_string())
            ),
            SocketPathError::TooLong(path) => write!(
                f,
                "the socket path {} is longer than a Unix-domain address holds (sun_path); set TMPDIR to a shorter directory",
                path.display()
            ),
        }
    }
}

impl TempSocketPath {
    /// A fresh socket path (not created yet) in a new private directory.
    pub fn new() -> Result<Self, SocketPathError> {
        let mut too_long = None;
        let mut unusable = None;
        // Created and registered under one lock, so a signal handler that removes every
        // registered directory never misses one that exists.
        let mut live = LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner());
        for base in [std::env::temp_dir(), PathBuf::from("/tmp")] {
            if !base.is_dir() {
                continue;
            }
            let mut builder = tempfile::Builder::new();
            builder.prefix("bp-");
            if let Some(private) = sys::private_dir_permissions() {
                builder.permissions(private);
            }
            // A temporary directory that cannot be written to (read-only, not this user's)
            // is passed over for /tmp, as a missing one is.
            let dir = match builder.tempdir_in(&base) {
                Ok(dir) => dir,
                Err(error) => {
                    unusable.get_or_insert(error);
                    continue;
                }
            };
            let path = dir.path().join("s");
            if SockAddr::unix(&path).is_err() {
                too_long = Some(path);
                continue;
            }
            live.push(dir.path().to_path_buf());
            return Ok(TempSocketPath {
                dir: Some(dir),
                path,
            });
        }
        if let Some(path) = too_long {
            return Err(SocketPathError::TooLong(path));
        }
        match unusable {
            Some(error) => Err(SocketPathError::Dir(error)),
            None => Err(SocketPathError::TooLong(
                std::env::temp_dir().join("bp-XXXXXX/s"),
            )),
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempSocketPath {
    fn drop(&mut self) {
        let mut live = LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.dir.take() {
            live.retain(|path| path != dir.path());
            // The directory and the socket file in it, removed before the lock is released.
            let _ = dir.close();
        }
    }
}

/// Every socket directory removed, and no new one made while this lives: hold it until the
/// process exits.
#[must_use = "new socket directories can be made again once this is dropped"]
pub struct SocketDirsRemoved(#[allow(dead_code)] std::sync::MutexGuard<'static, Vec<PathBuf>>);

impl std::fmt::Debug for SocketDirsRemoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SocketDirsRemoved")
    }
}

/// Remove the private directory of every socket path alive now (and the socket files in them),
/// and keep any new one from being made while the returned guard lives. For a signal handler
/// that ends the process next, where nothing is dropped: call it from a normal thread (the
/// `ctrlc` crate's handler thread), never from a signal context, and exit while holding the
/// guard.
pub fn remove_socket_dirs() -> SocketDirsRemoved {
    let mut live = LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner());
    for dir in live.drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
    SocketDirsRemoved(live)
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

/// Bind, make non-blocking and listen; `Err` carries the report of the failed step.
fn open_local_listener(
    local_type: LocalType,
    backlog: i32,
    address: &SockAddr,
) -> Result<Socket, ListenReport> {
    listen_at(address, socket_type(local_type), None, backlog)
        .map_err(|(stage, error)| ListenReport::failed(stage, error))
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
        detail: None,
    };
    let path = match TempSocketPath::new() {
        Ok(path) => path,
        Err(error) => {
            case.listen = match &error {
                SocketPathError::Dir(e) if e.raw_os_error().is_some() => {
                    failed(SetupStage::Bind, e)
                }
                _ => ListenReport {
                    ok: false,
                    failed_at: Some(SetupStage::Bind.into()),
                    os_error: None,
                },
            };
            case.detail = Some(error.to_string());
            return case;
        }
    };
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
    fn a_temporary_socket_path_lives_in_a_private_directory_removed_on_drop() {
        let path = TempSocketPath::new().unwrap();
        let kept = path.path().to_path_buf();
        let dir = kept.parent().unwrap().to_path_buf();
        assert!(
            dir.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("bp-")
        );
        std::fs::write(&kept, b"").unwrap();
        assert!(LIVE_DIRS.lock().unwrap().contains(&dir));
        drop(path);
        assert!(!kept.exists());
        assert!(!dir.exists());
        assert!(!LIVE_DIRS.lock().unwrap().contains(&dir));
    }

    #[test]
    fn temporary_socket_paths_are_distinct() {
        let (a, b) = (
            TempSocketPath::new().unwrap(),
            TempSocketPath::new().unwrap(),
        );
        assert_ne!(a.path(), b.path());
        assert_ne!(a.path().parent(), b.path().parent());
    }

    #[test]
    fn a_path_that_cannot_be_used_says_why_in_words() {
        let long = SocketPathError::TooLong(PathBuf::from("/very/long/bp-abc/s"));
        let text = long.to_string();
        assert!(
            text.contains("longer than a Unix-domain address holds"),
            "{text}"
        );
        assert!(text.contains("TMPDIR"), "{text}");
        let denied = SocketPathError::Dir(io::Error::from_raw_os_error(13));
        assert!(!denied.to_string().contains("os error -1"), "{denied}");
    }
}
