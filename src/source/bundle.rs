//! A `nodescope-bundle/1` capture read back as a host: a directory or a `.tar.gz` of one.
//!
//! Files sit at their host paths (`proc/meminfo`), `dev/kmsg` holds one kernel-log record per
//! line, symbolic links stay links, and `nodescope-bundle.json` at the bundle root holds what
//! has no file form (statvfs results, open-fd targets, the capture time, the capturer's uid,
//! and the reads that failed on the live host so they fail the same way here).
//!
//! A bundle is untrusted input (a file attached to a ticket), opened once per run and shared.
//! A directory bundle is listed once and its files are read from disk when asked for, through
//! [`SafeDir`]: relative to directory handles, never following a link (the bundle's own links
//! are resolved here, inside the bundle), non-blocking, regular files only, each checked to be
//! the very file the listing saw (device and inode) and capped in size. An archive is read as
//! a stream, and what it holds is kept in memory within [`Limits`] checked before the bytes
//! are held (a tar bomb or a sparse 1 TB file is refused, not unpacked). Every path is
//! normalized, so neither `../` entries nor symbolic links can reach outside the bundle.
//! Sockets, FIFOs and devices are never opened: they read as the empty files a capture writes
//! in their place.

use super::safe_dir::{FileId, ListedKind, OpenError, SafeDir};
use super::{
    DirEntry, EntryKind, ErrorKind, FdEntry, Host, HostError, HostResult, StatVfs, Walk,
    WalkLimits, normalize,
};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Read, Seek};
use std::path::Path;
use std::sync::Arc;

/// The format name written to and required from `nodescope-bundle.json`.
pub const FORMAT: &str = "nodescope-bundle/1";
/// The metadata file at the bundle root.
pub const META_FILE: &str = "nodescope-bundle.json";
/// Most entries a bundle may hold: a busy node's capture has ~20k.
const MAX_ENTRIES: usize = 2_000_000;
/// Most bytes a bundle may unpack to (a tar bomb stops here).
const MAX_TOTAL_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most bytes an archive's files (and paths) may occupy in memory. A capture of a busy node
/// holds tens of MiB; this keeps a run on a bomb under 512 MiB of memory. A bigger bundle is
/// extracted first and read as a directory, from disk.
const MAX_HELD_BYTES: u64 = 256 * 1024 * 1024;
/// What one held entry costs beyond its path and content (map node, directory listing entry):
/// counted so a million empty entries cannot hold more memory than the content cap says.
const ENTRY_OVERHEAD: u64 = 128;
/// Most bytes one file in a bundle may hold.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest path an archive entry may have: Linux's PATH_MAX. A longer one cannot have been
/// captured, and a megabyte-long `a/a/a/...` would otherwise imply a million directories.
const MAX_PATH_BYTES: usize = 4096;

/// How much a bundle may hold. [`Limits::default`] is what `--bundle` applies (the numbers in
/// docs/bundle-format.md); tests pass smaller ones to reach each limit cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries: files, directories (also those only implied by a path) and links.
    pub entries: usize,
    /// Most bytes one file may hold.
    pub file_bytes: u64,
    /// Most bytes the bundle may unpack to: file contents and paths, and for an archive every
    /// byte of its decompressed tar stream (headers, long names and pax records included).
    pub total_bytes: u64,
    /// Most bytes of an archive's file contents and paths held in memory (each entry counted
    /// [`ENTRY_OVERHEAD`] bytes more). A directory bundle's files stay on disk.
    pub held_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: MAX_ENTRIES,
            file_bytes: MAX_FILE_BYTES,
            total_bytes: MAX_TOTAL_BYTES,
            held_bytes: MAX_HELD_BYTES,
        }
    }
}

/// A read that failed on the captured host, replayed with the same kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    pub kind: ErrorKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The line a parse failure pointed at (a file withheld because it did not parse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// `nodescope-bundle.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub format: String,
    pub captured_at: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodescope_version: Option<String>,
    /// The root prefix the capture read under (`/` or `/host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The effective uid of the capturing process; 0 when absent.
    #[serde(default)]
    pub euid: u32,
    /// statvfs results keyed by host path.
    #[serde(default)]
    pub statvfs: BTreeMap<String, StatVfs>,
    /// Deleted-but-open files keyed by pid (only processes holding some).
    #[serde(default)]
    pub fds: BTreeMap<String, Vec<FdEntry>>,
    /// Directory walks keyed by host path: sizes a bundle cannot hold as files (a 50 GB log).
    /// A walk not recorded here is computed from the bundle's own files.
    #[serde(default)]
    pub walks: BTreeMap<String, Walk>,
    /// Reads that failed on the captured host, keyed by host path.
    #[serde(default)]
    pub errors: BTreeMap<String, RecordedError>,
    /// Journal entries the capture's queries returned (not whole journal files); absent when
    /// the captured host had no journal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<Vec<super::journal::JournalEntry>>,
    /// What NVML said at capture time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvml: Option<crate::model::gpu::Nvml>,
    /// What the container runtime answered over its CRI socket at capture time (or why not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri: Option<crate::model::disk::CriSnapshot>,
    /// Owner and mode of the paths whose trust was judged at capture time (the kubelet's
    /// executable, the files its flags name), keyed by host path. A path not recorded here
    /// reads as root-owned and protected: a bundle holds only what its capture trusted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, super::FileMeta>,
    /// The kernel clock's synchronisation state (adjtimex) at capture time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<crate::model::health::ClockState>,
    /// The findings nodescope reported at capture time, so a replay can be compared with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
