//! Linux: every TCP listener of this network namespace through sock_diag netlink, the interface
//! `ss -lnt` reads (`NETLINK_SOCK_DIAG`, `SOCK_DIAG_BY_FAMILY`; sock_diag(7)).
//!
//! The request is an `inet_diag_req_v2` per family (AF_INET, then AF_INET6) for IPPROTO_TCP
//! with `idiag_states = 1 << TCP_LISTEN`; the kernel answers with one `inet_diag_msg` per
//! listener, in as many datagrams as it takes, and ends the dump with `NLMSG_DONE` (or
//! `NLMSG_ERROR`). For a listener, net/ipv4/tcp_diag.c `tcp_diag_get_info()` sets
//! `idiag_rqueue = sk_ack_backlog` (children waiting for `accept()`) and `idiag_wqueue =
//! sk_max_ack_backlog` (the backlog as `listen()` stored it, after the somaxconn clamp of
//! net/socket.c `__sys_listen_socket()`), which is why `ss` prints them as Recv-Q and Send-Q.
//! The SYN queue (`inet_csk_reqsk_queue_len()`) is not in the message, nor in any attribute a
//! dump carries for a listener: it is reported as unknown.
//!
//! Unix-domain stream and seqpacket listeners come from `unix_diag` the same way
//! (net/unix/diag.c): `UDIAG_SHOW_RQLEN` gives, for a listener, the receive queue length (the
//! connections waiting for `accept()`) and `sk_max_ack_backlog`.
//!
//! The layouts are include/uapi/linux/netlink.h, inet_diag.h, sock_diag.h and unix_diag.h; they
//! are part of the kernel's stable ABI. Messages are built and read as bytes, field by field,
//! so nothing depends on Rust's struct layout. Listing needs no privileges: the kernel answers
//! any process for its own network namespace.
//!
//! The socket is a netlink socket: it carries no TCP traffic and touches no listener.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::{ListenerEntry, ListenerView, ListenerViewError, UnixListenerEntry};

/// sock_diag exposes the accept queue and the stored limit, not the SYN queue.
pub fn listener_view() -> ListenerView {
    ListenerView {
        source: "sock_diag netlink (inet_diag: idiag_rqueue = sk_ack_backlog, idiag_wqueue = sk_max_ack_backlog), as ss -lnt reads it",
        queue: true,
        limit: true,
        syn_queue: false,
        syn_queue_note: "Linux's sock_diag does not report a listener's SYN queue (half-open connections, inet_csk_reqsk_queue_len()); the column stays empty rather than show a guess. Its overflow shows in the TCPReqQFullDrop and TCPReqQFullDoCookies counters (--watch)",
        owners: "/proc/<pid>/fd links (socket:[inode]), as ss -p reads them: another user's processes need root (or CAP_SYS_PTRACE), and a process in another PID namespace is out of sight",
    }
}

/// `SOCK_DIAG_BY_FAMILY` (include/uapi/linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCP_LISTEN` (include/net/tcp_states.h); unix sockets use the same state numbers.
const TCP_LISTEN: u32 = 10;
/// `NLM_F_REQUEST | NLM_F_DUMP` (include/uapi/linux/netlink.h).
const DUMP_FLAGS: u16 = 0x1 | 0x300;
/// `NLM_F_DUMP_INTR`: the table changed while the kernel dumped it, so the dump may have missed
/// or repeated entries.
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `sizeof(struct nlmsghdr)`.
const NLMSG_HEADER: usize = 16;
/// `sizeof(struct inet_diag_msg)`.
const INET_DIAG_MSG: usize = 72;
/// `sizeof(struct unix_diag_msg)`.
const UNIX_DIAG_MSG: usize = 16;
/// unix_diag request flags (include/uapi/linux/unix_diag.h).
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_UID: u32 = 0x40;
/// unix_diag attribute types: `UNIX_DIAG_NAME`, `UNIX_DIAG_RQLEN`, `UNIX_DIAG_UID`.
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;
/// How long one whole dump may take: the kernel answers a dump of 10 000 listeners in tens of
/// milliseconds, so only a wedged kernel or a frozen process gets near this.
const DUMP_DEADLINE: Duration = Duration::from_secs(5);
/// A dump interrupted by a concurrent change is asked again this many times in all.
const DUMP_ATTEMPTS: usize = 3;
/// Receive buffer: netlink dumps come in datagrams of at most 32 KiB (net/netlink/af_netlink.c
/// `netlink_dump()`), so 64 KiB never truncates one.
const RECV_BUFFER: usize = 64 * 1024;

