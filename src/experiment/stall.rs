//! Noticing that the harness itself was not running.
//!
//! A process that is stopped (SIGSTOP, a debugger), suspended with its machine, or starved by a
//! hypervisor's steal time sees no time pass in its own code, while the kernel goes on with
//! the connections it was measuring: a pending client's SYN is retransmitted, and each
//! retransmission pushes the next one further out. The harness's windows are wall-clock
//! windows, so a stall inside one would let it end before the kernel did what the window
//! waits for. Waits are timed: one that comes back far later than it asked for is a stall, and
//! the case's windows are stretched past it (see the late-completion watch in `tcp`).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A wait that returns this much later than it asked for means the thread was not running. The
/// harness polls in slices of 25 ms; a loaded scheduler (two busy cores, a 10 % CPU quota's
/// 100 ms periods) returns them tens of milliseconds late, not half a second.
pub(crate) const STALL_GAP: Duration = Duration::from_millis(500);

thread_local! {
    /// When this thread last came back from a stall. Each case runs on one thread, so this is
    /// the case's own record.
    static LAST_STALL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Record a stall if `took` is far longer than `asked` (the thread was not running).
pub(crate) fn check(asked: Duration, took: Duration) {
    if took > asked + STALL_GAP {
        LAST_STALL.with(|last| last.set(Some(Instant::now())));
    }
}

/// Run `wait`, which asked to wait up to `asked`, and record a stall if it came back far later.
pub(crate) fn timed<T>(asked: Duration, wait: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = wait();
    check(asked, started.elapsed());
    result
}

/// When this thread last came back from a stall, if that was after `since`.
pub(crate) fn last_since(since: Instant) -> Option<Instant> {
    LAST_STALL
        .with(Cell::get)
        .filter(|&stall_end| stall_end >= since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wait_far_longer_than_asked_is_a_stall() {
        let before = Instant::now();
        check(Duration::from_millis(25), Duration::from_millis(80));
        assert_eq!(
            last_since(before),
            None,
            "a late poll slice is load, not a stall"
        );
        check(Duration::from_millis(25), Duration::from_secs(3));
        assert!(last_since(before).is_some());
        assert_eq!(last_since(Instant::now() + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_timed_wait_records_its_own_stall() {
        let before = Instant::now();
        timed(Duration::ZERO, || {
            std::thread::sleep(STALL_GAP + Duration::from_millis(50))
        });
        assert!(last_since(before).is_some());
    }
}
