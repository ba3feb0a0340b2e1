//! A process-wide budget of file descriptors, shared by every experiment that runs at once.
//!
//! It lives with the experiments because they are what opens descriptors: an experiment
//! reserves descriptors before it opens its clients and returns them when it ends, so
//! concurrent cases (and the test harness's parallel threads, which share the process) never
//! run the process into EMFILE halfway through a measurement. [`crate::run`] only reads the
//! budget's size to plan how cases spread over processes.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::sys::{self, FdLimit, MemoryLimit};

/// Descriptors kept back for everything that is not an experiment: stdio, the test harness,
/// pipes.
const MARGIN: usize = 64;

/// What a process that runs one experiment at a time keeps back ([`solo_budget`]): stdio, the
/// signal handler's pipe, a child's pipes (python3), a runtime's poller (tokio).
const SOLO_MARGIN: usize = 16;

/// Descriptors an experiment needs besides its clients: the listener, the pending client, one
/// accepted socket at a time, and slack.
pub(crate) const OVERHEAD: usize = 8;

/// Kernel memory one queued connection costs, charged to the process's cgroup: its client
/// socket and the listener's child socket (a `tcp_sock` slab object each, with the client's
/// file, dentry and inode). Measured on Linux 6.18 under cgroup v1 (kernel memory accounted in
/// `memory.usage_in_bytes`): one case at backlog 4096 (4 097 clients queued on IPv4) peaked at
/// 18.5 MB in `memory.max_usage_in_bytes` against 3.9 MB for backlog 1, 3.6 KB per connection;
/// a script that queued 4 000 connections and read `memory.usage_in_bytes` before and after
/// saw 4.0 KB each on IPv4 and 4.1 KB on IPv6 (its own socket objects included). The budget
/// counts 4.5 KiB, above all three.
pub const SOCKET_MEMORY_PER_CONNECTION: u64 = 4608;

/// Memory kept back under a cgroup limit for the harness itself (its threads' stacks, buffers,
/// the report, the program `os_info` starts): a one-case run peaks at 3.9 MB in all.
pub const PROCESS_MEMORY: u64 = 8 << 20;

/// How long an experiment waits for others in the same process to return descriptors.
pub(crate) const BUDGET_WAIT: Duration = Duration::from_secs(30);

/// A pool of descriptors. `None` total means the OS sets no per-process limit (Windows).
///
/// Every queued connection holds a client descriptor and costs kernel memory, so under a cgroup
/// memory limit the pool is also no larger than the connections the limit leaves room for
/// ([`SOCKET_MEMORY_PER_CONNECTION`] each, after [`PROCESS_MEMORY`]): a case that cannot fit
/// ends inconclusive naming the memory limit, as one that outgrows the descriptor limit names
/// that, instead of the run being OOM-killed.
#[derive(Debug)]
pub struct FdBudget {
    total: Option<usize>,
    limit: Option<FdLimit>,
    memory: Option<MemoryLimit>,
    in_use: Mutex<usize>,
    freed: Condvar,
}

/// The connections `memory` leaves room for.
pub fn connections_within(memory: &MemoryLimit) -> usize {
    let room =
        memory.headroom_bytes().saturating_sub(PROCESS_MEMORY) / SOCKET_MEMORY_PER_CONNECTION;
    usize::try_from(room).unwrap_or(usize::MAX)
}

/// Descriptors held by one case; returned on drop.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a FdBudget,
    held: usize,
}

