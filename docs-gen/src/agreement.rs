//! How measured cases compare with the model, computed once: every page that says "N cases
//! contradict the model" (the OS and stack tables, the kernels table, gVisor's runs, the
//! answers' summary) counts with [`agrees`] and gathers with [`Agreement`]; the templates only
//! word it.

use serde::Serialize;

use super::{Link, SourcedReport};
use backlog_probe::predict;
use backlog_probe::report::CaseReport;

/// Whether a measured case agrees with the model for the report's own environment (recomputed,
/// so the page follows the current model even for reports measured before it): `None` where
/// the model has nothing to compare.
pub(super) fn agrees(sourced: &SourcedReport, case: &CaseReport) -> Option<bool> {
    predict::for_case(&sourced.report.environment, case).and_then(|p| p.agrees)
}

/// The comparable cases of some reports, and those that contradict the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Cases the model could be compared with.
    pub compared: usize,
    /// Those that contradict it, each linked to its row.
    pub contradicting: Vec<Link>,
}

impl Agreement {
    /// Count `case` of `sourced`; `link` names its row where it contradicts the model.
    pub(super) fn count(
        &mut self,
        sourced: &SourcedReport,
        case: &CaseReport,
        link: impl FnOnce() -> Link,
    ) {
        match agrees(sourced, case) {
            Some(true) => self.compared += 1,
            Some(false) => {
                self.compared += 1;
                self.contradicting.push(link());
            }
            None => {}
        }
    }

    /// Every case of `sourced`, each contradiction linked to the case's own row.
    pub(super) fn of_report(sourced: &SourcedReport) -> Agreement {
        let mut agreement = Agreement::default();
        agreement.add_report(sourced);
        agreement
    }

    /// [`Self::of_report`], added to what is counted already.
    pub(super) fn add_report(&mut self, sourced: &SourcedReport) {
        for case in &sourced.report.cases {
            self.count(sourced, case, || Link::row(sourced.anchor(case)));
        }
    }
}
