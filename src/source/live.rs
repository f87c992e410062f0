//! The running machine, seen under a root prefix: `/` over SSH, `/host` inside a
//! `kubectl debug node/...` pod (the node's root is mounted there and its PID namespace is
//! shared, so `/host/proc` is the node's procfs).
//!
//! Read-only, contained and bounded by construction (docs/security.md):
//! - every open goes through [`super::open`]: resolved inside `--root` (or inside the process
//!   root a `/proc/<pid>/root/...` path names), regular files only, size-capped; nothing is
//!   created, and `/proc/<pid>/environ` is refused outright because environments hold secrets;
//! - procfs and sysfs are read inline (they answer from memory, and they are the hot path of
//!   `top`); everything else — files, listings, links, statvfs, walks, the journal — runs on a
//!   helper with a deadline, and a mount that misses it is remembered as stuck by
//!   [`super::stuck`] and not asked again until its blocked call returns.

use super::open::{self, How, RootFs};
use super::stuck::{self, Key, Registry, Token};
use super::{
    DirEntry, EntryKind, ErrorKind, FdEntry, FileMeta, Host, HostError, HostResult,
    STATVFS_DEADLINE, StatVfs, Walk, WalkLimits,
};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, readlinkat};
use nix::sys::stat::{FileStat, SFlag, fstat, fstatat};
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Where `kubectl debug node/NAME` mounts the node's root in its pod.
pub const KUBECTL_DEBUG_ROOT: &str = "/host";

/// Where the node is when neither `--root` nor `NODESCOPE_ROOT` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedRoot {
    /// `/host/proc/meminfo` exists: a `kubectl debug node/...` pod with the node at `/host`.
    HostMount,
    /// nodescope runs in a Kubernetes pod (its own cgroup is under kubepods) without `/host`:
    /// what it sees is that container, not the node.
    PodWithoutHost,
    /// Neither: `/` is the node (SSH, a hostPID DaemonSet with the root mounted as `/`).
    Here,
}

/// Guesses where the node's root is from nodescope's own surroundings (the only reads outside
/// a root: whether `/host` holds a procfs, and nodescope's own `/proc/self/cgroup`).
pub fn detect_root() -> DetectedRoot {
    if std::path::Path::new(KUBECTL_DEBUG_ROOT)
        .join("proc/meminfo")
        .exists()
    {
        DetectedRoot::HostMount
    } else if std::fs::read_to_string("/proc/self/cgroup").is_ok_and(|c| c.contains("kubepods")) {
        DetectedRoot::PodWithoutHost
    } else {
        DetectedRoot::Here
    }
}

/// Upper bound on one tail read (a log; only its end is read).
pub const MAX_READ_BYTES: u64 = open::TAIL_CAP;

/// How long a read, listing, link read or stat of a file outside /proc and /sys may take
/// before its mount is declared stuck. Local disks answer in milliseconds even when busy.
pub const READ_DEADLINE: Duration = Duration::from_secs(2);

/// How long a tail read of a log may take: up to [`MAX_READ_BYTES`] from a cold disk.
pub const TAIL_DEADLINE: Duration = Duration::from_secs(5);

/// Total time all statvfs calls of one snapshot may take, however many mounts are stuck.
const STATVFS_BUDGET: Duration = Duration::from_secs(5);

/// The live machine under `root`.
#[derive(Debug, Clone)]
pub struct LiveHost {
    fs: Arc<RootFs>,
    mounts: Arc<MountKeys>,
}

impl LiveHost {
    /// A host rooted at `root`. Fails when `root` is not a directory holding a procfs-like
    /// `proc/` (so a typo in `--root` is an error, not an empty report).
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        let meta = std::fs::metadata(root)
            .map_err(|e| anyhow::anyhow!("--root {}: {e}", root.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("--root {}: not a directory", root.display());
        }
        if !root.join("proc").is_dir() {
            anyhow::bail!(
                "--root {}: not a host root (no proc/ directory; expected the node's / or /host)",
                root.display()
            );
        }
        let fs =
            RootFs::new(root).map_err(|e| anyhow::anyhow!("--root {}: {e}", root.display()))?;
        Ok(Self::from_fs(fs))
    }

    /// A host over an opened root (tests force the fallback resolver this way).
    pub fn from_fs(fs: RootFs) -> Self {
        let fs = Arc::new(fs);
        LiveHost {
            mounts: Arc::new(MountKeys {
                fs: Arc::clone(&fs),
                host: OnceLock::new(),
                processes: Mutex::new(HashMap::new()),
            }),
            fs,
        }
    }

