//! `disk.inode-exhaustion`: a filesystem running out of inodes, whatever its bytes say.

use crate::analyze::disk::inodes_used_percent;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DiskInodeExhaustion;

/// `df -i` IUse% from which the rule warns, and from which it is critical (docs/rules.md).
const WARN_PERCENT: f64 = 85.0;
const CRIT_PERCENT: f64 = 95.0;

impl Rule for DiskInodeExhaustion {
    fn id(&self) -> &'static str {
        "disk.inode-exhaustion"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a local filesystem has 85% or more of its inodes in use"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  Every file, directory and symbolic link takes one inode, and a filesystem has a fixed number
  of them (ext4 sets it at mkfs time; a tmpfs at mount time with nr_inodes). This one has 85% or
  more in use (df -i), however many bytes are free.

WHY IT MATTERS
  With no inode left, creating any file fails with ENOSPC, 'no space left on device', while
  df -h shows gigabytes free: containers cannot start, logs cannot rotate, the kubelet cannot
  write its checkpoints. The usual culprits are millions of small files: build caches, session
  files, mail queues, an application writing one file per request, or image layers with many
  small files. On nodefs and imagefs the kubelet evicts at inodesFree 5% by default, after the
  damage has started.

HOW TO CONFIRM
  df -i
  find MOUNT -xdev -type d -printf '%p\\n' | while read d; do echo \"$(ls -A \"$d\" | wc -l) $d\"; done | sort -n | tail
  (nodescope lists the directories with the most entries in this finding's evidence)

WHAT TO CHANGE
  Delete or archive the small files in the densest directories and fix what creates them. For a
  tmpfs, remount with a larger nr_inodes; for ext4, more inodes need a new filesystem
  (mkfs.ext4 -i with a smaller bytes-per-inode) or xfs, which allocates inodes dynamically."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for fs in &snap.filesystems {
            let Some(st) = fs.stat.as_ref() else { continue };
            let Some(used) = inodes_used_percent(st) else {
                continue;
            };
            if used < WARN_PERCENT {
                continue;
            }
            let bytes_used = st.used_share() * 100.0;
            let walk = snap
                .disk
                .inode_walks
                .iter()
                .find(|w| w.path == fs.mount_point);
            let dense: Vec<serde_json::Value> = walk
                .map(|w| {
                    w.densest_dirs
                        .iter()
                        .map(|d| serde_json::json!({"path": d.path, "entries": d.entries}))
                        .collect()
                })
                .unwrap_or_default();
            let severity = if used >= CRIT_PERCENT {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let top = dense
                .first()
                .and_then(|d| {
                    Some(format!(
                        "; {} holds {} entries",
                        d["path"].as_str()?,
                        d["entries"]
                    ))
                })
                .unwrap_or_default();
            out.push(finding(
                self,
                severity,
                format!(
                    "{} inodes {:.0}% used ({} of {} free) while bytes are {:.0}% used{top}",
                    fs.mount_point,
                    used,
                    st.ffree,
                    st.files,
                    bytes_used
                ),
                Subject::node(snap).with_path(fs.mount_point.clone()),
                serde_json::json!({
                    "mount_point": fs.mount_point,
                    "fs_type": fs.fs_type,
                    "inodes": st.files,
                    "inodes_free": st.ffree,
                    "inodes_used_percent": (used * 10.0).round() / 10.0,
                    "bytes_used_percent": (bytes_used * 10.0).round() / 10.0,
                    "densest_dirs": dense,
                    "walk_complete": walk.map(|w| w.complete),
                }),
                "delete the small files in the densest directories and stop what creates them; tmpfs: remount with a larger nr_inodes",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::source::Walk;
    use crate::source::walk::DirCount;

    /// `/var` with 1000 inodes of which `ffree` are free, bytes half used.
    fn node(ffree: u64) -> Snapshot {
        let mut s = snap();
        s.filesystems
            .push(filesystem("/var", 1000, 500, 1000, ffree));
        s
    }

    #[test]
    fn eighty_five_percent_warns_and_one_inode_less_is_silent() {
        let f = one(&DiskInodeExhaustion, &node(150));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "/var inodes 85% used (150 of 1000 free) while bytes are 50% used"
        );
        assert_eq!(f.evidence["inodes_used_percent"], 85.0);
        assert!(run(&DiskInodeExhaustion, &node(151)).is_empty());
    }

    #[test]
    fn ninety_five_percent_is_critical_and_one_inode_less_a_warning() {
        assert_eq!(
            severities(&DiskInodeExhaustion, &node(50)),
            [Severity::Critical]
        );
        assert_eq!(
            severities(&DiskInodeExhaustion, &node(51)),
            [Severity::Warning]
        );
    }

    #[test]
    fn bytes_do_not_matter_and_each_filesystem_is_judged_alone() {
        let mut s = node(100);
        s.filesystems.push(filesystem("/", 1000, 0, 1000, 900));
        s.filesystems.push(filesystem("/data", 1000, 1000, 1000, 0));
        let f = run(&DiskInodeExhaustion, &s);
        let paths: Vec<_> = f
            .iter()
            .map(|f| f.subject.path.clone().unwrap_or_default())
            .collect();
        assert_eq!(paths, ["/var", "/data"]);
        assert_eq!(
            f[1].title,
            "/data inodes 100% used (0 of 1000 free) while bytes are 0% used"
        );
    }

    #[test]
    fn the_densest_directory_is_named() {
        let mut s = node(40);
        s.disk.inode_walks.push(Walk {
            path: "/var".into(),
            files: 960,
            dirs: 2,
            complete: true,
            densest_dirs: vec![DirCount {
                path: "/var/spool/postfix/maildrop".into(),
                entries: 900,
            }],
            ..Default::default()
        });
        let f = one(&DiskInodeExhaustion, &s);
        assert!(
            f.title
                .ends_with("; /var/spool/postfix/maildrop holds 900 entries"),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["walk_complete"], true);
    }

    #[test]
    fn no_inodes_or_no_stat_is_silent() {
        let mut s = snap();
        s.filesystems.push(filesystem("/sys/fs/bpf", 0, 0, 0, 0));
        let mut stuck = filesystem("/mnt/nfs", 1, 1, 1, 0);
        stuck.stat = None;
        s.filesystems.push(stuck);
        assert!(run(&DiskInodeExhaustion, &s).is_empty());
    }
}
