//! `listen()` on a datagram socket: what each OS returns.
//!
//! listen(2) applies to connection-oriented sockets: Linux's `inet_dgram_ops` has
//! `.listen = sock_no_listen`, which returns `EOPNOTSUPP` (net/ipv4/af_inet.c,
//! net/core/sock.c); UDP on macOS and FreeBSD leaves `pru_listen` at the default
//! `pru_listen_notsupp` (`EOPNOTSUPP`); Winsock documents `WSAEOPNOTSUPP` ("The referenced
//! socket is not of a type that supports the listen operation"). The harness measures what the
//! call returns rather than trusting that.

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use crate::experiment::loopback;
use crate::os_error::os_error_of;
use crate::plan::Family;
use crate::report::ListenReport;

/// The backlog passed to `listen()` on the datagram socket (any positive value would do).
pub const UDP_BACKLOG: i32 = 5;

/// What `listen()` on a bound UDP socket returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpListen {
    /// Loopback family.
    pub family: Family,
    /// The backlog passed to `listen()`.
    pub backlog: i32,
    /// `ok: true` if the OS accepted the call; otherwise the failed step (`socket`, `bind` or
    /// `listen`) and its raw error.
    pub listen: ListenReport,
}

/// Bind a UDP socket to the family's loopback address and call `listen()` on it.
pub fn udp_listen(family: Family) -> UdpListen {
    let failed = |stage: &str, error: &std::io::Error| ListenReport {
        ok: false,
        failed_at: Some(stage.to_string()),
        os_error: Some(os_error_of(error)),
    };
    let address = loopback(family);
    let listen = match Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    ) {
        Err(e) => failed("socket", &e),
        Ok(socket) => match socket.bind(&address.into()) {
            Err(e) => failed("bind", &e),
            Ok(()) => match socket.listen(UDP_BACKLOG) {
                Err(e) => failed("listen", &e),
                Ok(()) => ListenReport {
                    ok: true,
                    failed_at: None,
                    os_error: None,
                },
            },
        },
    };
    UdpListen {
        family,
        backlog: UDP_BACKLOG,
        listen,
    }
}
