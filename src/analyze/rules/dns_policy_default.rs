//! `dns.policy-default`: a pod resolving with the node's resolvers, blind to cluster names.

use crate::analyze::dns::{cluster_domain, is_cluster_dns, pod_label};
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
        let svc = cluster_domain(snap).map(|d| format!("svc.{d}"));
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
            let has_svc = conf.search.iter().any(|d| match &svc {
                Some(s) => d == s || d.ends_with(&format!(".{s}")),
                None => d.starts_with("svc.") || d.contains(".svc."),
            });
            if has_svc {
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
