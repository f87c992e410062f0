//! Each running pod's `/dev/shm` as its own processes see it. containerd and CRI-O give every
//! pod a 64 MiB tmpfs there (containerd pkg/cri/server/helpers_linux.go `defaultShmSize =
//! int64(1024 * 1024 * 64)`, mounted by sandbox_run_linux.go `setupSandboxFiles` with
//! `mode=1777,size=%d`, shown as `size=65536k`; CRI-O internal/lib/sandbox/sandbox.go
//! `DefaultShmSize = 64 * 1024 * 1024`, changed per pod only by its annotation
//! `io.kubernetes.cri-o.ShmSize`, not by crio.conf), which NCCL and PyTorch's data loaders outgrow
//! (`Bus error`, `failed to extend /dev/shm/nccl-...`); the cure is an emptyDir with
//! `medium: Memory` mounted at /dev/shm.
//!
//! Where: the process's `/proc/<pid>/mountinfo` (proc(5)): the last line whose mount point is
//! `/dev/shm` (a later mount covers an earlier one), its superblock options' `size=` as tmpfs
//! prints it (mm/shmem.c `shmem_show_options`: `size=%luk`, shown only when not the default).
//! An emptyDir is recognised by its device: the kubelet mounts the tmpfs on the host under
//! `/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>` (pkg/volume/emptydir)
//! and the runtime binds it into the container, so the host's mount of the same `major:minor`
//! names the volume. No environment is read (NCCL_* variables may hold secrets).
//!
//! A tmpfs mounted without `size=` (tmpfs's default, half of RAM, is not printed) or with a
//! value we cannot parse is sized by statvfs of `/proc/<pid>/root/dev/shm`: the live host
//! resolves that path inside the process's root (docs/security.md) under a deadline, and
//! `size_from` records which way the size was learned.

use super::Errors;
use crate::model::gpu::{PodShm, ShmSizeFrom};
use crate::model::{Mount, Pod, Process};
use crate::source::{ErrorKind, Host};

const C: &str = "pod-shm";
const SHM: &str = "/dev/shm";
const EMPTY_DIR: &str = "/volumes/kubernetes.io~empty-dir/";

/// `/dev/shm` of each running pod with a process in view.
pub(super) fn collect(
    host: &dyn Host,
    pods: &[Pod],
    processes: &[Process],
    host_mounts: &[Mount],
    errs: &mut Errors,
) -> Vec<PodShm> {
    let mut out = Vec::new();
    for pod in pods.iter().filter(|p| p.cgroup.is_some()) {
        let ids: Vec<&str> = pod
            .containers
            .iter()
            .filter(|c| !c.sandbox)
            .map(|c| c.id.as_str())
            .collect();
        let Some(p) = processes
            .iter()
            .find(|p| p.container_id.as_deref().is_some_and(|c| ids.contains(&c)))
        else {
            continue;
        };
        let path = format!("/proc/{}/mountinfo", p.pid);
        let text = match host.read_string(&path) {
            Ok(t) => t,
            Err(e) => {
                if e.kind != ErrorKind::Missing {
                    errs.host(C, &e);
                }
                continue;
            }
        };
        let Some(m) = shm_mount(&text) else { continue };
        let empty_dir = host_mounts
            .iter()
            .filter(|h| h.device == m.device)
            .find_map(|h| empty_dir_name(&h.mount_point, &pod.uid));
        out.push(PodShm {
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            pod_uid: pod.uid.clone(),
            pid: p.pid,
            fs_type: m.fs_type,
            size_from: m.size_bytes.map(|_| ShmSizeFrom::MountOption),
            size_bytes: m.size_bytes,
            empty_dir,
        });
    }
    size_unsized(host, &mut out, errs);
    out
}

/// Sizes, with one bounded statvfs call, each `/dev/shm` whose mount showed no usable
/// `size=`: through the process's own root, so it is the pod's mount that is measured.
fn size_unsized(host: &dyn Host, shms: &mut [PodShm], errs: &mut Errors) {
    let todo: Vec<usize> = (0..shms.len())
        .filter(|&i| shms[i].size_bytes.is_none())
        .collect();
    if todo.is_empty() {
        return;
    }
    let paths: Vec<String> = todo.iter().map(|&i| shm_path(shms[i].pid)).collect();
    for (i, r) in todo.into_iter().zip(host.statvfs(&paths)) {
        match r {
            Ok(st) => {
                shms[i].size_bytes = Some(st.blocks.saturating_mul(st.frsize));
                shms[i].size_from = Some(ShmSizeFrom::Statvfs);
            }
            Err(e) if e.kind == ErrorKind::Missing => {}
            Err(e) => errs.host(C, &e),
        }
    }
}

/// A process's `/dev/shm` as a host path through its root.
fn shm_path(pid: u32) -> String {
    format!("/proc/{pid}/root{SHM}")
}

/// What one mountinfo line says of the mount at /dev/shm.
#[derive(Debug, PartialEq, Eq)]
pub struct ShmMount {
    pub device: String,
    pub fs_type: String,
    pub size_bytes: Option<u64>,
}

