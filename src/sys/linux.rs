//! Linux: TCP_INFO on the listener, `/proc/sys` knobs, and Linux's SYN retransmission timing.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use socket2::Socket;

use super::unix::cvt;
use super::{FdLimit, KernelQueue};

/// The least a pending connect is given once the kernel view says the queue is full, before it
/// counts as dropped (the harness stretches it to several times the slowest handshake it saw).
/// On loopback the whole handshake runs inside `connect()` (the SYN, SYN-ACK and ACK are
/// processed in the caller's softirq), so an admitted connection is writable at once; 200 ms
/// leaves room for a loaded machine.
pub const ADMISSION_GRACE: Duration = Duration::from_millis(200);

/// How long a connect may stay pending when the kernel view cannot settle it. A dropped SYN is
/// retransmitted after 1 s (`tcp_syn_linear_timeouts`, Documentation/networking/ip-sysctl.rst),
/// so 1.5 s tells "still unanswered" from "answered by the first retransmit".
pub const PENDING_DEADLINE: Duration = Duration::from_millis(1500);

/// After the first accept frees a slot, how long to watch the pending client. Its SYN is
/// retransmitted at 1, 2, 3 s (Linux >= 6.5) or 1, 3 s (older kernels) after the first; 3.5 s
/// covers both.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

/// `getsockopt(TCP_INFO)` on a listener: `tcpi_unacked` is `sk_ack_backlog` (children ready for
/// accept) and `tcpi_sacked` is `sk_max_ack_backlog` (the clamped backlog), per
/// net/ipv4/tcp.c `tcp_get_info()`.
pub fn kernel_queue(socket: &Socket) -> Option<KernelQueue> {
    // SAFETY: tcp_info is plain data.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the buffer and its length are valid for the call.
    cvt(unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    })
    .ok()?;
    // TCP_LISTEN is 10 in include/net/tcp_states.h; anything else is not a listener's view.
    if info.tcpi_state != 10 {
        return None;
    }
    Some(KernelQueue {
        queued: info.tcpi_unacked,
        limit: info.tcpi_sacked,
        incomplete: None,
    })
}

/// Whether the view shows a full accept queue: `sk_acceptq_is_full()` (include/net/sock.h) is
/// `sk_ack_backlog > sk_max_ack_backlog`, and a SYN that meets it is dropped
/// (net/ipv4/tcp_input.c `tcp_conn_request()`). The harness uses it only to stop waiting for a
/// pending connect sooner; the count is always the clients'.
pub fn queue_full(view: &KernelQueue) -> Option<bool> {
    Some(view.queued > view.limit)
}

