//! `dns.ndots-amplification`: every external lookup of a pod walks its search list first.

use crate::analyze::dns::{EXAMPLE_NAME, dead_server_seconds, plan, pod_label, queries_per_family};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DnsNdotsAmplification;

/// Queries per address family from which the rule warns (docs/rules.md): the Kubernetes default
/// (3 cluster search domains + the name) costs 4.
const WARN_PER_FAMILY: usize = 6;

impl Rule for DnsNdotsAmplification {
    fn id(&self) -> &'static str {
        "dns.ndots-amplification"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "a pod's ndots and search list make external lookups cost extra queries"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A ClusterFirst pod's resolv.conf has 'options ndots:5' and a search list of at least three
  cluster domains (<ns>.svc.cluster.local svc.cluster.local cluster.local, plus the node's own
  search domains). A name with fewer than 5 dots, such as api.stripe.com, is tried with every
  search domain first, each for A and AAAA, and only then as written: 4 queries per family by
  default, more with cloud search domains appended.

WHY IT MATTERS
  Each external lookup becomes 8 or more queries, all but two of them doomed NXDOMAINs. They
  load CoreDNS and conntrack, and each one is a chance to lose a UDP packet to the conntrack race
  (dns.conntrack-race) and wait the 5-second resolver timeout. Latency-sensitive clients that
  call external APIs pay it on every uncached lookup.

HOW TO CONFIRM
  kubectl exec -n NS POD -- cat /etc/resolv.conf
  nodescope dns                    (queries per lookup of api.example.com, per pod)
  nodescope dns probe api.example.com --pod NS/POD   (the real sequence, with rcodes and times)

WHAT TO CHANGE
  Write external names fully qualified with a trailing dot (api.stripe.com.), or lower ndots for
  the pod (spec.dnsConfig.options: [{name: ndots, value: \"2\"}]), and run NodeLocal DNSCache so
  the doomed queries are answered on the node."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for p in &snap.dns.pods {
            if p.host_network == Some(true) {
                continue;
            }
            let conf = &p.resolv.conf;
            let per_family = queries_per_family(conf, EXAMPLE_NAME);
            if per_family < 2 {
                continue;
            }
            let severity = if per_family >= WARN_PER_FAMILY {
                Severity::Warning
            } else {
                Severity::Info
            };
            let queries = plan(conf, EXAMPLE_NAME);
            out.push(finding(
                self,
                severity,
                format!(
                    "{}: {} queries to resolve {EXAMPLE_NAME} (ndots:{}, {} search domains), {} of them NXDOMAIN by design",
                    pod_label(p),
                    queries.len(),
                    conf.ndots,
                    conf.search.len(),
                    queries.len() - 2
                ),
                Subject::pod(p.namespace.clone(), p.name.clone().or_else(|| Some(p.uid.clone()))),
                serde_json::json!({
                    "name": EXAMPLE_NAME,
                    "queries_per_family": per_family,
                    "queries": queries,
                    "ndots": conf.ndots,
                    "search": conf.search,
                    "resolv_conf": p.resolv.path,
                    "dead_server_seconds_per_name": dead_server_seconds(conf),
                    "nodelocal_dns": snap.dns.nodelocal.is_some(),
                    "fixes": [
                        "a trailing dot on external names (api.example.com.)",
                        "spec.dnsConfig.options ndots: 2",
                        "NodeLocal DNSCache",
                    ],
                }),
                remedy(snap, conf.ndots),
            ));
        }
    }
}

/// Lower ndots from what the pod has (2 keeps `svc.ns` names working); NodeLocal DNSCache
/// only when it does not already run on the node.
fn remedy(snap: &Snapshot, ndots: u32) -> String {
    let lower = if ndots > 2 {
        format!("lower dnsConfig ndots from {ndots} to 2")
    } else {
        "shorten the search list".into()
    };
    let nodelocal = if snap.dns.nodelocal.is_some() {
        " (NodeLocal DNSCache already answers them on the node)"
    } else {
        "; run NodeLocal DNSCache"
    };
    format!("write external names with a trailing dot, or {lower}{nodelocal}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    const K8S: &[&str] = &[
        "shop.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ];

    fn node(search: &[&str], ndots: u32) -> Snapshot {
        let mut s = snap();
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/etc/resolv.conf", &["10.96.0.10"], search, ndots),
        ));
        s
    }

    #[test]
    fn the_kubernetes_default_costs_four_queries_per_family_and_is_info() {
        let f = one(&DnsNdotsAmplification, &node(K8S, 5));
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.evidence["queries_per_family"], 4);
        assert_eq!(
            f.title,
            "shop/web: 8 queries to resolve api.example.com (ndots:5, 3 search domains), 6 of them NXDOMAIN by design"
        );
        assert_eq!(
            f.evidence["queries"][0]["name"],
            "api.example.com.shop.svc.cluster.local."
        );
        assert_eq!(f.evidence["queries"][7]["name"], "api.example.com.");
        assert_eq!(f.evidence["queries"][7]["type"], "AAAA");
    }

    #[test]
    fn six_queries_per_family_warn_and_five_are_info() {
        let five = [K8S, &["corp.example"]].concat();
        assert_eq!(
            severities(&DnsNdotsAmplification, &node(&five, 5)),
            [Severity::Info]
        );
        let six = [K8S, &["corp.example", "ec2.internal"]].concat();
        let f = one(&DnsNdotsAmplification, &node(&six, 5));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.evidence["queries_per_family"], 6);
    }

    #[test]
    fn a_name_with_ndots_dots_is_tried_as_is_first_and_costs_one() {
        // api.example.com has 2 dots: ndots:2 asks it as is first; ndots:3 walks the list.
        assert!(run(&DnsNdotsAmplification, &node(K8S, 2)).is_empty());
        assert_eq!(
            one(&DnsNdotsAmplification, &node(K8S, 3)).evidence["queries_per_family"],
            4
        );
    }

    #[test]
    fn one_search_domain_below_ndots_is_two_queries_and_fires() {
        assert_eq!(
            one(&DnsNdotsAmplification, &node(&["cluster.local"], 5)).evidence["queries_per_family"],
            2
        );
        assert!(run(&DnsNdotsAmplification, &node(&[], 5)).is_empty());
    }

    #[test]
    fn host_network_pods_use_the_nodes_resolver_and_are_skipped() {
        let mut s = node(K8S, 5);
        s.dns.pods[0].host_network = Some(true);
        assert!(run(&DnsNdotsAmplification, &s).is_empty());
        s.dns.pods[0].host_network = None;
        assert_eq!(
            run(&DnsNdotsAmplification, &s).len(),
            1,
            "unknown is not hostNetwork"
        );
    }

    /// The fix lowers the pod's own ndots from its value, and proposes NodeLocal DNSCache only
    /// where it does not run.
    #[test]
    fn the_fix_starts_from_the_pods_ndots_and_the_nodes_cache() {
        let mut s = node(K8S, 5);
        assert_eq!(
            one(&DnsNdotsAmplification, &s).remedy,
            "write external names with a trailing dot, or lower dnsConfig ndots from 5 to 2; run NodeLocal DNSCache"
        );
        s.dns.nodelocal = Some(crate::model::dns::NodeLocalDns {
            interface: true,
            pods: vec!["kube-system/node-local-dns-x".into()],
        });
        assert_eq!(
            one(&DnsNdotsAmplification, &s).remedy,
            "write external names with a trailing dot, or lower dnsConfig ndots from 5 to 2 (NodeLocal DNSCache already answers them on the node)"
        );
    }
}
