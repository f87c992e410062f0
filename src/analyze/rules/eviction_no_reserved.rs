//! `eviction.no-reserved`: no memory reserved for the system or the kubelet.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

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
            "reserve memory: systemReserved {memory: 512Mi} and kubeReserved {memory: 512Mi}, sized to the node",
        ));
    }
}
