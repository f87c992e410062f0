//! Disk attribution: which filesystems the kubelet evicts on, and what Kubernetes put on them.
//!
//! - nodefs is the filesystem of the kubelet's root dir; imagefs the filesystem of the
//!   directory the runtime's CRI `ImageFsInfo` reports (docs/kubelet-semantics.md §1.2): containerd's
//!   snapshotter root `<root>/io.containerd.snapshotter.v1.<snapshotter>`, CRI-O's
//!   `<graphroot>/<driver>-images` (cri-o `server/image_fs_info.go`).
//! - Pod logs (`/var/log/pods/<ns>_<pod>_<uid>`) and emptyDir volumes
//!   (`<root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>`) are walked, each bounded.
//! - Deleted-but-open files come from `/proc/<pid>/fd` links ending in ` (deleted)`.
//! - Filesystems with ≥ 85 % of their inodes used are walked to find the directories holding
//!   the most entries.
//! - The runtime's images come from its CRI socket when it answers (`ImageFsInfo`,
//!   `ListImages`, `ListContainers`; [`crate::source::cri`]), else, for CRI-O, from
//!   containers/storage's own JSON files (`overlay-images/images.json`,
//!   `overlay-layers/layers.json`, `overlay-containers/containers.json`). containerd keeps its
//!   image metadata in a bolt database, which is not read: without its socket only the size of
//!   its content store is known (the `nodescope disk` walk).

use super::Errors;
use super::carry::{Carry, fd_tables};
use super::images::{cri_errors, cri_inventory, crio_container_layers, crio_images};
use super::runtime::{cri_endpoints, runtime_storage, store_dirs};
use crate::model::disk::{
    DeletedOpenFile, Disk, FsRole, PodDir, PodLogDir, RuntimeStorage, Volume, WritableLayer,
};
use crate::model::mount_of;
use crate::model::{CollectError, Filesystem, KubeletInfo, Mount, Process};
use crate::source::{EntryKind, ErrorKind, Host, WalkLimits, join};
use std::time::{Duration, Instant};

const C: &str = "disk";
const POD_LOGS: &str = "/var/log/pods";
/// Share of inodes used past which a filesystem's densest directories are looked for
/// (docs/rules.md `disk.inode-exhaustion`).
pub const INODE_WALK_SHARE: f64 = 0.85;
const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
/// Share of bytes used past which a filesystem's largest files are looked for (docs/rules.md
/// `disk.filesystem-full` warns at 90 %).
pub const FULL_WALK_SHARE: f64 = 0.90;

/// How much walking a collection may do.
#[derive(Clone, Copy)]
pub struct DiskOptions<'a> {
    /// Also walk the runtime's image and layer stores (large: `nodescope disk` only).
    pub deep: bool,
    /// Wall time for all walks of one snapshot.
    pub budget: Duration,
    /// Told what is being walked, for a progress line on a terminal.
    pub progress: Option<&'a (dyn Fn(&str) + Sync)>,
}

impl Default for DiskOptions<'_> {
    fn default() -> Self {
        DiskOptions {
            deep: false,
            budget: Duration::from_secs(4),
            progress: None,
        }
    }
}

/// The facts the disk collector needs from the other collectors.
pub(super) struct Inputs<'a> {
    pub mounts: &'a [Mount],
    pub filesystems: &'a [Filesystem],
    pub processes: &'a [Process],
    pub kubelet: Option<&'a KubeletInfo>,
}

