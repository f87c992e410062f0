//! `disk.imagefs-pressure`: the runtime's image filesystem is at or near an eviction threshold.

use crate::analyze::{Finding, Rule, Severity};
use crate::model::Snapshot;

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
            "crictl rmi --prune (removes images no container uses); lower imageGCHighThresholdPercent; move the image store to a larger disk",
            out,
        );
    }
}