enum Node {
    /// An archive's file, held in memory.
    File(Vec<u8>),
    /// A directory bundle's regular file, read from disk when asked for: its size and identity
    /// as listed.
    Disk {
        size: u64,
        id: FileId,
    },
    Dir,
    Symlink(String),
    /// An archive entry a bundle cannot hold (a hard link): listed, and its reads fail with
    /// this reason, so the snapshot records it where a collector needed it.
    Unsupported(&'static str),
}

/// A bundle: its listing in memory, its files in memory (an archive) or on disk (a directory).
#[derive(Debug, Clone)]
pub struct BundleHost {
    origin: String,
    meta: BundleMeta,
    nodes: BTreeMap<String, Node>,
    children: BTreeMap<String, Vec<DirEntry>>,
    /// The directory a directory bundle's [`Node::Disk`] files are read from.
    dir: Option<Arc<SafeDir>>,
    /// The cap on one file read from `dir`.
    file_bytes: u64,
}

impl BundleHost {
    /// Opens a bundle directory or `.tar.gz` within the default [`Limits`]. Errors name the
    /// path and what is wrong with it.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with_limits(path, Limits::default())
    }

    /// [`BundleHost::open`] within `limits`.
    pub fn open_with_limits(path: &Path, limits: Limits) -> anyhow::Result<Self> {
        let meta = fs::metadata(path).with_context(|| format!("--bundle {}", path.display()))?;
        let mut nodes = BTreeMap::new();
        let origin = path.display().to_string();
        if meta.is_dir() {
            let dir = load_dir(path, &limits, &mut nodes)
                .with_context(|| format!("reading bundle {}", path.display()))?;
            let meta_file = match nodes.get(&format!("/{META_FILE}")) {
                Some(Node::Disk { id, .. }) => Some(
                    dir.read_file(&[META_FILE], Some(*id), limits.file_bytes)
                        .with_context(|| format!("{origin}: reading {META_FILE}"))?,
                ),
                _ => None,
            };
            let mut b = Self::from_nodes(origin, nodes, meta_file, &limits)?;
            b.dir = Some(Arc::new(dir));
            Ok(b)
        } else if meta.is_file() {
            load_targz(path, &limits, &mut nodes)
                .with_context(|| format!("reading bundle archive {}", path.display()))?;
            Self::from_nodes(origin, nodes, None, &limits)
        } else {
            bail!(
                "--bundle {}: neither a directory nor a .tar.gz file",
                path.display()
            );
        }
    }

    /// The bundle from its listing; `meta_file` is the metadata's content when it is not held
    /// in `nodes` (a directory bundle's, read from disk).
    fn from_nodes(
        origin: String,
        mut nodes: BTreeMap<String, Node>,
        meta_file: Option<Vec<u8>>,
        limits: &Limits,
    ) -> anyhow::Result<Self> {
        let meta_path = format!("/{META_FILE}");
        let raw = match (nodes.remove(&meta_path), meta_file) {
            (Some(Node::File(raw)), _) | (Some(Node::Disk { .. }), Some(raw)) => raw,
            _ => bail!("{origin}: not a nodescope bundle (no {META_FILE} at its root)"),
        };
        let meta = parse_meta(&origin, &raw)?;
        // Every ancestor of every entry is a directory, even where the archive omitted it.
        // Each directory is visited once (`seen`), and implied ones count as entries: a
        // thousand deep paths must not imply a million directories.
        let keys: Vec<String> = nodes.keys().cloned().collect();
        let mut seen: HashSet<String> = HashSet::new();
        for k in keys {
            let mut p = parent(&k);
            while let Some(d) = p {
                if seen.contains(&d) {
                    break;
                }
                p = parent(&d);
                if !matches!(nodes.get(&d), Some(Node::Dir)) {
                    nodes.insert(d.clone(), Node::Dir);
                }
                seen.insert(d);
                if nodes.len() > limits.entries {
                    bail!(
                        "{origin}: more than {} entries (directories implied by paths included)",
                        limits.entries
                    );
                }
            }
        }
        let mut children: BTreeMap<String, Vec<DirEntry>> = BTreeMap::new();
        for (k, n) in &nodes {
            if let Some(d) = parent(k) {
                let name = k.rsplit('/').next().unwrap_or_default().to_string();
                children.entry(d).or_default().push(DirEntry {
                    name,
                    kind: n.kind(),
                });
            }
        }
        Ok(BundleHost {
            origin,
            meta,
            nodes,
            children,
            dir: None,
            file_bytes: limits.file_bytes,
        })
    }

