//! The running machine, seen under a root prefix: `/` over SSH, `/host` inside a
//! `kubectl debug node/...` pod (the node's root is mounted there and its PID namespace is
//! shared, so `/host/proc` is the node's procfs).
//!
//! Read-only by construction: files are opened `O_RDONLY`, nothing is created, and
//! `/proc/<pid>/environ` is refused outright because environments hold secrets.

use super::{
    DirEntry, EntryKind, ErrorKind, Host, HostError, HostResult, STATVFS_DEADLINE, StatVfs,
};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Upper bound on one file read. Kernel pseudo-files are small; a runaway log is not ours to slurp.
pub const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Total time all statvfs calls of one snapshot may take, however many mounts are stuck.
const STATVFS_BUDGET: Duration = Duration::from_secs(5);

/// The live machine under `root`.
#[derive(Debug, Clone)]
pub struct LiveHost {
    root: PathBuf,
}

impl LiveHost {
    /// A host rooted at `root`. Fails when `root` is not a directory holding a procfs-like
    /// `proc/` (so a typo in `--root` is an error, not an empty report).
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        let meta =
            fs::metadata(root).map_err(|e| anyhow::anyhow!("--root {}: {e}", root.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("--root {}: not a directory", root.display());
        }
        if !root.join("proc").is_dir() {
            anyhow::bail!(
                "--root {}: not a host root (no proc/ directory; expected the node's / or /host)",
                root.display()
            );
        }
        Ok(LiveHost {
            root: root.to_path_buf(),
        })
    }

    /// The root prefix this host reads under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

fn is_environ(path: &str) -> bool {
    path.ends_with("/environ")
}

impl Host for LiveHost {
    fn describe(&self) -> String {
        format!("live host at {}", self.root.display())
    }

    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        if is_environ(path) {
            return Err(HostError::new(
                ErrorKind::Denied,
                path,
                "nodescope never reads process environments",
            ));
        }
        let file = fs::File::open(self.full(path)).map_err(|e| HostError::from_io(path, &e))?;
        let mut buf = Vec::new();
        file.take(MAX_READ_BYTES)
            .read_to_end(&mut buf)
            .map_err(|e| HostError::from_io(path, &e))?;
        Ok(buf)
    }

    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        let rd = fs::read_dir(self.full(path)).map_err(|e| HostError::from_io(path, &e))?;
        let mut out = Vec::new();
        for entry in rd {
            // An entry vanishing mid-listing (a process exiting) is normal churn, not an error.
            let Ok(entry) = entry else { continue };
            let Ok(ft) = entry.file_type() else { continue };
            let kind = if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_file() {
                EntryKind::File
            } else if ft.is_socket() || ft.is_fifo() || ft.is_char_device() || ft.is_block_device()
            {
                EntryKind::Special
            } else {
                EntryKind::File
            };
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read_link(&self, path: &str) -> HostResult<String> {
        fs::read_link(self.full(path))
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| {
                // EINVAL: the path is there but is no link, as a bundle says it.
                if e.raw_os_error() == Some(nix::libc::EINVAL) {
                    HostError::new(ErrorKind::Invalid, path, "not a symbolic link")
                } else {
                    HostError::from_io(path, &e)
                }
            })
    }

