//! Raw facts from one burst: many clients connecting at once to a listener that does not
//! accept ([`crate::experiment::burst`]).

use serde::{Deserialize, Serialize};

use crate::os_error::OsError;
use crate::plan::Family;
use crate::sys::KernelQueue;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurstSpec {
    /// Loopback family.
    pub family: Family,
    /// The i32 passed to `listen()`.
    pub backlog: i32,
    /// Clients that connect at once.
    pub clients: u32,
    /// The whole burst must end within this many milliseconds.
    pub deadline_ms: u64,
}

/// How a client's connect ended within the settle window: raw facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectEnd {
    /// Writable with `SO_ERROR` 0 (the client considers itself connected).
    Connected {
        /// From the burst start to when the client was seen connected.
        after_us: u64,
    },
    /// `connect()` or `SO_ERROR` reported an error.
    Failed {
        /// The raw error.
        error: OsError,
        /// From the burst start to when the error was seen.
        after_us: u64,
    },
    /// Still in progress when the settle window ended.
    Pending {
        /// How long it was watched.
        watched_us: u64,
    },
    /// The client socket could not be opened.
    NotOpened {
        /// The raw error of `socket()`.
        error: OsError,
    },
}

/// What reading a probed client returned, 300 ms after its one-byte write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeRead {
    /// Nothing to read: no answer.
    WouldBlock,
    /// The peer closed the connection.
    Eof,
    /// The peer sent data.
    Data,
    /// The read failed (a reset).
    Error,
}

/// What the probe of a half-open client saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The error of the one-byte write, or null if it was accepted by the client's stack.
    pub write_error: Option<OsError>,
    /// The read 300 ms after the write.
    pub read: ProbeRead,
    /// The read's raw error, where there was one.
    pub read_error: Option<OsError>,
    /// Whether the server could accept the connection after the probe.
    pub accepted_after_probe: bool,
}

/// One client's raw facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFacts {
    /// How its connect ended in the settle window.
    pub connect: ConnectEnd,
    /// The server accepted it in the drain after the window.
    pub accepted: bool,
    /// The half-open probe, for clients that connected but were not accepted.
    pub probe: Option<Probe>,
}

/// The step of a burst's setup that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurstSetupStep {
    /// `socket()` for the listener.
    Socket,
    /// `bind()`.
    Bind,
    /// `listen()`.
    Listen,
    /// The process could not set aside a descriptor for every client at once.
    FdBudget,
    /// A connect thread could not be started (a thread or process limit such as `ulimit -u` or
    /// a container's pids limit, or too little address space for its stack): no client
    /// connected.
    Threads,
}

impl From<super::SetupStage> for BurstSetupStep {
    fn from(stage: super::SetupStage) -> Self {
        match stage {
            super::SetupStage::Socket => BurstSetupStep::Socket,
            super::SetupStage::Bind => BurstSetupStep::Bind,
            super::SetupStage::Listen => BurstSetupStep::Listen,
        }
    }
}

impl BurstSetupStep {
    /// The wire name (`socket`, `bind`, `listen`, `fd_budget`, `threads`).
    pub fn as_str(self) -> &'static str {
        match self {
            BurstSetupStep::Socket => "socket",
            BurstSetupStep::Bind => "bind",
            BurstSetupStep::Listen => "listen",
            BurstSetupStep::FdBudget => "fd_budget",
            BurstSetupStep::Threads => "threads",
        }
    }
}

/// The raw result of one burst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurstObservation {
    /// What ran.
    pub spec: BurstSpec,
    /// Null if the listener came up; else the failed step and its error.
    pub setup_error: Option<(BurstSetupStep, Option<OsError>)>,
    /// The kernel's view of the queue at the end of the settle window.
    pub kernel_queue: Option<KernelQueue>,
    /// Connections the server accepted in all (including any that were not ours: none on a
    /// private loopback listener).
    pub accepted_total: u32,
    /// One entry per client, in the order they were opened.
    pub clients: Vec<ClientFacts>,
    /// True if the global deadline cut the burst short.
    pub deadline_hit: bool,
    /// Wall time of the burst in milliseconds.
    pub duration_ms: u64,
}
