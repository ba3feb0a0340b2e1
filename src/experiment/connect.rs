//! The connect, fill and drain steps every experiment is built from, written once.
//!
//! - `attempt`: open one non-blocking client and drive its connect to an outcome:
//!   completed (writable, `SO_ERROR` 0, and not reset right after), failed (with the raw error
//!   and where it showed), or pending past the OS's deadline (with the kernel's word on whether
//!   it queued the connection, where this process owns the listener).
//! - `fill`: connect one client at a time, each confirmed before the next, so the count is
//!   exact, until the first connect that does not complete, the cap, the run's deadline or the
//!   descriptor budget; the clients stay open.
//! - `drain`: accept everything queued, with a deadline.
//!
//! The sequential TCP experiment ([`super::tcp`]), the extras' fills ([`fill_held`]) and `hold`
//! use them for any stream address (TCP loopback or a Unix-domain path), including listeners
//! this process did not open itself (Python's). The burst ([`super::burst`]) issues its
//! connects all at once instead, and shares `drain`.

use std::io;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::budget::{BUDGET_WAIT, FdBudget, OVERHEAD, Reservation};
use crate::observation::extras::{FillLimit, FillResult, FillStop};
use crate::observation::tcp::{ConnectStage, FillEnd};
use crate::os_error::{OsError, os_error_of};
use crate::sys;

/// Grow a reservation this many descriptors at a time when the estimate was too small.
const GROWTH_STEP: usize = 256;

/// The outcome of one client connect.
pub(crate) enum Attempt {
    /// Connected and confirmed.
    Completed(Socket),
    /// Neither completed nor failed within the OS's deadline.
    Pending {
        /// The client, still connecting (the caller may watch it further).
        socket: Socket,
        /// When its `connect()` was issued.
        started: Instant,
        /// What the kernel view said about it: queued, not queued, or no view.
        kernel_admitted: Option<bool>,
    },
    /// The connect failed.
    Failed {
        /// The raw error.
        error: OsError,
        /// Time from `connect()` to the error.
        after: Duration,
        /// Where it showed.
        stage: ConnectStage,
    },
    /// The client socket could not be opened.
    OutOfResources(OsError),
    /// The run's deadline cut the wait short: no verdict on this connect.
    Interrupted,
}

/// The shorter of `wait` and the time left until `deadline`.
pub(crate) fn bounded(wait: Duration, deadline: Option<Instant>) -> Duration {
    deadline.map_or(wait, |d| {
        wait.min(d.saturating_duration_since(Instant::now()))
    })
}

/// True once `deadline` has passed.
pub(crate) fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Open one client of type `ty` for `target` and drive its connect to an outcome. `view` is the
/// listener's own socket when this process owns it, so the kernel view can settle a pending
/// connect early; it holds exactly `completed` connections if it did not queue this one.
pub(crate) fn attempt(
    target: &SockAddr,
    ty: Type,
    view: Option<&Socket>,
    completed: u32,
    deadline: Option<Instant>,
) -> Attempt {
    let domain = target.domain();
    let protocol = (domain != Domain::UNIX).then_some(Protocol::TCP);
    let client = match Socket::new(domain, ty, protocol) {
        Ok(socket) => socket,
        Err(e) => return Attempt::OutOfResources(os_error_of(&e)),
    };
    if let Err(e) = client.set_nonblocking(true) {
        return Attempt::OutOfResources(os_error_of(&e));
    }
    let started = Instant::now();
    let failed = |error: OsError, stage| Attempt::Failed {
        error,
        after: started.elapsed(),
        stage,
    };
    match client.connect(target) {
        Ok(()) => return confirm(client, started),
        Err(e) => match e.raw_os_error() {
            Some(code) if sys::is_in_progress(code) => {}
            _ => return failed(os_error_of(&e), ConnectStage::Immediate),
        },
    }
    match sys::wait_writable(&client, bounded(sys::ADMISSION_GRACE, deadline)) {
        Err(e) => return failed(os_error_of(&e), ConnectStage::Handshake),
        Ok(true) => return confirm(client, started),
        Ok(false) => {}
    }
    // Still pending after the grace. Ask the kernel whether it queued this connection.
    let kernel_admitted = view
        .and_then(sys::kernel_queue)
        .map(|view| view.queued > completed);
    if kernel_admitted != Some(false) {
        let left = bounded(
            sys::PENDING_DEADLINE.saturating_sub(started.elapsed()),
            deadline,
        );
        match sys::wait_writable(&client, left) {
            Err(e) => return failed(os_error_of(&e), ConnectStage::Handshake),
            Ok(true) => return confirm(client, started),
            Ok(false) => {}
        }
    }
    if passed(deadline) {
        return Attempt::Interrupted;
    }
    Attempt::Pending {
        socket: client,
        started,
        kernel_admitted,
    }
}

