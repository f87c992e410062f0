//! `gpu.pending-pod`: a Pending pod asks for a GPU; every reason it does not fit, by node.

use crate::analyze::gpu::pending;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuPendingPod;

/// What the diagnosis does not evaluate, said in every finding: the scheduler's other filters
/// need every pod of every node, or objects nodescope does not read.
pub const NOT_EVALUATED: &[&str] = &[
    "cpu, memory, ephemeral-storage and pod-count fit (only GPU resources are counted)",
    "init containers and pod overhead in what pods hold",
    "preferred node affinity (a score, not a filter), inter-pod affinity, topology spread, ports, volumes",
    "nodes beyond the first 64 GPU nodes listed",
];

impl Rule for GpuPendingPod {
    fn id(&self) -> &'static str {
        "gpu.pending-pod"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a Pending pod requests a GPU; every reason it does not schedule"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A pod in phase Pending requests an nvidia.com/ resource. nodescope evaluates it against every
  node the API lists, as the scheduler's filters would, and names every reason that applies:
  all-allocated (the node's GPUs are held), operator-unhealthy (the GPU stack on the node is
  down), labels-missing (the pod selects labels no node carries: feature discovery not
  running), untolerated-taint (GPU nodes are tainted, the pod lacks the toleration),
  affinity-mismatch (its selector or affinity matches no GPU node), exceeds-node-capacity (it
  asks for more GPUs than any one node has), mig-resource-mismatch (it asks for nvidia.com/gpu
  where MIG slices are offered, or the reverse). The scheduler's own message is shown beside.
  What each candidate node has allocated of each GPU resource is counted: this node's from the
  device-plugin checkpoint, every other GPU node's from its non-terminal pods (one list per
  node, at most 64 nodes). The scheduler's FailedScheduling message is parsed and reconciled
  node by node with the reasons computed (its first failing filter on each node); what differs
  is named.

WHY IT MATTERS
  '0/12 nodes are available: 12 Insufficient nvidia.com/gpu' while nvidia-smi works everywhere:
  six of the seven reasons are configuration, and the scheduler's message names only the first
  filter each node failed.

HOW TO CONFIRM
  kubectl describe pod -n NS POD    (Events: FailedScheduling)
  kubectl get nodes -o custom-columns=N:.metadata.name,GPU:.status.allocatable.nvidia\\.com/gpu,T:.spec.taints
  nodescope gpu

WHAT TO CHANGE
  The evidence's fix is the one change that would schedule the pod; the reasons list what else
  stands in the way on the other nodes."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let candidates = crate::analyze::gpu::candidate_nodes(snap);
        for d in pending(snap) {
            let codes: Vec<&str> = d.reasons.iter().map(|r| r.reason).collect();
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{}/{} Pending, asks for {}: {}",
                    d.namespace,
                    d.pod,
                    d.requests.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
                    if codes.is_empty() { "no reason found locally".to_string() } else { codes.join(", ") }
                ),
                Subject::pod(Some(d.namespace.clone()), Some(d.pod.clone())),
                serde_json::json!({
                    "reasons": d.reasons,
                    "requests": d.requests,
                    "scheduler_message": d.scheduler_message,
                    "scheduler_reasons": d.scheduler_message.as_deref().and_then(crate::analyze::gpu::parse_fit_error).map(|(n, r)| serde_json::json!({"nodes": n, "reasons": r})),
                    "fix": d.fix,
                    "allocation": d.allocation,
                    "reconciliation": d.reconciliation,
                    "not_evaluated": NOT_EVALUATED,
                    // `check` reports the pod on these nodes only (report::check::retain_local).
                    "candidate_nodes": candidates,
                }),
                d.fix.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::{ApiContainer, ApiNode, ApiPod, Cluster, Taint};

    fn node(res: &str) -> Snapshot {
        let mut s = snap();
        s.cluster = Some(Cluster {
            source: "test".into(),
            node: Some(ApiNode {
                name: NODE.into(),
                ..Default::default()
            }),
            nodes: vec![ApiNode {
                name: "gpu-1".into(),
                allocatable: [("nvidia.com/gpu".to_string(), "8".to_string())].into(),
                taints: vec![Taint {
                    key: "nvidia.com/gpu".into(),
                    value: None,
                    effect: "NoSchedule".into(),
                }],
                ..Default::default()
            }],
            pending: vec![ApiPod {
                uid: "p1".into(),
                namespace: "ml".into(),
                name: "train".into(),
                phase: Some("Pending".into()),
                containers: vec![ApiContainer {
                    name: "cuda".into(),
                    limits: [(res.to_string(), "2".to_string())].into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        s
    }

    #[test]
    fn a_pending_gpu_pod_fires_with_every_reason() {
        let f = one(&GpuPendingPod, &node("nvidia.com/gpu"));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "ml/train Pending, asks for 2 nvidia.com/gpu: untolerated-taint"
        );
        assert_eq!(
            f.evidence["reasons"][0]["nodes"],
            serde_json::json!(["gpu-1"])
        );
    }

    #[test]
    fn a_pending_pod_without_a_gpu_request_is_not_this_rules() {
        assert!(run(&GpuPendingPod, &node("memory")).is_empty());
        assert!(run(&GpuPendingPod, &snap()).is_empty());
    }

    #[test]
    fn with_no_reason_found_it_still_says_so() {
        let mut s = node("nvidia.com/gpu");
        if let Some(c) = s.cluster.as_mut() {
            c.nodes[0].taints.clear();
        }
        assert!(
            one(&GpuPendingPod, &s)
                .title
                .ends_with(": no reason found locally")
        );
    }
}
