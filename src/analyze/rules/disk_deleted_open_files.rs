//! `disk.deleted-open-files`: space held by files deleted while a process keeps them open.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;
use std::collections::BTreeMap;

pub struct DiskDeletedOpenFiles;

/// Total held on one filesystem from which the rule fires (docs/rules.md).
const MIN_BYTES: u64 = 100 * 1024 * 1024;

impl Rule for DiskDeletedOpenFiles {
    fn id(&self) -> &'static str {
        "disk.deleted-open-files"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "deleted files still held open hold 100 MiB or more on a filesystem"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  Processes hold open files that have been deleted (their /proc/<pid>/fd links end in
  '(deleted)'). The name is gone, but the blocks are freed only when the last descriptor closes.
  Together they hold 100 MiB or more on one filesystem.

WHY IT MATTERS
  This is the disk-full that du cannot explain: df says 95% used, du of every directory adds up
  to far less. The classic case is a log deleted by hand or by a rotation that does not signal
  the writer: the application goes on writing into the invisible file until the disk is full.
  Deleting more files does not help; only closing the descriptor does.

HOW TO CONFIRM
  ls -l /proc/*/fd 2>/dev/null | grep '(deleted)'
  lsof -nP +L1          (link count < 1: deleted, still open)
  find /proc/PID/fd -lname '*(deleted)' -printf '%p %l\\n'; stat -L /proc/PID/fd/N

WHAT TO CHANGE
  Restart the holder (for a pod: kubectl delete pod, or let its controller replace it), or make
  it reopen its logs (SIGHUP for many daemons). As a last resort, truncate the open file through
  its descriptor: : > /proc/PID/fd/N. Then fix the rotation: copytruncate, or signal the writer."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let mut by_fs: BTreeMap<&str, Vec<&crate::model::disk::DeletedOpenFile>> = BTreeMap::new();
        for f in &snap.disk.deleted_open_files {
            by_fs
                .entry(f.mount_point.as_deref().unwrap_or("?"))
                .or_default()
                .push(f);
        }
        for (mp, mut files) in by_fs {
            let total: u64 = files.iter().filter_map(|f| f.fd.size).sum();
            if total < MIN_BYTES {
                continue;
            }
            files.sort_by(|a, b| b.fd.size.cmp(&a.fd.size).then(a.pid.cmp(&b.pid)));
            let top = files[0];
            let owner = |id: Option<&String>| {
                id.and_then(|id| snap.container(id))
                    .map(|(p, c)| (p.namespace.clone(), p.name.clone(), c.name.clone()))
            };
            let holders: Vec<serde_json::Value> = files
                .iter()
                .map(|f| {
                    let o = owner(f.container_id.as_ref());
                    serde_json::json!({
                        "pid": f.pid,
                        "process": f.comm,
                        "fd": f.fd.fd,
                        "path": f.fd.path(),
                        "bytes": f.fd.size,
                        "namespace": o.as_ref().and_then(|o| o.0.clone()),
                        "pod": o.as_ref().and_then(|o| o.1.clone()),
                        "container": o.as_ref().and_then(|o| o.2.clone()),
                    })
                })
                .collect();
            let o = owner(top.container_id.as_ref());
            let who = match &o {
                Some((Some(ns), Some(pod), _)) => format!("{ns}/{pod} "),
                _ => String::new(),
            };
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{} held by {} deleted file(s) on {mp}; largest {} by {who}{}[{}]",
                    units::bytes(total),
                    files.len(),
                    top.fd.path(),
                    top.comm,
                    top.pid
                ),
                Subject::container(o.as_ref().and_then(|o| o.0.clone()), o.as_ref().and_then(|o| o.1.clone()), o.as_ref().and_then(|o| o.2.clone())).on_node(snap).with_pid(top.pid).with_path(mp.to_string()),
                serde_json::json!({ "mount_point": mp, "bytes": total, "holders": holders }),
                format!(
                    "restart the holder or make it reopen its files (SIGHUP); last resort: : > /proc/{}/fd/{}",
                    top.pid, top.fd.fd
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::DeletedOpenFile;
    use crate::source::FdEntry;

    const MIB: u64 = 1024 * 1024;

    fn held(
        pid: u32,
        path: &str,
        size: Option<u64>,
        mp: &str,
        container: Option<&str>,
    ) -> DeletedOpenFile {
        DeletedOpenFile {
            pid,
            comm: "java".into(),
            container_id: container.map(String::from),
            fd: FdEntry {
                fd: 7,
                target: format!("{path} (deleted)"),
                size,
            },
            mount_point: Some(mp.into()),
        }
    }

    #[test]
    fn exactly_100_mib_on_one_filesystem_fires_and_one_byte_less_does_not() {
        let mut s = snap();
        s.disk.deleted_open_files = vec![
            held(10, "/var/log/a.log", Some(60 * MIB), "/var", None),
            held(11, "/var/log/b.log", Some(40 * MIB), "/var", None),
        ];
        let f = one(&DiskDeletedOpenFiles, &s);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "100Mi held by 2 deleted file(s) on /var; largest /var/log/a.log by java[10]"
        );
        assert_eq!(f.evidence["bytes"], 100 * MIB);
        assert_eq!(f.subject.pid, Some(10));
        s.disk.deleted_open_files[1].fd.size = Some(40 * MIB - 1);
        assert!(run(&DiskDeletedOpenFiles, &s).is_empty());
    }

    #[test]
    fn totals_are_per_filesystem_not_per_node() {
        let mut s = snap();
        s.disk.deleted_open_files = vec![
            held(10, "/var/log/a.log", Some(60 * MIB), "/var", None),
            held(11, "/data/b.log", Some(60 * MIB), "/data", None),
        ];
        assert!(run(&DiskDeletedOpenFiles, &s).is_empty());
    }

    #[test]
    fn an_unknown_size_counts_as_nothing() {
        let mut s = snap();
        s.disk.deleted_open_files = vec![
            held(10, "/var/log/a.log", Some(100 * MIB - 1), "/var", None),
            held(11, "/var/log/b.log", None, "/var", None),
        ];
        assert!(run(&DiskDeletedOpenFiles, &s).is_empty());
    }

    #[test]
    fn the_largest_holder_is_named_with_its_pod() {
        let mut s = snap();
        let mut p = pod("shop", "web", "u1");
        p.containers.push(container("c1", "app", None));
        s.pods.push(p);
        s.disk.deleted_open_files = vec![
            held(10, "/var/log/small.log", Some(MIB), "/var", None),
            held(20, "/var/log/big.log", Some(200 * MIB), "/var", Some("c1")),
        ];
        let f = one(&DiskDeletedOpenFiles, &s);
        assert_eq!(
            f.title,
            "201Mi held by 2 deleted file(s) on /var; largest /var/log/big.log by shop/web java[20]"
        );
        assert_eq!(f.subject.container.as_deref(), Some("app"));
        assert_eq!(f.remedy.rsplit(' ').next(), Some("/proc/20/fd/7"));
        assert_eq!(f.evidence["holders"][0]["pod"], "web");
    }
}
