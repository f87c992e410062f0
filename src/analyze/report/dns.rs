//! The `nodescope dns` reports: a per-pod table of resolver settings and the query cost of an
//! external name ([`DnsReport`], `nodescope-dns/1`), and a live probe with the summary of where
//! its time went ([`DnsProbeReport`], `nodescope-dns-probe/1`). `render/dns.rs` prints them;
//! `--format json` is these structs (docs/schema/nodescope-dns*.schema.json).

use crate::analyze::Finding;
use crate::analyze::dns::{
    EXAMPLE_NAME, candidates, cluster_domain, pod_label, queries_per_family,
};
use crate::model::dns::{Conntrack, NodeLocalDns, PodDns, Probe, ProbeQuery, ResolvFile};
use crate::model::{CollectError, Snapshot};
use serde::Serialize;

/// The JSON schema name of `nodescope dns --format json`.
pub const DNS_SCHEMA: &str = "nodescope-dns/1";
/// The JSON schema name of `nodescope dns probe --format json`.
pub const DNS_PROBE_SCHEMA: &str = "nodescope-dns-probe/1";

/// `nodescope dns --format json`. The field names are those of `nodescope-dns/1` as first
/// shipped (an untyped object then).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DnsReport {
    /// Always `nodescope-dns/1` for this shape.
    pub schema: &'static str,
    pub node: String,
    pub taken_at: jiff::Timestamp,
    /// The node's own resolv.conf (what `dnsPolicy: Default` pods get).
    pub node_resolv_conf: Option<ResolvFile>,
    /// One row per pod whose resolv.conf could be read.
    pub pods: Vec<PodRow>,
    /// The conntrack table the pods' UDP queries cross; `None` when nf_conntrack is not loaded.
    pub conntrack: Option<Conntrack>,
    /// NodeLocal DNSCache, when it runs on the node.
    pub nodelocal_dns: Option<NodeLocalDns>,
    /// The `dns.*` and `net.*` findings.
    pub findings: Vec<Finding>,
    /// What could not be collected, and why.
    pub errors: Vec<CollectError>,
}

/// Builds the table report for the external `name` (or [`EXAMPLE_NAME`]). `findings` are all
/// findings of the snapshot; the `dns.*` and `net.*` ones are kept.
pub fn build(snap: &Snapshot, findings: &[Finding], name: Option<&str>) -> DnsReport {
    DnsReport {
        schema: DNS_SCHEMA,
        node: snap.hostname().to_string(),
        taken_at: snap.taken_at,
        node_resolv_conf: snap.dns.node.clone(),
        pods: rows(snap, name),
        conntrack: snap.dns.conntrack,
        nodelocal_dns: snap.dns.nodelocal.clone(),
        findings: findings
            .iter()
            .filter(|f| f.id.starts_with("dns.") || f.id.starts_with("net."))
            .cloned()
            .collect(),
        errors: snap.errors.clone(),
    }
}

/// `nodescope dns probe --format json`: the resolver played, every query it sent, and whether
/// the name resolved.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DnsProbeReport {
    /// Always `nodescope-dns-probe/1` for this shape.
    pub schema: &'static str,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// The process whose network namespace the queries left from; 0 for nodescope's own.
    pub pid: u32,
    pub name: String,
    /// The resolv.conf played.
    pub resolv_conf: String,
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub ndots: u32,
    /// Every query, in the order the resolver sends them.
    pub queries: Vec<ProbeQuery>,
    pub resolved: bool,
    pub total_ms: f64,
    /// Where the time went, in one line ([`probe_summary`]).
    pub summary: String,
    /// `dns.probe-failed`, when it fired.
    pub findings: Vec<Finding>,
}

/// Builds the probe report of `probe`, run with the resolver configuration `target`.
pub fn build_probe(target: &PodDns, probe: &Probe, findings: Vec<Finding>) -> DnsProbeReport {
    DnsProbeReport {
        schema: DNS_PROBE_SCHEMA,
        namespace: probe.namespace.clone(),
        pod: probe.pod.clone(),
        pid: probe.pid,
        name: probe.name.clone(),
        resolv_conf: target.resolv.path.clone(),
        nameservers: target.resolv.conf.nameservers.clone(),
        search: target.resolv.conf.search.clone(),
        ndots: target.resolv.conf.ndots,
        queries: probe.queries.clone(),
        resolved: probe.resolved,
        total_ms: probe.total_ms,
        summary: probe_summary(probe),
        findings,
    }
}

/// The JSON Schema of `nodescope dns --format json`.
pub fn dns_schema() -> String {
    super::schema_json::<DnsReport>()
}

/// The JSON Schema of `nodescope dns probe --format json`.
pub fn dns_probe_schema() -> String {
    super::schema_json::<DnsProbeReport>()
}

