//! A burst leaves no descriptor behind: counted in-process through `/proc/self/fd`, alone in
//! its test binary so no other test opens descriptors meanwhile.
#![cfg(target_os = "linux")]

use backlog_probe::classify::burst::ClientOutcome;
use backlog_probe::experiment::budget::process_budget;
use backlog_probe::experiment::burst::run_burst;
use backlog_probe::observation::burst::BurstSpec;
use backlog_probe::plan::Family;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[test]
fn a_burst_closes_every_socket_it_opened() {
    let budget = process_budget();
    let before = open_descriptors();
    let observation = run_burst(
        BurstSpec {
            family: Family::Ipv4,
            backlog: 3,
            clients: 40,
            deadline_ms: 10_000,
        },
        budget,
    );
    assert_eq!(open_descriptors(), before);
    assert!(
        observation.setup_error.is_none(),
        "{:?}",
        observation.setup_error
    );
    assert_eq!(observation.clients.len(), 40);
    assert!(!observation.deadline_hit);
    let pending = observation
        .clients
        .iter()
        .filter(|c| backlog_probe::classify::burst::classify_client(c) == ClientOutcome::Pending)
        .count();
    // 40 clients against a capacity of a few: most wait.
    assert!(pending > 0, "{observation:?}");
}
