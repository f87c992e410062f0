//! The human `check` report: a header line about the node, then one block per finding, worst
//! first (what, to whom, the number), then what could not be collected.

use super::escape::esc;
use crate::analyze::{Finding, Severity, Subject};
use crate::model::units;
use crate::model::{CgroupDriver, CgroupVersion, CollectError, Snapshot};
use std::io::Write;

fn tag(s: Severity, color: bool) -> String {
    let (t, code) = match s {
        Severity::Critical => ("CRIT", "1;31"),
        Severity::Warning => ("WARN", "33"),
        Severity::Info => ("INFO", "36"),
    };
    if color {
        format!("\x1b[{code}m{t}\x1b[0m")
    } else {
        t.to_string()
    }
}

/// Who a finding is about, node strings escaped ([`esc`]).
fn subject(s: &Subject) -> String {
    let mut parts = Vec::new();
    match (&s.namespace, &s.pod) {
        (Some(ns), Some(p)) => parts.push(format!("{ns}/{p}")),
        (None, Some(p)) => parts.push(p.clone()),
        _ => {}
    }
    if let Some(c) = &s.container {
        parts.push(format!("container {c}"));
    }
    if let Some(p) = s.pid {
        parts.push(format!("pid {p}"));
    }
    if let Some(p) = &s.path {
        parts.push(p.clone());
    }
    if let Some(d) = &s.device {
        parts.push(d.clone());
    }
    if parts.is_empty()
        && let Some(n) = &s.node
    {
        parts.push(format!("node {n}"));
    }
    esc(&parts.join(" ")).into_owned()
}

/// One line describing the node: name, cgroups, kernel, uptime, memory; what the node says
/// of itself escaped ([`esc`]).
pub fn header(snap: &Snapshot) -> String {
    let cg = match (snap.cgroup.version, snap.cgroup.driver) {
        (Some(v), d) => format!(
            "cgroup {}{}{}",
            if v == CgroupVersion::V2 { "v2" } else { "v1" },
            if snap.cgroup.hybrid { " (hybrid)" } else { "" },
            match d {
                Some(CgroupDriver::Systemd) => "/systemd",
                Some(CgroupDriver::Cgroupfs) => "/cgroupfs",
                None => "",
            }
        ),
        (None, _) => "cgroup ?".into(),
    };
    let up = snap.node.uptime_seconds.map(|u| {
        let d = (u / 86400.0) as u64;
        let h = ((u % 86400.0) / 3600.0) as u64;
        if d > 0 {
            format!("up {d}d{h}h")
        } else {
            format!("up {h}h{}m", ((u % 3600.0) / 60.0) as u64)
        }
    });
    let mem = snap
        .memory
        .map(|m| format!("mem {}", units::bytes(m.mem_total_bytes)));
    let pods = snap.pods.iter().filter(|p| p.cgroup.is_some()).count();
    let mut parts = vec![format!("nodescope  {}", snap.hostname())];
    // The distribution when it is a known one (a plain kubelet says nothing new).
    parts.extend(
        snap.distribution
            .as_ref()
            .filter(|d| d.id != "kubernetes")
            .map(|d| d.name.clone()),
    );
    parts.extend([
        cg,
        format!(
            "kernel {}",
            snap.node.kernel.as_deref().unwrap_or("unknown")
        ),
    ]);
    parts.extend(up);
    parts.extend(mem);
    parts.push(format!("{pods} pods"));
    parts.push(snap.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    esc(&parts.join("  ")).into_owned()
}

/// Writes the report. Every string that came from the node (subjects, titles and fixes quote
/// process and file names) is escaped, so the report is exactly as many lines as it looks.
pub fn write_check(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
    color: bool,
) -> std::io::Result<()> {
    writeln!(w, "{}", header(snap))?;
    writeln!(w, "source: {}", esc(&snap.source))?;
    writeln!(w)?;
    if findings.is_empty() {
        writeln!(w, "OK    no findings")?;
    }
    for f in findings {
        let subj = subject(&f.subject);
        writeln!(w, "{}  {:<28} {}", tag(f.severity, color), f.id, subj)?;
        writeln!(w, "      {}", esc(&f.title))?;
        writeln!(w, "      fix: {}", esc(&f.remedy))?;
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    writeln!(w)?;
    writeln!(
        w,
        "{} finding(s): {} critical, {} warning, {} info.  `nodescope explain ID` says what each means.",
        findings.len(),
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    )?;
    write_not_collected(w, &snap.errors)
}

/// The "not collected" block every text report ends with: what could not be read and why,
/// the first 20 (the rest are in the JSON form). Nothing when everything was collected.
pub fn write_not_collected(w: &mut dyn Write, errors: &[CollectError]) -> std::io::Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    writeln!(w, "\nnot collected ({}):", errors.len())?;
    for e in errors.iter().take(20) {
        let loc = match (&e.path, e.line) {
            (Some(p), Some(l)) => format!("{p}:{l}"),
            (Some(p), None) => p.clone(),
            (None, _) => String::new(),
        };
        let (loc, msg) = (esc(&loc), esc(&e.message));
        // "denied: Permission denied (os error 13)" says the same thing twice.
        let kind = e.kind.to_string();
        if e.message.to_lowercase().starts_with(&kind) {
            writeln!(w, "  {:<10} {} {}", e.collector, loc, msg)?;
        } else {
            writeln!(w, "  {:<10} {} {}: {}", e.collector, loc, kind, msg)?;
        }
    }
    if errors.len() > 20 {
        writeln!(
            w,
            "  ... and {} more (see --format json)",
            errors.len() - 20
        )?;
    }
    Ok(())
}

/// The findings of an area command's text report, one line each (`WARNING  id  title`), after
/// a blank line; nothing when there are none.
pub fn write_finding_lines(w: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    for f in findings {
        writeln!(
            w,
            "{:<8} {:<26} {}",
            f.severity.as_str().to_uppercase(),
            f.id,
            esc(&f.title)
        )?;
    }
    Ok(())
}
