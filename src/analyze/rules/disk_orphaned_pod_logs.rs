//! `disk.orphaned-pod-logs`: log directories of pods that no longer exist on the node.

use crate::analyze::disk::pod_running;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct DiskOrphanedPodLogs;

impl Rule for DiskOrphanedPodLogs {
    fn id(&self) -> &'static str {
        "disk.orphaned-pod-logs"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "pod log directories left behind by pods that no longer run here"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  /var/log/pods/<namespace>_<pod>_<uid> exists, but the pod has neither a pod cgroup nor a
  directory under the kubelet's root (/var/lib/kubelet/pods/<uid>): it no longer runs on this
  node, yet its logs remain.

WHY IT MATTERS
  The kubelet removes a pod's logs when it removes the pod. Directories survive a kubelet that
  crashed or was restarted mid-cleanup, a node whose kubelet root was wiped, or pods run by
  something other than this kubelet. They count against nodefs (or the log filesystem) and,
  piled up over months, fill it.

HOW TO CONFIRM
  ls /var/log/pods; crictl pods -q
  ls /var/lib/kubelet/pods
  du -sh /var/log/pods/NS_POD_UID
  kubectl get pods -A -o jsonpath='{..metadata.uid}' | tr ' ' '\\n' | grep UID

WHAT TO CHANGE
  Delete the directories of pods that no longer exist (after copying what an investigation
  needs). If they keep appearing, look at why the kubelet's cleanup fails (its log: 'Orphaned
  pod found')."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for l in &snap.disk.pod_logs {
            if pod_running(snap, &l.uid) != Some(false) {
                continue;
            }
            if snap.disk.pod_dirs.iter().any(|d| d.uid == l.uid) {
                continue;
            }
            let bytes = l.walk.as_ref().map(|w| w.bytes);
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{}/{} is gone but its logs remain: {} ({})",
                    l.namespace,
                    l.pod,
                    l.path,
                    bytes.map_or("size unknown".into(), units::bytes)
                ),
                Subject::pod(Some(l.namespace.clone()), Some(l.pod.clone()))
                    .with_path(l.path.clone()),
                serde_json::json!({
                    "uid": l.uid,
                    "path": l.path,
                    "bytes": bytes,
                    "files": l.walk.as_ref().map(|w| w.files),
                }),
                // The directory name is the node's (a pod's namespace and name): quoted, the
                // command removes that directory and runs nothing else when pasted.
                format!(
                    "rm -rf {} (copy what an investigation needs first)",
                    crate::model::text::shell_word(&l.path)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::{PodDir, PodLogDir};
    use crate::source::Walk;

    /// A node whose pod cgroups were found, with the log directory of pod `u1`.
    fn node() -> Snapshot {
        let mut s = snap_with_kubepods();
        s.disk.pod_logs.push(PodLogDir {
            uid: "u1".into(),
            namespace: "shop".into(),
            pod: "web".into(),
            path: "/var/log/pods/shop_web_u1".into(),
            walk: Some(Walk {
                bytes: 2048,
                files: 2,
                ..Default::default()
            }),
        });
        s
    }

    #[test]
    fn logs_of_a_pod_with_no_cgroup_and_no_pod_directory_are_orphaned() {
        let f = one(&DiskOrphanedPodLogs, &node());
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "shop/web is gone but its logs remain: /var/log/pods/shop_web_u1 (2Ki)"
        );
        assert_eq!(
            f.remedy,
            "rm -rf /var/log/pods/shop_web_u1 (copy what an investigation needs first)"
        );
    }

    #[test]
    fn a_running_pod_is_not_orphaned() {
        let mut s = node();
        s.pods.push(pod("shop", "web", "u1"));
        assert!(run(&DiskOrphanedPodLogs, &s).is_empty());
    }

    #[test]
    fn a_pod_found_without_a_cgroup_is_gone() {
        let mut s = node();
        let mut p = pod("shop", "web", "u1");
        p.cgroup = None;
        s.pods.push(p);
        assert_eq!(run(&DiskOrphanedPodLogs, &s).len(), 1);
    }

    #[test]
    fn a_pod_directory_left_behind_is_the_volume_rules_business() {
        let mut s = node();
        s.disk.pod_dirs.push(PodDir {
            uid: "u1".into(),
            path: "/var/lib/kubelet/pods/u1".into(),
            volumes: Vec::new(),
        });
        assert!(run(&DiskOrphanedPodLogs, &s).is_empty());
    }

    #[test]
    fn without_the_pod_cgroups_nothing_can_be_called_orphaned() {
        let mut s = node();
        s.cgroup.kubepods_path = None;
        assert!(run(&DiskOrphanedPodLogs, &s).is_empty());
    }

    #[test]
    fn an_unwalked_directory_says_its_size_is_unknown() {
        let mut s = node();
        s.disk.pod_logs[0].walk = None;
        assert!(
            one(&DiskOrphanedPodLogs, &s)
                .title
                .ends_with("(size unknown)")
        );
    }
}
