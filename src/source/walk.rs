//! Bounded directory walks: what `du -sx` would say about a tree, plus the largest files and
//! the directories with the most entries, within a time budget. The disk collector uses them
//! to attribute bytes and inodes to what Kubernetes put there (pod logs, emptyDirs, the image
//! store) without ever letting a million-file tree or a hung mount stall a run.
//!
//! The live walk is parallel (the `ignore` crate's walker, which ripgrep uses): on a node the
//! cost is one `lstat` per entry, served from the dentry cache, and two threads halve it.

use super::{HostError, HostResult};
pub use crate::model::fs::{DirCount, SizedPath, Walk};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far one walk may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    /// Wall time for the whole walk; past it the walk stops and says it is incomplete.
    pub budget: Duration,
    /// How many of the largest files and densest directories to keep.
    pub top: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            budget: Duration::from_secs(2),
            top: 10,
        }
    }
}

/// Per-thread tallies, merged when the walk ends.
#[derive(Default)]
struct Tally {
    bytes: u64,
    apparent: u64,
    files: u64,
    dirs: u64,
    unreadable: u64,
    /// Min-heap of the largest files (by size, then path for a stable order).
    largest: BinaryHeap<std::cmp::Reverse<(u64, PathBuf)>>,
    entries_per_dir: HashMap<PathBuf, u64>,
    /// Inodes with more than one link, so a hard-linked file counts once (per thread; the
    /// merge removes the rest).
    linked: HashSet<(u64, u64)>,
    linked_sizes: HashMap<(u64, u64), u64>,
}

impl Tally {
    fn keep_largest(&mut self, size: u64, path: PathBuf, top: usize) {
        if top == 0 {
            return;
        }
        if self.largest.len() < top {
            self.largest.push(std::cmp::Reverse((size, path)));
        } else if let Some(std::cmp::Reverse((min, _))) = self.largest.peek()
            && size > *min
        {
            self.largest.pop();
            self.largest.push(std::cmp::Reverse((size, path)));
        }
    }
}

/// What a walk of a single file (or link) finds: its own size.
pub fn walk_one_file(host_path: &str, blocks: u64, len: u64, top: usize) -> Walk {
    let mut w = Walk {
        path: host_path.to_string(),
        bytes: blocks * 512,
        apparent_bytes: len,
        files: 1,
        complete: true,
        ..Walk::default()
    };
    if top > 0 {
        w.largest_files.push(SizedPath {
            path: host_path.to_string(),
            bytes: len,
        });
    }
    w
}

/// Walks the directory `dir` in parallel within `limits`. `dir` is the path the kernel is
/// given (the live host passes `/proc/self/fd/<n>/.`, a directory it resolved inside the
/// root); reports name `host_path` and the entries under it. The caller bounds the walk
/// against a filesystem that stops answering (the live host runs it on a helper it can
/// abandon); the walk stops itself at `limits.budget`.
pub fn walk_live(dir: &Path, host_path: &str, limits: WalkLimits) -> HostResult<Walk> {
    let meta = std::fs::metadata(dir).map_err(|e| HostError::from_io(host_path, &e))?;
    if !meta.is_dir() {
        return Ok(walk_one_file(
            host_path,
            meta.blocks(),
            meta.len(),
            limits.top,
        ));
    }
    let deadline = Instant::now() + limits.budget;
    let out_of_time = Arc::new(AtomicBool::new(false));
    let tallies: Arc<Mutex<Vec<Tally>>> = Arc::new(Mutex::new(Vec::new()));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .same_file_system(true)
        .threads(threads)
        .build_parallel();
    let top = limits.top;
    walker.run(|| {
        let mut guard = TallyGuard {
            tally: Tally::default(),
            sink: Arc::clone(&tallies),
        };
        let out_of_time = Arc::clone(&out_of_time);
        Box::new(move |entry| visit(&mut guard.tally, entry, top, deadline, &out_of_time))
    });
    let parts = std::mem::take(&mut *tallies.lock().unwrap_or_else(|p| p.into_inner()));
    let mut w = merge(parts, dir, host_path, top);
    w.path = host_path.to_string();
    w.complete = !out_of_time.load(Ordering::Relaxed) && w.unreadable == 0;
    Ok(w)
}

