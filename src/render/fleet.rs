//! `nodescope fleet` as text: one row per node, the worst first column a reader scans, then a
//! summary line. Node names, pod names and errors come from the cluster: escaped.

use super::escape::esc;
use crate::analyze::report::fleet::{FleetReport, NodeRow};
use std::io::Write;

/// At most this many rule groups are named per row; the rest are counted.
pub const TOP_FINDINGS: usize = 3;

/// Writes the table and the summary line.
pub fn write(w: &mut dyn Write, r: &FleetReport) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = r.nodes.iter().map(cells).collect();
    let head = ["NODE", "STATUS", "WORST", "AGE", "FINDINGS"];
    let mut width = head.map(str::len);
    for row in &rows {
        for (i, c) in row.iter().enumerate().take(4) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |w: &mut dyn Write, c: [&str; 5]| -> std::io::Result<()> {
        let text = format!(
            "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            a = width[0],
            b = width[1],
            c = width[2],
            d = width[3]
        );
        writeln!(w, "{}", text.trim_end())
    };
    line(w, head)?;
    for row in &rows {
        line(w, row.each_ref().map(String::as_str))?;
    }
    writeln!(w)?;
    writeln!(w, "{}", summary(r))
}

/// NODE, STATUS (kubectl's Ready/NotReady and the pressures), WORST (or why there is none),
/// AGE, FINDINGS.
fn cells(r: &NodeRow) -> [String; 5] {
    let mut status = match r.ready.as_deref() {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    for p in &r.pressure {
        status.push(',');
        status.push_str(p);
    }
    let worst = match (r.agent, r.worst) {
        ("ok", Some(s)) => s.as_str().to_string(),
        ("ok", None) => "ok".to_string(),
        (other, _) => other.to_string(),
    };
    let age = match r.age_seconds {
        Some(a) if r.stale => format!("{} stale", age(a)),
        Some(a) => age(a),
        None => "-".to_string(),
    };
    let findings = match &r.error {
        Some(e) => esc(e).into_owned(),
        None => grouped(r),
    };
    [esc(&r.node).into_owned(), status, worst, age, findings]
}

/// `memory.oom-race x2, dns.policy-default x100 (+3 more)`.
fn grouped(r: &NodeRow) -> String {
    let mut text = r
        .findings
        .iter()
        .take(TOP_FINDINGS)
        .map(|f| format!("{} x{}", esc(&f.id), f.count))
        .collect::<Vec<_>>()
        .join(", ");
    if r.findings.len() > TOP_FINDINGS {
        text.push_str(&format!(" (+{} more)", r.findings.len() - TOP_FINDINGS));
    }
    text
}

/// kubectl's AGE form: `45s`, `12m`, `5h`, `3d`.
pub fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn summary(r: &FleetReport) -> String {
    let s = &r.summary;
    let mut parts = vec![format!("{} nodes", s.nodes)];
    for (n, what) in [
        (s.critical, "critical"),
        (s.warning, "warning"),
        (s.info, "info"),
        (s.clean, "ok"),
        (s.no_agent, "no agent"),
        (s.timeout, "timeout"),
        (s.forbidden, "forbidden"),
        (s.error, "error"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(45), "45s");
        assert_eq!(age(300), "5m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
