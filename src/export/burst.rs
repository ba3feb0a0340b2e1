//! The burst's report as an aligned plain-text summary: environment, world, the burst, one row
//! per outcome, the probes.

use super::text::align_columns;
use crate::classify::burst::ClientOutcome;
use crate::report::burst::BurstReport;

/// The burst table.
pub fn table(report: &BurstReport) -> String {
    let mut out = format!("# {}\n", report.environment.summary());
    if let Some(world) = &report.world {
        out.push_str(&format!("# {}\n", super::world_summary(world)));
    }
    let spec = &report.burst;
    out.push_str(&format!(
        "# burst: {} clients at once on {} loopback, backlog {}, no accept during the burst\n",
        spec.clients, spec.family, spec.backlog
    ));
    if let Some((stage, error)) = &report.setup_error {
        let error = error.as_ref().map_or_else(String::new, |e| format!(" {e}"));
        out.push_str(&format!("setup failed at {}{error}\n", stage.as_str()));
        return out;
    }
    let connected = report.count(ClientOutcome::Accepted) + report.count(ClientOutcome::HalfOpen);
    let kernel = report
        .kernel_queue
        .map_or_else(|| "-".to_string(), |q| format!("{}/{}", q.queued, q.limit));
    out.push_str(&format!(
        "completed (client side) {connected}, accepted by the server {}, kernel queued/limit {kernel}\n",
        report.accepted_total
    ));
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} ms"));
    let mut rows = vec![
        ["outcome", "clients", "p50", "p99", "max"]
            .map(str::to_string)
            .to_vec(),
    ];
    rows.extend(report.outcomes.iter().map(|s| {
        vec![
            s.outcome.as_str().to_string(),
            s.count.to_string(),
            ms(s.p50_ms),
            ms(s.p99_ms),
            ms(s.max_ms),
        ]
    }));
    out.push_str(&align_columns(&rows));
    let p = &report.probes;
    if p.probed > 0 {
        out.push_str(&format!(
            "half-open probes: {} probed, write ok {}, no answer {}, reset {}, accepted after the probe {}\n",
            p.probed, p.write_ok, p.no_answer, p.reset, p.accepted_after_probe
        ));
    }
    if report.deadline_hit {
        out.push_str("the global deadline cut the burst short\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::burst::tests::sample_report;

    #[test]
    fn the_table_shows_each_outcome_and_the_probes() {
        let table = table(&sample_report());
        assert!(table.contains("backlog 1"), "{table}");
        assert!(
            table.contains(
                "completed (client side) 3, accepted by the server 3, kernel queued/limit 2/1"
            ),
            "{table}"
        );
        let rows: Vec<&str> = table.lines().skip(4).collect();
        assert!(rows[0].starts_with("accepted   2"), "{table}");
        assert!(rows[1].starts_with("half_open  1"), "{table}");
        assert!(rows[2].starts_with("pending    1"), "{table}");
        assert!(table.contains("accepted after the probe 1"), "{table}");
    }
}
