//! # backlog-probe
//!
//! Measures what `listen(fd, backlog)` really does on the OS it runs on: how many connections a
//! listener queues for a given backlog, what a client sees once the queue is full (a silently
//! dropped SYN, a refusal, a reset), whether that client gets in once a slot frees, and what the
//! kernel itself reports about the queue.
//!
//! ## Data flows one way
//!
//! ```text
//! plan (cases) ─► run (concurrent, fd budget) ─► experiment::run_case ─► Observation (raw facts)
//!                  └ fanout: worker processes when one process               │
//!                    cannot hold every case's descriptors                     │
//!                                  classify (pure) ◄─────────────────────────┘
//!                                        │
//!                 Report { schema_version, environment, cases } ─► export::{table, json, markdown}
//! ```
//!
//! - Only [`experiment`] opens sockets: the sequential TCP experiment in its root module, the
//!   concurrent [`burst`](experiment::burst) and the [`extras`](experiment::extras) (UDP,
//!   Unix-domain, re-listen, runtime defaults, `hold`) in its submodules. The one exception is
//!   the control socket `sys` uses to bring loopback up in a [`world`], which carries no
//!   traffic. Everything after the experiments is pure data.
//! - `run --sysctl` and `burst --sysctl` measure in a private network namespace ([`world`]);
//!   a burst connects many clients at once and is judged in [`burst_report`].
//! - Only `sys` has `#[cfg(target_os)]`; it documents what each OS module provides.
//! - [`Observation`](observation::Observation) holds raw counts, raw OS error numbers and
//!   timings; [`classify`] judges them, by error *name*, so a Windows report classifies the
//!   same on any machine.
//! - Nothing in the library encodes an expected queue length: expectations live in the tests
//!   and snapshots, next to the kernel source they cite.
//! - [`predict`] is the one exception, and it is labelled as such: each OS's rule from kernel
//!   source or documentation, carried in a report as a separate `prediction` beside the
//!   measurement (never in a measured field), so a disagreement shows up as a finding.
//! - [`docs`] turns report JSON files into `docs/` (results tables, answers, a chart).
//!
//! The JSON output is documented in [`report`] ("Wire format").

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod budget;
pub mod burst_cli;
pub mod burst_report;
pub mod classify;
pub mod cli;
pub mod docs;
pub mod environment;
pub mod experiment;
pub mod export;
pub mod fanout;
pub mod merge;
pub mod observation;
pub mod os_error;
pub mod plan;
pub mod predict;
pub mod report;
pub mod run;
pub mod sys;
pub mod world;
