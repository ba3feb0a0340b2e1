//! A GitHub-flavoured Markdown table under a heading naming the environment.

use super::text::{escape, markdown_row};
use super::{HEADINGS, cells};
use crate::report::Report;

pub(super) fn render(report: &Report) -> String {
    let mut out = format!("#### {}\n\n", escape(&report.environment.summary()));
    if let Some(world) = &report.world {
        out.push_str(&format!("{}\n\n", escape(&super::world_summary(world))));
    }
    out.push_str(&markdown_row(&HEADINGS));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADINGS.len())));
    for case in &report.cases {
        out.push_str(&markdown_row(&cells(case)));
    }
    let notes = super::notes(report);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&format!("- {}\n", escape(&note)));
        }
    }
    out
}
