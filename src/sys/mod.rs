//! The only place with `#[cfg(target_os)]`: everything the portable code needs from the OS.
//!
//! Every OS module provides the same free functions and constants (mio's habit: the contract is
//! written down here, there is no trait):
//!
//! | item | meaning |
//! |---|---|
//! | `error_name(code) -> Option<&'static str>` | the symbolic name of a raw OS error (`ECONNREFUSED`, `WSAECONNREFUSED`) |
//! | `is_in_progress(code) -> bool` | a non-blocking `connect` returned "in progress" (EINPROGRESS, WSAEWOULDBLOCK) |
//! | `is_would_block(code) -> bool` | a non-blocking `accept` found nothing queued |
//! | `is_fd_exhausted(code) -> bool` | the process ran out of descriptors or handles (EMFILE, ENFILE, WSAEMFILE, WSAENOBUFS) |
//! | `defer_port_choice(&Socket) -> io::Result<()>` | before binding a client to a chosen source address, let `connect()` pick the port (Linux `IP_BIND_ADDRESS_NO_PORT`, Windows `SO_REUSE_UNICASTPORT`) |
//! | `is_out_of_ports(code) -> bool` | a `connect()` found no free local port for its source address (EADDRNOTAVAIL, WSAEADDRNOTAVAIL) |
//! | `wait_writable(&Socket, Duration) -> io::Result<bool>` | wait until a connecting socket is writable or failed |
//! | `wait_readable(&Socket, Duration) -> io::Result<bool>` | wait until a listener has something to accept |
//! | `kernel_queue(&Socket) -> Option<KernelQueue>` | the kernel's own view of a listener's queue, where the OS offers one without privileges |
//! | `queue_full(&KernelQueue) -> Option<bool>` | whether that view shows a full queue by the kernel's own test (each module cites it); used only to stop waiting sooner, never as a count |
//! | `somaxconn_constant() -> i64` | the platform's `SOMAXCONN` constant |
//! | `somaxconn_setting() -> Option<(&'static str, i64)>` | the system's effective limit and the knob it comes from |
//! | `tcp_settings() -> BTreeMap<String, String>` | other knobs that shape the experiments (syncookies, SYN retries, ...), and on Linux `kernel.version` (`uname -v`, where a distribution kernel keeps its upstream patch level) |
//! | `kernel_version() -> Option<String>` | the kernel release (`uname -r`), where there is one |
//! | `raise_fd_limit() -> Option<FdLimit>` | raise the soft RLIMIT_NOFILE toward the hard limit (never the hard limit itself); `None` where there is no such limit. Callers use [`fd_limit`], which raises once |
//! | `emulator() -> Option<String>` | a compatibility layer the binary runs under (Wine), whose TCP is not the target OS's |
//! | `sandbox() -> Option<Sandbox>` | a sandbox or VM layer detected cheaply (gVisor, WSL, a container); only gVisor brings a TCP stack of its own |
//! | `backlog_meaning(backlog) -> Option<String>` | what the OS documents for an unusual backlog value (Windows' `SOMAXCONN_HINT`) |
//! | `stdout_reader_gone() -> bool` | standard output is a pipe whose reader went away (`hold \| head -c 1`; a worker whose parent died) |
//! | `die_with_parent() -> io::Result<bool>` | have the kernel kill this process when its parent dies (Linux `PR_SET_PDEATHSIG`; `Ok(false)` elsewhere, where callers rely on the portable checks) |
//! | `parent_pid() -> Option<u32>` | the parent's process id now (`getppid`; `None` on Windows) |
//! | `enter_network_namespace() -> Result<(), NamespaceError>` | move the calling thread into a fresh network namespace with loopback up (Linux; `Unsupported` elsewhere); threads spawned afterwards inherit it |
//! | `set_sysctl(key, value) -> Result<i64, SysctlError>` | write an integer knob (`net.core.somaxconn`) of the current network namespace and return the value read back |
//! | `memory_limit() -> Option<MemoryLimit>` | the tightest cgroup memory limit over this process and what is in use under it (Linux: v1 `memory.limit_in_bytes`, v2 `memory.max`, from `/proc/self/cgroup` up; `None` elsewhere) |
//! | `listen_counters() -> Option<ListenCounters>` | the current network namespace's `ListenOverflows` / `ListenDrops`, where the OS keeps them per namespace |
//! | `open_without_blocking(&Path) -> io::Result<File>` | open an input file read-only without waiting for a FIFO's writer (`O_NONBLOCK` on Unix); the caller checks that it is a regular file |
//! | `readable_file_permissions()`, `private_dir_permissions() -> Option<Permissions>` | the mode of a new file others may read (0o666 less the umask) and of a private directory (0o700, as `mkdtemp` makes it); `None` on Windows, where the ACL decides |
//! | `tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError>` | every TCP listener of this machine (this network namespace on Linux), with the kernel's queue and stored limit where the OS exposes them (Linux sock_diag) |
//! | `unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError>` | every Unix-domain stream or seqpacket listener, where the OS lists them (Linux unix_diag) |
//! | `listener_full(&ListenerEntry) -> Option<bool>` | whether a listed listener's queue is full by the kernel's own test (`queue_full` on the counts as that kernel keeps them); `None` where the OS shows no queue |
//! | `listener_view() -> ListenerView` | which interface the listener list comes from and what it exposes (queue, limit, SYN queue, owners) |
//! | `socket_owners() -> SocketOwners` | the processes holding each socket, by inode, as far as this process may look (Linux `/proc/<pid>/fd`; empty and `supported: false` elsewhere) |
//! | `process_name(pid) -> Option<String>` | a process's short name, where this process may read it |
//! | `overflow_counters() -> Result<OverflowCounters, ListenerViewError>` | the system's (Linux: the namespace's) counters of connections a full listener refused, by the OS's own names |
//! | `ADMISSION_GRACE`, `PENDING_DEADLINE`, `LATE_WINDOW` | the least a pending connect waits once the kernel view shows a full queue, how long a connect must stay pending (past the first SYN retransmission) to count as unanswered without that view, and how long to watch it after a slot frees; the harness stretches each by the handshake times it sees; each module says why |
//!
//! Linux, macOS, FreeBSD and Windows are supported; other Unix systems get the portable Unix
//! part (names, poll, rlimit) and no kernel view, which the report shows as `null`.