    /// The root prefix this host reads under.
    pub fn root(&self) -> &Path {
        self.fs.path()
    }

    /// Runs `call` inline for a procfs/sysfs path, else on this thread's helper with a
    /// deadline, refused at once when the path's mount is stuck.
    fn io<T: Send + 'static>(
        &self,
        what: &str,
        path: &str,
        deadline: Duration,
        call: impl FnOnce(&RootFs, &str) -> HostResult<T> + Send + 'static,
    ) -> HostResult<T> {
        if self.fs.is_kernel(path) {
            return call(&self.fs, path);
        }
        let fs = Arc::clone(&self.fs);
        let p = path.to_string();
        stuck::run(
            stuck::global(),
            &format!("{what} {path}"),
            path,
            deadline,
            || self.mounts.key(path),
            move || call(&fs, &p),
        )
    }
}

impl LiveHost {
    /// statvfs of each path within `deadline` each and `budget` for all.
    fn statvfs_within(
        &self,
        paths: &[String],
        deadline: Duration,
        budget: Duration,
    ) -> Vec<HostResult<StatVfs>> {
        let fs = Arc::clone(&self.fs);
        let mounts = Arc::clone(&self.mounts);
        bounded_calls(
            stuck::global(),
            "statvfs",
            paths,
            deadline,
            budget,
            Arc::new(move |p: &str| mounts.key(p)),
            move |p: &str| sys_statvfs(&fs, p),
        )
    }
}

fn is_environ(path: &str) -> bool {
    path.ends_with("/environ")
}

impl Host for LiveHost {
    fn describe(&self) -> String {
        format!("live host at {}", self.root().display())
    }

    fn begin_sample(&self) {
        stuck::global().begin_sample();
    }

    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        if is_environ(path) {
            return Err(HostError::new(
                ErrorKind::Denied,
                path,
                "nodescope never reads process environments",
            ));
        }
        self.io("reading", path, READ_DEADLINE, open::read_file)
    }

    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        self.io("listing", path, READ_DEADLINE, list_dir)
    }

    fn read_link(&self, path: &str) -> HostResult<String> {
        self.io("reading the link", path, READ_DEADLINE, read_link)
    }

    fn metadata(&self, path: &str) -> HostResult<FileMeta> {
        self.io("stat of", path, READ_DEADLINE, metadata)
    }

    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        self.statvfs_within(paths, STATVFS_DEADLINE, STATVFS_BUDGET)
    }

    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        let paths: Vec<String> = pids.iter().map(|p| format!("/proc/{p}")).collect();
        let fs = Arc::clone(&self.fs);
        // Keyed by process: the fstat that hangs is of a file the process holds, on a mount
        // its fd links name only in its own mount namespace.
        bounded_calls(
            stuck::global(),
            "reading open files",
            &paths,
            STATVFS_DEADLINE,
            STATVFS_BUDGET,
            Arc::new(|p: &str| Key::path(p)),
            move |p: &str| deleted_fds(&fs, p),
        )
    }

    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        self.io(
            "the walk of",
            path,
            limits.budget + Duration::from_secs(1),
            move |fs, p| walk(fs, p, limits, super::walk::walk_live),
        )
    }

    fn walk_each(
        &self,
        paths: &[String],
        limits: WalkLimits,
        total: Duration,
    ) -> Vec<HostResult<Walk>> {
        // One worker walks them in turn (small trees: a thread pool per walk would cost more
        // than the walk); a walk stuck in the kernel is abandoned at its deadline, as statvfs.
        let fs = Arc::clone(&self.fs);
        let mounts = Arc::clone(&self.mounts);
        bounded_calls(
            stuck::global(),
            "the walk",
            paths,
            limits.budget + Duration::from_millis(250),
            total,
            Arc::new(move |p: &str| mounts.key(p)),
            move |p: &str| walk(&fs, p, limits, super::walk::walk_sequential),
        )
    }

    fn nvml(&self) -> Option<crate::model::gpu::Nvml> {
        Some(super::nvml::query(self))
    }

    fn cri(&self, endpoints: &[String]) -> Option<crate::model::disk::CriSnapshot> {
        Some(super::cri::query(self.root(), endpoints))
    }

    fn kmsg(&self) -> HostResult<Vec<String>> {
        // The kernel log is global: under /host, prefer the node's /dev, else our own.
        let mut last = match read_kmsg(&self.fs) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if self.root() != Path::new("/") {
            match RootFs::new(Path::new("/")) {
                Ok(own) => match read_kmsg(&own) {
                    Ok(v) => return Ok(v),
                    Err(e) => last = e,
                },
                Err(e) => last = HostError::from_io("/dev/kmsg", &e),
            }
        }
        Err(last)
    }

    fn journal(
        &self,
        q: &super::journal::JournalQuery,
    ) -> HostResult<Vec<super::journal::JournalEntry>> {
        let q = q.clone();
        let path = super::journal::JOURNAL_DIRS[0];
        self.io(
            "reading the journal in",
            path,
            super::journal::JOURNAL_DEADLINE,
            move |fs, _| super::journal::read_live(fs, &q),
        )
    }

    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        self.io("reading the end of", path, TAIL_DEADLINE, move |fs, p| {
            read_tail(fs, p, max_bytes)
        })
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

