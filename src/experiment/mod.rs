//! The module that opens sockets. This root module holds the main experiment: a TCP listener
//! on loopback, filled one connection at a time. Its submodules hold the others: [`burst`]
//! (many clients at once) and [`extras`] (UDP, Unix-domain, re-listen, runtime defaults, and
//! the `hold` listener).
//!
//! # What one experiment does
//! 1. Bind a listener to port 0 on `127.0.0.1` or `::1` and call `listen()` with the raw i32
//!    backlog (socket2 passes it through unchanged). See listen(2) on
//!    [Linux](https://man7.org/linux/man-pages/man2/listen.2.html),
//!    [macOS](https://developer.apple.com/library/archive/documentation/System/Conceptual/ManPages_iPhoneOS/man2/listen.2.html),
//!    [FreeBSD](https://man.freebsd.org/cgi/man.cgi?query=listen&sektion=2) and
//!    [Windows](https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen).
//! 2. Open client connections one at a time, non-blocking, and confirm each (writable and
//!    `SO_ERROR` = 0) before starting the next, so the count is exact. Nothing is accepted yet.
//! 3. Stop at the first connect that does not complete: still pending after the OS's deadline
//!    (and, where the OS has a kernel view, not queued by the kernel), or failed. Stop at the cap.
//! 4. Read the kernel's view of the queue.
//! 5. Accept one connection and watch the pending client: late completion, still pending, or
//!    failure. The watch lasts until the client's SYN is retransmitted (about a second of idle
//!    time), so meanwhile the queued connections are accepted and counted and the completed
//!    clients closed, in small slices between looks at the pending client.
//! 6. Accept whatever is still queued and count it; close every socket.
//!
//! Every wait has a deadline (see the constants in `sys`), and every socket is closed when the
//! function returns, whatever happened.

pub mod burst;
pub mod extras;

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::budget::FdBudget;
use crate::observation::{ConnectStage, FillEnd, Late, Observation, Setup, SetupStage};
use crate::os_error::{OsError, os_error_of};
use crate::plan::{CaseSpec, Family, Settings};
use crate::sys;

/// Descriptors a case needs besides its clients: the listener, the pending client, one
/// accepted socket at a time, and slack.
const OVERHEAD: usize = 8;
/// Grow a reservation this many descriptors at a time when the kernel view underestimated.
const GROWTH_STEP: usize = 256;
/// How long a case waits for other cases to free descriptors.
const BUDGET_WAIT: Duration = Duration::from_secs(30);
/// After the queue looks drained, how long to wait for a straggler before the count is final.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// A ceiling on the whole drain, so a listener that keeps receiving connections cannot hold the
/// case forever.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// How long to wait for the first queued connection to become acceptable.
const ACCEPT_WAIT: Duration = Duration::from_secs(2);

/// The loopback address of a family, port 0.
pub fn loopback(family: Family) -> SocketAddr {
    match family {
        Family::Ipv4 => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        Family::Ipv6 => SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
    }
}

/// The outcome of one client connect.
enum Attempt {
    Completed(Socket),
    Pending {
        socket: Socket,
        started: Instant,
        kernel_admitted: Option<bool>,
    },
    Failed {
        error: OsError,
        after: Duration,
        stage: ConnectStage,
    },
    OutOfResources(OsError),
    /// The run's deadline cut the wait short: no verdict on this connect.
    Interrupted,
}

/// A bound, listening socket and the address its clients connect to.
pub(crate) struct Listener {
    pub(crate) socket: Socket,
    pub(crate) address: SockAddr,
}

pub(crate) fn open_listener(
    family: Family,
    backlog: i32,
) -> Result<Listener, (SetupStage, OsError)> {
    let address = loopback(family);
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| (SetupStage::Socket, os_error_of(&e)))?;
    socket
        .bind(&address.into())
        .map_err(|e| (SetupStage::Bind, os_error_of(&e)))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| (SetupStage::Bind, os_error_of(&e)))?;
    socket
        .listen(backlog)
        .map_err(|e| (SetupStage::Listen, os_error_of(&e)))?;
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

