//! Experiments beyond one TCP `listen()`:
//!
//! - [`udp`]: what `listen()` on a datagram socket returns.
//! - [`unix`]: Unix-domain stream and seqpacket listeners, filled one connection at a time.
//! - [`relisten`]: `listen()` again on a listening TCP socket with a smaller and a larger backlog.
//! - [`defaults`]: the queue Rust gives a listener when the caller names no backlog (std,
//!   tokio), measured in this process.
//! - [`runtimes`]: the same for other runtimes (Python, Go, Node.js, Java, .NET, Ruby, PHP),
//!   each a program of the repository's `runtimes/` folder, started side by side.
//!
//! They share the sequential fill of [`super::connect`]. Every wait has a deadline and every
//! socket and socket path is closed or removed before a function returns. Their facts are
//! [`crate::observation::extras`]; the report around them is [`crate::report::extras`].

pub mod defaults;
pub mod relisten;
pub mod runtimes;
pub mod udp;
pub mod unix;

use super::budget::FdBudget;
use crate::observation::extras::{
    ExtrasObservation, LocalCase, LocalType, RelistenCase, RuntimeDefault, UdpListen,
};
use crate::plan::Family;
pub use runtimes::RuntimeOptions;

use std::collections::BTreeMap;

/// The UDP experiments.
pub fn run_udp() -> Vec<UdpListen> {
    Family::ALL.into_iter().map(udp::udp_listen).collect()
}

/// The Unix-domain experiments, each socket type × [`unix::LOCAL_BACKLOGS`].
pub fn run_unix_domain(budget: &FdBudget) -> Vec<LocalCase> {
    LocalType::ALL
        .into_iter()
        .flat_map(|ty| {
            unix::LOCAL_BACKLOGS
                .into_iter()
                .map(move |backlog| unix::local_case(ty, backlog, budget))
        })
        .collect()
}

/// The re-listen experiments, [`relisten::RELISTEN_PAIRS`].
pub fn run_relisten(budget: &FdBudget) -> Vec<RelistenCase> {
    relisten::RELISTEN_PAIRS
        .into_iter()
        .map(|(first, second)| relisten::relisten_case(first, second, budget))
        .collect()
}

/// The runtime defaults: std and tokio in this process, then every runtime program of
/// `options`, all started at once; and each measured runtime's version.
pub fn run_runtime_defaults(
    budget: &FdBudget,
    options: &RuntimeOptions,
) -> (Vec<RuntimeDefault>, BTreeMap<String, String>) {
    let mut rows = vec![
        defaults::std_tcp_listener(budget),
        defaults::std_unix_listener(budget),
        defaults::tokio_tcp_listener(budget),
    ];
    let mut versions = BTreeMap::from([("rust".to_string(), defaults::RUST_VERSION.to_string())]);
    if cfg!(feature = "tokio") {
        versions.insert("tokio".to_string(), defaults::TOKIO_VERSION.to_string());
    }
    let (program_rows, program_versions) = runtimes::run_programs(options, budget);
    rows.extend(program_rows);
    versions.extend(program_versions);
    (rows, versions)
}

/// Run every extra experiment, one group after another, with every runtime program.
pub fn run_extras(budget: &FdBudget) -> ExtrasObservation {
    run_extras_with(budget, &RuntimeOptions::default())
}

/// Run every extra experiment, one group after another, with the runtime programs of
/// `options`.
pub fn run_extras_with(budget: &FdBudget, options: &RuntimeOptions) -> ExtrasObservation {
    let udp = run_udp();
    let unix_domain = run_unix_domain(budget);
    let relisten = run_relisten(budget);
    let (runtime_defaults, runtime_versions) = run_runtime_defaults(budget, options);
    ExtrasObservation {
        udp,
        unix_domain,
        relisten,
        runtime_defaults,
        runtime_versions,
    }
}
