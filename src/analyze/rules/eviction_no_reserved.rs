//! `eviction.no-reserved`: no memory reserved for the system or the kubelet.

use crate::analyze::remedy::{add_entry, reserved_memory_target, then_restart};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::units::bytes;
use crate::model::{KubeletInfo, Snapshot};

pub struct EvictionNoReserved;

impl Rule for EvictionNoReserved {
    fn id(&self) -> &'static str {
        "eviction.no-reserved"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "neither systemReserved nor kubeReserved memory: pods may starve the kubelet"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet's systemReserved and kubeReserved have no memory entry, so node allocatable memory
  is capacity minus the hard eviction threshold only.

WHY IT MATTERS
  The scheduler packs pods up to allocatable. With nothing reserved, pods may use memory the
  kernel, systemd, the container runtime and the kubelet itself need. Under pressure the kubelet
  (oom_score_adj -999) survives the OOM killer but stalls, misses its status updates, and the
  node goes NotReady: every pod on it is then rescheduled, not just the one that leaked.

HOW TO CONFIRM
  kubectl describe node NODE | grep -A6 -E '^(Capacity|Allocatable)'
  grep -A3 -E '(system|kube)Reserved' /var/lib/kubelet/config.yaml
  cat /sys/fs/cgroup/kubepods.slice/memory.max  (v2)  or  /sys/fs/cgroup/memory/kubepods/memory.limit_in_bytes  (v1)

WHAT TO CHANGE
  Reserve memory in the KubeletConfiguration, sized to the node (a common rule: 255Mi plus 6 %
  of memory up to 8Gi, 2 % above):
    systemReserved: {memory: \"512Mi\"}
    kubeReserved: {memory: \"512Mi\"}
  With enforceNodeAllocatable [pods] (the default) the kubepods cgroup limit then enforces it."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(k) = &snap.kubelet else { return };
        let c = &k.config;
        if c.system_reserved.contains_key("memory") || c.kube_reserved.contains_key("memory") {
            return;
        }
        let mut ev = serde_json::json!({
            "system_reserved": c.system_reserved,
            "kube_reserved": c.kube_reserved,
        });
        if let (Some(m), Some(kp)) = (
            snap.memory,
            snap.kubepods.as_ref().and_then(|k| k.limit_bytes),
        ) {
            ev["mem_total_bytes"] = m.mem_total_bytes.into();
            ev["kubepods_limit_bytes"] = kp.into();
        }
        out.push(finding(
            self,
            Severity::Warning,
            "no memory reserved for the system or the kubelet (systemReserved, kubeReserved)",
            Subject::node(snap),
            ev,
            remedy(snap, k),
        ));
    }
}

/// Reserve memory sized to the node ([`reserved_memory_target`]), 1Gi when its size is unknown.
fn remedy(snap: &Snapshot, k: &KubeletInfo) -> String {
    let size = snap
        .memory
        .map_or(1 << 30, |m| reserved_memory_target(m.mem_total_bytes));
    let sized = snap
        .memory
        .map(|m| format!(" (sized to {} of memory)", bytes(m.mem_total_bytes)))
        .unwrap_or_default();
    format!(
        "{}{sized}, {}",
        add_entry(k, "systemReserved", "memory", &bytes(size)),
        then_restart(k)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use std::collections::BTreeMap;

    fn node(system: &[(&str, &str)], kube: &[(&str, &str)]) -> Snapshot {
        let mut s = snap();
        let mut c = kubelet_defaults();
        let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        c.system_reserved = map(system);
        c.kube_reserved = map(kube);
        s.kubelet = kubelet(c);
        s
    }

    #[test]
    fn nothing_reserved_fires() {
        let f = one(&EvictionNoReserved, &node(&[], &[]));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.evidence["system_reserved"], serde_json::json!({}));
    }

    #[test]
    fn either_reservation_alone_is_enough() {
        assert!(run(&EvictionNoReserved, &node(&[("memory", "512Mi")], &[])).is_empty());
        assert!(run(&EvictionNoReserved, &node(&[], &[("memory", "512Mi")])).is_empty());
        assert!(
            run(
                &EvictionNoReserved,
                &node(&[("memory", "1Gi")], &[("memory", "1Gi")])
            )
            .is_empty()
        );
    }

    #[test]
    fn reserving_only_cpu_reserves_no_memory() {
        let f = one(
            &EvictionNoReserved,
            &node(&[("cpu", "500m")], &[("cpu", "100m")]),
        );
        assert_eq!(f.evidence["kube_reserved"]["cpu"], "100m");
    }

    #[test]
    fn the_kubepods_limit_is_shown_when_known() {
        let mut s = node(&[], &[]);
        s.memory = meminfo(16 << 30);
        s.kubepods = Some(crate::model::CgroupStats {
            limit_bytes: Some(15 << 30),
            ..cgroup("/kubepods.slice")
        });
        let f = one(&EvictionNoReserved, &s);
        assert_eq!(f.evidence["mem_total_bytes"], 16u64 << 30);
        assert_eq!(f.evidence["kubepods_limit_bytes"], 15u64 << 30);
    }

    #[test]
    fn no_kubelet_no_finding() {
        assert!(run(&EvictionNoReserved, &snap()).is_empty());
    }

    /// The reservation is sized to the node's memory and written where the kubelet takes its
    /// reservations: a flag when kubeReserved (for CPU) comes from one.
    #[test]
    fn the_fix_is_sized_to_the_node_and_follows_the_reservations_source() {
        let mut s = node(&[], &[]);
        s.memory = meminfo(16 << 30);
        assert_eq!(
            one(&EvictionNoReserved, &s).remedy,
            "add `systemReserved: {memory: 960Mi}` (sized to 16Gi of memory), then restart the kubelet"
        );
        let mut s = node(&[], &[("cpu", "100m")]);
        s.memory = meminfo(64 << 30);
        if let Some(k) = s.kubelet.as_mut() {
            k.config
                .sources
                .insert("kubeReserved".into(), crate::model::Provenance::Flag);
        }
        assert_eq!(
            one(&EvictionNoReserved, &s).remedy,
            "add `memory=1.9Gi` to `--system-reserved` (sized to 64Gi of memory), then restart the kubelet"
        );
    }
}