pub(super) fn collect(
    host: &dyn Host,
    inp: &Inputs<'_>,
    opts: DiskOptions<'_>,
    errs: &mut Errors,
    mut carry: Option<&mut Carry>,
) -> Disk {
    let b = Budget::start(opts);
    let root_dir = inp
        .kubelet
        .map(|k| k.config.root_dir.clone())
        .unwrap_or_else(|| "/var/lib/kubelet".into());
    // The slow parts: reused while the carried ones are fresh, else read (their errors kept
    // apart, to be told again with them).
    let reuse = carry.as_deref().and_then(Carry::fresh_slow).cloned();
    let mut slow_errs = Errors::default();
    let runtime = match &reuse {
        Some(s) => s.runtime.clone(),
        None => runtime_storage(host, inp.kubelet, &mut slow_errs),
    };
    let mut disk = Disk {
        nodefs: Some(FsRole {
            mount_point: mount_of(inp.mounts, &root_dir),
            path: root_dir.clone(),
        }),
        imagefs: runtime.as_ref().map(|r| FsRole {
            mount_point: mount_of(inp.mounts, &r.image_store),
            path: r.image_store.clone(),
        }),
        ..Disk::default()
    };
    if let Some(s) = &reuse {
        disk.pod_logs = s.pod_logs.clone();
        disk.pod_dirs = s.pod_dirs.clone();
    } else {
        pod_logs(host, &b, &mut disk, &mut slow_errs);
        pod_dirs(host, inp, &b, &root_dir, &mut disk, &mut slow_errs);
    }
    deleted_open_files(host, inp, &b, &mut disk, errs, carry.as_deref_mut());
    let (inode_cached, full_cached) = reuse.as_ref().map_or((&[][..], &[][..]), |s| {
        (&s.inode_walks[..], &s.full_walks[..])
    });
    inode_walks(host, inp, &b, &mut disk, errs, inode_cached);
    full_walks(host, inp, &b, &mut disk, errs, full_cached);
    match reuse {
        Some(s) => {
            disk.writable_layers = s.writable_layers;
            disk.cri = s.cri;
            disk.images = s.images;
            disk.runtime = s.runtime;
            errs.0.extend(s.errors);
        }
        None => {
            writable_layers(host, inp, &b, runtime.as_ref(), &mut disk, &mut slow_errs);
            images(host, inp, &b, runtime, &mut disk, &mut slow_errs);
            if let Some(c) = carry {
                c.keep_slow(Slow {
                    runtime: disk.runtime.clone(),
                    pod_logs: disk.pod_logs.clone(),
                    pod_dirs: disk.pod_dirs.clone(),
                    writable_layers: disk.writable_layers.clone(),
                    cri: disk.cri.clone(),
                    images: disk.images.clone(),
                    inode_walks: disk.inode_walks.clone(),
                    full_walks: disk.full_walks.clone(),
                    errors: slow_errs.0.clone(),
                });
            }
            errs.0.extend(slow_errs.0);
        }
    }
    disk
}

/// The parts of the disk collection that change slowly and cost the most (walks and CRI
/// calls), as one sample read them: what collect::Carry reuses for a while.
#[derive(Debug, Clone)]
pub(super) struct Slow {
    runtime: Option<RuntimeStorage>,
    pod_logs: Vec<PodLogDir>,
    pod_dirs: Vec<PodDir>,
    writable_layers: Vec<WritableLayer>,
    cri: Option<crate::model::disk::CriSnapshot>,
    images: Option<crate::model::disk::ImageInventory>,
    /// Walks of nearly full filesystems: reused for a filesystem that still is.
    inode_walks: Vec<crate::source::Walk>,
    full_walks: Vec<crate::source::Walk>,
    errors: Vec<CollectError>,
}

/// The time left to one collection's walks, and where to say what is being walked.
struct Budget<'a> {
    started: Instant,
    opts: DiskOptions<'a>,
}

impl<'a> Budget<'a> {
    fn start(opts: DiskOptions<'a>) -> Self {
        Budget {
            started: Instant::now(),
            opts,
        }
    }

    /// What is left of the whole budget.
    fn left(&self) -> Duration {
        self.opts.budget.saturating_sub(self.started.elapsed())
    }

    /// One walk's limits: at most 2 s of what is left, keeping the `top` largest.
    fn limits(&self, top: usize) -> WalkLimits {
        WalkLimits {
            budget: self.left().min(Duration::from_secs(2)),
            top,
        }
    }

    fn say(&self, what: &str) {
        if let Some(p) = self.opts.progress {
            p(what)
        }
    }
}

/// `/var/log/pods/<ns>_<pod>_<uid>` directories, each walked.
fn pod_logs(host: &dyn Host, b: &Budget, disk: &mut Disk, errs: &mut Errors) {
    b.say("pod logs");
    match host.read_dir(POD_LOGS) {
        Ok(entries) => {
            for e in entries.into_iter().filter(|e| e.kind == EntryKind::Dir) {
                let Some((ns, pod, uid)) = super::pods::parse_pod_log_dir(&e.name) else {
                    continue;
                };
                disk.pod_logs.push(PodLogDir {
                    uid,
                    namespace: ns,
                    pod,
                    path: join(POD_LOGS, &e.name),
                    walk: None,
                });
            }
        }
        Err(e) => errs.unless_missing(C, &e),
    }
    let paths: Vec<String> = disk.pod_logs.iter().map(|l| l.path.clone()).collect();
    for (l, w) in disk
        .pod_logs
        .iter_mut()
        .zip(walk_all(host, &paths, b.limits(20), b.left(), errs))
    {
        l.walk = w;
    }
}

