//! `backlog-probe hold`: a loopback listener whose queue is full and stays full, for testing a
//! client's behaviour against it. It never accepts, unless asked to accept one connection every
//! so often (`--accept-every`): a slow server, whose queue drains at a known rate, so a client's
//! failures can be told apart as queue length or accept throughput. The fill is the sequential
//! one of [`super::connect`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Socket, Type};

use super::budget::FdBudget;
use super::connect::{HeldFill, fill_held};
use super::open_listener;
use crate::classify::extras::queue_was_full;
use crate::observation::SetupStage;
use crate::observation::extras::FillResult;
use crate::os_error::OsError;
use crate::plan::Family;

/// The most clients `hold` opens.
pub const HOLD_CAP: u32 = 70_000;
/// How often the hold loop checks for an interrupt or its deadline.
const HOLD_POLL: Duration = Duration::from_millis(50);

/// A listener whose queue has been filled. Dropping it closes every socket.
#[derive(Debug)]
pub struct FullListener<'a> {
    /// The listener's loopback address (what a client should connect to).
    pub address: SocketAddr,
    /// The fill that made it full.
    pub fill: FillResult,
    held: HeldFill<'a>,
    listener: Socket,
}

impl FullListener<'_> {
    /// Client sockets held open.
    pub fn clients(&self) -> usize {
        self.held.clients.len()
    }
}

/// Why a full listener could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldError {
    /// `socket()`, `bind()` or `listen()` failed.
    Setup {
        /// The step.
        stage: SetupStage,
        /// The raw error.
        error: OsError,
    },
    /// The fill stopped before the listener stopped taking connections.
    NotFull(FillResult),
}

impl std::fmt::Display for HoldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoldError::Setup { stage, error } => write!(f, "{} failed: {error}", stage.call()),
            HoldError::NotFull(fill) => write!(
                f,
                "could not fill the queue: stopped after {} connections ({}{})",
                fill.queue_length,
                fill.stop.as_str(),
                fill.os_error
                    .as_ref()
                    .map_or_else(String::new, |e| format!(", {e}"))
            ),
        }
    }
}

/// Bind a loopback listener with `backlog`, fill its queue with descriptors from `budget`, and
/// return it full.
pub fn full_listener(
    family: Family,
    backlog: i32,
    budget: &FdBudget,
) -> Result<FullListener<'_>, HoldError> {
    let listener = open_listener(family, backlog)
        .map_err(|(stage, error)| HoldError::Setup { stage, error })?;
    let target = listener.address;
    // open_listener refuses any address that is not loopback.
    let Some(address) = target.as_socket() else {
        return Err(HoldError::Setup {
            stage: SetupStage::Bind,
            error: OsError {
                name: None,
                code: -1,
            },
        });
    };
    let listener = listener.socket;
    let held = fill_held(&target, Type::STREAM, Some(&listener), HOLD_CAP, budget);
    if !queue_was_full(held.result.stop) {
        return Err(HoldError::NotFull(held.result.clone()));
    }
    Ok(FullListener {
        address,
        fill: held.result.clone(),
        held,
        listener,
    })
}

/// How a hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    /// Ctrl-C (or SIGTERM, SIGHUP).
    Interrupted,
    /// The `--for` deadline passed.
    DeadlineReached,
    /// Whoever read the address went away (`hold | head -c 1`).
    ReaderGone,
}

/// How a hold went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldOutcome {
    /// Why it ended.
    pub end: HoldEnd,
    /// Connections accepted (and closed at once) with `accept_every`; 0 without.
    pub accepted: u64,
}

/// Keep `full` open until `stop()` names a reason to end or `deadline` passes, then close it.
/// `stop` is polled every 50 ms. With `accept_every`, one queued connection is accepted and
/// closed each time that much time has passed (the first one `accept_every` after the start);
/// a turn that finds the queue empty accepts nothing and does not catch up later.
pub fn hold_until(
    full: FullListener<'_>,
    deadline: Option<Duration>,
    accept_every: Option<Duration>,
    stop: &dyn Fn() -> Option<HoldEnd>,
) -> HoldOutcome {
    let started = Instant::now();
    let mut accepted = 0;
    let mut turns = 0u32;
    let end = loop {
        if let Some(end) = stop() {
            break end;
        }
        let elapsed = started.elapsed();
        if deadline.is_some_and(|d| elapsed >= d) {
            break HoldEnd::DeadlineReached;
        }
        let mut nap = HOLD_POLL;
        if let Some(every) = accept_every {
            let due = every.saturating_mul(turns.saturating_add(1));
            if elapsed >= due {
                turns = turns.saturating_add(1);
                // The listener is non-blocking (listen_at): an empty queue is WouldBlock, and
                // the accepted connection is closed when it drops here.
                if full.listener.accept().is_ok() {
                    accepted += 1;
                }
                continue;
            }
            nap = nap.min(due - elapsed);
        }
        if let Some(deadline) = deadline {
            nap = nap.min(deadline.saturating_sub(elapsed));
        }
        std::thread::sleep(nap);
    };
    drop(full);
    HoldOutcome { end, accepted }
}
