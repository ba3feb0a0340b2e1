//! Measure what `listen(fd, backlog)` really does on the OS you run on.
//!
//! For a backlog (0, 1, 5, `SOMAXCONN`, -1, `i32::MIN`, `i32::MAX`, or any other), this crate
//! opens a loopback listener, connects to it one client at a time without accepting, and
//! records how many connections the listener queued, what the first client that did not fit
//! saw (a silently dropped SYN, a refusal, a reset, each by its raw OS error), whether that
//! client got in once the server started accepting, and what the kernel itself reports about
//! the queue. Every measurement comes with the model's prediction for the same OS and limits
//! ([`predict`], from kernel source and vendor documentation), kept apart so that a
//! disagreement is a finding.
//!
//! The crate is the engine of the `backlog-probe` command-line tool. Use it directly when a
//! test of your own needs the real queue length on the machine it runs on (a server's
//! overload test, a CI check that a backlog setting took effect), or to build reports of your
//! own from the same observations.
//!
//! # Examples
//!
//! Measure one backlog:
//!
//! ```
//! use backlog_probe::{Family, measure};
//!
//! let case = measure(Family::Ipv4, 5);
//! // The queue length is measured, never assumed: it is whatever this OS gave.
//! let queued = case.queue_length.expect("loopback IPv4 is available");
//! println!("listen(5) queued {queued} connections; overflow: {}", case.overflow.kind.as_str());
//! // The model's prediction travels beside it, and says whether the two agree.
//! if let Some(prediction) = &case.prediction {
//!     println!("predicted: {:?}, agrees: {:?}", prediction.queue_length, prediction.agrees);
//! }
//! ```
//!
//! Measure a matrix, with the report `backlog-probe run --format json` prints:
//!
//! ```no_run
//! use backlog_probe::{Backlog, Family, Plan, measure_matrix};
//!
//! let plan = Plan::new(&[Family::Ipv4], &[Backlog::Value(1), Backlog::Somaxconn]);
//! let report = measure_matrix(&plan);
//! println!("{}", serde_json::to_string_pretty(&report).unwrap());
//! ```
//!
//! # What a measurement costs
//!
//! A case holds one descriptor per queued connection (up to `SOMAXCONN` and more), and waits
//! about one SYN retransmission (a second on Linux) to see whether the client that did not fit
//! gets in late. [`measure_matrix`] runs its cases concurrently within this process's
//! descriptor limit, raising the soft limit where it may; cases that do not fit wait their
//! turn. The command-line tool also spreads cases over worker processes; the library does not.
//!
//! # OS support
//!
//! Linux, macOS, FreeBSD and Windows. The kernel's view of the queue is read where the OS has
//! one (Linux `TCP_INFO`, macOS `proc_pidfdinfo`, FreeBSD `SO_LISTENQLIMIT`); only [`sys`] has
//! OS-specific code. Knob worlds (`--sysctl`, private network namespaces) are Linux-only
//! ([`netns`]).
//!
//! # Feature flags
//!
//! - `tokio`: also measure the backlog of tokio's `TcpListener::bind` in [`measure_extras`].
//!
//! # How it is built: data flows one way
//!
//! Every subcommand goes through the same stages, each a folder:
//!
//! ```text
//! plan ─► run ─► experiment ─► observation ─► classify ─► report ─► export
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
//!   cross-OS `merge`). The pages of `docs/` are written from report files by the
//!   workspace's own `docs-gen` crate (`cargo run -p docs-gen`), which reads them through
//!   [`report::read`]; the library knows nothing of pages.
//! - [`predict`] is each OS's rule from kernel source or documentation, carried in a report as
//!   a separate `prediction` beside the measurement (never in a measured field), so a
//!   disagreement shows up as a finding. Nothing else in the library encodes an expected queue
//!   length: expectations live in the tests and snapshots, next to the sources they cite.
//! - Only [`sys`] has `#[cfg(target_os)]`; it documents what each OS module provides, and
//!   imports nothing else of the crate.
//!
//! Nothing on the pure side (observation, classify, report, export, predict) imports
//! experiment or run. The JSON output is documented in [`report`] ("Wire format").

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub use plan::{Backlog, Family, Plan, Settings};
pub use report::extras::ExtrasReport;
pub use report::{CaseReport, Report};

pub mod classify;
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

/// Measure one backlog: a loopback listener of `family` with `listen(backlog)`, filled one
/// connection at a time, with the default [`Settings`] (the cap on connections is above every
/// default `SOMAXCONN`). Blocks for about one SYN retransmission (a second on Linux) while it
/// watches whether the client that did not fit gets in late.
pub fn measure(family: Family, backlog: i32) -> CaseReport {
    let plan = Plan::new(&[family], &[Backlog::Value(backlog)]);
    let mut report = measure_matrix(&plan);
    report
        .cases
        .pop()
        .expect("a report has one case per planned case")
}

/// Measure every case of `plan` in this process (concurrently, within its descriptor limit),
/// and build the report: the cases, the environment they ran in and the model's predictions.
pub fn measure_matrix(plan: &Plan) -> Report {
    run::run_report(
        &plan.cases(),
        &plan.settings,
        run::Fanout::InProcess,
        &|_| {},
    )
}

/// Measure the extras: `listen()` on UDP, Unix-domain stream and seqpacket queues, `listen()`
/// twice on one socket, and the backlog runtimes pass by default.
pub fn measure_extras() -> ExtrasReport {
    run::extras_report()
}
