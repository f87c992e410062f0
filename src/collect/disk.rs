//! Disk attribution: which filesystems the kubelet evicts on, and what Kubernetes put on them.
//!
//! - nodefs is the filesystem of the kubelet's root dir; imagefs the filesystem of the
//!   directory the runtime's CRI `ImageFsInfo` reports (k8s-semantics §1.2): containerd's
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
use crate::model::disk::{
    CriSnapshot, DeletedOpenFile, Disk, FsRole, Image, ImageInventory, PodDir, PodLogDir,
    RuntimeStorage, Volume,
};
use crate::model::mount_of;
use crate::model::{CollectError, Filesystem, KubeletInfo, Mount, Process};
use crate::source::{EntryKind, ErrorKind, Host, WalkLimits, join};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const C: &str = "disk";
const POD_LOGS: &str = "/var/log/pods";
/// Share of inodes used past which a filesystem's densest directories are looked for
/// (RULES.md `disk.inode-exhaustion`).
pub const INODE_WALK_SHARE: f64 = 0.85;
const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
/// Share of bytes used past which a filesystem's largest files are looked for (RULES.md
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
) -> Disk {
    let started = Instant::now();
    let left = || opts.budget.saturating_sub(started.elapsed());
    let limits = |top: usize| WalkLimits {
        budget: left().min(Duration::from_secs(2)),
        top,
    };
    let say = |what: &str| {
        if let Some(p) = opts.progress {
            p(what)
        }
    };
    let root_dir = inp
        .kubelet
        .map(|k| k.config.root_dir.clone())
        .unwrap_or_else(|| "/var/lib/kubelet".into());
    let runtime = runtime_storage(host, inp.kubelet, errs);
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

    // Pod logs.
    say("pod logs");
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
        .zip(walk_all(host, &paths, limits(20), left(), errs))
    {
        l.walk = w;
    }

    // Pod directories and their volumes.
    say("pod volumes");
    let pods_dir = join(&root_dir, "pods");
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
        .zip(walk_all(host, &empty_dirs, limits(5), left(), errs))
        .collect::<std::collections::HashMap<_, _>>();
    for v in disk.pod_dirs.iter_mut().flat_map(|d| d.volumes.iter_mut()) {
        if let Some(w) = walked.remove(&v.path) {
            v.walk = w;
        }
    }

    // Deleted-but-open files. Kernel threads (no command line) hold no files.
    say("open files");
    let holders: Vec<&Process> = inp
        .processes
        .iter()
        .filter(|p| !p.cmdline.is_empty())
        .collect();
    let pids: Vec<u32> = holders.iter().map(|p| p.pid).collect();
    let imagefs_mount = disk.imagefs.as_ref().and_then(|r| r.mount_point.clone());
    let mut denied: Vec<u32> = Vec::new();
    for (p, r) in holders.iter().zip(host.deleted_files(&pids)) {
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

    // Filesystems short of inodes: where are the entries?
    for fs in inp.filesystems {
        let Some(st) = fs.stat else { continue };
        if st.files == 0 {
            continue;
        }
        let used = st.files.saturating_sub(st.ffree) as f64 / st.files as f64;
        if used >= INODE_WALK_SHARE {
            say(&format!("inodes of {}", fs.mount_point));
            if let Some(w) = walk(host, &fs.mount_point, limits(10), left(), errs) {
                disk.inode_walks.push(w);
            }
        }
    }

    // Filesystems nearly full of bytes: which files fill them?
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
        if walked || image || st.bytes_used_share() < FULL_WALK_SHARE {
            continue;
        }
        say(&format!("files of {}", fs.mount_point));
        if let Some(w) = walk(host, &fs.mount_point, limits(10), left(), errs) {
            disk.full_walks.push(w);
        }
    }

    // Containers' writable layers: the upperdir of each container root overlay.
    say("writable layers");
    let crio_layers = runtime
        .as_ref()
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
            .zip(walk_all(host, &uppers, limits(5), left(), errs))
    {
        disk.writable_layers
            .push(crate::model::disk::WritableLayer {
                container_id: id,
                upperdir: upper,
                walk,
            });
    }

    // The runtime's images: from its CRI socket when it answers, else from its files.
    say("CRI socket");
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
        if opts.deep {
            for dir in store_dirs(&rt) {
                say(&format!("image store {dir}"));
                let l = WalkLimits {
                    budget: left(),
                    top: 10,
                };
                if let Some(w) = walk(host, &dir, l, left(), errs) {
                    rt.walks.push(w);
                }
            }
        }
        disk.runtime = Some(rt);
    }
    disk
}

