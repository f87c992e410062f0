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
use anyhow::Context;
use std::collections::BTreeMap;
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
                self.with_state(|s| {
                    s.entries.insert(normalize(path), Rec::File(kept));
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

    /// Writes the bundle as a gzip-compressed tar with one top directory named after the file.
    /// Returns (entries, bytes of file content).
    pub fn write_bundle(
        &self,
        out: &Path,
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
            findings,
        };
        let top = bundle_dir_name(out);
        let tmp = out.with_extension("partial");
        let f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(f),
            flate2::Compression::default(),
        );
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
        for (p, rec) in &st.entries {
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
        let n = st.entries.len() + 1;
        let gz = tar.into_inner()?;
        let mut w = gz.finish()?;
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, out)
            .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
        Ok((n, bytes))
    }
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
            Err(e) => self.record_error(e, &format!("metadata:{path}")),
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
