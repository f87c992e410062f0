//! `eviction.besteffort-critical`: a BestEffort pod where the cluster's own machinery runs.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::{Qos, Snapshot};

pub struct EvictionBesteffortCritical;

/// Namespaces where workloads keep the cluster itself running.
const SYSTEM_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-node-lease",
    "kube-public",
    "calico-system",
    "tigera-operator",
    "gpu-operator",
    "nvidia-gpu-operator",
    "monitoring",
    "cert-manager",
    "ingress-nginx",
];

impl Rule for EvictionBesteffortCritical {
    fn id(&self) -> &'static str {
        "eviction.besteffort-critical"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a BestEffort pod in a system namespace: first evicted, first OOM-killed"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A pod with no CPU or memory requests or limits (QoS BestEffort, placed under the besteffort
  cgroup) runs in a system namespace such as kube-system, where the node's networking, DNS,
  storage and monitoring agents live.

WHY IT MATTERS
  BestEffort means a memory request of 0: under memory pressure the kubelet's ranking puts it
  first (any usage exceeds a zero request), and its containers get oom_score_adj 1000, so the
  kernel OOM killer also picks them first. Losing kube-proxy, the CNI agent or CoreDNS under
  pressure turns a memory problem into a networking outage. Only a system-node-critical priority
  class changes the kernel's choice (oom_score_adj -997); system-cluster-critical does not.

HOW TO CONFIRM
  kubectl get pod -n NS POD -o jsonpath='{.status.qosClass} {.spec.priorityClassName}'
  cat /proc/<pid>/oom_score_adj   (1000 for BestEffort)

WHAT TO CHANGE
  Give the pod's containers memory (and CPU) requests sized to their real use, so it becomes
  Burstable, and for node agents set priorityClassName: system-node-critical."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for pod in &snap.pods {
            if pod.qos != Some(Qos::BestEffort) || pod.cgroup.is_none() {
                continue;
            }
            let Some(ns) = pod.namespace.as_deref() else {
                continue;
            };
            if !SYSTEM_NAMESPACES.contains(&ns) {
                continue;
            }
            let adj: Vec<i64> = snap
                .processes
                .iter()
                .filter(|p| {
                    p.container_id
                        .as_ref()
                        .is_some_and(|id| pod.containers.iter().any(|c| &c.id == id && !c.sandbox))
                })
                .filter_map(|p| p.oom_score_adj)
                .collect();
            // system-node-critical pods get -997 whatever their QoS (qos/policy.go) and the
            // kubelet refuses to evict critical pods: the local sign that the pod is protected.
            if !adj.is_empty() && adj.iter().all(|&a| a <= -997) {
                continue;
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!("BestEffort in {ns}: evicted first under pressure, oom_score_adj {}", adj.iter().max().map_or("1000".into(), |a| a.to_string())),
                Subject::pod(pod.namespace.clone(), pod.name.clone()),
                serde_json::json!({ "qos": "BestEffort", "namespace": ns, "oom_score_adj": adj }),
                "set memory and CPU requests on its containers; for node agents use priorityClassName system-node-critical",
            ));
        }
    }
}
