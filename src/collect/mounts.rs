//! The host's mount table and statvfs of its local filesystems, each bounded by a deadline:
//! a dead NFS or FUSE mount is reported as stuck, never waited on.

use super::Errors;
use crate::model::{Filesystem, Mount};
use crate::source::{ErrorKind, Host};
use procfs_core::FromRead;

const C: &str = "mounts";

/// Filesystem types with no blocks or inodes of their own worth judging.
const VIRTUAL_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "autofs",
    "binfmt_misc",
    "hugetlbfs",
    "nsfs",
    "rpc_pipefs",
    "overlay",
    "efivarfs",
    "selinuxfs",
    "ramfs",
    "squashfs",
    "nfsd",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "devtmpfs",
    "shm",
];

/// Mount points under these prefixes are per-container or per-pod (image layers, secret and
/// service-account tmpfs, netns handles): hundreds on a busy node, none a node filesystem.
const PER_WORKLOAD_PREFIXES: &[&str] = &[
    "/proc/",
    "/sys/",
    "/run/containerd/",
    "/run/netns/",
    "/var/run/netns/",
    "/run/containers/storage/",
    "/var/lib/containers/storage/overlay",
    "/var/lib/docker/",
    "/var/lib/kubelet/pods/",
    "/var/lib/containerd/io.containerd.",
    "/run/k3s/containerd/",
];

/// The host's mount table: `/proc/1/mountinfo` (init's mount namespace, which is the node's
/// even when nodescope runs in a container with hostPID), falling back to our own.
pub(super) fn mountinfo(host: &dyn Host, errs: &mut Errors) -> Vec<Mount> {
    let mut first_err = None;
    for p in ["/proc/1/mountinfo", "/proc/self/mountinfo"] {
        match host.read(p) {
            Ok(raw) => match parse_mountinfo(&raw) {
                Ok(m) => return m,
                Err(e) => {
                    errs.unparsed(host, C, p, None, e);
                    return Vec::new();
                }
            },
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        errs.host(C, &e);
    }
    Vec::new()
}

/// Parses a mountinfo file (proc(5)) with procfs; options sorted for a stable form.
pub fn parse_mountinfo(raw: &[u8]) -> Result<Vec<Mount>, String> {
    let m = procfs_core::process::MountInfos::from_read(raw).map_err(|e| e.to_string())?;
    Ok(m.0
        .into_iter()
        .map(|mi| Mount {
            mount_point: mi.mount_point.to_string_lossy().into_owned(),
            fs_type: mi.fs_type,
            source: mi.mount_source.unwrap_or_default(),
            device: mi.majmin,
            upperdir: mi.super_options.get("upperdir").cloned().flatten(),
            options: {
                let mut o: Vec<String> = mi
                    .mount_options
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k,
                    })
                    .collect();
                o.sort();
                o.join(",")
            },
        })
        .collect())
}

/// Whether a mount is a node filesystem worth a statvfs.
pub(crate) fn is_local(m: &Mount) -> bool {
    !VIRTUAL_FS.contains(&m.fs_type.as_str())
        && !m.fs_type.starts_with("nfs")
        && !PER_WORKLOAD_PREFIXES
            .iter()
            .any(|p| m.mount_point.starts_with(p))
        && m.mount_point != "/proc"
        && m.mount_point != "/sys"
}

/// statvfs of every local filesystem (one per mount point; the last mount shadows earlier ones).
/// Network filesystems are included: they are where hangs come from, and the deadline covers them.
/// A stuck or failing statvfs is also an entry of `errors` (path: the mount point), so every
/// output names the mount, not only the disk views.
pub(super) fn filesystems(host: &dyn Host, mounts: &[Mount], errs: &mut Errors) -> Vec<Filesystem> {
    let mut chosen: Vec<&Mount> = Vec::new();
    for m in mounts {
        let keep = is_local(m) || m.fs_type.starts_with("nfs") || m.fs_type.starts_with("fuse");
        if !keep
            || PER_WORKLOAD_PREFIXES
                .iter()
                .any(|p| m.mount_point.starts_with(p))
        {
            continue;
        }
        chosen.retain(|c| c.mount_point != m.mount_point);
        chosen.push(m);
    }
    chosen.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    let paths: Vec<String> = chosen.iter().map(|m| m.mount_point.clone()).collect();
    let results = host.statvfs(&paths);
    chosen
        .iter()
        .zip(results)
        .map(|(m, r)| match r {
            Ok(s) => Filesystem {
                mount_point: m.mount_point.clone(),
                fs_type: m.fs_type.clone(),
                stat: Some(s),
                error: None,
                stuck: false,
            },
            Err(e) => {
                // A mount gone since the table was read is churn; a bundle without the
                // statvfs of a mount simply did not record it.
                errs.unless_missing(C, &e);
                Filesystem {
                    mount_point: m.mount_point.clone(),
                    fs_type: m.fs_type.clone(),
                    stat: None,
                    stuck: e.kind == ErrorKind::Timeout,
                    error: Some(e.to_string()),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(point: &str, fs: &str) -> Mount {
        Mount {
            mount_point: point.into(),
            fs_type: fs.into(),
            source: String::new(),
            device: "0:1".into(),
            options: String::new(),
            upperdir: None,
        }
    }

    #[test]
    fn local_filesystems_exclude_virtual_and_per_pod_mounts() {
        assert!(is_local(&m("/", "ext4")));
        assert!(is_local(&m("/run", "tmpfs")));
        assert!(!is_local(&m("/sys/fs/cgroup", "cgroup2")));
        assert!(!is_local(&m(
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
            "overlay"
        )));
        assert!(!is_local(&m(
            "/var/lib/kubelet/pods/u/volumes/kubernetes.io~projected/x",
            "tmpfs"
        )));
        assert!(!is_local(&m("/mnt/share", "nfs4")));
    }
}
