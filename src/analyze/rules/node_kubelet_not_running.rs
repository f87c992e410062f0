//! `node.kubelet-not-running`: no kubelet process on the host.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeKubeletNotRunning;

impl Rule for NodeKubeletNotRunning {
    fn id(&self) -> &'static str {
        "node.kubelet-not-running"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "no kubelet process is running on the node"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  No process named kubelet was found in the host's process table (/proc/<pid>/stat comm, or
  argv[0] ending in /kubelet).

WHY IT MATTERS
  Without the kubelet nothing on this node is managed: no pods start or restart, no probes run,
  no eviction protects the node from memory or disk exhaustion, and the node stops posting
  status. After node-monitor-grace-period (40s-50s) the control plane marks it NotReady and,
  after the toleration of node.kubernetes.io/unreachable (300s by default), evicts its pods.
  If this is not a Kubernetes node at all, this finding is expected.

HOW TO CONFIRM
  systemctl status kubelet
  journalctl -u kubelet --since -15m --no-pager | tail -50
  pgrep -a kubelet
  Inside kubectl debug: run nodescope with the host's PID namespace (the sysadmin or general
  profile share it); without hostPID the host's processes are invisible.

WHAT TO CHANGE
  Start it (systemctl restart kubelet) and read why it stopped: an expired client certificate
  (/var/lib/kubelet/pki), a config that no longer parses after an upgrade, swap enabled with
  failSwapOn, a cgroup driver that does not match the runtime's, or the runtime socket missing."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        if snap.kubelet.is_some() || !snap.processes_known() {
            // No process table at all means we could not look, not that the kubelet is gone.
            return;
        }
        out.push(finding(
            self,
            Severity::Critical,
            format!(
                "no kubelet process among {} processes on {}",
                snap.processes.len(),
                snap.hostname()
            ),
            Subject::node(snap),
            serde_json::json!({ "processes_scanned": snap.processes.len() }),
            "start the kubelet (systemctl restart kubelet) and read its journal for why it stopped",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    #[test]
    fn processes_without_a_kubelet_fire() {
        let mut s = snap();
        s.processes = vec![process(1, "systemd", None), process(2, "containerd", None)];
        let f = one(&NodeKubeletNotRunning, &s);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.title, "no kubelet process among 2 processes on node-a");
    }

    #[test]
    fn a_kubelet_found_is_silent() {
        let mut s = snap();
        s.processes = vec![process(1, "systemd", None)];
        s.kubelet = kubelet(kubelet_defaults());
        assert!(run(&NodeKubeletNotRunning, &s).is_empty());
    }

    #[test]
    fn an_unreadable_process_table_proves_nothing() {
        assert!(run(&NodeKubeletNotRunning, &snap()).is_empty());
    }
}
