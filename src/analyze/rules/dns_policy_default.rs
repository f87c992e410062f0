//! `dns.policy-default`: a pod resolving with the node's resolvers, blind to cluster names.

use crate::analyze::dns::{cluster_domain, has_svc_domain, is_cluster_dns, pod_label};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DnsPolicyDefault;

impl Rule for DnsPolicyDefault {
    fn id(&self) -> &'static str {
        "dns.policy-default"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a pod uses the node's resolvers (dnsPolicy: Default): service names fail"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The pod's resolv.conf carries the node's nameservers and no svc.<cluster domain> search
  domain: it was created with dnsPolicy: Default (the name is misleading: the default policy is
  ClusterFirst), or it is a hostNetwork pod without ClusterFirstWithHostNet. Its resolver never
  asks the cluster DNS. CoreDNS, kube-dns, NodeLocal DNSCache and hostNetwork pods use the
  node's resolvers by design and are not reported.

WHY IT MATTERS
  my-svc.my-namespace.svc.cluster.local and short service names do not resolve in this pod:
  the node's resolver knows nothing of the cluster. The application fails with 'no such host'
  for services while external names work, which looks like a network problem.

HOW TO CONFIRM
  kubectl get pod -n NS POD -o jsonpath='{.spec.dnsPolicy} {.spec.hostNetwork}'
  kubectl exec -n NS POD -- cat /etc/resolv.conf
  nodescope dns probe kubernetes.default --pod NS/POD

WHAT TO CHANGE
  Remove dnsPolicy: Default (ClusterFirst is the default), or use ClusterFirstWithHostNet for
  hostNetwork pods that must resolve services."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(node) = &snap.dns.node else { return };
        let cluster_dns: Vec<&String> = snap
            .kubelet
            .as_ref()
            .map(|k| k.config.cluster_dns.iter().collect())
            .unwrap_or_default();
        for p in &snap.dns.pods {
            if p.host_network == Some(true) || is_cluster_dns(p) {
                continue;
            }
            let conf = &p.resolv.conf;
            if conf.nameservers.is_empty() || conf.nameservers != node.conf.nameservers {
                continue;
            }
            if conf.nameservers.iter().any(|n| cluster_dns.contains(&n)) {
                continue;
            }
            if has_svc_domain(&conf.search, cluster_domain(snap)) {
                continue;
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{}: resolves with the node's nameservers ({}) and no svc search domain: service names will not resolve",
                    pod_label(p),
                    conf.nameservers.join(" ")
                ),
                Subject::pod(p.namespace.clone(), p.name.clone().or_else(|| Some(p.uid.clone()))),
                serde_json::json!({
                    "resolv_conf": p.resolv.path,
                    "nameservers": conf.nameservers,
                    "search": conf.search,
                    "node_resolv_conf": node.path,
                    "cluster_dns": cluster_dns,
                    "policy_guess": "Default",
                }),
                "drop dnsPolicy: Default (ClusterFirst is the default); hostNetwork pods: ClusterFirstWithHostNet",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    const NODE_NS: &[&str] = &["10.0.0.2", "10.0.0.3"];

    /// A node resolving with NODE_NS and a kubelet for cluster.local with clusterDNS 10.96.0.10,
    /// and one pod with these nameservers and search list.
    fn node(pod_ns: &[&str], search: &[&str]) -> Snapshot {
        let mut s = snap();
        s.dns.node = Some(resolv("/etc/resolv.conf", NODE_NS, &["corp.example"], 1));
        let mut c = kubelet_defaults();
        c.cluster_domain = "cluster.local".into();
        c.cluster_dns = vec!["10.96.0.10".into()];
        s.kubelet = kubelet(c);
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/proc/1/root/etc/resolv.conf", pod_ns, search, 1),
        ));
        s
    }

    #[test]
    fn the_nodes_nameservers_without_a_svc_domain_fire() {
        let f = one(&DnsPolicyDefault, &node(NODE_NS, &["corp.example"]));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "shop/web: resolves with the node's nameservers (10.0.0.2 10.0.0.3) and no svc search domain: service names will not resolve"
        );
    }

    #[test]
    fn a_svc_search_domain_of_the_cluster_domain_clears_it() {
        assert!(run(&DnsPolicyDefault, &node(NODE_NS, &["svc.cluster.local"])).is_empty());
        assert!(
            run(
                &DnsPolicyDefault,
                &node(NODE_NS, &["shop.svc.cluster.local"])
            )
            .is_empty()
        );
        // Another cluster's domain is not this cluster's.
        assert_eq!(
            run(&DnsPolicyDefault, &node(NODE_NS, &["svc.other.local"])).len(),
            1
        );
    }

    #[test]
    fn without_a_cluster_domain_any_svc_label_clears_it() {
        let mut s = node(NODE_NS, &["shop.svc.other.local"]);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.cluster_domain.clear();
        }
        assert!(run(&DnsPolicyDefault, &s).is_empty());
        let mut s = node(NODE_NS, &["corp.example"]);
        s.kubelet = None;
        assert_eq!(run(&DnsPolicyDefault, &s).len(), 1);
    }

    #[test]
    fn other_nameservers_or_the_cluster_dns_are_not_the_default_policy() {
        assert!(run(&DnsPolicyDefault, &node(&["10.0.0.2"], &[])).is_empty());
        assert!(run(&DnsPolicyDefault, &node(&[], &[])).is_empty());
        let mut s = node(&["10.96.0.10"], &[]);
        s.dns.node = Some(resolv("/etc/resolv.conf", &["10.96.0.10"], &[], 1));
        assert!(run(&DnsPolicyDefault, &s).is_empty());
    }

    #[test]
    fn host_network_pods_and_the_cluster_dns_itself_are_exempt() {
        let mut s = node(NODE_NS, &[]);
        s.dns.pods[0].host_network = Some(true);
        assert!(run(&DnsPolicyDefault, &s).is_empty());
        let mut s = node(NODE_NS, &[]);
        s.dns.pods[0].namespace = Some("kube-system".into());
        s.dns.pods[0].name = Some("coredns-5d78c9869d-abcde".into());
        assert!(run(&DnsPolicyDefault, &s).is_empty());
        s.dns.pods[0].namespace = Some("shop".into());
        assert_eq!(
            run(&DnsPolicyDefault, &s).len(),
            1,
            "a coredns outside kube-system is a pod"
        );
    }

    #[test]
    fn no_node_resolv_conf_nothing_to_compare() {
        let mut s = node(NODE_NS, &[]);
        s.dns.node = None;
        assert!(run(&DnsPolicyDefault, &s).is_empty());
    }
}