    fn metadata(&self, path: &str) -> HostResult<super::FileMeta> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(self.full(path)).map_err(|e| HostError::from_io(path, &e))?;
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else {
            EntryKind::Special
        };
        Ok(super::FileMeta {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
            kind,
            size: m.size(),
        })
    }

    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        statvfs_bounded(&self.root, paths, STATVFS_DEADLINE, STATVFS_BUDGET)
    }

    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<super::FdEntry>>> {
        let paths: Vec<String> = pids.iter().map(|p| format!("/proc/{p}")).collect();
        bounded_calls(
            "reading open files",
            &self.root,
            &paths,
            STATVFS_DEADLINE,
            STATVFS_BUDGET,
            deleted_fds,
        )
    }

    fn walk(&self, path: &str, limits: super::WalkLimits) -> HostResult<super::Walk> {
        super::walk::walk_live(&self.root, path, limits)
    }

    fn walk_each(
        &self,
        paths: &[String],
        limits: super::WalkLimits,
        total: Duration,
    ) -> Vec<HostResult<super::Walk>> {
        // One worker walks them in turn (small trees: a thread pool per walk would cost more
        // than the walk); a walk stuck in the kernel is abandoned at its deadline, as statvfs.
        let root = self.root.clone();
        bounded_calls(
            "the walk",
            &self.root,
            paths,
            limits.budget + Duration::from_millis(250),
            total,
            move |p: &str, _full: &Path| super::walk::walk_sequential(&root, p, limits),
        )
    }

    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        Some(super::nvml::query(self))
    }

    fn cri(&self, endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        Some(super::cri::query(&self.root, endpoints))
    }

    fn kmsg(&self) -> HostResult<Vec<String>> {
        // The kernel log is global: under /host, prefer the node's /dev, else our own.
        let mut candidates = vec![self.full("/dev/kmsg")];
        if self.root != Path::new("/") {
            candidates.push(PathBuf::from("/dev/kmsg"));
        }
        let mut last = HostError::new(ErrorKind::Missing, "/dev/kmsg", "");
        for c in candidates {
            match read_kmsg(&c) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn journal(
        &self,
        q: &super::journal::JournalQuery,
    ) -> HostResult<Vec<super::journal::JournalEntry>> {
        super::journal::read_live(&self.root, q)
    }

    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let mut f = fs::File::open(self.full(path)).map_err(|e| HostError::from_io(path, &e))?;
        let len = f
            .metadata()
            .map_err(|e| HostError::from_io(path, &e))?
            .len();
        if len > max_bytes {
            f.seek(SeekFrom::Start(len - max_bytes))
                .map_err(|e| HostError::from_io(path, &e))?;
        }
        let mut buf = Vec::new();
        f.take(max_bytes.min(MAX_READ_BYTES))
            .read_to_end(&mut buf)
            .map_err(|e| HostError::from_io(path, &e))?;
        Ok(buf)
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn clock(&self) -> Option<crate::model::health::ClockState> {
        read_clock()
    }

    fn euid(&self) -> u32 {
        nix::unistd::geteuid().as_raw()
    }
}

/// The kernel clock through adjtimex(2) with `modes = 0`, which only reads (kernel/time/
/// ntp.c `__do_adjtimex`; no capability needed). The clock is global: under `/host` it is
/// still the node's. Neither nix nor rustix wraps adjtimex; rtime-clock's safe wrapper is the
/// one call made.
fn read_clock() -> Option<crate::model::health::ClockState> {
    let mut tx = rtime_clock::adjtime::Timex::new();
    tx.0.modes = 0;
    let state = rtime_clock::adjtime::adjtimex(&mut tx).ok()?;
    Some(crate::model::health::ClockState {
        state,
        status: tx.0.status,
        maxerror_usec: tx.0.maxerror,
        esterror_usec: tx.0.esterror,
    })
}

/// Reads every record in the kernel ring without blocking: /dev/kmsg opened `O_NONBLOCK`
/// returns one record per read(2) and EAGAIN at the end (Documentation/ABI/testing/dev-kmsg).
/// EPIPE means the ring overwrote the record we were about to read; reading on continues
/// with the oldest one still there.
fn read_kmsg(path: &Path) -> HostResult<Vec<String>> {
    let p = "/dev/kmsg";
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| HostError::from_io(p, &e))?;
    let mut out = Vec::new();
    // A record is at most CONSOLE_EXT_LOG_MAX (8 KiB) including its dictionary lines.
    let mut buf = vec![0u8; 16 * 1024];
    // Bound the loop even if the kernel logs faster than we read.
    for _ in 0..1_000_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = &buf[..n];
                // Keep the first line: "prio,seq,usec,flags;message". Dictionary lines
                // (" SUBSYSTEM=...") follow after '\n' and are not needed.
                let first = rec.split(|&b| b == b'\n').next().unwrap_or(rec);
                out.push(String::from_utf8_lossy(first).into_owned());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => continue,
            Err(e) => return Err(HostError::from_io(p, &e)),
        }
    }
    Ok(out)
}

/// Runs statvfs(2) for each path on a worker thread and waits at most `deadline` for each
/// and `budget` for all. A call that does not return in time is reported as stuck and its
/// worker abandoned (it is blocked in the kernel; it ends with the process); the remaining
/// paths go to a fresh worker, so one dead NFS mount costs one deadline, not the run.
pub fn statvfs_bounded(
    root: &Path,
    paths: &[String],
    deadline: Duration,
    budget: Duration,
) -> Vec<HostResult<StatVfs>> {
    bounded_calls("statvfs", root, paths, deadline, budget, sys_statvfs)
}

