//! The generator against fixture reports: a real Linux run (tests/fixtures) and variants of it
//! standing in for other OSes, so layout and links are tested the same way everywhere.

use std::collections::BTreeSet;

use super::*;
use backlog_probe::report::Report;
use backlog_probe::report::extras::{FillResult, FillStop};

fn linux_fixture() -> Report {
    serde_json::from_str(include_str!("../../tests/fixtures/report-linux.json"))
        .expect("the fixture is a report")
}

/// A real `backlog-probe extras --features tokio` run on Linux 6.18.
fn extras_fixture() -> ExtrasReport {
    serde_json::from_str(include_str!("../../tests/fixtures/extras-linux.json"))
        .expect("the fixture is an extras report")
}

/// Give the runtime rows of `api` in `report` this kernel limit and a fill of this queue and stop.
fn set_runtime(
    report: &mut ExtrasReport,
    api: &str,
    kernel_limit: Option<u32>,
    (queue_length, stop): (u32, FillStop),
) {
    for runtime in report.runtime_defaults.iter_mut().filter(|r| r.api == api) {
        runtime.kernel_limit = kernel_limit;
        runtime.fill = Some(FillResult {
            queue_length,
            stop,
            os_error: None,
            fd_limit: None,
        });
    }
}

/// `report` as a loaded file, its rows judged again (a test may have edited their facts).
fn sourced_extras(file_name: &str, mut report: ExtrasReport) -> SourcedExtras {
    report.judge();
    SourcedExtras {
        file_name: file_name.to_string(),
        report,
    }
}

/// The Linux fixtures, main and extras.
fn linux_with_extras() -> Vec<DocFile> {
    render(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[sourced_extras("extras-linux-x86_64.json", extras_fixture())],
    )
}

/// Every `](page#anchor)` link target in `text` for one page (`""` for in-page links).
fn links_to(text: &str, page: &str) -> Vec<String> {
    let marker = format!("]({page}#");
    text.split(marker.as_str())
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
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

/// answers.md and answers-depth.md as one text, every run of white space one space: the pages
/// wrap their lines at 100 characters, so a phrase may span two lines.
fn answer_text(files: &[DocFile]) -> String {
    format!(
        "{}\n{}",
        file(files, "answers.md"),
        file(files, "answers-depth.md")
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
}

/// The explicit anchors (`<a id="...">`) of a page.
fn explicit_anchors(page: &str) -> BTreeSet<String> {
    page.split("<a id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
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
    assert_eq!(render(&a, &[]), render(&b, &[]));
    assert_eq!(render(&a, &[]), render(&a, &[]));
}

#[test]
fn results_measured_and_predicted_sections() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())], &[]);
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
    let files = render(&[sourced("report-linux-x86_64.json", report)], &[]);
    let results = file(&files, "results.md");
    assert!(
        results.contains("</a>5 | ipv4 | 5 | 7 | 5 | dropped")
            && results.contains("\u{2260} 6 dropped"),
        "{results}"
    );
    assert!(results.contains(
        "**\u{2260} 1 case(s) contradict the model:** [linux-x86-64-ipv4-backlog-five](#linux-x86-64-ipv4-backlog-five)"
    ));
    let answers = &answer_text(&files);
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
    let files = render(&[sourced("report-macos-aarch64.json", macos)], &[]);
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
    let files = render(
        &[
            sourced("report-windows-wine.json", wine),
            sourced("report-haiku.json", haiku),
        ],
        &[],
    );
    let results = file(&files, "results.md");
    assert!(results.contains("Prediction, not measured: Windows"));
    assert!(results.contains(
        "- [`data/report-windows-wine.json`](data/report-windows-wine.json): ran under wine 8.0, whose TCP is the host's."
    ));
    assert!(results.contains("no model for `haiku`"));
}

#[test]
fn every_answer_link_resolves() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())], &[]);
    let defined = anchors(file(&files, "results.md"));
    let answers = &answer_text(&files);
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
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())], &[]);
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
    // Windows: predicted only, hollow, with four unknowns (0, 1, 5 and i32::MIN: plain
    // backlogs up to 200 are undocumented) as "?".
    let windows = svg
        .split("<g id=\"series-windows\">")
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap();
    assert_eq!(
        windows
            .matches("r=\"5\" fill=\"none\" stroke=\"#9467bd\"")
            .count(),
        3
    );
    // No line bridges an unknown point: one dashed run, from SOMAXCONN to i32::MAX.
    assert_eq!(windows.matches("<polyline").count(), 1);
    assert_eq!(windows.matches(">?<title>").count(), 4);
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