/// Before a client is bound to a chosen source address: let `connect()` pick its port
/// (`IP_BIND_ADDRESS_NO_PORT`, include/uapi/linux/in.h), so the port only has to be unique for
/// its connection, not among every port bound on the system.
pub fn defer_port_choice(socket: &Socket) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int that lives for the call.
    cvt(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `SOMAXCONN` from the C library headers as the libc crate carries them.
pub fn somaxconn_constant() -> i64 {
    i64::from(libc::SOMAXCONN)
}

fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `net.core.somaxconn` of this process's network namespace.
pub fn somaxconn_setting() -> Option<(&'static str, i64)> {
    let value = read_proc("/proc/sys/net/core/somaxconn")?.parse().ok()?;
    Some(("net.core.somaxconn", value))
}

/// Knobs that change what a full queue looks like (os-semantics.md §1.2–1.4), and
/// `kernel.version` (`uname -v`): where `uname -r` is a distribution's ABI name
/// (`5.10.0-32-cloud-amd64`) its build string is the one place the upstream patch level shows
/// (`#1 SMP Debian 5.10.223-1 (2024-08-10)`), and the model's version rules need it.
pub fn tcp_settings() -> BTreeMap<String, String> {
    [
        "kernel.version",
        "net.core.somaxconn",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_abort_on_overflow",
        "net.ipv4.tcp_max_syn_backlog",
        "net.ipv4.tcp_syn_retries",
        "net.ipv4.tcp_synack_retries",
        "net.ipv4.tcp_syn_linear_timeouts",
    ]
    .into_iter()
    .filter_map(|key| {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        read_proc(&path).map(|value| (key.to_string(), value))
    })
    .collect()
}

/// `uname -r`.
pub fn kernel_version() -> Option<String> {
    super::unix::uname_release()
}

/// gVisor's fixed `uname -v` (pkg/sentry/kernel/version.go, releases up to 2026), and the
/// suffix its newer releases give `uname -r` (`4.19.0-gvisor`).
const GVISOR_UNAME_VERSION: &str = "#1 SMP Sun Jan 10 15:06:54 PST 2016";
const GVISOR_RELEASE_SUFFIX: &str = "-gvisor";

/// gVisor from `uname` (its made-up release and version), WSL from the release
/// (`...-microsoft-standard-WSL2`), a container from the marker files Docker and Podman create.
/// No sign is a syscall with a side effect, and none needs privileges.
pub fn sandbox() -> Option<super::Sandbox> {
    use super::Sandbox;
    let (release, version) = super::unix::uname_release_and_version()?;
    classify_uname(&release, &version).or_else(|| {
        ["/.dockerenv", "/run/.containerenv"]
            .iter()
            .any(|marker| std::path::Path::new(marker).exists())
            .then_some(Sandbox::Container)
    })
}

/// The sandbox `uname -r` and `uname -v` give away, if any.
fn classify_uname(release: &str, version: &str) -> Option<super::Sandbox> {
    use super::Sandbox;
    if version == GVISOR_UNAME_VERSION || release.ends_with(GVISOR_RELEASE_SUFFIX) {
        Some(Sandbox::Gvisor)
    } else if release.to_ascii_lowercase().contains("microsoft") {
        Some(Sandbox::Wsl)
    } else {
        None
    }
}

/// Raise the soft limit to the hard limit (the hard limit itself is left alone; see
/// `unix::raise_fd_limit_to`).
pub fn raise_fd_limit() -> Option<FdLimit> {
    super::unix::raise_fd_limit_to(None)
}

/// Have the kernel send SIGKILL to this process when its parent dies (`prctl(2)`
/// `PR_SET_PDEATHSIG`). The "parent" is the thread that started this process, so that thread
/// must outlive it (in `run`, each worker's own thread waits for it). A parent that died before
/// this call is not caught: compare [`super::parent_pid`] with the parent's id afterwards.
#[doc(hidden)]
pub fn die_with_parent() -> std::io::Result<bool> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; the other arguments are unused.
    cvt(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })?;
    Ok(true)
}

/// Linux gives no special meaning to any backlog value: negative ones become huge unsigned
/// values and are clamped (net/socket.c `__sys_listen_socket()`).
pub fn backlog_meaning(_backlog: i32) -> Option<String> {
    None
}

/// `unshare(CLONE_NEWNET)`, then bring up `lo` with `SIOCSIFFLAGS`.
///
/// unshare(2) moves only the calling *thread* into the new namespace; threads it spawns later
/// inherit it (clone(2) copies the caller's namespaces). So call this on the main thread before
/// any experiment thread starts. The ioctl needs a socket to talk to the interface layer: a UDP
/// socket that is never bound or connected, closed before returning (the one socket opened
/// outside the experiment modules; it carries no traffic).
pub fn enter_network_namespace() -> Result<(), super::NamespaceError> {
    use super::NamespaceError;
    let failed = |step: &'static str| {
        move |error: std::io::Error| NamespaceError::Failed {
            step,
            code: raw_code(&error),
        }
    };
    // SAFETY: a plain syscall with a flag argument.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWNET) }).map_err(|error| {
        match error.raw_os_error() {
            Some(libc::EPERM) => NamespaceError::NotPermitted(libc::EPERM),
            _ => failed("unshare(CLONE_NEWNET)")(error),
        }
    })?;
    let control = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(failed("socket for SIOCSIFFLAGS"))?;
    // SAFETY: ifreq is plain data.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: the descriptor is open and `request` is a valid ifreq naming "lo".
    cvt(unsafe { libc::ioctl(control.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) })
        .map_err(failed("SIOCGIFFLAGS lo"))?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe {
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: as above; the kernel reads the name and the flags.
    cvt(unsafe { libc::ioctl(control.as_raw_fd(), libc::SIOCSIFFLAGS, &request) })
        .map_err(failed("SIOCSIFFLAGS lo up"))?;
    Ok(())
}

/// The raw code of an I/O error, or -1 for an error std made up.
fn raw_code(error: &std::io::Error) -> i32 {
    error.raw_os_error().unwrap_or(-1)
}

