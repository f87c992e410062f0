//! `node.kubelet-not-running`: no kubelet process on the host that nodescope believes. A
//! process that only calls itself kubelet (collect::trust refused it) does not silence the
//! rule: it is named in the evidence, since an impostor is news of its own.

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
  No kubelet was found in the host's process table: no process named kubelet (/proc/<pid>/stat
  comm, or argv[0] ending in /kubelet), or only processes that call themselves kubelet without
  being it. A kubelet runs as root (real and effective uid 0) from an executable that root
  owns and no one else can write, outside any pod; a process that fails this is named in the
  evidence with the rule it failed, and nodescope ignores its flags (docs/security.md).

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
  ps -o user,pid,ppid,args -p <pid>       (for a process named in the evidence)
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
        let impostors: Vec<_> = snap
            .untrusted_daemons
            .iter()
            .filter(|u| u.claims == "kubelet")
            .collect();
        let mut title = format!(
            "no kubelet process among {} processes on {}",
            snap.processes.len(),
            snap.hostname()
        );
        let mut evidence = serde_json::json!({ "processes_scanned": snap.processes.len() });
        let mut remedy =
            "start the kubelet (systemctl restart kubelet) and read its journal for why it stopped"
                .to_string();
        if let Some(first) = impostors.first() {
            title = format!(
                "no trusted kubelet among {} processes on {}: process {} calls itself kubelet but {}{}",
                snap.processes.len(),
                snap.hostname(),
                first.pid,
                first.reason,
                match impostors.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            );
            evidence["untrusted_kubelets"] = serde_json::json!(
                impostors
                    .iter()
                    .map(|u| serde_json::json!({"pid": u.pid, "reason": u.reason}))
                    .collect::<Vec<_>>()
            );
            remedy.push_str(&format!(
                "; find out who started process {} (ps -o user,pid,ppid,args -p {}): it is not the kubelet",
                first.pid, first.pid
            ));
        }
        out.push(finding(
            self,
            Severity::Critical,
            title,
            Subject::node(snap),
            evidence,
            remedy,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::UntrustedDaemon;

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

    /// The snapshot of a node whose one process is `comm`, run by `uid`.
    fn node_with(comm: &str, uid: u32) -> Snapshot {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("proc/4242");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("stat"), format!(
                "4242 ({comm}) S 1 4242 4242 0 -1 4194560 1523 0 12 0 845 311 0 0 20 0 18 0 2543 \
                 294912000 24000 18446744073709551615 1 1 0 0 0 0 0 0 0 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0"
            )).unwrap();
        std::fs::write(p.join("cmdline"), format!("{comm}\0--v=2\0")).unwrap();
        std::fs::write(
            p.join("status"),
            format!("Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
        )
        .unwrap();
        std::fs::write(
            d.path().join("nodescope-bundle.json"),
            r#"{"format":"nodescope-bundle/1","captured_at":"2026-11-22T03:00:00Z","euid":0}"#,
        )
        .unwrap();
        crate::collect::snapshot(&crate::source::bundle::BundleHost::open(d.path()).unwrap())
    }

    #[test]
    fn an_impostor_does_not_silence_the_rule_and_is_named() {
        let mut out = Vec::new();
        let snap = node_with("kubelet", 65534);
        assert_eq!(
            snap.untrusted_daemons,
            [UntrustedDaemon {
                pid: 4242,
                claims: "kubelet".into(),
                reason: "runs as uid 65534".into(),
            }]
        );
        NodeKubeletNotRunning.check(&snap, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].title,
            "no trusted kubelet among 1 processes on unknown: process 4242 calls itself kubelet but runs as uid 65534"
        );
        assert_eq!(
            out[0].evidence["untrusted_kubelets"],
            serde_json::json!([{"pid": 4242, "reason": "runs as uid 65534"}])
        );
        assert!(out[0].remedy.contains("ps -o user,pid,ppid,args -p 4242"));

        let mut out = Vec::new();
        NodeKubeletNotRunning.check(&node_with("sleep", 65534), &mut out);
        assert_eq!(
            out[0].title,
            "no kubelet process among 1 processes on unknown"
        );
        assert!(out[0].evidence.get("untrusted_kubelets").is_none());
    }
}
