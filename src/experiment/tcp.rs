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

/// What the watch on the pending client saw.
struct LateWatch {
    late: Late,
    /// Connections accepted during the watch (the late client's among them if it got in).
    accepted: u32,
    /// The pending client, if it connected (closed with the others).
    connected: Option<Socket>,
}

/// Watch the pending client for `window` after a slot was freed. The wait for a SYN
/// retransmission is about a second of idle time, so the queued connections are accepted and
/// the completed clients closed in the meantime, in small slices between looks at the client:
/// the clean-up of thousands of connections overlaps the wait instead of following it.
/// Accepting more than the one connection changes nothing the watch measures: the pending
/// client needs one free slot, and it has at least that from the start of the watch.
fn watch_late(
    listener: &Socket,
    client: Socket,
    clients: &mut VecDeque<Socket>,
    connect_started: Instant,
    window: Duration,
) -> LateWatch {
    let until = Instant::now() + window;
    let mut accepted = 0;
    let mut queue_empty = false;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        // With clean-up work left, only peek at the client; otherwise wait for it.
        let busy = !queue_empty || !clients.is_empty();
        let wait = if busy { Duration::ZERO } else { left };
        let late = match wait_writable(&client, wait) {
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
            bounded(filled.pace.late_window(), deadline),
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