use serde::{Deserialize, Serialize};

/// The kernel's own view of a listening socket's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelQueue {
    /// Connections the kernel holds for this listener now (Linux: completed children; macOS:
    /// completed plus incomplete; FreeBSD: completed).
    pub queued: u32,
    /// The limit the kernel stored at `listen()` time (Linux `sk_max_ack_backlog`, macOS
    /// `so_qlimit`, FreeBSD `sol_qlimit`): the backlog after clamping, not the capacity.
    pub limit: u32,
    /// Incomplete (half-open) connections, where the OS counts them separately.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub incomplete: Option<u32>,
}

/// A sandbox or virtualisation layer the process runs in, detected from cheap signs (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Sandbox {
    /// gVisor (runsc): a user-space kernel with its own TCP stack (netstack), so its results
    /// are gVisor's, not Linux's, and its `uname -r` is a fixed, made-up release.
    Gvisor,
    /// Windows Subsystem for Linux: a real Linux kernel in a VM.
    Wsl,
    /// A container (Docker, Podman): the host's kernel and TCP stack.
    Container,
}

impl Sandbox {
    /// How a report names it: `gVisor`, `WSL`, `container`.
    pub fn display_name(self) -> &'static str {
        match self {
            Sandbox::Gvisor => "gVisor",
            Sandbox::Wsl => "WSL",
            Sandbox::Container => "container",
        }
    }

    /// True when the TCP stack measured is the sandbox's own, not the kernel's.
    pub fn has_own_tcp_stack(self) -> bool {
        matches!(self, Sandbox::Gvisor)
    }
}

/// The process's descriptor limit, raised once (the first call raises it, as far as
/// `raise_fd_limit` goes on this OS) and remembered: every later reader sees the same numbers.
pub fn fd_limit() -> Option<FdLimit> {
    static LIMIT: std::sync::OnceLock<Option<FdLimit>> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(raise_fd_limit)
}

/// The process's open-file limit, before and after the harness raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdLimit {
    /// Soft limit when the process started.
    pub soft_before: u64,
    /// Soft limit now (after raising).
    pub soft: u64,
    /// Hard limit now (root may have raised it too).
    pub hard: u64,
}

/// A cgroup memory limit over this process (Linux), as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit, in bytes.
    pub limit_bytes: u64,
    /// What the cgroup (with everything else under the limit) used then.
    pub in_use_bytes: u64,
    /// The file the limit was read from (`memory.max`, `memory.limit_in_bytes`).
    pub file: String,
}

