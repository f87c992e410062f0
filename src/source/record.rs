//! `capture`: a live host that keeps everything it reads and writes it out as a
//! `nodescope-bundle/1` archive. Because the bundle holds exactly the answers the collectors
//! got (secrets scrubbed by [`super::redact`]), analyzing it gives the same findings as the
//! live run it came from.

use super::bundle::{BundleMeta, FORMAT, META_FILE, RecordedError};
use super::journal::{JournalEntry, JournalQuery};
use super::{
    DirEntry, EntryKind, ErrorKind, FdEntry, Host, HostError, HostResult, StatVfs, Walk,
    WalkLimits, normalize, redact,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, Clone)]
enum Rec {
    File(Vec<u8>),
    /// Seen in a listing but never read: an empty file keeps the name (sockets, devices too).
    Placeholder,
    Dir,
    Symlink(String),
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Rec>,
    statvfs: BTreeMap<String, StatVfs>,
    fds: BTreeMap<String, Vec<FdEntry>>,
    walks: BTreeMap<String, Walk>,
    errors: BTreeMap<String, RecordedError>,
    journal: Option<Vec<JournalEntry>>,
    nvml: Option<crate::model::gpu::Nvml>,
    cri: Option<crate::model::disk::CriSnapshot>,
    metadata: BTreeMap<String, super::FileMeta>,
    /// Files read but not kept: their content did not parse ([`Host::unparsed`]).
    withheld: BTreeSet<String>,
    clock: Option<crate::model::health::ClockState>,
}

/// Wraps a host and records every answer it gives.
pub struct RecordingHost<H: Host> {
    inner: H,
    captured_at: jiff::Timestamp,
    root: String,
    state: Mutex<State>,
}

impl<H: Host> RecordingHost<H> {
    /// Starts recording; the capture time is fixed now, so the snapshot and the bundle agree.
    pub fn new(inner: H, root: &Path) -> Self {
        let captured_at = inner.now();
        RecordingHost {
            inner,
            captured_at,
            root: root.display().to_string(),
            state: Mutex::new(State::default()),
        }
    }

    fn with_state(&self, f: impl FnOnce(&mut State)) {
        // A poisoned lock means a collector panicked mid-record; keep recording what we can.
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g);
    }

    fn record_error(&self, e: &HostError, key: &str) {
        // A missing file is missing in the bundle too; record only the kinds a bundle cannot
        // reproduce by absence.
        if e.kind != ErrorKind::Missing {
            self.with_state(|s| {
                s.errors.insert(
                    normalize(key),
                    RecordedError {
                        kind: e.kind,
                        detail: e.detail.clone(),
                        line: e.line,
                    },
                );
            });
        }
    }

    /// Keeps a file's content (scrubbed of secrets) or its failure.
    fn record_file(&self, path: &str, r: HostResult<Vec<u8>>) -> HostResult<Vec<u8>> {
        match &r {
            Ok(data) => {
                let kept = redact::for_bundle(path, data);
                let key = normalize(path);
                self.with_state(|s| {
                    if !s.withheld.contains(&key) {
                        s.entries.insert(key, Rec::File(kept));
                    }
                });
            }
            Err(e) => self.record_error(e, path),
        }
        r
    }

    /// Adds a file that no read produced (the API server's objects at `/cluster/*.json`).
    pub fn add_file(&self, path: &str, bytes: Vec<u8>) {
        self.with_state(|s| {
            s.entries.insert(normalize(path), Rec::File(bytes));
        });
    }

    /// Writes the bundle to the file `out` (see [`super::out_file`]: a regular file or a new
    /// one, written beside it and renamed into place), under one top directory named after
    /// the file. Returns (entries, bytes of file content).
    pub fn write_bundle(
        &self,
        out: &Path,
        findings: Option<serde_json::Value>,
    ) -> anyhow::Result<(usize, u64)> {
        let dest = super::out_file::Destination::check(out)?;
        let top = bundle_dir_name(out);
        dest.write(|w| self.write_bundle_to(w, &top, findings))
    }

    /// Writes the bundle as a gzip-compressed tar to `w`, everything under the directory `top`.
    /// No entry lies beneath a symbolic link ([`beneath_links_moved`]), so `tar xzf` and
    /// `bsdtar -xzf` extract it without error. Returns (entries, bytes of file content).
    pub fn write_bundle_to(
        &self,
        w: &mut dyn Write,
        top: &str,
        findings: Option<serde_json::Value>,
    ) -> anyhow::Result<(usize, u64)> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let meta = BundleMeta {
            format: FORMAT.into(),
            captured_at: self.captured_at,
            nodescope_version: Some(env!("CARGO_PKG_VERSION").into()),
            root: Some(self.root.clone()),
            euid: self.inner.euid(),
            statvfs: st.statvfs.clone(),
            fds: st.fds.clone(),
            walks: st.walks.clone(),
            errors: st.errors.clone(),
            journal: st.journal.clone(),
            nvml: st.nvml.clone(),
            cri: st.cri.clone(),
            metadata: st.metadata.clone(),
            clock: st.clock,
            findings,
        };
        let entries = beneath_links_moved(&st.entries);
        let gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = self.captured_at.as_second().max(0) as u64;
        let mut bytes = 0u64;
        let add_file = |tar: &mut tar::Builder<_>, p: &str, data: &[u8]| -> anyhow::Result<()> {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(mtime);
            tar.append_data(&mut h, format!("{top}{p}"), data)?;
            Ok(())
        };
        add_file(
            &mut tar,
            &format!("/{META_FILE}"),
            &serde_json::to_vec_pretty(&meta)?,
        )?;
        for (p, rec) in &entries {
            match rec {
                Rec::File(data) => {
                    bytes += data.len() as u64;
                    add_file(&mut tar, p, data)?
                }
                Rec::Placeholder => add_file(&mut tar, p, &[])?,
                Rec::Dir => {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    h.set_mtime(mtime);
                    tar.append_data(&mut h, format!("{top}{p}/"), std::io::empty())?;
                }
                Rec::Symlink(t) => {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    h.set_mtime(mtime);
                    tar.append_link(&mut h, format!("{top}{p}"), t)?;
                }
            }
        }
        let n = entries.len() + 1;
        tar.into_inner()?.finish()?.flush()?;
        Ok((n, bytes))
    }

    /// How many files were read but withheld from the bundle because they did not parse.
    pub fn withheld(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .withheld
            .len()
    }
}

