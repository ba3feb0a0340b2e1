//! The wire format: pretty JSON with a trailing newline.

use crate::report::Report;

pub(super) fn render(report: &Report) -> String {
    report.to_json()
}
