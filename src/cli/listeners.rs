//! `backlog-probe listeners`: this machine's TCP listeners as the kernel lists them, with each
//! one's queue, stored limit and why, and with `--watch`, how high the queues got and how the
//! overflow counters moved. Read-only: it opens no TCP socket and connects to nothing.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::UsageError;
use super::interrupt;
use super::output::{progress_message, write_stdout};
use backlog_probe::classify::listeners::{
    WatchTracker, counter_window, filter_keeps, knob_scope, listener_row, notes, sort_rows,
    unix_row,
};
use backlog_probe::export;
use backlog_probe::report::Tool;
use backlog_probe::report::listeners::{
    Filter, Knob, LISTENERS_SCHEMA_VERSION, LeftOut, ListenerRow, ListenersReport, ViewInfo,
    WatchEnd, WatchReport,
};
use backlog_probe::sys::{self, SocketOwners};

/// Output format of the listener view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListenersFormat {
    /// Aligned text for a terminal.
    Table,
    /// JSON (documented in the crate docs, module `report::listeners`).
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

/// The shortest and longest `--interval`.
const INTERVAL_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(60));
/// The `--interval` when none is given: short enough to catch a queue that fills and drains
/// within a second.
const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
/// How often a watch says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// The longest the watch loop sleeps before it looks at Ctrl-C again.
const POLL: Duration = Duration::from_millis(50);

/// `backlog-probe listeners` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  backlog-probe listeners\n  backlog-probe listeners --port 8080 --watch 30\n  sudo backlog-probe listeners --pid \"$(pgrep -o nginx)\" --format json\n  nsenter -n -t \"$CONTAINER_PID\" backlog-probe listeners   # a container's own namespace"
)]
pub struct ListenersArgs {
    /// Only listeners on this port (repeatable).
    #[arg(long = "port", value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    ports: Vec<u16>,

    /// Only listeners held by this process (its owner must be visible: root sees every one).
    #[arg(long, value_name = "PID",
          value_parser = clap::value_parser!(u32).range(1..))]
    pid: Option<u32>,

    /// Sample for this many seconds (1..=86400) and report, per listener, the highest queue
    /// seen and whether it reached full, and the system's overflow counters over the window.
    /// Ctrl-C ends the window early with the partial result.
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    watch: Option<u64>,

    /// Time between samples with --watch: milliseconds (`250`, `250ms`) or seconds (`2s`),
    /// 10 ms to 60 s [default: 100ms].
    #[arg(long, value_name = "MS|SECS", value_parser = parse_interval, requires = "watch")]
    interval: Option<Duration>,

    /// Also list Unix-domain stream and seqpacket listeners (Linux: unix_diag).
    #[arg(long)]
    unix: bool,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ListenersFormat,

    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// clap's parser for `--interval`: `250`, `250ms` or `2s`, within [`INTERVAL_RANGE`].
fn parse_interval(text: &str) -> Result<Duration, String> {
    let (digits, unit) = match text.strip_suffix("ms") {
        Some(digits) => (digits, 1),
        None => match text.strip_suffix('s') {
            Some(digits) => (digits, 1000),
            None => (text, 1),
        },
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("expected milliseconds (250, 250ms) or seconds (2s), not {text:?}"))?;
    let interval = Duration::from_millis(value.saturating_mul(unit));
    let (shortest, longest) = INTERVAL_RANGE;
    if interval < shortest || interval > longest {
        return Err(format!(
            "{text} is outside {} ms..={} s",
            shortest.as_millis(),
            longest.as_secs()
        ));
    }
    Ok(interval)
}

/// The somaxconn knob and where it applies.
fn somaxconn() -> Option<Knob> {
    sys::somaxconn_setting().map(|(name, value)| Knob {
        name: name.to_string(),
        value,
        scope: knob_scope(name).to_string(),
    })
}

/// One sample: the OS's list, as rows, with the filter applied. A failed call is the error
/// the user sees (the call and its errno), never an empty list.
fn sample(
    filter: &Filter,
    owners: &SocketOwners,
    knob: Option<&Knob>,
) -> Result<(Vec<ListenerRow>, LeftOut), UsageError> {
    let entries =
        sys::tcp_listeners().map_err(|e| UsageError(format!("cannot list TCP listeners: {e}")))?;
    let mut left_out = LeftOut::default();
    let mut rows = Vec::with_capacity(entries.len());
    for entry in &entries {
        let row = listener_row(entry, owners, knob, &sys::process_name);
        match filter_keeps(filter, &row) {
            Some(true) => rows.push(row),
            Some(false) => {}
            None => left_out.owner_not_visible += 1,
        }
    }
    sort_rows(&mut rows);
    Ok((rows, left_out))
}

