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

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::budget::{BUDGET_WAIT, FdBudget, OVERHEAD, Reservation};
use crate::observation::extras::{FillLimit, FillResult, FillStop};
use crate::observation::tcp::{ConnectStage, FillEnd};
use crate::os_error::{OsError, os_error_of};
use crate::sys::{self, KernelQueue};

/// Grow a reservation this many descriptors at a time when the estimate was too small.
const GROWTH_STEP: usize = 256;

/// Every wait on a connect is at least this many times the slowest handshake the case has seen,
/// so a slow machine or link gives the same numbers, only later.
const STRETCH: u32 = 4;
/// Waits on one socket are cut into slices this long: a stack that loses a readiness wakeup
/// (gVisor's did) is asked again instead of being waited on in silence.
const POLL_SLICE: Duration = Duration::from_millis(25);
/// How often the fill looks again while it waits for the kernel view to catch up with the
/// clients, or for a reset after completion.
const CATCH_UP_TICK: Duration = Duration::from_millis(1);
/// Where the kernel view tracks the clients, it is read once per this many completed clients
/// (and whenever the fill ends): a count that caught up confirms every client before it, and
/// one that lags sends the fill looking among those clients for a reset. One read per client
/// cost about 5 % of a default run's CPU.
const CONFIRM_BATCH: usize = 16;

/// The handshake times a fill has seen: the scale of every wait in its case.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pace {
    slowest: Option<Duration>,
}

impl Pace {
    fn observe(&mut self, handshake: Duration) {
        self.slowest = Some(self.slowest.map_or(handshake, |s| s.max(handshake)));
    }

    /// Several times the slowest handshake: the least any wait of the case lasts.
    pub(crate) fn stretched(&self) -> Duration {
        self.slowest.unwrap_or_default() * STRETCH
    }

    /// How long a pending connect waits once the kernel view shows a full queue.
    fn grace(&self) -> Duration {
        sys::ADMISSION_GRACE.max(self.stretched())
    }

    /// How long a pending connect waits without that evidence: past the first SYN
    /// retransmission, and several handshakes more.
    pub(crate) fn ceiling(&self) -> Duration {
        sys::PENDING_DEADLINE + self.stretched()
    }

    /// How long a pending connect waits while a usable kernel view shows room in the queue: a
    /// queue with room does not drop a SYN, so this covers a slow link through a few SYN
    /// retransmissions before the harness gives up (and reports the contradiction).
    fn room_ceiling(&self) -> Duration {
        sys::PENDING_DEADLINE * 3 + self.stretched() * 2
    }

    /// How long after completing a client may still be reset (a reset after completion comes
    /// one handshake time or so after the client's final ACK).
    fn confirm_window(&self) -> Duration {
        self.stretched()
    }

    /// How long to watch a pending client once a slot is free: through a few SYN
    /// retransmissions, stretched like every other wait.
    pub(crate) fn late_window(&self) -> Duration {
        sys::LATE_WINDOW + self.stretched()
    }

    /// The slowest handshake seen.
    pub(crate) fn slowest(&self) -> Option<Duration> {
        self.slowest
    }
}

/// The kernel's view of a listener this process owns, as far as it tracks the clients.
pub(crate) struct View<'a> {
    listener: Option<&'a Socket>,
    /// Why the view stopped being used, once it did.
    unusable: Option<String>,
    /// The last count read, to notice a count that moves the wrong way; `None` before the
    /// first reading (and where the OS has no view).
    last_queued: Option<u32>,
}

impl<'a> View<'a> {
    /// The view of `listener` (`None`: the listener is not this process's, so there is none).
    pub(crate) fn of(listener: Option<&'a Socket>) -> Self {
        View {
            listener,
            unusable: None,
            last_queued: None,
        }
    }

    /// The view now, unless it is unusable or the OS has none.
    fn read(&mut self) -> Option<KernelQueue> {
        if self.unusable.is_some() {
            return None;
        }
        let view = self.listener.and_then(sys::kernel_queue)?;
        if let Some(last) = self.last_queued {
            if view.queued < last {
                self.reject(format!(
                    "the kernel view's queued count fell from {last} to {} while nothing was accepted",
                    view.queued
                ));
                return None;
            }
        }
        self.last_queued = Some(view.queued);
        Some(view)
    }