/// The last `max_bytes` (at most [`MAX_READ_BYTES`]) of a regular file.
fn read_tail(fs: &RootFs, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
    let mut r = open::open_regular(fs, path)?;
    let want = max_bytes.min(MAX_READ_BYTES);
    let len = u64::try_from(r.stat.st_size).unwrap_or(0);
    if len > want {
        r.file
            .seek(SeekFrom::Start(len - want))
            .map_err(|e| HostError::from_io(path, &e))?;
    }
    open::read_capped(r.file, len.min(want) + 1, want).map_err(|e| HostError::from_io(path, &e))
}

/// The entry kind of a stat.
fn entry_kind(st: &FileStat) -> EntryKind {
    let t = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if t == SFlag::S_IFDIR {
        EntryKind::Dir
    } else if t == SFlag::S_IFLNK {
        EntryKind::Symlink
    } else if t == SFlag::S_IFREG {
        EntryKind::File
    } else {
        EntryKind::Special
    }
}

/// The entries of a directory, sorted by name; `.` and `..` left out.
fn list_dir(fs: &RootFs, path: &str) -> HostResult<Vec<DirEntry>> {
    use nix::dir::{Dir, Type};
    let fd = fs.open(path, How::Dir).map_err(|e| open::error(path, e))?;
    // A second handle on the directory for fstatat, where the listing gives no type.
    let at = fd.try_clone().map_err(|e| HostError::from_io(path, &e))?;
    let mut dir = Dir::from_fd(fd).map_err(|e| open::error(path, e))?;
    let mut out = Vec::new();
    for entry in dir.iter() {
        // An entry vanishing mid-listing (a process exiting) is normal churn, not an error.
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            Some(Type::Directory) => EntryKind::Dir,
            Some(Type::Symlink) => EntryKind::Symlink,
            Some(Type::File) => EntryKind::File,
            Some(_) => EntryKind::Special,
            None => match fstatat(&at, entry.file_name(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => entry_kind(&st),
                Err(_) => continue,
            },
        };
        out.push(DirEntry { name, kind });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The target of the link `path`, read from its directory (the link itself is not followed;
/// a /proc magic link reads as its text, `net:[4026531840]`).
fn read_link(fs: &RootFs, path: &str) -> HostResult<String> {
    let (dir, name) = fs.parent(path).map_err(|e| open::error(path, e))?;
    let Some(name) = name else {
        return Err(open::error(path, Errno::EINVAL));
    };
    readlinkat(&dir, name.as_str())
        .map(|t| t.to_string_lossy().into_owned())
        .map_err(|e| match e {
            // The path is there but is no link, as a bundle says it.
            Errno::EINVAL => HostError::new(ErrorKind::Invalid, path, "not a symbolic link"),
            e => open::error(path, e),
        })
}

/// stat(2) of `path`, links followed inside the root. On procfs the last link is followed by
/// the kernel, magic included: `/proc/<pid>/exe` is the executable the process runs.
fn metadata(fs: &RootFs, path: &str) -> HostResult<FileMeta> {
    let err = |e| open::error(path, e);
    let (dir, name) = fs.parent(path).map_err(err)?;
    let on_proc = fstatfs(&dir).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC);
    let st = match name {
        None => fstat(&dir).map_err(err)?,
        Some(n) if on_proc => fstatat(&dir, n.as_str(), AtFlags::empty()).map_err(err)?,
        Some(_) => {
            let fd = fs.open(path, How::Path).map_err(err)?;
            fstat(&fd).map_err(err)?
        }
    };
    Ok(FileMeta {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode & 0o7777,
        kind: match entry_kind(&st) {
            EntryKind::Symlink => EntryKind::Special,
            k => k,
        },
        size: u64::try_from(st.st_size).unwrap_or(0),
    })
}

/// A walk of `path` resolved inside the root: a directory is walked through its fd
/// ([`open::fd_path`]), a file or link (not followed) is its own size.
fn walk(
    fs: &RootFs,
    path: &str,
    limits: WalkLimits,
    walker: fn(&Path, &str, WalkLimits) -> HostResult<Walk>,
) -> HostResult<Walk> {
    let fd = fs
        .open(path, How::PathNoFollow)
        .map_err(|e| open::error(path, e))?;
    let st = fstat(&fd).map_err(|e| open::error(path, e))?;
    if entry_kind(&st) != EntryKind::Dir {
        return Ok(super::walk::walk_one_file(
            path,
            u64::try_from(st.st_blocks).unwrap_or(0),
            u64::try_from(st.st_size).unwrap_or(0),
            limits.top,
        ));
    }
    walker(&open::fd_path(&fd), path, limits)
}

/// Reads every record in the kernel ring without blocking: /dev/kmsg opened `O_NONBLOCK`
/// returns one record per read(2) and EAGAIN at the end (Documentation/ABI/testing/dev-kmsg).
/// EPIPE means the ring overwrote the record we were about to read; reading on continues
/// with the oldest one still there. The device is checked to be the kernel log (char 1:11,
/// drivers/char/mem.c) before anything is read from it.
fn read_kmsg(fs: &RootFs) -> HostResult<Vec<String>> {
    let p = "/dev/kmsg";
    let fd = fs.open(p, How::Read).map_err(|e| open::error(p, e))?;
    let st = fstat(&fd).map_err(|e| open::error(p, e))?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    let rdev = st.st_rdev;
    if !is_chr || nix::sys::stat::major(rdev) != 1 || nix::sys::stat::minor(rdev) != 11 {
        return Err(HostError::new(
            ErrorKind::Invalid,
            p,
            format!(
                "not the kernel log device (a {}, not character device 1:11)",
                open::kind_name(&st)
            ),
        ));
    }
    let mut f = std::fs::File::from(fd);
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

/// Runs statvfs(2) for each path under `root` on a worker thread and waits at most
/// `deadline` for each and `budget` for all (see [`bounded_calls`]): one dead NFS mount costs
/// one deadline, not the run, and is not asked again by this process until its call returns.
pub fn statvfs_bounded(
    root: &Path,
    paths: &[String],
    deadline: Duration,
    budget: Duration,
) -> Vec<HostResult<StatVfs>> {
    match RootFs::new(root) {
        Ok(fs) => LiveHost::from_fs(fs).statvfs_within(paths, deadline, budget),
        Err(e) => paths
            .iter()
            .map(|p| Err(HostError::from_io(p, &e)))
            .collect(),
    }
}

/// The deleted files a process holds open: `/proc/<pid>/fd/*` links ending in ` (deleted)`,
/// sized by stat through the fd link (which reaches the open inode, not the gone name).
fn deleted_fds(fs: &RootFs, path: &str) -> HostResult<Vec<FdEntry>> {
    use nix::dir::Dir;
    let fd_dir = format!("{path}/fd");
    let err = |e| open::error(&fd_dir, e);
    let fd = fs.open(&fd_dir, How::Dir).map_err(err)?;
    let at = fd
        .try_clone()
        .map_err(|e| HostError::from_io(&fd_dir, &e))?;
    let mut dir = Dir::from_fd(fd).map_err(err)?;
    let mut out = Vec::new();
    for entry in dir.iter().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(target) = readlinkat(&at, entry.file_name()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if !super::is_deleted_file(&target) {
            continue;
        }
        // Following the fd's magic link is the point here: it reaches the open inode.
        let size = fstatat(&at, entry.file_name(), AtFlags::empty())
            .ok()
            .and_then(|st| u64::try_from(st.st_size).ok());
        out.push(FdEntry { fd, target, size });
    }
    out.sort_by_key(|e| e.fd);
    Ok(out)
}

/// statvfs(2) of `path` resolved inside the root: fstatvfs on an `O_PATH` handle.
fn sys_statvfs(fs: &RootFs, path: &str) -> HostResult<StatVfs> {
    let fd = fs.open(path, How::Path).map_err(|e| open::error(path, e))?;
    nix::sys::statvfs::fstatvfs(&fd)
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
        .map_err(|e| open::error(path, e))
}

/// Names the mount a host path lies on, for [`stuck`]: the mount table is read once per host
/// (per sample in `serve`) and only when something is stuck or a call just blocked.
#[derive(Debug)]
struct MountKeys {
    fs: Arc<RootFs>,
    /// The node's mounts (`/proc/1/mountinfo`): mount point and `major:minor`.
    host: OnceLock<Vec<(String, String)>>,
    /// The mounts of processes whose root or cwd a path entered, by process directory.
    processes: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl MountKeys {
    fn table(&self, mountinfo: &str) -> Option<Vec<(String, String)>> {
        use procfs_core::FromRead;
        let raw = open::read_file(&self.fs, mountinfo).ok()?;
        let m = procfs_core::process::MountInfos::from_read(&raw[..]).ok()?;
        Some(
            m.0.into_iter()
                .map(|mi| (mi.mount_point.to_string_lossy().into_owned(), mi.majmin))
                .collect(),
        )
    }

    /// The key of the mount `path` lies on, by the longest mount point that is a prefix of it
    /// (the last mounted wins). Lexical: a link that leads to another mount is blamed on the
    /// mount of its name, which errs on the side of asking that mount less.
    fn key(&self, path: &str) -> Key {
        let l = open::locate(path, true);
        let found = match &l.process {
            None => {
                let t = self.host.get_or_init(|| {
                    self.table("/proc/1/mountinfo")
                        .or_else(|| self.table("/proc/self/mountinfo"))
                        .unwrap_or_default()
                });
                longest_prefix(t, &super::normalize(&l.rest)).map(|(mp, dev)| Key::mount(dev, mp))
            }
            Some((dir, link)) => {
                let inner = if *link == "root" {
                    super::normalize(&l.rest)
                } else {
                    let cwd = read_link(&self.fs, &format!("/{dir}/cwd")).unwrap_or_default();
                    super::normalize(&format!("{cwd}/{}", l.rest))
                };
                let mut cache = self.processes.lock().unwrap_or_else(|p| p.into_inner());
                let t = cache.entry(dir.clone()).or_insert_with(|| {
                    self.table(&format!("/{dir}/mountinfo")).unwrap_or_default()
                });
                longest_prefix(t, &inner).map(|(mp, dev)| {
                    Key::mount(dev, &format!("/{dir}/root{}", mp.trim_end_matches('/')))
                })
            }
        };
        found.unwrap_or_else(|| Key::path(path))
    }
}

/// The entry of `table` whose mount point is the longest path prefix of `path`.
fn longest_prefix<'a>(table: &'a [(String, String)], path: &str) -> Option<(&'a str, &'a str)> {
    let mut best: Option<(&str, &str)> = None;
    for (mp, dev) in table {
        let covers = mp == "/"
            || path == mp
            || (path.starts_with(mp.as_str()) && path.as_bytes().get(mp.len()) == Some(&b'/'));
        if covers && best.is_none_or(|(b, _)| mp.len() >= b.len()) {
            best = Some((mp, dev));
        }
    }
    best
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the workers of [`bounded_calls`] share with the waiting thread.
struct Progress<T> {
    results: Vec<Option<HostResult<T>>>,
    /// Results still to come.
    left: usize,
    /// The call in progress: its index, its token and when it started.
    current: Option<(usize, Token, std::time::Instant)>,
    /// Bumped when a worker is abandoned: a stale worker's late results are dropped.
    generation: u64,
}

/// The deadline machinery of statvfs, open-file scans and small walks, over any call (tests
/// pass one that hangs).
///
/// One worker thread makes the calls in order and records each result in shared state; the
/// caller sleeps on a condition variable and is woken once, when all are done (not once per
/// call: a thousand small calls would otherwise cost a thousand context switches). A path
/// whose mount ([`Key`], from `key`) is stuck in `reg` is refused without a call. If a call
/// does not complete within `deadline`, it is reported, entered stuck in `reg`, and its worker
/// abandoned to the kernel; a fresh worker takes the rest, so one dead mount costs one deadline,
/// not the run, and one thread for as long as its call blocks. `budget` bounds the whole pass.
fn bounded_calls<T, F>(
    reg: &'static Registry,
    what: &str,
    paths: &[String],
    deadline: Duration,
    budget: Duration,
    key: Arc<dyn Fn(&str) -> Key + Send + Sync>,
    call: F,
) -> Vec<HostResult<T>>
where
    T: Send + 'static,
    F: Fn(&str) -> HostResult<T> + Send + Sync + Clone + 'static,
{
    use std::sync::Condvar;
    let started = std::time::Instant::now();
    let mut results: Vec<Option<HostResult<T>>> = paths.iter().map(|_| None).collect();
    if !reg.is_empty() {
        for (p, r) in paths.iter().zip(results.iter_mut()) {
            if let Some(e) = reg.refusal(&key(p), p) {
                *r = Some(Err(e));
            }
        }
    }
    let todo: Vec<usize> = (0..paths.len()).filter(|&i| results[i].is_none()).collect();
    let shared = Arc::new((
        Mutex::new(Progress {
            left: todo.len(),
            results,
            current: None,
            generation: 0,
        }),
        Condvar::new(),
    ));
    let spawn = |jobs: Vec<usize>, generation: u64| -> bool {
        let jobs: Vec<(usize, String)> = jobs.into_iter().map(|i| (i, paths[i].clone())).collect();
        let call = call.clone();
        let key = Arc::clone(&key);
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("nodescope-bounded".into())
            .spawn(move || {
                let (m, cv) = &*shared;
                for (i, p) in jobs {
                    let refused = if reg.is_empty() {
                        None
                    } else {
                        reg.refusal(&key(&p), &p)
                    };
                    let token = Token::new();
                    if refused.is_none() {
                        let mut st = lock(m);
                        if st.generation != generation {
                            return; // abandoned: the caller has moved on
                        }
                        st.current = Some((i, token.clone(), std::time::Instant::now()));
                    }
                    let r = match refused {
                        Some(e) => Err(e),
                        None => {
                            let r = call(&p);
                            reg.returned(&token);
                            r
                        }
                    };
                    let mut st = lock(m);
                    if st.generation != generation {
                        return;
                    }
                    st.results[i] = Some(r);
                    st.current = None;
                    st.left -= 1;
                    if st.left == 0 {
                        cv.notify_all();
                    }
                }
            })
            .is_ok()
    };
    let no_worker = |st: &mut Progress<T>| {
        for (i, p) in paths.iter().enumerate() {
            if st.results[i].is_none() {
                st.results[i] = Some(Err(HostError::new(
                    ErrorKind::Io,
                    p,
                    "could not start a worker thread",
                )));
            }
        }
    };
    let (m, cv) = &*shared;
    if !todo.is_empty() && !spawn(todo.clone(), 0) {
        no_worker(&mut lock(m));
    }
    let mut st = lock(m);
    loop {
        if st.left == 0 || st.results.iter().all(Option::is_some) {
            break;
        }
        let now = std::time::Instant::now();
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            st.generation += 1;
            for (i, p) in paths.iter().enumerate() {
                if st.results[i].is_none() {
                    st.results[i] = Some(Err(HostError::new(
                        ErrorKind::Timeout,
                        p,
                        format!("{what} budget for this snapshot exhausted"),
                    )));
                }
            }
            break;
        }
        let running = st
            .current
            .as_ref()
            .map(|(i, t, s)| (*i, t.clone(), now.saturating_duration_since(*s)));
        let ran = running.as_ref().map_or(Duration::ZERO, |r| r.2);
        if let Some((stuck_at, token, ran)) = running
            && ran >= deadline
        {
            // The call at `stuck_at` is blocked in the kernel: enter its mount stuck, report
            // it, abandon its worker, and go on with a fresh one from the next path.
            drop(st);
            let k = key(&paths[stuck_at]);
            let marked = reg.mark_stuck(&k, &token, what, deadline);
            st = lock(m);
            if !marked || st.results[stuck_at].is_some() {
                // It returned meanwhile: its worker is storing the answer.
                st = cv
                    .wait_timeout(st, Duration::from_millis(1))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
                continue;
            }
            st.generation += 1;
            st.results[stuck_at] = Some(Err(stuck::timeout(what, &paths[stuck_at], deadline)));
            st.current = None;
            st.left -= 1;
            let after = todo
                .iter()
                .position(|&i| i == stuck_at)
                .map_or(0, |p| p + 1);
            let rest: Vec<usize> = todo[after..]
                .iter()
                .copied()
                .filter(|&i| st.results[i].is_none())
                .collect();
            if rest.is_empty() {
                continue;
            }
            let generation = st.generation;
            drop(st);
            let ok = spawn(rest, generation);
            st = lock(m);
            if !ok {
                no_worker(&mut st);
                break;
            }
            continue;
        }
        let wait = deadline
            .saturating_sub(ran)
            .min(left)
            .max(Duration::from_millis(1));
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
    use std::fs;
    use std::path::PathBuf;

    fn registry() -> &'static Registry {
        Box::leak(Box::new(Registry::default()))
    }

    fn by_path() -> Arc<dyn Fn(&str) -> Key + Send + Sync> {
        Arc::new(|p: &str| Key::path(p))
    }

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

    /// A root with a FIFO, a socket, links to them and out of the root, for both resolvers.
    fn hostile_root() -> (tempfile::TempDir, PathBuf) {
        let outer = tempfile::tempdir().unwrap();
        fs::write(outer.path().join("secret"), "outside the root\n").unwrap();
        let root = outer.path().join("root");
        fs::create_dir_all(root.join("proc")).unwrap();
        fs::create_dir_all(root.join("etc/kubernetes")).unwrap();
        fs::create_dir_all(root.join("var/log/pods/a")).unwrap();
        fs::write(root.join("var/log/pods/a/0.log"), "x".repeat(5000)).unwrap();
        fs::write(root.join("etc/hostname"), "node-a\n").unwrap();
        nix::unistd::mkfifo(&root.join("etc/fifo"), nix::sys::stat::Mode::S_IRUSR).unwrap();
        std::os::unix::fs::symlink("/etc/fifo", root.join("etc/resolv.conf")).unwrap();
        std::os::unix::fs::symlink("/secret", root.join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../secret", root.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("etc/kubernetes/name")).unwrap();
        std::os::unix::fs::symlink("/var/log", root.join("logs")).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(root.join("etc/sock")).unwrap();
        (outer, root)
    }

    fn hosts(root: &Path) -> Vec<(&'static str, LiveHost)> {
        vec![
            ("openat2", LiveHost::new(root).unwrap()),
            (
                "component walk",
                LiveHost::from_fs(RootFs::new(root).unwrap().with_fallback_walk()),
            ),
        ]
    }

    #[test]
    fn special_files_are_refused_at_once_and_links_stay_inside_the_root() {
        let (_outer, root) = hostile_root();
        for (how, h) in hosts(&root) {
            let started = std::time::Instant::now();
            for (path, kind) in [
                ("/etc/fifo", "FIFO"),
                ("/etc/resolv.conf", "FIFO"),
                ("/etc/sock", "socket"),
                ("/etc", "directory"),
            ] {
                let e = h.read(path).unwrap_err();
                assert_eq!(e.kind, ErrorKind::Invalid, "{how} {path}: {e}");
                assert_eq!(e.detail, format!("not a regular file ({kind})"), "{how}");
                assert_eq!(e.path, path);
                let e = h.read_tail(path, 100).unwrap_err();
                assert_eq!(e.detail, format!("not a regular file ({kind})"), "{how}");
            }
            assert!(started.elapsed() < Duration::from_secs(1), "{how}: no wait");
            // Absolute and `..` links resolve inside the root: the outer secret is never read.
            assert_eq!(
                h.read("/etc/abs").unwrap_err().kind,
                ErrorKind::Missing,
                "{how}"
            );
            assert_eq!(
                h.read("/etc/up").unwrap_err().kind,
                ErrorKind::Missing,
                "{how}"
            );
            assert_eq!(h.read_string("/etc/kubernetes/name").unwrap(), "node-a\n");
            assert_eq!(h.read_link("/etc/abs").unwrap(), "/secret");
            // Listings, stats and walks through a link resolve in the root too.
            let names: Vec<String> = h
                .read_dir("/logs/pods")
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect();
            assert_eq!(names, ["a"], "{how}");
            let m = h.metadata("/etc/resolv.conf").unwrap();
            assert_eq!(
                m.kind,
                EntryKind::Special,
                "{how}: stat of a FIFO, not blocked"
            );
            assert_eq!(h.metadata("/etc/kubernetes/name").unwrap().size, 7);
            let w = h.walk("/logs/pods", WalkLimits::default()).unwrap();
            assert_eq!((w.files, w.apparent_bytes), (1, 5000), "{how}");
            assert_eq!(w.largest_files[0].path, "/logs/pods/a/0.log", "{how}");
            let w = &h.walk_each(
                &["/logs/pods/a".into()],
                WalkLimits::default(),
                Duration::from_secs(5),
            )[0];
            assert_eq!(w.as_ref().unwrap().apparent_bytes, 5000, "{how}");
        }
    }

    #[test]
    fn a_character_device_is_refused_without_a_read() {
        let (_outer, root) = hostile_root();
        let dev = nix::sys::stat::makedev(1, 5); // /dev/zero
        if let Err(e) = nix::sys::stat::mknod(
            &root.join("etc/zero"),
            SFlag::S_IFCHR,
            nix::sys::stat::Mode::S_IRUSR,
            dev,
        ) {
            eprintln!("skipped: mknod needs CAP_MKNOD ({e})");
            return;
        }
        std::os::unix::fs::symlink("/etc/zero", root.join("etc/kubelet.yaml")).unwrap();
        for (how, h) in hosts(&root) {
            let started = std::time::Instant::now();
            let e = h.read("/etc/kubelet.yaml").unwrap_err();
            assert_eq!(e.detail, "not a regular file (character device)", "{how}");
            assert!(started.elapsed() < Duration::from_secs(1));
            // Nor is a device that is not the kernel log read as one.
            fs::create_dir_all(root.join("dev")).unwrap();
            let _ = fs::remove_file(root.join("dev/kmsg"));
            std::os::unix::fs::symlink("/etc/zero", root.join("dev/kmsg")).unwrap();
            let e = read_kmsg(&h.fs).unwrap_err();
            assert!(e.detail.starts_with("not the kernel log device"), "{e}");
        }
    }

    #[test]
    fn files_past_their_cap_are_refused_not_truncated() {
        let (_outer, root) = hostile_root();
        let big = vec![b'#'; (open::CONFIG_FILE_CAP + 1) as usize];
        fs::write(root.join("etc/kubernetes/big.yaml"), &big).unwrap();
        let h = LiveHost::new(&root).unwrap();
        let e = h.read("/etc/kubernetes/big.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(
            e.detail,
            "larger than the 4 MiB nodescope reads of a configuration or state file"
        );
        // Its end is still there for a tail read.
        assert_eq!(
            h.read_tail("/etc/kubernetes/big.yaml", 10).unwrap(),
            b"##########"
        );
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
        let call = |p: &str| -> HostResult<u32> {
            if p.starts_with("/hang") {
                std::thread::sleep(Duration::from_secs(30));
            }
            Ok(p.len() as u32)
        };
        let paths: Vec<String> = ["/a", "/hang", "/bb", "/hang2", "/ccc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let started = std::time::Instant::now();
        let reg = registry();
        let r = bounded_calls(
            reg,
            "statvfs",
            &paths,
            Duration::from_millis(100),
            Duration::from_secs(10),
            by_path(),
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
        // Both are remembered: the next pass refuses them without a call or a wait.
        assert_eq!(reg.stuck().len(), 2);
        reg.begin_sample();
        let started = std::time::Instant::now();
        let r = bounded_calls(
            reg,
            "statvfs",
            &paths,
            Duration::from_millis(100),
            Duration::from_secs(10),
            by_path(),
            |p: &str| -> HostResult<u32> {
                assert!(!p.starts_with("/hang"), "a stuck mount is not asked again");
                Ok(1)
            },
        );
        assert!(started.elapsed() < Duration::from_millis(90));
        let e = r[1].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.detail.starts_with("stuck since "), "{e}");
        assert!(
            e.detail
                .contains(" UTC, 2 samples: statvfs on /hang did not return"),
            "{e}"
        );
        assert_eq!(r[2].as_ref().unwrap(), &1);
    }

    #[test]
    fn the_budget_bounds_the_whole_pass() {
        let call = |_: &str| -> HostResult<u32> {
            std::thread::sleep(Duration::from_secs(30));
            Ok(0)
        };
        let paths: Vec<String> = (0..50).map(|i| format!("/m{i}")).collect();
        let started = std::time::Instant::now();
        let r = bounded_calls(
            registry(),
            "statvfs",
            &paths,
            Duration::from_millis(50),
            Duration::from_millis(300),
            by_path(),
            call,
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(
            r.iter()
                .all(|x| x.as_ref().unwrap_err().kind == ErrorKind::Timeout)
        );
        assert!(r[49].as_ref().unwrap_err().detail.contains("budget"));
    }

    #[test]
    fn mounts_are_named_by_the_longest_mount_point() {
        let t: Vec<(String, String)> = [
            ("/", "8:1"),
            ("/var", "8:2"),
            ("/var/lib/kubelet", "0:53"),
            ("/var", "8:3"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            longest_prefix(&t, "/var/lib/kubelet/config.yaml"),
            Some(("/var/lib/kubelet", "0:53"))
        );
        assert_eq!(
            longest_prefix(&t, "/var/lib/kubeletx"),
            Some(("/var", "8:3")),
            "the last mount wins"
        );
        assert_eq!(longest_prefix(&t, "/etc"), Some(("/", "8:1")));
        assert_eq!(longest_prefix(&t[1..], "/etc"), None);
    }
}
