//! `eviction.no-minimum-reclaim`: no evictionMinimumReclaim, so a pressured node flaps.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct EvictionNoMinimumReclaim;

impl Rule for EvictionNoMinimumReclaim {
    fn id(&self) -> &'static str {
        "eviction.no-minimum-reclaim"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "no evictionMinimumReclaim: a pressured node evicts pod after pod, flapping"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet has eviction thresholds but no evictionMinimumReclaim for any signal.

WHY IT MATTERS
  Without a minimum reclaim the kubelet stops evicting as soon as the signal is a hair above the
  threshold (met iff threshold > available). Usage creeps back, the threshold is met again, and
  the node evicts another pod every few monitoring loops (10s each), flapping MemoryPressure or
  DiskPressure. evictionMinimumReclaim adds to the threshold while reclaiming, so each eviction
  buys real headroom (helpers.go:thresholdsMet with enforceMinReclaim).

HOW TO CONFIRM
  nodescope snapshot --format json | jq .kubelet.config.eviction_minimum_reclaim
  kubectl get events -A --field-selector reason=Evicted --sort-by=.lastTimestamp | tail
  kubectl describe node NODE | grep -A3 -E 'MemoryPressure|DiskPressure'

WHAT TO CHANGE
  In the KubeletConfiguration:
    evictionMinimumReclaim: {memory.available: \"256Mi\", nodefs.available: \"1Gi\", imagefs.available: \"2Gi\"}"
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(k) = &snap.kubelet else { return };
        let c = &k.config;
        if !c.eviction_minimum_reclaim.is_empty()
            || (c.eviction_hard.is_empty() && c.eviction_soft.is_empty())
        {
            return;
        }
        out.push(finding(
            self,
            Severity::Info,
            "no evictionMinimumReclaim: each eviction reclaims only to the threshold's edge",
            Subject::node(snap),
            serde_json::json!({ "eviction_minimum_reclaim": {} }),
            "set evictionMinimumReclaim (e.g. memory.available 256Mi, nodefs.available 1Gi)",
        ));
    }
}
