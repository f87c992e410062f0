//! `nodescope dns` and `nodescope dns probe` as text.

use super::escape::esc;
use crate::analyze::Finding;
use crate::analyze::report::dns::{DnsReport, label};
use crate::model::dns::{Conntrack, PodDns, Probe};
use std::io::Write;

/// Writes the per-pod table. resolv.conf paths, nameservers, search domains and pod names come
/// from the node (a pod's resolv.conf is its own to write) and are escaped ([`esc`]).
pub fn write_table(w: &mut dyn Write, r: &DnsReport) -> std::io::Result<()> {
    let rows = &r.pods;
    let findings = &r.findings;
    if let Some(n) = &r.node_resolv_conf {
        writeln!(
            w,
            "node resolv.conf {}: nameservers {}, search {}, ndots {}",
            esc(&n.path),
            esc(&n.conf.nameservers_listed.join(" ")),
            if n.conf.search.is_empty() {
                "-".into()
            } else {
                esc(&n.conf.search.join(" ")).into_owned()
            },
            n.conf.ndots
        )?;
    }
    writeln!(
        w,
        "{}\n",
        conntrack_line(r.conntrack.as_ref(), r.nodelocal_dns.is_some())
    )?;
    let name = rows
        .first()
        .map_or(crate::analyze::dns::EXAMPLE_NAME, |r| r.name.as_str());
    writeln!(
        w,
        "{:<14} {:<34} {:<40} {:>6} {:>5} {:>8}  POLICY",
        "NAMESPACE", "POD", "NAMESERVERS", "SEARCH", "NDOTS", "QUERIES"
    )?;
    for r in rows {
        writeln!(
            w,
            "{:<14} {:<34} {:<40} {:>6} {:>5} {:>8}  {}",
            esc(r.namespace.as_deref().unwrap_or("-")),
            esc(r.pod.as_deref().unwrap_or(&r.uid)),
            esc(&r.nameservers.join(",")),
            r.search_domains,
            r.ndots,
            r.queries,
            esc(r.policy_guess)
        )?;
    }
    if rows.is_empty() {
        writeln!(w, "(no pod with a readable resolv.conf)")?;
    }
    writeln!(
        w,
        "\nQUERIES: what one lookup of {} costs (A and AAAA, search expansions first).",
        esc(name)
    )?;
    super::text::write_finding_lines(w, findings)
}

/// The conntrack table in one line, as `nodescope dns` and the TUI's DNS view show it:
/// `conntrack 241337/262144  insert_failed 460  drop 43  NodeLocal DNSCache absent`, or
/// `conntrack not loaded`. Figures only: nothing from the node to escape.
pub fn conntrack_line(c: Option<&Conntrack>, nodelocal: bool) -> String {
    let n = |v: Option<u64>| v.map_or("?".into(), |v| v.to_string());
    match c {
        Some(c) => format!(
            "conntrack {}/{}  insert_failed {}  drop {}  NodeLocal DNSCache {}",
            n(c.count),
            n(c.max),
            n(c.insert_failed),
            n(c.drop),
            if nodelocal { "present" } else { "absent" }
        ),
        None => "conntrack not loaded".into(),
    }
}

/// Seconds as resolv.conf writes them (`1`, `0.5`).
fn format_seconds(s: f64) -> String {
    let t = format!("{s:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Writes a probe's queries; names and servers come from the pod's resolv.conf and the answers
/// from the network, all escaped ([`esc`]).
/// `timeout_s` is the effective per-query timeout (`--timeout`, else the resolver's own).
pub fn write_probe(
    w: &mut dyn Write,
    target: &PodDns,
    p: &Probe,
    summary: &str,
    findings: &[Finding],
    timeout_s: f64,
) -> std::io::Result<()> {
    let conf = &target.resolv.conf;
    let mode = match crate::model::resolv::SendMode::of(conf) {
        crate::model::resolv::SendMode::Parallel => "A+AAAA in parallel on one socket",
        crate::model::resolv::SendMode::Sequential => "A then AAAA (single-request)",
        crate::model::resolv::SendMode::Reopen => {
            "A then AAAA on separate sockets (single-request-reopen)"
        }
    };
    let who = if target.namespace.is_some() {
        esc(&label(target)).into_owned()
    } else if p.pid == 0 {
        "the node".to_string()
    } else {
        format!("pid {}", p.pid)
    };
    writeln!(
        w,
        "probing {} from {who}{}: {} nameserver(s) {}, {} search domain(s), ndots {}, timeout {} s x {} attempt(s){}, {mode}",
        esc(&p.name),
        if p.pid == 0 {
            String::new()
        } else {
            format!(" (pid {}'s network namespace)", p.pid)
        },
        target.resolv.conf.nameservers.len(),
        esc(&target.resolv.conf.nameservers.join(" ")),
        target.resolv.conf.search.len(),
        target.resolv.conf.ndots,
        format_seconds(timeout_s),
        conf.attempts.max(1),
        if conf.rotate { ", rotate" } else { "" },
    )?;
    writeln!(
        w,
        "{:>3}  {:<5} {:<52} {:<22} {:<9} {:>9}",
        "#", "TYPE", "NAME", "SERVER", "RCODE", "MS"
    )?;
    for (i, q) in p.queries.iter().enumerate() {
        let rcode = if q.timed_out {
            "TIMEOUT".to_string()
        } else if let Some(e) = &q.error {
            format!("ERROR ({})", esc(e))
        } else {
            esc(q.rcode.as_deref().unwrap_or_default()).into_owned()
        };
        writeln!(
            w,
            "{:>3}  {:<5} {:<52} {:<22} {:<9} {:>9.1}{}",
            i + 1,
            esc(&q.qtype),
            esc(&q.name),
            esc(&q.server),
            rcode,
            q.ms,
            if q.answers > 0 {
                format!("  {} answer(s)", q.answers)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(w, "\n{}", esc(summary))?;
    for f in findings {
        writeln!(w, "{} {} {}", f.severity.label(), f.id, esc(&f.title))?;
    }
    Ok(())
}