/// Walks a small tree on the calling thread: no thread pool to start, which is what dominates
/// the cost of walking a pod's log directory of a few files. Same filesystem only (`du -x`),
/// never follows links, stops at `limits.budget`. `dir` and `host_path` as in [`walk_live`];
/// callers bound it against hangs by running it on a worker they can abandon.
pub fn walk_sequential(dir: &Path, host_path: &str, limits: WalkLimits) -> HostResult<Walk> {
    let meta = std::fs::metadata(dir).map_err(|e| HostError::from_io(host_path, &e))?;
    if !meta.is_dir() {
        return Ok(walk_one_file(
            host_path,
            meta.blocks(),
            meta.len(),
            limits.top,
        ));
    }
    let deadline = Instant::now() + limits.budget;
    let dev = meta.dev();
    let mut t = Tally {
        dirs: 1,
        bytes: meta.blocks() * 512,
        ..Tally::default()
    };
    let mut out_of_time = false;
    let mut stack = vec![dir.to_path_buf()];
    'walk: while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            t.unreadable += 1;
            continue;
        };
        let mut entries = 0u64;
        for e in rd {
            if Instant::now() >= deadline {
                out_of_time = true;
                break 'walk;
            }
            let Ok(e) = e else {
                t.unreadable += 1;
                continue;
            };
            entries += 1;
            let Ok(m) = e.metadata() else {
                t.unreadable += 1;
                continue;
            };
            if m.is_dir() {
                if m.dev() == dev {
                    t.dirs += 1;
                    t.bytes += m.blocks() * 512;
                    stack.push(e.path());
                }
                continue;
            }
            if m.nlink() > 1 && !t.linked.insert((m.dev(), m.ino())) {
                continue;
            }
            t.files += 1;
            t.bytes += m.blocks() * 512;
            t.apparent += m.len();
            if m.is_file() {
                t.keep_largest(m.len(), e.path(), limits.top);
            }
        }
        if limits.top > 0 && entries > 0 {
            t.entries_per_dir.insert(d, entries);
        }
    }
    let unreadable = t.unreadable;
    let mut w = merge(vec![t], dir, host_path, limits.top);
    w.path = host_path.to_string();
    w.complete = !out_of_time && unreadable == 0;
    Ok(w)
}

/// Hands a thread's tally over when its visitor is dropped at the end of the walk.
struct TallyGuard {
    tally: Tally,
    sink: Arc<Mutex<Vec<Tally>>>,
}

impl Drop for TallyGuard {
    fn drop(&mut self) {
        let t = std::mem::take(&mut self.tally);
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).push(t);
    }
}

fn visit(
    t: &mut Tally,
    entry: Result<ignore::DirEntry, ignore::Error>,
    top: usize,
    deadline: Instant,
    out_of_time: &AtomicBool,
) -> ignore::WalkState {
    if Instant::now() >= deadline {
        out_of_time.store(true, Ordering::Relaxed);
        return ignore::WalkState::Quit;
    }
    let Ok(entry) = entry else {
        t.unreadable += 1;
        return ignore::WalkState::Continue;
    };
    if entry.depth() > 0
        && let Some(parent) = entry.path().parent()
        && top > 0
    {
        *t.entries_per_dir.entry(parent.to_path_buf()).or_default() += 1;
    }
    let Ok(meta) = entry.metadata() else {
        t.unreadable += 1;
        return ignore::WalkState::Continue;
    };
    let allocated = meta.blocks() * 512;
    if meta.is_dir() {
        t.dirs += 1;
        t.bytes += allocated;
        return ignore::WalkState::Continue;
    }
    if meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if !t.linked.insert(key) {
            return ignore::WalkState::Continue;
        }
        t.linked_sizes.insert(key, allocated);
    }
    t.files += 1;
    t.bytes += allocated;
    t.apparent += meta.len();
    if meta.is_file() {
        t.keep_largest(meta.len(), entry.into_path(), top);
    }
    ignore::WalkState::Continue
}

