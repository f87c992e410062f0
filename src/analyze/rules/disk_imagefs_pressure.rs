//! `disk.imagefs-pressure`: the runtime's image filesystem is at or near an eviction threshold.

use crate::analyze::remedy::{Remedy, change_scalar};
use crate::analyze::{Finding, Rule, Severity};
use crate::model::units::bytes;
use crate::model::{Snapshot, ThresholdValue};

pub struct DiskImagefsPressure;

impl Rule for DiskImagefsPressure {
    fn id(&self) -> &'static str {
        "disk.imagefs-pressure"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "imagefs bytes or inodes past or within 5 points of an eviction threshold"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  imagefs is the filesystem the container runtime reports in CRI ImageFsInfo: containerd's
  snapshotter directory (/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs), CRI-O's
  <graphroot>/overlay-images. The kubelet watches imagefs.available (default hard threshold 15%)
  and imagefs.inodesFree (5%, v1.30+). One is below its threshold or within 5 points of it.
  When images share the root disk, the 15% imagefs threshold is the first one a filling disk
  crosses.

WHY IT MATTERS
  Image garbage collection starts at imageGCHighThresholdPercent (default 85% used) and deletes
  unused images down to imageGCLowThresholdPercent (80%). If that cannot free enough (every image
  in use, or the space is writable layers and logs), the kubelet sets DiskPressure and evicts
  pods. New pods whose images are not cached cannot start.

HOW TO CONFIRM
  crictl imagefsinfo
  df -h /var/lib/containerd   (or /var/lib/containers/storage for CRI-O)
  crictl images; crictl ps -a
  nodescope disk

WHAT TO CHANGE
  crictl rmi --prune removes images no container uses. Lower imageGCHighThresholdPercent so GC
  starts earlier, prefer smaller images, and give the image store its own, larger disk."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let cfg = snap.kubelet.as_ref().map(|k| &k.config);
        let high = cfg.map_or(85, |c| c.image_gc_high_threshold_percent);
        let low = cfg.map_or(80, |c| c.image_gc_low_threshold_percent);
        let unused: Vec<serde_json::Value> = snap
            .disk
            .images
            .iter()
            .flat_map(|i| i.images.iter().filter(|im| im.prunable()))
            .map(|im| serde_json::json!({"id": im.id, "names": im.names, "bytes": im.bytes}))
            .collect();
        crate::analyze::disk::fs_pressure_findings(
            self,
            snap,
            "imagefs",
            snap.disk.imagefs.as_ref(),
            serde_json::json!({
                "runtime": snap.disk.runtime.as_ref().map(|r| r.name.clone()),
                "image_gc_high_threshold_percent": high,
                "image_gc_low_threshold_percent": low,
                "image_gc": format!("image GC runs first, from {high}% used down to {low}%"),
                "unused_images": unused,
            }),
            &remedy(snap, high, low),
            out,
        );
    }
}