impl MemoryLimit {
    /// What is left under the limit.
    pub fn headroom_bytes(&self) -> u64 {
        self.limit_bytes.saturating_sub(self.in_use_bytes)
    }
}

impl std::fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |bytes: u64| bytes as f64 / f64::from(1u32 << 20);
        write!(
            f,
            "memory limit {:.0} MiB (cgroup {}, {:.1} MiB in use)",
            mib(self.limit_bytes),
            self.file,
            mib(self.in_use_bytes)
        )
    }
}

#[cfg(unix)]
mod unix;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(target_os = "linux")]
pub use cgroup::memory_limit;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(any(target_os = "macos", target_os = "ios"))]
mod macos;
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub use macos::*;

#[cfg(target_os = "freebsd")]
mod freebsd;
#[cfg(target_os = "freebsd")]
pub use freebsd::*;

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))
))]
mod other_unix;
#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))
))]
pub use other_unix::*;

#[cfg(unix)]
pub use unix::{
    emulator, error_name, is_fd_exhausted, is_in_progress, is_out_of_ports, is_would_block,
    open_without_blocking, parent_pid, private_dir_permissions, readable_file_permissions,
    stdout_reader_gone, wait_readable, wait_writable,
};

#[cfg(not(target_os = "linux"))]
mod not_linux;
#[cfg(not(target_os = "linux"))]
pub use not_linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("backlog-probe supports Unix and Windows targets only");

#[cfg(target_os = "linux")]
mod sock_diag;
#[cfg(target_os = "linux")]
pub use sock_diag::{listener_full, listener_view, tcp_listeners, unix_listeners};
#[cfg(target_os = "linux")]
mod proc_owners;
#[cfg(target_os = "linux")]
pub use proc_owners::{overflow_counters, process_name, socket_owners};

#[cfg(any(target_os = "macos", target_os = "ios"))]
mod macos_listeners;
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub use macos_listeners::{
    listener_full, listener_view, overflow_counters, process_name, socket_owners, tcp_listeners,
    unix_listeners,
};

#[cfg(target_os = "freebsd")]
mod freebsd_listeners;
#[cfg(target_os = "freebsd")]
pub use freebsd_listeners::{
    listener_full, listener_view, overflow_counters, process_name, socket_owners, tcp_listeners,
    unix_listeners,
};

#[cfg(windows)]
mod windows_listeners;
#[cfg(windows)]
pub use windows_listeners::{
    listener_full, listener_view, overflow_counters, process_name, socket_owners, tcp_listeners,
    unix_listeners,
};

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))
))]
mod listeners_unsupported;
#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))
))]
pub use listeners_unsupported::{
    listener_full, listener_view, overflow_counters, process_name, socket_owners, tcp_listeners,
    unix_listeners,
};

#[cfg(test)]
mod tests;

/// One TCP listener as the OS lists it: its address and what the kernel says about its queue.
/// Every field the OS does not expose is `None`, never a guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerEntry {
    /// The local address and port it listens on (`0.0.0.0` or `::` for every address).
    pub addr: std::net::SocketAddr,
    /// Connections completed and waiting for `accept()` now (Linux `sk_ack_backlog`).
    pub queue: Option<u32>,
    /// The limit the kernel stored at `listen()` (Linux `sk_max_ack_backlog`): the requested
    /// backlog after the OS clamped it.
    pub limit: Option<u32>,
    /// Half-open connections (SYN received, handshake not complete), where the OS reports
    /// them per listener. Linux's sock_diag does not.
    pub syn_queue: Option<u32>,
    /// The socket owner's user id, as the kernel records it.
    pub uid: Option<u32>,
    /// The socket's inode, which names it in `/proc/<pid>/fd` (`socket:[INODE]`) on Linux.
    pub inode: Option<u64>,
    /// The owning process, where the listing itself carries it (Windows); elsewhere the owner
    /// is found separately, where permitted.
    pub owner_pid: Option<u32>,
}

/// One Unix-domain stream or seqpacket listener (Linux unix_diag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnixListenerEntry {
    /// The bound path, `@name` for the abstract namespace, `None` when unnamed.
    pub path: Option<String>,
    /// A seqpacket listener rather than a stream one.
    pub seqpacket: bool,
    /// Connections waiting for `accept()` (the listener's receive queue).
    pub queue: Option<u32>,
    /// The stored limit (`sk_max_ack_backlog`).
    pub limit: Option<u32>,
    /// The owner's user id.
    pub uid: Option<u32>,
    /// The socket's inode (`socket:[INODE]`).
    pub inode: Option<u64>,
}

