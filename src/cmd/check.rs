//! `check`: collect, analyze, render; the exit code follows the worst finding.

use crate::analyze::{self, Finding, Severity};
use crate::cli::CheckArgs;
use crate::render::{self, Format};
use crate::source::Host;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn run(
    out: &mut dyn Write,
    host: &dyn Host,
    args: &CheckArgs,
    color: bool,
) -> anyhow::Result<ExitCode> {
    let snap = crate::collect::snapshot(host);
    let findings = analyze::analyze(&snap);
    match args.format {
        Format::Text => render::text::write_check(out, &snap, &findings, color)?,
        Format::Json => render::json::write_check(out, &snap, &findings)?,
    }
    Ok(ExitCode::from(exit_code(&findings, args.fail_on)))
}

/// 0 when nothing reaches `fail_on`; else 2 when the worst is critical, 1 otherwise.
pub fn exit_code(findings: &[Finding], fail_on: Severity) -> u8 {
    match findings.iter().map(|f| f.severity).max() {
        Some(w) if w >= fail_on => {
            if w == Severity::Critical {
                2
            } else {
                1
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Subject;

    fn f(s: Severity) -> Finding {
        Finding {
            id: "x.y".into(),
            severity: s,
            title: String::new(),
            subject: Subject::default(),
            evidence: serde_json::Value::Null,
            remedy: String::new(),
        }
    }

    #[test]
    fn exit_codes_follow_design() {
        assert_eq!(exit_code(&[], Severity::Warning), 0);
        assert_eq!(exit_code(&[f(Severity::Info)], Severity::Warning), 0);
        assert_eq!(exit_code(&[f(Severity::Info)], Severity::Info), 1);
        assert_eq!(exit_code(&[f(Severity::Warning)], Severity::Warning), 1);
        assert_eq!(exit_code(&[f(Severity::Warning)], Severity::Critical), 0);
        assert_eq!(
            exit_code(
                &[f(Severity::Warning), f(Severity::Critical)],
                Severity::Warning
            ),
            2
        );
    }
}