/// The mount at `/dev/shm` in a mountinfo text (the last one: it covers the others).
pub fn shm_mount(mountinfo: &str) -> Option<ShmMount> {
    mountinfo.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let f: Vec<&str> = left.split(' ').collect();
        if f.get(4) != Some(&SHM) {
            return None;
        }
        let mut r = right.split(' ');
        let fs_type = r.next()?.to_string();
        let _source = r.next()?;
        let size_bytes = r
            .next()
            .unwrap_or("")
            .split(',')
            .find_map(|o| o.strip_prefix("size="))
            .and_then(size);
        Some(ShmMount {
            device: f.get(2)?.to_string(),
            fs_type,
            size_bytes,
        })
    })
}

/// A tmpfs size as mountinfo shows it (`65536k`; `k`, `m`, `g` or bytes) → bytes.
fn size(v: &str) -> Option<u64> {
    let (n, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    n.parse::<u64>().ok()?.checked_mul(mult)
}

/// The emptyDir name of a host mount point of pod `uid`'s volume, if it is one.
fn empty_dir_name(mount_point: &str, uid: &str) -> Option<String> {
    let (before, name) = mount_point.split_once(EMPTY_DIR)?;
    (before.ends_with(&format!("/pods/{uid}")) && !name.is_empty() && !name.contains('/'))
        .then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // containerd's sandbox shm bound into a container (size=65536k), then an emptyDir tmpfs
    // over it: the second covers the first.
    const INFO: &str = "\
1630 1545 0:412 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64
1631 1545 0:415 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=8388608k,inode64
";

    #[test]
    fn the_last_mount_at_dev_shm_wins_and_its_size_is_read() {
        assert_eq!(
            shm_mount(INFO),
            Some(ShmMount {
                device: "0:415".into(),
                fs_type: "tmpfs".into(),
                size_bytes: Some(8 << 30)
            })
        );
        let first = INFO.lines().next().unwrap();
        assert_eq!(shm_mount(first).unwrap().size_bytes, Some(64 << 20));
    }

    #[test]
    fn a_tmpfs_without_size_and_no_dev_shm_at_all() {
        assert_eq!(
            shm_mount("30 25 0:26 / /dev/shm rw - tmpfs tmpfs rw,inode64\n")
                .unwrap()
                .size_bytes,
            None
        );
        assert_eq!(
            shm_mount("30 25 0:26 / /dev rw - tmpfs tmpfs rw,size=65536k\n"),
            None
        );
    }

    fn shm(pid: u32, size_bytes: Option<u64>) -> PodShm {
        PodShm {
            namespace: Some("ml".into()),
            pod: Some("ddp-train-0".into()),
            pod_uid: "u1".into(),
            pid,
            fs_type: "tmpfs".into(),
            size_from: size_bytes.map(|_| ShmSizeFrom::MountOption),
            size_bytes,
            empty_dir: None,
        }
    }

    /// A tmpfs mounted without `size=` is sized by statvfs through the process's root (the
    /// bundle records it under that path, as `capture` does); a `size=` is never re-measured.
    #[test]
    fn a_mount_without_size_is_sized_by_statvfs_through_the_process_root() {
        let d = tempfile::tempdir().unwrap();
        // statvfs of a tmpfs mounted without size= on a 16 GiB node: half of RAM, in 4 KiB
        // pages (mm/shmem.c shmem_default_max_blocks = totalram_pages() / 2).
        std::fs::write(
            d.path().join("nodescope-bundle.json"),
            serde_json::json!({"format": "nodescope-bundle/1", "captured_at": "2026-11-22T03:00:00Z",
                "statvfs": {"/proc/35137/root/dev/shm": {"bsize": 4096, "frsize": 4096,
                    "blocks": 2_049_164, "bfree": 2_049_164, "bavail": 2_049_164,
                    "files": 2_049_164, "ffree": 2_049_163, "favail": 2_049_163}}})
            .to_string(),
        )
        .unwrap();
        let host = crate::source::bundle::BundleHost::open(d.path()).unwrap();
        let mut shms = vec![
            shm(35137, None),
            shm(35200, Some(64 << 20)),
            shm(35300, None),
        ];
        let mut errs = Errors::default();
        size_unsized(&host, &mut shms, &mut errs);
        assert_eq!(shms[0].size_bytes, Some(2_049_164 * 4096));
        assert_eq!(shms[0].size_from, Some(ShmSizeFrom::Statvfs));
        assert_eq!(shms[1].size_bytes, Some(64 << 20));
        assert_eq!(shms[1].size_from, Some(ShmSizeFrom::MountOption));
        assert_eq!(
            (shms[2].size_bytes, shms[2].size_from),
            (None, None),
            "no statvfs recorded: unknown, and no error for an absent answer"
        );
        assert!(errs.0.is_empty());
    }

    #[test]
    fn an_unparsable_size_counts_as_none() {
        let m = shm_mount("30 25 0:26 / /dev/shm rw - tmpfs shm rw,size=lots\n").unwrap();
        assert_eq!(m.size_bytes, None);
    }

    #[test]
    fn an_empty_dir_is_named_only_under_its_own_pods_directory() {
        assert_eq!(
            empty_dir_name(
                "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/dshm",
                "u1"
            ),
            Some("dshm".into())
        );
        assert_eq!(
            empty_dir_name(
                "/var/lib/kubelet/pods/u2/volumes/kubernetes.io~empty-dir/dshm",
                "u1"
            ),
            None
        );
    }
}