    fn reject(&mut self, reason: String) {
        if self.unusable.is_none() {
            self.unusable = Some(reason);
        }
    }

    /// True once the view has been read and still tracks the clients.
    fn tracking(&self) -> bool {
        self.unusable.is_none() && self.last_queued.is_some()
    }

    /// Why the view was not used, if it was not.
    pub(crate) fn unusable(&self) -> Option<&str> {
        self.unusable.as_deref()
    }

    /// The view as a report may show it: `None` when unusable.
    pub(crate) fn final_reading(&mut self) -> Option<KernelQueue> {
        self.read()
    }
}

/// The outcome of one client connect.
pub(crate) enum Attempt {
    /// Connected and confirmed, after this long.
    Completed(Socket, Duration),
    /// Neither completed nor failed while the harness waited.
    Pending {
        /// The client, still connecting (the caller may watch it further).
        socket: Socket,
        /// When its `connect()` was issued.
        started: Instant,
        /// What the kernel view said about it: queued, not queued, or no usable view.
        kernel_admitted: Option<bool>,
        /// Whether the kernel view showed a full queue when the wait ended.
        kernel_full: Option<bool>,
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
    /// The client could not be bound to the source address it was given.
    SourceUnavailable(OsError),
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

/// Wait up to `timeout` for a connecting socket to be writable (connected or failed), asking
/// again every [`POLL_SLICE`].
pub(crate) fn wait_writable(client: &Socket, timeout: Duration) -> io::Result<bool> {
    let until = Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let slice = left.min(POLL_SLICE);
        if super::stall::timed(slice, || sys::wait_writable(client, slice))? {
            return Ok(true);
        }
        if left <= POLL_SLICE {
            return Ok(false);
        }
    }
}

/// Open one client of type `ty` for `target` and drive its connect to an outcome. `view` is
/// the listener's own view when this process owns it: it holds exactly `completed` connections
/// if it did not queue this one. A pending connect counts as unanswered only with evidence:
/// the kernel's full queue and several handshake times (`pace`), or, without a usable view,
/// a wait past the first SYN retransmission.
pub(crate) fn attempt(
    target: &SockAddr,
    ty: Type,
    source: Option<&SockAddr>,
    view: &mut View<'_>,
    completed: u32,
    pace: &Pace,
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
    if let Some(source) = source {
        if let Err(e) = sys::defer_port_choice(&client).and_then(|()| client.bind(source)) {
            return Attempt::SourceUnavailable(os_error_of(&e));
        }
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
    match wait_writable(&client, bounded(pace.grace(), deadline)) {
        Err(e) => return failed(os_error_of(&e), ConnectStage::Handshake),
        Ok(true) => return confirm(client, started),
        Ok(false) => {}
    }
    // Still pending after the grace. The kernel's full queue is the evidence for a drop; with
    // room in the queue (or no usable view) the handshake may just be slow: wait past the
    // first retransmission.
    let reading = view.read();
    let admitted = |reading: Option<KernelQueue>| reading.map(|v| v.queued > completed);
    let full = |reading: Option<KernelQueue>| reading.and_then(|v| sys::queue_full(&v));
    let dropped_by_a_full_queue = full(reading) == Some(true) && admitted(reading) == Some(false);
    if !dropped_by_a_full_queue {
        let ceiling = match full(reading) {
            Some(false) => pace.room_ceiling(),
            _ => pace.ceiling(),
        };
        let left = bounded(ceiling.saturating_sub(started.elapsed()), deadline);
        match wait_writable(&client, left) {
            Err(e) => return failed(os_error_of(&e), ConnectStage::Handshake),
            Ok(true) => return confirm(client, started),
            Ok(false) => {}
        }
    }
    if passed(deadline) {
        return Attempt::Interrupted;
    }
    let reading = view.read();
    Attempt::Pending {
        socket: client,
        started,
        kernel_admitted: admitted(reading),
        kernel_full: full(reading),
    }
}

/// The socket signalled: read `SO_ERROR` to learn whether it connected, and check once more
/// right away for a reset that follows completion (FreeBSD resets on a full queue after the
/// handshake; a later reset is caught by the fill's confirmation).
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
    Attempt::Completed(client, started.elapsed())
}

/// The source addresses a fill's clients connect from. Each source address has its own
/// ephemeral ports, so when a client's `connect()` finds none left (a queue larger than the
/// port range), the next clients are bound to another loopback address where the system routes
/// all of 127/8 to loopback (Linux, Windows), and the fill goes on. Where it has no other
/// loopback address (macOS and FreeBSD have only 127.0.0.1; IPv6 only ::1), the case ends
/// inconclusive, naming the port limit, rather than showing the port range as the queue.
struct Sources {
    /// The last octet of the 127.0.0.x address in use; `None`: the system's choice.
    octet: Option<u8>,
}

impl Sources {
    /// The address to bind the next client to.
    fn current(&self) -> Option<SockAddr> {
        self.octet
            .map(|octet| SockAddr::from(std::net::SocketAddr::from(([127, 0, 0, octet], 0))))
    }

