//! The only module that opens sockets. Every experiment is built from the same steps in
//! [`connect`] (one confirmed connect, the sequential fill, the drain):
//!
//! - [`tcp`]: the main experiment, a TCP listener on loopback filled one connection at a time;
//! - [`burst`]: many clients connecting at once;
//! - [`hold`]: a listener kept full on demand (`backlog-probe hold`);
//! - [`extras`]: UDP `listen()`, Unix-domain listeners, re-listen and runtime defaults.
//!
//! Each returns raw facts ([`crate::observation`]) and nothing else. [`budget`] accounts for
//! the descriptors they open, so experiments running at once never run the process out of
//! them. Every wait has a deadline, and every socket is closed when an experiment returns (for
//! `hold`, when its listener is dropped).
//!
//! The harness only ever connects to a loopback listener it bound itself (`open_listener`
//! refuses any other address).

// Harness plumbing: the process-wide descriptor budget the experiments share.
#[doc(hidden)]
pub mod budget;
pub mod burst;
pub mod connect;
pub mod extras;
pub mod hold;
pub mod tcp;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::observation::SetupStage;
use crate::os_error::{OsError, os_error_of};
use crate::plan::Family;

/// The loopback address of a family, port 0.
pub fn loopback(family: Family) -> SocketAddr {
    match family {
        Family::Ipv4 => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        Family::Ipv6 => SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
    }
}

/// A bound, listening, non-blocking TCP socket and the address its clients connect to.
pub(crate) struct Listener {
    pub(crate) socket: Socket,
    pub(crate) address: SockAddr,
}

/// Open a socket of type `ty` (and `protocol`) for `address`'s domain, bind it there, make it
/// non-blocking and call `listen()` with the raw backlog (socket2 passes it through unchanged):
/// every listener the experiments open (TCP, Unix-domain, and UDP to see `listen()` refused).
/// `Err` names the step that failed.
pub(crate) fn listen_at(
    address: &SockAddr,
    ty: Type,
    protocol: Option<Protocol>,
    backlog: i32,
) -> Result<Socket, (SetupStage, OsError)> {
    let socket = Socket::new(address.domain(), ty, protocol)
        .map_err(|e| (SetupStage::Socket, os_error_of(&e)))?;
    socket
        .bind(address)
        .map_err(|e| (SetupStage::Bind, os_error_of(&e)))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| (SetupStage::Bind, os_error_of(&e)))?;
    socket
        .listen(backlog)
        .map_err(|e| (SetupStage::Listen, os_error_of(&e)))?;
    Ok(socket)
}

/// Bind a TCP listener to the family's loopback address (port 0) and call `listen()` with the
/// raw backlog. `Err` names the step that failed.
pub(crate) fn open_listener(
    family: Family,
    backlog: i32,
) -> Result<Listener, (SetupStage, OsError)> {
    let socket = listen_at(
        &loopback(family).into(),
        Type::STREAM,
        Some(Protocol::TCP),
        backlog,
    )?;
    let address = socket
        .local_addr()
        .map_err(|e| (SetupStage::Listen, os_error_of(&e)))?;
    // The harness only ever connects to a loopback listener it bound itself.
    let is_loopback = address.as_socket().is_some_and(|a| a.ip().is_loopback());
    if !is_loopback {
        return Err((
            SetupStage::Bind,
            OsError {
                name: None,
                code: -1,
            },
        ));
    }
    Ok(Listener { socket, address })
}

/// Whether a family's loopback address can be bound here (for a clear error before a run that
/// asked for that family alone).
pub fn family_available(family: Family) -> Result<(), OsError> {
    let address = loopback(family);
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| os_error_of(&e))?;
    socket.bind(&address.into()).map_err(|e| os_error_of(&e))
}