/// Linux's own full test, [`super::queue_full`] on `sk_ack_backlog` and `sk_max_ack_backlog`.
pub fn listener_full(entry: &ListenerEntry) -> Option<bool> {
    super::queue_full(&super::KernelQueue {
        queued: entry.queue?,
        limit: entry.limit?,
        incomplete: None,
    })
}

/// Every TCP listener of this network namespace, IPv4 first, then IPv6.
pub fn tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError> {
    let mut listeners = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        let messages = dump(&inet_request(family as u8, 1))?;
        for message in &messages {
            listeners.push(parse_inet_diag_msg(message)?);
        }
    }
    Ok(listeners)
}

/// Every Unix-domain stream and seqpacket listener of this network namespace.
pub fn unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError> {
    let messages = dump(&unix_request(1))?;
    let mut listeners = Vec::new();
    for message in &messages {
        if let Some(entry) = parse_unix_diag_msg(message)? {
            listeners.push(entry);
        }
    }
    Ok(listeners)
}

/// A dump request: `nlmsghdr` followed by `payload`.
fn request(payload: &[u8], seq: u32) -> Vec<u8> {
    let mut message = Vec::with_capacity(NLMSG_HEADER + payload.len());
    message.extend_from_slice(&((NLMSG_HEADER + payload.len()) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&DUMP_FLAGS.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills in ours
    message.extend_from_slice(payload);
    message
}

/// `struct inet_diag_req_v2` for TCP listeners of `family`: family, protocol, no extensions,
/// the state mask, and a zero `inet_diag_sockid` (no filter on addresses).
fn inet_request(family: u8, seq: u32) -> Request {
    let mut payload = vec![family, libc::IPPROTO_TCP as u8, 0, 0];
    payload.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    payload.extend_from_slice(&[0u8; 48]);
    Request {
        bytes: request(&payload, seq),
        seq,
        what: if i32::from(family) == libc::AF_INET {
            "inet_diag AF_INET"
        } else {
            "inet_diag AF_INET6"
        },
    }
}

/// `struct unix_diag_req` for listeners, with their name, queue and owner uid.
fn unix_request(seq: u32) -> Request {
    let mut payload = vec![libc::AF_UNIX as u8, 0, 0, 0];
    payload.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    payload.extend_from_slice(&0u32.to_ne_bytes()); // udiag_ino: any
    payload.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID).to_ne_bytes());
    payload.extend_from_slice(&[0u8; 8]); // udiag_cookie: any
    Request {
        bytes: request(&payload, seq),
        seq,
        what: "unix_diag",
    }
}

/// One dump request and how errors name it.
struct Request {
    bytes: Vec<u8>,
    seq: u32,
    what: &'static str,
}

/// Send `request` and collect the payloads of every message of its reply, asking again when
/// the kernel flags the dump as interrupted by a concurrent change.
fn dump(request: &Request) -> Result<Vec<Vec<u8>>, ListenerViewError> {
    let mut attempt = 1;
    loop {
        match dump_once(request)? {
            Dump::Complete(messages) => return Ok(messages),
            Dump::Interrupted(_) if attempt < DUMP_ATTEMPTS => attempt += 1,
            Dump::Interrupted(messages) => return Ok(messages),
        }
    }
}

/// A dump's messages, and whether the kernel said it was interrupted.
enum Dump {
    Complete(Vec<Vec<u8>>),
    Interrupted(Vec<Vec<u8>>),
}

fn netlink_error(call: &'static str, error: &std::io::Error) -> ListenerViewError {
    ListenerViewError::Call {
        call,
        code: error.raw_os_error().unwrap_or(-1),
    }
}

