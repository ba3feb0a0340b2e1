//! What a burst means: each client's outcome (a pure function of its raw facts), and the
//! counts, latency percentiles and probe results per outcome.

use serde::{Deserialize, Serialize};

use super::{ErrorClass, error_class};
use crate::observation::burst::{ClientFacts, ConnectEnd, ProbeRead};

/// What happened to one client of a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientOutcome {
    /// Connected, and the server accepted it.
    Accepted,
    /// Connected on the client side, but the server had no child to accept: the final ACK met
    /// a full queue and was ignored (Linux `tcp_abort_on_overflow=0`).
    HalfOpen,
    /// Reset (ECONNRESET): e.g. the final ACK met a full queue with `tcp_abort_on_overflow=1`.
    Reset,
    /// Refused (ECONNREFUSED): the SYN was answered with a reset.
    Refused,
    /// Still connecting when the settle window ended: its SYN was dropped and is being
    /// retransmitted.
    Pending,
    /// Another error.
    Failed,
    /// The client socket could not be opened.
    NotOpened,
}

impl ClientOutcome {
    /// The snake_case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientOutcome::Accepted => "accepted",
            ClientOutcome::HalfOpen => "half_open",
            ClientOutcome::Reset => "reset",
            ClientOutcome::Refused => "refused",
            ClientOutcome::Pending => "pending",
            ClientOutcome::Failed => "failed",
            ClientOutcome::NotOpened => "not_opened",
        }
    }
}

/// Judge one client from its raw facts. Errors are judged by name, so a report classifies the
/// same wherever it is read.
pub fn classify_client(facts: &ClientFacts) -> ClientOutcome {
    match &facts.connect {
        ConnectEnd::NotOpened { .. } => ClientOutcome::NotOpened,
        ConnectEnd::Connected { .. } if facts.accepted => ClientOutcome::Accepted,
        ConnectEnd::Connected { .. } => ClientOutcome::HalfOpen,
        ConnectEnd::Failed { error, .. } => match error_class(error) {
            ErrorClass::Reset => ClientOutcome::Reset,
            ErrorClass::Refused => ClientOutcome::Refused,
            ErrorClass::TimedOut | ErrorClass::Other => ClientOutcome::Failed,
        },
        ConnectEnd::Pending { .. } => ClientOutcome::Pending,
    }
}

/// When the client's outcome was seen, from the burst start (pending: how long it was
/// watched); none for a client that was never opened.
fn latency_us(facts: &ClientFacts) -> Option<u64> {
    match facts.connect {
        ConnectEnd::Connected { after_us } | ConnectEnd::Failed { after_us, .. } => Some(after_us),
        ConnectEnd::Pending { watched_us } => Some(watched_us),
        ConnectEnd::NotOpened { .. } => None,
    }
}

/// The nearest-rank percentile (`p` in 0..=100) of sorted values.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Count and latency of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeSummary {
    /// The outcome.
    pub outcome: ClientOutcome,
    /// Clients with it.
    pub count: u32,
    /// Median time from the burst start until the outcome was seen, in milliseconds. A
    /// non-blocking connect returns "in progress" even on loopback, so this is when the harness
    /// saw the outcome: after every connect was issued, then at 1 ms ticks.
    pub p50_ms: Option<f64>,
    /// 99th percentile (nearest rank).
    pub p99_ms: Option<f64>,
    /// Slowest.
    pub max_ms: Option<f64>,
}

/// What probing the half-open clients showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// Half-open clients probed.
    pub probed: u32,
    /// Probes whose write the client's stack took.
    pub write_ok: u32,
    /// Probes that got no answer (the read would block).
    pub no_answer: u32,
    /// Probes answered with an error (a reset).
    pub reset: u32,
    /// Half-open clients the server could accept after the probe: the data segment's ACK
    /// completed the handshake once the queue had room.
    pub accepted_after_probe: u32,
}

/// Counts and percentiles for every outcome that occurred, in [`ClientOutcome`] order.
pub fn summarise(clients: &[ClientFacts]) -> Vec<OutcomeSummary> {
    let mut by_outcome: std::collections::BTreeMap<ClientOutcome, Vec<u64>> = Default::default();
    let mut counts: std::collections::BTreeMap<ClientOutcome, u32> = Default::default();
    for facts in clients {
        let outcome = classify_client(facts);
        *counts.entry(outcome).or_default() += 1;
        let latencies = by_outcome.entry(outcome).or_default();
        latencies.extend(latency_us(facts));
    }
    counts
        .into_iter()
        .map(|(outcome, count)| {
            let mut latencies = by_outcome.remove(&outcome).unwrap_or_default();
            latencies.sort_unstable();
            let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
            OutcomeSummary {
                outcome,
                count,
                p50_ms: ms(percentile(&latencies, 50)),
                p99_ms: ms(percentile(&latencies, 99)),
                max_ms: ms(latencies.last().copied()),
            }
        })
        .collect()
}

