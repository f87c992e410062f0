//! `disk.filesystem-full`: a local read-write filesystem is (nearly) out of bytes or inodes,
//! beyond what the kubelet's own nodefs/imagefs signals already say.

use crate::analyze::disk::inodes_used_percent;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::{Filesystem, Snapshot};

pub struct DiskFilesystemFull;

/// `df` Use% (or IUse%) from which the rule warns, and from which it is critical (docs/rules.md).
const WARN_PERCENT: f64 = 90.0;
const CRIT_PERCENT: f64 = 95.0;
/// Filesystems that are full by construction: images, not storage.
const IMAGE_FS: &[&str] = &["squashfs", "iso9660", "udf", "erofs", "cramfs"];

impl Rule for DiskFilesystemFull {
    fn id(&self) -> &'static str {
        "disk.filesystem-full"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "a local read-write filesystem is 90% (warning) or 95% (critical) full"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A local read-write filesystem (not a pseudo filesystem, not an image: squashfs, iso9660, a
  loop device or a read-only mount) has 90% or more of its bytes (df Use%: used / (used +
  available), so root-reserved blocks count as used) or of its inodes (df -i IUse%) in use;
  95% or more is critical. Filesystems the kubelet already reports through
  disk.nodefs-pressure or disk.imagefs-pressure are left to those rules. The evidence names
  the largest files nodescope found there.

WHY IT MATTERS
  The kubelet watches only nodefs and imagefs. A full /run, /tmp, /var/log on its own
  partition, /boot or a tmpfs fails writes with ENOSPC just the same: journald and the runtime
  stop logging, the runtime cannot write its state under /run (sandboxes fail:
  ContainerCreating), the kubelet cannot write its checkpoints, package updates fail. A 100%
  full tmpfs with free inodes is invisible to 'df -i' checks.

HOW TO CONFIRM
  df -h; df -i
  du -xah MOUNT | sort -h | tail -20
  lsof +L1 | grep MOUNT   (deleted files still held open)

WHAT TO CHANGE
  Delete or move what fills it (the largest files listed), fix what writes them (log rotation,
  a runaway process), restart holders of deleted-but-open files; for a tmpfs, raise its size=
  or move the writer to disk; grow the volume if the steady state is near full."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // One filesystem may be mounted at several places (bind mounts share the device):
        // it is judged once, and not at all when a pressure rule already reports it.
        let device = |mp: &str| {
            snap.mounts
                .iter()
                .rev()
                .find(|m| m.mount_point == mp)
                .map(|m| m.device.clone())
        };
        let mut seen: Vec<String> = covered_by_pressure_rules(snap)
            .iter()
            .map(|mp| device(mp).unwrap_or_else(|| mp.clone()))
            .collect();
        for fs in &snap.filesystems {
            let Some(st) = fs.stat.as_ref() else { continue };
            let dev = device(&fs.mount_point).unwrap_or_else(|| fs.mount_point.clone());
            if seen.contains(&dev) || is_image(snap, fs) {
                continue;
            }
            seen.push(dev);
            let bytes = st.used_share() * 100.0;
            let inodes = inodes_used_percent(st).unwrap_or(0.0);
            let worst = bytes.max(inodes);
            if worst < WARN_PERCENT {
                continue;
            }
            let severity = if worst >= CRIT_PERCENT {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let f = st.frsize.max(1);
            let size = st.blocks.saturating_mul(f);
            let avail = st.bavail.saturating_mul(f);
            let what = if bytes >= inodes {
                format!(
                    "{:.0}% of its bytes used ({} of {} available)",
                    bytes.floor(),
                    human(avail),
                    human(size)
                )
            } else {
                format!(
                    "{:.0}% of its inodes used ({} of {} free)",
                    inodes.floor(),
                    st.ffree,
                    st.files
                )
            };
            let walk = snap
                .disk
                .full_walks
                .iter()
                .chain(&snap.disk.inode_walks)
                .find(|w| w.path == fs.mount_point);
            let largest: Vec<serde_json::Value> = walk
                .map(|w| {
                    w.largest_files
                        .iter()
                        .map(|f| serde_json::json!({"path": f.path, "bytes": f.bytes}))
                        .collect()
                })
                .unwrap_or_default();
            let top = walk
                .and_then(|w| w.largest_files.first())
                .map(|f| format!("; largest file {} ({})", f.path, human(f.bytes)))
                .unwrap_or_default();
            out.push(finding(
                self,
                severity,
                format!("{} ({}) is full: {what}{top}", fs.mount_point, fs.fs_type),
                Subject::node(snap).with_path(fs.mount_point.clone()),
                serde_json::json!({
                    "mount_point": fs.mount_point,
                    "fs_type": fs.fs_type,
                    "size_bytes": size,
                    "available_bytes": avail,
                    "bytes_used_percent": (bytes * 10.0).round() / 10.0,
                    "inodes": st.files,
                    "inodes_free": st.ffree,
                    "inodes_used_percent": (inodes * 10.0).round() / 10.0,
                    "largest_files": largest,
                    "walk_complete": walk.map(|w| w.complete),
                }),
                "delete or move the largest files and stop what writes them; tmpfs: raise size= or move the writer to disk; grow the volume if it is always near full",
            ));
        }
    }
}