/// The recorded entries re-keyed so that none lies beneath a recorded symbolic link: a file
/// read through `/sys/bus/pci/devices/X` (a link to `../../../devices/pci0000:00/X`) is
/// stored at `/sys/devices/pci0000:00/X/...`, where the link leads, as the kernel resolved it
/// on the host. The link stays, so a replay that reads through it finds the file (the bundle's
/// resolver follows it). Archive tools refuse to extract through a link they wrote (GNU tar
/// fails "Cannot open: Not a directory" and bsdtar "Cannot extract through symlink"), so
/// without this a bundle would analyze but not extract. Parents are resolved to a fixed point
/// (links beneath links); an entry still under a link or a non-directory after that (a link
/// loop) is dropped, and where two paths land on one, content wins over a name.
fn beneath_links_moved(entries: &BTreeMap<String, Rec>) -> BTreeMap<String, Rec> {
    let mut cur = entries.clone();
    for _ in 0..40 {
        let links: BTreeMap<String, String> = cur
            .iter()
            .filter_map(|(p, r)| match r {
                Rec::Symlink(t) => Some((p.clone(), t.clone())),
                _ => None,
            })
            .collect();
        let mut next: BTreeMap<String, Rec> = BTreeMap::new();
        let mut moved = false;
        for (p, rec) in &cur {
            let key = resolve_parents(p, &links).unwrap_or_else(|| p.clone());
            moved |= key != *p;
            let keep = next.get(&key).is_none_or(|old| rank(rec) > rank(old));
            if keep {
                next.insert(key, rec.clone());
            }
        }
        cur = next;
        if !moved {
            break;
        }
    }
    let under_non_dir = |p: &str| {
        let mut d = p;
        while let Some(i) = d.rfind('/').filter(|&i| i > 0) {
            d = &d[..i];
            if cur.get(d).is_some_and(|r| !matches!(r, Rec::Dir)) {
                return true;
            }
        }
        false
    };
    cur.iter()
        .filter(|(p, _)| !under_non_dir(p))
        .map(|(p, r)| (p.clone(), r.clone()))
        .collect()
}

/// Which of two entries landing on one path is kept.
fn rank(r: &Rec) -> u8 {
    match r {
        Rec::File(_) => 3,
        Rec::Symlink(_) => 2,
        Rec::Dir => 1,
        Rec::Placeholder => 0,
    }
}

