//! A host that counts what is asked of it, for tests: every file content it hands out (path
//! and bytes: `read` and `read_tail` are the only doors to a file's bytes, `tail_lines` goes
//! through `read_tail`), and how many links were read and stat calls made. Tests assert what
//! a collector costs with it, never how long it takes.

use super::journal::{JournalEntry, JournalQuery};
use super::{DirEntry, FdEntry, FileMeta, Host, HostResult, StatVfs, Walk, WalkLimits};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Counting<H> {
    inner: H,
    reads: Mutex<Vec<(String, usize)>>,
    links: AtomicUsize,
    stats: AtomicUsize,
}

impl<H: Host> Counting<H> {
    pub fn new(inner: H) -> Self {
        Counting {
            inner,
            reads: Mutex::default(),
            links: AtomicUsize::new(0),
            stats: AtomicUsize::new(0),
        }
    }

    /// Every file content handed out so far: (path, bytes).
    pub fn reads(&self) -> Vec<(String, usize)> {
        self.reads.lock().expect("not poisoned").clone()
    }

    /// (links read, stat calls) so far.
    pub fn calls(&self) -> (usize, usize) {
        (self.links.load(Relaxed), self.stats.load(Relaxed))
    }

    fn record(&self, path: &str, r: HostResult<Vec<u8>>) -> HostResult<Vec<u8>> {
        if let Ok(b) = &r {
            let mut reads = self.reads.lock().expect("not poisoned");
            reads.push((path.to_string(), b.len()));
        }
        r
    }
}

impl<H: Host> Host for Counting<H> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        self.record(path, self.inner.read(path))
    }
    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        self.inner.read_dir(path)
    }
    fn read_link(&self, path: &str) -> HostResult<String> {
        self.links.fetch_add(1, Relaxed);
        self.inner.read_link(path)
    }
    fn metadata(&self, path: &str) -> HostResult<FileMeta> {
        self.stats.fetch_add(1, Relaxed);
        self.inner.metadata(path)
    }
    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        self.inner.statvfs(paths)
    }
    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        self.inner.deleted_files(pids)
    }
    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        self.inner.walk(path, limits)
    }
    fn kmsg(&self) -> HostResult<Vec<String>> {
        self.inner.kmsg()
    }
    fn journal(&self, q: &JournalQuery) -> HostResult<Vec<JournalEntry>> {
        self.inner.journal(q)
    }
    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        self.record(path, self.inner.read_tail(path, max_bytes))
    }
    fn now(&self) -> jiff::Timestamp {
        self.inner.now()
    }
    fn euid(&self) -> u32 {
        self.inner.euid()
    }
}