/// `<kubelet root>/pods/<uid>` directories and their volumes; disk-backed emptyDirs walked.
fn pod_dirs(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    root_dir: &str,
    disk: &mut Disk,
    errs: &mut Errors,
) {
    b.say("pod volumes");
    let pods_dir = join(root_dir, "pods");
    match host.read_dir(&pods_dir) {
        Ok(entries) => {
            for e in entries.into_iter().filter(|e| e.kind == EntryKind::Dir) {
                let path = join(&pods_dir, &e.name);
                let volumes = volumes(host, inp.mounts, &path);
                disk.pod_dirs.push(PodDir {
                    uid: e.name,
                    path,
                    volumes,
                });
            }
        }
        Err(e) => errs.unless_missing(C, &e),
    }
    let empty_dirs: Vec<String> = disk
        .pod_dirs
        .iter()
        .flat_map(|d| &d.volumes)
        .filter(|v| v.plugin == EMPTY_DIR && !v.memory_backed)
        .map(|v| v.path.clone())
        .collect();
    let mut walked = empty_dirs
        .iter()
        .cloned()
        .zip(walk_all(host, &empty_dirs, b.limits(5), b.left(), errs))
        .collect::<std::collections::HashMap<_, _>>();
    for v in disk.pod_dirs.iter_mut().flat_map(|d| d.volumes.iter_mut()) {
        if let Some(w) = walked.remove(&v.path) {
            v.walk = w;
        }
    }
}

/// Files deleted while a process still holds them open, on the node filesystem they fill.
fn deleted_open_files(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    disk: &mut Disk,
    errs: &mut Errors,
    carry: Option<&mut Carry>,
) {
    // Deleted-but-open files. Kernel threads (no command line) hold no files.
    b.say("open files");
    let holders: Vec<&Process> = inp
        .processes
        .iter()
        .filter(|p| !p.cmdline.is_empty())
        .collect();
    let imagefs_mount = disk.imagefs.as_ref().and_then(|r| r.mount_point.clone());
    let mut denied: Vec<u32> = Vec::new();
    for (p, r) in holders.iter().zip(fd_tables(host, &holders, carry)) {
        match r {
            Ok(fds) if fds.is_empty() => {}
            Ok(fds) => {
                // A containerized holder names paths in its own mount namespace: map them to
                // the node's filesystems through its mountinfo.
                let own = p
                    .container_id
                    .as_ref()
                    .and_then(|_| host.read(&format!("/proc/{}/mountinfo", p.pid)).ok())
                    .and_then(|raw| super::mounts::parse_mountinfo(&raw).ok());
                for fd in fds {
                    let mount_point = match &own {
                        Some(own) => {
                            node_mount_of(inp.mounts, own, fd.path(), imagefs_mount.as_deref())
                        }
                        None => mount_of(inp.mounts, fd.path()),
                    };
                    disk.deleted_open_files.push(DeletedOpenFile {
                        pid: p.pid,
                        comm: p.comm.clone(),
                        container_id: p.container_id.clone(),
                        mount_point,
                        fd,
                    });
                }
            }
            // Without root every other user's fd directory is denied: one line, not one
            // per process (a busy node has a thousand).
            Err(e) if e.kind == ErrorKind::Denied => denied.push(p.pid),
            Err(e) => errs.unless_missing(C, &e),
        }
    }
    if let Some(first) = denied.first() {
        let shown: Vec<String> = denied.iter().take(8).map(u32::to_string).collect();
        errs.push(CollectError {
            collector: C.into(),
            kind: ErrorKind::Denied,
            path: Some(format!("/proc/{first}/fd")),
            line: None,
            message: format!(
                "the open files of {} process(es) are not readable (pids {}{}); deleted files \
                 they hold open are not counted",
                denied.len(),
                shown.join(", "),
                if denied.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        });
    }
}

/// Filesystems with ≥ [`INODE_WALK_SHARE`] of their inodes used, walked for their entries
/// (unless `cached` holds a walk of it: incremental sampling).
fn inode_walks(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    disk: &mut Disk,
    errs: &mut Errors,
    cached: &[crate::source::Walk],
) {
    for fs in inp.filesystems {
        let Some(st) = fs.stat else { continue };
        if st.files == 0 {
            continue;
        }
        let used = st.files.saturating_sub(st.ffree) as f64 / st.files as f64;
        if used >= INODE_WALK_SHARE {
            b.say(&format!("inodes of {}", fs.mount_point));
            if let Some(w) = cached_walk(cached, &fs.mount_point)
                .or_else(|| walk(host, &fs.mount_point, b.limits(10), b.left(), errs))
            {
                disk.inode_walks.push(w);
            }
        }
    }
}

/// Filesystems with ≥ [`FULL_WALK_SHARE`] of their bytes used (and not walked for inodes
/// already), walked for their largest files (unless `cached` holds a walk of it).
fn full_walks(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    disk: &mut Disk,
    errs: &mut Errors,
    cached: &[crate::source::Walk],
) {
    for fs in inp.filesystems {
        let Some(st) = fs.stat else { continue };
        let walked = disk.inode_walks.iter().any(|w| w.path == fs.mount_point);
        // Images (a loop device, a read-only mount) are full by construction: not walked.
        let image = inp
            .mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == fs.mount_point)
            .is_some_and(|m| {
                m.source.starts_with("/dev/loop") || m.options.split(',').any(|o| o == "ro")
            });
        if walked || image || st.used_share() < FULL_WALK_SHARE {
            continue;
        }
        b.say(&format!("files of {}", fs.mount_point));
        if let Some(w) = cached_walk(cached, &fs.mount_point)
            .or_else(|| walk(host, &fs.mount_point, b.limits(10), b.left(), errs))
        {
            disk.full_walks.push(w);
        }
    }
}

