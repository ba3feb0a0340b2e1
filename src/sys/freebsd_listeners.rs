//! FreeBSD: every TCP listener from the sysctl `net.inet.tcp.pcblist`, the list `netstat -Lan`
//! reads, and the overflow counters from `net.inet.tcp.stats`.
//!
//! Why the sysctl and not `netstat -Lan` text: since FreeBSD 12 the exported records are built
//! for a stable ABI (fixed-size `ksize_t`/`kvaddr_t` fields and spare words reserved for
//! growth, sys/sys/socketvar.h and sys/netinet/in_pcb.h), and every record starts with its own
//! length, so the reader checks the lengths it was written for and refuses a list it cannot
//! read instead of misreading it. netstat's text changes with its flags.
//!
//! The answer is an `xinpgen`, one `xtcpcb` per pcb, and a closing `xinpgen`
//! (sys/netinet/tcp_subr.c `tcp_pcblist()`). Layouts, as read in sys/netinet/tcp_var.h,
//! in_pcb.h and sys/sys/socketvar.h (13 and 14):
//! - `struct xtcpcb { ksize_t xt_len; struct xinpcb xt_inp; ... }`: the `xinpcb` at 8;
//! - `struct xinpcb { ksize_t xi_len; struct xsocket xi_socket; struct in_conninfo inp_inc;
//!   uint64_t inp_gencnt; kvaddr_t inp_ppcb; int64_t inp_spare64[4]; uint32_t inp_flow,
//!   inp_flowid, inp_flowtype; int32_t inp_flags, inp_flags2, (unused), in6p_cksum,
//!   inp_spare32[4]; uint16_t in6p_hops; uint8_t inp_ip_tos; int8_t pad8; uint8_t inp_vflag;
//!   ... }`: 400 bytes, `xi_socket` at 8, `inp_inc` at 248, `inp_vflag` at 392;
//! - `struct xsocket { ksize_t xso_len; kvaddr_t xso_so, so_pcb; uint64_t so_oobmark;
//!   kvaddr_t so_splice_so; int64_t so_spare64[7]; int32_t xso_protocol, xso_family;
//!   uint32_t so_qlen, so_incqlen, so_qlimit; pid_t so_pgid; uid_t so_uid; int32_t
//!   so_spare32[8]; int16_t so_type, so_options, ...; struct xsockbuf so_rcv, so_snd; }`:
//!   240 bytes, `so_qlen` at 104, `so_incqlen` 108, `so_qlimit` 112, `so_uid` 120,
//!   `so_options` 158;
//! - `struct in_conninfo { uint8_t inc_flags, inc_len; uint16_t inc_fibnum; struct
//!   in_endpoints { uint16_t ie_fport, ie_lport; union faddr; union laddr; uint32_t
//!   ie6_zoneid; } }`: `ie_lport` at 6, the local address at 24 (an IPv4 address in its last 4
//!   bytes).
//!
//! For a listener, `sotoxsocket()` (sys/kern/uipc_socket.c) fills `so_qlen`, `so_incqlen` and
//! `so_qlimit` from `sol_qlen`, `sol_incqlen` and `sol_qlimit`: completed connections,
//! incomplete ones (the syncache holds half-open connections instead, so this is normally 0)
//! and the stored limit.

use super::{
    ListenerEntry, ListenerView, ListenerViewError, OverflowCounters, SocketOwners,
    UnixListenerEntry,
};

/// `sizeof(struct xinpcb)` and `sizeof(struct xsocket)` as this reader knows them.
const XINPCB_LEN: u64 = 400;
const XSOCKET_LEN: u64 = 240;
/// `SO_ACCEPTCONN` (sys/sys/socket.h).
const SO_ACCEPTCONN: u16 = 0x0002;
/// `INP_IPV4`, `INP_IPV6` (sys/netinet/in_pcb.h).
const INP_IPV4: u8 = 0x1;
const INP_IPV6: u8 = 0x2;
/// Offsets in an `xtcpcb` record.
const INP: usize = 8;
const SOCKET: usize = INP + 8;
const CONNINFO: usize = INP + 248;
const VFLAG: usize = INP + 392;
/// `tcps_listendrop`, `tcps_sc_bucketoverflow`, `tcps_sc_cacheoverflow`: u64 words 62, 69 and
/// 70 of `struct tcpstat` (sys/netinet/tcp_var.h).
const TCPSTAT_COUNTERS: [(&str, usize); 3] = [
    ("tcps_listendrop", 62),
    ("tcps_sc_bucketoverflow", 69),
    ("tcps_sc_cacheoverflow", 70),
];

