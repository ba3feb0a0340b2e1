//! The main experiment: a TCP listener on loopback, filled one connection at a time.
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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use socket2::{Socket, Type};

use super::budget::{BUDGET_WAIT, FdBudget, OVERHEAD};
use super::connect::{
    View, accept_some, bounded, clients_for_limit, close_abortively, descriptor_estimate,
    drain_owed, fill, passed, wait_writable,
};
use super::open_listener;
use crate::observation::tcp::{FillEnd, Late, Observation, Setup};
use crate::os_error::os_error_of;
use crate::plan::{CaseSpec, Settings};
use crate::sys;

/// After the queue looks drained, how long to wait for a straggler before the count is final.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// A ceiling on the whole drain, so a listener that keeps receiving connections cannot hold the
/// case forever.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// How long to wait for the first queued connection to become acceptable.
const ACCEPT_WAIT: Duration = Duration::from_secs(2);

/// Connections accepted, or clients closed, per slice of clean-up work between two looks at
/// the pending client: small enough that the completion time stays within about a millisecond.
const CLEANUP_SLICE: usize = 32;
/// How long one slice of clean-up work may take before the gap between two looks at the
/// pending client counts as a stall (on top of [`super::stall::STALL_GAP`]).
const CLEANUP_ALLOWANCE: Duration = Duration::from_millis(100);

/// What the watch on the pending client saw.
struct LateWatch {
    late: Late,
    /// Connections accepted during the watch (the late client's among them if it got in).
    accepted: u32,
    /// The pending client, if it connected (closed with the others).
    connected: Option<Socket>,
    /// The server end of the pending client's connection, if the watch accepted it (kept open
    /// until the watch ended, closed with the others).
    server_end: Option<Socket>,
}

/// Watch the pending client for `window` after a slot was freed (never past `deadline`). The
/// wait for a SYN retransmission is about a second of idle time, so the queued connections
/// are accepted and the completed clients closed in the meantime, in small slices between
/// looks at the client: the clean-up of thousands of connections overlaps the wait instead of
/// following it. Accepting more than the one connection changes nothing the watch measures:
/// the pending client needs one free slot, and it has at least that from the start of the
/// watch. The pending client's own connection, once accepted, is kept open until the watch
/// ends: closing it abortively would reset the client the watch is looking at, a verdict the
/// harness made itself (the connection is told apart by the client's local address).
///
/// A stall of the harness (it was not running; see [`super::stall`]) since the client's
/// connect stretches the window: while the queue was still full, the SYN retransmissions
/// during the stall were dropped, each pushing the next one out (exponential backoff), so the
/// next can come as long after the stall as the connect had been waiting by then, plus the
/// usual window.
fn watch_late(
    listener: &Socket,
    client: Socket,
    clients: &mut VecDeque<Socket>,
    connect_started: Instant,
    window: Duration,
    deadline: Option<Instant>,
) -> LateWatch {
    let started = Instant::now();
    let mut until = started + bounded(window, deadline);
    let spared = client.local_addr().ok().and_then(|a| a.as_socket());
    let mut server_end = None;
    let mut accepted = 0;
    let mut queue_empty = false;
    let mut last_look = started;
    let mut last_wait = Duration::ZERO;
    loop {
        let now = Instant::now();
        super::stall::check(last_wait + CLEANUP_ALLOWANCE, now - last_look);
        last_look = now;
        if let Some(stall_end) = super::stall::last_since(connect_started) {
            let next_retransmission = stall_end + (stall_end - connect_started);
            let stretched = next_retransmission + window;
            until = until.max(deadline.map_or(stretched, |d| stretched.min(d)));
        }
        let left = until.saturating_duration_since(now);
        // With clean-up work left, only peek at the client; otherwise wait for it.
        let busy = !queue_empty || !clients.is_empty();
        let wait = if busy { Duration::ZERO } else { left };
        last_wait = wait;
        let late = match wait_writable(&client, wait) {
            Ok(true) => match client.take_error() {
                Ok(None) => {
                    let after = connect_started.elapsed();
                    return LateWatch {
                        late: Late::Completed { after },
                        accepted,
                        connected: Some(client),
                        server_end,
                    };
                }
                Ok(Some(e)) | Err(e) => Late::Failed {
                    error: os_error_of(&e),
                    after: connect_started.elapsed(),
                },
            },
            Ok(false) if left.is_zero() || !busy => {
                // A wait that ended with time left was cut short by a stall noticed just now:
                // look again with the stretched window.
                if !busy && super::stall::last_since(now).is_some() {
                    continue;
                }
                Late::StillPending {
                    watched: connect_started.elapsed(),
                }
            }
            Ok(false) => {
                let (taken, kept) = accept_some(listener, CLEANUP_SLICE, spared);
                accepted += taken;
                server_end = server_end.or(kept);
                queue_empty = taken < CLEANUP_SLICE as u32;
                // The oldest clients were queued first, so their server ends are the ones just
                // reset. They are closed abortively too: under gVisor, closing a client with the
                // reset still unread kept the pending client's retransmitted handshake from
                // ever completing on its side (the server accepted it).
                for _ in 0..CLEANUP_SLICE {
                    let Some(done) = clients.pop_front() else {
                        break;
                    };
                    close_abortively(done);
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
            server_end,
        };
    }
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
    let mut obs = Observation::empty(spec, Setup::Listening);
    let listener = match open_listener(spec.family, spec.backlog.value()) {
        Ok(listener) => listener,
        Err((stage, error)) => {
            obs.setup = Setup::Failed { stage, error };
            obs.duration = started.elapsed();
            return obs;
        }
    };
    let estimate = descriptor_estimate(Some(&listener.socket), settings.cap, budget);
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

    let mut view = View::of(Some(&listener.socket));
    let filled = fill(
        &listener.address,
        Type::STREAM,
        &mut view,
        settings.cap,
        deadline,
        &mut reservation,
    );
    obs.fill_end = filled.end;
    obs.completed = filled.clients.len() as u32;
    obs.kernel_queue = view.final_reading();
    obs.kernel_view_unusable = view.unusable().map(str::to_string);
    obs.slowest_handshake = filled.pace.slowest();

    let mut clients = VecDeque::from(filled.clients);
    if let Some((client, connect_started)) = filled.pending {
        // Free one slot, then watch whether the pending client gets in.
        let wait = bounded(ACCEPT_WAIT, deadline);
        let asked = Instant::now();
        let readable = sys::wait_readable(&listener.socket, wait).unwrap_or(false);
        // The queue is full, so it is readable at once: a slow return is a stall.
        super::stall::check(
            if readable { Duration::ZERO } else { wait },
            asked.elapsed(),
        );
        if readable {
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
            filled.pace.late_window(),
            deadline,
        );
        obs.late = watch.late;
        obs.accepted += watch.accepted;
        clients.extend(watch.connected);
        if let Some(server_end) = watch.server_end {
            close_abortively(server_end);
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
    let own = Instant::now() + DRAIN_DEADLINE;
    obs.accepted += drain_owed(
        &listener.socket,
        deadline.map_or(own, |d| d.min(own)),
        owed,
        DRAIN_POLL.max(filled.pace.stretched()),
        // A connection the clients completed reaches the listener a moment later on a slow
        // link: wait for one that is owed as long as for a pending connect.
        filled.pace.ceiling(),
        |connection, _| close_abortively(connection),
    );
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