    /// Reads a bundle from the bytes of a `.tar.gz` archive of one (what [`BundleHost::open`]
    /// does with a file, without the file: an upload, a fuzz input), within `limits`.
    /// `origin` names the bundle in messages and [`Host::describe`].
    pub fn from_archive(archive: impl Read, origin: &str, limits: Limits) -> anyhow::Result<Self> {
        let mut nodes = BTreeMap::new();
        read_targz(archive, &limits, &mut nodes)
            .with_context(|| format!("reading bundle archive {origin}"))?;
        Self::from_nodes(origin.to_string(), nodes, None, &limits)
    }

    /// A file of the bundle's `cluster/` directory (`nodes.json`, `pods.json`, `events.json`:
    /// the API server's objects at capture time) as a stream, so a big List is parsed without
    /// a copy: `None` when the bundle has no such file.
    pub fn cluster_reader(&self, name: &str) -> Option<HostResult<Box<dyn Read + '_>>> {
        let path = format!("/cluster/{name}");
        match self.nodes.get(&path)? {
            Node::File(b) => Some(Ok(Box::new(&b[..]))),
            Node::Disk { id, .. } => Some(
                self.open_disk(&path, &path, *id)
                    .map(|(f, size)| Box::new(f.take(size.min(self.file_bytes))) as Box<dyn Read>),
            ),
            _ => Some(Err(HostError::new(
                ErrorKind::Invalid,
                &path,
                "not a regular file",
            ))),
        }
    }

    /// Opens the directory bundle's file at `real` (a resolved bundle path), refusing anything
    /// but the regular file the listing saw. `shown` is the path asked for, for errors.
    fn open_disk(&self, shown: &str, real: &str, id: FileId) -> HostResult<(fs::File, u64)> {
        let Some(dir) = &self.dir else {
            return Err(HostError::new(
                ErrorKind::Io,
                shown,
                "bundle directory not open",
            ));
        };
        let comps: Vec<&str> = real.split('/').filter(|c| !c.is_empty()).collect();
        dir.open_file(&comps, Some(id))
            .map_err(|e| disk_error(shown, &e))
    }

    /// Reads a directory bundle's file from disk, within the per-file cap.
    fn read_disk(&self, shown: &str, real: &str, id: FileId) -> HostResult<Vec<u8>> {
        let (f, size) = self.open_disk(shown, real, id)?;
        if size > self.file_bytes {
            return Err(disk_error(
                shown,
                &OpenError::TooBig {
                    size,
                    max: self.file_bytes,
                },
            ));
        }
        super::safe_dir::read_capped(f, size, self.file_bytes).map_err(|e| disk_error(shown, &e))
    }

    /// Adds a file to the bundle or replaces one, as if it had been captured with these bytes;
    /// `nodescope-bundle.json` replaces the metadata and fails as [`BundleHost::open`] would.
    /// Tests and fuzz targets vary one file of a real bundle this way without copying it.
    pub fn insert_file(&mut self, path: &str, content: Vec<u8>) -> anyhow::Result<()> {
        let key = normalize(path);
        if key == format!("/{META_FILE}") {
            self.meta = parse_meta(&self.origin, &content)?;
            return Ok(());
        }
        if key == "/" {
            bail!("the root of a bundle is a directory, not a file");
        }
        self.nodes.insert(key.clone(), Node::File(content));
        let (mut child, mut kind) = (key, EntryKind::File);
        while let Some(dir) = parent(&child) {
            let name = child.rsplit('/').next().unwrap_or_default();
            let list = self.children.entry(dir.clone()).or_default();
            match list.binary_search_by(|e| e.name.as_str().cmp(name)) {
                Ok(i) => list[i].kind = kind,
                Err(i) => list.insert(
                    i,
                    DirEntry {
                        name: name.to_string(),
                        kind,
                    },
                ),
            }
            if matches!(self.nodes.insert(dir.clone(), Node::Dir), Some(Node::Dir)) {
                break; // its ancestors are directories already
            }
            (child, kind) = (dir, EntryKind::Dir);
        }
        Ok(())
    }

    /// The bundle's metadata.
    pub fn meta(&self) -> &BundleMeta {
        &self.meta
    }

    /// Follows symbolic links inside the bundle (absolute targets from the bundle root),
    /// as the kernel would on the captured host; at most 40 hops, as Linux's MAXSYMLINKS.
    fn resolve(&self, path: &str) -> HostResult<String> {
        let mut todo: Vec<String> = normalize(path)
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut cur = String::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            let cand = normalize(&format!("{cur}/{c}"));
            match self.nodes.get(&cand) {
                Some(Node::Symlink(t)) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(HostError::new(
                            ErrorKind::Invalid,
                            path,
                            "too many levels of symbolic links",
                        ));
                    }
                    let base = if t.starts_with('/') {
                        String::new()
                    } else {
                        cur.clone()
                    };
                    let target = normalize(&format!("{base}/{t}"));
                    for comp in target.split('/').filter(|c| !c.is_empty()).rev() {
                        todo.push(comp.to_string());
                    }
                    cur = String::new();
                }
                _ => cur = cand,
            }
        }
        Ok(if cur.is_empty() { "/".into() } else { cur })
    }

    fn recorded_error(&self, path: &str) -> Option<HostError> {
        self.meta.errors.get(&normalize(path)).map(|e| HostError {
            line: e.line,
            ..HostError::new(e.kind, path, e.detail.clone())
        })
    }
}

