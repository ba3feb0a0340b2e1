//! A GitHub-flavoured Markdown table under a heading naming the environment.

use crate::report::Report;

use super::{HEADINGS, cells};

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

pub(super) fn render(report: &Report) -> String {
    let mut out = format!("#### {}\n\n", escape(&report.environment.summary()));
    if let Some(world) = &report.world {
        out.push_str(&format!("{}\n\n", escape(&super::world_summary(world))));
    }
    out.push_str(&format!("| {} |\n", HEADINGS.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADINGS.len())));
    for case in &report.cases {
        let row: Vec<String> = cells(case).iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}
