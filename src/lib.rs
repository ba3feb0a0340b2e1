//! # backlog-probe
//!
//! Measures what `listen(fd, backlog)` really does on the OS it runs on: how many connections a
//! listener queues for a given backlog, what a client sees once the queue is full (a silently
//! dropped SYN, a refusal, a reset), whether that client gets in once a slot frees, and what the
//! kernel itself reports about the queue.
//!
//! ## Data flows one way
//!
//! Every subcommand goes through the same stages, each a folder:
//!
//! ```text
//! plan ─► run ─► experiment ─► observation ─► classify ─► report ─► export / docs
//!          │      (sockets)     (raw facts)    (verdicts)  (wire)     (text)
//!          └ workers: the same binary, when one process cannot hold every case's descriptors
//! ```
//!
//! - [`plan`] says what to run; [`run`] runs it (concurrency, worker processes) and builds the
//!   report, with the [`environment`] it ran in and, for `--sysctl`, the private network
//!   namespace of [`netns`].
//! - Only [`experiment`] opens sockets: the sequential TCP experiment
//!   ([`experiment::tcp`]), the concurrent [`burst`](experiment::burst), `hold`, and the
//!   [`extras`](experiment::extras) (UDP, Unix-domain, re-listen, runtime defaults). The one
//!   exceptions are the control socket `sys` uses to bring loopback up in a [`netns`] world
//!   and the netlink socket it lists listeners with (sock_diag), neither of which carries
//!   traffic.
//! - [`observation`] holds the raw facts (counts, raw OS error numbers, timings); [`classify`]
//!   judges them, by error *name*, so a Windows report classifies the same on any machine.
//! - [`report`] holds every wire type; [`export`] renders them (table, Markdown, JSON, the
//!   cross-OS `merge`); [`docs`] turns report files into `docs/`.
//! - [`predict`] is each OS's rule from kernel source or documentation, carried in a report as
//!   a separate `prediction` beside the measurement (never in a measured field), so a
//!   disagreement shows up as a finding. Nothing else in the library encodes an expected queue
//!   length: expectations live in the tests and snapshots, next to the sources they cite.
//! - Only [`sys`] has `#[cfg(target_os)]`; it documents what each OS module provides, and
//!   imports nothing else of the crate.
//!
//! Nothing on the pure side (observation, classify, report, export, docs, predict) imports
//! experiment or run. The JSON output is documented in [`report`] ("Wire format").

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod classify;
pub mod docs;
pub mod environment;
pub mod experiment;
pub mod export;
pub mod netns;
pub mod observation;
pub mod os_error;
pub mod plan;
pub mod predict;
pub mod report;
pub mod run;
pub mod sys;
