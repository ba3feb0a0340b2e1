//! The small text pieces every renderer shares (the terminal table, Markdown, the burst and
//! extras tables, `merge` and the generated docs), written once.

use serde::Serialize;

use crate::classify::extras::{FillCut, fill_cut};
use crate::classify::tcp::{LateCompletion, LateKind};
use crate::observation::ListenReport;
use crate::observation::extras::FillResult;

/// A Markdown table cell: a `|` would end the cell.
pub fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// One Markdown table row from its cells, escaped.
pub fn markdown_row<S: AsRef<str>>(cells: &[S]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| escape(c.as_ref())).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// Milliseconds as seconds with two decimals: `1.02 s`.
pub fn seconds(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// [`seconds`], or `-` when there is no time.
pub fn seconds_or_dash(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_string(), seconds)
}

/// Rows of cells as left-aligned columns two spaces apart, widths counted in characters (so
/// `≠` and `–` take one column), trailing spaces trimmed, each row ending in a newline.
pub fn align_columns<S: AsRef<str>>(rows: &[Vec<S>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.as_ref().chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{:<width$}", cell.as_ref()))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// What stopped a fill before its queue was full, in words, or `None` for a measured queue:
/// `the fd limit 30 (hard 30) stopped the fill after 6 connections (14 descriptors held)`.
/// Every renderer says this instead of a queue length, so a limit is never read as a
/// measurement.
pub fn fill_cut_text(fill: &FillResult) -> Option<String> {
    let after = fill.queue_length;
    let error = fill
        .os_error
        .as_ref()
        .map_or_else(String::new, |e| format!(": {e}"));
    Some(match fill_cut(fill)? {
        FillCut::FdLimit(limit) => format!(
            "the fd limit {} (hard {}) stopped the fill after {after} connections ({} descriptors held{error})",
            limit.soft, limit.hard, limit.descriptors
        ),
        FillCut::Cap => format!("the harness's cap stopped the fill after {after} connections"),
        FillCut::OutOfResources => {
            format!("the harness ran out of resources after {after} connections{error}")
        }
    })
}

/// Pretty JSON with a trailing newline: the one JSON writer of every report. The error is
/// serde's (none of the report types can produce one: every map has string keys).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// `ok`, or the failed step and its raw error: `listen: EINVAL (22)`.
pub fn listen_text(listen: &ListenReport) -> String {
    match (listen.failed_at, &listen.os_error) {
        (None, _) => "ok".to_string(),
        (Some(step), Some(error)) => format!("{}: {error}", step.as_str()),
        (Some(step), None) => format!("{}: failed", step.as_str()),
    }
}

/// A backlog as its label, with the value beside a name: `5`, `somaxconn (4096)`.
pub fn backlog_text(label: &str, value: i32) -> String {
    if label == value.to_string() {
        label.to_string()
    } else {
        format!("{label} ({value})")
    }
}

/// What the pending client did: `completed after 1.02 s`, `failed ECONNRESET (104) after
/// 0.01 s`, `-` when none was pending.
pub fn late_text(late: &LateCompletion) -> String {
    match late.kind {
        LateKind::NotApplicable => "-".to_string(),
        LateKind::Failed => format!(
            "failed {} after {}",
            late.os_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            seconds_or_dash(late.elapsed_ms)
        ),
        kind => format!(
            "{} after {}",
            kind.as_str(),
            seconds_or_dash(late.elapsed_ms)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_characters() {
        let rows = vec![
            vec!["a".to_string(), "≠ 6".to_string(), "x".to_string()],
            vec!["bbb".to_string(), "6".to_string(), String::new()],
        ];
        assert_eq!(align_columns(&rows), "a    ≠ 6  x\nbbb  6\n");
    }

    #[test]
    fn markdown_cells_escape_pipes() {
        assert_eq!(markdown_row(&["a|b", "c"]), "| a\\|b | c |\n");
    }

    #[test]
    fn json_ends_with_a_newline() {
        assert_eq!(json(&[1, 2]).unwrap(), "[\n  1,\n  2\n]\n");
    }
}