/// The CRI endpoints to ask: the kubelet's `containerRuntimeEndpoint` when it sets one, else
/// containerd's then CRI-O's default socket.
fn cri_endpoints(kubelet: Option<&KubeletInfo>) -> Vec<String> {
    let named = kubelet.filter(|k| {
        k.config.sources.contains_key("containerRuntimeEndpoint")
            && !k.config.container_runtime_endpoint.trim().is_empty()
    });
    match named {
        Some(k) => vec![k.config.container_runtime_endpoint.trim().to_string()],
        None => crate::source::cri::DEFAULT_ENDPOINTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// A socket that is there but did not answer, and calls that failed, are what could not be
/// collected; no socket at all is simply a node whose runtime is not asked.
fn cri_errors(c: &CriSnapshot, errs: &mut Errors) {
    let path = crate::source::cri::socket_path(&c.endpoint).map(String::from);
    let reasons = c
        .unavailable
        .iter()
        .filter(|u| !u.starts_with(crate::model::disk::CRI_NO_SOCKET))
        .chain(&c.errors);
    for r in reasons {
        errs.push(CollectError {
            collector: C.into(),
            kind: if r.contains(" within ") {
                ErrorKind::Timeout
            } else {
                ErrorKind::Io
            },
            path: path.clone(),
            line: None,
            message: format!("CRI: {r}"),
        });
    }
}

/// The image inventory from the runtime's CRI answers; `None` unless both the images and the
/// containers were listed.
///
/// An image is in use when a container (any state: `ListContainers` without a filter) names
/// it, and prunable when it is in use by none and not pinned: `crictl rmi --prune`
/// (cri-tools `cmd/crictl/image.go`, `removeImageCommand`) lists all images, skips pinned
/// ones, then keeps every image that a container's `image.image` resolves to through
/// `ImageStatus`. That resolution is done here without another call: the spec matches an
/// image's id, one of its tags or digests, after the normalization the runtime applies
/// (`nginx:1.27` is `docker.io/library/nginx:1.27`). A container's `image_ref` / `image_id`
/// (the image it was created from, by id or digest) also count: they differ from the spec only
/// when a tag moved since, and removing the older image would free nothing while the container
/// holds its layers.
pub fn cri_inventory(c: &CriSnapshot) -> Option<ImageInventory> {
    let (images, containers) = (c.images.as_ref()?, c.containers.as_ref()?);
    // Each container's references, as given and normalized, made once for all images.
    let refs: Vec<Vec<(&str, String)>> = containers
        .iter()
        .map(|ct| {
            [&ct.image, &ct.image_ref, &ct.image_id]
                .into_iter()
                .filter(|r| !r.is_empty())
                .map(|r| (r.as_str(), normalize_ref(r)))
                .collect()
        })
        .collect();
    let mut out: Vec<Image> = images
        .iter()
        .map(|i| {
            let tags: Vec<String> = i.repo_tags.iter().map(|t| normalize_ref(t)).collect();
            let names_it = |(r, norm): &(&str, String)| {
                *r == i.id
                    || i.repo_digests.iter().any(|d| d == r)
                    || i.id.strip_prefix("sha256:") == Some(*r)
                    || tags.contains(norm)
                    || i.repo_digests.contains(norm)
            };
            let used = refs.iter().filter(|rs| rs.iter().any(names_it)).count();
            Image {
                id: i.id.clone(),
                names: if i.repo_tags.is_empty() {
                    i.repo_digests.clone()
                } else {
                    i.repo_tags.clone()
                },
                bytes: Some(i.size_bytes),
                in_use: used > 0,
                used_by_containers: u32::try_from(used).unwrap_or(u32::MAX),
                pinned: i.pinned,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some(ImageInventory {
        source: format!("CRI {}", c.endpoint),
        images: out,
        filesystems: c.image_filesystems.clone().unwrap_or_default(),
    })
}

/// An image reference in the runtime's normal form (distribution's `ParseDockerRef`, which
/// containerd and CRI-O apply before looking an image up): a domain (`docker.io` when the first
/// component is not a host), `library/` for docker.io's one-component names, and `:latest`
/// when neither a tag nor a digest is given.
fn normalize_ref(r: &str) -> String {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let (name, tag) = match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name, None),
    };
    let name = match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            name.to_string()
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    match (digest, tag) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(t)) => format!("{name}:{t}"),
        (None, None) => format!("{name}:latest"),
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

/// The runtime the kubelet talks to (its `containerRuntimeEndpoint`), else whichever runtime's
/// state exists on the host, with its storage layout from its configuration.
fn runtime_storage(
    host: &dyn Host,
    kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> Option<RuntimeStorage> {
    let endpoint = kubelet
        .map(|k| k.config.container_runtime_endpoint.as_str())
        .unwrap_or("");
    let name = if endpoint.contains("crio") {
        "cri-o"
    } else if endpoint.contains("containerd") {
        "containerd"
    } else if host.exists("/etc/crio") || host.exists("/run/crio") {
        "cri-o"
    } else if host.exists("/etc/containerd") || host.exists("/var/lib/containerd") {
        "containerd"
    } else {
        return None;
    };
    Some(if name == "containerd" {
        containerd_storage(host, errs)
    } else {
        crio_storage(host, errs)
    })
}

pub(super) fn read_toml(host: &dyn Host, path: &str, errs: &mut Errors) -> Option<toml::Table> {
    let text = match host.read_string(path) {
        Ok(t) => t,
        Err(e) => {
            errs.unless_missing(C, &e);
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(t) => Some(t),
        Err(e) => {
            errs.unparsed(host, C, path, None, e.message().to_string());
            None
        }
    }
}

pub(super) fn toml_str<'a>(t: &'a toml::Table, keys: &[&str]) -> Option<&'a str> {
    let (last, parents) = keys.split_last()?;
    let mut cur = t;
    for k in parents {
        cur = cur.get(*k)?.as_table()?;
    }
    cur.get(*last)?.as_str()
}

/// containerd: `root` at the top of `/etc/containerd/config.toml` (default
/// `/var/lib/containerd`); the CRI plugin's snapshotter (config v2
/// `plugins."io.containerd.grpc.v1.cri".containerd.snapshotter`, v3
/// `plugins."io.containerd.cri.v1.images".snapshotter`; default `overlayfs`).
fn containerd_storage(host: &dyn Host, errs: &mut Errors) -> RuntimeStorage {
    const CONFIG: &str = "/etc/containerd/config.toml";
    let cfg = read_toml(host, CONFIG, errs);
    let root = cfg
        .as_ref()
        .and_then(|t| toml_str(t, &["root"]))
        .unwrap_or("/var/lib/containerd")
        .to_string();
    let snapshotter = cfg
        .as_ref()
        .and_then(|t| {
            toml_str(
                t,
                &["plugins", "io.containerd.cri.v1.images", "snapshotter"],
            )
            .or_else(|| {
                toml_str(
                    t,
                    &[
                        "plugins",
                        "io.containerd.grpc.v1.cri",
                        "containerd",
                        "snapshotter",
                    ],
                )
            })
        })
        .unwrap_or("overlayfs");
    RuntimeStorage {
        name: "containerd".into(),
        image_store: join(
            &root,
            &format!("io.containerd.snapshotter.v1.{snapshotter}"),
        ),
        root,
        config_files: cfg.map(|_| vec![CONFIG.to_string()]).unwrap_or_default(),
        walks: Vec::new(),
    }
}

/// CRI-O: containers-storage's `[storage] graphroot` and `driver` from
/// `/etc/containers/storage.conf`, overridden by `[crio] root` / `storage_driver` in
/// `/etc/crio/crio.conf` and its drop-ins `/etc/crio/crio.conf.d/*.conf` (lexical order).
fn crio_storage(host: &dyn Host, errs: &mut Errors) -> RuntimeStorage {
    let mut root = "/var/lib/containers/storage".to_string();
    let mut driver = "overlay".to_string();
    let mut files = Vec::new();
    let mut crio_files = vec!["/etc/crio/crio.conf".to_string()];
    if let Ok(d) = host.read_dir("/etc/crio/crio.conf.d") {
        crio_files.extend(
            d.into_iter()
                .filter(|e| e.name.ends_with(".conf"))
                .map(|e| join("/etc/crio/crio.conf.d", &e.name)),
        );
    }
    if let Some(t) = read_toml(host, "/etc/containers/storage.conf", errs) {
        files.push("/etc/containers/storage.conf".to_string());
        if let Some(r) = toml_str(&t, &["storage", "graphroot"]) {
            root = r.to_string();
        }
        if let Some(d) = toml_str(&t, &["storage", "driver"]).filter(|d| !d.is_empty()) {
            driver = d.to_string();
        }
    }
    for f in crio_files {
        if let Some(t) = read_toml(host, &f, errs) {
            if let Some(r) = toml_str(&t, &["crio", "root"]) {
                root = r.to_string();
            }
            if let Some(d) = toml_str(&t, &["crio", "storage_driver"]).filter(|d| !d.is_empty()) {
                driver = d.to_string();
            }
            files.push(f);
        }
    }
    RuntimeStorage {
        name: "cri-o".into(),
        image_store: join(&root, &format!("{driver}-images")),
        root,
        config_files: files,
        walks: Vec::new(),
    }
}

/// The directories holding image content and layers, walked by `nodescope disk`.
fn store_dirs(rt: &RuntimeStorage) -> Vec<String> {
    if rt.name == "containerd" {
        vec![
            join(&rt.root, "io.containerd.content.v1.content"),
            rt.image_store.clone(),
        ]
    } else {
        vec![rt.root.clone()]
    }
}

/// CRI-O's containers by their layer id (`overlay-containers/containers.json`: each container's
/// `layer` is the read-write layer mounted at `overlay/<layer>/merged`).
fn crio_container_layers(host: &dyn Host, root: &str) -> HashMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Ctr {
        id: String,
        #[serde(default)]
        layer: Option<String>,
    }
    let Ok(raw) = host.read(&join(root, "overlay-containers/containers.json")) else {
        return HashMap::new();
    };
    serde_json::from_slice::<Vec<Ctr>>(&raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| Some((c.layer?, c.id)))
        .collect()
}

/// CRI-O's images with their sizes and whether a container uses them: what
/// `crictl rmi --prune` would remove is every image no container was created from.
fn crio_images(host: &dyn Host, root: &str, errs: &mut Errors) -> Option<ImageInventory> {
    #[derive(serde::Deserialize)]
    struct Img {
        id: String,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        layer: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Layer {
        id: String,
        #[serde(default)]
        parent: Option<String>,
        #[serde(default, rename = "diff-size")]
        diff_size: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Ctr {
        #[serde(default)]
        image: Option<String>,
    }
    fn load<T: serde::de::DeserializeOwned>(
        host: &dyn Host,
        path: &str,
        errs: &mut Errors,
    ) -> Option<Vec<T>> {
        match host.read(path) {
            Ok(raw) => match serde_json::from_slice(&raw) {
                Ok(v) => Some(v),
                Err(e) => {
                    errs.unparsed(host, C, path, None, e.to_string());
                    None
                }
            },
            Err(e) => {
                errs.unless_missing(C, &e);
                None
            }
        }
    }
    let images_path = join(root, "overlay-images/images.json");
    let images: Vec<Img> = load(host, &images_path, errs)?;
    let layers: Vec<Layer> =
        load(host, &join(root, "overlay-layers/layers.json"), errs).unwrap_or_default();
    let ctrs: Vec<Ctr> = load(
        host,
        &join(root, "overlay-containers/containers.json"),
        errs,
    )
    .unwrap_or_default();
    let by_id: HashMap<&str, &Layer> = layers.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut used: HashMap<&str, u32> = HashMap::new();
    for c in ctrs.iter().filter_map(|c| c.image.as_deref()) {
        *used.entry(c).or_default() += 1;
    }
    let size = |top: &str| -> Option<u64> {
        let mut total = 0u64;
        let mut cur = Some(top);
        let mut hops = 0;
        while let Some(id) = cur {
            let l = by_id.get(id)?;
            total += l.diff_size?;
            cur = l.parent.as_deref();
            hops += 1;
            if hops > 512 {
                return None;
            }
        }
        Some(total)
    };
    let mut out: Vec<Image> = images
        .iter()
        .map(|i| Image {
            id: i.id.clone(),
            names: i.names.clone(),
            bytes: i.layer.as_deref().and_then(size),
            in_use: used.contains_key(i.id.as_str()),
            used_by_containers: used.get(i.id.as_str()).copied().unwrap_or(0),
            // containers/storage keeps no pin; CRI-O pins by its `pinned_images` setting.
            pinned: false,
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some(ImageInventory {
        source: images_path,
        images: out,
        filesystems: Vec::new(),
    })
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

    #[test]
    fn references_normalize_as_the_runtime_resolves_them() {
        assert_eq!(normalize_ref("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalize_ref("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(
            normalize_ref("istio/proxyv2:1.23"),
            "docker.io/istio/proxyv2:1.23"
        );
        assert_eq!(
            normalize_ref("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_ref("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_ref("nginx:1.27@sha256:ab"),
            "docker.io/library/nginx@sha256:ab"
        );
    }

    #[test]
    fn crictl_prune_keeps_used_and_pinned_images() {
        use crate::model::disk::{CriContainer, CriImage};
        let img = |id: &str, tag: &str, pinned: bool| CriImage {
            id: id.into(),
            repo_tags: vec![tag.into()],
            repo_digests: vec![format!(
                "{}@sha256:d{id}",
                tag.split(':').next().unwrap_or("")
            )],
            size_bytes: 100,
            pinned,
        };
        let ctr = |image: &str, image_ref: &str, state: &str| CriContainer {
            id: format!("c-{image}"),
            name: String::new(),
            image: image.into(),
            image_ref: image_ref.into(),
            image_id: String::new(),
            state: state.into(),
        };
        let c = CriSnapshot {
            endpoint: "unix:///run/containerd/containerd.sock".into(),
            images: Some(vec![
                img("sha256:a", "docker.io/library/nginx:1.27", false),
                img("sha256:b", "docker.io/library/nginx:1.25", false),
                img("sha256:c", "registry.k8s.io/pause:3.10", true),
                img("sha256:d", "docker.io/library/busybox:latest", false),
                img("sha256:e", "registry.example.com/old:1", false),
            ]),
            containers: Some(vec![
                ctr("nginx:1.27", "", "running"),
                ctr("busybox", "", "exited"),
                ctr("sha256:e", "", "created"),
            ]),
            ..CriSnapshot::default()
        };
        let inv = cri_inventory(&c).expect("inventory");
        let prunable: Vec<&str> = inv
            .images
            .iter()
            .filter(|i| i.prunable())
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(prunable, ["sha256:b"]);
        assert_eq!(inv.source, "CRI unix:///run/containerd/containerd.sock");
        let no_ctrs = CriSnapshot {
            containers: None,
            ..c
        };
        assert!(cri_inventory(&no_ctrs).is_none());
    }
}
