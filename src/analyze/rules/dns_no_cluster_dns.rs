//! `dns.no-cluster-dns`: a pod whose own resolver configuration (typically `dnsPolicy: None`
//! with a `dnsConfig` that copies only part of what the kubelet would write) names neither the
//! cluster DNS nor a `svc.<cluster domain>` search domain, so service names cannot resolve.
//! `dns.policy-default` covers the pods that got the node's resolvers; this rule covers every
//! other way to end up outside the cluster's DNS.

use crate::analyze::dns::{cluster_dns_addresses, has_svc_domain, is_cluster_dns, pod_label};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::dns::PodDns;

pub struct DnsNoClusterDns;

impl Rule for DnsNoClusterDns {
    fn id(&self) -> &'static str {
        "dns.no-cluster-dns"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a pod's own resolvers name no cluster DNS and no svc search domain"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A pod that is not hostNetwork and is not the cluster DNS itself resolves with nameservers
  none of which is the cluster DNS (the kubelet's clusterDNS, or NodeLocal DNSCache's
  169.254.20.10 when it runs on the node), and its search list has no svc.<cluster domain>.
  The usual cause is dnsPolicy: None with a dnsConfig that copies only part of what ClusterFirst
  would write (the company resolvers, a few search domains) and leaves the cluster out. Pods
  that got the node's own resolvers are dns.policy-default's, not this rule's.

WHY IT MATTERS
  my-svc.my-namespace.svc.cluster.local and short service names never reach CoreDNS: they
  fail with 'no such host' (or resolve to something else upstream) while external names work,
  which looks like a network or CoreDNS problem and is neither.

HOW TO CONFIRM
  kubectl get pod -n NS POD -o jsonpath='{.spec.dnsPolicy} {.spec.dnsConfig}'
  kubectl exec -n NS POD -- cat /etc/resolv.conf
  nodescope dns probe kubernetes.default --pod NS/POD

WHAT TO CHANGE
  Use dnsPolicy: ClusterFirst and put only the extras in dnsConfig (the kubelet merges them), or,
  keeping dnsPolicy: None, list the cluster DNS first in dnsConfig.nameservers and add
  NS.svc.<cluster domain>, svc.<cluster domain> and <cluster domain> to dnsConfig.searches. The
  finding's remedy names the addresses and domains of this cluster."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let cluster_dns = cluster_dns_addresses(snap);
        if cluster_dns.is_empty() {
            return;
        }
        let node_servers = snap.dns.node.as_ref().map(|n| &n.conf.nameservers);
        for p in &snap.dns.pods {
            if !outside_cluster_dns(p, &cluster_dns, snap) {
                continue;
            }
            let conf = &p.resolv.conf;
            if node_servers.is_some_and(|n| *n == conf.nameservers) {
                continue; // the node's resolvers: dns.policy-default
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{}: nameservers {} include no cluster DNS ({}) and no svc search domain: service names will not resolve",
                    pod_label(p),
                    conf.nameservers.join(" "),
                    cluster_dns.join(" ")
                ),
                Subject::pod(
                    p.namespace.clone(),
                    p.name.clone().or_else(|| Some(p.uid.clone())),
                ),
                serde_json::json!({
                    "resolv_conf": p.resolv.path,
                    "nameservers": conf.nameservers,
                    "search": conf.search,
                    "cluster_dns": cluster_dns,
                    "cluster_domain": crate::analyze::dns::cluster_domain(snap),
                    "policy_guess": "None",
                    "dns_policy": api_dns_policy(snap, &p.uid),
                }),
                remedy(p, &cluster_dns, snap),
            ));
        }
    }
}

/// `spec.dnsPolicy` as the API gave it, when it did.
fn api_dns_policy<'a>(snap: &'a Snapshot, uid: &str) -> Option<&'a str> {
    snap.pods
        .iter()
        .find(|p| p.uid == uid)
        .and_then(|p| p.api.as_ref())
        .and_then(|a| a.dns_policy.as_deref())
}

