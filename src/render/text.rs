//! The human `check` report: the verdict first (OK, or the counts and the one sentence that
//! matters most), a header line about the node, then one block per rule and cause, worst first
//! (what, to whom, the number; a hundred pods with one cause are one block), then what could
//! not be collected. Informational findings only with `--verbose`.

use super::escape::esc;
use crate::analyze::report::group::{Group, group, mask};
use crate::analyze::{Finding, Severity, Subject};
use crate::model::units;
use crate::model::{CgroupDriver, CgroupVersion, CollectError, Snapshot};
use std::io::Write;

/// The severity's label ([`Severity::label`]), padded to the widest, coloured when `color`.
fn tag(s: Severity, color: bool) -> String {
    let code = match s {
        Severity::Critical => "1;31",
        Severity::Warning => "33",
        Severity::Info => "36",
    };
    paint(&format!("{:<8}", s.label()), code, color)
}

/// The indent of a block's second and third lines: under the rule id.
const INDENT: &str = "          ";

/// Who a finding is about, node strings escaped ([`esc`]).
pub fn subject(s: &Subject) -> String {
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

/// How the text report is laid out; [`TextOptions::default`] is what `check` prints without
/// flags.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// ANSI colour on the severity tags and the verdict.
    pub color: bool,
    /// Show informational findings too (`--verbose`); hidden by default, counted in the last line.
    pub verbose: bool,
    /// List every subject of a group (`--expand`), not the first [`SHOWN_SUBJECTS`].
    pub expand: bool,
    /// Rules run, for the OK line ("31 checks"); 0 leaves the figure out.
    pub checks: usize,
    /// How long collecting and judging took, for the OK line; `None` leaves it out.
    pub elapsed: Option<std::time::Duration>,
}

/// Subjects named in a group's first line before "… (+N)".
pub const SHOWN_SUBJECTS: usize = 3;

/// Writes the report with the default layout (no info findings, groups folded, no timing).
pub fn write_check(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
    color: bool,
) -> std::io::Result<()> {
    let opts = TextOptions {
        color,
        ..Default::default()
    };
    write_check_with(w, snap, findings, &opts)
}

/// Writes the report: the verdict line first, the node's header, then one block per rule and
/// cause ([`group`]), worst first, then a count and what could not be collected. Every string
/// that came from the node (subjects, titles and fixes quote process and file names) is
/// escaped, so the report is exactly as many lines as it looks.
pub fn write_check_with(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
    opts: &TextOptions,
) -> std::io::Result<()> {
    let shown: Vec<Finding> = findings
        .iter()
        .filter(|f| opts.verbose || f.severity > Severity::Info)
        .cloned()
        .collect();
    let groups = group(&shown);
    writeln!(w, "{}", verdict(snap, findings, &groups, opts))?;
    writeln!(w, "{}", header(snap))?;
    writeln!(w, "source: {}", esc(&snap.source))?;
    if !groups.is_empty() {
        writeln!(w)?;
    }
    for g in &groups {
        write_group(w, g, opts)?;
    }
    writeln!(w)?;
    writeln!(w, "{}", tally(findings, &groups, opts))?;
    write_not_collected(w, &snap.errors)
}

/// The first line: `OK — no problem found on NODE (N checks, T s)`, or the counts of critical
/// and warning findings and the sentence of the worst group.
pub fn verdict(
    snap: &Snapshot,
    findings: &[Finding],
    groups: &[Group<'_>],
    opts: &TextOptions,
) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (crit, warn) = (count(Severity::Critical), count(Severity::Warning));
    let unread = if snap.errors.is_empty() {
        String::new()
    } else {
        format!(
            "; {} source(s) not collected, listed below",
            snap.errors.len()
        )
    };
    let worst = groups.iter().find(|g| g.severity() > Severity::Info);
    let Some(worst) = worst.filter(|_| crit + warn > 0) else {
        let mut figures = Vec::new();
        if opts.checks > 0 {
            figures.push(format!("{} checks", opts.checks));
        }
        if let Some(t) = opts.elapsed {
            figures.push(format!("{:.2} s", t.as_secs_f64()));
        }
        let figures = if figures.is_empty() {
            String::new()
        } else {
            format!(" ({})", figures.join(", "))
        };
        let ok = paint("OK", "32", opts.color);
        return format!(
            "{ok} \u{2014} no problem found on {}{figures}{unread}",
            esc(snap.hostname())
        );
    };
    let mut counts = Vec::new();
    if crit > 0 {
        counts.push(paint(&format!("{crit} critical"), "1;31", opts.color));
    }
    if warn > 0 {
        let s = if warn == 1 { "" } else { "s" };
        counts.push(paint(&format!("{warn} warning{s}"), "33", opts.color));
    }
    format!("{} \u{2014} {}{unread}", counts.join(", "), sentence(worst))
}