/// List (and watch) the listeners and print the report.
pub fn run(args: &ListenersArgs) -> Result<(), UsageError> {
    if args.watch.is_some() {
        interrupt::catch()
            .map_err(|e| UsageError(format!("cannot install the Ctrl-C handler: {e}")))?;
    }
    let filter = Filter {
        ports: args.ports.clone(),
        pid: args.pid,
    };
    let knob = somaxconn();
    let view = sys::listener_view();
    let mut owners = sys::socket_owners();
    let (mut rows, mut left_out) = sample(&filter, &owners, knob.as_ref())?;
    let watch = match args.watch {
        Some(secs) => {
            let watched = watch(
                args,
                Duration::from_secs(secs),
                &filter,
                &mut owners,
                knob.as_ref(),
            )?;
            rows = watched.last;
            left_out = watched.left_out;
            Some(watched.report)
        }
        None => None,
    };
    let (unix_listeners, unix_error) = if args.unix {
        match sys::unix_listeners() {
            Ok(entries) => {
                let mut unix: Vec<_> = entries
                    .iter()
                    .map(|entry| unix_row(entry, &owners))
                    .filter(|row| {
                        filter.pid.is_none_or(|pid| {
                            row.owners
                                .as_ref()
                                .is_some_and(|o| o.iter().any(|p| p.pid == pid))
                        })
                    })
                    .collect();
                unix.sort_by(|a, b| a.path.cmp(&b.path));
                (Some(unix), None)
            }
            Err(error) => (None, Some(error.to_string())),
        }
    } else {
        (None, None)
    };
    let owners_hidden = rows.iter().any(|row| row.owners.is_none());
    let notes = notes(
        &rows,
        knob.as_ref(),
        view.syn_queue_note,
        owners_hidden.then_some(view.owners),
    );
    let report = ListenersReport {
        schema_version: LISTENERS_SCHEMA_VERSION,
        tool: Tool::default(),
        os: std::env::consts::OS.to_string(),
        kernel: sys::kernel_version(),
        view: ViewInfo {
            source: view.source.to_string(),
            queue: view.queue,
            limit: view.limit,
            syn_queue: view.syn_queue,
            syn_queue_note: view.syn_queue_note.to_string(),
            owners: view.owners.to_string(),
        },
        somaxconn: knob,
        filter,
        listeners: rows,
        left_out,
        unix_listeners,
        unix_error,
        watch,
        notes,
    };
    write_stdout(&match args.format {
        ListenersFormat::Table => export::listeners::table(&report),
        ListenersFormat::Markdown => export::listeners::markdown(&report),
        ListenersFormat::Json => export::json(&report)
            .map_err(|e| UsageError(format!("cannot write the report: {e}")))?,
    })?;
    Ok(())
}

/// A watch window's result and its last sample.
struct Watched {
    report: WatchReport,
    last: Vec<ListenerRow>,
    left_out: LeftOut,
}

/// Sample every `--interval` until the window passes or Ctrl-C, with a progress line on
/// stderr every second.
fn watch(
    args: &ListenersArgs,
    window: Duration,
    filter: &Filter,
    owners: &mut SocketOwners,
    knob: Option<&Knob>,
) -> Result<Watched, UsageError> {
    let interval = args.interval.unwrap_or(DEFAULT_INTERVAL);
    let before = sys::overflow_counters();
    let started = Instant::now();
    let mut tracker = WatchTracker::new();
    let mut last;
    let mut left_out;
    let mut next_progress = PROGRESS_EVERY;
    let mut tick = 0u32;
    let ended = loop {
        let (mut rows, out) = sample(filter, owners, knob)?;
        // A listener that appeared since the owners were read: read them again, once per
        // sample at most.
        if rows.iter().any(|row| {
            row.owners.is_none() && row.inode.is_some_and(|i| !owners.by_inode.contains_key(&i))
        }) && owners.supported
        {
            *owners = sys::socket_owners();
            (rows, _) = sample(filter, owners, knob)?;
        }
        let at = started.elapsed();
        tracker.observe(at.as_millis() as u64, &rows);
        last = rows;
        left_out = out;
        if !args.quiet && at >= next_progress {
            next_progress += PROGRESS_EVERY;
            let busiest = last
                .iter()
                .filter_map(|row| row.queue.map(|q| (q, row.address)))
                .max();
            progress_message(&format!(
                "backlog-probe: watching {} of {} s: {} samples, {} listeners{}",
                export::text::seconds(at.as_millis() as u64),
                window.as_secs(),
                tracker.samples(),
                last.len(),
                busiest.map_or_else(String::new, |(queue, address)| format!(
                    ", longest queue now {queue} ({address})"
                ))
            ));
        }
        tick += 1;
        let next = interval * tick;
        if next > window {
            break WatchEnd::Window;
        }
        if let Some(end) = sleep_until(started + next) {
            break end;
        }
    };
    let elapsed = started.elapsed();
    let after = sys::overflow_counters();
    let (counters, counters_error) = match (&before, &after) {
        (Ok(before), Ok(after)) => (Some(counter_window(before, after)), None),
        (Err(error), _) | (_, Err(error)) => (None, Some(error.to_string())),
    };
    Ok(Watched {
        report: WatchReport {
            requested_ms: window.as_millis() as u64,
            interval_ms: interval.as_millis() as u64,
            elapsed_ms: elapsed.as_millis() as u64,
            samples: tracker.samples(),
            ended,
            listeners: tracker.finish(),
            counters,
            counters_error,
        },
        last,
        left_out,
    })
}

/// Sleep until `when`, waking every [`POLL`] to look for Ctrl-C.
fn sleep_until(when: Instant) -> Option<WatchEnd> {
    loop {
        if interrupt::interrupted() {
            return Some(WatchEnd::Interrupted);
        }
        let left = when.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(left.min(POLL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_milliseconds_or_seconds() {
        assert_eq!(parse_interval("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        for bad in [
            "0",
            "5ms",
            "61s",
            "-1",
            "abc",
            "",
            "1.5s",
            "99999999999999999999",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }
}
