//! The listener view's judgements: why a listener's limit is what it is, whether its queue is
//! full, who owns it, what a filter keeps, and what a `--watch` window saw. Pure functions over
//! the OS's listing ([`crate::sys::ListenerEntry`]) and the knob values read beside it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::plan::Family;
use crate::report::listeners::{
    CounterDelta, CounterWindow, Filter, Knob, LimitSource, ListenerRow, UnixListenerRow,
    WatchedListener,
};
use crate::sys::{self, ListenerEntry, OverflowCounters, SocketOwners};

/// Where a somaxconn knob applies: Linux's `net.core.somaxconn` is per network namespace
/// (net/core/sysctl_net_core.c registers it in `netns_core_table`); the BSDs' are system-wide.
pub fn knob_scope(name: &str) -> &'static str {
    if name.starts_with("net.core.") {
        "this network namespace"
    } else {
        "system-wide"
    }
}

/// How a stored limit relates to the somaxconn setting. Every OS here clamps a backlog above
/// the setting down to it (Linux net/socket.c `__sys_listen_socket()`: `min(backlog,
/// somaxconn)`; XNU and FreeBSD `solisten()`: `backlog > somaxconn` becomes somaxconn), so a
/// limit equal to the setting is the clamp or a request of exactly that value, which no kernel
/// keeps apart.
pub fn limit_source(limit: Option<u32>, somaxconn: Option<&Knob>) -> LimitSource {
    let Some(limit) = limit else {
        return LimitSource::NotExposed;
    };
    let Some(knob) = somaxconn else {
        return LimitSource::NoSetting;
    };
    let (name, value) = (knob.name.clone(), knob.value);
    match i64::from(limit).cmp(&value) {
        std::cmp::Ordering::Equal => LimitSource::Clamped { knob: name, value },
        std::cmp::Ordering::Less => LimitSource::BelowSetting { knob: name, value },
        std::cmp::Ordering::Greater => LimitSource::AboveSetting { knob: name, value },
    }
}

/// The holders of a socket, or `None` (not visible) when the OS gives no owner or none of the
/// processes this process may read holds it.
fn owners_of(
    inode: Option<u64>,
    owner_pid: Option<u32>,
    owners: &SocketOwners,
    name_of: &dyn Fn(u32) -> Option<String>,
) -> Option<Vec<sys::ProcessRef>> {
    if let Some(pid) = owner_pid {
        return Some(vec![sys::ProcessRef {
            pid,
            name: name_of(pid),
        }]);
    }
    owners.by_inode.get(&inode?).cloned()
}

/// One listener as the report shows it. `full` is this OS's own full test
/// ([`sys::listener_full`]), applied only where both the queue and the limit are known.
pub fn listener_row(
    entry: &ListenerEntry,
    owners: &SocketOwners,
    somaxconn: Option<&Knob>,
    name_of: &dyn Fn(u32) -> Option<String>,
) -> ListenerRow {
    let full = sys::listener_full(entry);
    ListenerRow {
        address: entry.addr,
        family: if entry.addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        },
        port: entry.addr.port(),
        owners: owners_of(entry.inode, entry.owner_pid, owners, name_of),
        uid: entry.uid,
        inode: entry.inode,
        limit: entry.limit,
        queue: entry.queue,
        syn_queue: entry.syn_queue,
        full,
        limit_source: limit_source(entry.limit, somaxconn),
    }
}

/// One Unix-domain listener; full by net/unix/af_unix.c `unix_recvq_full()`
/// (`skb_queue_len(&sk->sk_receive_queue) > sk->sk_max_ack_backlog`).
pub fn unix_row(entry: &sys::UnixListenerEntry, owners: &SocketOwners) -> UnixListenerRow {
    UnixListenerRow {
        path: entry.path.clone(),
        socket_type: if entry.seqpacket {
            "seqpacket"
        } else {
            "stream"
        }
        .to_string(),
        owners: entry
            .inode
            .and_then(|inode| owners.by_inode.get(&inode).cloned()),
        uid: entry.uid,
        inode: entry.inode,
        limit: entry.limit,
        queue: entry.queue,
        full: match (entry.queue, entry.limit) {
            (Some(queue), Some(limit)) => Some(queue > limit),
            _ => None,
        },
    }
}

