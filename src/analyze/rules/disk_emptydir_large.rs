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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::{PodDir, Volume};
    use crate::source::Walk;

    const GIB: u64 = 1 << 30;

    fn node(bytes: u64, memory_backed: bool) -> Snapshot {
        let mut s = snap();
        s.pods.push(pod("shop", "web", "u1"));
        let path = "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/scratch";
        s.disk.pod_dirs.push(PodDir {
            uid: "u1".into(),
            path: "/var/lib/kubelet/pods/u1".into(),
            volumes: vec![Volume {
                plugin: "kubernetes.io~empty-dir".into(),
                name: "scratch".into(),
                path: path.into(),
                memory_backed,
                walk: Some(Walk {
                    path: path.into(),
                    bytes,
                    files: 3,
                    complete: true,
                    ..Default::default()
                }),
            }],
        });
        s
    }

    #[test]
    fn one_byte_over_a_gibibyte_fires_and_exactly_one_does_not() {
        let f = one(&DiskEmptydirLarge, &node(GIB + 1, false));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.title, "emptyDir scratch of shop/web holds 1Gi in 3 files");
        assert_eq!(f.evidence["bytes"], GIB + 1);
        assert!(run(&DiskEmptydirLarge, &node(GIB, false)).is_empty());
    }

    #[test]
    fn memory_backed_volumes_use_no_disk() {
        assert!(run(&DiskEmptydirLarge, &node(10 * GIB, true)).is_empty());
    }

    #[test]
    fn an_unwalked_volume_is_not_judged_and_a_cut_walk_says_at_least() {
        let mut s = node(2 * GIB, false);
        s.disk.pod_dirs[0].volumes[0].walk = None;
        assert!(run(&DiskEmptydirLarge, &s).is_empty());
        let mut s = node(2 * GIB, false);
        if let Some(w) = s.disk.pod_dirs[0].volumes[0].walk.as_mut() {
            w.complete = false;
        }
        assert!(
            one(&DiskEmptydirLarge, &s)
                .title
                .ends_with("(at least; walk cut short)")
        );
    }

    #[test]
    fn an_unknown_pod_is_named_by_its_uid() {
        let mut s = node(2 * GIB, false);
        s.pods.clear();
        let f = one(&DiskEmptydirLarge, &s);
        assert!(f.title.contains(" of pod u1 "), "{}", f.title);
        assert_eq!(f.subject.pod.as_deref(), Some("u1"));
    }
}