/// `report-linux-x86_64.json` and `report-Linux-X86-64.json` give the same anchors: both are
/// refused, by name, for every kind of file; a different platform is not.
#[test]
fn names_that_differ_only_by_case_or_punctuation_are_refused() {
    for (first, second, fixture) in [
        (
            "report-linux-x86_64.json",
            "report-Linux-X86-64.json",
            include_str!("../../tests/fixtures/report-linux.json"),
        ),
        (
            "extras-linux-x86_64.json",
            "extras-LINUX.x86_64.json",
            include_str!("../../tests/fixtures/extras-linux.json"),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let report = include_str!("../../tests/fixtures/report-linux.json");
        fs::write(dir.path().join("report-linux-x86_64.json"), report).unwrap();
        fs::write(dir.path().join(first), fixture).unwrap();
        fs::write(dir.path().join("report-linux-aarch64.json"), report).unwrap();
        assert!(load_reports(dir.path()).is_ok() && load_extras(dir.path()).is_ok());
        fs::write(dir.path().join(second), fixture).unwrap();
        let loaded = if first.starts_with("report-") {
            load_reports(dir.path()).map(|_| ())
        } else {
            load_extras(dir.path()).map(|_| ())
        };
        match loaded {
            Err(DocsError::SameKey {
                first: a,
                second: b,
                key,
                ..
            }) => {
                let mut names = [a, b];
                names.sort();
                let mut expected = [first.to_string(), second.to_string()];
                expected.sort();
                assert_eq!(names, expected);
                assert_eq!(key, "linux-x86-64");
            }
            other => panic!("{first} and {second}: {other:?}"),
        }
        let out = tempfile::tempdir().unwrap();
        let error = regenerate(dir.path(), out.path()).unwrap_err().to_string();
        assert!(
            error.contains(second) && error.contains("name the same platform (linux-x86-64)"),
            "{error}"
        );
        assert_eq!(
            fs::read_dir(out.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[test]
fn extras_key_and_anchors_are_stable() {
    let extras = sourced_extras("extras-linux-x86_64.json", extras_fixture());
    let report = &extras.report;
    assert_eq!(extras.key(), "linux-x86-64");
    assert_eq!(extras.udp_anchor(&report.udp[1]), "linux-x86-64-udp-ipv6");
    assert_eq!(
        extras.unix_anchor(&report.unix_domain[5]),
        "linux-x86-64-unix-seqpacket-backlog-5"
    );
    assert_eq!(
        extras.relisten_anchor(&report.relisten[0]),
        "linux-x86-64-relisten-5-then-2"
    );
    assert_eq!(
        extras.runtime_anchor(&report.runtime_defaults[4]),
        "linux-x86-64-runtime-python3-socket-listen-1"
    );
    // A negative backlog keeps its sign in the anchor instead of colliding with the positive.
    let mut case = report.relisten[0].clone();
    case.second_backlog = -2;
    assert_eq!(
        extras.relisten_anchor(&case),
        "linux-x86-64-relisten-5-then-minus-2"
    );
}

#[test]
fn without_extras_the_pages_say_not_measured() {
    let files = render(&[sourced("report-linux-x86_64.json", linux_fixture())], &[]);
    let results = file(&files, "results.md");
    let answers = &answer_text(&files);
    assert!(!results.contains("### Other measurements"), "{results}");
    assert!(!results.contains("-udp-"));
    assert!(answers.contains("- **Linux**: not measured here yet; source: `net/ipv4/af_inet.c`"));
    assert!(!answers.contains("measured on Unix-domain listeners"));
    assert!(answers.contains("- **Linux**: not measured here yet; by the source: the new value applies; `net/ipv4/af_inet.c`"));
    assert!(
        answers.contains(
            "| Rust std `TcpListener::bind` | 128 → **129** ([model](results.md#linux)) |"
        )
    );
}

#[test]
fn results_extras_section_has_a_row_per_measurement() {
    let files = linux_with_extras();
    let results = file(&files, "results.md");
    let linux = results
        .split("## Linux")
        .nth(1)
        .and_then(|rest| rest.split("## macOS").next())
        .unwrap();
    assert!(
        linux.contains("### Other measurements: Debian 12.0.0"),
        "{linux}"
    );
    assert!(linux.contains("[`data/extras-linux-x86_64.json`](data/extras-linux-x86_64.json)"));
    assert!(linux.contains(
        "| <a id=\"linux-x86-64-udp-ipv4\"></a>ipv4 | 5 | failed at listen: EOPNOTSUPP (95) |"
    ));
    assert!(linux.contains("| <a id=\"linux-x86-64-unix-stream-backlog-5\"></a>stream | 5 | ok | 6 | 6 | - | next connect() failed at once: EAGAIN (11) |"));
    assert!(linux.contains("| <a id=\"linux-x86-64-unix-seqpacket-backlog-0\"></a>seqpacket | 0 | ok | 1 | 1 | - | next connect() failed at once: EAGAIN (11) |"));
    assert!(linux.contains("| <a id=\"linux-x86-64-relisten-5-then-2\"></a>5 | 2 | ok | 2 | 3 | 3 | next connect() stayed pending |"));
    assert!(linux.contains("| <a id=\"linux-x86-64-runtime-std-net-tcplistener-bind\"></a>`std::net::TcpListener::bind` | 128 | measured | 128 | - | - |"));
    assert!(linux.contains("| <a id=\"linux-x86-64-runtime-python3-socket-listen-1\"></a>`python3 socket.listen(-1)` | 0 | measured | 0 | - | - |"));
    // The Unix listener's fill has no cited backlog, so the column says so.
    assert!(linux.contains("`std::os::unix::net::UnixListener::bind` | - | measured | - | 4097 |"));
    // Other OSes have no extras section.
    assert_eq!(results.matches("### Other measurements").count(), 1);
}

#[test]
fn answers_cite_the_extras_rows() {
    let files = linux_with_extras();
    let answers = &answer_text(&files);
    assert!(answers.contains("- **Linux**, measured: `listen()` on a bound UDP socket failed with `EOPNOTSUPP (95)` ([ipv4](results.md#linux-x86-64-udp-ipv4), [ipv6](results.md#linux-x86-64-udp-ipv6))"), "{answers}");
    assert!(answers.contains("- **Windows**: not measured here yet; documented: `WSAEOPNOTSUPP`"));
    assert!(answers.contains(
        "stream `listen(0)` **1** ([measured](results.md#linux-x86-64-unix-stream-backlog-0))"
    ));
    assert!(answers.contains(": backlog + 1 each time; then the next non-blocking `connect()` failed at once with `EAGAIN (11)`."));
    assert!(
        answers
            .contains("<a id=\"relisten\"></a>Does calling `listen()` again change the backlog?")
    );
    assert!(answers.contains("`listen(5)` then `listen(2)`: kernel limit **2**, queue **3** ([measured](results.md#linux-x86-64-relisten-5-then-2))"));
    assert!(answers.contains("The second call's backlog applied. By the source: the new value applies; `net/ipv4/af_inet.c`"));
    assert!(answers.contains(
        "- **Windows**: not measured here yet; by the documentation: the old value stays;"
    ));
    // The runtimes measured by the extras report show the model's values beside the measured
    // ones, linked to their rows; a kernel view without a fill says the queue was not filled.
    assert!(answers.contains("| Rust std `TcpListener::bind` | 128; model: limit 128, queue 129; [measured](results.md#linux-x86-64-runtime-std-net-tcplistener-bind): limit **128**, queue **not filled** |"), "{answers}");
    assert!(answers.contains("| tokio / mio `TcpListener::bind`, mio ≥ 1.2.0 | 128; model: limit 128, queue 129; [measured](results.md#linux-x86-64-runtime-tokio-net-tcplistener-bind): limit **128**"));
    assert!(answers.contains("| Python `socket.listen(-1)` | 0; model: limit 0, queue 1; [measured](results.md#linux-x86-64-runtime-python3-socket-listen-1): limit **0**, queue **not filled** |"));
    assert!(!answers.contains(" ≠"), "nothing disagrees in the fixture");
    // Other OSes keep the model.
    assert!(
        answers.contains("128 → **193** ([model](results.md#freebsd-predicted-backlog-somaxconn))")
    );
}

#[test]
fn every_link_with_extras_resolves() {
    let files = linux_with_extras();
    let results = file(&files, "results.md");
    let answers = &answer_text(&files);
    let defined = anchors(results);
    let from_answers = links_into_results(answers);
    let extras_links = from_answers
        .iter()
        .filter(|l| {
            ["-udp-", "-unix-", "-relisten-", "-runtime-"]
                .iter()
                .any(|k| l.contains(k))
        })
        .count();
    // answers.md: 2 UDP + 6 Unix-domain + 1 UDP, 1 Unix-domain and 1 runtime on its first
    // screen; answers-depth.md: 2 re-listen + 4 runtimes.
    assert_eq!(extras_links, 17, "{from_answers:?}");
    for link in from_answers.iter().chain(links_to(results, "").iter()) {
        assert!(defined.contains(link), "link to missing #{link}");
    }
    // results.md links the answer pages by their explicit anchors.
    let depth = explicit_anchors(file(&files, "answers-depth.md"));
    let into_depth = links_to(results, "answers-depth.md");
    assert!(!into_depth.is_empty());
    for link in into_depth {
        assert!(
            depth.contains(&link),
            "results.md links to missing answers-depth.md#{link}"
        );
    }
    let own = explicit_anchors(file(&files, "answers.md"));
    for link in links_to(results, "answers.md") {
        assert!(
            own.contains(&link),
            "results.md links to missing answers.md#{link}"
        );
    }
    // No anchor is defined twice.
    let ids: Vec<&str> = results
        .split("id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate anchors");
}

#[test]
fn rendering_with_extras_is_deterministic_and_order_independent() {
    let mut macos = extras_fixture();
    macos.environment.target_os = "macos".into();
    let reports = [sourced("report-linux-x86_64.json", linux_fixture())];
    let a = vec![
        sourced_extras("extras-linux-x86_64.json", extras_fixture()),
        sourced_extras("extras-macos-aarch64.json", macos),
    ];
    let b = vec![a[1].clone(), a[0].clone()];
    assert_eq!(render(&reports, &a), render(&reports, &b));
    assert_eq!(render(&reports, &a), render(&reports, &a));
}

#[test]
fn an_extras_only_os_gets_its_section_and_its_answers() {
    // A Windows extras report with no main report: the model table stays, the extras section
    // follows it, and the answers derive the re-listen verdict from the fill alone.
    let mut windows = extras_fixture();
    windows.environment.target_os = "windows".into();
    for case in &mut windows.relisten {
        case.kernel_queue = None;
        if let Some(fill) = case.fill.as_mut() {
            // 5 for both: the first value, were it used as given.
            fill.queue_length = 5;
            fill.stop = FillStop::FailedInHandshake;
        }
    }
    set_runtime(
        &mut windows,
        "std::net::TcpListener::bind",
        None,
        (128, FillStop::FailedInHandshake),
    );
    let files = render(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[sourced_extras("extras-windows-x86_64.json", windows)],
    );
    let results = file(&files, "results.md");
    let answers = &answer_text(&files);
    let section = results.split("## Windows").nth(1).unwrap();
    assert!(section.contains("### Prediction, not measured: Windows"));
    assert!(section.contains("<a id=\"windows-x86-64-udp-ipv4\"></a>"));
    assert!(!results.contains("linux-x86-64-udp-ipv4"));
    assert!(answers.contains("- **Windows**, measured: `listen(5)` then `listen(2)`: queue **5** ([measured](results.md#windows-x86-64-relisten-5-then-2))"), "{answers}");
    // The model leaves plain Windows backlogs up to 200 unknown, so a queue of 5 cannot tell
    // which call's backlog applied: no verdict, only the documentation.
    assert!(answers.contains("([measured](results.md#windows-x86-64-relisten-5-then-10)). By the documentation: the old value stays;"), "{answers}");
    assert!(!answers.contains("The first backlog stayed."));
    // No kernel view and a model that leaves the queue open: the measured queue alone, and no
    // disagreement to mark.
    assert!(answers.contains(
        "128; model: limit not stated, queue unknown; [measured](results.md#windows-x86-64-runtime-std-net-tcplistener-bind): limit **not shown**, queue **128** |"
    ), "{answers}");
    assert!(answers.contains("- **Linux**: not measured here yet; source: `net/ipv4/af_inet.c`"));
    for link in links_into_results(answers) {
        assert!(anchors(results).contains(&link), "#{link}");
    }
}

#[test]
fn unix_domain_pattern_follows_the_data() {
    let mut report = extras_fixture();
    for case in &mut report.unix_domain {
        if let Some(fill) = case.fill.as_mut() {
            fill.queue_length = u32::try_from(case.backlog).unwrap();
        }
    }
    let files = render(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[sourced_extras("extras-linux-x86_64.json", report)],
    );
    let answers = &answer_text(&files);
    assert!(
        answers.contains(": exactly the backlog each time; then"),
        "{answers}"
    );
    assert!(!answers.contains("backlog + 1 each time"));
}

#[test]
fn emulated_extras_are_not_counted_as_an_os() {
    let mut wine = extras_fixture();
    wine.environment.target_os = "windows".into();
    wine.environment.emulator = Some("wine 8.0".into());
    let files = render(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[sourced_extras("extras-windows-wine.json", wine)],
    );
    let results = file(&files, "results.md");
    assert!(!results.contains("### Other measurements"));
    assert!(results.contains(
        "- [`data/extras-windows-wine.json`](data/extras-windows-wine.json): ran under wine 8.0, whose TCP is the host's."
    ));
}

#[test]
fn load_extras_reads_only_extras_files() {
    let dir = std::env::temp_dir().join(format!(
        "backlog-probe-docs-extras-unit-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("report-linux-x86_64.json"),
        include_str!("../../tests/fixtures/report-linux.json"),
    )
    .unwrap();
    assert!(load_extras(&dir).unwrap().is_empty());
    fs::write(
        dir.join("extras-linux-x86_64.json"),
        include_str!("../../tests/fixtures/extras-linux.json"),
    )
    .unwrap();
    let extras = load_extras(&dir).unwrap();
    assert_eq!(extras.len(), 1);
    assert_eq!(extras[0].file_name, "extras-linux-x86_64.json");
    // The two kinds share the directory without being mistaken for each other.
    assert_eq!(load_reports(&dir).unwrap().len(), 1);
    fs::write(dir.join("extras-broken.json"), "{").unwrap();
    let error = load_extras(&dir).unwrap_err().to_string();
    assert!(
        error.contains("extras-broken.json is not an extras report"),
        "{error}"
    );
    let _ = fs::remove_dir_all(&dir);
}

// ---- Stacks (`cargo xtask stacks`): kernels under QEMU and gVisor ----

use super::stacks::{SourcedWorld, StackManifest, SynRetransmissions};

/// The Linux fixture as a Debian kernel's guest report: its release, its build string and the
/// runner's bare environment.
fn kernel_report(release: &str, build: &str) -> Report {
    let mut report = linux_fixture();
    let env = &mut report.environment;
    env.kernel = Some(release.to_string());
    env.os.os_type = "Linux".into();
    env.os.version = "Unknown".into();
    env.settings
        .insert("kernel.version".into(), build.to_string());
    // The fixture's tcp_syn_linear_timeouts exists from 6.5 only.
    if !release.starts_with("6.12") {
        env.settings.remove("net.ipv4.tcp_syn_linear_timeouts");
    }
    report
}

/// A knob world of `base`: `net.ipv4.tcp_syncookies=0`, with the zero-backlog cases' queue set
/// to `zero_queue`.
fn syncookies_world(base: &Report, zero_queue: u32) -> Report {
    let mut value = serde_json::to_value(base).unwrap();
    value["world"] = serde_json::json!({
        "kind": "network_namespace",
        "sysctls": [{"key": "net.ipv4.tcp_syncookies", "requested": 0, "read_back": 0}],
        "counters": null
    });
    let mut report: Report = serde_json::from_value(value).unwrap();
    report
        .environment
        .settings
        .insert("net.ipv4.tcp_syncookies".into(), "0".into());
    for case in &mut report.cases {
        if case.backlog == 0 {
            case.queue_length = Some(zero_queue);
        }
    }
    report
}

fn manifest(stack: &str, kind: &str) -> StackManifest {
    StackManifest {
        stack: stack.to_string(),
        arch: "x86_64".into(),
        kind: kind.to_string(),
        ..StackManifest::default()
    }
}

/// A kernel stack with its default matrix and a syncookies-off world.
fn kernel_stack(stack: &str, version: &str, release: &str, build: &str, zero: u32) -> SourcedStack {
    let report = kernel_report(release, build);
    let world = syncookies_world(&report, zero);
    let key = format!("{stack}-x86_64");
    SourcedStack {
        file_name: format!("stack-{key}.json"),
        manifest: StackManifest {
            package: Some(format!("linux-image-{release}")),
            package_version: Some(version.to_string()),
            accel: Some("tcg".into()),
            uname_r: Some(release.to_string()),
            uname_v: Some(build.to_string()),
            ..manifest(stack, "linux-qemu")
        },
        report: Some(sourced(&format!("report-{key}.json"), report)),
        worlds: vec![SourcedWorld {
            name: "syncookies_0".into(),
            sourced: sourced(&format!("world-{key}-syncookies_0.json"), world),
        }],
        extras: None,
        repeats: Vec::new(),
        retransmissions: Some((
            format!("retrans-{key}.json"),
            SynRetransmissions {
                client: "busybox nc".into(),
                counter: "TcpExt TCPSynRetrans".into(),
                poll_s: 0.1,
                window_s: 9.0,
                times_s: vec![1.04, 3.13, 7.23],
            },
        )),
    }
}

/// Debian's 5.10.223 (before 3479c7549fb1) and trixie's 6.12.118 (after), given newest first.
fn two_kernels(zero_on_new: u32) -> Vec<SourcedStack> {
    vec![
        kernel_stack(
            "linux-6.12",
            "6.12.118-1",
            "6.12.118+deb13-cloud-amd64",
            "#1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1 (2026-11-20)",
            zero_on_new,
        ),
        kernel_stack(
            "linux-5.10.223",
            "5.10.223-1",
            "5.10.0-32-cloud-amd64",
            "#1 SMP Debian 5.10.223-1 (2024-08-10)",
            0,
        ),
    ]
}

/// The fixture as gVisor measured it: gVisor's environment, N + 1 up to 1025, `TCP_INFO` 0/0.
fn gvisor_report() -> Report {
    let mut report = linux_fixture();
    let env = &mut report.environment;
    env.sandbox = Some(backlog_probe::sys::Sandbox::Gvisor);
    env.kernel = Some("4.4.0".into());
    env.somaxconn.setting = Some(128);
    env.settings
        .insert("net.core.somaxconn".into(), "128".into());
    for case in &mut report.cases {
        case.queue_length = Some((case.backlog as u32).min(1024) + 1);
        case.kernel_queue = Some(backlog_probe::sys::KernelQueue {
            queued: 0,
            limit: 0,
            incomplete: None,
        });
    }
    report
}

fn gvisor_stack() -> SourcedStack {
    let key = "gvisor-20221219.0-x86_64";
    let mut raced = gvisor_report();
    raced.cases[1].queue_length = Some(7); // ipv4 listen(5): one more than N + 1
    let mut slow = gvisor_report();
    let case = &mut slow.cases[2]; // ipv4 SOMAXCONN: a slow handshake counted as the overflow
    case.queue_length = Some(370);
    case.overflow.elapsed_ms = Some(287);
    case.late_completion.kind = backlog_probe::classify::tcp::LateKind::Completed;
    case.late_completion.elapsed_ms = Some(293);
    SourcedStack {
        file_name: format!("stack-{key}.json"),
        manifest: StackManifest {
            runsc_version: Some("0.0~20221219.0".into()),
            platform: Some("ptrace".into()),
            network: Some("none".into()),
            notes: vec!["world-syncookies_0: unsupported: backlog-probe: error: cannot set up the network namespace".into()],
            ..manifest("gvisor-20221219.0", "gvisor")
        },
        report: Some(sourced(&format!("report-{key}.json"), gvisor_report())),
        worlds: Vec::new(),
        extras: None,
        repeats: vec![
            sourced(&format!("repeat-{key}-2.json"), raced),
            sourced(&format!("repeat-{key}-3.json"), slow),
        ],
        retransmissions: None,
    }
}

fn render_stacks(stacks: &[SourcedStack]) -> Vec<DocFile> {
    render_with_stacks(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[],
        stacks,
    )
}

/// Every link of both pages lands on an anchor or heading that exists.
fn assert_links_resolve(files: &[DocFile]) {
    let results = file(files, "results.md");
    let answers = &answer_text(files);
    let defined = anchors(results);
    for link in links_into_results(answers)
        .iter()
        .chain(links_to(results, "").iter())
    {
        assert!(defined.contains(link), "link to missing #{link}");
    }
    for page in ["answers.md", "answers-depth.md"] {
        let text = file(files, page);
        let own = explicit_anchors(text);
        for link in links_to(text, "").iter().chain(&links_to(results, page)) {
            assert!(own.contains(link), "link to missing {page}#{link}");
        }
    }
    let ids: Vec<&str> = results
        .split("id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let unique: BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an anchor is defined twice");
}

#[test]
fn kernels_get_a_table_with_a_column_each_and_the_worlds() {
    let files = render_stacks(&two_kernels(1));
    let results = file(&files, "results.md");
    let (os_part, stacks_part) = results.split_once("## Linux across kernels").unwrap();
    // The Linux section stays the host's report alone.
    assert_eq!(os_part.matches("### Measured:").count(), 1, "{os_part}");
    assert!(!os_part.contains("5.10.0-32-cloud-amd64"));
    // One column per kernel, oldest first, each linked to its section.
    assert!(stacks_part.contains("| world | backlog | [5.10.223](#stack-linux-5-10-223-x86-64) | [6.12.118](#stack-linux-6-12-118-x86-64) | model |"), "{stacks_part}");
    // The section is anchored by its exact version and keeps the anchor by file name.
    assert!(stacks_part.contains("### <a id=\"stack-linux-6-12-118-x86-64\"></a><a id=\"stack-linux-6-12-x86-64\"></a>Linux 6.12.118"), "{stacks_part}");
    // The world row: each cell links to the kernel's own row; the model differs by kernel.
    assert!(stacks_part.contains("| `net.ipv4.tcp_syncookies=0` | <a id=\"linux-kernels-syncookies-0-backlog-zero\"></a>0 | [0](#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero) | [1](#world-linux-6-12-x86-64-syncookies-0-ipv4-backlog-zero) | 0 on 5.10.223; 1 on 6.12.118 |"), "{stacks_part}");
    assert!(stacks_part.contains("| default | <a id=\"linux-kernels-default-backlog-five\"></a>5 | [6](#linux-5-10-223-x86-64-ipv4-backlog-five) | [6](#linux-6-12-x86-64-ipv4-backlog-five) | 6 |"));
    assert!(stacks_part.contains("Every measured cell agrees with the model for its kernel."));
    // Each kernel's own section, with its rows and its provenance.
    assert!(stacks_part.contains(
        "### <a id=\"stack-linux-5-10-223-x86-64\"></a>Linux 5.10.223 (`linux-5.10.223`)"
    ));
    assert!(stacks_part.contains(
        "Debian's `linux-image-5.10.0-32-cloud-amd64` 5.10.223-1, booted under QEMU (tcg)."
    ));
    assert!(stacks_part.contains("#### World `syncookies_0`"));
    assert!(stacks_part.contains(
        "| <a id=\"world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero\"></a>0 | ipv4 | 0 |"
    ));
    // The retransmission timing against the schedule of the kernel's version.
    assert!(stacks_part.contains("| <a id=\"linux-5-10-223-x86-64-syn-retransmissions\"></a>[5.10.223](#stack-linux-5-10-223-x86-64) | absent (before 6.5) | 1.04, 3.13, 7.23 s"));
    assert!(stacks_part.contains("| 1, 3, 7, 15, 31, 63 … s |"));
    // 6.12's report has tcp_syn_linear_timeouts=4 (the fixture's): 1, 3, 7 contradicts it.
    assert!(
        stacks_part.contains("| `4` | ≠ 1.04, 3.13, 7.23 s"),
        "{stacks_part}"
    );
    // The answers cite each kernel where the answer depends on the version.
    let answers = &answer_text(&files);
    assert!(answers.contains("Measured with `tcp_syncookies=0`: **0** on 5.10.223 ([measured](results.md#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero)); **1** on 6.12.118 ([measured](results.md#world-linux-6-12-x86-64-syncookies-0-ipv4-backlog-zero)) ([table](results.md#linux-kernels-syncookies-0-backlog-zero))"), "{answers}");
    // answers-depth.md: one compact table, a column per kernel, each cell linked to its row.
    let depth = file(&files, "answers-depth.md");
    assert!(
        depth.contains("| case | [5.10.223](results.md#stack-linux-5-10-223-x86-64) | [6.12.118](results.md#stack-linux-6-12-118-x86-64) |\n"),
        "{depth}"
    );
    assert!(
        depth.contains("| `listen(0)`, `tcp_syncookies=0` | [0](results.md#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero) | [1](results.md#world-linux-6-12-x86-64-syncookies-0-ipv4-backlog-zero) |\n"),
        "{depth}"
    );
    assert!(answers.contains("- [Linux 5.10.223 (Debian, under QEMU)](results.md#stack-linux-5-10-223-x86-64): all 16 comparable measured cases of its 2 report(s) agree with the model."), "{answers}");
    assert_links_resolve(&files);
    // The order the stacks come in does not matter.
    let mut reversed = two_kernels(1);
    reversed.reverse();
    assert_eq!(render_stacks(&reversed), files);
}

#[test]
fn a_kernel_that_contradicts_its_model_is_marked() {
    // 6.12.118 carries 3479c7549fb1: 0 with syncookies off contradicts the model.
    let files = render_stacks(&two_kernels(0));
    let results = file(&files, "results.md");
    assert!(results.contains("| [0](#world-linux-5-10-223-x86-64-syncookies-0-ipv4-backlog-zero) | ≠ [0](#world-linux-6-12-x86-64-syncookies-0-ipv4-backlog-zero) |"), "{results}");
    assert!(results.contains("**≠ 1 cell(s) contradict the model:** [6.12.118, syncookies_0](#linux-kernels-syncookies-0-backlog-zero)"));
    let answers = &answer_text(&files);
    assert!(
        answers.contains("**2 of 16 measured cases contradict the model**"),
        "{answers}"
    );
    assert_links_resolve(&files);
}

#[test]
fn gvisor_gets_its_section_its_column_and_its_runs() {
    let files = render_stacks(&[gvisor_stack()]);
    let results = file(&files, "results.md");
    let (os_part, gvisor) = results.split_once("## gVisor").unwrap();
    assert!(
        !os_part.contains("gvisor-20221219"),
        "gVisor is no Linux report"
    );
    assert!(gvisor.contains(
        "### <a id=\"stack-gvisor-20221219-0-x86-64\"></a>gVisor 20221219.0 (`gvisor-20221219.0`)"
    ));
    assert!(
        gvisor.contains("Measured with `runsc` 0.0~20221219.0, platform ptrace, network none.")
    );
    // TCP_INFO's zeros are no kernel view, and gVisor's own model is applied.
    assert!(gvisor.contains("| <a id=\"gvisor-20221219-0-x86-64-ipv4-backlog-somaxconn\"></a>somaxconn (4096) | ipv4 | 1025 | 4098 | n/a | dropped |"), "{gvisor}");
    assert!(gvisor.contains("| 1025 dropped |"));
    assert!(gvisor.contains("The knob worlds (`syncookies_0`) need a network namespace"));
    // The runs, each disagreement explained from the data or the source.
    assert!(gvisor.contains("| <a id=\"gvisor-20221219-0-x86-64-runs-ipv4-backlog-five\"></a>ipv4 5 | 6 | ≠ 7 | 6 | 6 |"), "{gvisor}");
    assert!(
        gvisor.contains("7 instead of 6: netstack tests for a full queue when the SYN arrives")
    );
    assert!(gvisor.contains("370 instead of 1025: connect 371 was still unanswered at 287 ms, past the harness's 200 ms admission grace, and completed at 293 ms"));
    let answers = &answer_text(&files);
    assert!(answers.contains("| backlog | Linux | macOS | FreeBSD | Windows | gVisor |"));
    assert!(answers.contains(
        "**1025** ([measured](results.md#gvisor-20221219-0-x86-64-ipv4-backlog-minus-one))"
    ));
    assert!(
        answers.contains("it read **128** ([measured](results.md#stack-gvisor-20221219-0-x86-64))")
    );
    assert!(
        answers.contains("**2 of 24 measured cases contradict the model**"),
        "{answers}"
    );
    assert_links_resolve(&files);
}

#[test]
fn without_stacks_the_sections_say_so_and_links_resolve() {
    let files = render_stacks(&[]);
    let results = file(&files, "results.md");
    assert!(results.contains("## Linux across kernels\n\nNo kernel stack measured yet"));
    assert!(results.contains("## gVisor\n\nNo gVisor stack measured yet"));
    let answers = &answer_text(&files);
    assert!(
        file(&files, "answers.md").contains("| backlog | Linux | macOS | FreeBSD | Windows |\n")
    );
    assert!(answers.contains("not measured here (no kernel stack in `docs/data/`)"));
    assert_links_resolve(&files);
}

#[test]
fn a_gvisor_report_without_its_manifest_is_no_linux_report() {
    let files = render(
        &[
            sourced("report-linux-x86_64.json", linux_fixture()),
            sourced("report-gvisor-x86_64.json", gvisor_report()),
        ],
        &[],
    );
    let results = file(&files, "results.md");
    assert_eq!(results.matches("### Measured:").count(), 1);
    assert!(results.contains("- [`data/report-gvisor-x86_64.json`](data/report-gvisor-x86_64.json): ran under gVisor, whose TCP is its own netstack"));
}

#[test]
fn stack_files_are_grouped_by_their_manifest() {
    let dir = std::env::temp_dir().join(format!("backlog-probe-stacks-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let write =
        |name: &str, value: &dyn erased::Json| fs::write(dir.join(name), value.json()).unwrap();
    let kernel = kernel_report("6.12.118+deb13-cloud-amd64", "#1 SMP Debian 6.12.118-1");
    write("report-linux-x86_64.json", &linux_fixture());
    write("report-linux-6.12-x86_64.json", &kernel);
    write(
        "world-linux-6.12-x86_64-syncookies_0.json",
        &syncookies_world(&kernel, 1),
    );
    // A world of a stack without a manifest, and another stack's: neither is taken.
    write(
        "world-linux-6.1-x86_64-syncookies_0.json",
        &syncookies_world(&kernel, 1),
    );
    write("extras-linux-6.12-x86_64.json", &extras_fixture());
    write("extras-linux-x86_64.json", &extras_fixture());
    fs::write(
        dir.join("retrans-linux-6.12-x86_64.json"),
        r#"{"schema_version": 1, "kind": "syn_retransmissions", "environment": {"kernel": "x"}, "backlog": 0, "client": "busybox nc", "counter": "TcpExt TCPSynRetrans", "poll_s": 0.1, "window_s": 9, "times_s": [1.2, 2.2]}"#,
    )
    .unwrap();
    fs::write(
        dir.join("stack-linux-6.12-x86_64.json"),
        r#"{"stack": "linux-6.12", "arch": "x86_64", "kind": "linux-qemu", "package_version": "6.12.118-1", "files": [], "unknown_field": true}"#,
    )
    .unwrap();
    let mut reports = load_reports(&dir).unwrap();
    let mut extras = load_extras(&dir).unwrap();
    let stacks = stacks::load(&dir, u64::MAX, &mut reports, &mut extras).unwrap();
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(
        reports
            .iter()
            .map(|r| r.file_name.as_str())
            .collect::<Vec<_>>(),
        ["report-linux-x86_64.json"]
    );
    assert_eq!(
        extras
            .iter()
            .map(|r| r.file_name.as_str())
            .collect::<Vec<_>>(),
        ["extras-linux-x86_64.json"]
    );
    let [stack] = stacks.as_slice() else {
        panic!("{stacks:?}")
    };
    assert_eq!(stack.label(), "6.12.118");
    assert_eq!(stack.family(), OsFamily::Linux);
    assert!(stack.report.is_some() && stack.extras.is_some());
    assert_eq!(stack.worlds.len(), 1);
    assert_eq!(stack.worlds[0].name, "syncookies_0");
    assert_eq!(
        stack.retransmissions.as_ref().unwrap().1.times_s,
        [1.2, 2.2]
    );
}

/// Serialising the fixtures' two types through one writer.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

#[test]
fn results_give_the_day_a_report_was_measured_where_it_is_known() {
    let reports = [sourced("report-linux-x86_64.json", linux_fixture())];
    let dates = std::collections::BTreeMap::from([(
        "report-linux-x86_64.json".to_string(),
        "2026-11-25".to_string(),
    )]);
    let with = render_with_dates(&reports, &[], &[], dates);
    assert!(file(&with, "results.md").contains(
        "Report: [`data/report-linux-x86_64.json`](data/report-linux-x86_64.json), measured on 2026-11-25, "
    ));
    let without = render(&reports, &[]);
    assert!(!file(&without, "results.md").contains("measured on 20"));
}

#[test]
fn a_report_s_own_day_is_preferred_to_the_file_s() {
    let mut own = linux_fixture();
    own.environment.measured_on = Some("2026-12-07".to_string());
    let mut malformed = linux_fixture();
    malformed.environment.measured_on = Some("yesterday".to_string());
    let mut undated = linux_fixture();
    undated.environment.measured_on = None;
    let reports = [
        sourced("report-linux-x86_64.json", own),
        sourced("report-linux-aarch64.json", malformed),
        sourced("report-linux-riscv64.json", undated),
    ];
    let file_days =
        std::collections::BTreeMap::from(["x86_64", "aarch64", "riscv64"].map(|arch| {
            (
                format!("report-linux-{arch}.json"),
                "2026-11-25".to_string(),
            )
        }));
    let results = file(
        &render_with_dates(&reports, &[], &[], file_days),
        "results.md",
    )
    .to_string();
    let line = |arch: &str, day: &str| {
        format!(
            "Report: [`data/report-linux-{arch}.json`](data/report-linux-{arch}.json), measured on {day}, "
        )
    };
    assert!(results.contains(&line("x86_64", "2026-12-07")), "{results}");
    // A day of another shape is not shown; the file's is.
    assert!(
        results.contains(&line("aarch64", "2026-11-25")),
        "{results}"
    );
    assert!(!results.contains("yesterday"));
    assert!(
        results.contains(&line("riscv64", "2026-11-25")),
        "{results}"
    );
    // Without the file, the report's own day still shows.
    let own_only = file(&render(&reports[..1], &[]), "results.md").to_string();
    assert!(
        own_only.contains(&line("x86_64", "2026-12-07")),
        "{own_only}"
    );
}

#[test]
fn measurement_days_are_read_checked_and_optional() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(
        load_measured_on(dir.path(), 1 << 20)
            .expect("none")
            .is_empty()
    );
    let path = dir.path().join(MEASURED_ON);
    std::fs::write(&path, r#"{"measured_on": {"report-a.json": "2026-12-03"}}"#).unwrap();
    let days = load_measured_on(dir.path(), 1 << 20).expect("read");
    assert_eq!(days["report-a.json"], "2026-12-03");
    std::fs::write(&path, r#"{"measured_on": {"report-a.json": "last week"}}"#).unwrap();
    let error = load_measured_on(dir.path(), 1 << 20).expect_err("not a date");
    assert!(
        error.to_string().contains("is not a YYYY-MM-DD date"),
        "{error}"
    );
}

/// A runtime measurement that disagrees with the model is marked ≠, its limit and its queue
/// each on their own.
#[test]
fn a_runtime_that_disagrees_with_the_model_is_marked() {
    let mut extras = extras_fixture();
    set_runtime(
        &mut extras,
        "python3 socket.listen()",
        Some(100),
        (129, FillStop::Pending),
    );
    let files = render(
        &[sourced("report-linux-x86_64.json", linux_fixture())],
        &[sourced_extras("extras-linux-x86_64.json", extras)],
    );
    let answers = file(&files, "answers-depth.md");
    assert!(answers.contains("| Python `socket.listen()` (no argument) | 128; model: limit 128, queue 129; [measured](results.md#linux-x86-64-runtime-python3-socket-listen): limit **100** ≠, queue **129** |"), "{answers}");
}

/// The words of `page` from its `<a id="model-status">` heading to the next heading.
fn model_status_words(page: &str) -> usize {
    let start = page
        .find("<a id=\"model-status\"></a>")
        .expect("the model-status section");
    let rest = &page[start..];
    let end = rest[1..].find("\n#").map_or(rest.len(), |at| at + 1);
    rest[..end].split_whitespace().count()
}

/// answers.md stays under the 4,000 words tests/docs_answers.rs holds it to when the first
/// results pull request adds macOS, Windows, FreeBSD and Linux arm64 reports (main and extras)
/// to docs/data: its comparison with the model is totals, whatever the number of reports; the
/// per-report lines are answers-depth.md's.
#[test]
fn answers_stays_under_4000_words_with_reports_of_every_runner() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/data");
    let max = read::DEFAULT_MAX_INPUT_BYTES;
    let mut reports = load_reports_bounded(&data, max).expect("docs/data reports");
    let mut extras = load_extras_bounded(&data, max).expect("docs/data extras");
    let stacks = stacks::load(&data, max, &mut reports, &mut extras).expect("docs/data stacks");
    let days = load_measured_on(&data, max).expect("docs/data days");
    let before = render_with_dates(&reports, &extras, &stacks, days.clone());

    let macos: Report = serde_json::from_str(include_str!(
        "../../tests/fixtures/report-macos-fixture.json"
    ))
    .expect("the macOS fixture");
    let windows: Report = serde_json::from_str(include_str!(
        "../../tests/fixtures/report-windows-fixture.json"
    ))
    .expect("the Windows fixture");
    let mut macos_intel = macos.clone();
    macos_intel.environment.target_arch = "x86_64".into();
    let mut windows_arm = windows.clone();
    windows_arm.environment.target_arch = "aarch64".into();
    let mut freebsd = macos.clone();
    freebsd.environment.target_os = "freebsd".into();
    freebsd.environment.target_arch = "x86_64".into();
    freebsd.environment.os.os_type = "FreeBSD".into();
    freebsd.environment.os.version = "14.3.0".into();
    freebsd.environment.kernel = Some("14.3-RELEASE".into());
    freebsd.environment.somaxconn.setting_name = Some("kern.ipc.soacceptqueue".into());
    freebsd.environment.settings =
        std::collections::BTreeMap::from([("kern.ipc.soacceptqueue".into(), "128".into())]);
    let mut linux_arm = linux_fixture();
    linux_arm.environment.target_arch = "aarch64".into();
    let runners = [
        ("macos-aarch64", macos),
        ("macos-x86_64", macos_intel),
        ("windows-x86_64", windows),
        ("windows-aarch64", windows_arm),
        ("freebsd-x86_64", freebsd),
        ("linux-aarch64", linux_arm),
    ];
    for (runner, report) in runners {
        let mut runner_extras = extras_fixture();
        runner_extras.environment = report.environment.clone();
        reports.push(sourced(&format!("report-{runner}.json"), report));
        extras.push(sourced_extras(
            &format!("extras-{runner}.json"),
            runner_extras,
        ));
    }
    let after = render_with_dates(&reports, &extras, &stacks, days);

    let words = file(&after, "answers.md").split_whitespace().count();
    assert!(words < 4000, "answers.md would have {words} words");
    // The comparison with the model does not grow with the reports (it loses the sentence
    // about the OSes without a report); the depth page lists each one.
    let (status_before, status_after) = (
        model_status_words(file(&before, "answers.md")),
        model_status_words(file(&after, "answers.md")),
    );
    assert!(
        status_after <= status_before,
        "{status_before} words before, {status_after} after"
    );
    let depth = file(&after, "answers-depth.md");
    for runner in ["macOS", "Windows", "FreeBSD"] {
        assert!(
            depth.contains(&format!("\n- {runner} (")),
            "answers-depth.md lists {runner}'s report"
        );
    }
    assert!(!file(&after, "answers.md").contains("No report yet for"));
}
