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
                Subject::of_pod(pod),
                serde_json::json!({ "qos": "BestEffort", "namespace": ns, "oom_score_adj": adj }),
                "set memory and CPU requests on its containers; for node agents use priorityClassName system-node-critical",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    /// A BestEffort pod in `ns` whose one container process has `adj`.
    fn node(ns: &str, adj: Option<i64>) -> Snapshot {
        let mut s = snap();
        let mut p = pod(ns, "agent", "u1");
        p.qos = Some(Qos::BestEffort);
        p.containers.push(container("c1", "agent", None));
        s.pods.push(p);
        let mut pr = process(100, "agent", Some("c1"));
        pr.oom_score_adj = adj;
        s.processes.push(pr);
        s
    }

    #[test]
    fn besteffort_in_a_system_namespace_fires() {
        let f = one(
            &EvictionBesteffortCritical,
            &node("kube-system", Some(1000)),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "BestEffort in kube-system: evicted first under pressure, oom_score_adj 1000"
        );
        assert_eq!(f.evidence["oom_score_adj"], serde_json::json!([1000]));
    }

    #[test]
    fn other_namespaces_and_other_classes_are_silent() {
        assert!(run(&EvictionBesteffortCritical, &node("shop", Some(1000))).is_empty());
        let mut s = node("kube-system", Some(1000));
        s.pods[0].qos = Some(Qos::Burstable);
        assert!(run(&EvictionBesteffortCritical, &s).is_empty());
        let mut s = node("kube-system", Some(1000));
        s.pods[0].qos = None;
        assert!(run(&EvictionBesteffortCritical, &s).is_empty());
    }

    #[test]
    fn a_node_critical_pod_at_minus_997_is_protected_and_minus_996_is_not() {
        // qos/policy.go gives node-critical pods -997 whatever their class.
        assert!(
            run(
                &EvictionBesteffortCritical,
                &node("kube-system", Some(-997))
            )
            .is_empty()
        );
        assert_eq!(
            run(
                &EvictionBesteffortCritical,
                &node("kube-system", Some(-996))
            )
            .len(),
            1
        );
    }

    #[test]
    fn without_processes_the_kubelets_default_1000_is_assumed() {
        let mut s = node("gpu-operator", None);
        s.processes.clear();
        assert!(
            one(&EvictionBesteffortCritical, &s)
                .title
                .ends_with("oom_score_adj 1000")
        );
    }

    #[test]
    fn a_pod_whose_cgroup_is_gone_does_not_run() {
        let mut s = node("kube-system", Some(1000));
        s.pods[0].cgroup = None;
        assert!(run(&EvictionBesteffortCritical, &s).is_empty());
    }

    #[test]
    fn the_sandbox_process_does_not_speak_for_the_pod() {
        let mut s = node("kube-system", Some(-997));
        s.pods[0].containers[0].sandbox = true;
        // The only -997 process is the pause container's: the workload's adj is unknown.
        assert!(
            one(&EvictionBesteffortCritical, &s)
                .title
                .ends_with("oom_score_adj 1000")
        );
    }
}
