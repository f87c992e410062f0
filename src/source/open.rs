//! The one way the live host opens anything: every path is resolved inside the right root and
//! every file is checked before a byte of it is read. [`super::live::LiveHost`] reads only
//! through this module (docs/security.md, "What nodescope reads, and how").
//!
//! - **Inside the right root.** A host path is resolved relative to a directory fd of
//!   `--root` with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `/host`'s absolute
//!   links stay inside `/host`. A path under a process's root or working directory
//!   (`/proc/<pid>/root/...`, `/proc/<pid>/cwd/...`) is resolved relative to that magic link,
//!   opened itself first as an `O_PATH | O_DIRECTORY` fd: a container's absolute link
//!   (`/etc/resolv.conf -> /etc/shadow`) names the container's file, never the node's. Where
//!   openat2 is missing (Linux < 5.6) or refused (a seccomp profile), [`super::resolve`] walks
//!   the path one component at a time with the same rules.
//! - **Only regular files are read.** Files are opened `O_RDONLY | O_NONBLOCK | O_NOCTTY |
//!   O_CLOEXEC` (a FIFO opens at once instead of waiting for a writer; a tty never becomes our
//!   terminal) and `fstat`ed: anything but a regular file is refused with
//!   `Invalid: not a regular file (FIFO)`. procfs and sysfs entries are regular files.
//!   `/dev/kmsg` is the one device read, by its own function, after checking it is 1:11.
//! - **Owner-only kernel files are never read**: a procfs file others may not read
//!   (`environ`, `auxv`, `mem`, `kcore`, ...) is refused even when a link leads to it.
//! - **Bounded size**: each kind of file has a cap ([`cap_for`]); a larger file is refused,
//!   not truncated (half a YAML file can parse into a different configuration).

use super::resolve::{self, FdTree, Resolved};
use super::{ErrorKind, HostError, HostResult};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use nix::sys::statfs::{PROC_SUPER_MAGIC, SYSFS_MAGIC, fstatfs};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Cap on one read of a /proc or /sys file. The largest nodescope reads is a mountinfo: about
/// 200 bytes a mount, so 4 MiB is 20,000 mounts.
pub const KERNEL_FILE_CAP: u64 = 4 << 20;
/// Cap on one read of a configuration or state file (kubelet config and drop-ins, resolv.conf,
/// an OCI `config.json`, the device-plugin checkpoint, runtime configs). Real ones are KiB.
pub const CONFIG_FILE_CAP: u64 = 4 << 20;
/// Cap on one read of CRI-O's storage databases (`overlay-layers/layers.json`,
/// `overlay-images/images.json`, `overlay-containers/containers.json`): one entry a layer,
/// image or container, a few hundred bytes each; 32 MiB is ~100,000 entries.
pub const RUNTIME_DB_CAP: u64 = 32 << 20;
/// Cap on one tail read of a log ([`super::Host::read_tail`]): logs are read from their end only.
pub const TAIL_CAP: u64 = 64 << 20;

/// The size cap of a whole-file read of `path` and what kind of file that cap is for.
pub fn cap_for(path: &str) -> (u64, &'static str) {
    if is_kernel_path(path) {
        return (KERNEL_FILE_CAP, "a /proc or /sys file");
    }
    let name = path.rsplit('/').next().unwrap_or("");
    if matches!(name, "layers.json" | "images.json" | "containers.json") {
        (RUNTIME_DB_CAP, "a container runtime database")
    } else {
        (CONFIG_FILE_CAP, "a configuration or state file")
    }
}

/// How a path is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// For reading its content: `O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, links followed.
    Read,
    /// For listing: `O_RDONLY | O_DIRECTORY | O_CLOEXEC`, links followed.
    Dir,
    /// A handle for fstat/fstatvfs only (`O_PATH`): nothing is read, a FIFO never blocks.
    Path,
    /// Like [`How::Path`], but a link as the last component is the handle (lstat).
    PathNoFollow,
}

impl How {
    fn flags(self) -> OFlag {
        match self {
            How::Read => OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            How::Dir => OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            How::Path => OFlag::O_PATH | OFlag::O_CLOEXEC,
            How::PathNoFollow => OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        }
    }
}

