//! The listener view ([`ListenersReport`]) as an aligned terminal table or Markdown; JSON is
//! [`super::json`] of the report itself.

use super::text::{align_columns, escape, markdown_row, seconds};
use crate::report::listeners::{
    LimitSource, ListenerRow, ListenersReport, UnixListenerRow, WatchEnd, WatchReport,
    WatchedListener,
};
use crate::sys::ProcessRef;

/// Column headings of the listener table.
pub const HEADINGS: [&str; 7] = [
    "address",
    "queue",
    "limit",
    "syn queue",
    "full",
    "owner",
    "limit because",
];

/// Column headings of the watch table.
pub const WATCH_HEADINGS: [&str; 6] = [
    "address",
    "limit",
    "max queue",
    "reached full",
    "samples",
    "during the window",
];

/// An aligned table for a terminal: a summary line, the listeners, the watch window, notes.
pub fn table(report: &ListenersReport) -> String {
    let mut out = format!("# {}\n", summary(report));
    out.push_str(&align_columns(&listener_rows(report)));
    if report.listeners.is_empty() {
        out.push_str(&format!("({})\n", empty_text(report)));
    }
    if let Some(unix) = &report.unix_listeners {
        out.push_str("\n# Unix-domain stream and seqpacket listeners\n");
        out.push_str(&align_columns(&unix_rows(unix)));
    }
    if let Some(error) = &report.unix_error {
        out.push_str(&format!(
            "note: Unix-domain listeners not listed: {error}\n"
        ));
    }
    if let Some(watch) = &report.watch {
        out.push_str(&format!("\n# {}\n", watch_summary(watch)));
        out.push_str(&align_columns(&watch_rows(watch)));
        out.push_str(&counter_text(watch, false));
    }
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// GitHub-flavoured Markdown: the same tables under headings, notes as a list.
pub fn markdown(report: &ListenersReport) -> String {
    let mut out = format!("#### {}\n\n", escape(&summary(report)));
    out.push_str(&markdown_table(&listener_rows(report)));
    if report.listeners.is_empty() {
        out.push_str(&format!("\n{}\n", escape(&empty_text(report))));
    }
    if let Some(unix) = &report.unix_listeners {
        out.push_str("\n##### Unix-domain listeners\n\n");
        out.push_str(&markdown_table(&unix_rows(unix)));
    }
    if let Some(error) = &report.unix_error {
        out.push_str(&format!(
            "\nUnix-domain listeners not listed: {}\n",
            escape(error)
        ));
    }
    if let Some(watch) = &report.watch {
        out.push_str(&format!("\n##### {}\n\n", escape(&watch_summary(watch))));
        out.push_str(&markdown_table(&watch_rows(watch)));
        out.push_str(&counter_text(watch, true));
    }
    if !report.notes.is_empty() {
        out.push('\n');
        for note in &report.notes {
            out.push_str(&format!("- {}\n", escape(note)));
        }
    }
    out
}

fn markdown_table(rows: &[Vec<String>]) -> String {
    let Some((head, body)) = rows.split_first() else {
        return String::new();
    };
    let mut out = markdown_row(head);
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for row in body {
        out.push_str(&markdown_row(row));
    }
    out
}

/// `TCP listeners on linux 6.8.0: net.core.somaxconn=4096 (this network namespace)`.
fn summary(report: &ListenersReport) -> String {
    let kernel = report
        .kernel
        .as_ref()
        .map_or_else(String::new, |k| format!(" {k}"));
    let knob = report.somaxconn.as_ref().map_or_else(
        || "no somaxconn setting".to_string(),
        |k| format!("{}={} ({})", k.name, k.value, k.scope),
    );
    let mut filter = Vec::new();
    if !report.filter.ports.is_empty() {
        let ports: Vec<String> = report.filter.ports.iter().map(u16::to_string).collect();
        filter.push(format!("port {}", ports.join(", ")));
    }
    if let Some(pid) = report.filter.pid {
        filter.push(format!("pid {pid}"));
    }
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!("; only {}", filter.join(", "))
    };
    format!(
        "TCP listeners on {}{kernel}: {knob}; {} listed{filter}",
        report.os,
        report.listeners.len()
    )
}

fn empty_text(report: &ListenersReport) -> String {
    if report.left_out.owner_not_visible > 0 {
        format!(
            "no listener matched; {} whose owner is not visible were left out",
            report.left_out.owner_not_visible
        )
    } else {
        "no listener matched".to_string()
    }
}

