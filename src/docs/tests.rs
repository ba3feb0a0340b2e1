//! The generator against fixture reports: a real Linux run (tests/fixtures) and variants of it
//! standing in for other OSes, so layout and links are tested the same way everywhere.

use std::collections::BTreeSet;

use super::*;
use crate::report::Report;

fn linux_fixture() -> Report {
    serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json"))
        .expect("the fixture is a report")
}

fn sourced(file_name: &str, report: Report) -> SourcedReport {
    SourcedReport {
        file_name: file_name.to_string(),
        report,
    }
}

fn file<'a>(files: &'a [DocFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} generated"))
        .contents
}

/// Anchors defined in results.md: explicit `id="..."` and the GitHub heading ids of the OS
/// sections.
fn anchors(results: &str) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = results
        .split("id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    for line in results.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            set.insert(slug(heading));
        }
    }
    set
}

fn links_into_results(page: &str) -> Vec<String> {
    page.split("results.md#")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn key_and_anchor_are_stable() {
    let report = sourced("report-linux-x86_64.json", linux_fixture());
    assert_eq!(report.key(), "linux-x86-64");
    assert_eq!(
        report.anchor(&report.report.cases[0]),
        "linux-x86-64-ipv4-backlog-zero"
    );
    assert_eq!(
        predicted_anchor(OsFamily::Macos, "backlog-i32-min"),
        "macos-predicted-backlog-i32-min"
    );
}

#[test]
fn rendering_is_deterministic_and_order_independent() {
    let mut macos = linux_fixture();
    macos.environment.target_os = "macos".into();
    let a = vec![
        sourced("report-linux-x86_64.json", linux_fixture()),
        sourced("report-macos-aarch64.json", macos.clone()),
    ];
    let b = vec![a[1].clone(), a[0].clone()];
    assert_eq!(render(&a), render(&b));
    assert_eq!(render(&a), render(&a));
}

#[test]
fn results_measured_and_predicted_sections() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())]);
    let results = file(&files, "results.md");
    // One measured Linux table with a row anchor per case.
    assert!(results.contains("### Measured: Debian 12.0.0"), "{results}");
    for case in &linux_fixture().cases {
        let anchor = format!("linux-x86-64-{}", slug(&case.name));
        assert!(
            results.contains(&format!("<a id=\"{anchor}\"></a>")),
            "{anchor}"
        );
    }
    assert!(results.contains("| <a id=\"linux-x86-64-ipv4-backlog-five\"></a>5 | ipv4 | 6 | 7 | 5 | dropped | none: SYN unanswered (still pending at 0.20 s) | completed after 1.02 s | 6 dropped |"), "{results}");
    assert!(results.contains("Every comparable case agrees with the model."));
    // The other OSes get the model, labelled as such.
    for os in ["macOS", "FreeBSD", "Windows"] {
        assert!(
            results.contains(&format!(
                "### Prediction, not measured: {os} (no report yet)"
            )),
            "{os}"
        );
    }
    assert!(results.contains("| <a id=\"macos-predicted-backlog-zero\"></a>0 | 128 | dropped |"));
    assert!(results.contains("| <a id=\"freebsd-predicted-backlog-five\"></a>5 | 8 | reset |"));
    assert!(results.contains("| <a id=\"windows-predicted-backlog-i32-min\"></a>i32::min (-2147483648) | unknown | refused |"));
    assert!(!results.contains("contradict the model"));
}

#[test]
fn a_disagreement_is_shown_and_listed() {
    let mut report = linux_fixture();
    report.cases[1].queue_length = Some(5);
    let files = render(&[sourced("report-linux-x86_64.json", report)]);
    let results = file(&files, "results.md");
    assert!(
        results.contains("</a>5 | ipv4 | 5 | 7 | 5 | dropped")
            && results.contains("\u{2260} 6 dropped"),
        "{results}"
    );
    assert!(results.contains(
        "**\u{2260} 1 case(s) contradict the model:** [linux-x86-64-ipv4-backlog-five](#linux-x86-64-ipv4-backlog-five)"
    ));
    let answers = file(&files, "answers.md");
    assert!(
        answers.contains("**1 of 8 measured cases contradict the model**"),
        "{answers}"
    );
}

