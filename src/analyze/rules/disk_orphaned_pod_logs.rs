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
