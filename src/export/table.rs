//! An aligned plain-text table, with the environment on the first line.

use super::text::align_columns;
use super::{HEADINGS, cells};
use crate::report::Report;

pub(super) fn render(report: &Report) -> String {
    let mut out = format!("# {}\n", report.environment.summary());
    if let Some(world) = &report.world {
        out.push_str(&format!("# {}\n", super::world_summary(world)));
    }
    let mut rows = vec![HEADINGS.map(str::to_string).to_vec()];
    rows.extend(report.cases.iter().map(cells));
    out.push_str(&align_columns(&rows));
    for note in super::notes(report) {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}
