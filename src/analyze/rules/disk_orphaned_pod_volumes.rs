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
                // A pod nothing names is gone: `pod <uid> (deleted)`, as src/model/pod_facts.rs names it.
                Subject::pod(ns, pod.or_else(|| Some(format!("pod {} (deleted)", d.uid)))).with_path(d.path.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::{PodDir, PodLogDir, Volume};
    use crate::source::Walk;

    fn node() -> Snapshot {
        let mut s = snap_with_kubepods();
        s.disk.pod_dirs.push(PodDir {
            uid: "u1".into(),
            path: "/var/lib/kubelet/pods/u1".into(),
            volumes: vec![
                Volume {
                    plugin: "kubernetes.io~empty-dir".into(),
                    name: "cache".into(),
                    path: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/cache".into(),
                    memory_backed: false,
                    walk: Some(Walk {
                        bytes: 3 << 20,
                        ..Default::default()
                    }),
                },
                Volume {
                    plugin: "kubernetes.io~secret".into(),
                    name: "token".into(),
                    path: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/token".into(),
                    memory_backed: true,
                    walk: None,
                },
            ],
        });
        s
    }

    #[test]
    fn the_directory_of_a_pod_with_no_cgroup_is_orphaned() {
        let f = one(&DiskOrphanedPodVolumes, &node());
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "pod u1 no longer runs but /var/lib/kubelet/pods/u1 remains with 2 volume(s), 3Mi in emptyDirs"
        );
        assert_eq!(f.subject.pod.as_deref(), Some("pod u1 (deleted)"));
        assert_eq!(f.evidence["bytes"], 3u64 << 20);
    }

    #[test]
    fn its_name_comes_from_the_logs_when_they_remain() {
        let mut s = node();
        s.disk.pod_logs.push(PodLogDir {
            uid: "u1".into(),
            namespace: "shop".into(),
            pod: "web".into(),
            path: "/var/log/pods/shop_web_u1".into(),
            walk: None,
        });
        let f = one(&DiskOrphanedPodVolumes, &s);
        assert!(
            f.title.starts_with("shop/web (u1) no longer runs"),
            "{}",
            f.title
        );
    }

    #[test]
    fn a_running_pod_or_an_unknown_layout_is_silent() {
        let mut s = node();
        s.pods.push(pod("shop", "web", "u1"));
        assert!(run(&DiskOrphanedPodVolumes, &s).is_empty());
        let mut s = node();
        s.cgroup.kubepods_path = None;
        assert!(run(&DiskOrphanedPodVolumes, &s).is_empty());
    }
}