/// A host path, split where it enters another root: `/proc/<pid>/root/etc/resolv.conf` is
/// `etc/resolv.conf` inside the root of process `<pid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The process directory (`proc/1234`, `proc/1234/task/1240`) and which of its magic links
    /// (`root` or `cwd`) the rest is resolved in; `None` for `--root` itself.
    pub process: Option<(String, &'static str)>,
    /// The path inside that root, relative (`etc/resolv.conf`; empty for the root itself).
    pub rest: String,
}

/// Splits a host path at `/proc/<pid>/root` or `/proc/<pid>/cwd` (also under `task/<tid>/`).
/// With `bare` false, the link itself (nothing after it) is not split: `read_link` of
/// `/proc/<pid>/root` reads the link, it does not enter it.
pub fn locate(path: &str, bare: bool) -> Located {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let is_id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let split = |at: usize| -> Option<Located> {
        let link = match parts.get(at) {
            Some(&"root") => "root",
            Some(&"cwd") => "cwd",
            _ => return None,
        };
        if !bare && parts.len() == at + 1 {
            return None;
        }
        Some(Located {
            process: Some((parts[..at].join("/"), link)),
            rest: parts[at + 1..].join("/"),
        })
    };
    if parts.first() == Some(&"proc") && parts.get(1).is_some_and(|p| is_id(p)) {
        let found = if parts.get(2) == Some(&"task") && parts.get(3).is_some_and(|t| is_id(t)) {
            split(4)
        } else {
            split(2)
        };
        if let Some(l) = found {
            return l;
        }
    }
    Located {
        process: None,
        rest: parts.join("/"),
    }
}

/// The first component of `path` that is not empty or `.`.
fn first_component(path: &str) -> Option<&str> {
    path.split('/').find(|c| !c.is_empty() && *c != ".")
}

/// Whether `path` is a kernel file by its place: under `/proc` or `/sys`, and not inside a
/// process's root or working directory (which are ordinary, possibly network, filesystems).
/// Allocates only for `/proc/<pid>/...` paths: this is asked for every read of `top`.
pub fn is_kernel_path(path: &str) -> bool {
    match first_component(path) {
        Some("sys") => true,
        Some("proc") => !enters_process(path),
        _ => false,
    }
}

/// Whether a `/proc/...` path goes through a process's `root` or `cwd` (see [`locate`]),
/// without allocating.
fn enters_process(path: &str) -> bool {
    let mut parts = path.split('/').filter(|c| !c.is_empty() && *c != ".");
    let is_id =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if parts.next() != Some("proc") || !is_id(parts.next()) {
        return false;
    }
    match parts.next() {
        Some("root") | Some("cwd") => true,
        Some("task") => is_id(parts.next()) && matches!(parts.next(), Some("root") | Some("cwd")),
        _ => false,
    }
}

/// Whether openat2(2) works here; probed once per process. `NODESCOPE_NO_OPENAT2=1` makes
/// nodescope behave as on a kernel without it (the fallback walk), for tests and as a way out
/// should a seccomp profile answer openat2 with something other than ENOSYS or EPERM.
fn openat2_works(dir: &OwnedFd) -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        if std::env::var_os("NODESCOPE_NO_OPENAT2").is_some_and(|v| v == "1") {
            return false;
        }
        !matches!(
            openat2(dir, ".", how(How::Path)),
            Err(Errno::ENOSYS) | Err(Errno::EPERM)
        )
    })
}