    /// Move on to the next source address for `target`, if there is one to try.
    fn advance(&mut self, target: &SockAddr) -> bool {
        let ipv4_loopback = target
            .as_socket_ipv4()
            .is_some_and(|address| address.ip().is_loopback());
        let next = match self.octet {
            None => 2,
            Some(254) => return false,
            Some(octet) => octet + 1,
        };
        if ipv4_loopback {
            self.octet = Some(next);
        }
        ipv4_loopback
    }
}

/// A sequential fill's clients and how it ended.
pub(crate) struct Filled {
    /// Every completed client, still connected.
    pub clients: Vec<Socket>,
    /// Why the fill stopped.
    pub end: FillEnd,
    /// The client that stayed pending, and when its connect started.
    pub pending: Option<(Socket, Instant)>,
    /// The handshake times seen.
    pub pace: Pace,
}

/// Clients completed so recently that a reset after completion may still be on its way, with
/// when each connect started and completed.
struct Unconfirmed {
    recent: VecDeque<(usize, Instant, Instant)>,
}

impl Unconfirmed {
    /// The first of `clients` (by index) that was reset after completing, with its error and
    /// the time from its connect to now; clients older than `window` are confirmed and
    /// forgotten once looked at.
    fn reset_among(
        &mut self,
        clients: &[Socket],
        window: Duration,
    ) -> Option<(usize, OsError, Duration)> {
        for &(index, started, _) in &self.recent {
            if let Ok(Some(error)) | Err(error) = clients[index].take_error() {
                return Some((index, os_error_of(&error), started.elapsed()));
            }
        }
        while self
            .recent
            .front()
            .is_some_and(|&(_, _, done)| done.elapsed() > window)
        {
            self.recent.pop_front();
        }
        None
    }
}

/// Connect clients of type `ty` to `target` one at a time until the first that does not
/// complete, `cap` completed, `deadline` passes, or `reservation` cannot grow to hold another.
///
/// A completed client counts as queued only once nothing contradicts it: where the kernel view
/// tracks the clients, its count must reach the client's (waiting a few handshake times for
/// it to catch up); without a usable view, each client is watched for a reset for a few
/// handshake times. A reset after completion ends the fill there (FreeBSD answers a full
/// queue's final ACK so), and every client after it is not counted.
pub(crate) fn fill(
    target: &SockAddr,
    ty: Type,
    view: &mut View<'_>,
    cap: u32,
    deadline: Option<Instant>,
    reservation: &mut Reservation<'_>,
) -> Filled {
    let mut clients: Vec<Socket> = Vec::new();
    let mut pending = None;
    let mut pace = Pace::default();
    let mut unconfirmed = Unconfirmed {
        recent: VecDeque::new(),
    };
    let mut sources = Sources { octet: None };
    let limit_text = |reservation: &Reservation<'_>| {
        let budget = reservation.budget();
        match (budget.memory_limit(), budget.limit()) {
            (Some(memory), _) => format!(
                "{memory}, room for {} queued connections",
                budget.total().unwrap_or(0)
            ),
            (None, Some(limit)) => format!("fd limit {} (hard {})", limit.soft, limit.hard),
            (None, None) => "fd budget".to_string(),
        }
    };
    let mut end = loop {
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
                    "{}: the queue outgrew the {} {} this case could hold",
                    limit_text(reservation),
                    reservation.held(),
                    if reservation.budget().memory_limit().is_some() {
                        "connections"
                    } else {
                        "descriptors"
                    }
                ),
            };
        }
        let source = sources.current();
        match attempt(
            target,
            ty,
            source.as_ref(),
            view,
            clients.len() as u32,
            &pace,
            deadline,
        ) {
            Attempt::Completed(socket, handshake) => {
                pace.observe(handshake);
                let started = Instant::now() - handshake;
                clients.push(socket);
                unconfirmed
                    .recent
                    .push_back((clients.len() - 1, started, Instant::now()));
                if let Some(reset) =
                    settle(view, &clients, &mut unconfirmed, &pace, deadline, false)
                {
                    break reset_end(&mut clients, reset);
                }
            }
            Attempt::Pending {
                socket,
                started,
                kernel_admitted,
                kernel_full,
            } => {
                let waited = started.elapsed();
                pending = Some((socket, started));
                break FillEnd::Pending {
                    waited,
                    kernel_admitted,
                    kernel_full,
                };
            }
            Attempt::Failed {
                error,
                stage: ConnectStage::Immediate,
                ..
            } if error.code >= 0 && sys::is_out_of_ports(error.code) => {
                if !sources.advance(target) {
                    break FillEnd::OutOfResources {
                        detail: format!(
                            "the client ran out of local ports after {} connections ({error}), and {} has no other loopback source address to spread over",
                            clients.len(),
                            target
                                .as_socket()
                                .map_or_else(String::new, |a| a.ip().to_string())
                        ),
                        error: Some(error),
                    };
                }
            }
            Attempt::SourceUnavailable(error) => {
                break FillEnd::OutOfResources {
                    detail: format!(
                        "the client ran out of local ports after {} connections, and no other loopback source address could be bound ({} failed with {error})",
                        clients.len(),
                        source
                            .as_ref()
                            .and_then(SockAddr::as_socket)
                            .map_or_else(String::new, |a| a.ip().to_string())
                    ),
                    error: Some(error),
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
    // The last clients get their full window for a late reset before the count is final.
    if let Some(reset) = settle(view, &clients, &mut unconfirmed, &pace, deadline, true) {
        end = reset_end(&mut clients, reset);
        pending = None;
    }
    Filled {
        clients,
        end,
        pending,
        pace,
    }
}

/// After a client completed: where the kernel view tracks the clients, the clients count once
/// the view's count reaches theirs (a queued connection cannot be reset after completion),
/// looked at every [`CONFIRM_BATCH`] clients; while the view lags, or without a usable view, the
/// recent clients are watched for a reset. With `to_the_end`, the last clients' whole confirmation window is waited out.
/// Returns the first reset client, if any. A view that does not catch up within the first SYN
/// retransmission and a few handshake times is marked unusable for the case, and the clients
/// are watched instead.
fn settle(
    view: &mut View<'_>,
    clients: &[Socket],
    unconfirmed: &mut Unconfirmed,
    pace: &Pace,
    deadline: Option<Instant>,
    to_the_end: bool,
) -> Option<(usize, OsError, Duration)> {
    if !to_the_end && view.tracking() && unconfirmed.recent.len() < CONFIRM_BATCH {
        return None;
    }
    let completed = clients.len() as u32;
    // The client's final ACK reaches the listener a moment after the client sees its connect
    // complete; on a slow link that moment can be long, so the view gets as long as a pending
    // connect before it is given up.
    let patience = pace.ceiling();
    let until = Instant::now() + bounded(patience, deadline);
    loop {
        let reading = view.read();
        if reading.is_some_and(|r| r.queued >= completed) {
            unconfirmed.recent.clear();
            return None;
        }
        if let Some(reset) = unconfirmed.reset_among(clients, pace.confirm_window()) {
            return Some(reset);
        }
        let lagging = reading.is_some();
        if !lagging && (!to_the_end || unconfirmed.recent.is_empty()) {
            return None;
        }
        if Instant::now() >= until {
            let reading = reading?;
            // From here on the clients are watched instead of the view.
            view.reject(format!(
                "the kernel view counted {} queued while {completed} clients had completed",
                reading.queued
            ));
            continue;
        }
        std::thread::sleep(CATCH_UP_TICK);
    }
}

/// End a fill at the first client that was reset after completing: it and every client after
/// it are not counted (closed here).
fn reset_end(
    clients: &mut Vec<Socket>,
    (index, error, after): (usize, OsError, Duration),
) -> FillEnd {
    clients.truncate(index);
    FillEnd::Failed {
        error,
        after,
        stage: ConnectStage::AfterCompletion,
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
    let estimate = descriptor_estimate(view, cap, budget);
    fill_held_reserving(target, ty, view, estimate, cap, budget)
}

/// [`fill_held`] of a listener another process owns, whose stored limit a listener listing
/// showed (Linux sock_diag): descriptors are reserved for that limit, as for a listener with a
/// view, instead of the whole budget, so fills of several such listeners can run side by side.
pub fn fill_held_for_limit<'a>(
    target: &SockAddr,
    ty: Type,
    limit: u32,
    cap: u32,
    budget: &'a FdBudget,
) -> HeldFill<'a> {
    let estimate = clients_for_limit(limit, cap) + OVERHEAD;
    fill_held_reserving(target, ty, None, estimate, cap, budget)
}

/// [`fill_held`] with `estimate` descriptors reserved up front.
fn fill_held_reserving<'a>(
    target: &SockAddr,
    ty: Type,
    view: Option<&Socket>,
    estimate: usize,
    cap: u32,
    budget: &'a FdBudget,
) -> HeldFill<'a> {
    // What the process's descriptor limit allowed this fill, for a fill it stopped.
    // Under a memory limit tighter than the descriptor limit, the descriptor limit is not what
    // stopped the fill.
    let limited = |descriptors: usize| {
        let fd_bound = budget.memory_limit().is_none();
        budget.limit().filter(|_| fd_bound).map(|limit| FillLimit {
            soft: limit.soft,
            hard: limit.hard,
            descriptors: descriptors as u64,
        })
    };
    let Some(mut reservation) = budget.reserve(estimate, BUDGET_WAIT) else {
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
    let filled = fill(target, ty, &mut View::of(view), cap, None, &mut reservation);
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
    accepted: impl FnMut(Socket, SockAddr),
) -> u32 {
    drain_owed(
        listener,
        deadline,
        expected,
        straggler_poll,
        straggler_poll,
        accepted,
    )
}

