//! FreeBSD: `SO_LISTENQLIMIT` / `SO_LISTENQLEN` / `SO_LISTENINCQLEN` and `sysctl` knobs.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::{FdLimit, KernelQueue};

/// With the kernel view to confirm a drop, 200 ms is enough on loopback.
pub const ADMISSION_GRACE: Duration = Duration::from_millis(200);
/// FreeBSD retransmits a SYN after about 1 s (TCPTV_RTOBASE); 1.5 s covers it.
pub const PENDING_DEADLINE: Duration = Duration::from_millis(1500);
/// Watch the pending client through a few retransmissions.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

fn sockopt_int(socket: &Socket, option: libc::c_int) -> Option<u32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the buffer and its length are valid for the call.
    super::unix::cvt(unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })
    .ok()?;
    u32::try_from(value).ok()
}

/// `sol_qlen`, `sol_incqlen` and `sol_qlimit` (sys/kern/uipc_socket.c `sogetopt`).
pub fn kernel_queue(socket: &Socket) -> Option<KernelQueue> {
    Some(KernelQueue {
        queued: sockopt_int(socket, libc::SO_LISTENQLEN)?,
        limit: sockopt_int(socket, libc::SO_LISTENQLIMIT)?,
        incomplete: sockopt_int(socket, libc::SO_LISTENINCQLEN),
    })
}

/// Whether the view shows a full queue: `solisten_clone()` (sys/kern/uipc_socket.c; `sonewconn()`
/// before 14) refuses when `sol_qlen > 3 * sol_qlimit / 2`. Used only to stop waiting for a
/// pending connect sooner.
pub fn queue_full(view: &KernelQueue) -> Option<bool> {
    Some(view.queued > 3 * view.limit / 2)
}

/// The port is chosen at `bind()` here; nothing to defer (this system has no loopback source
/// address besides the first to spread clients over anyway).
pub fn defer_port_choice(_socket: &Socket) -> std::io::Result<()> {
    Ok(())
}

/// `SOMAXCONN` (128) via the libc crate.
pub fn somaxconn_constant() -> i64 {
    i64::from(libc::SOMAXCONN)
}

/// `kern.ipc.soacceptqueue` (`kern.ipc.somaxconn` is its hidden alias).
pub fn somaxconn_setting() -> Option<(&'static str, i64)> {
    super::unix::sysctl_int("kern.ipc.soacceptqueue").map(|v| ("kern.ipc.soacceptqueue", v))
}

/// `net.inet.tcp.syncache.rst_on_sock_fail` decides whether a full queue answers the final ACK
/// with RST (sys/netinet/tcp_syncache.c).
pub fn tcp_settings() -> BTreeMap<String, String> {
    let mut settings = super::unix::sysctl_ints(&[
        "kern.ipc.soacceptqueue",
        "net.inet.tcp.syncache.rst_on_sock_fail",
        "net.inet.tcp.syncookies",
        "net.inet.tcp.keepinit",
        "kern.maxfilesperproc",
    ]);
    if let Some(release) = super::unix::sysctl_string("kern.osrelease") {
        settings.insert("kern.osrelease".to_string(), release);
    }
    settings
}

/// `uname -r`.
pub fn kernel_version() -> Option<String> {
    super::unix::uname_release()
}

/// Raise toward `kern.maxfilesperproc`.
pub fn raise_fd_limit() -> Option<FdLimit> {
    let ceiling =
        super::unix::sysctl_int("kern.maxfilesperproc").and_then(|v| u64::try_from(v).ok());
    super::unix::raise_fd_limit_to(ceiling)
}

/// `solisten_proto()` turns a negative backlog into somaxconn.
pub fn backlog_meaning(backlog: i32) -> Option<String> {
    (backlog < 0).then(|| "solisten_proto() treats a negative backlog as somaxconn".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_queue_reads_a_listener() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(7).unwrap();
        let view = kernel_queue(&socket).expect("SO_LISTENQLIMIT answers for a listener");
        assert_eq!((view.queued, view.limit), (0, 7));
    }
}
