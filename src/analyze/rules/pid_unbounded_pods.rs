//! `pid.unbounded-pods`: pods without a PID limit on a kubelet without `podPidsLimit`.

use crate::analyze::remedy::{add_scalar, then_restart};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct PidUnboundedPods;

impl Rule for PidUnboundedPods {
    fn id(&self) -> &'static str {
        "pid.unbounded-pods"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "pods with pids.max = max while the kubelet sets no podPidsLimit"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The pod's cgroup has pids.max set to max (no limit) and the kubelet's podPidsLimit is unset
  (-1, the default), so nothing bounds how many processes or threads the pod may create.

WHY IT MATTERS
  PIDs are a node-wide resource (kernel.pid_max, kernel.threads-max). One pod with a fork bomb or
  a thread leak can exhaust them; then every fork() on the node fails: new containers, probes
  that exec, sshd, the kubelet. PID pressure taints the node, and the kubelet evicts for PIDs
  only when a pid.available threshold is configured.

HOW TO CONFIRM
  cat /sys/fs/cgroup/kubepods.slice/*/*/pids.max       (v2)
  cat /sys/fs/cgroup/pids/kubepods/*/pod*/pids.max      (v1)
  grep podPidsLimit /var/lib/kubelet/config.yaml

WHAT TO CHANGE
  Set podPidsLimit in the KubeletConfiguration (e.g. 4096, well above any real workload) and
  restart the kubelet; new pods get pids.max set."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(k) = &snap.kubelet else { return };
        if k.config.pod_pids_limit > 0 {
            return;
        }
        for pod in &snap.pods {
            let Some(cg) = &pod.cgroup else { continue };
            if !cg.pids_unbounded {
                continue;
            }
            out.push(finding(
                self,
                Severity::Info,
                format!("no PID limit ({} processes/threads now)", cg.pids_current.map_or("?".into(), |p| p.to_string())),
                Subject::pod(pod.namespace.clone(), pod.name.clone()),
                serde_json::json!({ "pids_current": cg.pids_current, "pids_max": "max", "pod_pids_limit": k.config.pod_pids_limit, "cgroup": cg.path }),
                format!(
                    "{}, {}",
                    add_scalar(k, "podPidsLimit", "4096"),
                    then_restart(k)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    fn node(pod_pids_limit: i64, unbounded: bool) -> Snapshot {
        let mut s = snap();
        let mut c = kubelet_defaults();
        c.pod_pids_limit = pod_pids_limit;
        s.kubelet = kubelet(c);
        let mut p = pod("shop", "web", "u1");
        if let Some(cg) = p.cgroup.as_mut() {
            cg.pids_unbounded = unbounded;
            cg.pids_current = Some(12);
            cg.pids_max = if unbounded { None } else { Some(4096) };
        }
        s.pods.push(p);
        s
    }

    #[test]
    fn an_unbounded_pod_without_pod_pids_limit_is_info() {
        for unset in [-1, 0] {
            let f = one(&PidUnboundedPods, &node(unset, true));
            assert_eq!(f.severity, Severity::Info);
            assert_eq!(f.title, "no PID limit (12 processes/threads now)");
        }
    }

    #[test]
    fn a_pod_pids_limit_of_one_is_a_limit() {
        assert!(run(&PidUnboundedPods, &node(1, true)).is_empty());
    }

    #[test]
    fn a_bounded_pod_or_one_without_a_cgroup_is_silent() {
        assert!(run(&PidUnboundedPods, &node(-1, false)).is_empty());
        let mut s = node(-1, true);
        s.pods[0].cgroup = None;
        assert!(run(&PidUnboundedPods, &s).is_empty());
    }

    #[test]
    fn no_kubelet_no_judgement() {
        let mut s = node(-1, true);
        s.kubelet = None;
        assert!(run(&PidUnboundedPods, &s).is_empty());
    }
}
