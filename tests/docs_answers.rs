//! The answer pages as committed (which `tests/docs_fresh.rs` holds equal to what the generator
//! makes from `docs/data/`): every link resolves, every correction found by review stays on the
//! page with its source, and the pages stay readable (answers.md under 4,000 words, prose lines
//! wrapped at 100 characters, a first screen without kernel identifiers).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// A page's text with every run of white space as one space: the pages wrap their lines, so a
/// phrase may span two.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read(name: &str) -> String {
    let path = docs().join(name);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n")
}

/// The generated Markdown pages the links are checked on.
const PAGES: [&str; 3] = ["answers.md", "answers-depth.md", "results.md"];

/// Every `<a id="...">` of a page.
fn anchors(page: &str) -> BTreeSet<String> {
    page.split("<a id=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(id, _)| id.to_string()))
        .collect()
}

/// GitHub's id for a heading's text (results.md's sections are linked by their headings).
fn heading_id(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// What a link into `name` may name: its explicit anchors, and for results.md (whose top-level
/// sections have no explicit anchor) its `## ` headings too. The answer pages are linked by
/// explicit anchors only, which do not change when a heading is reworded.
fn targets_of(name: &str, page: &str) -> BTreeSet<String> {
    let mut ids = anchors(page);
    if name == "results.md" {
        ids.extend(
            page.lines()
                .filter_map(|l| l.strip_prefix("## "))
                .map(heading_id),
        );
    }
    ids
}

/// Every Markdown link target of a page outside code blocks: `[text](target)`.
fn link_targets(page: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    targets
}

#[test]
fn every_link_and_anchor_of_the_pages_resolves() {
    let mut checked = 0;
    for name in PAGES {
        let page = read(name);
        let own = targets_of(name, &page);
        assert!(!own.is_empty(), "{name} has explicit anchors");
        for target in link_targets(&page) {
            if target.starts_with("https://") || target.starts_with("http://") {
                assert!(
                    !target.contains(' '),
                    "{name}: a URL with a space: {target}"
                );
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            checked += 1;
            if let Some(dir) = path.strip_suffix('/') {
                assert!(
                    docs().join(dir).is_dir(),
                    "{name}: {path} is no directory of docs/"
                );
                continue;
            }
            if path.is_empty() {
                let fragment = fragment.expect("a link to an anchor");
                assert!(
                    own.contains(fragment),
                    "{name}: #{fragment} is no anchor of it"
                );
                continue;
            }
            let file = docs().join(path);
            assert!(file.is_file(), "{name}: {path} does not exist in docs/");
            if let Some(fragment) = fragment {
                let theirs = targets_of(path, &read(path));
                assert!(
                    theirs.contains(fragment),
                    "{name}: {path}#{fragment} is no anchor of {path}"
                );
            }
        }
    }
    assert!(checked > 500, "only {checked} relative links checked");
}

#[test]
fn every_data_file_the_pages_link_is_in_docs_data() {
    let mut linked = 0;
    for name in PAGES {
        for target in link_targets(&read(name)) {
            if let Some(file) = target.strip_prefix("data/").filter(|f| !f.is_empty()) {
                assert!(
                    Path::new(&docs().join("data").join(file)).is_file(),
                    "{name}: data/{file}"
                );
                linked += 1;
            }
        }
    }
    assert!(linked >= 20, "{linked} data links");
}

/// The text of answers.md from the title to the first heading after the five questions.
fn first_screen(page: &str) -> &str {
    let start = page
        .find("<a id=\"questions\"></a>")
        .expect("the five questions");
    let end = page[start..]
        .find("<a id=\"claims\"></a>")
        .map_or(page.len(), |i| start + i);
    &page[start..end]
}

#[test]
fn the_first_screen_answers_five_questions_before_any_detail() {
    let page = read("answers.md");
    for id in [
        "what-is-queued",
        "listen-1-vs-5",
        "listen-0",
        "preferred-value",
        "other-protocols",
    ] {
        let at = page
            .find(&format!("<a id=\"{id}\"></a>"))
            .unwrap_or_else(|| panic!("#{id}"));
        assert!(at < page.find("<a id=\"claims\"></a>").unwrap(), "#{id}");
        assert!(
            at < page.find("<a id=\"model-status\"></a>").unwrap(),
            "#{id}"
        );
    }
    let screen = first_screen(&page);
    // A newcomer reads it without kernel identifiers: no functions, counters or commit ids.
    for word in screen.split(|c: char| c.is_whitespace() || "()`[],.;:*".contains(c)) {
        let hex = word.len() >= 12 && word.chars().all(|c| c.is_ascii_hexdigit());
        assert!(!hex, "a commit id on the first screen: {word}");
        assert!(
            !(word.contains('_') && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
            "a kernel identifier on the first screen: {word}"
        );
    }
    // Each answer carries measured numbers with links.
    assert!(screen.matches("[measured](").count() >= 8, "{screen}");
}

#[test]
fn the_claims_are_checked_one_by_one() {
    let page = flat(&read("answers.md"));
    let claims = &page[page.find("<a id=\"claims\"></a>").unwrap()..];
    for claim in [
        "above the limit the other side refuses",
        "backlog counts pending, not established connections",
        "0 means queue nothing",
        "silently limited to 1..5",
        "Python uses min(SOMAXCONN, 128)",
        "higher is better",
    ] {
        assert!(claims.contains(claim), "{claim}");
    }
}

/// Every correction the review found, as the words that carry it and their source.
#[test]
fn the_corrections_stay_on_the_pages_with_their_sources() {
    let both = flat(&format!(
        "{}\n{}",
        read("answers.md"),
        read("answers-depth.md")
    ));
    for (what, needles) in [
        (
            "a short queue stalls Linux and macOS clients instead of failing them fast",
            &["retried", "Only FreeBSD and Windows answer with a reset"][..],
        ),
        (
            "a value above the limit takes effect when the limit is raised and listen() is called again",
            &["calls `listen()` again"][..],
        ),
        (
            "the final ACK meeting a full Linux queue, with the README's burst numbers",
            &[
                "tcp_abort_on_overflow=1",
                "half-open",
                "7 of the 30",
                "6 of the 30",
                "`listen_overflow:`",
            ][..],
        ),
        (
            "listen(0) without SYN cookies: the drop came with ef547f2ac16b (4.4) and went with 3479c7549fb1",
            &["ef547f2ac16b", "3479c7549fb1", "4.4"][..],
        ),
        (
            "the SYN queue's limit and what tcp_max_syn_backlog does",
            &[
                "`sk_max_ack_backlog`",
                "`>=` to `>`",
                "`tcp_max_syn_backlog`",
                "last quarter",
            ][..],
        ),
        (
            "SCTP: backlog 0 stops listening (RFC 6458), measured",
            &[
                "`sctp_inet_listen()`",
                "RFC 6458",
                "data/sctp-linux-6.1.192-x86_64.txt",
            ][..],
        ),
        (
            "negative values are legal; -1 with its runtime caveats",
            &["Python turns it into 0", "Node into 511", "Java into 50"][..],
        ),
        (
            "gVisor's rule for the versions read and measured, not every version",
            &["`minListenBacklog = 8`"][..],
        ),
        (
            "Windows documents acknowledged-and-queued connections",
            &["acknowledged and queued pending acceptance"][..],
        ),
        (
            "Windows with SYN-attack protection resets after the handshake",
            &[
                "WSAECONNRESET",
                "winsock-connect-and-tcp-syn-attack-protection",
            ][..],
        ),
        (
            "macOS UDP: EOPNOTSUPP from solisten()'s connection-required check",
            &["`PR_CONNREQUIRED`"][..],
        ),
    ] {
        for needle in needles {
            assert!(both.contains(needle), "{what}: `{needle}` is gone");
        }
    }
    for wrong in [
        "0 is the minimum because nothing smaller is defined",
        "only documents intent",
        "instead of failing fast",
        "nothing before commit 3479c7549fb1",
        "UDP leaves `pru_listen` at `pru_listen_notsupp`",
    ] {
        assert!(
            !both.contains(wrong),
            "a corrected sentence is back: {wrong}"
        );
    }
}

#[test]
fn the_operator_help_names_commands_for_each_os() {
    let page = read("answers.md");
    let help = &page[page
        .find("<a id=\"operators\"></a>")
        .expect("operator help")..];
    for needle in [
        "ss -lnt",
        "nstat",
        "ListenOverflows",
        "ListenDrops",
        "TCPReqQFullDoCookies",
        "TCPReqQFullDrop",
        "Possible SYN flooding",
        "netstat -Lan",
        "netstat -s -p tcp",
        "Listen queue overflow",
        "no per-listener view",
        "(listeners.md)",
        "backlog-probe listeners --port 8080 --watch 60",
        "<a id=\"how-big\"></a>",
        "<a id=\"containers\"></a>",
        "<a id=\"reuseport\"></a>",
        "<a id=\"syn-cookies\"></a>",
    ] {
        assert!(help.contains(needle), "{needle}");
    }
    // The command it names is the real one: `backlog-probe listeners` with those options runs.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
        .args(["listeners", "--port", "8080", "--watch", "1"])
        .output()
        .expect("backlog-probe runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every OS's part names it, with the page that explains its columns.
    for os in ["**Linux:**", "**macOS and FreeBSD:**", "**Windows**"] {
        let part = &help[help.find(os).unwrap_or_else(|| panic!("{os}"))..];
        let end = [part[os.len()..].find("**"), part[os.len()..].find("\n### ")]
            .into_iter()
            .flatten()
            .min()
            .map_or(part.len(), |at| at + os.len());
        let part = &part[..end];
        assert!(part.contains("`backlog-probe listeners"), "{os}: {part}");
    }
}

#[test]
fn answers_stays_short_and_wrapped() {
    for name in ["answers.md", "answers-depth.md"] {
        let page = read(name);
        let mut in_code = false;
        for (number, line) in page.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            // Tables and code keep their lines; a single word longer than a line cannot wrap.
            let prose = !in_code && !line.starts_with('|') && line.trim().contains(' ');
            assert!(
                !prose || line.chars().count() <= 100,
                "{name}:{}: {} characters",
                number + 1,
                line.chars().count()
            );
        }
    }
    let words = read("answers.md").split_whitespace().count();
    assert!(words < 4000, "answers.md has {words} words");
}

#[test]
fn the_page_says_how_to_cite_it_and_when_each_report_was_measured() {
    let answers = read("answers.md");
    assert!(answers.contains("<a id=\"cite\"></a>"));
    assert!(answers.contains("/blob/"), "a permalink at a commit");
    let results = read("results.md");
    for data in fs::read_dir(docs().join("data")).unwrap() {
        let name = data.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("report-") && name.ends_with(".json") {
            let at = results
                .find(&format!("(data/{name})"))
                .unwrap_or_else(|| panic!("{name} is linked"));
            let line = &results[results[..at].rfind('\n').map_or(0, |i| i + 1)..];
            let line = line.lines().next().unwrap_or_default();
            assert!(line.contains("measured on 20"), "{name}: {line}");
        }
    }
}

#[test]
fn stack_anchors_name_the_exact_kernel_version() {
    let results = read("results.md");
    for version in ["5-10-223", "5-10-262", "6-1-192", "6-12-118", "7-2-13"] {
        assert!(
            results.contains(&format!("<a id=\"stack-linux-{version}-x86-64\"></a>")),
            "{version}"
        );
    }
    let answers = read("answers.md");
    assert!(
        !answers.contains("#stack-linux-5-10-x86-64"),
        "a branch anchor"
    );
}
