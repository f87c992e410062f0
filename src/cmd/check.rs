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
    cluster: super::cluster::Plan,
) -> anyhow::Result<ExitCode> {
    for id in &args.rules {
        if analyze::rule(id).is_none() {
            anyhow::bail!("no rule {id:?}; `nodescope rules` lists them all");
        }
    }
    let (snap, _) = super::cluster::collect(&cluster, host, Default::default());
    let mut findings = analyze::analyze(&snap);
    if !args.rules.is_empty() {
        findings.retain(|f| args.rules.contains(&f.id));
    }
    match args.format {
        Format::Text => render::text::write_check(out, &snap, &findings, color)?,
        Format::Json => render::json::write_check(out, &snap, &findings)?,
        Format::Prometheus => render::prometheus::write(out, &snap, &findings)?,
        Format::Junit => render::junit::write(out, &snap, &findings, args.fail_on)?,
        Format::Npd => {
            // NPD's protocol: 0 OK, 1 problem (the 2/3 distinction of the other formats is
            // "unknown" to NPD).
            render::npd::write(out, &findings, args.fail_on)?;
            let problem = findings.iter().any(|f| f.severity >= args.fail_on);
            return Ok(ExitCode::from(u8::from(problem)));
        }
    }
    Ok(ExitCode::from(exit_code(&findings, args.fail_on)))
}

/// 0 when nothing reaches `fail_on`; else 2 when the worst is critical, 1 otherwise.
pub fn exit_code(findings: &[Finding], fail_on: Severity) -> u8 {
    exit_for(findings.iter().map(|f| f.severity).max(), fail_on)
}

/// 0 when `worst` does not reach `fail_on` (or is `None`); else 2 for critical, 1 otherwise.
pub fn exit_for(worst: Option<Severity>, fail_on: Severity) -> u8 {
    match worst {
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