/// The walk of `path` a recent sample made, if any.
fn cached_walk(cached: &[crate::source::Walk], path: &str) -> Option<crate::source::Walk> {
    cached.iter().find(|w| w.path == path).cloned()
}

/// Each container's writable layer (the upperdir of its root overlay), walked.
fn writable_layers(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    runtime: Option<&RuntimeStorage>,
    disk: &mut Disk,
    errs: &mut Errors,
) {
    b.say("writable layers");
    let crio_layers = runtime
        .filter(|r| r.name == "cri-o")
        .map(|r| crio_container_layers(host, &r.root))
        .unwrap_or_default();
    let mut layers: Vec<(String, String)> = inp
        .mounts
        .iter()
        .filter(|m| m.fs_type == "overlay")
        .filter_map(|m| {
            let upper = m.upperdir.clone()?;
            let parts: Vec<&str> = m.mount_point.split('/').collect();
            // containerd: /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/rootfs
            if m.mount_point.ends_with("/rootfs")
                && let Some(i) = parts.iter().position(|p| *p == "k8s.io")
                && let Some(id) = parts.get(i + 1)
            {
                return Some((id.to_string(), upper));
            }
            // CRI-O (containers/storage): <graphroot>/overlay/<layer>/merged
            if m.mount_point.ends_with("/merged") && parts.len() >= 3 {
                let layer = parts[parts.len() - 2];
                if let Some(id) = crio_layers.get(layer) {
                    return Some((id.clone(), upper));
                }
            }
            None
        })
        .collect();
    layers.sort();
    layers.dedup();
    let uppers: Vec<String> = layers.iter().map(|(_, u)| u.clone()).collect();
    for ((id, upper), walk) in
        layers
            .into_iter()
            .zip(walk_all(host, &uppers, b.limits(5), b.left(), errs))
    {
        disk.writable_layers.push(WritableLayer {
            container_id: id,
            upperdir: upper,
            walk,
        });
    }
}

/// The runtime's images (its CRI socket, else CRI-O's files) and, for `nodescope disk`, walks
/// of its image and layer stores.
fn images(
    host: &dyn Host,
    inp: &Inputs<'_>,
    b: &Budget,
    runtime: Option<RuntimeStorage>,
    disk: &mut Disk,
    errs: &mut Errors,
) {
    b.say("CRI socket");
    disk.cri = host.cri(&cri_endpoints(inp.kubelet));
    if let Some(c) = &disk.cri {
        cri_errors(c, errs);
        disk.images = cri_inventory(c);
    }

    // The runtime's stores.
    if let Some(mut rt) = runtime {
        if rt.name == "cri-o" && disk.images.is_none() {
            disk.images = crio_images(host, &rt.root, errs);
        }
        if b.opts.deep {
            for dir in store_dirs(&rt) {
                b.say(&format!("image store {dir}"));
                let l = WalkLimits {
                    budget: b.left(),
                    top: 10,
                };
                if let Some(w) = walk(host, &dir, l, b.left(), errs) {
                    rt.walks.push(w);
                }
            }
        }
        disk.runtime = Some(rt);
    }
}