/// `/proc/<pid>` for a path `/proc/<pid>/exe`.
fn proc_exe_dir(path: &str) -> Option<String> {
    let n = normalize(path);
    let pid = n.strip_prefix("/proc/")?.strip_suffix("/exe")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| format!("/proc/{pid}"))
}

fn parent(p: &str) -> Option<String> {
    if p == "/" {
        return None;
    }
    let idx = p.rfind('/')?;
    Some(if idx == 0 {
        "/".into()
    } else {
        p[..idx].to_string()
    })
}

/// Parses and checks `nodescope-bundle.json`.
fn parse_meta(origin: &str, raw: &[u8]) -> anyhow::Result<BundleMeta> {
    let meta: BundleMeta = serde_json::from_slice(raw)
        .with_context(|| format!("{origin}: {META_FILE} is not valid bundle metadata"))?;
    if meta.format != FORMAT {
        bail!(
            "{origin}: unsupported bundle format {:?} (this nodescope reads {FORMAT})",
            meta.format
        );
    }
    Ok(meta)
}

impl Node {
    /// A file's size in bytes (0 for anything else).
    fn size(&self) -> u64 {
        match self {
            Node::File(b) => b.len() as u64,
            Node::Disk { size, .. } => *size,
            _ => 0,
        }
    }

    fn kind(&self) -> EntryKind {
        match self {
            Node::File(_) | Node::Disk { .. } => EntryKind::File,
            Node::Dir => EntryKind::Dir,
            Node::Symlink(_) => EntryKind::Symlink,
            Node::Unsupported(_) => EntryKind::Special,
        }
    }
}

/// Lists a bundle directory through a [`SafeDir`] and returns it. The whole tree is listed
/// and every size checked against `limits`, but no file is read: a directory bundle's files
/// are read from disk when a collector asks for them ([`Node::Disk`]).
fn load_dir(
    root: &Path,
    limits: &Limits,
    nodes: &mut BTreeMap<String, Node>,
) -> anyhow::Result<SafeDir> {
    let dir = SafeDir::open(root).with_context(|| format!("opening {}", root.display()))?;
    let mut total = 0u64;
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let listing = dir
            .list(&comps)
            .with_context(|| format!("listing {}{rel}", root.display()))?;
        for entry in listing {
            let host_path = format!("{rel}/{}", entry.name);
            if nodes.len() >= limits.entries {
                bail!("more than {} entries", limits.entries);
            }
            total += host_path.len() as u64;
            let node = match entry.kind {
                // A link gone or turned into something else since it was listed (EINVAL,
                // ENOENT): the bundle is changing under us; its reads fail, naming why.
                ListedKind::Symlink => match dir.read_link(&comps, &entry.name) {
                    Ok(t) => Node::Symlink(t),
                    Err(_) => Node::Unsupported("changed while the bundle was listed"),
                },
                ListedKind::Dir => {
                    stack.push(host_path.clone());
                    Node::Dir
                }
                ListedKind::File => {
                    if entry.size > limits.file_bytes {
                        bail!(
                            "{}{host_path} is {} bytes, over the {}-byte limit of one file",
                            root.display(),
                            entry.size,
                            limits.file_bytes
                        );
                    }
                    total += entry.size;
                    Node::Disk {
                        size: entry.size,
                        id: entry.id,
                    }
                }
                // A socket, FIFO or device: a capture writes these as empty files, and opening
                // one could block (a FIFO) or never end (a copy of /dev/zero).
                ListedKind::Special => Node::File(Vec::new()),
            };
            nodes.insert(host_path, node);
            if total > limits.total_bytes {
                bail!("bundle is larger than {} bytes", limits.total_bytes);
            }
        }
    }
    Ok(dir)
}

