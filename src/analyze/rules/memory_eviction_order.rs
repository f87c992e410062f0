//! `memory.eviction-order`: who each killer takes first, side by side.

use crate::analyze::next_victims::{kernel_order, kubelet_order};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct MemoryEvictionOrder;

/// How many candidates each list shows.
const TOP: usize = 10;

impl Rule for MemoryEvictionOrder {
    fn id(&self) -> &'static str {
        "memory.eviction-order"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "who the kubelet would evict first, and who the kernel would OOM-kill first"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  Two orderings of the pods on this node. evidence.kubelet: the kubelet's eviction ranking under
  memory pressure (pkg/kubelet/eviction/helpers.go rankMemoryPressure: pods whose working set
  exceeds their memory request first, then lower priority, then larger usage over request;
  critical pods are never evicted). evidence.kernel: the processes in pods by oom_score, the
  kernel OOM killer's choice in a node-wide OOM.

WHY IT MATTERS
  The two differ. QoS sets oom_score_adj (Guaranteed -997, BestEffort 1000, Burstable from the
  request), but the kubelet ranks by usage over request, not by QoS. A Burstable pod far over
  its request is evicted before an idle BestEffort one; in a kernel OOM, the BestEffort one dies
  first. Knowing both tells you who is exposed before it happens.

HOW TO CONFIRM
  for p in /proc/[0-9]*; do echo \"$(cat $p/oom_score) $(cat $p/oom_score_adj) $(cat $p/comm)\"; done | sort -rn | head
  kubectl top pods -A --sort-by=memory
  kubectl get pods -A -o custom-columns=NS:.metadata.namespace,POD:.metadata.name,QOS:.status.qosClass,PRIO:.spec.priority

WHAT TO CHANGE
  Set memory requests close to real usage, so that the kubelet's first victims are the pods
  that actually overrun; give the pods you must keep priority (and, for node agents,
  system-node-critical). Without the API server, nodescope estimates requests from
  oom_score_adj and treats priorities as equal: the evidence says so."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let kubelet = kubelet_order(snap);
        if kubelet.is_empty() {
            return;
        }
        let kernel = kernel_order(snap);
        let first_k = kubelet.iter().find(|p| !p.critical);
        let name = |ns: &Option<String>, p: &Option<String>| {
            format!(
                "{}/{}",
                ns.as_deref().unwrap_or("?"),
                p.as_deref().unwrap_or("?")
            )
        };
        let title = match (first_k, kernel.first()) {
            (Some(k), Some(c)) => format!(
                "kubelet would evict {} first; the kernel would kill {} ({}, oom_score {}) first",
                name(&k.namespace, &k.pod),
                name(&c.namespace, &c.pod),
                c.comm,
                c.oom_score
            ),
            (Some(k), None) => format!("kubelet would evict {} first", name(&k.namespace, &k.pod)),
            _ => "every pod found is critical: the kubelet would evict none".into(),
        };
        let kubelet_list: Vec<serde_json::Value> = kubelet
            .iter()
            .take(TOP)
            .map(|p| {
                serde_json::json!({
                    "namespace": p.namespace, "pod": p.pod, "working_set_bytes": p.working_set_bytes,
                    "request_bytes_estimate": p.request_bytes, "exceeds_request": p.exceeds_request, "critical": p.critical,
                })
            })
            .collect();
        let kernel_list: Vec<serde_json::Value> = kernel
            .iter()
            .take(TOP)
            .map(|c| {
                serde_json::json!({
                    "namespace": c.namespace, "pod": c.pod, "container": c.container, "pid": c.pid,
                    "comm": c.comm, "oom_score": c.oom_score, "oom_score_adj": c.oom_score_adj,
                })
            })
            .collect();
        out.push(finding(
            self,
            Severity::Info,
            title,
            Subject::node(snap),
            serde_json::json!({
                "kubelet": kubelet_list,
                "kernel": kernel_list,
                "oom_score_adj_mismatches": crate::analyze::next_victims::adj_mismatches(snap),
                "approximation": "without the API server: memory requests estimated from oom_score_adj, priorities taken as equal",
            }),
            "set memory requests near real usage and priorities for the pods you must keep",
        ));
    }
}
