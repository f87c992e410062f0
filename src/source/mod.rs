//! The only door to the outside world. Every file read, directory listing, link read, statvfs
//! and kernel-log read of nodescope goes through a [`Host`]; nothing else touches the host.
//!
//! Three implementations share the trait:
//! - [`live::LiveHost`]: the running machine under a root prefix (`/`, or `/host` inside a
//!   `kubectl debug node/...` pod);
//! - [`bundle::BundleHost`]: a `nodescope-bundle/1` capture (a directory or a `.tar.gz`);
//! - [`record::RecordingHost`]: wraps a live host and keeps everything read, so `capture` can
//!   write a bundle that analyzes to the same findings.
//!
//! Paths given to a host are absolute paths *on the host* (`/proc/meminfo`), never joined with
//! the root prefix by callers.

pub mod bundle;
pub mod cluster;
#[cfg(test)]
pub mod counting;
pub mod cri;
pub mod debug_pod;
pub mod dns_probe;
pub mod fleet;
pub mod journal;
pub mod live;
pub mod nvml;
pub mod open;
pub mod out_file;
pub mod record;
pub mod redact;
pub mod resolve;
pub mod safe_dir;
pub mod stuck;
pub mod vet;
pub mod walk;

pub use crate::model::fs::{
    EntryKind, ErrorKind, FdEntry, FileMeta, StatVfs, Walk, is_deleted_file,
};
use std::fmt;
use std::time::Duration;
pub use walk::WalkLimits;

/// A failed host operation, naming the host path it concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub kind: ErrorKind,
    pub path: String,
    pub detail: String,
    /// The 1-based line a parse failure points at, where one does: a file a capture withheld
    /// because it did not parse ([`Host::unparsed`]) replays its failure with the same line.
    pub line: Option<usize>,
}

impl HostError {
    pub fn new(kind: ErrorKind, path: &str, detail: impl Into<String>) -> Self {
        HostError {
            kind,
            path: path.to_string(),
            detail: detail.into(),
            line: None,
        }
    }

    /// Classifies an `io::Error` the way procfs does: NotFound, PermissionDenied, the rest.
    pub fn from_io(path: &str, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::Missing,
            std::io::ErrorKind::PermissionDenied => ErrorKind::Denied,
            _ => match err.raw_os_error() {
                // ENOTDIR: a path component is a file; ESRCH: the process vanished mid-read.
                Some(20) | Some(3) => ErrorKind::Missing,
                _ => ErrorKind::Io,
            },
        };
        HostError::new(kind, path, err.to_string())
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}: {}", self.path, self.kind)
        } else {
            write!(f, "{}: {} ({})", self.path, self.kind, self.detail)
        }
    }
}

impl std::error::Error for HostError {}

pub type HostResult<T> = Result<T, HostError>;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

/// How long one statvfs may take before its mount is declared stuck. A healthy local
/// filesystem answers in microseconds; a dead NFS server can block for minutes.
pub const STATVFS_DEADLINE: Duration = Duration::from_millis(1500);

