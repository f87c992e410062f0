//! The `nodescope disk` view: filesystems against the kubelet's thresholds, what Kubernetes put
//! on them grouped the way Kubernetes names it, and the fixes. Built from a snapshot and its
//! findings; renderers only print it.

use crate::analyze::disk::{DiskSignal, disk_signals, inodes_used_percent};
use crate::analyze::{Finding, Severity};
use crate::model::Snapshot;
use serde::Serialize;

/// The JSON schema name of `nodescope disk --format json`.
pub const DISK_SCHEMA: &str = "nodescope-disk/1";

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DiskReport {
    pub schema: &'static str,
    pub node: String,
    pub taken_at: jiff::Timestamp,
    pub filesystems: Vec<FsRow>,
    /// Largest first.
    pub consumers: Vec<Consumer>,
    /// The runtime's images in figures, when its image list could be read.
    pub images: Option<ImagesSummary>,
    /// The runtime's images that `crictl rmi --prune` removes (no container uses them, not
    /// pinned), largest first; `None` when the runtime's image list could not be read.
    pub unused_images: Option<Vec<UnusedImage>>,
    /// Why `unused_images` is missing, when it is.
    pub unused_images_note: Option<String>,
    pub findings: Vec<Finding>,
    pub fixes: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FsRow {
    pub mount_point: String,
    pub fs_type: String,
    /// `nodefs`, `imagefs`, both, or none.
    pub roles: Vec<&'static str>,
    pub size_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub available_bytes: Option<u64>,
    pub used_percent: Option<f64>,
    pub inodes: Option<u64>,
    pub inodes_free: Option<u64>,
    pub inodes_used_percent: Option<f64>,
    /// The kubelet's thresholds on this filesystem, judged.
    pub signals: Vec<DiskSignal>,
    /// A statvfs that did not answer in time: a hung mount.
    pub stuck: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Consumer {
    /// What Kubernetes calls it: `pod logs`, `emptyDir`, `image store`, `deleted but open`,
    /// `orphaned pod logs`, `orphaned pod directory`.
    pub kind: &'static str,
    /// Who: `namespace/pod[/container]`, a pid, or the runtime.
    pub owner: String,
    pub path: String,
    pub bytes: u64,
    pub files: Option<u64>,
    /// The figure is a lower bound (a walk cut short by its budget).
    pub at_least: bool,
}

/// The runtime's images in figures.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImagesSummary {
    /// `CRI unix:///run/containerd/containerd.sock`, or the file the list was read from.
    pub source: String,
    pub count: usize,
    pub bytes: u64,
    /// Images no container uses, pinned ones included.
    pub unused: usize,
    /// Unused but pinned (the sandbox image): `crictl rmi --prune` keeps them.
    pub unused_pinned: usize,
    /// What `crictl rmi --prune` frees at most: the sizes of the images it removes. Layers
    /// shared with images that stay are counted here yet stay on disk.
    pub reclaimable_bytes: u64,
    /// CRI `ImageFsInfo`: what the images use on each image filesystem.
    pub filesystems: Vec<crate::model::disk::CriFsUsage>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UnusedImage {
    pub id: String,
    pub names: Vec<String>,
    pub bytes: Option<u64>,
}

/// `nodescope disk --format json`: the view, what could not be collected, and the disk part
/// of the snapshot it was built from (docs/schema/nodescope-disk.schema.json).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DiskJson<'a> {
    #[serde(flatten)]
    pub report: &'a DiskReport,
    pub errors: &'a [crate::model::CollectError],
    pub disk: &'a crate::model::disk::Disk,
}

/// The JSON Schema of `nodescope disk --format json`.
pub fn disk_schema() -> String {
    super::schema_json::<DiskJson<'static>>()
}

/// Builds the view. `findings` are all findings; the disk ones are kept.
pub fn build(snap: &Snapshot, findings: &[Finding]) -> DiskReport {
    let d = &snap.disk;
    let nodefs_mp = d.nodefs.as_ref().and_then(|r| r.mount_point.clone());
    let imagefs_mp = d.imagefs.as_ref().and_then(|r| r.mount_point.clone());
    let mut filesystems = Vec::new();
    for fs in &snap.filesystems {
        let mut roles = Vec::new();
        let mut signals = Vec::new();
        if nodefs_mp.as_deref() == Some(fs.mount_point.as_str()) {
            roles.push("nodefs");
            if let Some(st) = &fs.stat {
                signals.extend(disk_signals(snap, "nodefs", st));
            }
        }
        if imagefs_mp.as_deref() == Some(fs.mount_point.as_str()) {
            roles.push("imagefs");
            if let Some(st) = &fs.stat {
                signals.extend(disk_signals(snap, "imagefs", st));
            }
        }
        let st = fs.stat.as_ref();
        let f = st.map(|s| s.frsize.max(1));
        filesystems.push(FsRow {
            mount_point: fs.mount_point.clone(),
            fs_type: fs.fs_type.clone(),
            roles,
            size_bytes: st.zip(f).map(|(s, f)| s.blocks * f),
            used_bytes: st.zip(f).map(|(s, f)| s.blocks.saturating_sub(s.bfree) * f),
            available_bytes: st.zip(f).map(|(s, f)| s.bavail * f),
            // df's Use%: used / (used + available), rounded up.
            used_percent: st.and_then(|s| {
                let used = s.blocks.saturating_sub(s.bfree);
                let denom = used + s.bavail;
                (denom > 0).then(|| (used as f64 * 100.0 / denom as f64).ceil())
            }),
            inodes: st.map(|s| s.files),
            inodes_free: st.map(|s| s.ffree),
            inodes_used_percent: st.and_then(inodes_used_percent).map(|p| p.ceil()),
            signals,
            stuck: fs.stuck,
            error: fs.error.clone(),
        });
    }

    let mut consumers = Vec::new();
    let running = |uid: &str| crate::analyze::disk::pod_running(snap, uid) != Some(false);
    for l in &d.pod_logs {
        let Some(w) = &l.walk else { continue };
        consumers.push(Consumer {
            kind: if running(&l.uid) {
                "pod logs"
            } else {
                "orphaned pod logs"
            },
            owner: format!("{}/{}", l.namespace, l.pod),
            path: l.path.clone(),
            bytes: w.bytes,
            files: Some(w.files),
            at_least: !w.complete,
        });
    }
    for p in &d.pod_dirs {
        let (ns, pod) = crate::analyze::disk::pod_names(snap, &p.uid);
        let owner = crate::model::pod_ref(ns.as_deref(), pod.as_deref(), &p.uid);
        for v in &p.volumes {
            let Some(w) = &v.walk else { continue };
            consumers.push(Consumer {
                kind: if running(&p.uid) {
                    "emptyDir"
                } else {
                    "orphaned pod directory"
                },
                owner: format!("{owner} ({})", v.name),
                path: v.path.clone(),
                bytes: w.bytes,
                files: Some(w.files),
                at_least: !w.complete,
            });
        }
    }
    for f in &d.deleted_open_files {
        let owner = f
            .container_id
            .as_deref()
            .and_then(|id| snap.container(id))
            .map(|(p, c)| {
                format!(
                    "{}/{}/{}",
                    p.namespace.as_deref().unwrap_or("?"),
                    p.name.as_deref().unwrap_or("?"),
                    c.name.as_deref().unwrap_or("?")
                )
            })
            .unwrap_or_else(|| format!("{}[{}]", f.comm, f.pid));
        consumers.push(Consumer {
            kind: "deleted but open",
            owner,
            path: format!("{} (pid {} fd {})", f.fd.path(), f.pid, f.fd.fd),
            bytes: f.fd.size.unwrap_or(0),
            files: Some(1),
            at_least: f.fd.size.is_none(),
        });
    }
    for l in &d.writable_layers {
        let Some(w) = &l.walk else { continue };
        let owner = snap
            .container(&l.container_id)
            .map(|(p, c)| {
                format!(
                    "{}/{}/{}",
                    p.namespace.as_deref().unwrap_or("?"),
                    p.name.as_deref().unwrap_or("?"),
                    c.name.as_deref().unwrap_or("?")
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "container {}",
                    &l.container_id[..l.container_id.len().min(12)]
                )
            });
        consumers.push(Consumer {
            kind: "writable layer",
            owner,
            path: l.upperdir.clone(),
            bytes: w.bytes,
            files: Some(w.files),
            at_least: !w.complete,
        });
    }
    if let Some(rt) = &d.runtime {
        for w in &rt.walks {
            consumers.push(Consumer {
                kind: "image store",
                owner: rt.name.clone(),
                path: w.path.clone(),
                bytes: w.bytes,
                files: Some(w.files),
                at_least: !w.complete,
            });
        }
    }
    consumers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));

    let images = d.images.as_ref().map(|inv| ImagesSummary {
        source: inv.source.clone(),
        count: inv.images.len(),
        bytes: inv.images.iter().filter_map(|i| i.bytes).sum(),
        unused: inv.images.iter().filter(|i| !i.in_use).count(),
        unused_pinned: inv.images.iter().filter(|i| !i.in_use && i.pinned).count(),
        reclaimable_bytes: inv
            .images
            .iter()
            .filter(|i| i.prunable())
            .filter_map(|i| i.bytes)
            .sum(),
        filesystems: inv.filesystems.clone(),
    });
    let cri_reason = d.cri.as_ref().and_then(|c| {
        c.unavailable
            .clone()
            .or_else(|| (!c.errors.is_empty()).then(|| c.errors.join("; ")))
    });
    let (unused_images, unused_images_note) = match (&d.images, &d.runtime) {
        (Some(inv), _) => {
            let mut v: Vec<UnusedImage> = inv
                .images
                .iter()
                .filter(|i| i.prunable())
                .map(|i| UnusedImage {
                    id: i.id.clone(),
                    names: i.names.clone(),
                    bytes: i.bytes,
                })
                .collect();
            v.sort_by_key(|i| std::cmp::Reverse(i.bytes));
            (Some(v), None)
        }
        (None, Some(rt)) if rt.name == "containerd" => {
            // Without the socket only the content store's size is known: every image's
            // compressed blobs, used or not.
            let content = rt
                .walks
                .iter()
                .find(|w| w.path.ends_with("io.containerd.content.v1.content"))
                .map(|w| {
                    format!(
                        "; its content store ({}) holds {}{} of image blobs, used and unused alike",
                        w.path,
                        crate::model::units::bytes(w.bytes),
                        if w.complete { "" } else { "+" }
                    )
                })
                .unwrap_or_default();
            (
                None,
                Some(format!(
                    "per-image usage needs containerd's CRI socket ({}){content}. containerd keeps its image list in a bolt database nodescope does not read: `crictl images` and `crictl ps -a` show which are unused",
                    cri_reason.as_deref().unwrap_or("no answer recorded")
                )),
            )
        }
        _ => (None, None),
    };

    let findings: Vec<Finding> = findings
        .iter()
        .filter(|f| f.id.starts_with("disk."))
        .cloned()
        .collect();
    let mut fixes: Vec<String> = Vec::new();
    for f in findings.iter().filter(|f| f.severity >= Severity::Warning) {
        let line = format!("{}: {}", f.id, f.remedy);
        if !fixes.contains(&line) {
            fixes.push(line);
        }
    }
    if unused_images.as_ref().is_some_and(|v| !v.is_empty()) {
        fixes.push("crictl rmi --prune: removes every image no container uses".into());
    }
    let cfg = snap.kubelet.as_ref().map(|k| &k.config);
    fixes.push(format!(
        "kubelet: image GC from {}% used down to {}% (imageGCHigh/LowThresholdPercent); container logs rotate at {} x {} files (containerLogMaxSize/MaxFiles)",
        cfg.map_or(85, |c| c.image_gc_high_threshold_percent),
        cfg.map_or(80, |c| c.image_gc_low_threshold_percent),
        cfg.map_or("10Mi", |c| c.container_log_max_size.as_str()),
        cfg.map_or(5, |c| c.container_log_max_files),
    ));
    DiskReport {
        schema: DISK_SCHEMA,
        node: snap.hostname().to_string(),
        taken_at: snap.taken_at,
        filesystems,
        consumers,
        images,
        unused_images,
        unused_images_note,
        findings,
        fixes,
    }
}
