//! Linux: TCP_INFO on the listener, `/proc/sys` knobs, and Linux's SYN retransmission timing.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::{FdLimit, KernelQueue};

/// How long a connect may stay pending before the harness asks the kernel whether it queued the
/// connection. On loopback the whole handshake runs inside `connect()` (the SYN, SYN-ACK and ACK
/// are processed in the caller's softirq), so an admitted connection is writable at once; 200 ms
/// leaves room for a loaded machine.
pub const ADMISSION_GRACE: Duration = Duration::from_millis(200);

/// How long a connect may stay pending when the kernel view cannot settle it. A dropped SYN is
/// retransmitted after 1 s (`tcp_syn_linear_timeouts`, Documentation/networking/ip-sysctl.rst),
/// so 1.5 s tells "still unanswered" from "answered by the first retransmit".
pub const PENDING_DEADLINE: Duration = Duration::from_millis(1500);

/// After one accept frees a slot, how long to watch the pending client. Its SYN is retransmitted
/// at 1, 2, 3 s (Linux >= 6.5) or 1, 3 s (older kernels) after the first; 3.5 s covers both.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

/// `getsockopt(TCP_INFO)` on a listener: `tcpi_unacked` is `sk_ack_backlog` (children ready for
/// accept) and `tcpi_sacked` is `sk_max_ack_backlog` (the clamped backlog), per
/// net/ipv4/tcp.c `tcp_get_info()`.
pub fn kernel_queue(socket: &Socket) -> Option<KernelQueue> {
    // SAFETY: tcp_info is plain data.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the buffer and its length are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    // TCP_LISTEN is 10 in include/net/tcp_states.h; anything else is not a listener's view.
    if rc != 0 || info.tcpi_state != 10 {
        return None;
    }
    Some(KernelQueue {
        queued: info.tcpi_unacked,
        limit: info.tcpi_sacked,
        incomplete: None,
    })
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

/// Knobs that change what a full queue looks like (os-semantics.md §1.2–1.4).
pub fn tcp_settings() -> BTreeMap<String, String> {
    [
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

/// Raise the soft limit to the hard limit, and the hard limit to `fs.nr_open` where the process
/// is privileged (root or CAP_SYS_RESOURCE).
pub fn raise_fd_limit() -> Option<FdLimit> {
    let ceiling = read_proc("/proc/sys/fs/nr_open").and_then(|v| v.parse().ok());
    super::unix::raise_fd_limit_to(ceiling)
}

/// Linux gives no special meaning to any backlog value: negative ones become huge unsigned
/// values and are clamped (net/socket.c `__sys_listen_socket()`).
pub fn backlog_meaning(_backlog: i32) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tcp_get_info() reports the clamped backlog: i32::MAX and -1 become net.core.somaxconn
    /// (net/socket.c `__sys_listen_socket()`).
    #[test]
    fn tcp_info_reports_the_clamped_backlog() {
        let (_, somaxconn) = somaxconn_setting().expect("/proc/sys/net/core/somaxconn");
        for backlog in [i32::MAX, -1] {
            let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket
                .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
                .unwrap();
            socket.listen(backlog).unwrap();
            let view = kernel_queue(&socket).unwrap();
            assert_eq!(i64::from(view.limit), somaxconn, "backlog {backlog}");
        }
    }

    #[test]
    fn a_socket_that_is_not_listening_has_no_view() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        assert_eq!(kernel_queue(&socket), None);
    }

    #[test]
    fn the_knobs_that_shape_a_full_queue_are_read() {
        let settings = tcp_settings();
        for key in [
            "net.core.somaxconn",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.tcp_abort_on_overflow",
        ] {
            assert!(settings.contains_key(key), "{key} in {settings:?}");
        }
        assert!(kernel_version().is_some_and(|v| !v.is_empty()));
    }
}
