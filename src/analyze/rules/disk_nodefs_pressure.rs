//! `disk.nodefs-pressure`: the kubelet root's filesystem is at or near an eviction threshold.

use crate::analyze::remedy::{Remedy, change_scalar};
use crate::analyze::{Finding, Rule, Severity};
use crate::model::Snapshot;
use crate::model::quantity::quantity_value;
use crate::model::units::bytes;

pub struct DiskNodefsPressure;

impl Rule for DiskNodefsPressure {
    fn id(&self) -> &'static str {
        "disk.nodefs-pressure"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "nodefs bytes or inodes past or within 5 points of an eviction threshold"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  nodefs is the filesystem holding the kubelet's root directory (--root-dir, default
  /var/lib/kubelet): pod volumes, emptyDirs and, usually, /var/log/pods. The kubelet watches
  nodefs.available (statvfs f_bavail x f_frsize, default hard threshold 10%) and
  nodefs.inodesFree (f_ffree, default 5%). One of them is below its threshold, or within 5
  percentage points of it.

WHY IT MATTERS
  Past a threshold the kubelet sets DiskPressure, taints the node
  node.kubernetes.io/disk-pressure:NoSchedule, deletes dead containers and unused images, and
  then evicts pods ranked by their disk use over their ephemeral-storage requests. A node out of
  inodes fails every write with 'no space left on device' while df -h shows free space.