/// Prune what no container uses (how much that frees), start image GC 10 points before the
/// hard `imagefs.available` percentage when it starts later than that, move the store last.
fn remedy(snap: &Snapshot, high: i64, low: i64) -> String {
    let mut r = Remedy::new();
    let unused: Vec<u64> = snap
        .disk
        .images
        .iter()
        .flat_map(|i| i.images.iter().filter(|im| im.prunable()))
        .map(|im| im.bytes.unwrap_or(0))
        .collect();
    if unused.is_empty() {
        r.step("crictl rmi --prune (removes images no container uses)");
    } else {
        r.step(format!(
            "crictl rmi --prune frees {} in {} image(s) no container uses",
            bytes(unused.iter().sum()),
            unused.len()
        ));
    }
    if let Some(k) = &snap.kubelet
        && let Some(ThresholdValue::Percent(p)) = k.config.eviction_hard.get("imagefs.available")
    {
        let want = (100.0 - p - 10.0).floor() as i64;
        if want > 0 && high > want {
            r.step(change_scalar(
                k,
                "lower",
                "imageGCHighThresholdPercent",
                &high.to_string(),
                &want.to_string(),
            ));
            if low >= want {
                r.step(change_scalar(
                    k,
                    "lower",
                    "imageGCLowThresholdPercent",
                    &low.to_string(),
                    &(want - 5).to_string(),
                ));
            }
        }
    }
    r.step("move the image store to a larger disk if it is always near full");
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::{FsRole, Image, ImageInventory};

    /// The image store on `/images`: 1000000 bytes, `bavail` available; 1000 inodes, `ffree`
    /// free. Kubelet defaults: hard imagefs.available 15% (150000 bytes), inodesFree 5% (50).
    fn node(bavail: u64, ffree: u64) -> Snapshot {
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        s.filesystems
            .push(filesystem("/images", 1_000_000, bavail, 1000, ffree));
        s.disk.imagefs = Some(FsRole {
            path: "/images/containerd".into(),
            mount_point: Some("/images".into()),
        });
        s
    }

    #[test]
    fn bytes_below_the_hard_threshold_are_critical_and_equal_is_only_near() {
        // float32(0.15) × 1000000 = 150000.0059 → 150000; met iff 150000 > available.
        let f = one(&DiskImagefsPressure, &node(149_999, 500));
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.title.starts_with("imagefs.available 15.0% "),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["signals"][0]["threshold_value"], 150_000);
        assert_eq!(
            severities(&DiskImagefsPressure, &node(150_000, 500)),
            [Severity::Warning]
        );
    }

    #[test]
    fn near_means_less_than_five_points_above_the_threshold() {
        assert_eq!(
            severities(&DiskImagefsPressure, &node(199_999, 500)),
            [Severity::Warning]
        );
        assert!(run(&DiskImagefsPressure, &node(200_000, 500)).is_empty());
    }

    #[test]
    fn inodes_are_judged_against_their_own_threshold() {
        assert_eq!(
            severities(&DiskImagefsPressure, &node(500_000, 49)),
            [Severity::Critical]
        );
        assert!(run(&DiskImagefsPressure, &node(500_000, 100)).is_empty());
    }

    #[test]
    fn evidence_says_image_gc_runs_first_and_lists_what_prune_removes() {
        let mut s = node(100_000, 500);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.image_gc_high_threshold_percent = 70;
            k.config.image_gc_low_threshold_percent = 60;
        }
        let image = |id: &str, in_use: bool, pinned: bool| Image {
            id: id.into(),
            names: vec![format!("{id}:latest")],
            bytes: Some(1000),
            in_use,
            used_by_containers: u32::from(in_use),
            pinned,
        };
        s.disk.images = Some(ImageInventory {
            source: "test".into(),
            images: vec![
                image("a", true, false),
                image("b", false, false),
                image("pause", false, true),
            ],
            filesystems: Vec::new(),
        });
        let f = one(&DiskImagefsPressure, &s);
        assert_eq!(
            f.evidence["image_gc"],
            "image GC runs first, from 70% used down to 60%"
        );
        let unused: Vec<&str> = f.evidence["unused_images"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert_eq!(unused, ["b"]);
    }

    #[test]
    fn without_an_image_filesystem_nothing_is_judged() {
        let mut s = node(1, 1);
        s.disk.imagefs = None;
        assert!(run(&DiskImagefsPressure, &s).is_empty());
    }

    /// Image GC is told to start earlier only when it starts later than 10 points before the
    /// hard threshold; a kubelet whose GC already does is not told to lower it.
    #[test]
    fn the_fix_lowers_image_gc_only_when_it_starts_too_late() {
        let s = node(149_999, 500);
        assert_eq!(
            one(&DiskImagefsPressure, &s).remedy,
            "crictl rmi --prune (removes images no container uses); lower `imageGCHighThresholdPercent` from 85 to 75; lower `imageGCLowThresholdPercent` from 80 to 70; move the image store to a larger disk if it is always near full"
        );
        let mut s = node(149_999, 500);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.image_gc_high_threshold_percent = 70;
            k.config.image_gc_low_threshold_percent = 60;
        }
        assert_eq!(
            one(&DiskImagefsPressure, &s).remedy,
            "crictl rmi --prune (removes images no container uses); move the image store to a larger disk if it is always near full"
        );
    }
}
