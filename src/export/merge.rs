//! Cross-OS comparison (`backlog-probe merge`): several reports (one per runner) in one table.
//! Pure: reports in, text out.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::report::{CaseReport, Report};

/// A column heading for one report: OS, version and architecture.
pub fn report_title(report: &Report) -> String {
    let env = &report.environment;
    let mut title = format!(
        "{} {} ({} {})",
        env.target_os, env.target_arch, env.os.os_type, env.os.version
    );
    if let Some(emulator) = &env.emulator {
        write!(title, " (under {emulator})").ok();
    }
    title
}

/// One cell: queue length, overflow kind, and the error with its timing where there was one.
fn cell(case: &CaseReport) -> String {
    let queue = case
        .queue_length
        .map_or_else(|| "–".to_string(), |q| q.to_string());
    let mut text = format!("{queue} · {}", case.overflow.kind.as_str());
    if let Some(error) = &case.overflow.os_error {
        let name = error
            .name
            .clone()
            .unwrap_or_else(|| format!("os error {}", error.code));
        write!(text, " {name}").ok();
        if let Some(ms) = case.overflow.elapsed_ms {
            write!(text, " {:.1} s", ms as f64 / 1000.0).ok();
        }
    }
    text
}

/// A row: (family, backlog label).
type RowKey<'a> = (&'a str, &'a str);

/// Rows keyed by (family, label), in order of first appearance across the reports, and for each
/// report the first case of every row it has: one pass over every case, with hash lookups, so
/// the merge stays linear in the number of cases.
fn rows(reports: &[Report]) -> (Vec<RowKey<'_>>, Vec<HashMap<RowKey<'_>, &CaseReport>>) {
    let mut keys: Vec<RowKey<'_>> = Vec::new();
    let mut seen: HashSet<RowKey<'_>> = HashSet::new();
    let mut per_report = Vec::with_capacity(reports.len());
    for report in reports {
        let mut cases: HashMap<RowKey<'_>, &CaseReport> = HashMap::new();
        for case in &report.cases {
            let key = (case.family.as_str(), case.label.as_str());
            cases.entry(key).or_insert(case);
            if seen.insert(key) {
                keys.push(key);
            }
        }
        per_report.push(cases);
    }
    (keys, per_report)
}

/// A Markdown comparison: one row per (family, backlog label), one column per report; each cell
/// is "queue · overflow". `somaxconn` rows compare each OS's own constant.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::from("### listen() backlog: effective queue and first overflow\n\n");
    out.push_str("Each cell: connections queued before the first overflow · how it overflowed (error and time to error).\n\n");
    let titles: Vec<String> = reports.iter().map(report_title).collect();
    writeln!(out, "| family | backlog | {} |", titles.join(" | ")).ok();
    writeln!(out, "|---|---|{}", "---|".repeat(reports.len())).ok();
    let (keys, per_report) = rows(reports);
    for (family, label) in keys {
        let cells: Vec<String> = per_report
            .iter()
            .map(|cases| {
                cases
                    .get(&(family, label))
                    .map_or_else(|| "not run".to_string(), |case| cell(case))
            })
            .collect();
        writeln!(out, "| {family} | {label} | {} |", cells.join(" | ")).ok();
    }
    out.push_str("\n#### Environments\n\n");
    for (title, report) in titles.iter().zip(reports) {
        let env = &report.environment;
        writeln!(
            out,
            "- **{title}**: {}; SOMAXCONN constant {}; backlog-probe {}",
            env.summary(),
            env.somaxconn.constant,
            report.tool.version
        )
        .ok();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Report {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        crate::report::read::read_report(
            std::path::Path::new(&path),
            crate::report::read::DEFAULT_MAX_INPUT_BYTES,
        )
        .unwrap()
    }

    #[test]
    fn three_oses_side_by_side() {
        let reports = [
            fixture("report-linux.json"),
            fixture("report-macos-fixture.json"),
            fixture("report-windows-fixture.json"),
        ];
        insta::assert_snapshot!(markdown(&reports));
    }

    #[test]
    fn the_json_writer_keeps_every_report() {
        let reports = [
            fixture("report-linux.json"),
            fixture("report-windows-fixture.json"),
        ];
        let back: Vec<Report> =
            serde_json::from_str(&crate::export::json(&reports[..]).unwrap()).unwrap();
        assert_eq!(back, reports);
    }
}