/// The tallies of a walk of `dir` as one [`Walk`], paths shown under `host_path`.
fn merge(parts: Vec<Tally>, dir: &Path, host_path: &str, top: usize) -> Walk {
    let mut w = Walk::default();
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut largest: Vec<(u64, PathBuf)> = Vec::new();
    let mut per_dir: HashMap<PathBuf, u64> = HashMap::new();
    for t in parts {
        w.bytes += t.bytes;
        w.apparent_bytes += t.apparent;
        w.files += t.files;
        w.dirs += t.dirs;
        w.unreadable += t.unreadable;
        for key in t.linked {
            // The same inode counted by two threads: take one copy back out.
            if !seen.insert(key) {
                w.bytes = w
                    .bytes
                    .saturating_sub(t.linked_sizes.get(&key).copied().unwrap_or(0));
                w.files = w.files.saturating_sub(1);
            }
        }
        largest.extend(t.largest.into_iter().map(|r| r.0));
        for (d, n) in t.entries_per_dir {
            *per_dir.entry(d).or_default() += n;
        }
    }
    let shown = |p: &Path| -> String {
        match p.strip_prefix(dir) {
            Ok(rel) if rel.as_os_str().is_empty() => host_path.to_string(),
            Ok(rel) => super::join(host_path, &rel.to_string_lossy()),
            Err(_) => p.to_string_lossy().into_owned(),
        }
    };
    largest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    largest.dedup_by(|a, b| a.1 == b.1);
    w.largest_files = largest
        .into_iter()
        .take(top)
        .map(|(bytes, p)| SizedPath {
            path: shown(&p),
            bytes,
        })
        .collect();
    let mut dirs: Vec<(u64, PathBuf)> = per_dir.into_iter().map(|(d, n)| (n, d)).collect();
    dirs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    w.densest_dirs = dirs
        .into_iter()
        .take(top)
        .map(|(entries, p)| DirCount {
            path: shown(&p),
            entries,
        })
        .collect();
    w
}

