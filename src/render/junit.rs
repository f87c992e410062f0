//! `check --format junit`: one JUnit test case per rule, for CI systems that show test
//! reports. A rule with a finding at or above `--fail-on` is a failure (one line per finding in
//! its text); a rule with findings below it, or none, passes.

use crate::analyze::rules::RULES;
use crate::analyze::{Finding, Severity};
use crate::model::Snapshot;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::io::Write;

/// Writes the JUnit XML report.
pub fn write(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
    fail_on: impl Into<Option<Severity>>,
) -> std::io::Result<()> {
    // `None` (`--fail-on never`): every rule passes.
    let fail_on = fail_on.into();
    let mut report = Report::new("nodescope");
    let mut suite = TestSuite::new(format!("nodescope check {}", snap.hostname()));
    for r in RULES {
        let hits: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.id == r.id() && fail_on.is_some_and(|t| f.severity >= t))
            .collect();
        let status = if hits.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            // Node strings escaped: quick-junit drops what XML cannot hold, which would hide
            // that a name held it.
            s.set_message(super::escape::esc(&hits[0].title).into_owned());
            s.set_type(hits[0].severity.as_str());
            let text: Vec<String> = hits
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}\nfix: {}",
                        f.severity.as_str(),
                        super::escape::esc(&f.title),
                        super::escape::esc(&f.remedy)
                    )
                })
                .collect();
            s.set_description(text.join("\n"));
            s
        };
        let mut case = TestCase::new(r.id(), status);
        case.set_classname(r.id().split('.').next().unwrap_or("nodescope"));
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.serialize(&mut *w).map_err(std::io::Error::other)
}
