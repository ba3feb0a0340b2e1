//! Cross-OS comparison: several reports (one per runner) in one table. Pure: reports in, text
//! out.

use std::fmt::Write as _;

use crate::report::{CaseReport, Report, SCHEMA_VERSION};

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Parse one report, checking that it is a backlog-probe report this version understands.
pub fn parse_report(text: &str) -> Result<Report, ReadError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReadError(format!("not JSON ({e})")))?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ReadError("not a backlog-probe report (no schema_version)".into()))?;
    if version != u64::from(SCHEMA_VERSION) {
        return Err(ReadError(format!(
            "schema_version {version} is not the supported {SCHEMA_VERSION}"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| ReadError(format!("not a backlog-probe report ({e})")))
}

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

/// Rows keyed by (family, label), in order of first appearance across the reports.
fn row_keys(reports: &[Report]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for report in reports {
        for case in &report.cases {
            let key = (case.family.to_string(), case.label.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// A Markdown comparison: one row per (family, backlog label), one column per report; each cell
/// is "queue · overflow". `somaxconn` rows compare each OS's own constant.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::from("### listen() backlog: effective queue and first overflow\n\n");
    out.push_str("Each cell: connections queued before the first overflow · how it overflowed (error and time to error).\n\n");
    let titles: Vec<String> = reports.iter().map(report_title).collect();
    writeln!(out, "| family | backlog | {} |", titles.join(" | ")).ok();
    writeln!(out, "|---|---|{}", "---|".repeat(reports.len())).ok();
    for (family, label) in row_keys(reports) {
        let cells: Vec<String> = reports
            .iter()
            .map(|report| {
                report
                    .cases
                    .iter()
                    .find(|c| c.family.as_str() == family && c.label == label)
                    .map_or_else(|| "not run".to_string(), cell)
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

/// The reports as one JSON array, pretty, with a trailing newline.
pub fn json(reports: &[Report]) -> String {
    let mut text = serde_json::to_string_pretty(reports).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Report {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        parse_report(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn junk_is_rejected_with_a_reason() {
        for (text, expected) in [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "no schema_version"),
            ("{\"schema_version\": 99}", "schema_version 99"),
            ("{\"schema_version\": 1}", "not a backlog-probe report"),
            ("{\"schema_version\": \"1\"}", "no schema_version"),
        ] {
            let err = parse_report(text).unwrap_err();
            assert!(err.0.contains(expected), "{text:?}: {err}");
        }
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
    fn json_keeps_every_report() {
        let reports = [
            fixture("report-linux.json"),
            fixture("report-windows-fixture.json"),
        ];
        let back: Vec<Report> = serde_json::from_str(&json(&reports)).unwrap();
        assert_eq!(back, reports);
    }

    /// Fuzz-style: truncations, byte flips and spliced junk of a real report are read or
    /// rejected with a reason, never a panic.
    #[test]
    fn mangled_reports_never_panic_the_reader() {
        let original = std::fs::read(format!(
            "{}/tests/fixtures/report-linux.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let junk: &[&[u8]] = &[
            b"null",
            b"-1",
            b"1e999",
            b"\"\\u0000\"",
            b"[]",
            b"{}",
            b"\xff",
            b"99999999999999999999",
        ];
        let (mut read, mut rejected) = (0, 0);
        for round in 0..3000 {
            let mut bytes = original.clone();
            match round % 3 {
                0 => bytes.truncate((next() as usize) % bytes.len()),
                1 => {
                    for _ in 0..(1 + next() % 4) {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = (next() % 256) as u8;
                    }
                }
                _ => {
                    let at = (next() as usize) % bytes.len();
                    let piece = junk[(next() as usize) % junk.len()];
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
            match parse_report(&String::from_utf8_lossy(&bytes)) {
                Ok(_) => read += 1,
                Err(e) => {
                    assert!(!e.0.is_empty());
                    rejected += 1;
                }
            }
        }
        assert!(
            rejected > 2000,
            "most mangled reports are rejected ({read} read)"
        );
    }
}