/// One row of `nodescope dns`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// The kubelet's dnsPolicy as the file shows it (docs/kubelet-semantics.md §5): cluster DNS servers or a
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
    // `{:.0}` of -0.0 prints "-0": sums of nothing start at -0.0.
    let (total, nx_ms, to_ms) = (total + 0.0, nx_ms + 0.0, to_ms + 0.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::dns::ProbeQuery;

    const K8S: &[&str] = &[
        "shop.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ];

    fn node() -> Snapshot {
        let mut s = snap();
        let mut c = kubelet_defaults();
        c.cluster_dns = vec!["10.96.0.10".into()];
        c.cluster_domain = "cluster.local".into();
        s.kubelet = kubelet(c);
        s.dns.node = Some(resolv("/etc/resolv.conf", &["10.0.0.2"], &["corp"], 1));
        s
    }

    #[test]
    fn the_policy_is_read_from_what_the_file_holds() {
        let s = node();
        let guess = |servers: &[&str], search: &[&str], host: Option<bool>| {
            let mut p = pod_dns("shop", "p", resolv("/f", servers, search, 5));
            p.host_network = host;
            policy_guess(&s, &p)
        };
        assert_eq!(guess(&["10.96.0.10"], K8S, Some(false)), "ClusterFirst");
        // The cluster's DNS server alone, or the svc domain alone, is enough.
        assert_eq!(guess(&["10.96.0.10"], &[], None), "ClusterFirst");
        assert_eq!(
            guess(&["8.8.8.8"], &["svc.cluster.local"], None),
            "ClusterFirst"
        );
        assert_eq!(
            guess(&["8.8.8.8"], &["shop.svc.cluster.local"], None),
            "ClusterFirst"
        );
        assert_eq!(guess(&["10.0.0.2"], &["corp"], None), "Default");
        assert_eq!(guess(&["1.1.1.1"], &[], None), "custom");
        assert_eq!(guess(&["10.96.0.10"], K8S, Some(true)), "hostNetwork");
        // Another cluster's svc domain is not this cluster's.
        assert_eq!(guess(&["1.1.1.1"], &["svc.other.local"], None), "custom");
        let mut bare = node();
        bare.kubelet = None;
        bare.dns.node = None;
        let p = pod_dns("shop", "p", resolv("/f", &["1.1.1.1"], &["ns.svc.x"], 5));
        assert_eq!(
            policy_guess(&bare, &p),
            "ClusterFirst",
            "any svc label without a domain"
        );
        let p = pod_dns(
            "shop",
            "p",
            resolv("/f", &["1.1.1.1"], &["svcs.example"], 5),
        );
        assert_eq!(policy_guess(&bare, &p), "custom");
    }

    #[test]
    fn rows_count_both_families_for_the_name() {
        let mut s = node();
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/proc/7/root/etc/resolv.conf", &["10.96.0.10"], K8S, 5),
        ));
        let r = rows(&s, None);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].name, EXAMPLE_NAME);
        assert_eq!(r[0].queries, 8, "4 candidates x A and AAAA");
        assert_eq!((r[0].search_domains, r[0].ndots), (3, 5));
        assert_eq!(r[0].nameservers, ["10.96.0.10"]);
        assert_eq!(r[0].policy_guess, "ClusterFirst");
        assert_eq!(r[0].resolv_conf, "/proc/7/root/etc/resolv.conf");
        assert_eq!(
            (r[0].namespace.as_deref(), r[0].pod.as_deref()),
            (Some("shop"), Some("web"))
        );
        assert_eq!(
            rows(&s, Some("a.b.c.d.e.f")).first().map(|r| r.queries),
            Some(2)
        );
    }

    fn q(
        name: &str,
        rcode: Option<&str>,
        ms: f64,
        timed_out: bool,
        error: Option<&str>,
    ) -> ProbeQuery {
        ProbeQuery {
            name: name.into(),
            qtype: "A".into(),
            server: if timed_out {
                "10.0.0.9:53"
            } else {
                "10.96.0.10:53"
            }
            .into(),
            rcode: rcode.map(String::from),
            answers: 0,
            ms,
            timed_out,
            error: error.map(String::from),
        }
    }

    #[test]
    fn the_summary_says_where_the_time_went() {
        let mut p = Probe {
            namespace: None,
            pod: None,
            pid: 0,
            name: "api.example.com".into(),
            queries: vec![
                q("a", Some("NXDOMAIN"), 2.0, false, None),
                q("b", Some("NXDOMAIN"), 3.0, false, None),
                q("c", None, 1000.0, true, None),
                q("d", None, 1000.0, true, None),
                q("e", Some("NOERROR"), 5.0, false, None),
            ],
            resolved: true,
            total_ms: 2010.0,
        };
        assert_eq!(
            probe_summary(&p),
            "api.example.com resolved after 5 queries in 2010 ms: 2 NXDOMAIN (5 ms), 2 timed out (2000 ms, 100% of the time) waiting on 10.0.0.9:53"
        );
        p.resolved = false;
        p.queries = vec![
            q("a", Some("NXDOMAIN"), 4.0, false, None),
            q("b", None, 0.0, false, Some("network unreachable")),
        ];
        assert_eq!(
            probe_summary(&p),
            "api.example.com did NOT resolve after 2 queries in 4 ms: 1 NXDOMAIN (4 ms), 1 failed to send"
        );
        p.queries = vec![q("c", None, 0.0, true, None)];
        assert!(
            probe_summary(&p)
                .ends_with("1 timed out (0 ms, 0% of the time) waiting on 10.0.0.9:53")
        );
    }

    #[test]
    fn probe_candidates_and_labels_are_the_resolvers() {
        let p = pod_dns("shop", "web", resolv("/f", &["10.96.0.10"], K8S, 5));
        assert_eq!(
            probe_candidates(&p, "api.example.com"),
            [
                "api.example.com.shop.svc.cluster.local.",
                "api.example.com.svc.cluster.local.",
                "api.example.com.cluster.local.",
                "api.example.com.",
            ]
        );
        assert_eq!(label(&p), "shop/web");
    }
}