/// Whether a filter keeps a listener: `Some(true)` keep, `Some(false)` drop, `None` cannot
/// tell (`--pid` and an owner that is not visible).
pub fn filter_keeps(filter: &Filter, row: &ListenerRow) -> Option<bool> {
    if !filter.ports.is_empty() && !filter.ports.contains(&row.port) {
        return Some(false);
    }
    match filter.pid {
        None => Some(true),
        Some(pid) => row
            .owners
            .as_ref()
            .map(|owners| owners.iter().any(|owner| owner.pid == pid)),
    }
}

/// Listeners in the order the report shows them: by port, then address.
pub fn sort_rows(rows: &mut [ListenerRow]) {
    rows.sort_by(|a, b| {
        (a.port, a.address.to_string(), a.inode).cmp(&(b.port, b.address.to_string(), b.inode))
    });
}

/// The sentences under the table: the clamp and how to raise it, what the view cannot see.
/// `owners_note` (how this OS finds owners) is given when some owner is not visible.
pub fn notes(
    rows: &[ListenerRow],
    somaxconn: Option<&Knob>,
    syn_queue_note: &str,
    owners_note: Option<&str>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let clamped = rows
        .iter()
        .filter(|row| matches!(row.limit_source, LimitSource::Clamped { .. }))
        .count();
    if let (Some(knob), true) = (somaxconn, clamped > 0) {
        notes.push(clamp_note(knob, clamped));
    }
    let above: Vec<String> = rows
        .iter()
        .filter(|row| matches!(row.limit_source, LimitSource::AboveSetting { .. }))
        .map(|row| row.address.to_string())
        .collect();
    if let (Some(knob), false) = (somaxconn, above.is_empty()) {
        notes.push(format!(
            "{} keep{} a limit above today's {}={}: the limit is stored at listen(), so the knob was lowered (or the socket inherited from another namespace) after it listened",
            above.join(", "),
            if above.len() == 1 { "s" } else { "" },
            knob.name,
            knob.value
        ));
    }
    let full: Vec<String> = rows
        .iter()
        .filter(|row| row.full == Some(true))
        .map(|row| row.address.to_string())
        .collect();
    if !full.is_empty() {
        notes.push(format!(
            "full now: {} (the kernel drops or refuses new connections until the server accepts)",
            full.join(", ")
        ));
    }
    let missing = if rows
        .iter()
        .all(|row| row.queue.is_none() && row.limit.is_none())
        && !rows.is_empty()
    {
        "queue, limit and SYN queue"
    } else {
        "SYN queue"
    };
    notes.push(format!("{missing}: {syn_queue_note}"));
    if let Some(how) = owners_note {
        notes.push(format!(
            "owner \"not visible\": never a guess; owners come from {how}"
        ));
    }
    notes
}

/// "clamped by net.core.somaxconn=N in this network namespace", what it takes to raise it, and
/// that the kernel cannot tell a request of exactly N from a larger one.
pub fn clamp_note(knob: &Knob, listeners: usize) -> String {
    let raise = match knob.name.as_str() {
        "net.core.somaxconn" => "`sysctl -w net.core.somaxconn=M` inside this network namespace (a container has its own: `docker run --sysctl net.core.somaxconn=M`, a Kubernetes pod's securityContext.sysctls; the host's value does not reach it)".to_string(),
        name => format!("`sysctl -w {name}=M` (as root; system-wide)"),
    };
    let cannot_tell = if knob.name == "net.core.somaxconn" {
        "Linux stores only min(backlog, somaxconn) in sk_max_ack_backlog (net/socket.c __sys_listen_socket()), so it cannot tell a server that asked for exactly this value from one that asked for more"
    } else {
        "the kernel stores only the clamped value (solisten()), so it cannot tell a server that asked for exactly this value from one that asked for more"
    };
    format!(
        "{listeners} listener{} clamped by {}={} in {}: {cannot_tell}. To raise it: {raise}, then have the server ask for a larger backlog and listen() again (restart it): the limit is fixed at listen()",
        if listeners == 1 { "" } else { "s" },
        knob.name,
        knob.value,
        knob.scope
    )
}