/// [`drain`], waiting up to `owed_wait` (instead of `straggler_poll`) while fewer than
/// `expected` have been accepted: a connection the clients saw complete reaches the listener
/// a moment later on a slow link.
pub(crate) fn drain_owed(
    listener: &Socket,
    deadline: Instant,
    expected: Option<u32>,
    straggler_poll: Duration,
    owed_wait: Duration,
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
                let owed = expected.is_some_and(|expected| count < expected);
                if empty && expected.is_some() && !owed {
                    break;
                }
                let poll = if owed { owed_wait } else { straggler_poll };
                // An empty queue waits for a straggler. ECONNABORTED and friends (a queued
                // connection went away) keep draining while the listener still has something
                // to offer; an error that persists, such as EMFILE, ends the drain at the next
                // empty poll instead of spinning.
                let left = deadline.saturating_duration_since(Instant::now());
                if !sys::wait_readable(listener, poll.min(left)).unwrap_or(false) {
                    break;
                }
            }
        }
    }
    count
}

/// Accept up to `most` connections that are queued now, without waiting, closing each at once,
/// except the one from `spared` (a pending client's local address): that one is handed back
/// open, so its client is not reset by the harness while it is still being watched.
pub(crate) fn accept_some(
    listener: &Socket,
    most: usize,
    spared: Option<std::net::SocketAddr>,
) -> (u32, Option<Socket>) {
    let mut accepted = 0;
    let mut kept = None;
    for _ in 0..most {
        match listener.accept() {
            Ok((connection, peer)) => {
                accepted += 1;
                if spared.is_some() && peer.as_socket() == spared {
                    kept = Some(connection);
                } else {
                    close_abortively(connection);
                }
            }
            Err(_) => break,
        }
    }
    (accepted, kept)
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
