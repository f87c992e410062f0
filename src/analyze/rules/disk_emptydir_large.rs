//! `disk.emptydir-large`: an emptyDir volume holding more than 1 GiB of nodefs.

use crate::analyze::disk::pod_names;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct DiskEmptydirLarge;

/// Size from which an emptyDir is worth a look (docs/rules.md).
const MIN_BYTES: u64 = 1024 * 1024 * 1024;

impl Rule for DiskEmptydirLarge {
    fn id(&self) -> &'static str {
        "disk.emptydir-large"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "an emptyDir volume holds more than 1 GiB of node disk"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A disk-backed emptyDir, /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>,
  holds more than 1 GiB. It lives on nodefs and is shared with every other pod's logs and
  volumes.

WHY IT MATTERS
  emptyDir usage counts toward the pod's ephemeral-storage. Without a sizeLimit or an
  ephemeral-storage limit nothing stops it from filling nodefs, and when DiskPressure comes the
  kubelet evicts by usage over request: this pod first, but only after the node has suffered.
  With a limit, the kubelet evicts the pod as soon as it passes it.

HOW TO CONFIRM
  du -sh /var/lib/kubelet/pods/UID/volumes/kubernetes.io~empty-dir/*
  kubectl get pod -n NS POD -o jsonpath='{.spec.volumes}'
  kubectl describe pod -n NS POD | grep -i ephemeral

WHAT TO CHANGE
  Give the volume a sizeLimit and the containers ephemeral-storage requests and limits, clean up
  what the application leaves there, or move large scratch data to a PersistentVolume."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for d in &snap.disk.pod_dirs {
            for v in &d.volumes {
                let Some(w) = &v.walk else { continue };
                if v.memory_backed || w.bytes <= MIN_BYTES {
                    continue;
                }
                let (ns, pod) = pod_names(snap, &d.uid);
                out.push(finding(
                    self,
                    Severity::Warning,
                    format!(
                        "emptyDir {} of {} holds {} in {} files{}",
                        v.name,
                        crate::model::pod_ref(ns.as_deref(), pod.as_deref(), &d.uid),
                        units::bytes(w.bytes),
                        w.files,
                        if w.complete { "" } else { " (at least; walk cut short)" }
                    ),
                    Subject::pod(ns, pod.or_else(|| Some(d.uid.clone()))).with_path(v.path.clone()),
                    serde_json::json!({
                        "uid": d.uid,
                        "volume": v.name,
                        "path": v.path,
                        "bytes": w.bytes,
                        "files": w.files,
                        "largest_files": w.largest_files,
                    }),
                    "set emptyDir.sizeLimit and ephemeral-storage limits; clean up or move scratch data to a PersistentVolume",
                ));
            }
        }
    }
}
