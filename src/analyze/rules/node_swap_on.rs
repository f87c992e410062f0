//! `node.swap-on`: swap is active where the kubelet refuses it, or without the kubelet being
//! told how pods may use it.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeSwapOn;

impl Rule for NodeSwapOn {
    fn id(&self) -> &'static str {
        "node.swap-on"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "swap is on while failSwapOn is true, or without memorySwap configured"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  /proc/swaps lists an active swap area, and the kubelet's failSwapOn is true (the default,
  also assumed when no kubelet runs on a node with a container runtime), or failSwapOn is
  false but memorySwap.swapBehavior is not set.

WHY IT MATTERS
  With failSwapOn true the kubelet exits at start ('running with swap on is not supported,
  please disable swap'): systemd restarts it in a loop and the node stays NotReady - the
  classic result of a swap entry left in /etc/fstab or a zram generator after an OS upgrade.
  With failSwapOn false and no memorySwap, pods get no swap (NoSwap) while system daemons
  swap, and memory.available no longer tells the whole story of memory pressure.

HOW TO CONFIRM
  swapon --show; cat /proc/swaps
  journalctl -u kubelet | grep -i swap
  grep -i -e failSwapOn -e swapBehavior /var/lib/kubelet/config.yaml

WHAT TO CHANGE
  Turn swap off (swapoff -a; remove it from /etc/fstab; disable zram-generator or
  systemd-zram-setup), or run the kubelet with failSwapOn: false and memorySwap.swapBehavior
  LimitedSwap (NodeSwap, beta since 1.28) on cgroup v2 when swap is intended."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(swaps) = snap.health.swaps.as_ref() else {
            return;
        };
        if swaps.is_empty() {
            return;
        }
        let total_kb: u64 = swaps.iter().map(|s| s.size_kb).sum();
        let cfg = snap.kubelet.as_ref().map(|k| &k.config);
        let (severity, what) = match cfg {
            Some(c) if c.fail_swap_on => (
                Severity::Critical,
                "the kubelet's failSwapOn is true: it refuses to start".to_string(),
            ),
            Some(c) if c.memory_swap_behavior.is_empty() => (
                Severity::Warning,
                "failSwapOn is false but memorySwap.swapBehavior is not set".to_string(),
            ),
            Some(_) => return,
            None if snap.disk.runtime.is_some() => (
                Severity::Critical,
                "no kubelet runs; with its default failSwapOn=true it exits at start while swap is on".to_string(),
            ),
            None => return,
        };
        out.push(finding(
            self,
            severity,
            format!(
                "swap is on ({} area(s), {} MiB) and {what}",
                swaps.len(),
                total_kb / 1024
            ),
            Subject::node(snap),
            serde_json::json!({
                "swaps": swaps,
                "fail_swap_on": cfg.map(|c| c.fail_swap_on),
                "memory_swap_behavior": cfg.map(|c| c.memory_swap_behavior.clone()),
            }),
            if cfg.is_some_and(|c| !c.fail_swap_on) {
                "turn swap off (swapoff -a, remove it from /etc/fstab or the zram generator), or, failSwapOn being false already, set memorySwap.swapBehavior: LimitedSwap when swap is intended"
            } else {
                "turn swap off (swapoff -a, remove it from /etc/fstab or the zram generator), or set failSwapOn: false with memorySwap.swapBehavior: LimitedSwap when swap is intended"
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::KubeletInfo;
    use crate::model::health::SwapArea;

    fn node(swap: bool, flags: &[&str]) -> Snapshot {
        let mut s = snapshot();
        s.health.swaps = Some(if swap {
            vec![SwapArea {
                filename: "/swapfile".into(),
                kind: "file".into(),
                size_kb: 2_097_148,
                used_kb: 0,
            }]
        } else {
            vec![]
        });
        s.kubelet = Some(KubeletInfo {
            embedded_in: None,
            config_sources: Vec::new(),
            pid: 1,
            config_file: None,
            drop_ins: vec![],
            flags: Default::default(),
            config: crate::collect::kubelet_config_for_tests(flags),
        });
        s
    }

    #[test]
    fn swap_with_fail_swap_on_is_critical() {
        let f = run(&NodeSwapOn, &node(true, &[]));
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].title,
            "swap is on (1 area(s), 2047 MiB) and the kubelet's failSwapOn is true: it refuses to start"
        );
        assert!(run(&NodeSwapOn, &node(false, &[])).is_empty());
    }

    #[test]
    fn fail_swap_on_false_needs_memory_swap() {
        let f = run(&NodeSwapOn, &node(true, &["--fail-swap-on=false"]));
        assert_eq!(f[0].severity, Severity::Warning);
        let mut s = node(true, &["--fail-swap-on=false"]);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.memory_swap_behavior = "LimitedSwap".into();
        }
        assert!(run(&NodeSwapOn, &s).is_empty());
    }

    /// failSwapOn: false is proposed only to a kubelet that does not have it already.
    #[test]
    fn the_fix_does_not_propose_the_fail_swap_on_it_has() {
        let on = &run(&NodeSwapOn, &node(true, &[]))[0].remedy;
        assert!(on.contains("or set failSwapOn: false with"), "{on}");
        let off = &run(&NodeSwapOn, &node(true, &["--fail-swap-on=false"]))[0].remedy;
        assert!(!off.contains("set failSwapOn"), "{off}");
        assert!(off.ends_with("failSwapOn being false already, set memorySwap.swapBehavior: LimitedSwap when swap is intended"), "{off}");
    }
}
