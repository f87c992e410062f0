//! `eviction.no-minimum-reclaim`: no evictionMinimumReclaim, so a pressured node flaps.

use crate::analyze::remedy::{add_entries, then_restart};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::{KubeletInfo, Snapshot};

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
            remedy(k),
        ));
    }
}

/// A minimum reclaim for each signal that has a threshold, as large as that threshold (the
/// soft one when there is no hard one): each eviction then frees twice the threshold's room.
fn remedy(k: &KubeletInfo) -> String {
    let c = &k.config;
    let mut entries: Vec<(String, String)> = c
        .eviction_hard
        .iter()
        .map(|(s, v)| (s.clone(), v.to_string()))
        .collect();
    for (s, v) in &c.eviction_soft {
        if !c.eviction_hard.contains_key(s) {
            entries.push((s.clone(), v.to_string()));
        }
    }
    format!(
        "{}, {}",
        add_entries(k, "evictionMinimumReclaim", &entries),
        then_restart(k)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    fn node(c: crate::model::KubeletConfig) -> Snapshot {
        let mut s = snap();
        s.kubelet = kubelet(c);
        s
    }

    #[test]
    fn thresholds_without_minimum_reclaim_fire_as_info() {
        let f = one(&EvictionNoMinimumReclaim, &node(kubelet_defaults()));
        assert_eq!(f.severity, Severity::Info);
    }

    #[test]
    fn one_minimum_reclaim_clears_it() {
        let mut c = kubelet_defaults();
        c.eviction_minimum_reclaim = thresholds("memory.available", "256Mi");
        assert!(run(&EvictionNoMinimumReclaim, &node(c)).is_empty());
    }

    #[test]
    fn soft_thresholds_alone_need_it_too() {
        let mut c = kubelet_defaults();
        c.eviction_hard.clear();
        c.eviction_soft = thresholds("memory.available", "1Gi");
        assert_eq!(run(&EvictionNoMinimumReclaim, &node(c)).len(), 1);
    }

    #[test]
    fn no_threshold_at_all_has_nothing_to_reclaim_to() {
        let mut c = kubelet_defaults();
        c.eviction_hard.clear();
        assert!(run(&EvictionNoMinimumReclaim, &node(c)).is_empty());
        assert!(run(&EvictionNoMinimumReclaim, &snap()).is_empty());
    }

    /// The reclaim is sized from the thresholds in force: the hard one for each signal, the
    /// soft one where there is no hard one.
    #[test]
    fn the_fix_names_each_configured_signal_with_its_threshold() {
        let mut c = kubelet_defaults();
        c.eviction_hard = thresholds("memory.available", "500Mi");
        c.eviction_soft = thresholds("nodefs.available", "15%");
        c.eviction_soft
            .extend(thresholds("memory.available", "1Gi"));
        assert_eq!(
            one(&EvictionNoMinimumReclaim, &node(c)).remedy,
            "add `evictionMinimumReclaim: {memory.available: 500Mi, nodefs.available: 15%}`, then restart the kubelet"
        );
        let f = one(&EvictionNoMinimumReclaim, &node(kubelet_defaults()));
        assert!(f.remedy.starts_with("add `evictionMinimumReclaim: {imagefs.available: 15%, imagefs.inodesFree: 5%, memory.available: 100Mi"), "{}", f.remedy);
    }
}
