//! Fill any stream listener's queue one connection at a time and say how the fill ended.
//!
//! The same steps as the main experiment, for any address (TCP loopback or a Unix-domain path)
//! and for listeners this process did not open itself (Python's): connect non-blocking, confirm
//! each connection before starting the next, and stop at the first one that neither completes
//! nor fails within the OS's deadline, or that fails.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::budget::{self, Reservation};
use crate::os_error::{OsError, os_error_of};
use crate::sys;

/// Descriptors kept back besides the clients: the listener, the pending client, an accepted
/// connection, slack.
const OVERHEAD: usize = 8;
/// How long to wait for other fills in the same process to return descriptors.
const BUDGET_WAIT: Duration = Duration::from_secs(30);

/// Why a fill stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillStop {
    /// The cap (the descriptor budget, or the caller's) was reached first: the queue was not
    /// filled.
    Cap,
    /// The next connect stayed pending: neither completed nor failed within the deadline.
    Pending,
    /// The next `connect()` call itself failed (a Unix-domain `EAGAIN`, for example).
    FailedImmediately,
    /// The next connect failed during the handshake (a TCP refusal or reset).
    FailedInHandshake,
    /// `socket()` failed for a client: out of descriptors or buffers.
    OutOfResources,
}

impl FillStop {
    /// True when the fill ended because the listener stopped taking connections, not because
    /// the harness ran out of room.
    pub fn queue_was_full(self) -> bool {
        !matches!(self, FillStop::Cap | FillStop::OutOfResources)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FillStop::Cap => "cap",
            FillStop::Pending => "pending",
            FillStop::FailedImmediately => "failed_immediately",
            FillStop::FailedInHandshake => "failed_in_handshake",
            FillStop::OutOfResources => "out_of_resources",
        }
    }
}

/// What a fill measured: the raw facts, no timings (they go nowhere near a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillResult {
    /// Connections that completed, one at a time, before the fill stopped.
    pub queue_length: u32,
    /// Why it stopped.
    pub stop: FillStop,
    /// The raw error of the connect (or `socket()`) that stopped it, where there was one.
    pub os_error: Option<OsError>,
}

/// A fill in progress or held: the client sockets stay open until this is dropped.
#[derive(Debug)]
pub struct HeldFill {
    /// The facts.
    pub result: FillResult,
    /// Every completed client, still connected.
    pub clients: Vec<Socket>,
    /// The descriptors reserved for the clients; returned on drop.
    _reservation: Option<Reservation<'static>>,
}

enum Attempt {
    Completed(Socket),
    Pending,
    Failed(OsError, FillStop),
}

/// Connect once and drive the connect to an outcome. `listener` is the listener's own socket
/// when this process owns it, so the kernel view can settle a pending connect early.
fn attempt(target: &SockAddr, ty: Type, listener: Option<&Socket>, completed: u32) -> Attempt {
    let domain = target.domain();
    let protocol = (domain != Domain::UNIX).then_some(Protocol::TCP);
    let client = match Socket::new(domain, ty, protocol) {
        Ok(socket) => socket,
        Err(e) => return Attempt::Failed(os_error_of(&e), FillStop::OutOfResources),
    };
    if let Err(e) = client.set_nonblocking(true) {
        return Attempt::Failed(os_error_of(&e), FillStop::OutOfResources);
    }
    let started = Instant::now();
    match client.connect(target) {
        Ok(()) => return Attempt::Completed(client),
        Err(e) => match e.raw_os_error() {
            Some(code) if sys::is_in_progress(code) => {}
            _ => return Attempt::Failed(os_error_of(&e), FillStop::FailedImmediately),
        },
    }
    let outcome = |client: Socket| match client.take_error() {
        Ok(None) => Attempt::Completed(client),
        Ok(Some(e)) | Err(e) => Attempt::Failed(os_error_of(&e), FillStop::FailedInHandshake),
    };
    match sys::wait_writable(&client, sys::ADMISSION_GRACE) {
        Ok(true) => return outcome(client),
        Err(e) => return Attempt::Failed(os_error_of(&e), FillStop::FailedInHandshake),
        Ok(false) => {}
    }
    let admitted = listener
        .and_then(sys::kernel_queue)
        .map(|view| view.queued > completed);
    if admitted == Some(false) {
        return Attempt::Pending;
    }
    let left = sys::PENDING_DEADLINE.saturating_sub(started.elapsed());
    match sys::wait_writable(&client, left) {
        Ok(true) => outcome(client),
        Ok(false) => Attempt::Pending,
        Err(e) => Attempt::Failed(os_error_of(&e), FillStop::FailedInHandshake),
    }
}

/// Fill the listener at `target` with `ty` clients (stream or seqpacket), at most `cap` of
/// them and never more than the process's descriptor budget allows. The clients stay open in
/// the returned [`HeldFill`].
pub fn fill(target: &SockAddr, ty: Type, listener: Option<&Socket>, cap: u32) -> HeldFill {
    let (_, fds) = budget::process_budget();
    let want = (cap as usize).saturating_add(OVERHEAD);
    let reservation = fds.reserve(want, BUDGET_WAIT);
    let room = reservation
        .as_ref()
        .map_or(0, |r| r.held().saturating_sub(OVERHEAD));
    let cap = (cap as usize).min(room);
    let mut clients = Vec::new();
    let (stop, os_error) = loop {
        if clients.len() >= cap {
            break (FillStop::Cap, None);
        }
        match attempt(target, ty, listener, clients.len() as u32) {
            Attempt::Completed(client) => clients.push(client),
            Attempt::Pending => break (FillStop::Pending, None),
            Attempt::Failed(error, stop) => break (stop, Some(error)),
        }
    };
    HeldFill {
        result: FillResult {
            queue_length: clients.len() as u32,
            stop,
            os_error,
        },
        clients,
        _reservation: reservation,
    }
}

/// Accept everything queued on a non-blocking listener, closing each connection at once;
/// returns the count (the main experiment's drain, without a run deadline).
pub fn drain(listener: &Socket) -> u32 {
    super::super::drain(listener, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listener_that_stopped_taking_connections_counts_as_full() {
        for (stop, full) in [
            (FillStop::Pending, true),
            (FillStop::FailedImmediately, true),
            (FillStop::FailedInHandshake, true),
            (FillStop::Cap, false),
            (FillStop::OutOfResources, false),
        ] {
            assert_eq!(stop.queue_was_full(), full, "{stop:?}");
        }
    }

    #[test]
    fn stops_serialize_as_their_wire_names() {
        for stop in [
            FillStop::Pending,
            FillStop::FailedImmediately,
            FillStop::FailedInHandshake,
            FillStop::Cap,
            FillStop::OutOfResources,
        ] {
            let json = serde_json::to_string(&stop).unwrap();
            assert_eq!(json, format!("\"{}\"", stop.as_str()));
        }
    }
}