/// The socket signalled: read `SO_ERROR` to learn whether it connected, and check once more
/// right away for a reset that follows completion (FreeBSD resets on a full queue after the
/// handshake).
fn confirm(client: Socket, started: Instant) -> Attempt {
    let error = |e: &io::Error, stage| Attempt::Failed {
        error: os_error_of(e),
        after: started.elapsed(),
        stage,
    };
    match client.take_error() {
        Ok(None) => {}
        Ok(Some(e)) => return error(&e, ConnectStage::Handshake),
        Err(e) => return error(&e, ConnectStage::Handshake),
    }
    // A socket that is readable right after connecting, before the server wrote anything, has
    // been reset or closed.
    if let Ok(true) = sys::wait_readable(&client, Duration::ZERO) {
        if let Ok(Some(e)) = client.take_error() {
            return error(&e, ConnectStage::AfterCompletion);
        }
    }
    Attempt::Completed(client)
}

/// A sequential fill's clients and how it ended.
pub(crate) struct Filled {
    /// Every completed client, still connected.
    pub clients: Vec<Socket>,
    /// Why the fill stopped.
    pub end: FillEnd,
    /// The client that stayed pending, and when its connect started.
    pub pending: Option<(Socket, Instant)>,
}

/// Connect clients of type `ty` to `target` one at a time until the first that does not
/// complete, `cap` completed, `deadline` passes, or `reservation` cannot grow to hold another.
pub(crate) fn fill(
    target: &SockAddr,
    ty: Type,
    view: Option<&Socket>,
    cap: u32,
    deadline: Option<Instant>,
    reservation: &mut Reservation<'_>,
) -> Filled {
    let mut clients: Vec<Socket> = Vec::new();
    let mut pending = None;
    let limit_text = |reservation: &Reservation<'_>| match reservation.budget().limit() {
        Some(limit) => format!("fd limit {} (hard {})", limit.soft, limit.hard),
        None => "fd budget".to_string(),
    };
    let end = loop {
        if clients.len() >= cap as usize {
            break FillEnd::CapReached;
        }
        if passed(deadline) {
            break FillEnd::DeadlineReached {
                connections: clients.len() as u32,
            };
        }
        let wait = bounded(BUDGET_WAIT, deadline);
        if !reservation.ensure(clients.len() + OVERHEAD, GROWTH_STEP, wait) {
            break FillEnd::OutOfResources {
                error: None,
                detail: format!(
                    "{}: the queue outgrew the {} descriptors this case could hold",
                    limit_text(reservation),
                    reservation.held()
                ),
            };
        }
        match attempt(target, ty, view, clients.len() as u32, deadline) {
            Attempt::Completed(socket) => clients.push(socket),
            Attempt::Pending {
                socket,
                started,
                kernel_admitted,
            } => {
                let waited = started.elapsed();
                pending = Some((socket, started));
                break FillEnd::Pending {
                    waited,
                    kernel_admitted,
                };
            }
            Attempt::Failed {
                error,
                after,
                stage,
            } => {
                break FillEnd::Failed {
                    error,
                    after,
                    stage,
                };
            }
            Attempt::Interrupted => {
                break FillEnd::DeadlineReached {
                    connections: clients.len() as u32,
                };
            }
            Attempt::OutOfResources(error) => {
                let detail = if error.code >= 0 && sys::is_fd_exhausted(error.code) {
                    format!(
                        "{}: socket() failed after {} connections",
                        limit_text(reservation),
                        clients.len()
                    )
                } else {
                    format!("socket() failed after {} connections", clients.len())
                };
                break FillEnd::OutOfResources {
                    error: Some(error),
                    detail,
                };
            }
        }
    };
    Filled {
        clients,
        end,
        pending,
    }
}

/// Clients to reserve for a queue whose stored limit is `limit`: the limit plus two as slack
/// (for the pending client, and for an OS that queues past its stored limit; a fill that needs
/// more grows its reservation as it goes), never more than the cap allows.
pub(crate) fn clients_for_limit(limit: u32, cap: u32) -> usize {
    (limit as usize).saturating_add(2).min(cap as usize + 1)
}

/// Descriptors a fill of a listener will need: from the kernel's stored limit where `view`
/// shows one, else the whole cap (cut to the budget when reserved, so a fill without a kernel
/// view can never starve midway).
pub(crate) fn descriptor_estimate(view: Option<&Socket>, cap: u32, budget: &FdBudget) -> usize {
    let clients = match view.and_then(sys::kernel_queue) {
        Some(view) => clients_for_limit(view.limit, cap),
        None => budget.total().unwrap_or(cap as usize).min(cap as usize + 1),
    };
    clients + OVERHEAD
}

/// A fill held open: the client sockets stay connected until this is dropped.
#[derive(Debug)]
pub struct HeldFill<'a> {
    /// The facts.
    pub result: FillResult,
    /// Every completed client, still connected.
    pub clients: Vec<Socket>,
    /// The descriptors reserved for the clients; returned on drop.
    _reservation: Option<Reservation<'a>>,
}