impl FdBudget {
    /// A budget of `total` descriptors.
    pub fn new(total: usize) -> Self {
        FdBudget {
            total: Some(total),
            limit: None,
            memory: None,
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        FdBudget {
            total: None,
            limit: None,
            memory: None,
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// A budget of what the process can spare under `limit`.
    pub fn for_limit(limit: FdLimit) -> Self {
        Self::for_limit_keeping(limit, MARGIN)
    }

    /// A budget of what the process can spare under `limit` when `margin` descriptors are kept
    /// back for everything else.
    pub fn for_limit_keeping(limit: FdLimit, margin: usize) -> Self {
        let total = usize::try_from(limit.soft)
            .unwrap_or(usize::MAX)
            .saturating_sub(margin);
        FdBudget {
            limit: Some(limit),
            ..FdBudget::new(total)
        }
    }

    /// This budget, no larger than the connections `memory` leaves room for (`None`: no memory
    /// limit). The memory limit is kept only where it is the tighter one.
    pub fn within_memory(self, memory: Option<MemoryLimit>) -> Self {
        let Some(memory) = memory else {
            return self;
        };
        let room = connections_within(&memory);
        if self.total.is_some_and(|total| total <= room) {
            return self;
        }
        FdBudget {
            total: Some(room),
            memory: Some(memory),
            ..self
        }
    }

    /// The process limit this budget was built on, where there is one.
    pub fn limit(&self) -> Option<FdLimit> {
        self.limit
    }

    /// The cgroup memory limit, where it (not the descriptor limit) sets this budget's size.
    pub fn memory_limit(&self) -> Option<&MemoryLimit> {
        self.memory.as_ref()
    }

    /// How many descriptors the budget holds in all (`None`: unlimited).
    pub fn total(&self) -> Option<usize> {
        self.total
    }

    /// Take `want` descriptors, waiting up to `wait` for other cases to return theirs. A request
    /// larger than the whole budget is cut to the whole budget.
    pub fn reserve(&self, want: usize, wait: Duration) -> Option<Reservation<'_>> {
        let want = self.total.map_or(want, |total| want.min(total));
        self.take(want, wait).then_some(Reservation {
            budget: self,
            held: want,
        })
    }

    fn take(&self, n: usize, wait: Duration) -> bool {
        self.take_between(n, n, wait).is_some()
    }

    /// Take at least `least` and at most `most` descriptors (as many as are free, up to
    /// `most`), waiting up to `wait` for `least` to be free. `None` if `least` never is.
    fn take_between(&self, least: usize, most: usize, wait: Duration) -> Option<usize> {
        let most = most.max(least);
        let Some(total) = self.total else {
            return Some(most);
        };
        if least > total {
            return None;
        }
        let deadline = Instant::now() + wait;
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        while *in_use + least > total {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            in_use = self
                .freed
                .wait_timeout(in_use, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let taken = most.min(total - *in_use);
        *in_use += taken;
        Some(taken)
    }

    fn give_back(&self, n: usize) {
        if self.total.is_none() || n == 0 {
            return;
        }
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        *in_use = in_use.saturating_sub(n);
        self.freed.notify_all();
    }
}

impl<'a> Reservation<'a> {
    /// The budget this reservation draws on.
    pub fn budget(&self) -> &'a FdBudget {
        self.budget
    }

    /// Descriptors held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Make sure at least `needed` descriptors are held, growing by up to `step` at a time (by
    /// less when less is free, so the last descriptors of a budget are used rather than waited
    /// for) and waiting up to `wait` for what is missing. False if the budget cannot provide
    /// them.
    pub fn ensure(&mut self, needed: usize, step: usize, wait: Duration) -> bool {
        if self.held >= needed {
            return true;
        }
        // More than the whole budget never becomes free: no use waiting for it.
        if self.budget.total.is_some_and(|total| needed > total) {
            return false;
        }
        let missing = needed - self.held;
        match self.budget.take_between(missing, step, wait) {
            Some(taken) => {
                self.held += taken;
                true
            }
            None => false,
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

/// The budget of this process, built on its descriptor limit ([`sys::fd_limit`], raised once).
pub fn process_budget() -> &'static FdBudget {
    static BUDGET: OnceLock<FdBudget> = OnceLock::new();
    BUDGET.get_or_init(|| {
        match sys::fd_limit() {
            Some(limit) => FdBudget::for_limit(limit),
            None => FdBudget::unlimited(),
        }
        .within_memory(process_memory_limit().clone())
    })
}

/// The cgroup memory limit over this process as read the first time this is called (at start:
/// what is in use later is the harness's own doing, and already budgeted).
pub fn process_memory_limit() -> &'static Option<MemoryLimit> {
    static MEMORY: OnceLock<Option<MemoryLimit>> = OnceLock::new();
    MEMORY.get_or_init(sys::memory_limit)
}

/// The budget of a process that runs one experiment at a time and opens little else (`hold`,
/// `extras`): its descriptor limit less a small margin, so `hold --backlog 5` works under
/// `ulimit -n 30`. A process uses this or [`process_budget`], never both.
pub fn solo_budget() -> &'static FdBudget {
    static BUDGET: OnceLock<FdBudget> = OnceLock::new();
    BUDGET.get_or_init(|| {
        match sys::fd_limit() {
            Some(limit) => FdBudget::for_limit_keeping(limit, SOLO_MARGIN),
            None => FdBudget::unlimited(),
        }
        .within_memory(process_memory_limit().clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_returned() {
        let budget = FdBudget::new(100);
        let a = budget.reserve(60, Duration::ZERO).unwrap();
        assert!(budget.reserve(60, Duration::ZERO).is_none());
        drop(a);
        assert!(budget.reserve(60, Duration::ZERO).is_some());
    }

    #[test]
    fn oversized_requests_take_the_whole_budget() {
        let budget = FdBudget::new(100);
        let r = budget.reserve(1000, Duration::ZERO).unwrap();
        assert_eq!(r.held(), 100);
    }

    #[test]
    fn growth_stops_at_the_limit() {
        let budget = FdBudget::new(100);
        let mut r = budget.reserve(10, Duration::ZERO).unwrap();
        assert!(r.ensure(50, 16, Duration::ZERO));
        assert!(r.held() >= 50);
        assert!(!r.ensure(101, 16, Duration::ZERO));
    }

    #[test]
    fn growth_takes_the_last_free_descriptors_instead_of_waiting_for_a_whole_step() {
        let budget = FdBudget::new(20);
        let _other = budget.reserve(5, Duration::ZERO).unwrap();
        let mut r = budget.reserve(10, Duration::ZERO).unwrap();
        // 5 are free: a step of 256 is cut to them, at once.
        let started = Instant::now();
        assert!(r.ensure(12, 256, Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(r.held(), 15);
        assert!(!r.ensure(16, 256, Duration::ZERO));
        // Beyond the whole budget: refused at once, however long the caller would wait.
        let started = Instant::now();
        assert!(!r.ensure(21, 256, Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(r);
        assert!(budget.reserve(15, Duration::ZERO).is_some());
    }

    #[test]
    fn a_waiting_case_gets_freed_descriptors() {
        let budget = FdBudget::new(10);
        std::thread::scope(|s| {
            let first = budget.reserve(10, Duration::ZERO).unwrap();
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                drop(first);
            });
            assert!(budget.reserve(10, Duration::from_secs(10)).is_some());
        });
    }

    #[test]
    fn a_memory_limit_shrinks_the_budget_only_where_it_is_tighter() {
        let memory = |limit_mib: u64| MemoryLimit {
            limit_bytes: limit_mib << 20,
            in_use_bytes: 2 << 20,
            file: "memory.max".to_string(),
        };
        // 32 MiB: 22 MiB after what is in use and the harness's own, 5 006 connections.
        let tight = FdBudget::new(20_000).within_memory(Some(memory(32)));
        assert_eq!(
            tight.total(),
            Some(((30 << 20) - PROCESS_MEMORY) as usize / 4608)
        );
        assert!(tight.memory_limit().is_some());
        let loose = FdBudget::new(1000).within_memory(Some(memory(1024)));
        assert_eq!(loose.total(), Some(1000));
        assert!(loose.memory_limit().is_none());
        let unlimited = FdBudget::unlimited().within_memory(Some(memory(32)));
        assert_eq!(unlimited.total(), tight.total());
        // Less than the harness keeps for itself: nothing.
        assert_eq!(
            FdBudget::new(100).within_memory(Some(memory(8))).total(),
            Some(0)
        );
    }

    #[test]
    fn unlimited_budget_never_refuses() {
        let budget = FdBudget::unlimited();
        assert!(budget.reserve(usize::MAX, Duration::ZERO).is_some());
    }
}