/// A directory bundle's file that could not be read as listed, as the host error a collector
/// records: gone is missing; a link, FIFO or another file in its place is invalid.
fn disk_error(path: &str, e: &OpenError) -> HostError {
    let kind = match e {
        OpenError::Missing => ErrorKind::Missing,
        OpenError::Io(io) => return HostError::from_io(path, io),
        _ => ErrorKind::Invalid,
    };
    HostError::new(kind, path, format!("in the bundle: {e}"))
}

/// A reader that fails, rather than ends, once more than `limit` bytes have come through: an
/// archive that decompresses to more than a bundle may hold is an error, never a short read
/// that could pass for a clean end of the archive.
struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(format!(
                    "archive unpacks to more than {} bytes",
                    self.limit
                ))),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn load_targz(
    path: &Path,
    limits: &Limits,
    nodes: &mut BTreeMap<String, Node>,
) -> anyhow::Result<()> {
    let mut f = fs::File::open(path)?;
    let mut magic = [0u8; 2];
    if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        bail!("not a gzip-compressed tar archive (no gzip header), nor a bundle directory");
    }
    f.rewind()?;
    read_targz(io::BufReader::new(f), limits, nodes)
}

/// Reads a gzip-compressed tar stream into `nodes`, within `limits`.
fn read_targz(
    archive: impl Read,
    limits: &Limits,
    nodes: &mut BTreeMap<String, Node>,
) -> anyhow::Result<()> {
    let stream = Capped {
        inner: flate2::read::GzDecoder::new(archive),
        left: limits.total_bytes,
        limit: limits.total_bytes,
    };
    let mut ar = tar::Archive::new(stream);
    let mut raw: Vec<(String, Node)> = Vec::new();
    let mut total = 0u64;
    // What the entries kept so far hold in memory: the cap a bomb meets first.
    let mut held = 0u64;
    for entry in ar.entries().context("not a gzip-compressed tar archive")? {
        let mut entry = entry.context("corrupt archive")?;
        let p = entry.path()?.to_string_lossy().into_owned();
        if p.len() > MAX_PATH_BYTES {
            bail!(
                "archive entry {:?}... has a {}-byte path, over PATH_MAX ({MAX_PATH_BYTES})",
                crate::model::text::truncate(&p, 60),
                p.len()
            );
        }
        if p.starts_with('/') || p.split('/').any(|c| c == "..") {
            bail!("archive entry {p:?} escapes the bundle root");
        }
        if raw.len() >= limits.entries {
            bail!("more than {} entries", limits.entries);
        }
        total += p.len() as u64;
        held += p.len() as u64 + ENTRY_OVERHEAD;
        let node = match entry.header().entry_type() {
            tar::EntryType::Directory => Node::Dir,
            tar::EntryType::Symlink => {
                let t = entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Node::Symlink(t)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                // entry.size() honours a pax `size` record; the header field may not.
                let size = entry.size();
                if size > limits.file_bytes {
                    bail!(
                        "archive entry {p:?} is {size} bytes, over the {}-byte limit of one file",
                        limits.file_bytes
                    );
                }
                total += size;
                if total > limits.total_bytes {
                    bail!("archive unpacks to more than {} bytes", limits.total_bytes);
                }
                held += size;
                if held > limits.held_bytes {
                    bail!(
                        "archive entry {p:?} brings its files over the {}-byte limit held in memory \
                         (extract the archive and pass the directory, whose files are read from disk)",
                        limits.held_bytes
                    );
                }
                // The size is within the memory budget: one exact allocation, no doubling.
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut buf)
                    .with_context(|| format!("reading archive entry {p:?}"))?;
                if buf.len() as u64 != size {
                    bail!(
                        "archive entry {p:?} is truncated ({} of {size} bytes)",
                        buf.len()
                    );
                }
                Node::File(buf)
            }
            // Sockets and devices are empty files in a bundle, as a capture writes them.
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                Node::File(Vec::new())
            }
            tar::EntryType::Link => {
                Node::Unsupported("a hard link in the bundle archive (bundles hold symbolic links)")
            }
            tar::EntryType::XGlobalHeader => continue,
            _ => Node::Unsupported("an archive entry of a type bundles do not hold"),
        };
        if held > limits.held_bytes {
            bail!(
                "archive entries hold more than {} bytes in memory",
                limits.held_bytes
            );
        }
        raw.push((p, node));
    }
    // Read to the gzip trailer, so its length and CRC check every byte: the tar reader stops at
    // the end-of-archive blocks and would not notice an archive cut after them.
    io::copy(&mut ar.into_inner(), &mut io::sink())
        .context("the archive is cut or corrupt after its last entry")?;
    // The archive may hold the bundle under one top directory: find the metadata file.
    let prefix = raw
        .iter()
        .filter_map(|(p, _)| {
            let p = p.trim_start_matches("./");
            let d = p.strip_suffix(META_FILE)?;
            (d.is_empty() || (d.ends_with('/') && d.matches('/').count() == 1))
                .then(|| d.to_string())
        })
        .min_by_key(|d| d.len())
        .with_context(|| format!("no {META_FILE} in the archive (is this a nodescope bundle?)"))?;
    for (p, node) in raw {
        let p = p.trim_start_matches("./");
        if let Some(rest) = p.strip_prefix(prefix.as_str()) {
            let key = normalize(rest);
            if key != "/" {
                nodes.insert(key, node);
            }
        }
    }
    Ok(())
}

