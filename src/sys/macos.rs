//! macOS (XNU): `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` for the queue, `sysctl` for the knobs.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::{FdLimit, KernelQueue};

/// On loopback XNU answers a SYN inside `connect()`; with the kernel view to confirm a drop,
/// 200 ms is enough even on a loaded runner.
pub const ADMISSION_GRACE: Duration = Duration::from_millis(200);
/// XNU retransmits a SYN after 1 s (`tcp_syn_backoff[]` × `TCPTV_RTOBASE`,
/// bsd/netinet/tcp_timer.c); 1.5 s tells "unanswered" from "answered by the first retransmit".
pub const PENDING_DEADLINE: Duration = Duration::from_millis(1500);
/// SYN retransmits at 1, 2, 3 s after the first; 3.5 s sees at least two more tries.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

/// `PROC_PIDFDSOCKETINFO` from bsd/sys/proc_info.h (the libc crate lacks it).
const PROC_PIDFDSOCKETINFO: libc::c_int = 3;

/// `struct proc_fileinfo` (bsd/sys/proc_info.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct ProcFileInfo {
    fi_openflags: u32,
    fi_status: u32,
    fi_offset: i64,
    fi_type: i32,
    fi_guardflags: u32,
}

/// `struct sockbuf_info`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockbufInfo {
    sbi_cc: u32,
    sbi_hiwat: u32,
    sbi_mbcnt: u32,
    sbi_mbmax: u32,
    sbi_lowat: u32,
    sbi_flags: i16,
    sbi_timeo: i16,
}

/// `struct socket_info`, up to the protocol union, which is kept as opaque bytes: its largest
/// member, `un_sockinfo`, makes it 528 bytes (two 8-byte handles and two 255-byte addresses).
#[repr(C)]
#[derive(Clone, Copy)]
struct SocketInfo {
    soi_stat: [u64; 17], // struct vinfo_stat, 136 bytes, 8-byte aligned
    soi_so: u64,
    soi_pcb: u64,
    soi_type: i32,
    soi_protocol: i32,
    soi_family: i32,
    soi_options: i16,
    soi_linger: i16,
    soi_state: i16,
    soi_qlen: i16,
    soi_incqlen: i16,
    soi_qlimit: i16,
    soi_timeo: i16,
    soi_error: u16,
    soi_oobmark: u32,
    soi_rcv: SockbufInfo,
    soi_snd: SockbufInfo,
    soi_kind: i32,
    rfu_1: u32,
    soi_proto: [u64; 66],
}

/// `struct socket_fdinfo`: 792 bytes on every XNU from 10.14 on.
#[repr(C)]
#[derive(Clone, Copy)]
struct SocketFdInfo {
    pfi: ProcFileInfo,
    psi: SocketInfo,
}

/// `proc_pidfdinfo(getpid(), fd, PROC_PIDFDSOCKETINFO)`: `soi_qlen` (completed plus incomplete,
/// as `sonewconn()` counts them), `soi_incqlen` and `soi_qlimit` (bsd/kern/socket_info.c).
pub fn kernel_queue(socket: &Socket) -> Option<KernelQueue> {
    // SAFETY: SocketFdInfo is plain data; all-zero is a valid value.
    let mut info: SocketFdInfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<SocketFdInfo>() as libc::c_int;
    // SAFETY: the buffer is valid and `size` bytes long.
    let written = unsafe {
        libc::proc_pidfdinfo(
            libc::getpid(),
            socket.as_raw_fd(),
            PROC_PIDFDSOCKETINFO,
            (&mut info as *mut SocketFdInfo).cast(),
            size,
        )
    };
    if written != size {
        return None;
    }
    let non_negative = |v: i16| u32::try_from(v).ok();
    Some(KernelQueue {
        queued: non_negative(info.psi.soi_qlen)?,
        limit: non_negative(info.psi.soi_qlimit)?,
        incomplete: non_negative(info.psi.soi_incqlen),
    })
}

/// Whether the view shows a full queue: `sonewconn_internal()` (bsd/kern/uipc_socket2.c) refuses
/// when `so_qlen >= so_qlimit` (`kern.ipc.soqlimitcompat=1`, the default) or `so_qlen >=
/// 3 * so_qlimit / 2` (compat 0). Used only to stop waiting for a pending connect sooner.
pub fn queue_full(view: &KernelQueue) -> Option<bool> {
    let threshold = match super::unix::sysctl_int("kern.ipc.soqlimitcompat") {
        Some(0) => 3 * view.limit / 2,
        _ => view.limit,
    };
    Some(view.queued >= threshold)
}