fn dump_once(request: &Request) -> Result<Dump, ListenerViewError> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(netlink_error(
            "socket(AF_NETLINK, NETLINK_SOCK_DIAG)",
            &std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` is a descriptor we just opened and own; OwnedFd closes it on every path.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; all-zero is "the kernel, no groups".
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the buffer and the address are valid for the call.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            request.bytes.as_ptr().cast(),
            request.bytes.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(netlink_error(
            "sendto(NETLINK_SOCK_DIAG)",
            &std::io::Error::last_os_error(),
        ));
    }
    let deadline = Instant::now() + DUMP_DEADLINE;
    let mut buffer = vec![0u8; RECV_BUFFER];
    let mut messages = Vec::new();
    let mut interrupted = false;
    loop {
        let received = receive(&socket, &mut buffer, deadline, request.what)?;
        match parse_datagram(&buffer[..received], request.seq, &mut messages)? {
            Part::More { interrupted: flag } => interrupted |= flag,
            Part::Done { interrupted: flag } => {
                return Ok(if interrupted || flag {
                    Dump::Interrupted(messages)
                } else {
                    Dump::Complete(messages)
                });
            }
            Part::Error(code) => {
                return Err(ListenerViewError::Call {
                    call: "SOCK_DIAG_BY_FAMILY",
                    code,
                });
            }
        }
    }
}

/// One `recv` with what is left of the deadline (`poll(2)` first, so a kernel that never
/// answers costs at most the deadline, not forever). `MSG_TRUNC` makes a datagram larger than
/// the buffer show up as such instead of being cut silently.
fn receive(
    socket: &OwnedFd,
    buffer: &mut [u8],
    deadline: Instant,
    what: &'static str,
) -> Result<usize, ListenerViewError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ListenerViewError::Timeout {
                call: "recv(NETLINK_SOCK_DIAG)",
                after: DUMP_DEADLINE,
            });
        }
        let mut fd = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut fd, 1, millis) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(netlink_error("poll(NETLINK_SOCK_DIAG)", &error));
        }
        if ready == 0 {
            continue;
        }
        // SAFETY: the buffer is valid for `buffer.len()` bytes.
        let received = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        if received < 0 {
            let error = std::io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINTR | libc::EAGAIN) => continue,
                _ => return Err(netlink_error("recv(NETLINK_SOCK_DIAG)", &error)),
            }
        }
        let received = received as usize;
        if received > buffer.len() {
            return Err(ListenerViewError::Malformed {
                call: what,
                detail: format!(
                    "a reply datagram of {received} bytes exceeds the {} byte buffer",
                    buffer.len()
                ),
            });
        }
        return Ok(received);
    }
}

/// What one datagram of a dump said.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    /// Messages were appended; more datagrams follow.
    More { interrupted: bool },
    /// `NLMSG_DONE` (or `NLMSG_ERROR` 0, an acknowledgement): the dump is complete.
    Done { interrupted: bool },
    /// `NLMSG_ERROR` with this (positive) errno.
    Error(i32),
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// `NLMSG_ALIGN`: messages and attributes start on 4-byte boundaries.
fn align4(length: usize) -> usize {
    (length + 3) & !3
}

/// Split one datagram into netlink messages, appending the payload of each answer to `seq`
/// to `messages` (others, which a netlink socket of our own should never get, are ignored).
fn parse_datagram(
    datagram: &[u8],
    seq: u32,
    messages: &mut Vec<Vec<u8>>,
) -> Result<Part, ListenerViewError> {
    let malformed = |detail: String| ListenerViewError::Malformed {
        call: "SOCK_DIAG_BY_FAMILY",
        detail,
    };
    let mut interrupted = false;
    let mut at = 0;
    while at + NLMSG_HEADER <= datagram.len() {
        let length = u32_at(datagram, at) as usize;
        let kind = u16_at(datagram, at + 4);
        let flags = u16_at(datagram, at + 6);
        let message_seq = u32_at(datagram, at + 8);
        if length < NLMSG_HEADER || at + length > datagram.len() {
            return Err(malformed(format!(
                "a message claims {length} bytes at offset {at} of a {} byte reply",
                datagram.len()
            )));
        }
        let payload = &datagram[at + NLMSG_HEADER..at + length];
        at += align4(length);
        if message_seq != seq {
            continue;
        }
        interrupted |= flags & NLM_F_DUMP_INTR != 0;
        match kind {
            NLMSG_DONE => return Ok(Part::Done { interrupted }),
            NLMSG_ERROR => {
                // struct nlmsgerr: int error (a negative errno, 0 for an acknowledgement),
                // then the request's header.
                if payload.len() < 4 {
                    return Err(malformed("an NLMSG_ERROR without its error code".into()));
                }
                let error = i32::from_ne_bytes(payload[..4].try_into().expect("4 bytes"));
                return Ok(if error == 0 {
                    Part::Done { interrupted }
                } else {
                    Part::Error(error.saturating_neg())
                });
            }
            SOCK_DIAG_BY_FAMILY => messages.push(payload.to_vec()),
            _ => {}
        }
    }
    Ok(Part::More { interrupted })
}

/// One `struct inet_diag_msg`: family, state, timer, retrans, `inet_diag_sockid` (ports in
/// network order, then source and destination as four big-endian words each, the interface,
/// the cookie), expires, rqueue, wqueue, uid, inode.
fn parse_inet_diag_msg(message: &[u8]) -> Result<ListenerEntry, ListenerViewError> {
    if message.len() < INET_DIAG_MSG {
        return Err(ListenerViewError::Malformed {
            call: "inet_diag",
            detail: format!(
                "an inet_diag_msg of {} bytes, shorter than {INET_DIAG_MSG}",
                message.len()
            ),
        });
    }
    let family = i32::from(message[0]);
    let port = u16::from_be_bytes([message[4], message[5]]);
    let source = &message[8..24];
    let interface = u32_at(message, 40);
    let ip = match family {
        libc::AF_INET => IpAddr::V4(Ipv4Addr::new(source[0], source[1], source[2], source[3])),
        libc::AF_INET6 => {
            let octets: [u8; 16] = source.try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        other => {
            return Err(ListenerViewError::Malformed {
                call: "inet_diag",
                detail: format!("a listener of address family {other}"),
            });
        }
    };
    let addr = match ip {
        // A link-local listener needs its interface to be an address at all; elsewhere the
        // interface (SO_BINDTODEVICE) is not part of the address.
        IpAddr::V6(v6) if v6.is_unicast_link_local() => {
            SocketAddr::V6(SocketAddrV6::new(v6, port, 0, interface))
        }
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, 0)),
        IpAddr::V4(_) => SocketAddr::new(ip, port),
    };
    Ok(ListenerEntry {
        addr,
        queue: Some(u32_at(message, 56)),
        limit: Some(u32_at(message, 60)),
        syn_queue: None,
        uid: Some(u32_at(message, 64)),
        inode: Some(u64::from(u32_at(message, 68))),
        owner_pid: None,
    })
}

/// One `struct unix_diag_msg` (family, type, state, pad, inode, cookie) and its attributes;
/// `None` for a socket that is not a listener (the state filter should already exclude them).
fn parse_unix_diag_msg(message: &[u8]) -> Result<Option<UnixListenerEntry>, ListenerViewError> {
    let malformed = |detail: String| ListenerViewError::Malformed {
        call: "unix_diag",
        detail,
    };
    if message.len() < UNIX_DIAG_MSG {
        return Err(malformed(format!(
            "a unix_diag_msg of {} bytes, shorter than {UNIX_DIAG_MSG}",
            message.len()
        )));
    }
    if u32::from(message[2]) != TCP_LISTEN {
        return Ok(None);
    }
    let socket_type = i32::from(message[1]);
    let inode = u64::from(u32_at(message, 4));
    let mut entry = UnixListenerEntry {
        path: None,
        seqpacket: socket_type == libc::SOCK_SEQPACKET,
        queue: None,
        limit: None,
        uid: None,
        inode: Some(inode),
    };
    let mut at = UNIX_DIAG_MSG;
    // struct rtattr: u16 length (header included), u16 type, the value, padded to 4 bytes.
    while at + 4 <= message.len() {
        let length = usize::from(u16_at(message, at));
        let kind = u16_at(message, at + 2);
        if length < 4 || at + length > message.len() {
            return Err(malformed(format!(
                "an attribute claims {length} bytes at offset {at} of {}",
                message.len()
            )));
        }
        let value = &message[at + 4..at + length];
        match kind {
            UNIX_DIAG_NAME => entry.path = Some(unix_name(value)),
            UNIX_DIAG_RQLEN if value.len() >= 8 => {
                entry.queue = Some(u32_at(value, 0));
                entry.limit = Some(u32_at(value, 4));
            }
            UNIX_DIAG_UID if value.len() >= 4 => entry.uid = Some(u32_at(value, 0)),
            _ => {}
        }
        at += align4(length);
    }
    Ok(Some(entry))
}

/// A `sun_path` as `ss -lx` prints it: a path, or `@name` for the abstract namespace (a leading
/// NUL byte).
fn unix_name(value: &[u8]) -> String {
    match value.split_first() {
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
        _ => {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            String::from_utf8_lossy(&value[..end]).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((NLMSG_HEADER + payload.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(&seq.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(payload);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        bytes
    }

    /// An inet_diag_msg as net/ipv4/inet_diag.c `inet_sk_diag_fill()` writes it.
    fn inet_msg(family: u8, address: &[u8], port: u16, rqueue: u32, wqueue: u32) -> Vec<u8> {
        let mut bytes = vec![family, TCP_LISTEN as u8, 0, 0];
        bytes.extend_from_slice(&port.to_be_bytes());
        bytes.extend_from_slice(&[0, 0]);
        let mut source = [0u8; 16];
        source[..address.len()].copy_from_slice(address);
        bytes.extend_from_slice(&source);
        bytes.extend_from_slice(&[0u8; 16]); // destination
        bytes.extend_from_slice(&3u32.to_ne_bytes()); // idiag_if
        bytes.extend_from_slice(&[0u8; 8]); // cookie
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // expires
        bytes.extend_from_slice(&rqueue.to_ne_bytes());
        bytes.extend_from_slice(&wqueue.to_ne_bytes());
        bytes.extend_from_slice(&1000u32.to_ne_bytes());
        bytes.extend_from_slice(&424242u32.to_ne_bytes());
        bytes
    }

    #[test]
    fn requests_have_the_uapi_sizes() {
        // nlmsghdr (16) + inet_diag_req_v2 (56); nlmsghdr + unix_diag_req (24).
        assert_eq!(inet_request(libc::AF_INET as u8, 7).bytes.len(), 72);
        assert_eq!(unix_request(7).bytes.len(), 40);
        let request = inet_request(libc::AF_INET6 as u8, 7).bytes;
        assert_eq!(u32_at(&request, 0), 72);
        assert_eq!(u16_at(&request, 4), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u16_at(&request, 6), DUMP_FLAGS);
        assert_eq!(request[16], libc::AF_INET6 as u8);
        assert_eq!(request[17], libc::IPPROTO_TCP as u8);
        assert_eq!(u32_at(&request, 20), 1 << 10);
    }

    #[test]
    fn listeners_are_read_field_by_field() {
        let v4 = parse_inet_diag_msg(&inet_msg(
            libc::AF_INET as u8,
            &[127, 0, 0, 1],
            8080,
            3,
            128,
        ))
        .unwrap();
        assert_eq!(v4.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            (v4.queue, v4.limit, v4.syn_queue),
            (Some(3), Some(128), None)
        );
        assert_eq!((v4.uid, v4.inode), (Some(1000), Some(424242)));
        let v6 = parse_inet_diag_msg(&inet_msg(
            libc::AF_INET6 as u8,
            &Ipv6Addr::LOCALHOST.octets(),
            443,
            0,
            4096,
        ))
        .unwrap();
        assert_eq!(v6.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(v6.addr.port(), 443);
        assert_eq!(v6.limit, Some(4096));
        assert!(parse_inet_diag_msg(&[0u8; 40]).is_err());
        let mut strange = inet_msg(1, &[], 1, 0, 0);
        strange[0] = 99;
        assert!(parse_inet_diag_msg(&strange).is_err());
    }

    #[test]
    fn a_multi_part_dump_ends_at_done_or_error() {
        let mut messages = Vec::new();
        let mut first = message(SOCK_DIAG_BY_FAMILY, 2, 5, &[1; 72]);
        first.extend(message(SOCK_DIAG_BY_FAMILY, 2, 5, &[2; 72]));
        first.extend(message(SOCK_DIAG_BY_FAMILY, 2, 9, &[3; 72])); // someone else's
        assert_eq!(
            parse_datagram(&first, 5, &mut messages).unwrap(),
            Part::More { interrupted: false }
        );
        let second = message(NLMSG_DONE, NLM_F_DUMP_INTR, 5, &0i32.to_ne_bytes());
        assert_eq!(
            parse_datagram(&second, 5, &mut messages).unwrap(),
            Part::Done { interrupted: true }
        );
        assert_eq!(messages.len(), 2);
        let refused = message(NLMSG_ERROR, 0, 5, &(-libc::EACCES).to_ne_bytes());
        assert_eq!(
            parse_datagram(&refused, 5, &mut messages).unwrap(),
            Part::Error(libc::EACCES)
        );
        let mut cut = message(SOCK_DIAG_BY_FAMILY, 2, 5, &[1; 72]);
        cut.truncate(40);
        assert!(parse_datagram(&cut, 5, &mut messages).is_err());
    }

    #[test]
    fn unix_listeners_carry_name_queue_and_limit() {
        let mut bytes = vec![libc::AF_UNIX as u8, libc::SOCK_STREAM as u8, 10, 0];
        bytes.extend_from_slice(&77u32.to_ne_bytes());
        bytes.extend_from_slice(&[0u8; 8]);
        let name = b"\0backlog";
        bytes.extend_from_slice(&((4 + name.len()) as u16).to_ne_bytes());
        bytes.extend_from_slice(&UNIX_DIAG_NAME.to_ne_bytes());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(&12u16.to_ne_bytes());
        bytes.extend_from_slice(&UNIX_DIAG_RQLEN.to_ne_bytes());
        bytes.extend_from_slice(&2u32.to_ne_bytes());
        bytes.extend_from_slice(&5u32.to_ne_bytes());
        let entry = parse_unix_diag_msg(&bytes).unwrap().unwrap();
        assert_eq!(entry.path.as_deref(), Some("@backlog"));
        assert_eq!((entry.queue, entry.limit), (Some(2), Some(5)));
        assert_eq!(entry.inode, Some(77));
        assert!(!entry.seqpacket);
    }

    /// Our own listener appears with the backlog it asked for (below every somaxconn in use)
    /// and the inode its descriptor links to.
    #[test]
    fn the_kernel_lists_our_own_listener() {
        use std::os::unix::fs::MetadataExt;
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(7).unwrap();
        let address = socket.local_addr().unwrap().as_socket().unwrap();
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
            .unwrap()
            .ino();
        let listeners = tcp_listeners().unwrap();
        let ours = listeners
            .iter()
            .find(|entry| entry.addr == address)
            .expect("our listener is listed");
        assert_eq!((ours.queue, ours.limit), (Some(0), Some(7)));
        assert_eq!(ours.inode, Some(inode));
    }

    /// Our own Unix-domain listener appears under its path with its limit, and one queued
    /// connection shows as a queue of one.
    #[test]
    fn the_kernel_lists_our_own_unix_listener() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("listener.sock");
        let socket =
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&socket2::SockAddr::unix(&path).unwrap())
            .unwrap();
        socket.listen(3).unwrap();
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let listeners = unix_listeners().unwrap();
        let name = path.to_str().unwrap();
        let ours = listeners
            .iter()
            .find(|entry| entry.path.as_deref() == Some(name))
            .expect("our listener is listed");
        assert_eq!((ours.queue, ours.limit), (Some(1), Some(3)));
    }

    /// A failed call prints as one line with the call and the errno by name.
    #[test]
    fn errors_name_the_call_and_the_errno() {
        let error = ListenerViewError::Call {
            call: "sendto(NETLINK_SOCK_DIAG)",
            code: libc::EACCES,
        };
        assert_eq!(
            error.to_string(),
            "sendto(NETLINK_SOCK_DIAG) failed: EACCES (13)"
        );
        let late = ListenerViewError::Timeout {
            call: "recv(NETLINK_SOCK_DIAG)",
            after: DUMP_DEADLINE,
        };
        assert_eq!(
            late.to_string(),
            "recv(NETLINK_SOCK_DIAG) gave no answer within 5000 ms"
        );
    }
}