/// One walk, unless the budget is spent; failures other than absence become errors.
fn walk(
    host: &dyn Host,
    path: &str,
    limits: WalkLimits,
    left: Duration,
    errs: &mut Errors,
) -> Option<crate::source::Walk> {
    if left.is_zero() {
        errs.push(crate::model::CollectError {
            collector: C.into(),
            kind: crate::source::ErrorKind::Timeout,
            path: Some(path.into()),
            line: None,
            message: "disk walk budget for this snapshot exhausted; not walked".into(),
        });
        return None;
    }
    match host.walk(path, limits) {
        Ok(w) => Some(w),
        Err(e) => {
            errs.unless_missing(C, &e);
            None
        }
    }
}

/// Many small walks on one bounded worker; each result `None` when it failed or was cut.
fn walk_all(
    host: &dyn Host,
    paths: &[String],
    limits: WalkLimits,
    left: Duration,
    errs: &mut Errors,
) -> Vec<Option<crate::source::Walk>> {
    if paths.is_empty() {
        return Vec::new();
    }
    host.walk_each(paths, limits, left)
        .into_iter()
        .map(|r| match r {
            Ok(w) => Some(w),
            Err(e) => {
                errs.unless_missing(C, &e);
                None
            }
        })
        .collect()
}

/// A pod directory's volumes (`volumes/<escaped plugin>/<name>`), not yet walked.
fn volumes(host: &dyn Host, mounts: &[Mount], pod_dir: &str) -> Vec<Volume> {
    let vol_root = join(pod_dir, "volumes");
    let Ok(plugins) = host.read_dir(&vol_root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for plugin in plugins.into_iter().filter(|e| e.kind == EntryKind::Dir) {
        let pdir = join(&vol_root, &plugin.name);
        let Ok(vols) = host.read_dir(&pdir) else {
            continue;
        };
        for v in vols.into_iter().filter(|e| e.kind == EntryKind::Dir) {
            let path = join(&pdir, &v.name);
            let memory_backed = mounts
                .iter()
                .any(|m| m.mount_point == path && (m.fs_type == "tmpfs" || m.fs_type == "ramfs"));
            out.push(Volume {
                plugin: plugin.name.clone(),
                name: v.name,
                path,
                memory_backed,
                walk: None,
            });
        }
    }
    out
}

/// The node filesystem behind a path seen inside a container: the container's mount holding
/// it, then the node mount of the same device (a bind-mounted volume), or, for the container's
/// overlay root, the image filesystem its writable layer lives on.
fn node_mount_of(
    node: &[Mount],
    container: &[Mount],
    path: &str,
    imagefs: Option<&str>,
) -> Option<String> {
    let mp = mount_of(container, path)?;
    let m = container.iter().rev().find(|m| m.mount_point == mp)?;
    if m.fs_type == "overlay" {
        return imagefs.map(String::from);
    }
    node.iter()
        .filter(|n| n.device == m.device)
        .min_by_key(|n| n.mount_point.len())
        .map(|n| n.mount_point.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(mp: &str, fs: &str) -> Mount {
        Mount {
            mount_point: mp.into(),
            fs_type: fs.into(),
            source: String::new(),
            device: "0:1".into(),
            options: String::new(),
            upperdir: None,
        }
    }

    #[test]
    fn mount_of_takes_the_longest_parent_and_respects_component_boundaries() {
        let ms = [
            m("/", "ext4"),
            m("/var/lib", "xfs"),
            m("/var/lib/kube", "xfs"),
        ];
        assert_eq!(
            mount_of(&ms, "/var/lib/kubelet").as_deref(),
            Some("/var/lib")
        );
        assert_eq!(
            mount_of(&ms, "/var/lib/kube/x").as_deref(),
            Some("/var/lib/kube")
        );
        assert_eq!(mount_of(&ms, "/var/lib").as_deref(), Some("/var/lib"));
        assert_eq!(mount_of(&ms, "/etc").as_deref(), Some("/"));
        assert_eq!(mount_of(&[], "/etc"), None);
    }
}