/// Mount points that `disk.nodefs-pressure` or `disk.imagefs-pressure` report now.
fn covered_by_pressure_rules(snap: &Snapshot) -> Vec<String> {
    let mut v = Vec::new();
    for id in ["disk.nodefs-pressure", "disk.imagefs-pressure"] {
        if let Some(r) = crate::analyze::rule(id) {
            r.check(snap, &mut v);
        }
    }
    v.iter()
        .filter_map(|f| f.evidence["mount_point"].as_str().map(String::from))
        .collect()
}

/// Full by construction: an image filesystem, a loop device, or a read-only mount.
fn is_image(snap: &Snapshot, fs: &Filesystem) -> bool {
    IMAGE_FS.contains(&fs.fs_type.as_str())
        || snap
            .mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == fs.mount_point)
            .is_some_and(|m| {
                m.source.starts_with("/dev/loop") || crate::analyze::health::is_read_only(m)
            })
}

fn human(b: u64) -> String {
    crate::model::units::bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::Mount;
    use crate::source::walk::SizedPath;
    use crate::source::{StatVfs, Walk};

    /// A 1000-block filesystem with `used` blocks used and `files_used` of 1000 inodes.
    fn fs(mp: &str, fs_type: &str, used: u64, files_used: u64) -> (Filesystem, Mount) {
        (
            Filesystem {
                mount_point: mp.into(),
                fs_type: fs_type.into(),
                stat: Some(StatVfs {
                    bsize: 4096,
                    frsize: 4096,
                    blocks: 1000,
                    bfree: 1000 - used,
                    bavail: 1000 - used,
                    files: 1000,
                    ffree: 1000 - files_used,
                    favail: 1000 - files_used,
                }),
                error: None,
                stuck: false,
            },
            Mount {
                mount_point: mp.into(),
                fs_type: fs_type.into(),
                source: "tmpfs".into(),
                device: "0:99".into(),
                options: "relatime,rw".into(),
                upperdir: None,
            },
        )
    }

    fn node(list: Vec<(Filesystem, Mount)>) -> Snapshot {
        let mut s = snapshot();
        for (f, m) in list {
            s.filesystems.push(f);
            s.mounts.push(m);
        }
        s
    }

    #[test]
    fn thresholds_on_both_sides() {
        let sev = |used, files| {
            run(
                &DiskFilesystemFull,
                &node(vec![fs("/run", "tmpfs", used, files)]),
            )
            .first()
            .map(|f| f.severity)
        };
        assert_eq!(sev(899, 0), None);
        assert_eq!(sev(900, 0), Some(Severity::Warning));
        assert_eq!(sev(949, 0), Some(Severity::Warning));
        assert_eq!(sev(950, 0), Some(Severity::Critical));
        assert_eq!(sev(0, 899), None);
        assert_eq!(sev(0, 900), Some(Severity::Warning));
        assert_eq!(sev(0, 950), Some(Severity::Critical));
    }

    #[test]
    fn a_bind_mount_of_the_same_filesystem_is_reported_once() {
        let (a, ma) = fs("/var", "ext4", 960, 0);
        let (b, mb) = fs("/run/netns", "ext4", 960, 0);
        let f = run(&DiskFilesystemFull, &node(vec![(b, mb), (a, ma)]));
        assert_eq!(f.len(), 1, "same device 0:99");
    }

    #[test]
    fn names_the_largest_file_and_skips_images() {
        let mut s = node(vec![
            fs("/run", "tmpfs", 1000, 3),
            fs("/snap/core/1", "squashfs", 1000, 1000),
        ]);
        s.disk.full_walks.push(Walk {
            path: "/run".into(),
            largest_files: vec![SizedPath {
                path: "/run/fill".into(),
                bytes: 4_096_000,
            }],
            complete: true,
            ..Walk::default()
        });
        let f = run(&DiskFilesystemFull, &s);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "/run (tmpfs) is full: 100% of its bytes used (0 of 3.9Mi available); largest file /run/fill (3.9Mi)"
        );
        let (ro, mut m) = fs("/mnt/img", "ext4", 1000, 0);
        m.options = "ro,relatime".into();
        assert!(run(&DiskFilesystemFull, &node(vec![(ro, m)])).is_empty());
    }

    #[test]
    fn inodes_fuller_than_bytes_are_named_as_inodes() {
        let f = run(
            &DiskFilesystemFull,
            &node(vec![fs("/var", "ext4", 100, 951)]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].title,
            "/var (ext4) is full: 95% of its inodes used (49 of 1000 free)"
        );
        // Equal shares name the bytes.
        let f = run(
            &DiskFilesystemFull,
            &node(vec![fs("/var", "ext4", 920, 920)]),
        );
        assert!(
            f[0].title.contains("92% of its bytes used"),
            "{}",
            f[0].title
        );
    }

    #[test]
    fn loop_devices_and_unread_filesystems_are_not_judged() {
        let (a, mut m) = fs("/var/lib/snapd/snap/x", "ext4", 1000, 0);
        m.source = "/dev/loop7".into();
        assert!(run(&DiskFilesystemFull, &node(vec![(a, m)])).is_empty());
        let (mut b, mb) = fs("/data", "ext4", 1000, 0);
        b.stat = None;
        assert!(run(&DiskFilesystemFull, &node(vec![(b, mb)])).is_empty());
    }
}
