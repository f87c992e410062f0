//! Facts about files and filesystems as plain data: why a read failed, what a directory entry
//! is, statvfs figures, a bounded walk's result, a deleted-but-open file, a path's owner and
//! mode. The host layer (`source/`) produces them and the snapshot carries them, so they live
//! here, at the bottom, where both can name them without `model/` depending on the I/O layer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a read failed. Absence is data: collectors turn it into an entry of `errors`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The path does not exist (feature off, cgroup v1 host, kubelet not installed, ...).
    Missing,
    /// EACCES/EPERM: usually "run as root".
    Denied,
    /// Present but not in the expected format.
    Invalid,
    /// The call did not return within its deadline (a hung NFS or FUSE mount).
    Timeout,
    /// Any other I/O failure.
    Io,
    /// Readable, but not believed: a process that calls itself the kubelet without running as
    /// root from a root-owned executable, a file someone other than root could have written,
    /// a kubeconfig that would send credentials in the clear (docs/security.md).
    Untrusted,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Missing => "missing",
            ErrorKind::Denied => "permission denied",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Io => "I/O error",
            ErrorKind::Untrusted => "not trusted",
        })
    }
}

/// What kind of directory entry a listing found. Sockets and device nodes are kept apart so
/// that a bundle can hold them as empty regular files of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// Socket, FIFO, character or block device.
    Special,
}

/// statvfs(3) of one filesystem, in the units the kernel reports (blocks of `frsize` bytes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
pub struct StatVfs {
    pub bsize: u64,
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub favail: u64,
}

impl StatVfs {
    /// Share of a filesystem's bytes in use, the one definition every nodescope output uses:
    /// the kubelet's, `1 - available / capacity` (available to unprivileged users, `f_bavail`;
    /// capacity `f_blocks`), the figure its `nodefs.available` and `imagefs.available`
    /// thresholds compare (pkg/kubelet/eviction/helpers.go, `makeSignalObservations`, from
    /// cAdvisor's fs stats). Root-reserved blocks count as used. 0 when there are no blocks.
    pub fn used_share(&self) -> f64 {
        if self.blocks == 0 {
            0.0
        } else {
            1.0 - self.bavail.min(self.blocks) as f64 / self.blocks as f64
        }
    }

    /// Share of a filesystem's bytes in use as `df` computes Use%: used / (used + available to
    /// unprivileged users). Shown beside [`StatVfs::used_share`], labelled `df`, where the two
    /// differ (a filesystem with reserved blocks); never judged.
    pub fn df_used_share(&self) -> f64 {
        let used = self.blocks.saturating_sub(self.bfree);
        let total = used + self.bavail;
        if total == 0 {
            0.0
        } else {
            used as f64 / total as f64
        }
    }
}

/// An open file descriptor of a process whose file has been deleted: space the filesystem
/// cannot give back until the process closes it or exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FdEntry {
    pub fd: u32,
    /// The link target as the kernel shows it, `/var/log/app.log (deleted)`.
    pub target: String,
    /// The deleted file's size (fstat through the fd); `None` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl FdEntry {
    /// The deleted file's former path, without the kernel's ` (deleted)` suffix.
    pub fn path(&self) -> &str {
        self.target
            .strip_suffix(" (deleted)")
            .unwrap_or(&self.target)
    }
}

/// Whether an fd link target is a deleted file on a filesystem (not a memfd, socket or pipe,
/// whose targets are `/memfd:name (deleted)`, `socket:[n]`, `pipe:[n]`).
pub fn is_deleted_file(target: &str) -> bool {
    target.starts_with('/') && target.ends_with(" (deleted)") && !target.starts_with("/memfd:")
}

/// Owner, permissions and type of a path, as stat(2) reports them after following links.
/// Enough to decide whether the node's own word can be trusted: a file counts only when root
/// owns it and neither its group nor others may write it (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileMeta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub kind: EntryKind,
    pub size: u64,
}

impl FileMeta {
    /// Root owns it and no one else may write it: `uid == 0`, no `S_IWGRP`, no `S_IWOTH`.
    pub fn is_root_owned_and_protected(&self) -> bool {
        self.uid == 0 && self.mode & 0o022 == 0
    }

    /// Why root alone does not control this path, in words for an error line (`owned by uid
    /// 65534, not root`, `writable by others (mode 1777)`); `None` when
    /// [`FileMeta::is_root_owned_and_protected`].
    pub fn distrust(&self) -> Option<String> {
        if self.uid != 0 {
            Some(format!("owned by uid {}, not root", self.uid))
        } else if self.mode & 0o002 != 0 {
            Some(format!("writable by others (mode {:04o})", self.mode))
        } else if self.mode & 0o020 != 0 {
            Some(format!(
                "writable by its group, gid {} (mode {:04o})",
                self.gid, self.mode
            ))
        } else {
            None
        }
    }
}

/// A file and its apparent size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SizedPath {
    pub path: String,
    pub bytes: u64,
}

/// A directory and how many entries it holds directly (each one an inode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirCount {
    pub path: String,
    pub entries: u64,
}

/// What a walk of one tree found. Never crosses into another filesystem, as `du -x`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Walk {
    /// Host path walked.
    pub path: String,
    /// Allocated bytes (`st_blocks` × 512, what `du` prints), each hard-linked inode once.
    pub bytes: u64,
    /// Sum of file sizes (`du --apparent-size`); sparse files make it exceed `bytes`.
    pub apparent_bytes: u64,
    /// Entries that are not directories (files, links, sockets): one inode each.
    pub files: u64,
    pub dirs: u64,
    /// False when the budget ran out or some entries could not be read: the figures are a
    /// lower bound.
    pub complete: bool,
    /// Entries that could not be read (permissions, vanished mid-walk).
    #[serde(default)]
    pub unreadable: u64,
    /// The largest files, largest first.
    #[serde(default)]
    pub largest_files: Vec<SizedPath>,
    /// The directories with the most direct entries, most first.
    #[serde(default)]
    pub densest_dirs: Vec<DirCount>,
}

impl Walk {
    /// Inodes the tree uses: every file and directory.
    pub fn inodes(&self) -> u64 {
        self.files + self.dirs
    }
}

#[cfg(test)]
mod used_tests {
    use super::StatVfs;

    #[test]
    fn used_is_the_kubelets_and_df_is_beside_it() {
        // 100 blocks, 40 free, 35 available: 5 reserved for root.
        let st = StatVfs {
            blocks: 100,
            bfree: 40,
            bavail: 35,
            frsize: 4096,
            ..Default::default()
        };
        assert!((st.used_share() - 0.65).abs() < 1e-9);
        assert!((st.df_used_share() - 60.0 / 95.0).abs() < 1e-9);
        assert_eq!(StatVfs::default().used_share(), 0.0);
    }
}