/// Sum up the half-open probes.
pub fn summarise_probes(clients: &[ClientFacts]) -> ProbeSummary {
    let mut summary = ProbeSummary::default();
    for probe in clients.iter().filter_map(|c| c.probe.as_ref()) {
        summary.probed += 1;
        summary.write_ok += u32::from(probe.write_error.is_none());
        summary.no_answer += u32::from(probe.read == ProbeRead::WouldBlock);
        summary.reset += u32::from(probe.read == ProbeRead::Error || probe.write_error.is_some());
        summary.accepted_after_probe += u32::from(probe.accepted_after_probe);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os_error::OsError;

    fn facts(connect: ConnectEnd, accepted: bool) -> ClientFacts {
        ClientFacts {
            connect,
            accepted,
            probe: None,
        }
    }

    #[test]
    fn clients_are_classified_from_raw_facts() {
        let connected = ConnectEnd::Connected { after_us: 10 };
        let failed = |name: &str, code| ConnectEnd::Failed {
            error: OsError::named(name, code),
            after_us: 10,
        };
        let table = [
            (facts(connected.clone(), true), ClientOutcome::Accepted),
            (facts(connected, false), ClientOutcome::HalfOpen),
            (
                facts(failed("ECONNRESET", 104), false),
                ClientOutcome::Reset,
            ),
            (
                facts(failed("WSAECONNRESET", 10054), false),
                ClientOutcome::Reset,
            ),
            (
                facts(failed("ECONNREFUSED", 111), false),
                ClientOutcome::Refused,
            ),
            (
                facts(failed("WSAECONNREFUSED", 10061), false),
                ClientOutcome::Refused,
            ),
            (
                facts(failed("ETIMEDOUT", 110), false),
                ClientOutcome::Failed,
            ),
            (
                facts(
                    ConnectEnd::Failed {
                        error: OsError {
                            name: None,
                            code: -1,
                        },
                        after_us: 1,
                    },
                    false,
                ),
                ClientOutcome::Failed,
            ),
            (
                facts(
                    ConnectEnd::Pending {
                        watched_us: 200_000,
                    },
                    false,
                ),
                ClientOutcome::Pending,
            ),
            // A pending client whose retransmitted SYN got in during the drain was still
            // pending when the burst was judged.
            (
                facts(
                    ConnectEnd::Pending {
                        watched_us: 200_000,
                    },
                    true,
                ),
                ClientOutcome::Pending,
            ),
            (
                facts(
                    ConnectEnd::NotOpened {
                        error: OsError::named("EMFILE", 24),
                    },
                    false,
                ),
                ClientOutcome::NotOpened,
            ),
        ];
        // Every row is checked, and every row that fails is named: one does not hide the rest.
        let failed: Vec<String> = table
            .iter()
            .filter(|(facts, expected)| classify_client(facts) != *expected)
            .map(|(facts, expected)| {
                format!(
                    "{facts:?}: {:?}, expected {expected:?}",
                    classify_client(facts)
                )
            })
            .collect();
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 99), Some(7));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50), Some(50));
        assert_eq!(percentile(&hundred, 99), Some(99));
        assert_eq!(percentile(&hundred, 100), Some(100));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3], 99), Some(3));
    }

    #[test]
    fn summaries_count_every_client_once() {
        let clients = vec![
            facts(ConnectEnd::Connected { after_us: 1000 }, true),
            facts(ConnectEnd::Connected { after_us: 3000 }, true),
            facts(ConnectEnd::Connected { after_us: 2000 }, false),
            facts(
                ConnectEnd::Pending {
                    watched_us: 200_000,
                },
                false,
            ),
        ];
        let summary = summarise(&clients);
        assert_eq!(summary.iter().map(|s| s.count).sum::<u32>(), 4);
        let accepted = &summary[0];
        assert_eq!(accepted.outcome, ClientOutcome::Accepted);
        assert_eq!(
            (accepted.count, accepted.p50_ms, accepted.max_ms),
            (2, Some(1.0), Some(3.0))
        );
        assert_eq!(summary[1].outcome, ClientOutcome::HalfOpen);
        assert_eq!(summary[2].outcome, ClientOutcome::Pending);
    }
}
