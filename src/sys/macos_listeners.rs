//! macOS (XNU): every TCP listener from the sysctl `net.inet.tcp.pcblist_n`, the list
//! `netstat -Lan` itself reads, and the overflow counter from `net.inet.tcp.stats`.
//!
//! Why the sysctl and not `netstat -Lan` text: the list is a sequence of self-describing
//! records, each starting with its own length and kind (`xgn_len`, `xgn_kind`; bsd/netinet/
//! in_pcblist.c `get_pcblist_n()` writes, per pcb, an `xinpcb_n`, an `xsocket_n`, two
//! `xsockbuf_n`, an `xsockstat_n` and an `xtcpcb_n`, each padded to 8 bytes), so the reader
//! walks it by those lengths the way netstat's inet.c does, and reads only fields at the
//! start of `xinpcb_n` and `xsocket_n` that have kept their place since the `_n` records
//! appeared (10.6); a record shorter than those fields is an error, not a guess. netstat's
//! text, by contrast, changes with its flags and truncates addresses.
//!
//! Layouts (bsd/netinet/in_pcb.h, bsd/sys/socketvar.h, xnu-11417): `xinpcb_n` has `xi_len`,
//! `xi_kind` (u32 each), `xi_inpp` (u64), `inp_fport`, `inp_lport` (u16, network order, at
//! 16 and 18), `inp_ppcb`, `inp_gencnt` (u64), `inp_flags`, `inp_flow` (u32), `inp_vflag`
//! (u8 at 48: INP_IPV4 0x1, INP_IPV6 0x2), `inp_ip_ttl`, `inp_ip_p`, then the foreign and
//! local address unions (`in_addr_4in6` or `in6_addr`, 4-aligned: at 52 and 68; an IPv4
//! address is the last 4 bytes). `xsocket_n` has `xso_len`, `xso_kind`, `xso_so` (u64),
//! `so_type` (i16), `so_options` (u32 at 20), `so_linger`, `so_state` (i16), `so_pcb` (u64),
//! `xso_protocol`, `xso_family` (i32), then `so_qlen`, `so_incqlen`, `so_qlimit` (i16 at 48,
//! 50, 52), `so_timeo`, `so_error`, `so_pgid`, `so_oobmark`, `so_uid` (at 68), `so_last_pid`
//! (at 72), `so_e_pid`.
//!
//! On XNU `so_qlen` counts completed and incomplete connections together and `so_incqlen` the
//! incomplete ones (XNU has no syncache: a SYN makes an embryonic socket on the listener's
//! incomplete queue, bsd/kern/uipc_socket2.c `sonewconn_internal()`), so the accept queue is
//! `so_qlen - so_incqlen` and the SYN queue is `so_incqlen`.

use super::{
    ListenerEntry, ListenerView, ListenerViewError, OverflowCounters, SocketOwners,
    UnixListenerEntry,
};

const XSO_SOCKET: u32 = 0x001;
const XSO_INPCB: u32 = 0x010;
/// `SO_ACCEPTCONN` (bsd/sys/socket.h): the socket has called `listen()`.
const SO_ACCEPTCONN: u32 = 0x0002;
/// `sizeof(struct xinpgen)`: the list starts and ends with one.
const XINPGEN: usize = 24;
/// The fields read from each record end here.
const XINPCB_N_READ: usize = 84;
const XSOCKET_N_READ: usize = 76;
/// `tcps_listendrop` is the 61st u32 of `struct tcpstat` (bsd/netinet/tcp_var.h).
const TCPS_LISTENDROP: usize = 60 * 4;