/// What FreeBSD shows: the accept queue, the incomplete queue and the limit per listener.
pub fn listener_view() -> ListenerView {
    ListenerView {
        source: "sysctl net.inet.tcp.pcblist (xsocket so_qlen, so_incqlen, so_qlimit), as netstat -Lan reads it",
        queue: true,
        limit: true,
        syn_queue: true,
        syn_queue_note: "FreeBSD keeps half-open connections in the syncache, shared by every listener (net.inet.tcp.syncache.bucketlimit per bucket), not on the listener: so_incqlen is normally 0; a full syncache shows in tcps_sc_bucketoverflow and tcps_sc_cacheoverflow (--watch)",
        owners: "not read on FreeBSD (sockstat -l shows them)",
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn malformed(detail: String) -> ListenerViewError {
    ListenerViewError::Malformed {
        call: "sysctl net.inet.tcp.pcblist",
        detail,
    }
}

/// The listeners of a `pcblist` answer.
fn parse_pcblist(list: &[u8]) -> Result<Vec<ListenerEntry>, ListenerViewError> {
    if list.len() < 8 {
        return Err(malformed(format!("a list of {} bytes", list.len())));
    }
    let header = u64_at(list, 0) as usize;
    let mut at = header;
    let mut listeners = Vec::new();
    while at + 8 <= list.len() {
        let length = u64_at(list, at) as usize;
        // The closing xinpgen has the header's length.
        if length == header {
            break;
        }
        let Some(record) = list.get(at..at + length) else {
            return Err(malformed(format!(
                "a record of {length} bytes at offset {at} of {}",
                list.len()
            )));
        };
        if record.len() < VFLAG + 1
            || u64_at(record, INP) != XINPCB_LEN
            || u64_at(record, SOCKET) != XSOCKET_LEN
        {
            return Err(malformed(format!(
                "an xtcpcb of {length} bytes whose xinpcb is {} and xsocket {} bytes (this reader knows {XINPCB_LEN} and {XSOCKET_LEN})",
                record.get(INP..INP + 8).map_or(0, |_| u64_at(record, INP)),
                record
                    .get(SOCKET..SOCKET + 8)
                    .map_or(0, |_| u64_at(record, SOCKET)),
            )));
        }
        let options = u16::from_ne_bytes([record[SOCKET + 158], record[SOCKET + 159]]);
        if options & SO_ACCEPTCONN != 0 {
            let port = u16::from_be_bytes([record[CONNINFO + 6], record[CONNINFO + 7]]);
            let local = &record[CONNINFO + 24..CONNINFO + 40];
            let vflag = record[VFLAG];
            let addr = if vflag & INP_IPV6 != 0 {
                let octets: [u8; 16] = local.try_into().expect("16 bytes");
                Some(std::net::SocketAddr::from((
                    std::net::Ipv6Addr::from(octets),
                    port,
                )))
            } else if vflag & INP_IPV4 != 0 {
                Some(std::net::SocketAddr::from((
                    [local[12], local[13], local[14], local[15]],
                    port,
                )))
            } else {
                None
            };
            if let Some(addr) = addr {
                listeners.push(ListenerEntry {
                    addr,
                    queue: Some(u32_at(record, SOCKET + 104)),
                    limit: Some(u32_at(record, SOCKET + 112)),
                    syn_queue: Some(u32_at(record, SOCKET + 108)),
                    uid: Some(u32_at(record, SOCKET + 120)),
                    inode: None,
                    owner_pid: None,
                });
            }
        }
        at += length;
    }
    Ok(listeners)
}

/// Every TCP listener (IPv4 and IPv6 share the TCP pcb list).
pub fn tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError> {
    let list = super::unix::sysctl_bytes("net.inet.tcp.pcblist").map_err(|code| {
        ListenerViewError::Call {
            call: "sysctl net.inet.tcp.pcblist",
            code,
        }
    })?;
    parse_pcblist(&list)
}

/// Not listed here (`net.local.stream.pcblist` would have them; not read yet).
pub fn unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "Unix-domain listeners are listed on Linux only",
    ))
}

/// FreeBSD's own full test on the completed queue ([`super::queue_full`]).
pub fn listener_full(entry: &ListenerEntry) -> Option<bool> {
    super::queue_full(&super::KernelQueue {
        queued: entry.queue?,
        limit: entry.limit?,
        incomplete: entry.syn_queue,
    })
}

/// Owners are not read on FreeBSD.
pub fn socket_owners() -> SocketOwners {
    SocketOwners::default()
}

/// Not looked up on FreeBSD.
pub fn process_name(_pid: u32) -> Option<String> {
    None
}

/// `tcps_listendrop` and the syncache overflows of `net.inet.tcp.stats`, as `netstat -s -p tcp`
/// prints them ("listen queue overflows", "dropped due to full bucket / cache").
pub fn overflow_counters() -> Result<OverflowCounters, ListenerViewError> {
    let stats = super::unix::sysctl_bytes("net.inet.tcp.stats").map_err(|code| {
        ListenerViewError::Call {
            call: "sysctl net.inet.tcp.stats",
            code,
        }
    })?;
    let needed = (TCPSTAT_COUNTERS[2].1 + 1) * 8;
    if stats.len() < needed {
        return Err(ListenerViewError::Malformed {
            call: "sysctl net.inet.tcp.stats",
            detail: format!("a struct tcpstat of {} bytes", stats.len()),
        });
    }
    Ok(OverflowCounters {
        source: "sysctl net.inet.tcp.stats, this vnet",
        values: TCPSTAT_COUNTERS
            .iter()
            .map(|(name, word)| (name.to_string(), u64_at(&stats, word * 8)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener made here is found with its backlog.
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
        // solisten_proto() stores 5: below every kern.ipc.soacceptqueue in use.
        assert_eq!((ours.queue, ours.limit), (Some(0), Some(5)));
    }
}
