//! `disk.nodefs-pressure`: the kubelet root's filesystem is at or near an eviction threshold.

use crate::analyze::{Finding, Rule, Severity};
use crate::model::Snapshot;

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
            "free what `nodescope disk` lists (orphaned pod logs and volumes, oversized logs, deleted-but-open files); set ephemeral-storage limits and containerLogMaxSize",
            out,
        );
    }
}
