//! `dns`: the per-pod resolver table, and `dns probe`, the one command that sends packets.

use crate::analyze::{self, report::dns as dns_report};
use crate::cli::{DnsArgs, DnsFormat, DnsProbeArgs};
use crate::model::dns::{PodDns, Probe, ResolvFile};
use crate::source::Host;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn table(
    out: &mut dyn Write,
    host: &dyn Host,
    args: &DnsArgs,
) -> anyhow::Result<ExitCode> {
    let snap = crate::collect::snapshot(host);
    let report = dns_report::build(&snap, &analyze::analyze(&snap), args.name.as_deref());
    match args.format {
        DnsFormat::Json => crate::render::json::write_pretty(out, &report)?,
        DnsFormat::Text => {
            writeln!(out, "{}\n", crate::render::text::header(&snap))?;
            crate::render::dns::write_table(out, &report)?;
        }
    }
    Ok(ExitCode::from(super::check::exit_code(
        &report.findings,
        args.fail_on.threshold(),
    )))
}

pub(super) fn probe(
    out: &mut dyn Write,
    host: &dyn Host,
    root: &Path,
    args: &DnsProbeArgs,
) -> anyhow::Result<ExitCode> {
    validate_name(&args.name)?;
    let mut snap = crate::collect::snapshot(host);
    let target = target(host, &snap, args)?;
    let candidates = dns_report::probe_candidates(&target, &args.name);
    if target.resolv.conf.nameservers.is_empty() {
        anyhow::bail!("{} lists no nameserver", target.resolv.path);
    }
    // No --pod or --pid: the node's own resolver, from our own namespace (the node's over SSH,
    // and in a hostNetwork debug pod).
    let netns = if args.pod.is_some() || args.pid.is_some() {
        target.pid
    } else {
        None
    };
    let pid = netns.unwrap_or(0);
    let timeout = args
        .timeout
        .map(|s| std::time::Duration::from_secs_f64(s.max(0.05)));
    let timeout_s = timeout.map_or(f64::from(target.resolv.conf.timeout.max(1)), |t| {
        t.as_secs_f64()
    });
    let started = std::time::Instant::now();
    let queries =
        crate::source::dns_probe::probe(root, netns, &target.resolv.conf, &candidates, timeout)?;
    let want = format!("{}.", args.name.trim_end_matches('.'));
    let resolved = queries.iter().any(|q| {
        q.rcode.as_deref() == Some("NOERROR")
            && q.answers > 0
            && (q.name == want || candidates.contains(&q.name))
    });
    let probe = Probe {
        namespace: target.namespace.clone(),
        pod: target.name.clone(),
        pid,
        name: args.name.clone(),
        queries,
        resolved,
        total_ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
    };
    snap.dns.probes.push(probe.clone());
    let findings: Vec<analyze::Finding> = analyze::analyze(&snap)
        .into_iter()
        .filter(|f| f.id == "dns.probe-failed")
        .collect();
    let report = dns_report::build_probe(&target, &probe, findings);
    match args.format {
        DnsFormat::Json => crate::render::json::write_pretty(out, &report)?,
        DnsFormat::Text => crate::render::dns::write_probe(
            out,
            &target,
            &probe,
            &report.summary,
            &report.findings,
            timeout_s,
        )?,
    }
    Ok(ExitCode::from(super::check::exit_code(
        &report.findings,
        args.fail_on.threshold(),
    )))
}

/// Refuses, in one line, a name no application would look up: empty (that would probe the
/// root), with whitespace or control characters, longer than 253 characters (RFC 1035 §2.3.4,
/// without the final dot), or with an empty or over-63-character label.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let shown = crate::render::escape::esc(name);
    let bare = name.strip_suffix('.').unwrap_or(name);
    let why = if bare.is_empty() {
        Some("an empty name (that is the root)".to_string())
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it holds whitespace or a control character".to_string())
    } else if bare.len() > 253 {
        Some(format!("{} characters, more than DNS's 253", bare.len()))
    } else if bare.split('.').any(|l| l.is_empty() || l.len() > 63) {
        Some("a label is empty or longer than 63 characters".to_string())
    } else {
        None
    };
    match why {
        Some(w) => anyhow::bail!("dns probe: not a name to look up: \"{shown}\": {w}"),
        None => Ok(()),
    }
}

/// The pod (or process, or the node) whose resolver to play.
fn target(
    host: &dyn Host,
    snap: &crate::model::Snapshot,
    args: &DnsProbeArgs,
) -> anyhow::Result<PodDns> {
    if let Some(spec) = &args.pod {
        let (ns, name) = spec
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("--pod wants NAMESPACE/POD, got {spec:?}"))?;
        let p = snap
            .dns
            .pods
            .iter()
            .find(|p| p.namespace.as_deref() == Some(ns) && p.name.as_deref() == Some(name))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no pod {spec} with a readable resolv.conf on this node; `nodescope dns` lists them"
                )
            })?;
        if p.pid.is_none() {
            anyhow::bail!("pod {spec} has no running process whose network namespace to enter");
        }
        return Ok(p.clone());
    }
    let pid = args.pid.unwrap_or(1);
    let path = if args.pid.is_some() {
        format!("/proc/{pid}/root/etc/resolv.conf")
    } else {
        snap.dns
            .node
            .as_ref()
            .map_or("/etc/resolv.conf".into(), |n| n.path.clone())
    };
    let text = host
        .read_string(&path)
        .map_err(|e| anyhow::anyhow!("reading the resolver configuration: {e}"))?;
    let owner = snap
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .and_then(|p| p.container_id.as_deref())
        .and_then(|id| snap.container(id));
    Ok(PodDns {
        uid: owner.map(|(p, _)| p.uid.clone()).unwrap_or_default(),
        namespace: owner.and_then(|(p, _)| p.namespace.clone()),
        name: owner.and_then(|(p, _)| p.name.clone()),
        resolv: ResolvFile {
            path,
            conf: crate::collect::resolv::parse_resolv_conf(&text),
        },
        pid: Some(pid),
        host_network: None,
    })
}
