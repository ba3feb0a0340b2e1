//! `listen()` on a datagram socket: what each OS returns.
//!
//! listen(2) applies to connection-oriented sockets: Linux's `inet_dgram_ops` has
//! `.listen = sock_no_listen`, which returns `EOPNOTSUPP` (net/ipv4/af_inet.c,
//! net/core/sock.c); UDP on macOS and FreeBSD leaves `pru_listen` at the default
//! `pru_listen_notsupp` (`EOPNOTSUPP`); Winsock documents `WSAEOPNOTSUPP` ("The referenced
//! socket is not of a type that supports the listen operation"). The harness measures what the
//! call returns rather than trusting that.

use socket2::{Protocol, Type};

use crate::experiment::{listen_at, loopback};
use crate::observation::ListenReport;
use crate::observation::extras::UdpListen;
use crate::plan::Family;

/// The backlog passed to `listen()` on the datagram socket (any positive value would do).
pub const UDP_BACKLOG: i32 = 5;

/// Bind a UDP socket to the family's loopback address and call `listen()` on it.
pub fn udp_listen(family: Family) -> UdpListen {
    let listen = match listen_at(
        &loopback(family).into(),
        Type::DGRAM,
        Some(Protocol::UDP),
        UDP_BACKLOG,
    ) {
        Ok(_) => ListenReport::ok(),
        Err((stage, error)) => ListenReport::failed(stage, error),
    };
    UdpListen {
        family,
        backlog: UDP_BACKLOG,
        listen,
    }
}
