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
    /// Bytes used, the kubelet's way: `100 * (1 - available / size)`, rounded up
    /// ([`crate::model::fs::StatVfs::used_share`]).
    pub used_percent: Option<f64>,
    /// `df`'s Use%: `100 * used / (used + available)`, rounded up as df rounds it; lower than
    /// `used_percent` when root-reserved blocks exist.
    pub df_used_percent: Option<f64>,
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

/// A share as a whole percentage rounded up (as df rounds), free of float noise: 0.65 is 65,
/// not 66.
fn percent_up(share: f64) -> f64 {
    ((share * 100.0 * 1e6).round() / 1e6).ceil()
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
            used_percent: st
                .filter(|s| s.blocks > 0)
                .map(|s| percent_up(s.used_share())),
            // df's Use%: used / (used + available), rounded up.
            df_used_percent: st.and_then(|s| {
                let used = s.blocks.saturating_sub(s.bfree);
                (used + s.bavail > 0).then(|| percent_up(s.df_used_share()))
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
            .map(|(p, c)| crate::model::pod_facts::container_label(p, c))
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
            .map(|(p, c)| crate::model::pod_facts::container_label(p, c))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::{
        CriSnapshot, DeletedOpenFile, FsRole, Image, ImageInventory, PodDir, PodLogDir,
        RuntimeStorage, Volume, WritableLayer,
    };
    use crate::source::{FdEntry, StatVfs, Walk};

    fn walk(path: &str, bytes: u64, files: u64, complete: bool) -> Option<Walk> {
        Some(Walk {
            path: path.into(),
            bytes,
            files,
            complete,
            ..Default::default()
        })
    }

    /// `/var` (nodefs) and `/images` (imagefs), 4 KiB blocks.
    fn node() -> Snapshot {
        let mut s = snap_with_kubepods();
        s.kubelet = kubelet(kubelet_defaults());
        let mut var = filesystem("/var", 0, 0, 0, 0);
        var.stat = Some(StatVfs {
            bsize: 4096,
            frsize: 4096,
            blocks: 1000,
            bfree: 300,
            bavail: 250,
            files: 1000,
            ffree: 333,
            favail: 333,
        });
        s.filesystems.push(var);
        s.filesystems
            .push(filesystem("/images", 1000, 900, 100, 50));
        s.filesystems.push(filesystem("/boot", 0, 0, 0, 0));
        s.disk.nodefs = Some(FsRole {
            path: "/var/lib/kubelet".into(),
            mount_point: Some("/var".into()),
        });
        s.disk.imagefs = Some(FsRole {
            path: "/images/containerd".into(),
            mount_point: Some("/images".into()),
        });
        s
    }

    #[test]
    fn filesystems_are_figured_as_the_kubelet_figures_them_with_df_beside() {
        let r = build(&node(), &[]);
        assert_eq!(r.schema, DISK_SCHEMA);
        assert_eq!(r.node, NODE);
        let var = &r.filesystems[0];
        assert_eq!(var.roles, ["nodefs"]);
        assert_eq!(var.size_bytes, Some(4_096_000));
        assert_eq!(var.used_bytes, Some(700 * 4096));
        assert_eq!(var.available_bytes, Some(250 * 4096));
        // Used = 1 - available / size = 1 - 250 / 1000 = 75 %, as the kubelet's thresholds
        // compare; df's Use% = used / (used + available) = 700 / 950 = 73.68 -> 74, rounded up.
        assert_eq!(var.used_percent, Some(75.0));
        assert_eq!(var.df_used_percent, Some(74.0));
        assert_eq!((var.inodes, var.inodes_free), (Some(1000), Some(333)));
        // 667 of 1000 inodes: 66.7 -> 67.
        assert_eq!(var.inodes_used_percent, Some(67.0));
        let signals: Vec<&str> = var.signals.iter().map(|s| s.signal.as_str()).collect();
        assert_eq!(signals, ["nodefs.available", "nodefs.inodesFree"]);
        let images = &r.filesystems[1];
        assert_eq!(images.roles, ["imagefs"]);
        assert_eq!(images.signals.len(), 2);
        let boot = &r.filesystems[2];
        assert!(boot.roles.is_empty() && boot.signals.is_empty());
        assert_eq!(boot.used_percent, None, "no blocks: no percentage");
        assert_eq!(boot.df_used_percent, None);
        assert_eq!(boot.inodes_used_percent, None);
    }

    #[test]
    fn one_filesystem_can_be_both_roles_and_a_stuck_one_has_no_figures() {
        let mut s = node();
        if let Some(i) = s.disk.imagefs.as_mut() {
            i.mount_point = Some("/var".into());
        }
        s.filesystems[1].stat = None;
        s.filesystems[1].stuck = true;
        s.filesystems[1].error = Some("statvfs did not answer within 1.5s".into());
        let r = build(&s, &[]);
        assert_eq!(r.filesystems[0].roles, ["nodefs", "imagefs"]);
        assert_eq!(r.filesystems[0].signals.len(), 4);
        let stuck = &r.filesystems[1];
        assert!(stuck.stuck);
        assert_eq!(stuck.size_bytes, None);
        assert_eq!(
            stuck.error.as_deref(),
            Some("statvfs did not answer within 1.5s")
        );
    }

    #[test]
    fn consumers_are_named_as_kubernetes_names_them_largest_first() {
        let mut s = node();
        let mut running = pod("shop", "web", "u1");
        running.containers.push(container(&id('a'), "nginx", None));
        s.pods.push(running);
        s.disk.pod_logs = vec![
            PodLogDir {
                uid: "u1".into(),
                namespace: "shop".into(),
                pod: "web".into(),
                path: "/var/log/pods/shop_web_u1".into(),
                walk: walk("/var/log/pods/shop_web_u1", 500, 2, true),
            },
            PodLogDir {
                uid: "gone".into(),
                namespace: "shop".into(),
                pod: "old".into(),
                path: "/var/log/pods/shop_old_gone".into(),
                walk: walk("/var/log/pods/shop_old_gone", 700, 3, false),
            },
            PodLogDir {
                uid: "u9".into(),
                namespace: "x".into(),
                pod: "unwalked".into(),
                path: "/var/log/pods/x_unwalked_u9".into(),
                walk: None,
            },
        ];
        let vol = |name: &str, bytes: u64| Volume {
            plugin: "kubernetes.io~empty-dir".into(),
            name: name.into(),
            path: format!("/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/{name}"),
            memory_backed: false,
            walk: walk("/x", bytes, 1, true),
        };
        s.disk.pod_dirs = vec![
            PodDir {
                uid: "u1".into(),
                path: "/var/lib/kubelet/pods/u1".into(),
                volumes: vec![vol("cache", 900)],
            },
            PodDir {
                uid: "zz".into(),
                path: "/var/lib/kubelet/pods/zz".into(),
                volumes: vec![vol("data", 100)],
            },
        ];
        s.disk.deleted_open_files = vec![
            DeletedOpenFile {
                pid: 77,
                comm: "nginx".into(),
                container_id: Some(id('a')),
                fd: FdEntry {
                    fd: 5,
                    target: "/var/log/nginx/access.log (deleted)".into(),
                    size: Some(800),
                },
                mount_point: Some("/var".into()),
            },
            DeletedOpenFile {
                pid: 88,
                comm: "rsyslogd".into(),
                container_id: None,
                fd: FdEntry {
                    fd: 9,
                    target: "/var/log/syslog.1 (deleted)".into(),
                    size: None,
                },
                mount_point: Some("/var".into()),
            },
        ];
        s.disk.writable_layers = vec![
            WritableLayer {
                container_id: id('a'),
                upperdir: "/upper/a".into(),
                walk: walk("/upper/a", 600, 4, true),
            },
            WritableLayer {
                container_id: id('f'),
                upperdir: "/upper/f".into(),
                walk: walk("/upper/f", 600, 4, true),
            },
        ];
        s.disk.runtime = Some(RuntimeStorage {
            name: "containerd".into(),
            root: "/var/lib/containerd".into(),
            config_files: Vec::new(),
            image_store: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs".into(),
            walks: vec![Walk {
                path: "/var/lib/containerd/io.containerd.content.v1.content".into(),
                bytes: 1000,
                files: 10,
                complete: true,
                ..Default::default()
            }],
        });
        let r = build(&s, &[]);
        let got: Vec<(&str, &str, u64, bool)> = r
            .consumers
            .iter()
            .map(|c| (c.kind, c.owner.as_str(), c.bytes, c.at_least))
            .collect();
        assert_eq!(
            got,
            [
                ("image store", "containerd", 1000, false),
                ("emptyDir", "shop/web (cache)", 900, false),
                ("deleted but open", "shop/web/nginx", 800, false),
                ("orphaned pod logs", "shop/old", 700, true),
                // Equal sizes: by path.
                ("writable layer", "shop/web/nginx", 600, false),
                ("writable layer", "container ffffffffffff", 600, false),
                ("pod logs", "shop/web", 500, false),
                ("orphaned pod directory", "pod zz (data)", 100, false),
                ("deleted but open", "rsyslogd[88]", 0, true),
            ]
        );
        assert_eq!(
            r.consumers[2].path,
            "/var/log/nginx/access.log (pid 77 fd 5)"
        );
        assert_eq!(r.consumers[3].files, Some(3));
        // No image list, a containerd runtime: say what is known and why the rest is not.
        assert!(r.unused_images.is_none() && r.images.is_none());
        let note = r.unused_images_note.expect("a note");
        assert!(
            note.starts_with("per-image usage needs containerd's CRI socket (no answer recorded); its content store (/var/lib/containerd/io.containerd.content.v1.content) holds 1000 of image blobs"),
            "{note}"
        );
    }

    #[test]
    fn the_cri_reason_and_a_cut_walk_are_in_the_note() {
        let mut s = node();
        s.disk.runtime = Some(RuntimeStorage {
            name: "containerd".into(),
            root: "/var/lib/containerd".into(),
            config_files: Vec::new(),
            image_store: String::new(),
            walks: vec![Walk {
                path: "/c/io.containerd.content.v1.content".into(),
                bytes: 2048,
                complete: false,
                ..Default::default()
            }],
        });
        s.disk.cri = Some(CriSnapshot {
            unavailable: Some("connect: no such file".into()),
            ..Default::default()
        });
        let note = build(&s, &[]).unused_images_note.expect("a note");
        assert!(note.contains("(connect: no such file)"), "{note}");
        assert!(note.contains("holds 2Ki+ of image blobs"), "{note}");
        s.disk.cri = Some(CriSnapshot {
            errors: vec!["ListImages: boom".into(), "ImageFsInfo: bang".into()],
            ..Default::default()
        });
        assert!(
            build(&s, &[])
                .unused_images_note
                .is_some_and(|n| n.contains("(ListImages: boom; ImageFsInfo: bang)"))
        );
        // CRI-O without a list, or no runtime at all: nothing to say.
        if let Some(rt) = s.disk.runtime.as_mut() {
            rt.name = "cri-o".into();
        }
        assert_eq!(build(&s, &[]).unused_images_note, None);
    }

    #[test]
    fn images_are_summed_and_the_prunable_ones_listed_largest_first() {
        let mut s = node();
        let image = |id: &str, bytes: Option<u64>, in_use: bool, pinned: bool| Image {
            id: id.into(),
            names: vec![format!("{id}:1")],
            bytes,
            in_use,
            used_by_containers: u32::from(in_use),
            pinned,
        };
        s.disk.images = Some(ImageInventory {
            source: "CRI unix:///run/containerd/containerd.sock".into(),
            images: vec![
                image("used", Some(100), true, false),
                image("small", Some(10), false, false),
                image("big", Some(50), false, false),
                image("pause", Some(1), false, true),
                image("unknown", None, false, false),
            ],
            filesystems: Vec::new(),
        });
        let r = build(&s, &[]);
        let sum = r.images.expect("a summary");
        assert_eq!(
            (
                sum.count,
                sum.bytes,
                sum.unused,
                sum.unused_pinned,
                sum.reclaimable_bytes
            ),
            (5, 161, 4, 1, 60)
        );
        let ids: Vec<&str> = r
            .unused_images
            .as_ref()
            .expect("a list")
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(ids, ["big", "small", "unknown"]);
        assert_eq!(r.unused_images_note, None);
        assert!(
            r.fixes
                .contains(&"crictl rmi --prune: removes every image no container uses".to_string())
        );
    }

    #[test]
    fn fixes_are_the_disk_findings_remedies_once_each_then_the_kubelets_settings() {
        let s = node();
        let f = |id: &str, sev: Severity, remedy: &str| Finding {
            id: id.into(),
            severity: sev,
            title: "t".into(),
            subject: Default::default(),
            evidence: serde_json::Value::Null,
            remedy: remedy.into(),
        };
        let findings = [
            f("disk.emptydir-large", Severity::Warning, "set sizeLimit"),
            f("disk.emptydir-large", Severity::Warning, "set sizeLimit"),
            f("disk.inode-exhaustion", Severity::Critical, "delete files"),
            f("disk.orphaned-pod-logs", Severity::Info, "not a fix line"),
            f("memory.pressure", Severity::Critical, "not disk"),
        ];
        let r = build(&s, &findings);
        assert_eq!(r.findings.len(), 4, "only the disk findings");
        assert_eq!(
            r.fixes,
            [
                "disk.emptydir-large: set sizeLimit",
                "disk.inode-exhaustion: delete files",
                "kubelet: image GC from 85% used down to 80% (imageGCHigh/LowThresholdPercent); container logs rotate at 10Mi x 5 files (containerLogMaxSize/MaxFiles)",
            ]
        );
        let mut s = node();
        if let Some(k) = s.kubelet.as_mut() {
            k.config.image_gc_high_threshold_percent = 70;
            k.config.image_gc_low_threshold_percent = 60;
            k.config.container_log_max_size = "50Mi".into();
            k.config.container_log_max_files = 3;
        }
        assert!(
            build(&s, &[]).fixes[0].starts_with(
                "kubelet: image GC from 70% used down to 60% (imageGCHigh/LowThresholdPercent); container logs rotate at 50Mi x 3 files"
            )
        );
    }

    #[test]
    fn the_schema_describes_the_report() {
        let schema: serde_json::Value =
            serde_json::from_str(&disk_schema()).expect("the schema is JSON");
        assert!(disk_schema().ends_with("}\n"));
        let props = &schema["properties"];
        for k in [
            "schema",
            "filesystems",
            "consumers",
            "unused_images",
            "fixes",
            "errors",
            "disk",
        ] {
            assert!(props.get(k).is_some(), "{k} missing from the schema");
        }
    }
}