/// Fill the listener at `target` as the extras and `hold` do (no deadline; at most `cap`
/// clients and never more than `budget` allows) and keep the clients open.
pub fn fill_held<'a>(
    target: &SockAddr,
    ty: Type,
    view: Option<&Socket>,
    cap: u32,
    budget: &'a FdBudget,
) -> HeldFill<'a> {
    // What the process's descriptor limit allowed this fill, for a fill it stopped.
    let limited = |descriptors: usize| {
        budget.limit().map(|limit| FillLimit {
            soft: limit.soft,
            hard: limit.hard,
            descriptors: descriptors as u64,
        })
    };
    let Some(mut reservation) = budget.reserve(descriptor_estimate(view, cap, budget), BUDGET_WAIT)
    else {
        return HeldFill {
            result: FillResult {
                queue_length: 0,
                stop: FillStop::OutOfResources,
                os_error: None,
                fd_limit: limited(0),
            },
            clients: Vec::new(),
            _reservation: None,
        };
    };
    let filled = fill(target, ty, view, cap, None, &mut reservation);
    // The budget refused another client (no error), or socket() ran out of descriptors.
    let fd_limit = match &filled.end {
        FillEnd::OutOfResources { error: None, .. } => limited(reservation.held()),
        FillEnd::OutOfResources {
            error: Some(error), ..
        } if error.code >= 0 && sys::is_fd_exhausted(error.code) => limited(reservation.held()),
        _ => None,
    };
    let (stop, os_error) = match filled.end {
        FillEnd::Pending { .. } => (FillStop::Pending, None),
        FillEnd::Failed {
            error,
            stage: ConnectStage::Immediate,
            ..
        } => (FillStop::FailedImmediately, Some(error)),
        FillEnd::Failed { error, .. } => (FillStop::FailedInHandshake, Some(error)),
        FillEnd::OutOfResources { error, .. } => (FillStop::OutOfResources, error),
        FillEnd::CapReached | FillEnd::DeadlineReached { .. } | FillEnd::NotStarted => {
            (FillStop::Cap, None)
        }
    };
    HeldFill {
        result: FillResult {
            queue_length: filled.clients.len() as u32,
            stop,
            os_error,
            fd_limit,
        },
        clients: filled.clients,
        _reservation: Some(reservation),
    }
}

/// Close an accepted connection with RST (linger 0): the measurement is over, and an abortive
/// close tears a connection down in one segment instead of four, leaving no TIME_WAIT, so
/// thousands of connections close quickly.
pub(crate) fn close_abortively(connection: Socket) {
    let _ = connection.set_linger(Some(Duration::ZERO));
    drop(connection);
}

/// Accept everything queued on a non-blocking listener, handing each connection and its peer
/// to `accepted`, until the queue stays empty for `straggler_poll`, or `deadline`. With
/// `expected`, once that many are accepted and the queue is empty the straggler poll is
/// skipped: nothing is left to wait for (more are still accepted and counted). Every queued
/// connection completed its handshake already, so the listener is readable at once; the poll
/// only catches a straggler. Returns the count.
pub(crate) fn drain(
    listener: &Socket,
    deadline: Instant,
    expected: Option<u32>,
    straggler_poll: Duration,
    mut accepted: impl FnMut(Socket, SockAddr),
) -> u32 {
    let mut count = 0;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((connection, peer)) => {
                accepted(connection, peer);
                count += 1;
            }
            Err(e) => {
                let empty = e.raw_os_error().is_some_and(sys::is_would_block);
                if empty && expected.is_some_and(|expected| count >= expected) {
                    break;
                }
                // An empty queue waits for a straggler. ECONNABORTED and friends (a queued
                // connection went away) keep draining while the listener still has something
                // to offer; an error that persists, such as EMFILE, ends the drain at the next
                // empty poll instead of spinning.
                let left = deadline.saturating_duration_since(Instant::now());
                if !sys::wait_readable(listener, straggler_poll.min(left)).unwrap_or(false) {
                    break;
                }
            }
        }
    }
    count
}

/// Accept up to `most` connections that are queued now, without waiting, closing each at once.
pub(crate) fn accept_some(listener: &Socket, most: usize) -> u32 {
    let mut accepted = 0;
    for _ in 0..most {
        match listener.accept() {
            Ok((connection, _)) => {
                close_abortively(connection);
                accepted += 1;
            }
            Err(_) => break,
        }
    }
    accepted
}

/// How long the extras and `hold` wait for a straggler once a queue looks drained.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// A ceiling on their drains, so a listener that keeps receiving connections cannot hold one
/// forever.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Accept everything queued, closing each connection at once; returns the count (the extras'
/// drain: no run deadline, nothing expected).
pub fn drain_all(listener: &Socket) -> u32 {
    drain(
        listener,
        Instant::now() + DRAIN_DEADLINE,
        None,
        DRAIN_POLL,
        |connection, _| close_abortively(connection),
    )
}