impl Host for BundleHost {
    fn describe(&self) -> String {
        format!(
            "bundle {} (captured {})",
            self.origin, self.meta.captured_at
        )
    }

    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        if let Some(e) = self.recorded_error(path) {
            return Err(e);
        }
        let real = self.resolve(path)?;
        match self.nodes.get(&real) {
            Some(Node::File(b)) => Ok(b.clone()),
            Some(Node::Disk { id, .. }) => self.read_disk(path, &real, *id),
            Some(Node::Dir) => Err(HostError::new(ErrorKind::Invalid, path, "is a directory")),
            Some(Node::Unsupported(why)) => Err(HostError::new(ErrorKind::Invalid, path, *why)),
            Some(Node::Symlink(_)) | None => Err(HostError::new(ErrorKind::Missing, path, "")),
        }
    }

    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        if let Some(e) = self.recorded_error(path) {
            return Err(e);
        }
        let real = self.resolve(path)?;
        match self.nodes.get(&real) {
            Some(Node::Dir) => Ok(self.children.get(&real).cloned().unwrap_or_default()),
            Some(_) => Err(HostError::new(ErrorKind::Invalid, path, "not a directory")),
            None if real == "/" => Ok(self.children.get("/").cloned().unwrap_or_default()),
            None => Err(HostError::new(ErrorKind::Missing, path, "")),
        }
    }

    fn read_link(&self, path: &str) -> HostResult<String> {
        let n = normalize(path);
        let dir = parent(&n)
            .map(|d| self.resolve(&d))
            .transpose()?
            .unwrap_or_default();
        let name = n.rsplit('/').next().unwrap_or_default();
        match self.nodes.get(&normalize(&format!("{dir}/{name}"))) {
            Some(Node::Symlink(t)) => Ok(t.clone()),
            Some(_) => Err(HostError::new(
                ErrorKind::Invalid,
                path,
                "not a symbolic link",
            )),
            None => Err(HostError::new(ErrorKind::Missing, path, "")),
        }
    }

    fn metadata(&self, path: &str) -> HostResult<super::FileMeta> {
        if let Some(e) = self.recorded_error(&format!("metadata:{path}")) {
            return Err(HostError {
                path: path.to_string(),
                ..e
            });
        }
        if let Some(m) = self.meta.metadata.get(&normalize(path)) {
            return Ok(*m);
        }
        if let Some(pid_dir) = proc_exe_dir(path)
            && matches!(self.nodes.get(&pid_dir), Some(Node::Dir))
        {
            // `/proc/<pid>/exe` is a link into the process's mount namespace; a capture keeps
            // no such link, only its stat. A bundle from before captures recorded it took the
            // process's word, so its replay does too (a new capture records the answer,
            // missing included).
            return Ok(super::FileMeta {
                uid: 0,
                gid: 0,
                mode: 0o755,
                kind: EntryKind::File,
                size: 0,
            });
        }
        let real = self.resolve(path)?;
        let (kind, size, mode) = match self.nodes.get(&real) {
            Some(Node::File(b)) => (EntryKind::File, b.len() as u64, 0o644),
            Some(Node::Disk { size, .. }) => (EntryKind::File, *size, 0o644),
            Some(Node::Dir) => (EntryKind::Dir, 0, 0o755),
            None if real == "/" => (EntryKind::Dir, 0, 0o755),
            Some(Node::Unsupported(_)) => (EntryKind::Special, 0, 0o644),
            Some(Node::Symlink(_)) | None => {
                return Err(HostError::new(ErrorKind::Missing, path, ""));
            }
        };
        Ok(super::FileMeta {
            uid: 0,
            gid: 0,
            mode,
            kind,
            size,
        })
    }

    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        paths
            .iter()
            .map(|p| {
                if let Some(e) = self.recorded_error(&format!("statvfs:{p}")) {
                    return Err(HostError {
                        path: p.clone(),
                        ..e
                    });
                }
                self.meta.statvfs.get(p).copied().ok_or_else(|| {
                    HostError::new(ErrorKind::Missing, p, "no statvfs recorded in the bundle")
                })
            })
            .collect()
    }

    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        pids.iter()
            .map(|pid| {
                let key = format!("/proc/{pid}/fd");
                if let Some(e) = self.recorded_error(&key) {
                    return Err(e);
                }
                Ok(self
                    .meta
                    .fds
                    .get(&pid.to_string())
                    .cloned()
                    .unwrap_or_default())
            })
            .collect()
    }

    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        let n = normalize(path);
        if let Some(e) = self.recorded_error(&format!("walk:{n}")) {
            return Err(e);
        }
        if let Some(w) = self.meta.walks.get(&n) {
            return Ok(w.clone());
        }
        let real = self.resolve(&n)?;
        let prefix = format!("{}/", real.trim_end_matches('/'));
        let shown = |k: &str| format!("{n}{}", &k[real.len().min(k.len())..]);
        match self.nodes.get(&real) {
            Some(node @ (Node::File(_) | Node::Disk { .. })) => Ok(super::walk::walk_listing(
                &n,
                &[(n.clone(), node.size())],
                &[],
                limits.top,
            )),
            Some(Node::Dir) => {
                let mut files = Vec::new();
                let mut dirs = vec![n.clone()];
                for (k, node) in self.nodes.range(prefix.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    match node {
                        Node::File(_) | Node::Disk { .. } => files.push((shown(k), node.size())),
                        Node::Symlink(t) => files.push((shown(k), t.len() as u64)),
                        Node::Dir => dirs.push(shown(k)),
                        Node::Unsupported(_) => files.push((shown(k), 0)),
                    }
                }
                Ok(super::walk::walk_listing(&n, &files, &dirs, limits.top))
            }
            _ => Err(HostError::new(ErrorKind::Missing, path, "")),
        }
    }

    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        self.meta.nvml.clone()
    }

    fn cri(&self, _endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        self.meta.cri.clone()
    }

    fn clock(&self) -> Option<crate::model::health::ClockState> {
        self.meta.clock
    }

    fn kmsg(&self) -> HostResult<Vec<String>> {
        if let Some(e) = self.recorded_error("/dev/kmsg") {
            return Err(e);
        }
        let raw = self.read("/dev/kmsg")?;
        Ok(String::from_utf8_lossy(&raw)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect())
    }

    fn journal(
        &self,
        q: &super::journal::JournalQuery,
    ) -> HostResult<Vec<super::journal::JournalEntry>> {
        if let Some(e) = self.recorded_error("/journal") {
            return Err(HostError {
                path: super::journal::journal_path(),
                ..e
            });
        }
        match &self.meta.journal {
            Some(entries) => Ok(q.apply(entries.iter().cloned())),
            None => Err(HostError::new(
                ErrorKind::Missing,
                super::journal::JOURNAL_DIRS[0],
                "no journal in the bundle",
            )),
        }
    }

    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        let all = self.read(path)?;
        let start = all
            .len()
            .saturating_sub(usize::try_from(max_bytes).unwrap_or(usize::MAX));
        Ok(all[start..].to_vec())
    }

    fn now(&self) -> jiff::Timestamp {
        self.meta.captured_at
    }

    fn euid(&self) -> u32 {
        self.meta.euid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture's findings are compared with its replay's; their numbers must come back from
    /// the bundle's JSON as the very f64 that was written. This percentage (a real statvfs of a
    /// CI run) parsed one ULP off with serde_json's default float parser.
    #[test]
    fn recorded_numbers_parse_back_exactly() {
        let pct = 27_368_124_416_f64 / 270_553_174_016_f64 * 100.0;
        let text = serde_json::to_string(&serde_json::json!({ "available_percent": pct })).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back["available_percent"].as_f64().unwrap().to_bits(),
            pct.to_bits(),
            "{text}"
        );
    }

    fn meta_json() -> &'static str {
        r#"{"format":"nodescope-bundle/1","captured_at":"2026-11-22T03:00:00Z",
            "statvfs":{"/":{"bsize":4096,"frsize":4096,"blocks":10,"bfree":5,"bavail":4,"files":100,"ffree":90,"favail":90}},
            "errors":{"/proc/1/cmdline":{"kind":"denied"}}}"#
    }

    fn dir_bundle() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join(META_FILE), meta_json()).unwrap();
        fs::create_dir_all(r.join("var/log/pods/ns_p_u/c")).unwrap();
        fs::write(r.join("var/log/pods/ns_p_u/c/0.log"), "line\n").unwrap();
        fs::create_dir_all(r.join("var/log/containers")).unwrap();
        std::os::unix::fs::symlink(
            "/var/log/pods/ns_p_u/c/0.log",
            r.join("var/log/containers/p_ns_c-1.log"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../../../etc/x", r.join("var/log/containers/evil.log"))
            .unwrap();
        fs::create_dir_all(r.join("dev")).unwrap();
        fs::write(r.join("dev/kmsg"), "6,1,0,-;hello\n\n6,2,5,-;world\n").unwrap();
        d
    }

    #[test]
    fn directory_bundle_reads_links_and_recorded_errors() {
        let d = dir_bundle();
        let b = BundleHost::open(d.path()).unwrap();
        assert_eq!(
            b.read_string("/var/log/containers/p_ns_c-1.log").unwrap(),
            "line\n"
        );
        assert_eq!(
            b.read_link("/var/log/containers/p_ns_c-1.log").unwrap(),
            "/var/log/pods/ns_p_u/c/0.log"
        );
        // A link pointing above the root resolves inside the bundle, never outside it.
        assert_eq!(
            b.read("/var/log/containers/evil.log").unwrap_err().kind,
            ErrorKind::Missing
        );
        assert_eq!(
            b.read("/proc/1/cmdline").unwrap_err().kind,
            ErrorKind::Denied
        );
        assert_eq!(b.kmsg().unwrap(), ["6,1,0,-;hello", "6,2,5,-;world"]);
        assert_eq!(b.statvfs(&["/".into()])[0].as_ref().unwrap().bavail, 4);
        let names: Vec<_> = b
            .read_dir("/var/log")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["containers", "pods"]);
        assert_eq!(b.now().to_string(), "2026-11-22T03:00:00Z");
    }

    #[test]
    fn tar_gz_with_top_directory_and_escaping_entries() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("good.tar.gz");
        {
            let f = fs::File::create(&good).unwrap();
            let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            ));
            let add = |t: &mut tar::Builder<_>, p: &str, data: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                t.append_data(&mut h, p, data).unwrap();
            };
            add(
                &mut t,
                "node-a/nodescope-bundle.json",
                meta_json().as_bytes(),
            );
            add(&mut t, "node-a/proc/meminfo", b"MemTotal: 1 kB\n");
            t.into_inner().unwrap().finish().unwrap();
        }
        let b = BundleHost::open(&good).unwrap();
        assert_eq!(b.read_string("/proc/meminfo").unwrap(), "MemTotal: 1 kB\n");

        let bad = d.path().join("bad.tar.gz");
        {
            let f = fs::File::create(&bad).unwrap();
            let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            ));
            let mut h = tar::Header::new_gnu();
            let data = b"x";
            h.set_size(1);
            h.set_mode(0o644);
            // tar::Builder refuses "..", so write the name into the header by hand.
            h.as_old_mut().name[..12].copy_from_slice(b"../escape.tx");
            h.set_cksum();
            t.append(&h, &data[..]).unwrap();
            t.into_inner().unwrap().finish().unwrap();
        }
        let err = format!("{:#}", BundleHost::open(&bad).unwrap_err());
        assert!(err.contains("escapes the bundle root"), "{err}");
    }

    #[test]
    fn inserted_files_read_and_list_as_captured_ones() {
        let d = dir_bundle();
        let mut b = BundleHost::open(d.path()).unwrap();
        b.insert_file("/var/log/b.log", b"b".to_vec()).unwrap();
        b.insert_file("/var/log/a/x", b"x".to_vec()).unwrap();
        b.insert_file("/proc/meminfo", b"MemTotal: 1 kB\n".to_vec())
            .unwrap();
        assert_eq!(b.read("/var/log/a/x").unwrap(), b"x");
        let listing: Vec<_> = b
            .read_dir("/var/log")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        assert_eq!(
            listing,
            [
                ("a".to_string(), EntryKind::Dir),
                ("b.log".to_string(), EntryKind::File),
                ("containers".to_string(), EntryKind::Dir),
                ("pods".to_string(), EntryKind::Dir),
            ]
        );
        assert_eq!(b.read_dir("/").unwrap().len(), 3); // dev, proc, var
        b.insert_file("/var/log/b.log", b"again".to_vec()).unwrap();
        assert_eq!(b.read("/var/log/b.log").unwrap(), b"again");
        assert_eq!(b.read_dir("/var/log").unwrap().len(), 4);
        // The metadata file replaces the metadata, and is checked as open checks it.
        b.insert_file(
            META_FILE,
            br#"{"format":"nodescope-bundle/1","captured_at":"2027-01-01T00:00:00Z"}"#.to_vec(),
        )
        .unwrap();
        assert_eq!(b.now().to_string(), "2027-01-01T00:00:00Z");
        assert!(b.insert_file(META_FILE, b"{}".to_vec()).is_err());
        assert!(b.insert_file("/", Vec::new()).is_err());
    }

    #[test]
    fn rejects_directories_that_are_not_bundles() {
        let d = tempfile::tempdir().unwrap();
        let err = format!("{:#}", BundleHost::open(d.path()).unwrap_err());
        assert!(err.contains("not a nodescope bundle"), "{err}");
        fs::write(
            d.path().join(META_FILE),
            r#"{"format":"other/9","captured_at":"2026-11-22T03:00:00Z"}"#,
        )
        .unwrap();
        let err = format!("{:#}", BundleHost::open(d.path()).unwrap_err());
        assert!(err.contains("unsupported bundle format"), "{err}");
    }
}
