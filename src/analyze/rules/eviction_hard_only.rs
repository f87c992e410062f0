//! `eviction.hard-only`: hard eviction thresholds with no soft tier above them.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

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
            "set evictionSoft and evictionSoftGracePeriod above the hard thresholds (e.g. memory.available 1Gi for 1m30s)",
        ));
    }
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
}
