//! Disk bytes and inodes as the kubelet sees them, and what Kubernetes put there: the two
//! filesystems the kubelet evicts on (nodefs = the kubelet root's, imagefs = the runtime's image
//! store's; k8s-semantics §1.2), pod logs and volumes, the runtime's image store, and files
//! deleted but still held open.

use crate::source::{FdEntry, Walk};
use serde::{Deserialize, Serialize};

/// The disk part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Disk {
    /// The filesystem holding the kubelet's root dir (`--root-dir`, default `/var/lib/kubelet`).
    pub nodefs: Option<FsRole>,
    /// The filesystem holding the runtime's image store (what CRI `ImageFsInfo` names).
    pub imagefs: Option<FsRole>,
    /// The container runtime's storage layout.
    pub runtime: Option<RuntimeStorage>,
    /// `/var/log/pods/<ns>_<pod>_<uid>` directories with their sizes.
    pub pod_logs: Vec<PodLogDir>,
    /// `<kubelet root>/pods/<uid>` directories with their volumes.
    pub pod_dirs: Vec<PodDir>,
    /// Files deleted while a process still holds them open.
    pub deleted_open_files: Vec<DeletedOpenFile>,
    /// Walks of the filesystems short of inodes (≥ 85 % used): where the entries are.
    pub inode_walks: Vec<Walk>,
    /// The runtime's images, when its on-disk metadata could be read.
    pub images: Option<ImageInventory>,
    /// Containers' writable layers (the upper directory of their overlay root).
    #[serde(default)]
    pub writable_layers: Vec<WritableLayer>,
}

/// What a container wrote into its own root filesystem: the overlay's upper directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WritableLayer {
    pub container_id: String,
    pub upperdir: String,
    pub walk: Option<Walk>,
}

/// A path the kubelet cares about and the mount holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FsRole {
    /// The directory: the kubelet root, or the runtime's image store.
    pub path: String,
    /// The mount point of the filesystem holding it (longest matching prefix in mountinfo).
    pub mount_point: Option<String>,
}

/// Where the runtime keeps images, layers and writable container layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuntimeStorage {
    /// `containerd` or `cri-o`.
    pub name: String,
    /// containerd `root` (default `/var/lib/containerd`); CRI-O/containers-storage `graphroot`
    /// (default `/var/lib/containers/storage`).
    pub root: String,
    /// The configuration files read, in order (later ones win).
    #[serde(default)]
    pub config_files: Vec<String>,
    /// The directory `ImageFsInfo` reports: containerd's snapshotter directory
    /// (`<root>/io.containerd.snapshotter.v1.overlayfs`), CRI-O's `<graphroot>/overlay-images`.
    pub image_store: String,
    /// Walks of the image and layer stores (only `nodescope disk` makes them: they are big).
    #[serde(default)]
    pub walks: Vec<Walk>,
}

/// A pod's log directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodLogDir {
    pub uid: String,
    pub namespace: String,
    pub pod: String,
    pub path: String,
    pub walk: Option<Walk>,
}

/// A pod's directory under the kubelet root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodDir {
    pub uid: String,
    pub path: String,
    pub volumes: Vec<Volume>,
}

/// One volume of a pod: `volumes/<escaped plugin>/<name>` (k8s-semantics §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Volume {
    /// The escaped plugin name, e.g. `kubernetes.io~empty-dir`.
    pub plugin: String,
    pub name: String,
    pub path: String,
    /// A tmpfs is mounted there (`emptyDir.medium: Memory`, secrets, projected): it uses memory,
    /// not disk.
    #[serde(default)]
    pub memory_backed: bool,
    /// The size of a disk-backed emptyDir.
    pub walk: Option<Walk>,
}

/// A deleted file still held open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeletedOpenFile {
    pub pid: u32,
    pub comm: String,
    /// The container the holder runs in, when it runs in one.
    pub container_id: Option<String>,
    #[serde(flatten)]
    pub fd: FdEntry,
    /// The mount point of the filesystem the file was on.
    pub mount_point: Option<String>,
}

/// The runtime's images and whether a container uses them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageInventory {
    /// Where the list came from, e.g. `/var/lib/containers/storage/overlay-images/images.json`.
    pub source: String,
    pub images: Vec<Image>,
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Image {
    pub id: String,
    pub names: Vec<String>,
    /// Sum of its layers' uncompressed sizes (layers shared with other images included).
    pub bytes: Option<u64>,
    /// Some container (running or stopped, sandboxes included) was created from it.
    pub in_use: bool,
}