/// The identity of a listener across samples: its address and inode (a listener closed and
/// opened again on the same address is a new one).
fn key(row: &ListenerRow) -> (SocketAddr, Option<u64>) {
    (row.address, row.inode)
}

/// What a `--watch` window saw, sample by sample.
#[derive(Debug, Default)]
pub struct WatchTracker {
    seen: BTreeMap<(String, Option<u64>), WatchedListener>,
    samples: u32,
    last_sample_ms: u64,
}

impl WatchTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold in one sample taken `at_ms` after the window began.
    pub fn observe(&mut self, at_ms: u64, rows: &[ListenerRow]) {
        let first = self.samples == 0;
        self.samples += 1;
        self.last_sample_ms = at_ms;
        for row in rows {
            let (address, inode) = key(row);
            let entry = self
                .seen
                .entry((address.to_string(), inode))
                .or_insert_with(|| WatchedListener {
                    address,
                    inode,
                    owners: row.owners.clone(),
                    limit: row.limit,
                    max_queue: None,
                    reached_full: None,
                    samples_seen: 0,
                    first_seen_ms: at_ms,
                    last_seen_ms: at_ms,
                    appeared_mid_watch: !first,
                    closed_mid_watch: false,
                });
            entry.samples_seen += 1;
            entry.last_seen_ms = at_ms;
            entry.limit = row.limit.or(entry.limit);
            if entry.owners.is_none() {
                entry.owners = row.owners.clone();
            }
            entry.max_queue = match (entry.max_queue, row.queue) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            entry.reached_full = match (entry.reached_full, row.full) {
                (Some(a), Some(b)) => Some(a || b),
                (a, b) => a.or(b),
            };
        }
    }

    /// Samples so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Every listener seen; those missing from the last sample closed during the window.
    pub fn finish(self) -> Vec<WatchedListener> {
        let last = self.last_sample_ms;
        let mut listeners: Vec<WatchedListener> = self
            .seen
            .into_values()
            .map(|mut listener| {
                listener.closed_mid_watch = listener.last_seen_ms < last;
                listener
            })
            .collect();
        listeners.sort_by(|a, b| {
            (a.address.port(), a.address.to_string(), a.inode).cmp(&(
                b.address.port(),
                b.address.to_string(),
                b.inode,
            ))
        });
        listeners
    }
}