/// What this OS's listener list is read from and what it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerView {
    /// The kernel interface.
    pub source: &'static str,
    /// The accept-queue length is exposed.
    pub queue: bool,
    /// The stored limit is exposed.
    pub limit: bool,
    /// The SYN-queue length is exposed per listener.
    pub syn_queue: bool,
    /// What the SYN-queue column means here, or why it is empty.
    pub syn_queue_note: &'static str,
    /// How owners are found and what hides them.
    pub owners: &'static str,
}

/// A process that holds a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    /// Its process id.
    pub pid: u32,
    /// Its short name (Linux `/proc/<pid>/comm`), where readable.
    pub name: Option<String>,
}

/// Who holds which socket, as far as this process may look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOwners {
    /// The holders of each socket inode.
    pub by_inode: std::collections::HashMap<u64, Vec<ProcessRef>>,
    /// Processes whose descriptors could not be read (another user's, without root): their
    /// sockets are not visible here.
    pub unreadable_processes: usize,
    /// Whether this OS's owners can be found this way at all.
    pub supported: bool,
}

/// Counters of connections refused at full listeners, as the OS names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverflowCounters {
    /// Where they come from (`/proc/net/netstat TcpExt`, `net.inet.tcp.stats`).
    pub source: &'static str,
    /// Each counter by its OS name, in a fixed order.
    pub values: Vec<(String, u64)>,
}

/// Why the OS's listener list could not be read: never an empty list that looks like "no
/// listeners".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerViewError {
    /// This OS has no listener view the tool can read.
    Unsupported(&'static str),
    /// A call failed with this raw error code.
    Call {
        /// The call (`socket(AF_NETLINK, NETLINK_SOCK_DIAG)`, `sysctl net.inet.tcp.pcblist`).
        call: &'static str,
        /// The raw error (errno, or a Win32 error).
        code: i32,
    },
    /// The call gave no answer in time.
    Timeout {
        /// The call.
        call: &'static str,
        /// How long it was given.
        after: std::time::Duration,
    },
    /// The answer could not be read (a short or inconsistent record).
    Malformed {
        /// Where.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl std::fmt::Display for ListenerViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenerViewError::Unsupported(why) => write!(f, "{why}"),
            ListenerViewError::Call { call, code } => match error_name(*code) {
                Some(name) => write!(f, "{call} failed: {name} ({code})"),
                None => write!(f, "{call} failed: error {code}"),
            },
            ListenerViewError::Timeout { call, after } => {
                write!(f, "{call} gave no answer within {} ms", after.as_millis())
            }
            ListenerViewError::Malformed { call, detail } => {
                write!(f, "{call} answered something unreadable: {detail}")
            }
        }
    }
}

impl std::error::Error for ListenerViewError {}

/// The kernel's per-namespace listen-overflow counters (Linux `/proc/net/netstat`, `TcpExt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenCounters {
    /// `ListenOverflows`: a SYN or a final ACK met a full accept queue.
    pub listen_overflows: u64,
    /// `ListenDrops`: every `tcp_listendrop()`, a superset of the overflows (a full SYN queue
    /// without cookies, allocation failures, bad cookies).
    pub listen_drops: u64,
}

impl ListenCounters {
    /// How much each counter grew from `before` to `self` (saturating, so a counter reset cannot
    /// underflow).
    pub fn since(&self, before: &ListenCounters) -> ListenCounters {
        ListenCounters {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(before.listen_drops),
        }
    }
}

/// Why a private network namespace could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceError {
    /// This OS has no network namespaces.
    Unsupported,
    /// The process may not create one: `unshare(CLONE_NEWNET)` needs CAP_SYS_ADMIN (root), per
    /// unshare(2). The raw error code (EPERM).
    NotPermitted(i32),
    /// A step failed: `unshare` or bringing `lo` up.
    Failed {
        /// The step.
        step: &'static str,
        /// Its raw error code.
        code: i32,
    },
}

/// Why a sysctl could not be set in the private namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlError {
    /// This OS has no per-namespace sysctls.
    Unsupported,
    /// The key names no file under `/proc/sys` in the namespace (or is not a valid key).
    Unknown,
    /// The file exists but is not writable.
    ReadOnly,
    /// The knob does not hold a single integer (its current text).
    NotInteger(String),
    /// The kernel refused the value (EINVAL for a value out of the knob's range): the raw
    /// error code.
    Rejected(i32),
}