/// The deleted files a process holds open: `/proc/<pid>/fd/*` links ending in ` (deleted)`,
/// sized by stat through the fd link (which reaches the open inode, not the gone name).
fn deleted_fds(path: &str, full: &Path) -> HostResult<Vec<super::FdEntry>> {
    let fd_dir = full.join("fd");
    let rd = fs::read_dir(&fd_dir).map_err(|e| HostError::from_io(&format!("{path}/fd"), &e))?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if !super::is_deleted_file(&target) {
            continue;
        }
        let size = fs::metadata(entry.path()).ok().map(|m| m.len());
        out.push(super::FdEntry { fd, target, size });
    }
    out.sort_by_key(|e| e.fd);
    Ok(out)
}

/// statvfs(2) through nix, in the kernel's units.
fn sys_statvfs(path: &str, full: &Path) -> HostResult<StatVfs> {
    nix::sys::statvfs::statvfs(full)
        .map(|s| StatVfs {
            bsize: s.block_size(),
            frsize: s.fragment_size(),
            blocks: s.blocks(),
            bfree: s.blocks_free(),
            bavail: s.blocks_available(),
            files: s.files(),
            ffree: s.files_free(),
            favail: s.files_available(),
        })
        .map_err(|e| HostError::from_io(path, &std::io::Error::from_raw_os_error(e as i32)))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the workers of [`bounded_calls`] share with the waiting thread.
struct Progress<T> {
    results: Vec<Option<HostResult<T>>>,
    /// The first index without a result.
    next: usize,
    last_progress: std::time::Instant,
    /// Bumped when a worker is abandoned: a stale worker's late results are dropped.
    generation: u64,
    finished: bool,
}

/// The deadline machinery of [`statvfs_bounded`], over any call (tests pass one that hangs).
///
/// One worker thread makes the calls in order and records each result in shared state; the
/// caller sleeps on a condition variable and is woken once, when all are done (not once per
/// call: a thousand small calls would otherwise cost a thousand context switches). If no call
/// completes within `deadline`, the one in progress is reported stuck and its worker abandoned
/// (it is blocked in the kernel; it ends with the process); a fresh worker takes the rest, so
/// one dead mount costs one deadline, not the run. `budget` bounds the whole pass.
fn bounded_calls<T, F>(
    what: &str,
    root: &Path,
    paths: &[String],
    deadline: Duration,
    budget: Duration,
    call: F,
) -> Vec<HostResult<T>>
where
    T: Send + Clone + 'static,
    F: Fn(&str, &Path) -> HostResult<T> + Send + Sync + Clone + 'static,
{
    use std::sync::{Arc, Condvar, Mutex};
    let started = std::time::Instant::now();
    let shared = Arc::new((
        Mutex::new(Progress {
            results: vec![None; paths.len()],
            next: 0,
            last_progress: started,
            generation: 0,
            finished: paths.is_empty(),
        }),
        Condvar::new(),
    ));
    let spawn = |from: usize, generation: u64| -> bool {
        let jobs: Vec<(usize, String, PathBuf)> = paths[from..]
            .iter()
            .enumerate()
            .map(|(i, p)| (from + i, p.clone(), root.join(p.trim_start_matches('/'))))
            .collect();
        let call = call.clone();
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("nodescope-bounded".into())
            .spawn(move || {
                let (m, cv) = &*shared;
                let total = jobs.len() + from;
                for (i, p, full) in jobs {
                    let r = call(&p, &full);
                    let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
                    if st.generation != generation {
                        return; // abandoned: the caller has moved on
                    }
                    st.results[i] = Some(r);
                    st.next = i + 1;
                    st.last_progress = std::time::Instant::now();
                    if i + 1 == total {
                        st.finished = true;
                        cv.notify_all();
                    }
                }
            })
            .is_ok()
    };
    if !paths.is_empty() && !spawn(0, 0) {
        return paths
            .iter()
            .map(|p| {
                Err(HostError::new(
                    ErrorKind::Io,
                    p,
                    "could not start a worker thread",
                ))
            })
            .collect();
    }
    let (m, cv) = &*shared;
    let mut st = lock(m);
    loop {
        if st.finished {
            break;
        }
        let now = std::time::Instant::now();
        let left = budget.saturating_sub(started.elapsed());
        let since = now.saturating_duration_since(st.last_progress);
        if left.is_zero() {
            st.generation += 1;
            let from = st.next;
            for (i, p) in paths.iter().enumerate().skip(from) {
                st.results[i] = Some(Err(HostError::new(
                    ErrorKind::Timeout,
                    p,
                    format!("{what} budget for this snapshot exhausted"),
                )));
            }
            break;
        }
        if since >= deadline {
            // The call at `next` is stuck in the kernel: report it, abandon its worker, and
            // go on with a fresh one from the one after.
            let stuck = st.next;
            st.results[stuck] = Some(Err(HostError::new(
                ErrorKind::Timeout,
                &paths[stuck],
                format!(
                    "{what} did not return within {} ms (a hung network or FUSE mount?)",
                    deadline.as_millis()
                ),
            )));
            st.generation += 1;
            st.next = stuck + 1;
            st.last_progress = now;
            if st.next == paths.len() {
                break;
            }
            let (from, generation) = (st.next, st.generation);
            drop(st);
            let ok = spawn(from, generation);
            st = lock(m);
            if !ok {
                for (i, p) in paths.iter().enumerate().skip(from) {
                    st.results[i] = Some(Err(HostError::new(
                        ErrorKind::Io,
                        p,
                        "could not start a worker thread",
                    )));
                }
                break;
            }
            continue;
        }
        let wait = (deadline - since).min(left);
        st = cv
            .wait_timeout(st, wait)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
    let results = std::mem::take(&mut st.results);
    drop(st);
    results
        .into_iter()
        .zip(paths)
        .map(|(r, p)| r.unwrap_or_else(|| Err(HostError::new(ErrorKind::Io, p, "no answer"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_root_without_proc() {
        let dir = tempfile::tempdir().unwrap();
        let err = LiveHost::new(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a host root"), "{err}");
        let err = LiveHost::new(Path::new("/nonexistent-nodescope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("No such file"), "{err}");
    }

    #[test]
    fn reads_under_the_root_and_refuses_environ() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        fs::write(dir.path().join("proc/1/comm"), "systemd\n").unwrap();
        fs::write(dir.path().join("proc/1/environ"), "TOKEN=x").unwrap();
        let h = LiveHost::new(dir.path()).unwrap();
        assert_eq!(h.read_string("/proc/1/comm").unwrap(), "systemd\n");
        assert_eq!(
            h.read("/proc/1/environ").unwrap_err().kind,
            ErrorKind::Denied
        );
        assert_eq!(h.read("/proc/2/comm").unwrap_err().kind, ErrorKind::Missing);
        let names: Vec<_> = h
            .read_dir("/proc/1")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["comm", "environ"]);
    }

    #[test]
    fn statvfs_of_a_missing_path_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let r = statvfs_bounded(
            dir.path(),
            &["/nonexistent-nodescope-x".to_string(), "/".to_string()],
            Duration::from_secs(2),
            Duration::from_secs(5),
        );
        assert_eq!(r[0].as_ref().unwrap_err().kind, ErrorKind::Missing);
        assert!(r[1].as_ref().unwrap().blocks > 0);
    }

    #[test]
    fn a_hung_call_is_reported_stuck_and_the_rest_still_answer() {
        // "/hang" blocks far longer than the deadline, like statvfs on a dead NFS server.
        let call = |p: &str, _: &Path| -> HostResult<u32> {
            if p == "/hang" {
                std::thread::sleep(Duration::from_secs(30));
            }
            Ok(p.len() as u32)
        };
        let paths: Vec<String> = ["/a", "/hang", "/bb", "/hang", "/ccc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let started = std::time::Instant::now();
        let r = bounded_calls(
            "statvfs",
            Path::new("/"),
            &paths,
            Duration::from_millis(100),
            Duration::from_secs(10),
            call,
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never waits for a hung call"
        );
        assert_eq!(r[0].as_ref().unwrap(), &2);
        assert_eq!(r[1].as_ref().unwrap_err().kind, ErrorKind::Timeout);
        assert!(
            r[1].as_ref()
                .unwrap_err()
                .detail
                .contains("did not return within 100 ms")
        );
        assert_eq!(r[2].as_ref().unwrap(), &3);
        assert_eq!(r[3].as_ref().unwrap_err().kind, ErrorKind::Timeout);
        assert_eq!(r[4].as_ref().unwrap(), &4);
    }

    #[test]
    fn the_budget_bounds_the_whole_pass() {
        let call = |_: &str, _: &Path| -> HostResult<u32> {
            std::thread::sleep(Duration::from_secs(30));
            Ok(0)
        };
        let paths: Vec<String> = (0..50).map(|i| format!("/m{i}")).collect();
        let started = std::time::Instant::now();
        let r = bounded_calls(
            "statvfs",
            Path::new("/"),
            &paths,
            Duration::from_millis(50),
            Duration::from_millis(300),
            call,
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(
            r.iter()
                .all(|x| x.as_ref().unwrap_err().kind == ErrorKind::Timeout)
        );
        assert!(r[49].as_ref().unwrap_err().detail.contains("budget"));
    }
}