/// `path` with its parent directories resolved through `links` (absolute targets from the
/// root, relative ones from the link's directory; at most 40 links, as Linux's MAXSYMLINKS);
/// `None` on a loop.
fn resolve_parents(path: &str, links: &BTreeMap<String, String>) -> Option<String> {
    let (parent, name) = path.rsplit_once('/')?;
    let mut todo: Vec<String> = parent
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(String::from)
        .collect();
    let mut cur = String::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        let cand = normalize(&format!("{cur}/{c}"));
        match links.get(&cand) {
            Some(t) => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let base = if t.starts_with('/') { "" } else { cur.as_str() };
                let target = normalize(&format!("{base}/{t}"));
                todo.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(String::from),
                );
                cur = String::new();
            }
            None => cur = cand,
        }
    }
    Some(normalize(&format!("{cur}/{name}")))
}

/// `node-a-2026.tar.gz` → `node-a-2026`: the directory `tar xzf` will create.
fn bundle_dir_name(out: &Path) -> String {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".tgz")
        .trim_end_matches(".tar");
    if stem.is_empty() || stem.contains('/') {
        "nodescope-bundle".into()
    } else {
        stem.to_string()
    }
}

impl<H: Host> Host for RecordingHost<H> {
    fn describe(&self) -> String {
        format!("{} (recording)", self.inner.describe())
    }

    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        self.record_file(path, self.inner.read(path))
    }

    fn begin_sample(&self) {
        self.inner.begin_sample();
    }

    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        let r = self.inner.read_dir(path);
        match &r {
            Ok(entries) => {
                let base = normalize(path);
                let in_proc = base == "/proc" || base.starts_with("/proc/");
                let mut links = Vec::new();
                self.with_state(|s| {
                    s.entries.insert(base.clone(), Rec::Dir);
                    for e in entries {
                        let p = normalize(&format!("{base}/{}", e.name));
                        match e.kind {
                            EntryKind::Dir => {
                                s.entries.entry(p).or_insert(Rec::Dir);
                            }
                            EntryKind::File | EntryKind::Special => {
                                s.entries.entry(p).or_insert(Rec::Placeholder);
                            }
                            // /proc's links (self, <pid>/exe, root, fd/*) are magic: keep none.
                            EntryKind::Symlink if !in_proc => links.push(p),
                            EntryKind::Symlink => {}
                        }
                    }
                });
                for l in links {
                    if let Ok(t) = self.inner.read_link(&l) {
                        self.with_state(|s| {
                            s.entries.insert(l, Rec::Symlink(t));
                        });
                    }
                }
            }
            Err(e) => self.record_error(e, path),
        }
        r
    }

    fn read_link(&self, path: &str) -> HostResult<String> {
        let r = self.inner.read_link(path);
        match &r {
            Ok(t) => self.with_state(|s| {
                s.entries.insert(normalize(path), Rec::Symlink(t.clone()));
            }),
            // "Not a link" is what a bundle answers by itself for a file (source::vet asks
            // every component); recorded under the path, it would fail the file's reads.
            Err(e) if e.kind == ErrorKind::Invalid => {}
            Err(e) => self.record_error(e, path),
        }
        r
    }

    fn metadata(&self, path: &str) -> HostResult<super::FileMeta> {
        let r = self.inner.metadata(path);
        match &r {
            Ok(m) => self.with_state(|s| {
                s.metadata.insert(normalize(path), *m);
            }),
            // Missing too: a bundle answers an unrecorded path as root's (an old capture
            // trusted what it read), so a path that was gone must say so.
            Err(e) => self.with_state(|s| {
                s.errors.insert(
                    normalize(&format!("metadata:{path}")),
                    RecordedError {
                        kind: e.kind,
                        detail: e.detail.clone(),
                        line: None,
                    },
                );
            }),
        }
        r
    }

    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        let r = self.inner.statvfs(paths);
        for (p, res) in paths.iter().zip(&r) {
            match res {
                Ok(s) => self.with_state(|st| {
                    st.statvfs.insert(p.clone(), *s);
                }),
                Err(e) => self.record_error(e, &format!("statvfs:{p}")),
            }
        }
        r
    }

    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        let r = self.inner.deleted_files(pids);
        for (pid, res) in pids.iter().zip(&r) {
            match res {
                Ok(v) if v.is_empty() => {}
                Ok(v) => self.with_state(|s| {
                    s.fds.insert(pid.to_string(), v.clone());
                }),
                Err(e) => self.record_error(e, &format!("/proc/{pid}/fd")),
            }
        }
        r
    }

    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        let r = self.inner.walk(path, limits);
        match &r {
            Ok(w) => self.with_state(|s| {
                s.walks.insert(normalize(path), w.clone());
            }),
            Err(e) => self.record_error(e, &format!("walk:{}", normalize(path))),
        }
        r
    }

    fn walk_each(
        &self,
        paths: &[String],
        limits: WalkLimits,
        total: std::time::Duration,
    ) -> Vec<HostResult<Walk>> {
        let r = self.inner.walk_each(paths, limits, total);
        for (p, res) in paths.iter().zip(&r) {
            match res {
                Ok(w) => self.with_state(|s| {
                    s.walks.insert(normalize(p), w.clone());
                }),
                Err(e) => self.record_error(e, &format!("walk:{}", normalize(p))),
            }
        }
        r
    }

    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        let r = self.inner.nvml();
        self.with_state(|s| s.nvml = r.clone());
        r
    }

    fn cri(&self, endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        let r = self.inner.cri(endpoints);
        self.with_state(|s| s.cri = r.clone());
        r
    }

    /// The file's content leaves the bundle and its failure takes its place: a bundle holds
    /// only what parsed as what a collector took it for, and replays the same error.
    fn unparsed(&self, err: &HostError) {
        let key = normalize(&err.path);
        self.with_state(|s| {
            if matches!(s.entries.get(&key), Some(Rec::File(_))) {
                s.entries.insert(key.clone(), Rec::Placeholder);
            }
            s.errors.insert(
                key.clone(),
                RecordedError {
                    kind: ErrorKind::Invalid,
                    detail: err.detail.clone(),
                    line: err.line,
                },
            );
            s.withheld.insert(key);
        });
    }

    fn clock(&self) -> Option<crate::model::health::ClockState> {
        let r = self.inner.clock();
        self.with_state(|s| s.clock = r);
        r
    }

    fn kmsg(&self) -> HostResult<Vec<String>> {
        let r = self.inner.kmsg();
        match &r {
            Ok(lines) => {
                let mut text = lines.join("\n");
                text.push('\n');
                self.with_state(|s| {
                    s.entries
                        .insert("/dev/kmsg".into(), Rec::File(text.into_bytes()));
                });
            }
            Err(e) => self.record_error(e, "/dev/kmsg"),
        }
        r
    }

    fn journal(&self, q: &JournalQuery) -> HostResult<Vec<JournalEntry>> {
        let r = self.inner.journal(q);
        match &r {
            Ok(entries) => self.with_state(|s| {
                let all = s.journal.get_or_insert_with(Vec::new);
                for e in entries {
                    let kept = JournalEntry {
                        message: String::from_utf8_lossy(&redact::text(e.message.as_bytes()))
                            .into_owned(),
                        ..e.clone()
                    };
                    if !all.contains(&kept) {
                        all.push(kept);
                    }
                }
            }),
            Err(e) => self.record_error(e, "/journal"),
        }
        r
    }

    fn tail_lines(&self, path: &str, max_bytes: u64, needles: &[&str]) -> HostResult<Vec<String>> {
        // Only the matching lines go into the bundle; replayed, the same filter keeps them all.
        let r = self.inner.tail_lines(path, max_bytes, needles);
        match &r {
            Ok(lines) => {
                let mut text = lines.join("\n");
                text.push('\n');
                let kept = redact::for_bundle(path, text.as_bytes());
                self.with_state(|s| {
                    s.entries.insert(normalize(path), Rec::File(kept));
                });
            }
            Err(e) => self.record_error(e, path),
        }
        r
    }

    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        // The tail is stored as the file: a replayed tail read of the same size gets the same bytes.
        self.record_file(path, self.inner.read_tail(path, max_bytes))
    }

    fn now(&self) -> jiff::Timestamp {
        self.captured_at
    }

    fn euid(&self) -> u32 {
        self.inner.euid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bundle::BundleHost;
    use crate::source::live::LiveHost;

    /// A small fake root, recorded, written, and read back.
    fn round_trip(setup: impl Fn(&Path), run: impl Fn(&dyn Host)) -> BundleHost {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("proc")).unwrap();
        setup(&root);
        let rec = RecordingHost::new(LiveHost::new(&root).unwrap(), &root);
        run(&rec);
        let out = d.path().join("b.tar.gz");
        rec.write_bundle(&out, None).unwrap();
        BundleHost::open(&out).unwrap()
    }

    /// sysfs as the kernel lays it out: `/sys/bus/pci/devices/X` links to the device's
    /// directory, and a collector reads files through the link.
    #[test]
    fn files_read_through_a_link_are_stored_where_it_leads_and_replay_through_it() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("b.tar.gz");
        let root = d.path().join("root");
        let dev = root.join("sys/devices/pci0000:00/0000:00:01.0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::write(dev.join("vendor"), "0x10de\n").unwrap();
        std::fs::create_dir_all(dev.join("driver-dir")).unwrap();
        std::fs::write(dev.join("driver-dir/name"), "nvidia\n").unwrap();
        std::fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
        std::os::unix::fs::symlink(
            "../../../devices/pci0000:00/0000:00:01.0",
            root.join("sys/bus/pci/devices/0000:00:01.0"),
        )
        .unwrap();
        // A link beneath the link: resolved in a second round.
        std::os::unix::fs::symlink("driver-dir", dev.join("driver")).unwrap();
        let rec = RecordingHost::new(LiveHost::new(&root).unwrap(), &root);
        let via = "/sys/bus/pci/devices/0000:00:01.0";
        rec.read_dir("/sys/bus/pci/devices").unwrap();
        rec.read(&format!("{via}/vendor")).unwrap();
        rec.read_link(&format!("{via}/driver")).unwrap();
        rec.read(&format!("{via}/driver/name")).unwrap();
        rec.write_bundle(&out, None).unwrap();

        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&out).unwrap(),
        ));
        let mut links = Vec::new();
        let mut files = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            let p = p.trim_start_matches("b/").to_string();
            match e.header().entry_type() {
                tar::EntryType::Symlink => links.push(p),
                tar::EntryType::Regular => files.push(p),
                _ => {}
            }
        }
        // Nothing is stored beneath a stored link.
        for f in &files {
            assert!(
                !links.iter().any(|l| f.starts_with(&format!("{l}/"))),
                "{f} lies beneath a link: {links:?}"
            );
        }
        assert!(files.contains(&"sys/devices/pci0000:00/0000:00:01.0/vendor".to_string()));
        assert!(
            files.contains(&"sys/devices/pci0000:00/0000:00:01.0/driver-dir/name".to_string()),
            "{files:?}"
        );
        assert!(links.contains(&"sys/bus/pci/devices/0000:00:01.0".to_string()));
        // Replayed through the links, the same bytes.
        let b = BundleHost::open(&out).unwrap();
        assert_eq!(b.read(&format!("{via}/vendor")).unwrap(), b"0x10de\n");
        assert_eq!(b.read(&format!("{via}/driver/name")).unwrap(), b"nvidia\n");
    }

    #[test]
    fn a_log_tail_keeps_only_the_matching_lines() {
        let b = round_trip(
            |r| {
                std::fs::create_dir_all(r.join("var/log")).unwrap();
                std::fs::write(
                    r.join("var/log/syslog"),
                    "app[1]: password=hunter2 leaked\nkubelet[9]: \"Eviction manager: attempting to reclaim\"\nsshd[2]: login\n",
                )
                .unwrap();
            },
            |h| {
                let l = h
                    .tail_lines("/var/log/syslog", 1 << 20, &["Eviction manager:"])
                    .unwrap();
                assert_eq!(l.len(), 1);
            },
        );
        let kept = b.read_string("/var/log/syslog").unwrap();
        assert_eq!(
            kept,
            "kubelet[9]: \"Eviction manager: attempting to reclaim\"\n"
        );
        assert_eq!(
            b.tail_lines("/var/log/syslog", 1 << 20, &["Eviction manager:"])
                .unwrap()
                .len(),
            1
        );
    }

    /// A node root with three processes calling themselves kubelet: 4242 runs a binary others
    /// may write, 4243 is gone by the time its executable is examined, 4244 is root's own.
    fn kubelet_claimants(r: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let stat = |pid: u32| {
            format!(
                "{pid} (kubelet) S 1 {pid} {pid} 0 -1 4194560 1523 0 12 0 845 311 0 0 20 0 18 0 2543 \
                 294912000 24000 18446744073709551615 1 1 0 0 0 0 0 0 0 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0"
            )
        };
        for pid in [4242, 4243, 4244] {
            let p = r.join(format!("proc/{pid}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("stat"), stat(pid)).unwrap();
            std::fs::write(
                p.join("cmdline"),
                format!("/usr/bin/kubelet\0--max-pods={pid}\0"),
            )
            .unwrap();
            std::fs::write(p.join("status"), "Name:\tkubelet\nUid:\t0\t0\t0\t0\n").unwrap();
            if pid != 4243 {
                std::fs::write(p.join("exe"), "ELF").unwrap();
            }
        }
        let mode = |pid: u32, m: u32| {
            std::fs::set_permissions(
                r.join(format!("proc/{pid}/exe")),
                std::fs::Permissions::from_mode(m),
            )
            .unwrap()
        };
        mode(4242, 0o777);
        mode(4244, 0o755);
    }

    #[test]
    fn a_replayed_capture_makes_the_same_trust_decisions() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the files of the fake root must be owned by root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        kubelet_claimants(&root);
        let live = crate::collect::snapshot(&LiveHost::new(&root).unwrap());
        let b = round_trip(kubelet_claimants, |h| {
            crate::collect::snapshot(h);
        });
        let replayed = crate::collect::snapshot(&b);
        let decisions = |s: &crate::model::Snapshot| {
            (
                s.kubelet.as_ref().map(|k| (k.pid, k.config.max_pods)),
                s.untrusted_daemons.clone(),
            )
        };
        assert_eq!(decisions(&live).0, Some((4244, 4244)));
        assert_eq!(
            decisions(&live)
                .1
                .iter()
                .map(|u| (u.pid, u.reason.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    4242,
                    "its executable (/proc/4242/exe) is writable by others (mode 0777)"
                ),
                (
                    4243,
                    "its executable (/proc/4243/exe) could not be examined: missing"
                )
            ]
        );
        assert_eq!(decisions(&replayed), decisions(&live));
        assert_eq!(
            replayed.processes.iter().map(|p| p.uid).collect::<Vec<_>>(),
            [Some(0); 3],
            "status is in the bundle"
        );
    }

    #[test]
    fn secrets_never_reach_the_bundle_and_sockets_become_empty_files() {
        let b = round_trip(
            |r| {
                std::fs::create_dir_all(r.join("proc/42")).unwrap();
                std::fs::write(
                    r.join("proc/42/cmdline"),
                    "app\0--token=abc123\0--db-password\0s3cret\0",
                )
                .unwrap();
                std::fs::create_dir_all(
                    r.join("run/containerd/io.containerd.runtime.v2.task/k8s.io/x"),
                )
                .unwrap();
                std::fs::write(
                    r.join("run/containerd/io.containerd.runtime.v2.task/k8s.io/x/config.json"),
                    r#"{"ociVersion":"1.1.0","process":{"env":["AWS_SECRET_ACCESS_KEY=zzz"]},"annotations":{"a":"b"}}"#,
                )
                .unwrap();
                std::fs::create_dir_all(r.join("var/lib/kubelet/device-plugins")).unwrap();
                std::os::unix::net::UnixListener::bind(
                    r.join("var/lib/kubelet/device-plugins/kubelet.sock"),
                )
                .unwrap();
            },
            |h| {
                h.read("/proc/42/cmdline").unwrap();
                h.read("/run/containerd/io.containerd.runtime.v2.task/k8s.io/x/config.json")
                    .unwrap();
                h.read_dir("/var/lib/kubelet/device-plugins").unwrap();
            },
        );
        let cmd = b.read_string("/proc/42/cmdline").unwrap();
        assert!(
            !cmd.contains("abc123") && !cmd.contains("s3cret"),
            "{cmd:?}"
        );
        let spec = b
            .read_string("/run/containerd/io.containerd.runtime.v2.task/k8s.io/x/config.json")
            .unwrap();
        assert!(
            !spec.contains("AWS_SECRET") && spec.contains("\"a\""),
            "{spec}"
        );
        assert_eq!(
            b.read("/var/lib/kubelet/device-plugins/kubelet.sock")
                .unwrap(),
            b""
        );
    }
}