/// The port is chosen at `bind()` here; nothing to defer (this system has no loopback source
/// address besides the first to spread clients over anyway).
pub fn defer_port_choice(_socket: &Socket) -> std::io::Result<()> {
    Ok(())
}

/// `SOMAXCONN` (128) from bsd/sys/socket.h, via the libc crate.
pub fn somaxconn_constant() -> i64 {
    i64::from(libc::SOMAXCONN)
}

/// `kern.ipc.somaxconn`.
pub fn somaxconn_setting() -> Option<(&'static str, i64)> {
    super::unix::sysctl_int("kern.ipc.somaxconn").map(|v| ("kern.ipc.somaxconn", v))
}

/// `kern.ipc.soqlimitcompat` and `kern.ipc.soqlencomp` decide the full test in
/// `sonewconn_internal()` (bsd/kern/uipc_socket2.c); `net.inet.tcp.keepinit` is the connect
/// timeout; the OS version is recorded because behaviour is reported to change by release.
pub fn tcp_settings() -> BTreeMap<String, String> {
    let mut settings = super::unix::sysctl_ints(&[
        "kern.ipc.somaxconn",
        "kern.ipc.soqlimitcompat",
        "kern.ipc.soqlencomp",
        "net.inet.tcp.keepinit",
        "kern.maxfilesperproc",
    ]);
    for name in ["kern.osproductversion", "kern.osversion"] {
        if let Some(value) = super::unix::sysctl_string(name) {
            settings.insert(name.to_string(), value);
        }
    }
    settings
}

/// `uname -r` (the Darwin version).
pub fn kernel_version() -> Option<String> {
    super::unix::uname_release()
}

/// macOS starts processes at 256 descriptors. Raise to `kern.maxfilesperproc`; where setrlimit
/// refuses that (it rejects values above OPEN_MAX = 10240 when the hard limit is infinite, per
/// setrlimit(2) COMPATIBILITY), fall back to OPEN_MAX.
pub fn raise_fd_limit() -> Option<FdLimit> {
    const OPEN_MAX: u64 = 10240;
    let ceiling =
        super::unix::sysctl_int("kern.maxfilesperproc").and_then(|v| u64::try_from(v).ok());
    let first = super::unix::raise_fd_limit_to(ceiling)?;
    if first.soft >= OPEN_MAX.min(first.hard) {
        return Some(first);
    }
    let second = super::unix::raise_fd_limit_to(Some(OPEN_MAX))?;
    Some(FdLimit {
        soft_before: first.soft_before,
        ..second
    })
}

/// XNU documents backlog <= 0 as "as if 0", which `solisten()` turns into somaxconn.
pub fn backlog_meaning(backlog: i32) -> Option<String> {
    (backlog <= 0).then(|| "solisten() treats a backlog <= 0 as somaxconn".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Offsets from bsd/sys/proc_info.h (xnu-11417.101.15), which the kernel copies out.
    #[test]
    fn socket_fdinfo_layout_matches_xnu() {
        assert_eq!(size_of::<ProcFileInfo>(), 24);
        assert_eq!(size_of::<SockbufInfo>(), 24);
        assert_eq!(size_of::<SocketFdInfo>(), 792);
        let psi = offset_of!(SocketFdInfo, psi);
        assert_eq!(psi, 24);
        assert_eq!(psi + offset_of!(SocketInfo, soi_qlen), 194);
        assert_eq!(psi + offset_of!(SocketInfo, soi_incqlen), 196);
        assert_eq!(psi + offset_of!(SocketInfo, soi_qlimit), 198);
        assert_eq!(psi + offset_of!(SocketInfo, soi_kind), 256);
        assert_eq!(psi + offset_of!(SocketInfo, soi_proto), 264);
    }

    #[test]
    fn kernel_queue_reads_a_listener() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(7).unwrap();
        let view = kernel_queue(&socket).expect("proc_pidfdinfo answers for our own listener");
        assert_eq!(view.queued, 0);
        // solisten() stores the clamped backlog: 7 is below every somaxconn in use.
        assert_eq!(view.limit, 7);
    }
}
