//! A `nodescope-bundle/1` capture read back as a host: a directory or a `.tar.gz` of one.
//!
//! Files sit at their host paths (`proc/meminfo`), `dev/kmsg` holds one kernel-log record per
//! line, symbolic links stay links, and `nodescope-bundle.json` at the bundle root holds what
//! has no file form (statvfs results, open-fd targets, the capture time, the capturer's uid,
//! and the reads that failed on the live host so they fail the same way here).
//!
//! The whole bundle is loaded into memory once, bounded in entries and bytes, and every path is
//! normalized, so neither `../` entries nor symbolic links can reach outside it.

use super::{
    DirEntry, EntryKind, ErrorKind, FdEntry, Host, HostError, HostResult, StatVfs, Walk,
    WalkLimits, normalize,
};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

/// The format name written to and required from `nodescope-bundle.json`.
pub const FORMAT: &str = "nodescope-bundle/1";
/// The metadata file at the bundle root.
pub const META_FILE: &str = "nodescope-bundle.json";
/// Most entries a bundle may hold: a busy node's capture has ~20k.
const MAX_ENTRIES: usize = 2_000_000;
/// Most bytes a bundle may unpack to (a tar bomb stops here).
const MAX_TOTAL_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most bytes one file in a bundle may hold.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// A read that failed on the captured host, replayed with the same kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    pub kind: ErrorKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
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
    /// The findings nodescope reported at capture time, so a replay can be compared with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

/// A bundle loaded into memory.
#[derive(Debug)]
pub struct BundleHost {
    origin: String,
    meta: BundleMeta,
    nodes: BTreeMap<String, Node>,
    children: BTreeMap<String, Vec<DirEntry>>,
}

impl BundleHost {
    /// Opens a bundle directory or `.tar.gz`. Errors name the path and what is wrong with it.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let meta = fs::metadata(path).with_context(|| format!("--bundle {}", path.display()))?;
        let mut nodes = BTreeMap::new();
        if meta.is_dir() {
            load_dir(path, &mut nodes)
                .with_context(|| format!("reading bundle {}", path.display()))?;
        } else {
            load_targz(path, &mut nodes)
                .with_context(|| format!("reading bundle archive {}", path.display()))?;
        }
        Self::from_nodes(path.display().to_string(), nodes)
    }

    fn from_nodes(origin: String, mut nodes: BTreeMap<String, Node>) -> anyhow::Result<Self> {
        let meta_path = format!("/{META_FILE}");
        let Some(Node::File(raw)) = nodes.remove(&meta_path) else {
            bail!("{origin}: not a nodescope bundle (no {META_FILE} at its root)");
        };
        let meta: BundleMeta = serde_json::from_slice(&raw)
            .with_context(|| format!("{origin}: {META_FILE} is not valid bundle metadata"))?;
        if meta.format != FORMAT {
            bail!(
                "{origin}: unsupported bundle format {:?} (this nodescope reads {FORMAT})",
                meta.format
            );
        }
        // Every ancestor of every entry is a directory, even where the archive omitted it.
        let keys: Vec<String> = nodes.keys().cloned().collect();
        for k in keys {
            let mut p = parent(&k);
            while let Some(d) = p {
                nodes.entry(d.clone()).or_insert(Node::Dir);
                p = parent(&d);
            }
        }
        let mut children: BTreeMap<String, Vec<DirEntry>> = BTreeMap::new();
        for (k, n) in &nodes {
            if let Some(d) = parent(k) {
                let name = k.rsplit('/').next().unwrap_or_default().to_string();
                let kind = match n {
                    Node::File(_) => EntryKind::File,
                    Node::Dir => EntryKind::Dir,
                    Node::Symlink(_) => EntryKind::Symlink,
                };
                children.entry(d).or_default().push(DirEntry { name, kind });
            }
        }
        Ok(BundleHost {
            origin,
            meta,
            nodes,
            children,
        })
    }

    /// A file of the bundle's `cluster/` directory (`nodes.json`, `pods.json`, `events.json`:
    /// the API server's objects at capture time).
    pub fn cluster_file(&self, name: &str) -> Option<Vec<u8>> {
        match self.nodes.get(&format!("/cluster/{name}")) {
            Some(Node::File(b)) => Some(b.clone()),
            _ => None,
        }
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
        self.meta
            .errors
            .get(&normalize(path))
            .map(|e| HostError::new(e.kind, path, e.detail.clone()))
    }
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

fn load_dir(root: &Path, nodes: &mut BTreeMap<String, Node>) -> anyhow::Result<()> {
    let mut total = 0u64;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let host_path = format!("{rel}/{name}");
            let ft = entry.file_type()?;
            if nodes.len() >= MAX_ENTRIES {
                bail!("more than {MAX_ENTRIES} entries");
            }
            if ft.is_symlink() {
                let t = fs::read_link(entry.path())?;
                nodes.insert(host_path, Node::Symlink(t.to_string_lossy().into_owned()));
            } else if ft.is_dir() {
                nodes.insert(host_path.clone(), Node::Dir);
                stack.push((entry.path(), host_path));
            } else {
                let len = entry.metadata()?.len();
                if len > MAX_FILE_BYTES {
                    bail!(
                        "{} is {len} bytes, over the {MAX_FILE_BYTES}-byte limit",
                        entry.path().display()
                    );
                }
                total += len;
                if total > MAX_TOTAL_BYTES {
                    bail!("bundle is larger than {MAX_TOTAL_BYTES} bytes");
                }
                nodes.insert(host_path, Node::File(fs::read(entry.path())?));
            }
        }
    }
    Ok(())
}

fn load_targz(path: &Path, nodes: &mut BTreeMap<String, Node>) -> anyhow::Result<()> {
    let f = fs::File::open(path)?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut raw: Vec<(String, Node)> = Vec::new();
    let mut total = 0u64;
    for entry in ar.entries().context("not a gzip-compressed tar archive")? {
        let mut entry = entry.context("corrupt archive entry")?;
        let p = entry.path()?.to_string_lossy().into_owned();
        if p.starts_with('/') || p.split('/').any(|c| c == "..") {
            bail!("archive entry {p:?} escapes the bundle root");
        }
        if raw.len() >= MAX_ENTRIES {
            bail!("more than {MAX_ENTRIES} entries");
        }
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
                let size = entry.header().size()?;
                if size > MAX_FILE_BYTES {
                    bail!(
                        "archive entry {p:?} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit"
                    );
                }
                total += size;
                if total > MAX_TOTAL_BYTES {
                    bail!("archive unpacks to more than {MAX_TOTAL_BYTES} bytes");
                }
                let mut buf = Vec::with_capacity(size as usize);
                (&mut entry).take(size).read_to_end(&mut buf)?;
                Node::File(buf)
            }
            // Hard links, devices and FIFOs have no place in a bundle.
            _ => continue,
        };
        raw.push((p, node));
    }
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
            Some(Node::Dir) => Err(HostError::new(ErrorKind::Invalid, path, "is a directory")),
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
            Some(Node::File(b)) => Ok(super::walk::walk_listing(
                &n,
                &[(n.clone(), b.len() as u64)],
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
                        Node::File(b) => files.push((shown(k), b.len() as u64)),
                        Node::Symlink(t) => files.push((shown(k), t.len() as u64)),
                        Node::Dir => dirs.push(shown(k)),
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