/// Counters before and after a window, by name (a counter missing at either end is left out).
pub fn counter_window(before: &OverflowCounters, after: &OverflowCounters) -> CounterWindow {
    let values = before
        .values
        .iter()
        .filter_map(|(name, start)| {
            let end = after.values.iter().find(|(n, _)| n == name)?.1;
            Some(CounterDelta {
                name: name.clone(),
                before: *start,
                after: end,
                delta: end.saturating_sub(*start),
            })
        })
        .collect();
    CounterWindow {
        source: before.source.to_string(),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knob(value: i64) -> Knob {
        Knob {
            name: "net.core.somaxconn".to_string(),
            value,
            scope: knob_scope("net.core.somaxconn").to_string(),
        }
    }

    #[test]
    fn the_limit_is_judged_against_the_setting() {
        let k = knob(128);
        for (limit, expected) in [
            (
                Some(128),
                LimitSource::Clamped {
                    knob: k.name.clone(),
                    value: 128,
                },
            ),
            (
                Some(5),
                LimitSource::BelowSetting {
                    knob: k.name.clone(),
                    value: 128,
                },
            ),
            (
                Some(4096),
                LimitSource::AboveSetting {
                    knob: k.name.clone(),
                    value: 128,
                },
            ),
            (None, LimitSource::NotExposed),
        ] {
            assert_eq!(limit_source(limit, Some(&k)), expected, "{limit:?}");
        }
        assert_eq!(limit_source(Some(5), None), LimitSource::NoSetting);
        assert_eq!(knob_scope("kern.ipc.somaxconn"), "system-wide");
    }

    fn entry(address: &str, queue: u32, limit: u32, inode: u64) -> ListenerEntry {
        ListenerEntry {
            addr: address.parse().unwrap(),
            queue: Some(queue),
            limit: Some(limit),
            syn_queue: None,
            uid: Some(0),
            inode: Some(inode),
            owner_pid: None,
        }
    }

    #[test]
    fn owners_are_found_by_inode_or_not_visible() {
        let mut owners = SocketOwners::default();
        owners.by_inode.insert(
            7,
            vec![sys::ProcessRef {
                pid: 42,
                name: Some("server".into()),
            }],
        );
        let none = |_| None;
        let row = listener_row(&entry("127.0.0.1:80", 0, 5, 7), &owners, None, &none);
        assert_eq!(row.owners.as_ref().unwrap()[0].pid, 42);
        let hidden = listener_row(&entry("127.0.0.1:81", 0, 5, 8), &owners, None, &none);
        assert_eq!(hidden.owners, None);
        let filter = Filter {
            ports: vec![],
            pid: Some(42),
        };
        assert_eq!(filter_keeps(&filter, &row), Some(true));
        assert_eq!(filter_keeps(&filter, &hidden), None);
        let by_port = Filter {
            ports: vec![81],
            pid: None,
        };
        assert_eq!(filter_keeps(&by_port, &row), Some(false));
        assert_eq!(filter_keeps(&by_port, &hidden), Some(true));
    }

    #[test]
    fn the_clamp_note_names_the_knob_its_scope_and_the_way_up() {
        let note = clamp_note(&knob(128), 2);
        assert!(
            note.contains("clamped by net.core.somaxconn=128 in this network namespace"),
            "{note}"
        );
        assert!(note.contains("cannot tell"), "{note}");
        assert!(note.contains("sysctl -w net.core.somaxconn=M"), "{note}");
    }

    fn row(address: &str, queue: u32, full: bool, inode: u64) -> ListenerRow {
        let mut row = listener_row(
            &entry(address, queue, 5, inode),
            &SocketOwners::default(),
            None,
            &|_| None,
        );
        row.full = Some(full);
        row
    }

    #[test]
    fn a_watch_keeps_the_highest_queue_and_sees_closes_and_arrivals() {
        let mut tracker = WatchTracker::new();
        tracker.observe(
            0,
            &[
                row("127.0.0.1:80", 1, false, 1),
                row("[::1]:81", 0, false, 2),
            ],
        );
        tracker.observe(
            100,
            &[
                row("127.0.0.1:80", 6, true, 1),
                row("[::1]:81", 0, false, 2),
            ],
        );
        tracker.observe(
            200,
            &[
                row("127.0.0.1:80", 2, false, 1),
                row("127.0.0.1:82", 0, false, 3),
            ],
        );
        assert_eq!(tracker.samples(), 3);
        let seen = tracker.finish();
        assert_eq!(seen.len(), 3);
        let by_port = |port| seen.iter().find(|l| l.address.port() == port).unwrap();
        let busy = by_port(80);
        assert_eq!((busy.max_queue, busy.reached_full), (Some(6), Some(true)));
        assert!(!busy.closed_mid_watch && !busy.appeared_mid_watch);
        let closed = by_port(81);
        assert!(closed.closed_mid_watch);
        assert_eq!((closed.samples_seen, closed.last_seen_ms), (2, 100));
        let new = by_port(82);
        assert!(new.appeared_mid_watch && !new.closed_mid_watch);
    }

    #[test]
    fn counters_are_differenced_by_name() {
        let before = OverflowCounters {
            source: "test",
            values: vec![("ListenOverflows".into(), 10), ("ListenDrops".into(), 12)],
        };
        let after = OverflowCounters {
            source: "test",
            values: vec![("ListenOverflows".into(), 13), ("ListenDrops".into(), 11)],
        };
        let window = counter_window(&before, &after);
        assert_eq!(window.values[0].delta, 3);
        assert_eq!(window.values[1].delta, 0, "a counter that went back is 0");
    }
}
