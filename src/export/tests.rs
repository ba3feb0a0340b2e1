//! Exporters against a fixed report (a real Linux run kept in tests/fixtures), so layout is
//! tested the same way on every OS.

use super::Format;
use crate::report::Report;

/// Render `report`; only the JSON writer can fail, and not for these types.
fn render(report: &Report, format: Format) -> String {
    super::render(report, format).expect("the report renders")
}

fn linux_fixture() -> Report {
    let mut report: Report =
        serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json"))
            .expect("the fixture is a report");
    crate::predict::annotate(&mut report);
    report
}

#[test]
fn json_round_trips() {
    let report = linux_fixture();
    let text = render(&report, Format::Json);
    assert!(text.ends_with("}\n"));
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn table_layout() {
    insta::assert_snapshot!(render(&linux_fixture(), Format::Table), @"
    # Debian 12.0.0, kernel 6.18.44-fc-v782, x86_64, net.core.somaxconn=4096
    family  backlog           listen  queue  accepted  overflow  error  after   late completion         kernel queued/limit  predicted
    ipv4    0                 ok      1      2         dropped   -      0.20 s  completed after 1.02 s  1/0                  1 dropped
    ipv4    5                 ok      6      7         dropped   -      0.20 s  completed after 1.02 s  6/5                  6 dropped
    ipv4    somaxconn (4096)  ok      4097   4098      dropped   -      0.20 s  completed after 1.01 s  4097/4096            4097 dropped
    ipv4    -1                ok      4097   4098      dropped   -      0.20 s  completed after 1.03 s  4097/4096            4097 dropped
    ipv6    0                 ok      1      2         dropped   -      0.20 s  completed after 1.02 s  1/0                  1 dropped
    ipv6    5                 ok      6      7         dropped   -      0.20 s  completed after 1.02 s  6/5                  6 dropped
    ipv6    somaxconn (4096)  ok      4097   4098      dropped   -      0.20 s  completed after 1.00 s  4097/4096            4097 dropped
    ipv6    -1                ok      4097   4098      dropped   -      0.20 s  completed after 1.02 s  4097/4096            4097 dropped
    ");
}

#[test]
fn markdown_layout() {
    insta::assert_snapshot!(render(&linux_fixture(), Format::Markdown), @"
    #### Debian 12.0.0, kernel 6.18.44-fc-v782, x86_64, net.core.somaxconn=4096

    | family | backlog | listen | queue | accepted | overflow | error | after | late completion | kernel queued/limit | predicted |
    |---|---|---|---|---|---|---|---|---|---|---|
    | ipv4 | 0 | ok | 1 | 2 | dropped | - | 0.20 s | completed after 1.02 s | 1/0 | 1 dropped |
    | ipv4 | 5 | ok | 6 | 7 | dropped | - | 0.20 s | completed after 1.02 s | 6/5 | 6 dropped |
    | ipv4 | somaxconn (4096) | ok | 4097 | 4098 | dropped | - | 0.20 s | completed after 1.01 s | 4097/4096 | 4097 dropped |
    | ipv4 | -1 | ok | 4097 | 4098 | dropped | - | 0.20 s | completed after 1.03 s | 4097/4096 | 4097 dropped |
    | ipv6 | 0 | ok | 1 | 2 | dropped | - | 0.20 s | completed after 1.02 s | 1/0 | 1 dropped |
    | ipv6 | 5 | ok | 6 | 7 | dropped | - | 0.20 s | completed after 1.02 s | 6/5 | 6 dropped |
    | ipv6 | somaxconn (4096) | ok | 4097 | 4098 | dropped | - | 0.20 s | completed after 1.00 s | 4097/4096 | 4097 dropped |
    | ipv6 | -1 | ok | 4097 | 4098 | dropped | - | 0.20 s | completed after 1.02 s | 4097/4096 | 4097 dropped |
    ");
}

#[test]
fn markdown_escapes_pipes() {
    let mut report = linux_fixture();
    report.cases[0].label = "a|b".to_string();
    let text = render(&report, Format::Markdown);
    assert!(text.contains("a\\|b"), "{text}");
}

#[test]
fn disagreement_is_marked() {
    let mut report = linux_fixture();
    // Pretend backlog 5 queued only 5: the model (`sk_acceptq_is_full()` tests `>`) says 6.
    report.cases[1].queue_length = Some(5);
    crate::predict::annotate(&mut report);
    for format in [Format::Table, Format::Markdown] {
        let text = render(&report, format);
        let row = text
            .lines()
            .find(|l| l.contains("ipv4") && l.contains(" 5 ") && !l.contains("4096"))
            .expect("the backlog-5 row");
        assert!(row.contains("\u{2260} 6 dropped"), "{row}");
        assert_eq!(text.matches('\u{2260}').count(), 1, "{text}");
    }
}

#[test]
fn missing_prediction_shows_a_dash() {
    let mut report = linux_fixture();
    report.cases[0].prediction = None;
    let text = render(&report, Format::Markdown);
    assert!(
        text.lines().nth(4).unwrap().ends_with("| 1/0 | - |"),
        "{text}"
    );
}

#[test]
fn a_world_is_named_under_the_environment() {
    use crate::netns::{CounterDelta, SysctlSetting, World, WorldKind};
    use crate::sys::ListenCounters;
    let mut report = linux_fixture();
    let counters = |n| ListenCounters {
        listen_overflows: n,
        listen_drops: n,
    };
    report.world = Some(World {
        kind: WorldKind::NetworkNamespace,
        sysctls: vec![SysctlSetting {
            key: "net.core.somaxconn".to_string(),
            requested: 16,
            read_back: 16,
        }],
        counters: Some(CounterDelta {
            before: counters(0),
            after: counters(14),
            delta: counters(14),
        }),
    });
    let world_line = "world: private network namespace, net.core.somaxconn=16; kernel counters over the run: ListenOverflows +14, ListenDrops +14";
    let table = render(&report, Format::Table);
    assert_eq!(
        table.lines().nth(1),
        Some(format!("# {world_line}").as_str())
    );
    assert!(render(&report, Format::Markdown).contains(world_line));
    let back: Report = serde_json::from_str(&render(&report, Format::Json)).unwrap();
    assert_eq!(back, report);
}

#[test]
fn notes_follow_the_table() {
    let mut report = linux_fixture();
    report.cases[0].inconsistent = vec!["the server accepted 3 connections".to_string()];
    report.cases[1].kernel_queue = None;
    report.cases[1].kernel_queue_unusable = Some("it stayed 0".to_string());
    let mut other = report.cases[2].clone();
    other.queue_length = Some(4098);
    let stability = crate::report::Stability::of(&[&report.cases[2], &other], Some(4096));
    report.cases[2].stability = Some(stability);
    let table = render(&report, Format::Table);
    let row = |needle: &str| {
        table
            .lines()
            .find(|l| l.starts_with("ipv4") && l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {table}"))
            .to_string()
    };
    assert!(row("4097–4098").contains("dropped"), "{table}");
    assert!(row("unusable").contains(" 5 "), "{table}");
    let notes: Vec<&str> = table.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(
        notes,
        [
            "note: ipv4_backlog_zero: inconsistent: the server accepted 3 connections",
            "note: ipv4_backlog_five: kernel view not used: it stayed 0",
            "note: ipv4_backlog_somaxconn: unstable over 2 runs (queue_length differed, queue 4097–4098)",
        ]
    );
    let markdown = render(&report, Format::Markdown);
    assert!(
        markdown
            .contains("\n- ipv4_backlog_zero: inconsistent: the server accepted 3 connections\n"),
        "{markdown}"
    );
}
