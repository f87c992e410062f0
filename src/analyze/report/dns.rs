//! The `nodescope dns` views: a per-pod table of resolver settings and the query cost of an
//! external name, and the summary of a live probe (where the time went).

use crate::analyze::dns::{
    EXAMPLE_NAME, candidates, cluster_domain, pod_label, queries_per_family,
};
use crate::model::Snapshot;
use crate::model::dns::{PodDns, Probe};
use serde::Serialize;

/// One row of `nodescope dns`.
#[derive(Debug, Serialize)]
pub struct PodRow {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub uid: String,
    pub nameservers: Vec<String>,
    pub search_domains: usize,
    pub ndots: u32,
    /// The name the query count is for.
    pub name: String,
    /// Queries sent for `name` (A and AAAA) when only the name as written exists.
    pub queries: usize,
    /// `ClusterFirst`, `Default`, `hostNetwork` or `custom`, from what the file holds.
    pub policy_guess: &'static str,
    pub resolv_conf: String,
}

/// The kubelet's dnsPolicy as the file shows it (k8s-semantics §5): cluster DNS servers or a
/// `svc.<domain>` search entry mean ClusterFirst; the node's servers without one mean Default.
pub fn policy_guess(snap: &Snapshot, p: &PodDns) -> &'static str {
    if p.host_network == Some(true) {
        return "hostNetwork";
    }
    let conf = &p.resolv.conf;
    let cluster_dns = snap
        .kubelet
        .as_ref()
        .map(|k| k.config.cluster_dns.clone())
        .unwrap_or_default();
    let svc = cluster_domain(snap).map(|d| format!("svc.{d}"));
    let has_svc = conf.search.iter().any(|d| match &svc {
        Some(s) => d == s || d.ends_with(&format!(".{s}")),
        None => d.starts_with("svc.") || d.contains(".svc."),
    });
    if has_svc || conf.nameservers.iter().any(|n| cluster_dns.contains(n)) {
        return "ClusterFirst";
    }
    match &snap.dns.node {
        Some(n) if n.conf.nameservers == conf.nameservers => "Default",
        _ => "custom",
    }
}

pub fn rows(snap: &Snapshot, name: Option<&str>) -> Vec<PodRow> {
    let name = name.unwrap_or(EXAMPLE_NAME);
    snap.dns
        .pods
        .iter()
        .map(|p| PodRow {
            namespace: p.namespace.clone(),
            pod: p.name.clone(),
            uid: p.uid.clone(),
            nameservers: p.resolv.conf.nameservers.clone(),
            search_domains: p.resolv.conf.search.len(),
            ndots: p.resolv.conf.ndots,
            name: name.to_string(),
            queries: queries_per_family(&p.resolv.conf, name) * 2,
            policy_guess: policy_guess(snap, p),
            resolv_conf: p.resolv.path.clone(),
        })
        .collect()
}

/// One line saying where a probe's time went.
pub fn probe_summary(p: &Probe) -> String {
    let total: f64 = p.queries.iter().map(|q| q.ms).sum();
    let timeouts: Vec<_> = p.queries.iter().filter(|q| q.timed_out).collect();
    let nx = p
        .queries
        .iter()
        .filter(|q| q.rcode.as_deref() == Some("NXDOMAIN"))
        .count();
    let nx_ms: f64 = p
        .queries
        .iter()
        .filter(|q| q.rcode.as_deref() == Some("NXDOMAIN"))
        .map(|q| q.ms)
        .sum();
    let to_ms: f64 = timeouts.iter().map(|q| q.ms).sum();
    let mut s = format!(
        "{} {} after {} queries in {:.0} ms: {nx} NXDOMAIN ({:.0} ms)",
        p.name,
        if p.resolved {
            "resolved"
        } else {
            "did NOT resolve"
        },
        p.queries.len(),
        total,
        nx_ms
    );
    if !timeouts.is_empty() {
        let mut servers: Vec<&str> = timeouts.iter().map(|q| q.server.as_str()).collect();
        servers.dedup();
        s.push_str(&format!(
            ", {} timed out ({:.0} ms, {:.0}% of the time) waiting on {}",
            timeouts.len(),
            to_ms,
            if total > 0.0 {
                to_ms * 100.0 / total
            } else {
                0.0
            },
            servers.join(" ")
        ));
    }
    let errors = p.queries.iter().filter(|q| q.error.is_some()).count();
    if errors > 0 {
        s.push_str(&format!(", {errors} failed to send"));
    }
    s
}

/// The candidate names a probe of `name` walks (every one, until one answers).
pub fn probe_candidates(p: &PodDns, name: &str) -> Vec<String> {
    candidates(&p.resolv.conf, name)
}

/// `namespace/pod` for headers.
pub fn label(p: &PodDns) -> String {
    pod_label(p)
}
