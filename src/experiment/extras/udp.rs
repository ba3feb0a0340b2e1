//! `listen()` on a datagram socket: what each OS returns.
//!
//! listen(2) applies to connection-oriented sockets: Linux's `inet_dgram_ops` has
//! `.listen = sock_no_listen`, which returns `EOPNOTSUPP` (net/ipv4/af_inet.c,
//! net/core/sock.c); UDP on macOS and FreeBSD leaves `pru_listen` at the default
//! `pru_listen_notsupp` (`EOPNOTSUPP`); Winsock documents `WSAEOPNOTSUPP` ("The referenced
//! socket is not of a type that supports the listen operation"). The harness measures what the
//! call returns rather than trusting that.

use socket2::{Domain, Protocol, Socket, Type};

use crate::experiment::loopback;
use crate::observation::extras::UdpListen;
use crate::observation::{ListenReport, SetupStage};
use crate::os_error::os_error_of;
use crate::plan::Family;

/// The backlog passed to `listen()` on the datagram socket (any positive value would do).
pub const UDP_BACKLOG: i32 = 5;

/// Bind a UDP socket to the family's loopback address and call `listen()` on it.
pub fn udp_listen(family: Family) -> UdpListen {
    let failed = |stage, error: &std::io::Error| ListenReport::failed(stage, os_error_of(error));
    let address = loopback(family);
    let listen = match Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    ) {
        Err(e) => failed(SetupStage::Socket, &e),
        Ok(socket) => match socket.bind(&address.into()) {
            Err(e) => failed(SetupStage::Bind, &e),
            Ok(()) => match socket.listen(UDP_BACKLOG) {
                Err(e) => failed(SetupStage::Listen, &e),
                Ok(()) => ListenReport::ok(),
            },
        },
    };
    UdpListen {
        family,
        backlog: UDP_BACKLOG,
        listen,
    }
}
