//! `memory.global-oom`: a node-wide OOM kill. The node ran out of memory before the kubelet
//! evicted anything, and the kernel alone chose the victim.

use crate::analyze::oom::{human_age, kills};
use crate::analyze::{Finding, Rule, Severity, finding};
use crate::model::Snapshot;

pub struct MemoryGlobalOom;

impl Rule for MemoryGlobalOom {
    fn id(&self) -> &'static str {
        "memory.global-oom"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "a node-wide OOM kill: the kernel, not the kubelet, chose the victim"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kernel ran out of memory for the whole node (`Out of memory: Killed process ...`,
  `oom-kill:constraint=CONSTRAINT_NONE`) and killed the process with the highest oom_score,
  wherever it ran.

WHY IT MATTERS
  This should not happen on a well-configured node: the kubelet is meant to evict pods before
  memory runs out. It happens when memory is consumed faster than the kubelet's 10-second loop,
  when the hard threshold is too small to cover that gap, when system daemons use memory that
  was never reserved, or when the kubelet's view (memory.available counts active page cache as
  used) and the kernel's disagree. The victim is picked by oom_score: BestEffort pods (adj 1000)
  first, but a large Burstable pod can outscore them; system services may die too.

HOW TO CONFIRM
  dmesg -T | grep -E 'Out of memory|oom-kill:constraint=CONSTRAINT_NONE'
  journalctl -u kubelet --since -1h | grep -i evict
  kubectl describe node NODE | grep -A2 MemoryPressure

WHAT TO CHANGE
  Reserve memory for the system (systemReserved, kubeReserved), raise the hard memory.available
  threshold so it covers a burst of allocations within one 10 s loop, add a soft threshold, and
  set memory limits on the pods that grew. Find what was growing at the time of the kill."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for k in kills(snap).iter().filter(|k| k.kill.global) {
            let age = k.age_seconds(snap);
            let whom = match (&k.namespace, &k.pod) {
                (Some(ns), Some(p)) => format!("{ns}/{p}"),
                _ => "a process outside any pod".into(),
            };
            out.push(finding(
                self,
                Severity::Critical,
                format!(
                    "node out of memory: the kernel killed {} (pid {}) of {whom}{}",
                    k.kill.comm,
                    k.kill.pid,
                    age.map(|a| format!(" {} ago", human_age(a)))
                        .unwrap_or_default()
                ),
                k.subject(Some(snap.hostname())),
                serde_json::Value::Object(k.evidence(snap)),
                crate::analyze::remedy::node_oom(snap, k),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    const USEC: u64 = 9_000_000_000;

    fn node(global: bool) -> Snapshot {
        let mut s = snap();
        let cid = id('b');
        let mut p = pod("shop", "cache", "5678-ef01");
        p.containers.push(container(&cid, "redis", None));
        s.pods.push(p);
        s.oom_kills.push(kill(
            777,
            "redis-server",
            USEC,
            &container_path("5678-ef01", &cid),
            global,
        ));
        booted_so_that(&mut s, USEC, 90);
        s
    }

    #[test]
    fn a_node_wide_kill_is_critical_and_names_the_victims_pod() {
        let f = one(&MemoryGlobalOom, &node(true));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "node out of memory: the kernel killed redis-server (pid 777) of shop/cache 1m ago"
        );
        assert_eq!(f.subject.node.as_deref(), Some("node-a"));
        assert_eq!(f.evidence["constraint"], "CONSTRAINT_NONE");
    }

    #[test]
    fn a_memcg_kill_is_not_node_wide() {
        assert!(run(&MemoryGlobalOom, &node(false)).is_empty());
    }

    #[test]
    fn a_victim_outside_pods_is_said_so_and_an_unknown_boot_has_no_age() {
        let mut s = node(true);
        s.oom_kills[0] = kill(8, "dockerd", USEC, "/system.slice/docker.service", true);
        s.node.boot_time = None;
        assert_eq!(
            one(&MemoryGlobalOom, &s).title,
            "node out of memory: the kernel killed dockerd (pid 8) of a process outside any pod"
        );
    }

    /// The fix reads the configuration: the defaults get the missing soft tier and reservation
    /// (and a hard threshold sized to the node); a sound configuration is said to be sound, and
    /// either way the pod that grew is named with its anon-rss at the kill.
    #[test]
    fn the_fix_adds_only_what_the_config_lacks_and_names_the_pod_that_grew() {
        let mut s = node(true);
        s.memory = meminfo(16 << 30);
        s.oom_kills[0].anon_rss_kb = Some(12 << 20);
        s.kubelet = kubelet(kubelet_defaults());
        let lacking = one(&MemoryGlobalOom, &s).remedy;
        assert_eq!(
            lacking,
            "raise `evictionHard: memory.available` from 100Mi to 384Mi; add `evictionSoft: {memory.available: 768Mi}`; add `evictionSoftGracePeriod: {memory.available: 1m30s}`; add `systemReserved: {memory: 960Mi}`; shop/cache grew to 12Gi anon-rss (75% of 16Gi) with no memory limit; set a memory limit on shop/cache from its real need"
        );
        s.kubelet = kubelet(sound_memory_config());
        let sound = one(&MemoryGlobalOom, &s).remedy;
        assert_eq!(
            sound,
            "config is sound (evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved): shop/cache grew to 12Gi anon-rss (75% of 16Gi) with no memory limit; set a memory limit on shop/cache from its real need"
        );
        assert!(!sound.contains("add `"), "{sound}");
    }

    /// With the API's request for the pod that grew, the fix quotes it (an estimate is not
    /// quoted).
    #[test]
    fn the_pods_api_request_is_quoted() {
        use crate::model::cluster::{ApiContainer, ApiPod};
        let mut s = node(true);
        s.memory = meminfo(16 << 30);
        s.oom_kills[0].anon_rss_kb = Some(12 << 20);
        s.kubelet = kubelet(sound_memory_config());
        s.pods[0].api = Some(ApiPod {
            uid: "5678-ef01".into(),
            namespace: "shop".into(),
            name: "cache".into(),
            containers: vec![ApiContainer {
                name: "redis".into(),
                requests: [("memory".to_string(), "256Mi".to_string())].into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(
            one(&MemoryGlobalOom, &s).remedy,
            "config is sound (evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved): shop/cache grew to 12Gi anon-rss (75% of 16Gi) against a 256Mi request with no memory limit; set a memory limit on shop/cache from its real need"
        );
    }
}