fn how(h: How) -> OpenHow {
    OpenHow::new()
        .flags(h.flags())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// The live host's root, opened once: every path is resolved relative to it.
#[derive(Debug)]
pub struct RootFs {
    path: PathBuf,
    fd: Arc<OwnedFd>,
    openat2: bool,
    /// `<root>/proc` is a procfs and `<root>/sys` a sysfs: kernel paths are read inline.
    kernel_fs: bool,
}

impl RootFs {
    /// Opens `root` as an `O_PATH | O_DIRECTORY` fd.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let fd = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let openat2 = openat2_works(&fd);
        let mut fs = RootFs {
            path: root.to_path_buf(),
            fd: Arc::new(fd),
            openat2,
            kernel_fs: false,
        };
        let magic = |p: &str| {
            fs.open(p, How::Path)
                .ok()
                .and_then(|fd| fstatfs(&fd).ok())
                .map(|s| s.filesystem_type())
        };
        fs.kernel_fs = magic("proc") == Some(PROC_SUPER_MAGIC) && magic("sys") == Some(SYSFS_MAGIC);
        Ok(fs)
    }

    /// Forces the component walk even where openat2 works (tests of the fallback).
    pub fn with_fallback_walk(mut self) -> Self {
        self.openat2 = false;
        self
    }

    /// The root as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the fallback walk resolves paths (openat2 missing or refused).
    pub fn uses_fallback(&self) -> bool {
        !self.openat2
    }

    /// Whether `path` is a procfs/sysfs file of this root: read inline, never on a worker.
    pub fn is_kernel(&self, path: &str) -> bool {
        self.kernel_fs && is_kernel_path(path)
    }

    /// The directory a located path is resolved in: the root, or a process's root or cwd,
    /// entered by opening the magic link itself (the kernel follows a magic link that is the
    /// last component of a plain openat; nothing after it is resolved that way).
    fn anchor(&self, l: &Located) -> Result<Arc<OwnedFd>, Errno> {
        let Some((dir, link)) = &l.process else {
            return Ok(Arc::clone(&self.fd));
        };
        let pid_dir = self.resolve_in(&self.fd, dir, How::Path)?;
        let fd = openat(
            &pid_dir,
            *link,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Arc::new(fd))
    }

    /// Opens `path` (a host path) as `how` says, resolved inside the right root.
    pub fn open(&self, path: &str, how: How) -> Result<OwnedFd, Errno> {
        if !enters_process(path) {
            // No process root to enter: resolved from --root as it is (openat2 and the walk
            // both take `//` and `.` in stride).
            return self.resolve_in(&self.fd, path.trim_start_matches('/'), how);
        }
        let l = locate(path, true);
        let anchor = self.anchor(&l)?;
        self.resolve_in(&anchor, &l.rest, how)
    }

    /// The directory holding the last component of `path`, and that component's name; for
    /// readlinkat/fstatat on a link itself. `None` as name when `path` is a root.
    pub fn parent(&self, path: &str) -> Result<(OwnedFd, Option<String>), Errno> {
        let l = locate(path, false);
        let anchor = self.anchor(&l)?;
        match l.rest.rsplit_once('/') {
            Some((dir, name)) => Ok((
                self.resolve_in(&anchor, dir, How::Path)?,
                Some(name.to_string()),
            )),
            None if l.rest.is_empty() => Ok((dup(&anchor)?, None)),
            None => Ok((dup(&anchor)?, Some(l.rest.clone()))),
        }
    }

    /// Resolves `rel` inside the directory `dir` (which acts as `/`).
    fn resolve_in(&self, dir: &Arc<OwnedFd>, rel: &str, h: How) -> Result<OwnedFd, Errno> {
        let rel = if rel.is_empty() { "." } else { rel };
        if self.openat2 {
            // EAGAIN: a rename raced a `..` check; the kernel asks the caller to retry.
            let mut tries = 0;
            loop {
                match openat2(dir.as_ref(), rel, how(h)) {
                    Err(Errno::EAGAIN) if tries < 16 => tries += 1,
                    r => return r,
                }
            }
        }
        let follow = h != How::PathNoFollow;
        match resolve::resolve(&FdTree, Arc::clone(dir), rel, follow)? {
            Resolved::Dir(n) => match h {
                How::Path | How::PathNoFollow => dup(&n),
                How::Read | How::Dir => openat(n.as_ref(), ".", h.flags(), Mode::empty()),
            },
            Resolved::Entry { parent, name } => openat(
                parent.as_ref(),
                name.as_str(),
                h.flags() | OFlag::O_NOFOLLOW,
                Mode::empty(),
            ),
        }
    }
}