/// `/proc/sys/...` for a dotted key, or `None` for a key that could escape `/proc/sys`.
fn sysctl_path(key: &str) -> Option<std::path::PathBuf> {
    let valid = !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    valid.then(|| std::path::Path::new("/proc/sys").join(key.replace('.', "/")))
}

/// Write an integer knob of this thread's network namespace and read it back.
///
/// `/proc/sys/net` resolves to the namespace of the task that opens the file, so after
/// [`enter_network_namespace`] the host's values are out of reach.
pub fn set_sysctl(key: &str, value: i64) -> Result<i64, super::SysctlError> {
    use super::SysctlError;
    let path = sysctl_path(key).ok_or(SysctlError::Unknown)?;
    let metadata = std::fs::metadata(&path).map_err(|_| SysctlError::Unknown)?;
    if !metadata.is_file() {
        return Err(SysctlError::Unknown);
    }
    if metadata.permissions().mode() & 0o222 == 0 {
        return Err(SysctlError::ReadOnly);
    }
    let current =
        std::fs::read_to_string(&path).map_err(|e| SysctlError::Rejected(raw_code(&e)))?;
    if current.trim().parse::<i64>().is_err() {
        return Err(SysctlError::NotInteger(current.trim().to_string()));
    }
    std::fs::write(&path, format!("{value}\n")).map_err(|e| SysctlError::Rejected(raw_code(&e)))?;
    let back = std::fs::read_to_string(&path).map_err(|e| SysctlError::Rejected(raw_code(&e)))?;
    back.trim()
        .parse()
        .map_err(|_| SysctlError::NotInteger(back.trim().to_string()))
}

/// `TcpExt: ListenOverflows` and `ListenDrops` of this thread's network namespace, from
/// `/proc/thread-self/net/netstat` (the `/proc/net` link follows the thread group leader; both are
/// the same namespace when the main thread entered it before spawning, but the thread's own view
/// is the one that cannot be wrong).
pub fn listen_counters() -> Option<super::ListenCounters> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").ok()?;
    parse_netstat(&text)
}

/// Find the `TcpExt:` header line and its value line and pick the two counters by name.
fn parse_netstat(text: &str) -> Option<super::ListenCounters> {
    let mut lines = text.lines().filter(|line| line.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace().skip(1);
    let values = lines.next()?.split_whitespace().skip(1);
    let mut overflows = None;
    let mut drops = None;
    for (name, value) in names.zip(values) {
        match name {
            "ListenOverflows" => overflows = value.parse().ok(),
            "ListenDrops" => drops = value.parse().ok(),
            _ => {}
        }
    }
    Some(super::ListenCounters {
        listen_overflows: overflows?,
        listen_drops: drops?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_counters_are_found_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\nTcpExt: 4 17 19 3\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            parse_netstat(text),
            Some(crate::sys::ListenCounters {
                listen_overflows: 17,
                listen_drops: 19
            })
        );
        assert_eq!(parse_netstat("IpExt: A\nIpExt: 1\n"), None);
    }

    #[test]
    fn sandboxes_are_told_by_uname() {
        use crate::sys::Sandbox;
        for (release, version, expected) in [
            ("4.4.0", GVISOR_UNAME_VERSION, Some(Sandbox::Gvisor)),
            (
                "4.19.0-gvisor",
                "#1 SMP Fri Apr 3 2026",
                Some(Sandbox::Gvisor),
            ),
            (
                "5.15.153.1-microsoft-standard-WSL2",
                "#1 SMP Fri Mar 29 23:14:13 UTC 2024",
                Some(Sandbox::Wsl),
            ),
            ("6.18.44-fc-v782", "#1 SMP PREEMPT_DYNAMIC Debian", None),
            ("4.4.0", "#1 SMP Mon Jan 1 00:00:00 UTC 2018", None),
        ] {
            assert_eq!(classify_uname(release, version), expected, "{release}");
        }
    }

    #[test]
    fn sysctl_keys_cannot_leave_proc_sys() {
        assert_eq!(
            sysctl_path("net.core.somaxconn"),
            Some(std::path::PathBuf::from("/proc/sys/net/core/somaxconn"))
        );
        for bad in [
            "",
            "net..core",
            "net/core",
            "../etc",
            "net.core.",
            ".net",
            "net.co re",
        ] {
            assert_eq!(sysctl_path(bad), None, "{bad:?}");
        }
    }
}