/// The outside world, as nodescope may see it: read-only, bounded, and replayable.
pub trait Host: Send + Sync {
    /// One line for humans: `live host at /host`, `bundle fixtures/x`.
    fn describe(&self) -> String;
    /// The whole content of a regular file (or a /proc or /sys pseudo-file).
    fn read(&self, path: &str) -> HostResult<Vec<u8>>;
    /// The entries of a directory, sorted by name.
    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>>;
    /// The target of a symbolic link, as stored (not resolved).
    fn read_link(&self, path: &str) -> HostResult<String>;
    /// Owner, mode and type of `path` (links followed, as stat(2)); `/proc/<pid>/exe` gives the
    /// executable the process runs. What trust decisions are made from (docs/security.md).
    fn metadata(&self, path: &str) -> HostResult<FileMeta>;
    /// statvfs of each path, each bounded by [`STATVFS_DEADLINE`]: a stuck mount comes back as
    /// [`ErrorKind::Timeout`] and the others still answer.
    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>>;
    /// The deleted-but-open files of each process in `pids` (pid order kept), each process's
    /// scan bounded by [`STATVFS_DEADLINE`] (an fstat on a hung NFS file must not hang us).
    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>>;
    /// A bounded, same-filesystem walk of a tree: bytes, inodes, largest files, densest dirs.
    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk>;
    /// Many small walks (a node's pod log directories), each within `limits`, all within
    /// `total`; a walk the budget does not reach comes back as [`ErrorKind::Timeout`].
    fn walk_each(
        &self,
        paths: &[String],
        limits: WalkLimits,
        total: Duration,
    ) -> Vec<HostResult<Walk>> {
        let started = std::time::Instant::now();
        paths
            .iter()
            .map(|p| {
                let left = total.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(HostError::new(
                        ErrorKind::Timeout,
                        p,
                        "walk budget exhausted",
                    ));
                }
                self.walk(
                    p,
                    WalkLimits {
                        budget: limits.budget.min(left),
                        ..limits
                    },
                )
            })
            .collect()
    }
    /// NVML's view of the GPUs (live), or what was recorded (bundle); `None` when never asked.
    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        None
    }
    /// The container runtime's answers over the first of `endpoints` (CRI endpoints as the
    /// kubelet names them, `unix:///run/containerd/containerd.sock`) whose socket exists
    /// (live, bounded by [`cri::TOTAL_DEADLINE`]), or what was recorded (bundle); `None` when
    /// never asked.
    fn cri(&self, endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        let _ = endpoints;
        None
    }
    /// Told by a collector that the content [`Host::read`] (or `read_string`) returned for
    /// `err.path` did not parse as the kind of file it expected there, and that nothing of it
    /// was used (`err` is the failure it records, kind [`ErrorKind::Invalid`]). Reading has
    /// no side effects: a live host or a bundle ignores this. A recording host keeps the
    /// failure instead of the content, so a capture never copies a file that was not what the
    /// collector took it for (a kubelet `--config` pointed at `/etc/shadow`), and its replay
    /// reports the same error (docs/bundle-format.md, "Files that did not parse").
    fn unparsed(&self, err: &HostError) {
        let _ = err;
    }
    /// The kernel log records currently in the ring, oldest first, each one line in
    /// /dev/kmsg's own format `prio,seq,usec,flags;message`.
    fn kmsg(&self) -> HostResult<Vec<String>>;
    /// Journal entries matching `q` (the kubelet's own record of evictions). Missing when the
    /// host keeps no journal.
    fn journal(&self, q: &journal::JournalQuery) -> HostResult<Vec<journal::JournalEntry>>;
    /// The last `max_bytes` of a file (a log that may be gigabytes long; only its end matters).
    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>>;
    /// The lines of a log's last `max_bytes` that contain one of `needles`. A capture keeps only
    /// these lines, not the log: a syslog holds every other program's secrets and noise.
    fn tail_lines(&self, path: &str, max_bytes: u64, needles: &[&str]) -> HostResult<Vec<String>> {
        self.read_tail(path, max_bytes)
            .map(|raw| matching_lines(&raw, needles))
    }
    /// The time the facts are from: now for a live host, the capture time for a bundle.
    fn now(&self) -> jiff::Timestamp;
    /// Marks the start of one collection pass (a sample of `top` or `serve`). A live host
    /// counts passes to say for how many samples a mount has been stuck; others ignore it.
    fn begin_sample(&self) {}
    /// The effective uid nodescope reads with (0 = root). Bundles record the capturer's.
    fn euid(&self) -> u32;

    /// [`Host::read`] as UTF-8 text (lossy: kernel files are ASCII, user data may not be).
    fn read_string(&self, path: &str) -> HostResult<String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The kernel clock's synchronisation state (adjtimex(2) with `modes = 0`: a read that
    /// changes nothing), live; what was recorded, for a bundle; `None` when unknown.
    fn clock(&self) -> Option<crate::model::health::ClockState> {
        None
    }

    /// Whether a path exists (a read or listing succeeds), without failing on permissions.
    fn exists(&self, path: &str) -> bool {
        match self.read_dir(path) {
            Ok(_) => true,
            Err(e) if e.kind == ErrorKind::Denied => true,
            Err(_) => match self.read(path) {
                Ok(_) => true,
                Err(e) => e.kind == ErrorKind::Denied || self.read_link(path).is_ok(),
            },
        }
    }
}