/// A path naming the directory `fd` for code that takes paths (the walker, the journal
/// reader): `/proc/self/fd/<n>/.`, which the kernel resolves to the directory itself, not
/// by its name, so nothing is looked up again outside the root it was resolved in. The `/.`
/// makes lstat(2) see the directory rather than the fd's link.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}/.", fd.as_raw_fd()))
}

/// A second fd on the same open file.
fn dup(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    fd.try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)))
}

/// The name of a file type, for refusals: "FIFO", "socket", "character device", ...
pub fn kind_name(st: &FileStat) -> &'static str {
    let t = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    match t {
        t if t == SFlag::S_IFREG => "regular file",
        t if t == SFlag::S_IFDIR => "directory",
        t if t == SFlag::S_IFIFO => "FIFO",
        t if t == SFlag::S_IFSOCK => "socket",
        t if t == SFlag::S_IFCHR => "character device",
        t if t == SFlag::S_IFBLK => "block device",
        t if t == SFlag::S_IFLNK => "symbolic link",
        _ => "file of unknown type",
    }
}

/// Whether `st` is a regular file.
pub fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

/// A host error for a failed open or fstat of `path`, with the reason said plainly where the
/// kernel's word would mislead (ELOOP is also what a refused magic link gives).
pub fn error(path: &str, e: Errno) -> HostError {
    match e {
        Errno::ELOOP => HostError::new(
            ErrorKind::Invalid,
            path,
            "too many symbolic links, or a /proc magic link on the way (never followed)",
        ),
        e => HostError::from_io(path, &std::io::Error::from(e)),
    }
}

/// An open regular file and its fstat.
pub struct Regular {
    pub file: std::fs::File,
    pub stat: FileStat,
}

/// Opens `path` for reading and checks what it is: a regular file others may read when it is
/// a procfs file. Never blocks on a FIFO, never reads a device.
pub fn open_regular(fs: &RootFs, path: &str) -> HostResult<Regular> {
    let not_regular = |st: &FileStat| {
        HostError::new(
            ErrorKind::Invalid,
            path,
            format!("not a regular file ({})", kind_name(st)),
        )
    };
    let fd = match fs.open(path, How::Read) {
        Ok(fd) => fd,
        // A socket (ENXIO) or a device without a driver cannot even be opened for reading:
        // name what it is from an O_PATH handle, which opens anything without touching it.
        Err(e @ (Errno::ENXIO | Errno::ENODEV | Errno::EOPNOTSUPP)) => {
            return Err(match fs.open(path, How::Path).and_then(|fd| fstat(&fd)) {
                Ok(st) if !is_regular(&st) => not_regular(&st),
                _ => error(path, e),
            });
        }
        Err(e) => return Err(error(path, e)),
    };
    let stat = fstat(&fd).map_err(|e| error(path, e))?;
    if !is_regular(&stat) {
        return Err(not_regular(&stat));
    }
    // Cheap first: only a file others may not read costs the fstatfs.
    if stat.st_mode & 0o004 == 0
        && fstatfs(fd.as_fd()).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
    {
        return Err(HostError::new(
            ErrorKind::Denied,
            path,
            "an owner-only /proc file (environ, auxv, mem, kcore, ...): nodescope never reads them",
        ));
    }
    Ok(Regular {
        file: std::fs::File::from(fd),
        stat,
    })
}

/// The whole content of `path`, refused past its [`cap_for`] cap.
pub fn read_file(fs: &RootFs, path: &str) -> HostResult<Vec<u8>> {
    let (cap, what) = cap_for(path);
    let r = open_regular(fs, path)?;
    let too_large = || {
        HostError::new(
            ErrorKind::Invalid,
            path,
            format!(
                "larger than the {} MiB nodescope reads of {what}",
                cap >> 20
            ),
        )
    };
    let size = u64::try_from(r.stat.st_size).unwrap_or(0);
    if size > cap {
        return Err(too_large());
    }
    // procfs says 0 and sysfs 4096 whatever the content: read until EOF, one past the cap.
    let initial = if size == 0 { 4096 } else { size + 1 };
    let buf = read_capped(r.file, initial, cap + 1).map_err(|e| HostError::from_io(path, &e))?;
    if buf.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(buf)
}