fn number(value: Option<u32>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => "-".to_string(),
    }
}

/// `1234 nginx`, `1234 nginx, 1240 nginx`, or `not visible`.
pub fn owners_text(owners: Option<&[ProcessRef]>) -> String {
    match owners {
        None => "not visible".to_string(),
        Some(owners) => owners
            .iter()
            .map(|owner| match &owner.name {
                Some(name) => format!("{} {name}", owner.pid),
                None => owner.pid.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Why the limit is what it is, in a few words.
pub fn limit_because(source: &LimitSource) -> String {
    match source {
        LimitSource::Clamped { knob, value } => format!("clamped by {knob}={value}"),
        LimitSource::BelowSetting { knob, value } => {
            format!("as requested (below {knob}={value})")
        }
        LimitSource::AboveSetting { knob, value } => {
            format!("above today's {knob}={value} (lowered after listen)")
        }
        LimitSource::NoSetting => "as stored (no somaxconn to compare)".to_string(),
        LimitSource::NotExposed => "not exposed by this OS".to_string(),
    }
}

fn listener_rows(report: &ListenersReport) -> Vec<Vec<String>> {
    let mut rows = vec![HEADINGS.map(str::to_string).to_vec()];
    rows.extend(report.listeners.iter().map(listener_cells));
    rows
}

fn listener_cells(row: &ListenerRow) -> Vec<String> {
    vec![
        row.address.to_string(),
        number(row.queue),
        number(row.limit),
        number(row.syn_queue),
        yes_no(row.full),
        owners_text(row.owners.as_deref()),
        limit_because(&row.limit_source),
    ]
}

fn unix_rows(rows: &[UnixListenerRow]) -> Vec<Vec<String>> {
    let mut out = vec![
        ["path", "type", "queue", "limit", "full", "owner"]
            .map(str::to_string)
            .to_vec(),
    ];
    out.extend(rows.iter().map(|row| {
        vec![
            row.path.clone().unwrap_or_else(|| "(unnamed)".to_string()),
            row.socket_type.clone(),
            number(row.queue),
            number(row.limit),
            yes_no(row.full),
            owners_text(row.owners.as_deref()),
        ]
    }));
    out
}

/// `watched 10.00 s of 10 s: 100 samples every 100 ms (ended: window)`.
fn watch_summary(watch: &WatchReport) -> String {
    let ended = match watch.ended {
        WatchEnd::Window => "the window passed",
        WatchEnd::Interrupted => "interrupted: a partial result",
    };
    format!(
        "watched {} of {}: {} samples every {} ms; {ended}",
        seconds(watch.elapsed_ms),
        seconds(watch.requested_ms),
        watch.samples,
        watch.interval_ms
    )
}

fn watch_rows(watch: &WatchReport) -> Vec<Vec<String>> {
    let mut rows = vec![WATCH_HEADINGS.map(str::to_string).to_vec()];
    rows.extend(watch.listeners.iter().map(|listener| {
        vec![
            listener.address.to_string(),
            number(listener.limit),
            number(listener.max_queue),
            yes_no(listener.reached_full),
            format!("{}/{}", listener.samples_seen, watch.samples),
            lifetime(listener),
        ]
    }));
    rows
}

/// `open throughout`, `closed after 3.60 s`, `appeared at 1.20 s`, or both.
fn lifetime(listener: &WatchedListener) -> String {
    match (listener.appeared_mid_watch, listener.closed_mid_watch) {
        (false, false) => "open throughout".to_string(),
        (false, true) => format!("closed (last seen at {})", seconds(listener.last_seen_ms)),
        (true, false) => format!("appeared at {}", seconds(listener.first_seen_ms)),
        (true, true) => format!(
            "appeared at {}, closed (last seen at {})",
            seconds(listener.first_seen_ms),
            seconds(listener.last_seen_ms)
        ),
    }
}

fn counter_text(watch: &WatchReport, markdown: bool) -> String {
    let Some(counters) = &watch.counters else {
        return match &watch.counters_error {
            Some(error) => format!("overflow counters not read: {error}\n"),
            None => String::new(),
        };
    };
    let mut rows = vec![
        [
            format!("counter ({})", counters.source),
            "before".to_string(),
            "after".to_string(),
            "delta".to_string(),
        ]
        .to_vec(),
    ];
    rows.extend(counters.values.iter().map(|value| {
        vec![
            value.name.clone(),
            value.before.to_string(),
            value.after.to_string(),
            format!("+{}", value.delta),
        ]
    }));
    if markdown {
        format!("\n{}", markdown_table(&rows))
    } else {
        format!("\n{}", align_columns(&rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Family;
    use crate::report::Tool;
    use crate::report::listeners::{
        CounterDelta, CounterWindow, Filter, Knob, LISTENERS_SCHEMA_VERSION, LeftOut, ViewInfo,
    };

    fn report() -> ListenersReport {
        let row = |address: &str, queue, limit, full, source| ListenerRow {
            address: address.parse().unwrap(),
            family: Family::Ipv4,
            port: address.rsplit(':').next().unwrap().parse().unwrap(),
            owners: None,
            uid: Some(0),
            inode: Some(1),
            limit: Some(limit),
            queue: Some(queue),
            syn_queue: None,
            full: Some(full),
            limit_source: source,
        };
        let knob = || "net.core.somaxconn".to_string();
        ListenersReport {
            schema_version: LISTENERS_SCHEMA_VERSION,
            tool: Tool::default(),
            os: "linux".into(),
            kernel: Some("6.18".into()),
            view: ViewInfo {
                source: "sock_diag".into(),
                queue: true,
                limit: true,
                syn_queue: false,
                syn_queue_note: "not reported".into(),
                owners: "/proc".into(),
            },
            somaxconn: Some(Knob {
                name: knob(),
                value: 128,
                scope: "this network namespace".into(),
            }),
            filter: Filter::default(),
            listeners: vec![
                row(
                    "0.0.0.0:8080",
                    3,
                    128,
                    false,
                    LimitSource::Clamped {
                        knob: knob(),
                        value: 128,
                    },
                ),
                row(
                    "127.0.0.1:9000",
                    5,
                    4,
                    true,
                    LimitSource::BelowSetting {
                        knob: knob(),
                        value: 128,
                    },
                ),
            ],
            left_out: LeftOut::default(),
            unix_listeners: None,
            unix_error: None,
            watch: Some(WatchReport {
                requested_ms: 3000,
                interval_ms: 100,
                elapsed_ms: 1500,
                samples: 15,
                ended: WatchEnd::Interrupted,
                listeners: vec![WatchedListener {
                    address: "127.0.0.1:9000".parse().unwrap(),
                    inode: Some(1),
                    owners: Some(vec![ProcessRef {
                        pid: 42,
                        name: Some("server".into()),
                    }]),
                    limit: Some(4),
                    max_queue: Some(5),
                    reached_full: Some(true),
                    samples_seen: 7,
                    first_seen_ms: 0,
                    last_seen_ms: 700,
                    appeared_mid_watch: false,
                    closed_mid_watch: true,
                }],
                counters: Some(CounterWindow {
                    source: "TcpExt".into(),
                    values: vec![CounterDelta {
                        name: "ListenOverflows".into(),
                        before: 1,
                        after: 9,
                        delta: 8,
                    }],
                }),
                counters_error: None,
            }),
            notes: vec!["a | note".into()],
        }
    }

    #[test]
    fn the_table_shows_every_column_and_the_window() {
        let text = table(&report());
        assert!(text.starts_with("# TCP listeners on linux 6.18: net.core.somaxconn=128 (this network namespace); 2 listed\n"), "{text}");
        assert!(text.contains("0.0.0.0:8080    3      128    -          no    not visible  clamped by net.core.somaxconn=128"), "{text}");
        assert!(
            text.contains("127.0.0.1:9000  5      4      -          yes"),
            "{text}"
        );
        assert!(text.contains("interrupted: a partial result"), "{text}");
        assert!(text.contains("closed (last seen at 0.70 s)"), "{text}");
        assert!(text.contains("ListenOverflows"), "{text}");
        assert!(text.contains("+8"), "{text}");
        assert!(text.ends_with("note: a | note\n"), "{text}");
    }

    #[test]
    fn markdown_escapes_cells_and_lists_notes() {
        let text = markdown(&report());
        assert!(text.contains("| address | queue | limit | syn queue | full | owner | limit because |\n|---|---|---|---|---|---|---|\n"), "{text}");
        assert!(text.contains("- a \\| note\n"), "{text}");
        assert!(
            text.contains("| 127.0.0.1:9000 | 4 | 5 | yes | 7/15 |"),
            "{text}"
        );
    }
}
