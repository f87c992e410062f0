//! What a resolver does with a name: the queries glibc's stub resolver sends, in order
//! (resolv/res_query.c `__res_context_search`), and how long a dead server costs.
//!
//! - A name with a trailing dot is absolute: queried as is, once.
//! - With at least `ndots` dots, the name is tried as is first, then with each search domain.
//! - With fewer dots, each search domain is tried first, and the name as is last.
//! - `getaddrinfo` with `AF_UNSPEC` asks A and AAAA for every candidate.
//!
//! musl differs: with at least `ndots` dots it never tries the search list, and it sends A and
//! AAAA in parallel whatever the options say. The sequence for a name that exists only as
//! written (an external name) is the same in both when it has fewer dots than `ndots`.

use crate::model::Snapshot;
use crate::model::dns::PodDns;
use crate::model::resolv::ResolvConf;
use serde::Serialize;

/// The name the docs/rules.md amplification figure is given for: two dots, external.
pub const EXAMPLE_NAME: &str = "api.example.com";

/// One query a resolver sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedQuery {
    /// Fully qualified, with the trailing dot.
    pub name: String,
    /// `A` or `AAAA`.
    #[serde(rename = "type")]
    pub qtype: &'static str,
}

/// The names the resolver tries for `name`, in order, until one answers (each fully qualified).
pub fn candidates(conf: &ResolvConf, name: &str) -> Vec<String> {
    let fq = |n: &str| format!("{}.", n.trim_end_matches('.'));
    if name.ends_with('.') {
        return vec![fq(name)];
    }
    let dots = name.matches('.').count() as u32;
    let expanded: Vec<String> = conf
        .search
        .iter()
        .map(|d| fq(&format!("{name}.{d}")))
        .collect();
    let mut out = Vec::new();
    if dots >= conf.ndots {
        out.push(fq(name));
        out.extend(expanded);
    } else {
        out.extend(expanded);
        out.push(fq(name));
    }
    out
}

/// The queries for a name that exists only as written (the external-name case): every
/// candidate up to and including the name itself, A then AAAA for each.
pub fn plan(conf: &ResolvConf, name: &str) -> Vec<PlannedQuery> {
    let target = format!("{}.", name.trim_end_matches('.'));
    let mut out = Vec::new();
    for c in candidates(conf, name) {
        let last = c == target;
        out.push(PlannedQuery {
            name: c.clone(),
            qtype: "A",
        });
        out.push(PlannedQuery {
            name: c,
            qtype: "AAAA",
        });
        if last {
            break;
        }
    }
    out
}

/// Queries per address family for an external name (`plan().len() / 2`).
pub fn queries_per_family(conf: &ResolvConf, name: &str) -> usize {
    plan(conf, name).len() / 2
}

/// Seconds one candidate costs when no nameserver answers: every server, `attempts` times,
/// `timeout` seconds each (resolv.conf(5); glibc's per-server backoff aside).
pub fn dead_server_seconds(conf: &ResolvConf) -> u32 {
    conf.timeout * conf.attempts * conf.nameservers.len().max(1) as u32
}

/// Pods that are the cluster's DNS itself (CoreDNS, kube-dns, NodeLocal DNSCache): they use
/// the node's resolvers by design.
pub fn is_cluster_dns(p: &PodDns) -> bool {
    let name = p.name.as_deref().unwrap_or("");
    p.namespace.as_deref() == Some("kube-system")
        && ["coredns", "kube-dns", "node-local-dns", "nodelocaldns"]
            .iter()
            .any(|n| name.starts_with(n))
}

/// The cluster domain the kubelet writes into pods' search lists (`clusterDomain`).
pub fn cluster_domain(snap: &Snapshot) -> Option<&str> {
    snap.kubelet
        .as_ref()
        .map(|k| k.config.cluster_domain.as_str())
        .filter(|d| !d.is_empty())
}

/// The addresses that are the cluster's DNS for this node's pods: the kubelet's `clusterDNS`,
/// and NodeLocal DNSCache's default listener (169.254.20.10) when it runs here.
pub fn cluster_dns_addresses(snap: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = snap
        .kubelet
        .as_ref()
        .map(|k| k.config.cluster_dns.clone())
        .unwrap_or_default();
    if snap.dns.nodelocal.is_some() && !out.iter().any(|a| a == NODELOCAL_ADDRESS) {
        out.push(NODELOCAL_ADDRESS.into());
    }
    out
}

/// NodeLocal DNSCache's default link-local listener (kubernetes/dns, nodelocaldns manifest).
pub const NODELOCAL_ADDRESS: &str = "169.254.20.10";

/// Whether a search list can complete service names: it has `svc.<cluster domain>` (or a
/// `<ns>.svc.<cluster domain>`); with the cluster domain unknown, any `svc.` label counts.
pub fn has_svc_domain(search: &[String], cluster_domain: Option<&str>) -> bool {
    let svc = cluster_domain.map(|d| format!("svc.{d}"));
    search.iter().any(|d| match &svc {
        Some(s) => d == s || d.ends_with(&format!(".{s}")),
        None => d.starts_with("svc.") || d.contains(".svc."),
    })
}

/// `namespace/name` of a pod, or its uid.
pub fn pod_label(p: &PodDns) -> String {
    crate::model::pod_ref(p.namespace.as_deref(), p.name.as_deref(), &p.uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::resolv::parse_resolv_conf;

    /// The file the kubelet writes for a ClusterFirst pod in namespace `shop` (docs/kubelet-semantics.md §5).
    fn pod_conf() -> ResolvConf {
        parse_resolv_conf(
            "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
        )
    }

    #[test]
    fn an_external_name_walks_the_whole_search_list_first() {
        let p = plan(&pod_conf(), "api.example.com");
        let names: Vec<String> = p
            .iter()
            .map(|q| format!("{} {}", q.qtype, q.name))
            .collect();
        assert_eq!(
            names,
            [
                "A api.example.com.shop.svc.cluster.local.",
                "AAAA api.example.com.shop.svc.cluster.local.",
                "A api.example.com.svc.cluster.local.",
                "AAAA api.example.com.svc.cluster.local.",
                "A api.example.com.cluster.local.",
                "AAAA api.example.com.cluster.local.",
                "A api.example.com.",
                "AAAA api.example.com.",
            ]
        );
        assert_eq!(queries_per_family(&pod_conf(), "api.example.com"), 4);
    }

    #[test]
    fn a_trailing_dot_or_enough_dots_goes_straight_to_the_name() {
        assert_eq!(plan(&pod_conf(), "api.example.com.").len(), 2);
        let mut c = pod_conf();
        c.ndots = 2;
        // 2 dots >= ndots 2: as is first, and it answers.
        assert_eq!(queries_per_family(&c, "api.example.com"), 1);
        // Candidates still list the search expansions after it, for names that do not exist.
        assert_eq!(candidates(&c, "api.example.com").len(), 4);
    }

    #[test]
    fn cloud_search_domains_add_queries_and_a_dead_server_costs_timeout_attempts_servers() {
        let c = parse_resolv_conf(
            "search ns.svc.cluster.local svc.cluster.local cluster.local ec2.internal us-east-1.compute.internal corp.example\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5 timeout:2 attempts:3\n",
        );
        assert_eq!(queries_per_family(&c, "api.stripe.com"), 7);
        assert_eq!(dead_server_seconds(&c), 12);
        // A short name: no dots, still below ndots.
        assert_eq!(
            candidates(&c, "kubernetes")[0],
            "kubernetes.ns.svc.cluster.local."
        );
    }
}