/// A pod that should use the cluster DNS and whose resolv.conf reaches none of it.
fn outside_cluster_dns(p: &PodDns, cluster_dns: &[String], snap: &Snapshot) -> bool {
    let conf = &p.resolv.conf;
    p.host_network != Some(true)
        && !is_cluster_dns(p)
        && !conf.nameservers.is_empty()
        && !conf.nameservers.iter().any(|n| cluster_dns.contains(n))
        && !has_svc_domain(&conf.search, crate::analyze::dns::cluster_domain(snap))
}

/// The change, with this cluster's addresses and this pod's namespace filled in.
fn remedy(p: &PodDns, cluster_dns: &[String], snap: &Snapshot) -> String {
    let domain = crate::analyze::dns::cluster_domain(snap).unwrap_or("cluster.local");
    let ns = p.namespace.as_deref().unwrap_or("NAMESPACE");
    format!(
        "use dnsPolicy: ClusterFirst with only the extras in dnsConfig, or add {} first to dnsConfig.nameservers and {ns}.svc.{domain} svc.{domain} {domain} to dnsConfig.searches",
        cluster_dns[0]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    /// A cluster.local kubelet with clusterDNS 10.96.0.10, a node resolving with 10.0.0.2 and
    /// 10.0.0.3, and one pod with these nameservers and search list.
    fn node(pod_ns: &[&str], search: &[&str]) -> Snapshot {
        let mut s = snap();
        s.dns.node = Some(resolv(
            "/etc/resolv.conf",
            &["10.0.0.2", "10.0.0.3"],
            &["corp.example"],
            1,
        ));
        let mut c = kubelet_defaults();
        c.cluster_domain = "cluster.local".into();
        c.cluster_dns = vec!["10.96.0.10".into()];
        s.kubelet = kubelet(c);
        s.dns.pods.push(pod_dns(
            "shop",
            "batch",
            resolv("/proc/7/root/etc/resolv.conf", pod_ns, search, 2),
        ));
        s
    }

    #[test]
    fn a_partial_dns_config_without_the_cluster_fires_with_this_clusters_fix() {
        let f = one(
            &DnsNoClusterDns,
            &node(&["10.0.0.2", "1.1.1.1"], &["corp.example"]),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "shop/batch: nameservers 10.0.0.2 1.1.1.1 include no cluster DNS (10.96.0.10) and no svc search domain: service names will not resolve"
        );
        assert_eq!(
            f.remedy,
            "use dnsPolicy: ClusterFirst with only the extras in dnsConfig, or add 10.96.0.10 first to dnsConfig.nameservers and shop.svc.cluster.local svc.cluster.local cluster.local to dnsConfig.searches"
        );
        assert_eq!(f.evidence["policy_guess"], "None");
    }

    #[test]
    fn the_cluster_dns_or_a_svc_domain_clears_it() {
        assert!(
            run(
                &DnsNoClusterDns,
                &node(&["10.96.0.10", "1.1.1.1"], &["corp.example"])
            )
            .is_empty()
        );
        assert!(
            run(
                &DnsNoClusterDns,
                &node(&["1.1.1.1"], &["shop.svc.cluster.local"])
            )
            .is_empty()
        );
        let mut s = node(&["169.254.20.10"], &["corp.example"]);
        assert_eq!(run(&DnsNoClusterDns, &s).len(), 1);
        s.dns.nodelocal = Some(crate::model::dns::NodeLocalDns {
            interface: true,
            pods: vec!["kube-system/node-local-dns-x".into()],
        });
        assert!(
            run(&DnsNoClusterDns, &s).is_empty(),
            "NodeLocal DNSCache is the cluster DNS"
        );
    }

    #[test]
    fn the_nodes_resolvers_are_policy_defaults_and_host_network_is_exempt() {
        assert!(
            run(
                &DnsNoClusterDns,
                &node(&["10.0.0.2", "10.0.0.3"], &["corp.example"])
            )
            .is_empty()
        );
        let mut s = node(&["1.1.1.1"], &[]);
        s.dns.pods[0].host_network = Some(true);
        assert!(run(&DnsNoClusterDns, &s).is_empty());
    }

    #[test]
    fn without_a_known_cluster_dns_there_is_nothing_to_miss() {
        let mut s = node(&["1.1.1.1"], &[]);
        s.kubelet = None;
        assert!(run(&DnsNoClusterDns, &s).is_empty());
    }
}
