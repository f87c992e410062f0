//! `eviction.hard-only`: hard eviction thresholds with no soft tier above them.

use crate::analyze::remedy::{Remedy, add_entries, hard_memory_target, then_restart};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::quantity::quantity_value;
use crate::model::units::bytes;
use crate::model::{KubeletInfo, Snapshot, ThresholdValue};

pub struct EvictionHardOnly;

impl Rule for EvictionHardOnly {
    fn id(&self) -> &'static str {
        "eviction.hard-only"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "hard thresholds, no soft ones: every eviction is a 1-second-grace kill"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet has evictionHard thresholds (the default memory.available<100Mi counts) and no
  evictionSoft threshold at all.

WHY IT MATTERS
  A hard threshold evicts at once with a 1-second grace period: the pod's
  terminationGracePeriodSeconds is ignored, preStop hooks get no time, in-flight requests are
  dropped. A soft threshold (with evictionSoftGracePeriod) fires first, after the signal has stayed
  past it for the grace period, and terminates the pod gracefully (up to
  evictionMaxPodGracePeriod). With hard-only, a slow leak becomes an emergency kill, and a fast
  spike often meets the kernel OOM killer before the kubelet's 10-second loop notices at all.

HOW TO CONFIRM
  nodescope snapshot --format json | jq .kubelet.config.eviction_soft
  grep -A6 -E 'eviction(Hard|Soft)' /var/lib/kubelet/config.yaml
  ps -o args= -C kubelet | tr ' ' '\\n' | grep eviction

WHAT TO CHANGE
  Add a soft tier above each hard memory and disk threshold, e.g. in the KubeletConfiguration:
    evictionSoft: {memory.available: \"1Gi\", nodefs.available: \"15%\"}
    evictionSoftGracePeriod: {memory.available: \"1m30s\", nodefs.available: \"2m\"}
    evictionMaxPodGracePeriod: 60
  and restart the kubelet."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(k) = &snap.kubelet else { return };
        let c = &k.config;
        if c.eviction_hard.is_empty() || !c.eviction_soft.is_empty() {
            return;
        }
        let hard: serde_json::Map<String, serde_json::Value> = c
            .eviction_hard
            .iter()
            .map(|(s, v)| (s.clone(), v.to_string().into()))
            .collect();
        let source = c
            .sources
            .get("evictionHard")
            .map(|p| format!("{p:?}").to_lowercase())
            .unwrap_or_else(|| "default".into());
        out.push(finding(
            self,
            Severity::Warning,
            format!(
                "{} hard eviction threshold(s) and no soft threshold: evictions get a 1s grace period",
                c.eviction_hard.len()
            ),
            Subject::node(snap),
            serde_json::json!({ "eviction_hard": hard, "eviction_hard_source": source, "eviction_soft": {} }),
            remedy(snap, k),
        ));
    }
}

/// A soft tier above each hard threshold, in the form the kubelet takes its settings: twice a
/// quantity (for memory, twice at least [`hard_memory_target`] of the node), 5 points above a
/// percentage; a grace period of 1m30s for memory and 2m for the rest.
fn remedy(snap: &Snapshot, k: &KubeletInfo) -> String {
    let total = snap.memory.map(|m| m.mem_total_bytes);
    let mut soft = Vec::new();
    let mut grace = Vec::new();
    for (signal, v) in &k.config.eviction_hard {
        let value = match v {
            ThresholdValue::Percent(p) => format!("{}%", (p + 5.0).min(99.0)),
            ThresholdValue::Quantity(q) => {
                let n = quantity_value(q).unwrap_or(0).max(0) as u64;
                match (signal.as_str(), total) {
                    ("memory.available", Some(t)) => bytes(2 * n.max(hard_memory_target(t))),
                    (s, _) if s.ends_with(".available") => bytes(2 * n),
                    _ => (2 * n).to_string(),
                }
            }
        };
        soft.push((signal.clone(), value));
        let g = if signal == "memory.available" {
            "1m30s"
        } else {
            "2m"
        };
        if !k.config.eviction_soft_grace_period.contains_key(signal) {
            grace.push((signal.clone(), g.to_string()));
        }
    }
    let mut r = Remedy::new();
    r.step(add_entries(k, "evictionSoft", &soft));
    if !grace.is_empty() {
        r.step(add_entries(k, "evictionSoftGracePeriod", &grace));
    }
    r.step(then_restart(k));
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::Provenance;

    #[test]
    fn the_defaults_alone_are_hard_only() {
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        let f = one(&EvictionHardOnly, &s);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "5 hard eviction threshold(s) and no soft threshold: evictions get a 1s grace period"
        );
        assert_eq!(f.evidence["eviction_hard_source"], "default");
        assert_eq!(f.evidence["eviction_hard"]["memory.available"], "100Mi");
    }

    #[test]
    fn one_soft_threshold_clears_it() {
        let mut c = kubelet_defaults();
        c.eviction_soft = thresholds("memory.available", "1Gi");
        let mut s = snap();
        s.kubelet = kubelet(c);
        assert!(run(&EvictionHardOnly, &s).is_empty());
    }

    #[test]
    fn no_hard_threshold_at_all_is_another_rules_problem() {
        let mut c = kubelet_defaults();
        c.eviction_hard.clear();
        let mut s = snap();
        s.kubelet = kubelet(c);
        assert!(run(&EvictionHardOnly, &s).is_empty());
        assert!(run(&EvictionHardOnly, &snap()).is_empty());
    }

    #[test]
    fn the_source_of_the_hard_thresholds_is_said() {
        let mut c = kubelet_defaults();
        c.sources.insert("evictionHard".into(), Provenance::Flag);
        let mut s = snap();
        s.kubelet = kubelet(c);
        assert_eq!(
            one(&EvictionHardOnly, &s).evidence["eviction_hard_source"],
            "flag"
        );
    }

    /// The soft tier is computed from the hard thresholds in force and written where they are
    /// set: the configuration file for the defaults, the flags when they come from flags; a
    /// grace period already set is not added again.
    #[test]
    fn the_fix_is_computed_from_the_hard_thresholds_and_their_source() {
        let mut s = snap();
        s.memory = meminfo(16 << 30);
        s.kubelet = kubelet(kubelet_defaults());
        assert_eq!(
            one(&EvictionHardOnly, &s).remedy,
            "add `evictionSoft: {imagefs.available: 20%, imagefs.inodesFree: 10%, memory.available: 768Mi, nodefs.available: 15%, nodefs.inodesFree: 10%}`; add `evictionSoftGracePeriod: {imagefs.available: 2m, imagefs.inodesFree: 2m, memory.available: 1m30s, nodefs.available: 2m, nodefs.inodesFree: 2m}`; then restart the kubelet"
        );
        let mut c = kubelet_defaults();
        c.eviction_hard = thresholds("memory.available", "1Gi");
        c.eviction_soft_grace_period
            .insert("memory.available".into(), "2m".into());
        c.sources.insert("evictionHard".into(), Provenance::Flag);
        s.kubelet = kubelet(c);
        assert_eq!(
            one(&EvictionHardOnly, &s).remedy,
            "add `memory.available<2Gi` to `--eviction-soft`; then restart the kubelet"
        );
    }
}
