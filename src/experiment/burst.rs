//! A burst: clients connecting at once to a listener that does not accept. Its facts are
//! [`BurstObservation`]; [`crate::classify::burst`] judges each client.
//!
//! # What one burst does
//! 1. Bind a loopback listener and call `listen()` with the raw backlog, as
//!    [`crate::experiment`] does.
//! 2. Open every client socket first (non-blocking), spread over a few threads, then release
//!    the threads together: each issues its `connect()`s back to back without waiting for an
//!    answer. Concurrent connects from several CPUs are what let a SYN be admitted while the
//!    queue has room and its final ACK arrive after the queue filled: the final-ACK overflow,
//!    which one-at-a-time connects never reach (os-semantics.md §7).
//! 3. Watch the clients for the settle window (`sys::ADMISSION_GRACE`): each ends connected
//!    (writable, `SO_ERROR` 0), failed (`SO_ERROR`: reset, refused, ...) or still pending.
//! 4. Read the kernel's view of the queue, then accept everything queued, noting each
//!    accepted peer address, so every connected client is known to have a server-side child or
//!    not (half-open).
//! 5. Probe each half-open client: write one byte, wait a moment, read (no answer, or a
//!    reset), then accept once more: the data segment carries the ACK again, which may
//!    complete the handshake now that the queue has room.
//! 6. Close everything.
//!
//! A global deadline bounds connecting, watching and probing; the accept passes after it have
//! their own 2 s ceiling each, so a burst ends within its deadline plus 4 s. Every socket is
//! closed when [`run_burst`] returns.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::budget::{BUDGET_WAIT, FdBudget, OVERHEAD};
use super::connect::drain;
use super::{loopback, open_listener};
use crate::observation::burst::{
    BurstObservation, BurstSetupStep, BurstSpec, ClientFacts, ConnectEnd, Probe, ProbeRead,
};
use crate::os_error::os_error_of;
use crate::sys;

/// Threads that issue the connects. A final-ACK overflow needs one handshake to be overtaken
/// between its SYN and its ACK; more threads than CPUs let the scheduler preempt one
/// mid-handshake. Measured on 2 CPUs, 30 idle-machine bursts each: 4 threads gave no half-open
/// client, 16 gave 3, 64 gave 2.
const CONNECT_THREADS: usize = 16;
/// How often the watch loop looks at unresolved clients.
const WATCH_TICK: Duration = Duration::from_millis(1);
/// After the probe writes, how long to wait for an answer (a reset, or nothing).
const PROBE_WAIT: Duration = Duration::from_millis(300);
/// A ceiling on each accept-everything pass; a queue holds at most its capacity, so this is
/// slack for a loaded machine.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);
/// After the queue looks drained, how long to wait for a straggler.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// One client while the burst runs.
struct Client {
    socket: Option<Socket>,
    local: Option<SocketAddr>,
    end: Option<ConnectEnd>,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Connect one client without waiting; resolves it at once if `connect()` answered.
fn start_connect(client: &mut Client, target: &socket2::SockAddr, started: Instant) {
    let Some(socket) = &client.socket else { return };
    match socket.connect(target) {
        Ok(()) => {
            client.end = Some(ConnectEnd::Connected {
                after_us: micros(started.elapsed()),
            })
        }
        Err(e) if e.raw_os_error().is_some_and(sys::is_in_progress) => {}
        Err(e) => {
            client.end = Some(ConnectEnd::Failed {
                error: os_error_of(&e),
                after_us: micros(started.elapsed()),
            })
        }
    }
}

/// Look once (without waiting) whether a connecting client has an outcome.
fn check(client: &mut Client, started: Instant) {
    let Some(socket) = &client.socket else { return };
    if client.end.is_some() {
        return;
    }
    match sys::wait_writable(socket, Duration::ZERO) {
        Ok(false) => {}
        Ok(true) => {
            client.end = Some(match socket.take_error() {
                Ok(None) => ConnectEnd::Connected {
                    after_us: micros(started.elapsed()),
                },
                Ok(Some(e)) | Err(e) => ConnectEnd::Failed {
                    error: os_error_of(&e),
                    after_us: micros(started.elapsed()),
                },
            })
        }
        Err(e) => {
            client.end = Some(ConnectEnd::Failed {
                error: os_error_of(&e),
                after_us: micros(started.elapsed()),
            })
        }
    }
}

/// A connected client that was reset right after connecting (abort_on_overflow's RST) shows
/// the error on `SO_ERROR`; look once more before the drain.
fn recheck_connected(client: &mut Client, started: Instant) {
    let (Some(socket), Some(ConnectEnd::Connected { .. })) = (&client.socket, &client.end) else {
        return;
    };
    if let Ok(Some(e)) = socket.take_error() {
        client.end = Some(ConnectEnd::Failed {
            error: os_error_of(&e),
            after_us: micros(started.elapsed()),
        });
    }
}

/// Accept everything queued before `deadline`; returns the peer addresses.
fn drain_peers(listener: &Socket, deadline: Instant) -> Vec<SocketAddr> {
    let mut peers = Vec::new();
    drain(listener, deadline, None, DRAIN_POLL, |connection, peer| {
        peers.extend(peer.as_socket());
        drop(connection);
    });
    peers
}

/// The signal the connect threads wait for: go (every thread started) or stop (one could not
/// start, so the burst is off). Unlike a `Barrier` sized in advance, it never waits for a thread
/// that was never started.
struct StartGate {
    decision: Mutex<Option<bool>>,
    decided: Condvar,
}

impl StartGate {
    fn new() -> Self {
        StartGate {
            decision: Mutex::new(None),
            decided: Condvar::new(),
        }
    }