HOW TO CONFIRM
  df -h /var/lib/kubelet; df -i /var/lib/kubelet
  du -xsh /var/lib/kubelet/pods/* /var/log/pods/* | sort -h | tail
  kubectl describe node NODE | grep -A2 DiskPressure
  nodescope disk

WHAT TO CHANGE
  Free what nodescope disk lists first (orphaned pod logs and volumes, oversized logs,
  deleted-but-open files, large emptyDirs). Set ephemeral-storage requests and limits on pods
  that write to disk, containerLogMaxSize/containerLogMaxFiles to bound logs, and give the node a
  larger disk if the steady state is near the threshold."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let shares_images = match (&snap.disk.nodefs, &snap.disk.imagefs) {
            (Some(n), Some(i)) => n.mount_point.is_some() && n.mount_point == i.mount_point,
            _ => false,
        };
        crate::analyze::disk::fs_pressure_findings(
            self,
            snap,
            "nodefs",
            snap.disk.nodefs.as_ref(),
            serde_json::json!({ "shares_filesystem_with_images": shares_images }),
            &remedy(snap),
            out,
        );
    }
}

/// Consumers smaller than this are not worth naming in a fix.
const MIN_NAMED: u64 = 64 << 20;

/// The largest consumers `nodescope disk` finds on the nodefs filesystem, `owner kind size`.
fn top_consumers(snap: &Snapshot, n: usize) -> Vec<String> {
    let Some(mp) = snap
        .disk
        .nodefs
        .as_ref()
        .and_then(|r| r.mount_point.as_deref())
    else {
        return Vec::new();
    };
    crate::analyze::report::disk::build(snap, &[])
        .consumers
        .iter()
        .filter(|c| c.bytes >= MIN_NAMED)
        .filter(|c| crate::model::mount_of(&snap.mounts, &c.path).as_deref() == Some(mp))
        .take(n)
        .map(|c| format!("{} {} {}", c.owner, c.kind, bytes(c.bytes)))
        .collect()
}

/// What to free, then limits; the log size cap is lowered only when it is above the kubelet's
/// default 10Mi (it is always set: the default applies when nothing sets it).
fn remedy(snap: &Snapshot) -> String {
    let mut r = Remedy::new();
    r.step("free what `nodescope disk` lists (orphaned pod logs and volumes, oversized logs, deleted-but-open files)");
    let top = top_consumers(snap, 3);
    if !top.is_empty() {
        r.step(format!("largest on it: {}", top.join(", ")));
    }
    r.step("set ephemeral-storage limits on the pods that write to their rootfs or emptyDirs");
    if let Some(k) = &snap.kubelet {
        let size = &k.config.container_log_max_size;
        if quantity_value(size).is_some_and(|v| v > 10 << 20) {
            r.step(change_scalar(
                k,
                "lower",
                "containerLogMaxSize",
                size,
                "10Mi",
            ));
        }
    }
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::FsRole;

    /// The kubelet root on `/var`: 1000000 bytes, `bavail` available; 1000 inodes, `ffree` free.
    /// Kubelet defaults: hard nodefs.available 10% (100000 bytes), nodefs.inodesFree 5% (50).
    fn node(bavail: u64, ffree: u64) -> Snapshot {
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        s.filesystems
            .push(filesystem("/var", 1_000_000, bavail, 1000, ffree));
        s.disk.nodefs = Some(FsRole {
            path: "/var/lib/kubelet".into(),
            mount_point: Some("/var".into()),
        });
        s
    }

    #[test]
    fn bytes_below_the_hard_threshold_are_critical_and_equal_is_only_near() {
        // thresholdsMet is strict: 100000 > 99999 is met, 100000 > 100000 is not.
        let f = one(&DiskNodefsPressure, &node(99_999, 500));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "nodefs.available 10.0% (97.7Ki of 977Ki) < hard 10% on /var"
        );
        assert_eq!(f.subject.path.as_deref(), Some("/var/lib/kubelet"));
        assert_eq!(f.subject.node.as_deref(), Some("node-a"));
        assert_eq!(
            severities(&DiskNodefsPressure, &node(100_000, 500)),
            [Severity::Warning]
        );
    }

    #[test]
    fn near_means_less_than_five_points_above_the_threshold() {
        let f = one(&DiskNodefsPressure, &node(149_999, 500));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.evidence["note"],
            "within 5 points of an eviction threshold"
        );
        assert!(run(&DiskNodefsPressure, &node(150_000, 500)).is_empty());
    }

    #[test]
    fn inodes_are_a_signal_of_their_own() {
        // 5% of 1000 inodes = 50: 49 free is met, 50 near, 100 (10 %) clear.
        assert_eq!(
            severities(&DiskNodefsPressure, &node(500_000, 49)),
            [Severity::Critical]
        );
        assert_eq!(
            severities(&DiskNodefsPressure, &node(500_000, 50)),
            [Severity::Warning]
        );
        assert_eq!(
            severities(&DiskNodefsPressure, &node(500_000, 99)),
            [Severity::Warning]
        );
        assert!(run(&DiskNodefsPressure, &node(500_000, 100)).is_empty());
    }

    #[test]
    fn one_finding_names_every_signal_met_or_near_the_met_one_first() {
        let f = one(&DiskNodefsPressure, &node(120_000, 10));
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.title.starts_with("nodefs.inodesFree 1.0%"), "{}", f.title);
        let signals: Vec<&str> = f.evidence["signals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["signal"].as_str())
            .collect();
        assert_eq!(signals, ["nodefs.available", "nodefs.inodesFree"]);
    }

    #[test]
    fn soft_thresholds_are_judged_too() {
        let mut s = node(190_000, 500);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.eviction_soft = thresholds("nodefs.available", "20%");
        }
        let f = one(&DiskNodefsPressure, &s);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["signals"][0]["kind"], "soft");
    }

    #[test]
    fn without_a_kubelet_the_linux_defaults_apply() {
        let mut s = node(99_999, 500);
        s.kubelet = None;
        assert_eq!(severities(&DiskNodefsPressure, &s), [Severity::Critical]);
    }

    #[test]
    fn a_config_without_nodefs_thresholds_has_nothing_to_meet() {
        let mut s = node(1, 1);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.eviction_hard = thresholds("memory.available", "100Mi");
        }
        assert!(run(&DiskNodefsPressure, &s).is_empty());
    }

    #[test]
    fn the_shared_image_filesystem_is_said() {
        let mut s = node(1, 500);
        s.disk.imagefs = Some(FsRole {
            path: "/var/lib/containerd".into(),
            mount_point: Some("/var".into()),
        });
        assert_eq!(
            one(&DiskNodefsPressure, &s).evidence["shares_filesystem_with_images"],
            true
        );
        s.disk.imagefs = Some(FsRole {
            path: "/images".into(),
            mount_point: Some("/images".into()),
        });
        assert_eq!(
            one(&DiskNodefsPressure, &s).evidence["shares_filesystem_with_images"],
            false
        );
    }

    #[test]
    fn no_role_no_mount_or_no_stat_is_silent() {
        let mut s = node(1, 1);
        s.disk.nodefs = None;
        assert!(run(&DiskNodefsPressure, &s).is_empty());
        let mut s = node(1, 1);
        if let Some(r) = s.disk.nodefs.as_mut() {
            r.mount_point = None;
        }
        assert!(run(&DiskNodefsPressure, &s).is_empty());
        let mut s = node(1, 1);
        s.filesystems[0].stat = None;
        assert!(run(&DiskNodefsPressure, &s).is_empty());
        let mut s = node(1, 1);
        s.filesystems[0] = filesystem("/var", 0, 0, 0, 0);
        assert!(
            run(&DiskNodefsPressure, &s).is_empty(),
            "zero capacity is no observation"
        );
    }

    /// containerLogMaxSize always has a value (10Mi by default): the fix lowers it only when
    /// it is set above that, and never tells to set it.
    #[test]
    fn the_fix_lowers_the_log_size_only_when_it_is_above_the_default() {
        let base = "free what `nodescope disk` lists (orphaned pod logs and volumes, oversized logs, deleted-but-open files); set ephemeral-storage limits on the pods that write to their rootfs or emptyDirs";
        assert_eq!(one(&DiskNodefsPressure, &node(99_999, 500)).remedy, base);
        let mut s = node(99_999, 500);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.container_log_max_size = "100Mi".into();
        }
        assert_eq!(
            one(&DiskNodefsPressure, &s).remedy,
            format!("{base}; lower `containerLogMaxSize` from 100Mi to 10Mi")
        );
    }
}