/// What XNU shows: queue, incomplete queue and limit per listener.
pub fn listener_view() -> ListenerView {
    ListenerView {
        source: "sysctl net.inet.tcp.pcblist_n (xsocket_n so_qlen, so_incqlen, so_qlimit), as netstat -Lan reads it",
        queue: true,
        limit: true,
        syn_queue: true,
        syn_queue_note: "XNU keeps half-open connections on the listener's incomplete queue (so_incqlen; it has no syncache); the queue column is so_qlen - so_incqlen",
        owners: "so_last_pid, the last process that used the socket (as netstat -anv prints it), where that process still exists; a socket shared or passed on may show one of its holders",
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn malformed(detail: String) -> ListenerViewError {
    ListenerViewError::Malformed {
        call: "sysctl net.inet.tcp.pcblist_n",
        detail,
    }
}

/// The address and port of an `xinpcb_n`.
fn local_address(inpcb: &[u8]) -> Option<std::net::SocketAddr> {
    let port = u16::from_be_bytes([inpcb[18], inpcb[19]]);
    let vflag = inpcb[48];
    let local = &inpcb[68..84];
    if vflag & 0x2 != 0 {
        let octets: [u8; 16] = local.try_into().ok()?;
        Some(std::net::SocketAddr::from((
            std::net::Ipv6Addr::from(octets),
            port,
        )))
    } else if vflag & 0x1 != 0 {
        Some(std::net::SocketAddr::from((
            [local[12], local[13], local[14], local[15]],
            port,
        )))
    } else {
        None
    }
}

/// Walk the records of a `pcblist_n` answer and pair each `xinpcb_n` with the `xsocket_n`
/// after it; keep the listening ones.
fn parse_pcblist_n(list: &[u8]) -> Result<Vec<ListenerEntry>, ListenerViewError> {
    if list.len() < XINPGEN {
        return Err(malformed(format!("a list of {} bytes", list.len())));
    }
    let mut listeners = Vec::new();
    let mut at = (u32_at(list, 0) as usize).next_multiple_of(8);
    let mut inpcb: Option<&[u8]> = None;
    while at + 8 <= list.len() {
        let length = u32_at(list, at) as usize;
        let kind = u32_at(list, at + 4);
        // The closing xinpgen (its second word is a count, not a kind).
        if length <= XINPGEN {
            break;
        }
        let Some(record) = list.get(at..at + length) else {
            return Err(malformed(format!(
                "a record of {length} bytes at offset {at} of {}",
                list.len()
            )));
        };
        match kind {
            XSO_INPCB => {
                if length < XINPCB_N_READ {
                    return Err(malformed(format!("an xinpcb_n of {length} bytes")));
                }
                inpcb = Some(record);
            }
            XSO_SOCKET => {
                if length < XSOCKET_N_READ {
                    return Err(malformed(format!("an xsocket_n of {length} bytes")));
                }
                let listening = u32_at(record, 20) & SO_ACCEPTCONN != 0;
                if let (true, Some(inpcb)) = (listening, inpcb.take()) {
                    if let Some(addr) = local_address(inpcb) {
                        let count = |at| u32::try_from(u16_at(record, at) as i16).ok();
                        let (qlen, incqlen) = (count(48), count(50));
                        let last_pid = u32_at(record, 72);
                        listeners.push(ListenerEntry {
                            addr,
                            queue: qlen.zip(incqlen).map(|(q, i)| q.saturating_sub(i)),
                            limit: count(52),
                            syn_queue: incqlen,
                            uid: Some(u32_at(record, 68)),
                            inode: None,
                            owner_pid: (last_pid != 0 && process_name(last_pid).is_some())
                                .then_some(last_pid),
                        });
                    }
                }
            }
            _ => {}
        }
        at += length.next_multiple_of(8);
    }
    Ok(listeners)
}

/// Every TCP listener (IPv4 and IPv6 share XNU's TCP pcb list).
pub fn tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError> {
    let list = super::unix::sysctl_bytes("net.inet.tcp.pcblist_n").map_err(|code| {
        ListenerViewError::Call {
            call: "sysctl net.inet.tcp.pcblist_n",
            code,
        }
    })?;
    parse_pcblist_n(&list)
}

/// Not listed here (XNU's `net.local.stream.pcblist_n` would have them; not read yet).
pub fn unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "Unix-domain listeners are listed on Linux only",
    ))
}

/// XNU's own full test on the total count (`so_qlen`, completed plus incomplete), as
/// [`super::queue_full`] applies it.
pub fn listener_full(entry: &ListenerEntry) -> Option<bool> {
    let (queue, limit) = (entry.queue?, entry.limit?);
    super::queue_full(&super::KernelQueue {
        queued: queue + entry.syn_queue.unwrap_or(0),
        limit,
        incomplete: entry.syn_queue,
    })
}

/// Owners come from `so_last_pid` in the list itself.
pub fn socket_owners() -> SocketOwners {
    SocketOwners::default()
}

/// `proc_name(3)` (libproc): the process's name, if it exists and may be asked.
pub fn process_name(pid: u32) -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    let written = unsafe {
        libc::proc_name(
            i32::try_from(pid).ok()?,
            buffer.as_mut_ptr().cast(),
            buffer.len() as u32,
        )
    };
    let written = usize::try_from(written).ok().filter(|&n| n > 0)?;
    Some(String::from_utf8_lossy(&buffer[..written.min(buffer.len())]).into_owned())
}

/// `tcps_listendrop` ("listen queue overflows") of `net.inet.tcp.stats` (`struct tcpstat`,
/// all u32, bsd/netinet/tcp_var.h), as `netstat -s -p tcp` prints it.
pub fn overflow_counters() -> Result<OverflowCounters, ListenerViewError> {
    let stats = super::unix::sysctl_bytes("net.inet.tcp.stats").map_err(|code| {
        ListenerViewError::Call {
            call: "sysctl net.inet.tcp.stats",
            code,
        }
    })?;
    if stats.len() < TCPS_LISTENDROP + 4 {
        return Err(ListenerViewError::Malformed {
            call: "sysctl net.inet.tcp.stats",
            detail: format!("a struct tcpstat of {} bytes", stats.len()),
        });
    }
    Ok(OverflowCounters {
        source: "sysctl net.inet.tcp.stats, system-wide",
        values: vec![(
            "tcps_listendrop".to_string(),
            u64::from(u32_at(&stats, TCPS_LISTENDROP)),
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener made here is found with its backlog and this process as its last user.
    #[test]
    fn our_own_listener_is_listed() {
        let listener =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        listener
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(5).unwrap();
        let address = listener.local_addr().unwrap().as_socket().unwrap();
        let found = tcp_listeners().unwrap();
        let ours = found
            .iter()
            .find(|entry| entry.addr == address)
            .expect("our listener is listed");
        // solisten() stores 5: below every kern.ipc.somaxconn in use.
        assert_eq!(ours.queue, Some(0));
        assert_eq!(ours.limit, Some(5));
        assert_eq!(ours.owner_pid, Some(std::process::id()));
    }
}
