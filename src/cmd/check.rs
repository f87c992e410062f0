//! `check`: collect, analyze, render; the exit code follows the worst finding.

use crate::analyze::report::check;
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
        if analyze::rule(&id.to_ascii_lowercase()).is_none() {
            anyhow::bail!("no rule {id:?}; `nodescope rules` lists them all");
        }
    }
    let started = std::time::Instant::now();
    let mut timings = crate::collect::Timings::when(args.debug_timings);
    let (snap, _) =
        super::cluster::collect_with(&cluster, host, Default::default(), None, &mut timings);
    let findings = timings.time("analyze", || {
        let mut findings = analyze::analyze(&snap);
        if !args.cluster {
            check::retain_local(&snap, &mut findings);
        }
        if !args.rules.is_empty() {
            // Rule ids are lower case; `--rule MEMORY.PRESSURE` names the same rule.
            findings.retain(|f| args.rules.iter().any(|r| r.eq_ignore_ascii_case(&f.id)));
        }
        findings
    });
    let code = timings.time("render", || {
        report(out, &snap, &findings, args, color, started)
    });
    if timings.is_on() {
        eprint!("{}", timings.lines());
    }
    code
}

/// Writes the report of `check` in its format; returns the exit code.
fn report(
    out: &mut dyn Write,
    snap: &crate::model::Snapshot,
    findings: &[Finding],
    args: &CheckArgs,
    color: bool,
    started: std::time::Instant,
) -> anyhow::Result<ExitCode> {
    let checks = if args.rules.is_empty() {
        analyze::rules::RULES.len()
    } else {
        args.rules.len()
    };
    match args.format {
        Format::Text => {
            let opts = render::text::TextOptions {
                color,
                verbose: args.verbose,
                expand: args.expand,
                checks,
                elapsed: Some(started.elapsed()),
            };
            render::text::write_check_with(out, snap, findings, &opts)?
        }
        Format::Json => render::json::write_check(out, snap, findings)?,
        Format::Prometheus => render::prometheus::write(out, snap, findings)?,
        Format::Junit => render::junit::write(out, snap, findings, args.fail_on.threshold())?,
        Format::Npd => {
            // NPD's protocol: 0 OK, 1 problem (the 2/3 distinction of the other formats is
            // "unknown" to NPD).
            let threshold = args.fail_on.threshold();
            render::npd::write(out, findings, threshold)?;
            let problem = threshold.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
            return Ok(ExitCode::from(u8::from(problem)));
        }
    }
    Ok(ExitCode::from(exit_code(
        findings,
        args.fail_on.threshold(),
    )))
}

/// `check --watch`: the report of a fresh sample every `every` (a live node read anew, a
/// bundle read again), until interrupted or until the reader of a pipe goes away. On a
/// terminal each report replaces the last (cursor home, clear screen, as `watch(1)` does);
/// on a pipe they follow one another, a JSON report being one document each. The exit status
/// is the last report's.
pub(super) fn watch<W: Write>(
    out: &mut super::pipe::Quiet<W>,
    open: &dyn Fn() -> anyhow::Result<Box<dyn Host>>,
    args: &CheckArgs,
    color: bool,
    cluster: super::cluster::Plan,
    every: std::time::Duration,
    redraw: bool,
) -> anyhow::Result<ExitCode> {
    loop {
        let host = open()?;
        let mut report = Vec::new();
        let code = run(&mut report, host.as_ref(), args, color, cluster.clone())?;
        if redraw {
            out.write_all(b"\x1b[H\x1b[2J")?;
        }
        out.write_all(&report)?;
        out.flush()?;
        if out.closed() {
            return Ok(code);
        }
        std::thread::sleep(every);
    }
}

/// 0 when nothing reaches `fail_on` (or it is `None`: `--fail-on never`); else 2 when the
/// worst is critical, 1 otherwise.
pub fn exit_code(findings: &[Finding], fail_on: impl Into<Option<Severity>>) -> u8 {
    exit_for(findings.iter().map(|f| f.severity).max(), fail_on)
}

/// 0 when `worst` does not reach `fail_on` (or either is `None`); else 2 for critical, 1
/// otherwise.
pub fn exit_for(worst: Option<Severity>, fail_on: impl Into<Option<Severity>>) -> u8 {
    let Some(fail_on) = fail_on.into() else {
        return 0;
    };
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
        assert_eq!(exit_code(&[f(Severity::Critical)], None), 0);
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