#[test]
fn a_measured_os_replaces_its_prediction_table() {
    // The Linux numbers under a macOS label: the macOS rules (backlog 0 → somaxconn, no + 1)
    // disagree with most of them, and the page must say so.
    let mut macos = linux_fixture();
    macos.environment.target_os = "macos".into();
    macos.environment.somaxconn.setting = Some(128);
    macos.environment.somaxconn.constant = 128;
    let files = render(&[sourced("report-macos-aarch64.json", macos)]);
    let results = file(&files, "results.md");
    assert!(!results.contains("Prediction, not measured: macOS"));
    assert!(results.contains("Prediction, not measured: Linux"));
    assert!(results.contains("<a id=\"macos-aarch64-ipv4-backlog-zero\"></a>0 | ipv4 | 1 |"));
    assert!(results.contains("\u{2260} 128 dropped"), "{results}");
}

#[test]
fn emulated_and_unknown_reports_are_not_counted_as_an_os() {
    let mut wine = linux_fixture();
    wine.environment.target_os = "windows".into();
    wine.environment.emulator = Some("wine 8.0".into());
    let mut haiku = linux_fixture();
    haiku.environment.target_os = "haiku".into();
    let files = render(&[
        sourced("report-windows-wine.json", wine),
        sourced("report-haiku.json", haiku),
    ]);
    let results = file(&files, "results.md");
    assert!(results.contains("Prediction, not measured: Windows"));
    assert!(results.contains(
        "- [`data/report-windows-wine.json`](data/report-windows-wine.json): ran under wine 8.0, whose TCP is the host's."
    ));
    assert!(results.contains("no model for `haiku`"));
}

#[test]
fn every_answer_link_resolves() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())]);
    let defined = anchors(file(&files, "results.md"));
    let answers = file(&files, "answers.md");
    let links = links_into_results(answers);
    assert!(links.len() > 50, "{}", links.len());
    for link in links {
        assert!(
            defined.contains(&link),
            "answers.md links to missing #{link}"
        );
    }
    assert!(!answers.contains("{}") && !answers.contains("{linux"));
    // Measured numbers are labelled as measured, the model's as the model's.
    assert!(answers.contains("**6** ([measured](results.md#linux-x86-64-ipv4-backlog-five))"));
    assert!(answers.contains("**128** ([model](results.md#macos-predicted-backlog-zero))"));
}

#[test]
fn svg_marks_measured_solid_and_predicted_hollow() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())]);
    let svg = file(&files, "queue-length.svg");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    // Linux: the fixture measured 4 of the 7 default backlogs (0, 5, SOMAXCONN, -1); solid.
    let linux = svg
        .split("<g id=\"series-linux\">")
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap();
    assert_eq!(linux.matches("fill=\"#1f77b4\"").count(), 4, "{linux}");
    // The model's ring is drawn for all 7, around the measured points where they agree.
    assert_eq!(
        linux
            .matches("r=\"7.5\" fill=\"none\" stroke=\"#1f77b4\"")
            .count(),
        7
    );
    assert!(linux.contains("listen(0): 1 measured (ipv4)"));
    // Windows: predicted only, hollow, with two unknowns (0 and i32::MIN) as "?".
    let windows = svg
        .split("<g id=\"series-windows\">")
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap();
    assert_eq!(
        windows
            .matches("r=\"5\" fill=\"none\" stroke=\"#9467bd\"")
            .count(),
        5
    );
    // No line bridges an unknown point: one dashed run, from 1 to i32::MAX.
    assert_eq!(windows.matches("<polyline").count(), 1);
    assert_eq!(windows.matches(">?<title>").count(), 2);
    assert!(windows.contains("predicted by the model, not measured"));
    assert!(!windows.contains(" measured ("));
    assert_eq!(svg.matches("predicted, not measured</text>").count(), 3);
    assert!(svg.contains("Linux: measured</text>"));
}

#[test]
fn top_decade_grows_with_the_data() {
    assert_eq!(svg::top_decade([1, 4097].into_iter()), 4);
    assert_eq!(svg::top_decade([65_535].into_iter()), 5);
}

#[test]
fn load_reports_reads_only_report_files() {
    let dir = std::env::temp_dir().join(format!("backlog-probe-docs-unit-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("report-linux-x86_64.json"),
        include_str!("../../tests/fixtures/report-linux.json"),
    )
    .unwrap();
    fs::write(dir.join("notes.json"), "not a report").unwrap();
    let reports = load_reports(&dir).unwrap();
    assert_eq!(reports.len(), 1);
    fs::write(dir.join("report-broken.json"), "{").unwrap();
    let error = load_reports(&dir).unwrap_err().to_string();
    assert!(
        error.contains("report-broken.json is not a report"),
        "{error}"
    );
    let _ = fs::remove_dir_all(&dir);
    let error = load_reports(&dir).unwrap_err().to_string();
    assert!(error.contains("cannot read report directory"), "{error}");
}
