//! `fs.io-error`: the block layer or a filesystem logged I/O errors or corruption.

use crate::analyze::health::{DatedEvent, mounts_of_device, recent};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::health::KernelEventKind;
use std::collections::BTreeMap;

pub struct FsIoError;

/// The most records per device kept in the evidence.
const SHOWN: usize = 10;

impl Rule for FsIoError {
    fn id(&self) -> &'static str {
        "fs.io-error"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "block-layer or filesystem I/O errors in the kernel log"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  In the last 24 hours the kernel logged failed block I/O ('blk_update_request: I/O error, dev
  sda, sector N', 'I/O error, dev nvme0n1, sector N op 0x1:(WRITE)' since 5.17, 'Buffer I/O
  error on dev dm-1, logical block N') or a filesystem error ('EXT4-fs error (device sdf)',
  'XFS (dm-4): metadata I/O error', 'BTRFS error'). node-problem-detector reports them as
  IOError and Ext4Error.

WHY IT MATTERS
  The device failed reads or writes, or the filesystem found corruption. Writes that fail are
  lost data; the filesystem may be remounted read-only next (fs.read-only), and processes
  waiting on the device hang in D state (kernel.hung-task). Pods whose volumes or writable
  layers live there crash or stop starting.

HOW TO CONFIRM
  dmesg -T | grep -i -e 'I/O error' -e 'EXT4-fs error' -e 'XFS (' -e 'BTRFS error'
  smartctl -a /dev/DEV (or nvme smart-log); the cloud provider's volume status and events
  lsblk; findmnt -S /dev/DEV

WHAT TO CHANGE
  Drain the node. Replace a failing disk or volume (a detached or throttled cloud volume shows
  the same errors), then unmount and repair the filesystem (fsck -f, xfs_repair). Restore
  affected volumes from backup where data was lost."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let mut by_device: BTreeMap<String, Vec<DatedEvent<'_>>> = BTreeMap::new();
        for d in recent(snap, |k| {
            matches!(
                k,
                KernelEventKind::IoError { .. } | KernelEventKind::FsError { .. }
            )
        }) {
            let dev = match &d.event.kind {
                KernelEventKind::IoError { device } | KernelEventKind::FsError { device, .. } => {
                    device.clone()
                }
                _ => continue,
            };
            by_device.entry(dev).or_default().push(d);
        }
        for (device, ds) in by_device {
            let Some(last) = ds.last() else { continue };
            let mounts: Vec<String> = mounts_of_device(snap, &device)
                .iter()
                .map(|m| m.mount_point.clone())
                .collect();
            let fs: Vec<String> = {
                let mut v: Vec<String> = ds
                    .iter()
                    .filter_map(|d| match &d.event.kind {
                        KernelEventKind::FsError { fs, .. } => Some(fs.clone()),
                        _ => None,
                    })
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            let on = if mounts.is_empty() {
                String::new()
            } else {
                format!(" (mounted at {})", mounts.join(", "))
            };
            out.push(finding(
                self,
                Severity::Critical,
                format!(
                    "{} I/O or filesystem error record(s) for {device}{on} in the last 24 h; the last {}: {}",
                    ds.len(),
                    last.when(),
                    last.event.message
                ),
                Subject::node(snap).with_path(mounts.first().cloned()).with_device(device.clone()),
                serde_json::json!({
                    "device": device,
                    "filesystems": fs,
                    "mount_points": mounts,
                    "records": ds.len(),
                    "last_records": ds.iter().rev().take(SHOWN).map(|d| d.evidence()).collect::<Vec<_>>(),
                }),
                "drain the node; check the device (smartctl, the cloud volume's status), replace it if failing, then unmount and repair the filesystem",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{kernel_event, run, snapshot};

    #[test]
    fn groups_block_and_filesystem_records_by_device() {
        let mut s = snapshot();
        s.health.kernel_events = vec![
            kernel_event(
                "blk_update_request: I/O error, dev sdd, sector 193211232 op 0x1:(WRITE) flags 0x0 phys_seg 1 prio class 0",
                24 * 3600 - 1,
            ),
            kernel_event(
                "Buffer I/O error on dev sdd, logical block 0, lost async page write",
                100,
            ),
            kernel_event(
                "XFS (dm-4): metadata I/O error in \"xfs_trans_read_buf_map\" at daddr 0x8e8c20 len 8 error 74",
                50,
            ),
        ];
        let f = run(&FsIoError, &s);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].subject.device.as_deref(), Some("dm-4"));
        assert_eq!(f[0].evidence["filesystems"], serde_json::json!(["xfs"]));
        assert_eq!(f[1].evidence["records"], 2);
    }

    #[test]
    fn silent_past_the_window() {
        let mut s = snapshot();
        s.health.kernel_events = vec![kernel_event(
            "Buffer I/O error on dev sdd, logical block 0, lost async page write",
            24 * 3600 + 1,
        )];
        assert!(run(&FsIoError, &s).is_empty());
    }

    #[test]
    fn a_device_is_named_with_its_mounts_and_other_records_are_not_io_errors() {
        let mut s = snapshot();
        s.mounts = vec![crate::model::Mount {
            mount_point: "/var/lib/containerd".into(),
            fs_type: "ext4".into(),
            source: "/dev/sdd".into(),
            device: "8:48".into(),
            options: "rw".into(),
            upperdir: None,
        }];
        s.health.kernel_events = vec![kernel_event(
            "Buffer I/O error on dev sdd, logical block 0, lost async page write",
            60,
        )];
        let f = run(&FsIoError, &s);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "1 I/O or filesystem error record(s) for sdd (mounted at /var/lib/containerd) in the last 24 h; the last 1m ago: Buffer I/O error on dev sdd, logical block 0, lost async page write"
        );
        assert_eq!(f[0].subject.path.as_deref(), Some("/var/lib/containerd"));
        s.health.kernel_events = vec![kernel_event(
            "watchdog: BUG: soft lockup - CPU#2 stuck for 23s! [kworker/2:1:77]",
            60,
        )];
        assert!(run(&FsIoError, &s).is_empty());
    }
}
