//! Disk bytes and inodes as the kubelet sees them, and what Kubernetes put there: the two
//! filesystems the kubelet evicts on (nodefs = the kubelet root's, imagefs = the runtime's image
//! store's; docs/kubelet-semantics.md §1.2), pod logs and volumes, the runtime's image store, and files
//! deleted but still held open.

use super::fs::{FdEntry, Walk};
use serde::{Deserialize, Serialize};

/// How [`CriSnapshot::error`]'s reason starts when no endpoint's socket exists: the runtime
/// was not asked (as opposed to asked and failing to answer).
pub const CRI_NO_SOCKET: &str = "no CRI socket at ";

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
    /// Walks of the filesystems nearly full of bytes (≥ 90 % used, `df` Use%): the largest
    /// files. A filesystem already walked for its inodes is not walked twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub full_walks: Vec<Walk>,
    /// The runtime's images, when its on-disk metadata could be read.
    pub images: Option<ImageInventory>,
    /// Containers' writable layers (the upper directory of their overlay root).
    #[serde(default)]
    pub writable_layers: Vec<WritableLayer>,
    /// What the runtime answered over its CRI socket (or why it did not), when it was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri: Option<CriSnapshot>,
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

/// One volume of a pod: `volumes/<escaped plugin>/<name>` (docs/kubelet-semantics.md §4.2).
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
    /// Where the list came from: `CRI unix:///run/containerd/containerd.sock`, or a file such
    /// as `/var/lib/containers/storage/overlay-images/images.json`.
    pub source: String,
    pub images: Vec<Image>,
    /// The image filesystems the runtime reported (CRI `ImageFsInfo`; empty for a file source).
    #[serde(default)]
    pub filesystems: Vec<CriFsUsage>,
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Image {
    pub id: String,
    pub names: Vec<String>,
    /// CRI: the size the runtime reports for it; CRI-O's files: the sum of its layers'
    /// uncompressed sizes. Either way layers shared with other images are counted in each.
    pub bytes: Option<u64>,
    /// Some container (running or stopped) was created from it.
    pub in_use: bool,
    /// How many containers (any state) were created from it.
    #[serde(default)]
    pub used_by_containers: u32,
    /// The runtime asks that it never be garbage-collected (CRI `Image.pinned`: the sandbox
    /// image, images pinned in the runtime's configuration); `crictl rmi --prune` skips it.
    #[serde(default)]
    pub pinned: bool,
}

impl Image {
    /// What `crictl rmi --prune` would remove: no container uses it and it is not pinned.
    pub fn prunable(&self) -> bool {
        !self.in_use && !self.pinned
    }
}

/// The runtime's answers over its CRI socket: the raw facts the image inventory is derived
/// from. Only read-only calls are made: `ImageService.ImageFsInfo`, `ImageService.ListImages`
/// and `RuntimeService.ListContainers` (every state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriSnapshot {
    /// The endpoint asked, as the kubelet names it (`unix:///run/containerd/containerd.sock`).
    pub endpoint: String,
    /// Why the runtime could not be asked at all (no socket, connection refused, no answer in
    /// time); `None` when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Calls that failed after the connection was made, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// `ImageFsInfo`'s image filesystems; `None` when the call failed.
    #[serde(default)]
    pub image_filesystems: Option<Vec<CriFsUsage>>,
    /// `ListImages`; `None` when the call failed.
    #[serde(default)]
    pub images: Option<Vec<CriImage>>,
    /// `ListContainers` without a filter (all states, sandboxes excluded); `None` when the
    /// call failed.
    #[serde(default)]
    pub containers: Option<Vec<CriContainer>>,
    /// `RuntimeService.Status`: the runtime's own conditions (`RuntimeReady`,
    /// `NetworkReady`); `None` when the call failed or was not made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<CriCondition>>,
}

/// One CRI `RuntimeCondition`, as `crictl info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriCondition {
    /// `RuntimeReady` or `NetworkReady` (the two the kubelet requires), or any other the
    /// runtime reports.
    #[serde(rename = "type")]
    pub type_: String,
    pub status: bool,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// One CRI `FilesystemUsage`: what the runtime's images use on one filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriFsUsage {
    /// The directory the runtime names (`/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs`).
    pub mountpoint: String,
    /// Bytes used by images (may differ from the filesystem's own used bytes).
    pub used_bytes: Option<u64>,
    pub inodes_used: Option<u64>,
}

/// One CRI `Image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriImage {
    pub id: String,
    #[serde(default)]
    pub repo_tags: Vec<String>,
    #[serde(default)]
    pub repo_digests: Vec<String>,
    pub size_bytes: u64,
    #[serde(default)]
    pub pinned: bool,
}

/// One CRI `Container`, reduced to what ties it to an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriContainer {
    pub id: String,
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `image.image`: the image as the container was created with it (an id, tag or digest).
    pub image: String,
    /// `image_ref`: the image it runs, by id or digest, as the runtime resolved it.
    #[serde(default)]
    pub image_ref: String,
    /// `image_id` (newer runtimes): the image's id on the node.
    #[serde(default)]
    pub image_id: String,
    /// `created`, `running`, `exited` or `unknown`.
    pub state: String,
}
