//! `disk.orphaned-pod-volumes`: kubelet pod directories of pods that no longer run.

use crate::analyze::disk::{pod_names, pod_running};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct DiskOrphanedPodVolumes;

impl Rule for DiskOrphanedPodVolumes {
    fn id(&self) -> &'static str {
        "disk.orphaned-pod-volumes"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "kubelet pod directories (volumes) of pods that no longer run"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  /var/lib/kubelet/pods/<uid> exists (with its volumes: emptyDirs, secrets, configmaps, CSI
  mounts) but no pod cgroup with that UID does: the pod no longer runs here.

WHY IT MATTERS
  The kubelet's housekeeping removes a pod's directory once its volumes are unmounted. When an
  unmount fails (a busy or stuck CSI or NFS mount, a process still inside), the directory stays,
  the kubelet logs 'orphaned pod ... found, but error occurred when trying to remove the volumes
  dir' every two seconds, and an emptyDir's data keeps using nodefs.

HOW TO CONFIRM
  ls /var/lib/kubelet/pods; crictl pods -q
  findmnt -R /var/lib/kubelet/pods/UID
  journalctl -u kubelet | grep -i 'orphaned pod'

WHAT TO CHANGE
  Unmount what is still mounted under the directory (umount, or umount -l for a dead network
  mount), then let the kubelet remove it, or remove it by hand. Fix the volume plugin that fails
  to unmount."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for d in &snap.disk.pod_dirs {
            if pod_running(snap, &d.uid) != Some(false) {
                continue;
            }
            let (ns, pod) = pod_names(snap, &d.uid);
            let bytes: u64 = d
                .volumes
                .iter()
                .filter_map(|v| v.walk.as_ref())
                .map(|w| w.bytes)
                .sum();
            let name = match (&ns, &pod) {
                (Some(ns), Some(p)) => format!("{ns}/{p} ({})", d.uid),
                _ => format!("pod {}", d.uid),
            };
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{name} no longer runs but {} remains with {} volume(s), {} in emptyDirs",
                    d.path,
                    d.volumes.len(),
                    units::bytes(bytes)
                ),
                Subject::pod(ns, pod.or_else(|| Some(d.uid.clone()))).with_path(d.path.clone()),
                serde_json::json!({
                    "uid": d.uid,
                    "path": d.path,
                    "volumes": d.volumes.iter().map(|v| serde_json::json!({
                        "plugin": v.plugin, "name": v.name, "bytes": v.walk.as_ref().map(|w| w.bytes),
                        "memory_backed": v.memory_backed,
                    })).collect::<Vec<_>>(),
                    "bytes": bytes,
                }),
                // The directory name is the node's: quoted, pasting runs findmnt and nothing else.
                format!(
                    "findmnt -R {}; unmount what remains, then remove the directory",
                    crate::model::text::shell_word(&d.path)
                ),
            ));
        }
    }
}
