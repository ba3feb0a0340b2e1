//! Raw facts, one module per pipeline: counts, raw OS errors and monotonic timings, no
//! judgement. [`experiment`](crate::experiment) produces them; [`classify`](crate::classify)
//! judges them; [`report`](crate::report) lays them out for the wire.
//!
//! - [`tcp`]: one sequential TCP experiment ([`tcp::Observation`]).
//! - [`burst`]: many clients at once ([`burst::BurstObservation`]).
//! - [`extras`]: UDP `listen()`, Unix-domain queues, re-listen, runtime defaults, and the
//!   sequential fill they share ([`extras::FillResult`]).
//!
//! The types shared by all three live here.

pub mod burst;
pub mod extras;
pub mod tcp;

use serde::{Deserialize, Serialize};

use crate::os_error::OsError;

/// The step of setting up a listener that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStage {
    /// `socket()`
    Socket,
    /// `bind()` to the loopback address (or the socket path)
    Bind,
    /// `listen()` with the requested backlog
    Listen,
}

impl SetupStage {
    /// The call, as a message names it: `socket()`, `bind()`, `listen()`.
    pub fn call(self) -> &'static str {
        match self {
            SetupStage::Socket => "socket()",
            SetupStage::Bind => "bind()",
            SetupStage::Listen => "listen()",
        }
    }
}

/// Where a listener's setup stopped, as the wire format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedAt {
    /// `socket()` failed.
    Socket,
    /// `bind()` failed.
    Bind,
    /// `listen()` failed.
    Listen,
    /// The run's `--deadline` passed before the case started.
    NotRun,
    /// The worker process running the case ended without reporting it.
    Lost,
}

impl From<SetupStage> for FailedAt {
    fn from(stage: SetupStage) -> Self {
        match stage {
            SetupStage::Socket => FailedAt::Socket,
            SetupStage::Bind => FailedAt::Bind,
            SetupStage::Listen => FailedAt::Listen,
        }
    }
}

impl FailedAt {
    /// The wire name (`socket`, `bind`, `listen`, `not_run`, `lost`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailedAt::Socket => "socket",
            FailedAt::Bind => "bind",
            FailedAt::Listen => "listen",
            FailedAt::NotRun => "not_run",
            FailedAt::Lost => "lost",
        }
    }
}

/// How a listener's setup went, as every report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenReport {
    /// True if the listener is bound and listening.
    pub ok: bool,
    /// The step that failed.
    pub failed_at: Option<FailedAt>,
    /// The raw error of the failed step.
    pub os_error: Option<OsError>,
}

impl ListenReport {
    /// Bound and listening.
    pub fn ok() -> Self {
        ListenReport {
            ok: true,
            failed_at: None,
            os_error: None,
        }
    }

    /// `stage` failed with `error`.
    pub fn failed(stage: SetupStage, error: OsError) -> Self {
        ListenReport {
            ok: false,
            failed_at: Some(stage.into()),
            os_error: Some(error),
        }
    }
}
