//! An aligned plain-text table, with the environment on the first line.

use crate::report::Report;

use super::{HEADINGS, cells};

pub(super) fn render(report: &Report) -> String {
    let rows: Vec<[String; 11]> = report.cases.iter().map(cells).collect();
    let mut widths = HEADINGS.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = format!("# {}\n", report.environment.summary());
    if let Some(world) = &report.world {
        out.push_str(&format!("# {}\n", super::world_summary(world)));
    }
    out.push_str(&line(&HEADINGS.map(str::to_string)));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}