/// The shorter of `wait` and the time left until `deadline`.
fn bounded(wait: Duration, deadline: Option<Instant>) -> Duration {
    deadline.map_or(wait, |d| {
        wait.min(d.saturating_duration_since(Instant::now()))
    })
}

/// Open one client and drive its connect to an outcome.
fn attempt(
    listener: &Listener,
    domain: Domain,
    completed: u32,
    deadline: Option<Instant>,
) -> Attempt {
    let client = match Socket::new(domain, Type::STREAM, Some(Protocol::TCP)) {
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
    match client.connect(&listener.address) {
        Ok(()) => return confirm(client, started),
        Err(e) => match e.raw_os_error() {
            Some(code) if sys::is_in_progress(code) => {}
            _ => return failed(os_error_of(&e), ConnectStage::Immediate),
        },
    }
    match wait_for_outcome(&client, bounded(sys::ADMISSION_GRACE, deadline)) {
        Err(e) => return failed(os_error_of(&e), ConnectStage::Handshake),
        Ok(true) => return confirm(client, started),
        Ok(false) => {}
    }
    // Still pending after the grace. Ask the kernel whether it queued this connection: it
    // holds exactly `completed` connections if it did not.
    let kernel_admitted = sys::kernel_queue(&listener.socket).map(|view| view.queued > completed);
    if kernel_admitted != Some(false) {
        let left = bounded(
            sys::PENDING_DEADLINE.saturating_sub(started.elapsed()),
            deadline,
        );
        match wait_for_outcome(&client, left) {
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

/// True once `deadline` has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Wait until the connect has an outcome; `Ok(false)` if it is still pending.
fn wait_for_outcome(client: &Socket, timeout: Duration) -> io::Result<bool> {
    sys::wait_writable(client, timeout)
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

/// Close an accepted connection with RST (linger 0): the measurement is over, and an abortive
/// close tears a connection down in one segment instead of four, leaving no TIME_WAIT, so
/// thousands of connections close quickly.
fn close_abortively(connection: Socket) {
    let _ = connection.set_linger(Some(Duration::ZERO));
    drop(connection);
}

/// Accept everything queued on a non-blocking listener, closing each connection at once;
/// returns the count. Every queued connection completed its handshake already, so the listener
/// is readable at once; the short poll only catches a straggler.
pub(crate) fn drain(listener: &Socket, run_deadline: Option<Instant>) -> u32 {
    drain_expecting(listener, run_deadline, None)
}

/// [`drain`], told how many connections the clients saw complete and the listener has not yet
/// given back: once that many are accepted and the queue is empty, nothing is left to wait for,
/// so the straggler poll is skipped. More than `expected` are still accepted and counted.
fn drain_expecting(listener: &Socket, run_deadline: Option<Instant>, expected: Option<u32>) -> u32 {
    let mut accepted = 0;
    let own = Instant::now() + DRAIN_DEADLINE;
    let deadline = run_deadline.map_or(own, |d| d.min(own));
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((connection, _)) => {
                close_abortively(connection);
                accepted += 1;
            }
            Err(e) if e.raw_os_error().is_some_and(sys::is_would_block) => {
                if expected.is_some_and(|expected| accepted >= expected) {
                    break;
                }
                if !sys::wait_readable(listener, DRAIN_POLL).unwrap_or(false) {
                    break;
                }
            }
            // ECONNABORTED and friends: a queued connection went away; keep draining while the
            // listener still has something to offer (an error that persists, such as EMFILE,
            // ends the drain at the next empty poll instead of spinning).
            Err(_) => {
                if !sys::wait_readable(listener, DRAIN_POLL).unwrap_or(false) {
                    break;
                }
            }
        }
    }
    accepted
}

/// Connections accepted, or clients closed, per slice of clean-up work between two looks at
/// the pending client: small enough that the completion time stays within about a millisecond.
const CLEANUP_SLICE: usize = 32;

/// What the watch on the pending client saw.
struct LateWatch {
    late: Late,
    /// Connections accepted during the watch (the late client's among them if it got in).
    accepted: u32,
    /// The pending client, if it connected (closed with the others).
    connected: Option<Socket>,
}

/// Watch the pending client for `LATE_WINDOW` after a slot was freed. The wait for a SYN
/// retransmission is about a second of idle time, so the queued connections are accepted and
/// the completed clients closed in the meantime, in small slices between looks at the client:
/// the clean-up of thousands of connections overlaps the wait instead of following it. Accepting
/// more than the one connection changes nothing the watch measures: the pending client needs
/// one free slot, and it has at least that from the start of the watch.
fn watch_late(
    listener: &Socket,
    client: Socket,
    clients: &mut VecDeque<Socket>,
    connect_started: Instant,
    deadline: Option<Instant>,
) -> LateWatch {
    let until = Instant::now() + bounded(sys::LATE_WINDOW, deadline);
    let mut accepted = 0;
    let mut queue_empty = false;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        // With clean-up work left, only peek at the client; otherwise wait for it.
        let busy = !queue_empty || !clients.is_empty();
        let wait = if busy { Duration::ZERO } else { left };
        let late = match wait_for_outcome(&client, wait) {
            Ok(true) => match client.take_error() {
                Ok(None) => {
                    let after = connect_started.elapsed();
                    return LateWatch {
                        late: Late::Completed { after },
                        accepted,
                        connected: Some(client),
                    };
                }
                Ok(Some(e)) | Err(e) => Late::Failed {
                    error: os_error_of(&e),
                    after: connect_started.elapsed(),
                },
            },
            Ok(false) if left.is_zero() || !busy => Late::StillPending {
                watched: connect_started.elapsed(),
            },
            Ok(false) => {
                let before = accepted;
                accepted += accept_some(listener, CLEANUP_SLICE);
                queue_empty = accepted - before < CLEANUP_SLICE as u32;
                // The oldest clients were queued first, so their server ends are the ones just
                // closed: closing them now sends nothing more.
                for _ in 0..CLEANUP_SLICE {
                    if clients.pop_front().is_none() {
                        break;
                    }
                }
                continue;
            }
            Err(e) => Late::Failed {
                error: os_error_of(&e),
                after: connect_started.elapsed(),
            },
        };
        return LateWatch {
            late,
            accepted,
            connected: None,
        };
    }
}

/// Accept up to `most` connections that are queued now, without waiting, closing each at once.
fn accept_some(listener: &Socket, most: usize) -> u32 {
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

/// Estimate the descriptors a case needs from the kernel's stored limit: the limit plus a couple
/// of clients. Where the OS queues more than its stored limit (FreeBSD's 3/2 factor), the case
/// grows its reservation as it goes.
fn descriptor_estimate(listener: &Socket, cap: u32, budget: &FdBudget) -> usize {
    let clients = match sys::kernel_queue(listener) {
        Some(view) => clients_for_limit(view.limit, cap),
        // Without a kernel view, claim the whole budget so the case can never starve midway.
        None => budget.total().unwrap_or(cap as usize).min(cap as usize + 1),
    };
    clients + OVERHEAD
}

/// Descriptors each case will need, from the kernel's stored limit of a listener opened with
/// the case's backlog and closed again: a scheduling estimate for spreading cases over worker
/// processes, never a result. `None` where the OS shows no stored limit. A case whose listener
/// cannot be set up needs only its overhead.
pub fn descriptor_needs(specs: &[CaseSpec], cap: u32) -> Vec<Option<usize>> {
    specs
        .iter()
        .map(
            |spec| match open_listener(spec.family, spec.backlog.value()) {
                Ok(listener) => sys::kernel_queue(&listener.socket)
                    .map(|view| clients_for_limit(view.limit, cap) + OVERHEAD),
                Err(_) => Some(OVERHEAD),
            },
        )
        .collect()
}

/// Clients to reserve for a queue whose stored limit is `limit`: the limit plus two as slack
/// (for the pending client, and for an OS that queues past its stored limit; a case that needs
/// more grows its reservation as it goes), never more than the cap allows.
fn clients_for_limit(limit: u32, cap: u32) -> usize {
    (limit as usize).saturating_add(2).min(cap as usize + 1)
}

/// Run one experiment.
pub fn run_case(spec: CaseSpec, settings: &Settings, budget: &FdBudget) -> Observation {
    run_case_until(spec, settings, budget, None)
}

/// Run one experiment, ending it early (as inconclusive) if `deadline` passes. Every wait is cut
/// to the deadline, so the case returns shortly after it whatever the OS does.
pub fn run_case_until(
    spec: CaseSpec,
    settings: &Settings,
    budget: &FdBudget,
    deadline: Option<Instant>,
) -> Observation {
    let started = Instant::now();
    let backlog = spec.backlog.value();
    let mut obs = Observation::empty(spec, Setup::Listening);
    let listener = match open_listener(spec.family, backlog) {
        Ok(listener) => listener,
        Err((stage, error)) => {
            obs.setup = Setup::Failed { stage, error };
            obs.duration = started.elapsed();
            return obs;
        }
    };
    let domain = Domain::for_address(loopback(spec.family));
    let estimate = descriptor_estimate(&listener.socket, settings.cap, budget);
    let Some(mut reservation) = budget.reserve(estimate, bounded(BUDGET_WAIT, deadline)) else {
        obs.fill_end = if passed(deadline) {
            FillEnd::DeadlineReached { connections: 0 }
        } else {
            FillEnd::OutOfResources {
                error: None,
                detail: format!(
                    "fd budget: other cases held the descriptors this case needs ({estimate}) for {} s",
                    BUDGET_WAIT.as_secs()
                ),
            }
        };
        obs.duration = started.elapsed();
        return obs;
    };

    let mut clients: Vec<Socket> = Vec::new();
    let mut pending: Option<(Socket, Instant)> = None;
    let limit_text = || match budget.limit() {
        Some(limit) => format!("fd limit {} (hard {})", limit.soft, limit.hard),
        None => "fd budget".to_string(),
    };
    obs.fill_end = loop {
        if clients.len() >= settings.cap as usize {
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
                    limit_text(),
                    reservation.held()
                ),
            };
        }
        match attempt(&listener, domain, clients.len() as u32, deadline) {
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
                        limit_text(),
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
    obs.completed = clients.len() as u32;
    obs.kernel_queue = sys::kernel_queue(&listener.socket);

    let mut clients = VecDeque::from(clients);
    if let Some((client, connect_started)) = pending {
        // Free one slot, then watch whether the pending client gets in.
        if sys::wait_readable(&listener.socket, bounded(ACCEPT_WAIT, deadline)).unwrap_or(false) {
            if let Ok((connection, _)) = listener.socket.accept() {
                close_abortively(connection);
                obs.accepted += 1;
            }
        }
        let watch = watch_late(
            &listener.socket,
            client,
            &mut clients,
            connect_started,
            deadline,
        );
        obs.late = watch.late;
        obs.accepted += watch.accepted;
        if let Some(client) = watch.connected {
            clients.push_back(client);
        }
    }
    // Every client that completed has a connection the listener owes: the pending one counts
    // once it got in; one still pending may yet arrive, so then the drain waits for stragglers.
    let owed = match obs.late {
        Late::Completed { .. } => Some(obs.completed + 1),
        Late::NotWatched => Some(obs.completed),
        Late::StillPending { .. } | Late::Failed { .. } => None,
    }
    .map(|owed| owed.saturating_sub(obs.accepted));
    obs.accepted += drain_expecting(&listener.socket, deadline, owed);
    if passed(deadline) {
        // The deadline cut the late watch or the drain short: the counts are not final.
        obs.fill_end = FillEnd::DeadlineReached {
            connections: obs.completed,
        };
    }
    drop(clients);
    drop(listener);
    drop(reservation);
    obs.duration = started.elapsed();
    obs
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