/// A shared host is the host it shares: a bundle opened once serves every sample of `top` and
/// `serve` and the cluster part of a run. Every method is forwarded, the provided ones too, so
/// a host's own versions (a recording host's `walk_each`, `tail_lines`) are kept.
impl<H: Host + ?Sized> Host for std::sync::Arc<H> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        (**self).read(path)
    }
    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        (**self).read_dir(path)
    }
    fn read_link(&self, path: &str) -> HostResult<String> {
        (**self).read_link(path)
    }
    fn metadata(&self, path: &str) -> HostResult<FileMeta> {
        (**self).metadata(path)
    }
    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        (**self).statvfs(paths)
    }
    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        (**self).deleted_files(pids)
    }
    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        (**self).walk(path, limits)
    }
    fn walk_each(
        &self,
        paths: &[String],
        limits: WalkLimits,
        total: Duration,
    ) -> Vec<HostResult<Walk>> {
        (**self).walk_each(paths, limits, total)
    }
    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        (**self).nvml()
    }
    fn cri(&self, endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        (**self).cri(endpoints)
    }
    fn unparsed(&self, err: &HostError) {
        (**self).unparsed(err)
    }
    fn kmsg(&self) -> HostResult<Vec<String>> {
        (**self).kmsg()
    }
    fn journal(&self, q: &journal::JournalQuery) -> HostResult<Vec<journal::JournalEntry>> {
        (**self).journal(q)
    }
    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        (**self).read_tail(path, max_bytes)
    }
    fn tail_lines(&self, path: &str, max_bytes: u64, needles: &[&str]) -> HostResult<Vec<String>> {
        (**self).tail_lines(path, max_bytes, needles)
    }
    fn now(&self) -> jiff::Timestamp {
        (**self).now()
    }
    fn euid(&self) -> u32 {
        (**self).euid()
    }
    fn read_string(&self, path: &str) -> HostResult<String> {
        (**self).read_string(path)
    }
    fn exists(&self, path: &str) -> bool {
        (**self).exists(path)
    }
}

/// The lines of `raw` that contain one of `needles` (all lines when `needles` is empty).
pub fn matching_lines(raw: &[u8], needles: &[&str]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .lines()
        .filter(|l| needles.is_empty() || needles.iter().any(|n| l.contains(n)))
        .map(String::from)
        .collect()
}

/// An error and its sources, innermost last, each said once: `client error (SendRequest):
/// operation timed out`. The network clients' (API server, CRI) errors wrap their causes.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Joins host paths without doubling slashes: `join("/sys/fs/cgroup", "memory.max")`.
pub fn join(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{}", name.trim_start_matches('/'))
    } else {
        format!("{base}/{}", name.trim_start_matches('/'))
    }
}

/// Normalizes a host path: absolute, no `.` or empty components, `..` resolved lexically and
/// never above `/`. Bundles use it so a crafted path cannot escape their root.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_never_escapes_root() {
        assert_eq!(normalize("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalize("proc//1/./stat"), "/proc/1/stat");
        assert_eq!(normalize("/a/b/../c/"), "/a/c");
        assert_eq!(normalize(""), "/");
    }

    #[test]
    fn join_handles_trailing_slash() {
        assert_eq!(join("/", "proc"), "/proc");
        assert_eq!(
            join("/sys/fs/cgroup", "memory.max"),
            "/sys/fs/cgroup/memory.max"
        );
    }
}