/// Reads `file` to its end or `limit` bytes, starting with a buffer of `initial` bytes and
/// doubling it: one read(2) for a small file, where `read_to_end` probes with several.
pub fn read_capped(mut file: impl Read, initial: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let first = usize::try_from(initial.clamp(64, limit.max(64))).unwrap_or(4096);
    let mut buf = vec![0u8; first];
    let mut len = 0usize;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    loop {
        if len == buf.len() {
            if len >= limit {
                break;
            }
            buf.resize(len.saturating_mul(2).min(limit), 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_located_in_the_root_they_name() {
        let l = locate("/proc/42/root/etc/resolv.conf", true);
        assert_eq!(l.process, Some(("proc/42".into(), "root")));
        assert_eq!(l.rest, "etc/resolv.conf");
        let l = locate("/proc/42/task/43/cwd/x", true);
        assert_eq!(l.process, Some(("proc/42/task/43".into(), "cwd")));
        assert_eq!(l.rest, "x");
        assert_eq!(locate("/proc/42/root", true).rest, "");
        assert_eq!(locate("/proc/42/root", false).process, None);
        assert_eq!(locate("/proc/42/root", false).rest, "proc/42/root");
        assert_eq!(locate("/proc/self/root/x", true).process, None);
        assert_eq!(locate("//etc/./kubernetes/", true).rest, "etc/kubernetes");
        assert!(is_kernel_path("/proc/42/stat"));
        assert!(is_kernel_path("/sys/fs/cgroup/memory.max"));
        assert!(!is_kernel_path("/proc/42/root/etc/resolv.conf"));
        assert!(!is_kernel_path("/var/lib/kubelet/config.yaml"));
        assert!(!is_kernel_path("/process"));
        assert!(!is_kernel_path("/proc/42/task/43/root/etc/hosts"));
        assert!(is_kernel_path("/proc/42/task/43/stat"));
        assert!(
            is_kernel_path("/proc/self/root/x"),
            "not a pid: resolved as is, and refused"
        );
        assert!(is_kernel_path("//proc/./42/rootx"));
    }

    #[test]
    fn each_kind_of_file_has_its_cap() {
        assert_eq!(cap_for("/proc/1/mountinfo").0, KERNEL_FILE_CAP);
        assert_eq!(cap_for("/var/lib/kubelet/config.yaml").0, CONFIG_FILE_CAP);
        assert_eq!(
            cap_for("/var/lib/containers/storage/overlay-layers/layers.json").0,
            RUNTIME_DB_CAP
        );
    }

    /// procfs itself as the root: the files of this test process, nothing of the host.
    #[test]
    fn procfs_files_are_read_owner_only_ones_and_magic_links_refused() {
        let open = || RootFs::new(Path::new("/proc")).unwrap();
        for (how, fs) in [
            ("openat2", open()),
            ("component walk", open().with_fallback_walk()),
        ] {
            let stat = read_file(&fs, "/self/stat").unwrap();
            let pid = std::process::id().to_string();
            assert!(stat.starts_with(format!("{pid} (").as_bytes()), "{how}");
            for p in ["/self/environ", "/self/auxv"] {
                let e = read_file(&fs, p).unwrap_err();
                assert_eq!(e.kind, ErrorKind::Denied, "{how} {p}: {e}");
            }
            for p in [
                "/self/root/etc/hostname",
                "/self/cwd/Cargo.toml",
                "/self/exe",
            ] {
                let e = read_file(&fs, p).unwrap_err();
                assert_eq!(e.kind, ErrorKind::Invalid, "{how} {p}: {e}");
                assert!(e.detail.contains("magic link"), "{how} {p}: {e}");
            }
        }
    }

    #[test]
    fn capped_reads_stop_one_past_the_cap_and_read_small_files_whole() {
        let data = vec![7u8; 10_000];
        assert_eq!(read_capped(&data[..], 64, 20_000).unwrap(), data);
        assert_eq!(read_capped(&data[..], 4096, 5_001).unwrap().len(), 5_001);
        assert_eq!(read_capped(&b""[..], 0, 10).unwrap(), b"");
    }
}