    /// Release every waiting thread: `go` true to connect, false to return at once.
    fn open(&self, go: bool) {
        *self.decision.lock().unwrap_or_else(|p| p.into_inner()) = Some(go);
        self.decided.notify_all();
    }

    /// Wait for [`StartGate::open`]; true means go.
    fn wait(&self) -> bool {
        let mut decision = self.decision.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(go) = *decision {
                return go;
            }
            decision = self
                .decided
                .wait(decision)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Start one connect thread per share of `clients`, then release them together. `Err` is the
/// error of the first thread that could not start: the threads already started are released
/// without connecting, so nothing waits for a thread that does not exist.
fn connect_all(
    clients: &mut [Client],
    target: &socket2::SockAddr,
) -> Result<Instant, std::io::Error> {
    let threads = CONNECT_THREADS.min(clients.len()).max(1);
    let chunk = clients.len().div_ceil(threads).max(1);
    let gate = StartGate::new();
    std::thread::scope(|scope| {
        for share in clients.chunks_mut(chunk) {
            let gate = &gate;
            let started = std::thread::Builder::new()
                .name("burst-connect".into())
                .spawn_scoped(scope, move || {
                    if !gate.wait() {
                        return;
                    }
                    let started = Instant::now();
                    for client in share {
                        start_connect(client, target, started);
                    }
                });
            if let Err(error) = started {
                gate.open(false);
                return Err(error);
            }
        }
        let burst_started = Instant::now();
        gate.open(true);
        Ok(burst_started)
    })
}

/// Run one burst, with descriptors from `budget`.
pub fn run_burst(spec: BurstSpec, budget: &FdBudget) -> BurstObservation {
    let started = Instant::now();
    let deadline = started + Duration::from_millis(spec.deadline_ms);
    let mut obs = BurstObservation {
        spec,
        setup_error: None,
        kernel_queue: None,
        accepted_total: 0,
        clients: Vec::new(),
        deadline_hit: false,
        duration_ms: 0,
    };
    let finish = |mut obs: BurstObservation| {
        obs.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        obs
    };
    let listener = match open_listener(spec.family, spec.backlog) {
        Ok(listener) => listener,
        Err((stage, error)) => {
            obs.setup_error = Some((stage.into(), Some(error)));
            return finish(obs);
        }
    };
    let want = spec.clients as usize + OVERHEAD;
    let reservation = budget.reserve(want, BUDGET_WAIT);
    // A reservation is cut to the whole budget; a burst needs all its descriptors at once.
    if reservation.as_ref().is_none_or(|r| r.held() < want) {
        obs.setup_error = Some((BurstSetupStep::FdBudget, None));
        return finish(obs);
    }

    // Open every client first, so the connects themselves are back to back.
    let domain = Domain::for_address(loopback(spec.family));
    let mut clients: Vec<Client> = (0..spec.clients)
        .map(|_| {
            let opened = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
                .and_then(|s| s.set_nonblocking(true).map(|()| s));
            match opened {
                Ok(socket) => Client {
                    socket: Some(socket),
                    local: None,
                    end: None,
                },
                Err(e) => Client {
                    socket: None,
                    local: None,
                    end: Some(ConnectEnd::NotOpened {
                        error: os_error_of(&e),
                    }),
                },
            }
        })
        .collect();

    let burst_started = match connect_all(&mut clients, &listener.address) {
        Ok(started) => started,
        Err(error) => {
            obs.setup_error = Some((BurstSetupStep::Threads, Some(os_error_of(&error))));
            drop(clients);
            drop(listener);
            return finish(obs);
        }
    };

    // Watch for the settle window.
    let settle_end = (burst_started + sys::ADMISSION_GRACE).min(deadline);
    loop {
        for client in clients.iter_mut() {
            check(client, burst_started);
        }
        if clients.iter().all(|c| c.end.is_some()) || Instant::now() >= settle_end {
            break;
        }
        std::thread::sleep(WATCH_TICK);
    }
    for client in clients.iter_mut() {
        recheck_connected(client, burst_started);
        if client.end.is_none() {
            client.end = Some(ConnectEnd::Pending {
                watched_us: micros(burst_started.elapsed()),
            });
        }
        client.local = client
            .socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .and_then(|a| a.as_socket());
    }
    obs.kernel_queue = sys::kernel_queue(&listener.socket);

    // Accept everything queued and match it to the clients.
    // The drain runs even past the global deadline (bounded by its own): without it a
    // connected client could not be told from a half-open one.
    let peers: HashSet<SocketAddr> = drain_peers(&listener.socket, Instant::now() + DRAIN_DEADLINE)
        .into_iter()
        .collect();
    obs.accepted_total = peers.len() as u32;
    let mut facts: Vec<ClientFacts> = clients
        .iter()
        .map(|c| ClientFacts {
            connect: c
                .end
                .clone()
                .unwrap_or(ConnectEnd::Pending { watched_us: 0 }),
            accepted: c.local.is_some_and(|local| peers.contains(&local)),
            probe: None,
        })
        .collect();

    // Probe the half-open ones: write, wait, read, accept once more.
    let half_open: Vec<usize> = facts
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.connect, ConnectEnd::Connected { .. }) && !f.accepted)
        .map(|(i, _)| i)
        .collect();
    if !half_open.is_empty() && Instant::now() < deadline {
        let mut write_errors = Vec::new();
        for &i in &half_open {
            let result = clients[i].socket.as_ref().map(|mut s| s.write(b"?"));
            write_errors.push(match result {
                Some(Err(e)) => Some(os_error_of(&e)),
                _ => None,
            });
        }
        let wait_end = (Instant::now() + PROBE_WAIT).min(deadline);
        std::thread::sleep(wait_end.saturating_duration_since(Instant::now()));
        // Read before accepting: closing an accepted child with the probe byte unread sends a
        // reset, which would be the harness's doing, not the overflow's.
        let mut reads = Vec::new();
        for &i in &half_open {
            let mut buffer = [0u8; 16];
            reads.push(
                match clients[i].socket.as_ref().map(|mut s| s.read(&mut buffer)) {
                    Some(Ok(0)) => (ProbeRead::Eof, None),
                    Some(Ok(_)) => (ProbeRead::Data, None),
                    Some(Err(e)) if e.raw_os_error().is_some_and(sys::is_would_block) => {
                        (ProbeRead::WouldBlock, None)
                    }
                    Some(Err(e)) => (ProbeRead::Error, Some(os_error_of(&e))),
                    None => (ProbeRead::Error, None),
                },
            );
        }
        let late: HashSet<SocketAddr> =
            drain_peers(&listener.socket, Instant::now() + DRAIN_DEADLINE)
                .into_iter()
                .collect();
        obs.accepted_total += late.len() as u32;
        for ((&i, write_error), (read, read_error)) in half_open.iter().zip(write_errors).zip(reads)
        {
            facts[i].probe = Some(Probe {
                write_error,
                read,
                read_error,
                accepted_after_probe: clients[i].local.is_some_and(|l| late.contains(&l)),
            });
        }
    }
    obs.deadline_hit = Instant::now() >= deadline;
    obs.clients = facts;
    drop(clients);
    drop(listener);
    finish(obs)
}