/// The one sentence that says what a group is: a lone finding's title; for several, their
/// count and shared title, or the rule's summary when their titles differ.
fn sentence(g: &Group<'_>) -> String {
    if g.len() == 1 {
        return esc(&g.first().title).into_owned();
    }
    let what = g
        .common_title
        .clone()
        .or_else(|| crate::analyze::rule(g.id()).map(|r| r.summary().to_string()))
        .unwrap_or_else(|| g.first().title.clone());
    format!("{} {}: {}", g.len(), g.noun(), esc(&what))
}

/// One block: the tag, rule id and who (one subject, or the count and the first few); the
/// title (or the group's sentence); the fix; with `--expand`, every subject.
fn write_group(w: &mut dyn Write, g: &Group<'_>, opts: &TextOptions) -> std::io::Result<()> {
    let first = g.first();
    let tag = tag(g.severity(), opts.color);
    if g.len() == 1 {
        writeln!(w, "{tag}  {:<28} {}", first.id, subject(&first.subject))?;
        writeln!(w, "{INDENT}{}", esc(&first.title))?;
        return writeln!(w, "{INDENT}fix: {}", esc(&first.remedy));
    }
    let subjects: Vec<String> = g.findings.iter().map(|f| subject(&f.subject)).collect();
    let head = if opts.expand || g.len() <= SHOWN_SUBJECTS {
        subjects.join(", ")
    } else {
        format!(
            "{}, \u{2026} (+{})",
            subjects[..SHOWN_SUBJECTS].join(", "),
            g.len() - SHOWN_SUBJECTS
        )
    };
    if opts.expand {
        writeln!(w, "{tag}  {:<28} {} {}", first.id, g.len(), g.noun())?;
    } else {
        writeln!(
            w,
            "{tag}  {:<28} {} {}: {head}",
            first.id,
            g.len(),
            g.noun()
        )?;
    }
    let what = match &g.common_title {
        Some(t) => t.clone(),
        None => crate::analyze::rule(g.id())
            .map_or_else(|| first.title.clone(), |r| r.summary().to_string()),
    };
    writeln!(w, "{INDENT}{}", esc(&what))?;
    let masked = mask(&first.remedy, &first.subject);
    if masked == first.remedy {
        writeln!(w, "{INDENT}fix: {}", esc(&first.remedy))?;
    } else {
        writeln!(w, "{INDENT}fix: {} (\u{2026}: each of them)", esc(&masked))?;
    }
    if opts.expand {
        for (f, s) in g.findings.iter().zip(&subjects) {
            if g.common_title.is_some() {
                writeln!(w, "{INDENT}- {s}")?;
            } else {
                writeln!(w, "{INDENT}- {s}: {}", esc(&f.title))?;
            }
        }
    }
    Ok(())
}

/// The last line: every finding by severity, what `--verbose` and `--expand` would add.
fn tally(findings: &[Finding], groups: &[Group<'_>], opts: &TextOptions) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let info = count(Severity::Info);
    let mut hints = Vec::new();
    if !opts.verbose && info > 0 {
        hints.push("--verbose shows the info".to_string());
    }
    if !opts.expand && groups.iter().any(|g| g.len() > SHOWN_SUBJECTS) {
        hints.push("--expand lists every subject".to_string());
    }
    hints.push("`nodescope explain ID` says what each means".to_string());
    format!(
        "{} finding(s): {} critical, {} warning, {} info.  {}.",
        findings.len(),
        count(Severity::Critical),
        count(Severity::Warning),
        info,
        hints.join("; ")
    )
}

/// `text` in the ANSI colour `code` when `color`.
fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
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
            f.severity.label(),
            f.id,
            esc(&f.title)
        )?;
    }
    Ok(())
}