/// The same summary over an in-memory tree (a bundle's files): `files` maps each host path
/// under the walked root to its size, `dirs` lists the directories (the root included).
/// Allocated bytes are the sizes rounded up to 4 KiB blocks, as on ext4 and xfs.
pub fn walk_listing(path: &str, files: &[(String, u64)], dirs: &[String], top: usize) -> Walk {
    let mut w = Walk {
        path: path.to_string(),
        complete: true,
        dirs: dirs.len() as u64,
        files: files.len() as u64,
        ..Walk::default()
    };
    let mut per_dir: HashMap<&str, u64> = HashMap::new();
    let parent = |p: &'_ str| -> Option<String> { p.rfind('/').map(|i| p[..i.max(1)].to_string()) };
    let parents: Vec<String> = files
        .iter()
        .map(|(p, _)| p.as_str())
        .chain(dirs.iter().map(String::as_str).filter(|d| *d != path))
        .filter_map(parent)
        .collect();
    for p in &parents {
        *per_dir.entry(p.as_str()).or_default() += 1;
    }
    for (_, size) in files {
        w.apparent_bytes += size;
        w.bytes += size.div_ceil(4096) * 4096;
    }
    w.bytes += 4096 * w.dirs;
    let mut largest: Vec<&(String, u64)> = files.iter().collect();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    w.largest_files = largest
        .into_iter()
        .take(top)
        .map(|(p, b)| SizedPath {
            path: p.clone(),
            bytes: *b,
        })
        .collect();
    let mut dense: Vec<(&str, u64)> = per_dir.into_iter().collect();
    dense.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    w.densest_dirs = dense
        .into_iter()
        .take(top)
        .map(|(p, n)| DirCount {
            path: p.to_string(),
            entries: n,
        })
        .collect();
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ErrorKind;

    #[test]
    fn live_walk_counts_files_bytes_and_dense_directories_like_du() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        std::fs::create_dir_all(root.join("t/many")).expect("mkdir");
        for i in 0..50 {
            std::fs::write(root.join(format!("t/many/f{i}")), b"x").expect("write");
        }
        std::fs::write(root.join("t/big"), vec![7u8; 100_000]).expect("write");
        std::fs::hard_link(root.join("t/big"), root.join("t/big-link")).expect("link");
        let w = walk_live(&root.join("t"), "/t", WalkLimits::default()).expect("walk");
        assert!(w.complete);
        assert_eq!(w.files, 51, "the hard link is one inode");
        assert_eq!(w.dirs, 2);
        // The hard link is one inode: its blocks count once, as du counts them.
        let du_like = 100_000u64.div_ceil(4096) * 4096;
        assert!(
            w.bytes >= du_like && w.bytes < du_like + 60 * 4096,
            "{}",
            w.bytes
        );
        assert_eq!(w.largest_files[0].bytes, 100_000);
        assert_eq!(w.densest_dirs[0].path, "/t/many");
        assert_eq!(w.densest_dirs[0].entries, 50);
    }

    #[test]
    fn the_sequential_walk_agrees_with_the_parallel_one() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        for sub in ["a/b", "a/c", "d"] {
            std::fs::create_dir_all(root.join("t").join(sub)).expect("mkdir");
        }
        for (i, sub) in ["a/b", "a/b", "a/c", "d", "d", "d"].iter().enumerate() {
            std::fs::write(
                root.join("t").join(sub).join(format!("f{i}")),
                vec![1u8; 1000 * i],
            )
            .expect("write");
        }
        let p = walk_live(&root.join("t"), "/t", WalkLimits::default()).expect("walk");
        let s = walk_sequential(&root.join("t"), "/t", WalkLimits::default()).expect("walk");
        assert_eq!(
            (s.files, s.dirs, s.bytes, s.apparent_bytes),
            (p.files, p.dirs, p.bytes, p.apparent_bytes)
        );
        assert_eq!(s.largest_files, p.largest_files);
        assert_eq!(s.densest_dirs, p.densest_dirs);
        assert!(s.complete);
    }

    #[test]
    fn a_single_file_walks_to_its_own_size_and_a_missing_path_is_an_error() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("log"), vec![1u8; 5000]).expect("write");
        let w = walk_live(&d.path().join("log"), "/log", WalkLimits::default()).expect("walk");
        assert_eq!((w.files, w.apparent_bytes), (1, 5000));
        let e =
            walk_live(&d.path().join("nope"), "/nope", WalkLimits::default()).expect_err("missing");
        assert_eq!(e.kind, ErrorKind::Missing);
    }

    #[test]
    fn a_zero_budget_stops_at_once_and_says_so() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("t")).expect("mkdir");
        std::fs::write(d.path().join("t/a"), b"a").expect("write");
        let w = walk_live(
            &d.path().join("t"),
            "/t",
            WalkLimits {
                budget: Duration::ZERO,
                top: 3,
            },
        )
        .expect("walk");
        assert!(!w.complete);
    }

    #[test]
    fn listing_walk_rounds_to_blocks_and_ranks() {
        let files = vec![
            ("/v/a/1".to_string(), 10),
            ("/v/a/2".to_string(), 5000),
            ("/v/b".to_string(), 0),
        ];
        let dirs = vec!["/v".to_string(), "/v/a".to_string()];
        let w = walk_listing("/v", &files, &dirs, 5);
        assert_eq!((w.files, w.dirs, w.apparent_bytes), (3, 2, 5010));
        assert_eq!(w.bytes, 4096 + 8192 + 2 * 4096);
        assert_eq!(w.largest_files[0].path, "/v/a/2");
        assert_eq!(w.densest_dirs[0].entries, 2);
    }
}
