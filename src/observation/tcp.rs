//! Raw facts from one sequential TCP experiment: counts, raw OS errors and monotonic timings.
//! No judgement.

use std::time::Duration;

use super::SetupStage;
use crate::os_error::OsError;
use crate::plan::CaseSpec;
use crate::sys::KernelQueue;

/// How the listener setup went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// Bound and listening.
    Listening,
    /// The run's deadline passed before the case started.
    NotRun,
    /// The worker process that ran the case ended without reporting it (it crashed, or was
    /// ended at the run's ceiling); nothing is known about the case.
    Lost {
        /// How the worker ended.
        detail: String,
    },
    /// A step failed with a raw OS error.
    Failed {
        /// Which step.
        stage: SetupStage,
        /// What the OS said.
        error: OsError,
    },
}

/// Where a failing connect reported its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStage {
    /// `connect()` itself returned the error.
    Immediate,
    /// The socket became writable with `SO_ERROR` set.
    Handshake,
    /// The connect completed, then the peer reset it at once.
    AfterCompletion,
}

/// Why the harness stopped opening connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillEnd {
    /// The listener never came up.
    NotStarted,
    /// `cap` connections completed without an overflow.
    CapReached,
    /// The next connect neither completed nor failed while the harness waited for it: until
    /// several times the case's slowest handshake once the kernel view showed a full queue, else
    /// past the first SYN retransmission.
    Pending {
        /// How long the harness watched it.
        waited: Duration,
        /// Whether the kernel view showed the connection queued (`Some(true)`), not queued
        /// (`Some(false)`), or could not be read or trusted (`None`).
        kernel_admitted: Option<bool>,
        /// Whether the kernel view showed a full queue by the kernel's own test when the wait
        /// ended (`None`: no usable view).
        kernel_full: Option<bool>,
    },
    /// The next connect failed.
    Failed {
        /// The raw error.
        error: OsError,
        /// Time from `connect()` to the error.
        after: Duration,
        /// Where the error showed.
        stage: ConnectStage,
    },
    /// The run's deadline (`--deadline`) passed before the fill ended.
    DeadlineReached {
        /// Connections completed until then.
        connections: u32,
    },
    /// The harness ran out of descriptors before the queue was full.
    OutOfResources {
        /// The raw error, if a system call failed (EMFILE).
        error: Option<OsError>,
        /// What ran out, with numbers.
        detail: String,
    },
}

/// What the pending client did once the server started accepting (one connection at once, the
/// rest while the harness watched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Late {
    /// No client was pending (the overflow was an error, or there was none).
    NotWatched,
    /// It completed; `after` counts from its `connect()`.
    Completed {
        /// Time from `connect()` to completion.
        after: Duration,
    },
    /// It was still pending when the watch ended.
    StillPending {
        /// Time from `connect()` to the end of the watch.
        watched: Duration,
    },
    /// It failed.
    Failed {
        /// The raw error.
        error: OsError,
        /// Time from `connect()` to the error.
        after: Duration,
    },
}

/// Everything one experiment observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// What was run.
    pub spec: CaseSpec,
    /// The backlog value passed to `listen()`.
    pub backlog: i32,
    /// Listener setup.
    pub setup: Setup,
    /// Connections that completed, one at a time, before the fill ended.
    pub completed: u32,
    /// Why the fill ended.
    pub fill_end: FillEnd,
    /// The kernel's view of the queue when the fill ended (`None` without a usable view).
    pub kernel_queue: Option<KernelQueue>,
    /// Why the kernel view was not used for this case, where the OS has one but it did not
    /// track the clients (it stayed 0 while they completed, or moved the wrong way).
    pub kernel_view_unusable: Option<String>,
    /// The longest handshake a completed client of this case took (`None` before any
    /// completed): the scale every wait of the case is stretched to.
    pub slowest_handshake: Option<Duration>,
    /// What the pending client did once the server started accepting.
    pub late: Late,
    /// Connections the server accepted in all.
    pub accepted: u32,
    /// Wall time of the whole case.
    pub duration: Duration,
}

impl Observation {
    /// An observation of `spec` before anything was measured: nothing completed, nothing
    /// accepted, no kernel view.
    pub fn empty(spec: CaseSpec, setup: Setup) -> Self {
        Observation {
            spec,
            backlog: spec.backlog.value(),
            setup,
            completed: 0,
            fill_end: FillEnd::NotStarted,
            kernel_queue: None,
            kernel_view_unusable: None,
            slowest_handshake: None,
            late: Late::NotWatched,
            accepted: 0,
            duration: Duration::ZERO,
        }
    }
}
