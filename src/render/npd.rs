//! `check --format npd`: node-problem-detector's custom-plugin protocol
//! (pkg/custompluginmonitor): exit 0 = OK, 1 = problem, anything else = unknown; stdout is
//! trimmed and cut to `max_output_length` bytes (80 by default) with a byte cut that can split
//! UTF-8, so the one line written here is ASCII and at most 80 bytes.

use crate::analyze::{Finding, Severity};
use std::io::Write;

/// NPD's default `max_output_length`.
pub const MAX_OUTPUT: usize = 80;

/// The one status line: the worst finding at or above `fail_on`, or `OK`.
/// `None` (`--fail-on never`): nothing is a problem.
pub fn line(findings: &[Finding], fail_on: impl Into<Option<Severity>>) -> String {
    let fail_on = fail_on.into();
    let hits: Vec<&Finding> = findings
        .iter()
        .filter(|f| fail_on.is_some_and(|t| f.severity >= t))
        .collect();
    let text = match hits.first() {
        None => "OK: no finding".to_string(),
        Some(f) => {
            let more = if hits.len() > 1 {
                format!(" (+{} more)", hits.len() - 1)
            } else {
                String::new()
            };
            format!("{}: {}{more}", f.id, f.title)
        }
    };
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    ascii.chars().take(MAX_OUTPUT).collect()
}

/// Writes the line; the caller exits 1 when a finding reached `fail_on`, else 0.
pub fn write(
    w: &mut dyn Write,
    findings: &[Finding],
    fail_on: impl Into<Option<Severity>>,
) -> std::io::Result<()> {
    writeln!(w, "{}", line(findings, fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Subject;

    fn f(id: &str, s: Severity, title: &str) -> Finding {
        Finding {
            id: id.into(),
            severity: s,
            title: title.into(),
            subject: Subject::default(),
            evidence: serde_json::Value::Null,
            remedy: String::new(),
        }
    }

    #[test]
    fn one_short_ascii_line() {
        assert_eq!(line(&[], Severity::Warning), "OK: no finding");
        assert_eq!(
            line(&[f("x.y", Severity::Info, "t")], Severity::Warning),
            "OK: no finding"
        );
        let long = "é".repeat(100);
        let l = line(
            &[
                f("memory.kernel-oom-kill", Severity::Critical, &long),
                f("a.b", Severity::Warning, "w"),
            ],
            Severity::Warning,
        );
        assert!(l.len() <= MAX_OUTPUT && l.is_ascii(), "{l}");
        assert!(l.starts_with("memory.kernel-oom-kill: ??"));
    }
}
