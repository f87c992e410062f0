//! Path resolution inside a root, one component at a time: what [`super::open`] does on a
//! kernel without openat2(2) (Linux < 5.6) or under a seccomp profile that refuses it, with the
//! rules of `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (openat2(2)):
//!
//! - an absolute symbolic link restarts at the root it is resolved in, never at the reader's
//!   `/` (a container's `/etc/resolv.conf -> /etc/shadow` names the container's file);
//! - `..` never climbs above that root;
//! - at most [`MAX_LINKS`] links are followed per resolution (the kernel's MAXSYMLINKS);
//! - a /proc magic link (`/proc/<pid>/{root,cwd,exe}`, `fd/*`, `ns/*`, `map_files/*`) is
//!   never followed: its target is not a path in this root but an object the kernel jumps to.
//!
//! The walk itself is pure over a [`Tree`]: [`FdTree`] looks names up with
//! `openat(O_PATH | O_NOFOLLOW)` in real directories, the unit tests and the fuzz target
//! (`fuzz/fuzz_targets/path_resolver.rs`) in an in-memory tree. The same shape as the
//! component walk of cyphar/filepath-securejoin (`lookup_linux.go`) and libpathrs, written
//! for this crate.

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::{Mode, SFlag, fstat};
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// The most symbolic links one resolution follows: Linux's MAXSYMLINKS
/// (include/linux/namei.h), past which path lookup fails with ELOOP.
pub const MAX_LINKS: usize = 40;

/// What looking one name up in a directory found, without following it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<N> {
    /// A directory (a mount point gives the root of what is mounted there).
    Dir(N),
    /// A symbolic link, with its target as stored.
    Link(String),
    /// A /proc magic link: never followed, never read as a path.
    Magic,
    /// Anything else: a regular file, FIFO, socket or device node.
    Other,
}

/// A directory tree a path can be resolved in. `Node` is a handle on a directory.
pub trait Tree {
    /// A directory of the tree.
    type Node: Clone;
    /// Looks `name` (one component: never empty, `.`, `..` or containing `/`) up in `dir`
    /// without following it.
    fn lookup(&self, dir: &Self::Node, name: &str) -> Result<Found<Self::Node>, Errno>;
}

/// Where a resolution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<N> {
    /// The path names a directory (the root itself for `""`, `/` or `..`).
    Dir(N),
    /// The path names `name` in directory `parent`, which is not a directory or is a link
    /// left unfollowed (the last component, when not following it).
    Entry { parent: N, name: String },
}

/// The components of a path worth a lookup: no empty ones, no `.`.
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Resolves `path` (absolute or relative: both start at `root`) in `tree`.
///
/// Links in the middle of the path are always followed; the last component is followed when
/// `follow_last` (open, stat) and left as an [`Resolved::Entry`] otherwise (readlink, lstat).
/// A path ending in `/` (or `/.`) must name a directory and its last link is followed, as
/// path_resolution(7) says; so must the target of a last link that ends in `/`. Errors:
/// `ENOENT`/`ENOTDIR` as the lookups say, `ELOOP` past [`MAX_LINKS`] links or at a magic link
/// that would have to be followed.
pub fn resolve<T: Tree>(
    tree: &T,
    root: T::Node,
    path: &str,
    follow_last: bool,
) -> Result<Resolved<T::Node>, Errno> {
    let wants_dir = |p: &str| p.ends_with('/') || p.ends_with("/.") || p == ".";
    let mut dir_only = wants_dir(path);
    // `stack[0]` is the root; `..` pops, never past it.
    let mut stack = vec![root];
    let mut pending: VecDeque<String> = components(path).map(String::from).collect();
    let mut links = 0usize;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let last = pending.is_empty();
        let follow = !last || follow_last || dir_only;
        let Some(dir) = stack.last() else {
            return Err(Errno::ENOENT);
        };
        match tree.lookup(dir, &name)? {
            Found::Dir(n) => stack.push(n),
            Found::Link(_) | Found::Magic if !follow => {
                return Ok(Resolved::Entry {
                    parent: dir.clone(),
                    name,
                });
            }
            Found::Magic => return Err(Errno::ELOOP),
            Found::Link(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                if last && wants_dir(&target) {
                    dir_only = true;
                }
                if target.starts_with('/') {
                    stack.truncate(1);
                }
                for c in components(&target).rev() {
                    pending.push_front(c.to_string());
                }
            }
            Found::Other if last && !dir_only => {
                return Ok(Resolved::Entry {
                    parent: dir.clone(),
                    name,
                });
            }
            Found::Other => return Err(Errno::ENOTDIR),
        }
    }
    stack.pop().map(Resolved::Dir).ok_or(Errno::ENOENT)
}

/// A file's identity: (device, inode).
pub type FileId = (u64, u64);

/// `path` resolved inside the directory `dir` twice: by the kernel, with
/// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, and by [`resolve`] over [`FdTree`]
/// (`O_PATH`, with `O_NOFOLLOW` unless `follow_last`). The two must name the same file or fail
/// with the same errno: the differential check of the unit tests and of the fuzz target
/// `path_resolver`. `None` when the kernel has no openat2.
pub fn kernel_and_walk(
    dir: &Arc<OwnedFd>,
    path: &str,
    follow_last: bool,
) -> Option<(Result<FileId, Errno>, Result<FileId, Errno>)> {
    use nix::fcntl::{OpenHow, ResolveFlag, openat2};
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow_last {
        flags |= OFlag::O_NOFOLLOW;
    }
    let id = |fd: OwnedFd| fstat(&fd).map(|st| (st.st_dev, st.st_ino));
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = if path.is_empty() { "." } else { path };
    let kernel = match openat2(dir.as_ref(), rel, how) {
        Err(Errno::ENOSYS) => return None,
        r => r.and_then(id),
    };
    let walked = resolve(&FdTree, Arc::clone(dir), path, follow_last).and_then(|r| match r {
        Resolved::Dir(n) => fstat(n.as_ref()).map(|st| (st.st_dev, st.st_ino)),
        Resolved::Entry { parent, name } => openat(
            parent.as_ref(),
            name.as_str(),
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
        .and_then(id),
    });
    Some((kernel, walked))
}

/// The root of every procfs has inode number 1 (PROC_ROOT_INO, fs/proc/internal.h).
const PROC_ROOT_INO: u64 = 1;

/// Real directories, looked up with `openat(O_PATH | O_NOFOLLOW)`: nothing is opened for
/// reading and no link is followed by the kernel, so a FIFO or a hung file costs nothing here.
#[derive(Debug, Default, Clone, Copy)]
pub struct FdTree;

impl Tree for FdTree {
    type Node = Arc<OwnedFd>;

    fn lookup(&self, dir: &Arc<OwnedFd>, name: &str) -> Result<Found<Arc<OwnedFd>>, Errno> {
        let fd = openat(
            dir.as_ref(),
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let st = fstat(&fd)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFDIR {
            Ok(Found::Dir(Arc::new(fd)))
        } else if kind == SFlag::S_IFLNK {
            if is_magic(dir, &fd)? {
                return Ok(Found::Magic);
            }
            let target = readlinkat(&fd, "")?;
            Ok(Found::Link(target.to_string_lossy().into_owned()))
        } else {
            Ok(Found::Other)
        }
    }
}

/// Whether the link `link` found in `dir` is a /proc magic link. Every link procfs holds below
/// a `/proc/<pid>` directory is magic (`cwd`, `root`, `exe`, `fd/*`, `map_files/*`, `ns/*`);
/// the links at the top of procfs (`self`, `thread-self`, `mounts`, `net`) are ordinary text.
fn is_magic(dir: &OwnedFd, link: &OwnedFd) -> Result<bool, Errno> {
    if fstatfs(link)?.filesystem_type() != PROC_SUPER_MAGIC {
        return Ok(false);
    }
    Ok(fstat(dir)?.st_ino != PROC_ROOT_INO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An in-memory tree: node 0 is outside the root, node 1 the root.
    #[derive(Default)]
    struct Mem {
        nodes: Vec<(Option<usize>, BTreeMap<String, Entry>)>,
    }

    #[derive(Clone)]
    enum Entry {
        Dir(usize),
        Link(String),
        Magic,
        File,
    }

    impl Mem {
        fn new() -> Self {
            let mut m = Mem::default();
            m.nodes.push((None, BTreeMap::new()));
            m.nodes.push((Some(0), BTreeMap::new()));
            m.nodes[0].1.insert("secret".into(), Entry::File);
            m.nodes[0].1.insert("root".into(), Entry::Dir(1));
            m
        }
        /// Creates the directories of `path` under the root; returns the last one.
        fn mkdir(&mut self, path: &str) -> usize {
            let mut cur = 1;
            for c in components(path) {
                cur = match self.nodes[cur].1.get(c) {
                    Some(Entry::Dir(n)) => *n,
                    _ => {
                        self.nodes.push((Some(cur), BTreeMap::new()));
                        let n = self.nodes.len() - 1;
                        self.nodes[cur].1.insert(c.into(), Entry::Dir(n));
                        n
                    }
                };
            }
            cur
        }
        fn put(&mut self, path: &str, e: Entry) {
            let (dir, name) = path.rsplit_once('/').unwrap();
            let d = self.mkdir(dir);
            self.nodes[d].1.insert(name.into(), e);
        }
    }

    impl Tree for Mem {
        type Node = usize;
        fn lookup(&self, dir: &usize, name: &str) -> Result<Found<usize>, Errno> {
            assert!(!name.is_empty() && name != "." && name != ".." && !name.contains('/'));
            match self.nodes[*dir].1.get(name) {
                None => Err(Errno::ENOENT),
                Some(Entry::Dir(n)) => Ok(Found::Dir(*n)),
                Some(Entry::Link(t)) => Ok(Found::Link(t.clone())),
                Some(Entry::Magic) => Ok(Found::Magic),
                Some(Entry::File) => Ok(Found::Other),
            }
        }
    }

    fn tree() -> Mem {
        let mut m = Mem::new();
        m.put("/etc/shadow", Entry::File);
        m.put("/etc/resolv.conf", Entry::Link("/etc/shadow".into()));
        m.put("/etc/rel", Entry::Link("../etc/./shadow".into()));
        m.put("/etc/up", Entry::Link("../../../../secret".into()));
        m.put("/etc/loop-a", Entry::Link("loop-b".into()));
        m.put("/etc/loop-b", Entry::Link("/etc/loop-a".into()));
        m.put("/etc/dangling", Entry::Link("nowhere".into()));
        m.put("/etc/empty", Entry::Link(String::new()));
        m.put("/var/run", Entry::Link("/run".into()));
        m.mkdir("/run/containerd");
        m.put("/proc/1/root", Entry::Magic);
        m
    }

    fn entry(parent: usize, name: &str) -> Resolved<usize> {
        Resolved::Entry {
            parent,
            name: name.into(),
        }
    }

    #[test]
    fn an_absolute_link_restarts_at_the_root_it_is_resolved_in() {
        let m = tree();
        let etc = m.mkdir_lookup("/etc");
        assert_eq!(
            resolve(&m, 1, "/etc/resolv.conf", true),
            Ok(entry(etc, "shadow"))
        );
        assert_eq!(resolve(&m, 1, "etc/rel", true), Ok(entry(etc, "shadow")));
        let run = m.mkdir_lookup("/run/containerd");
        assert_eq!(
            resolve(&m, 1, "/var/run/containerd", true),
            Ok(Resolved::Dir(run))
        );
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        let m = tree();
        assert_eq!(resolve(&m, 1, "/../../secret", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&m, 1, "/etc/up", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&m, 1, "../..", true), Ok(Resolved::Dir(1)));
        assert_eq!(resolve(&m, 1, "", true), Ok(Resolved::Dir(1)));
    }

    #[test]
    fn loops_stop_at_the_kernel_limit() {
        let m = tree();
        assert_eq!(resolve(&m, 1, "/etc/loop-a", true), Err(Errno::ELOOP));
        // A chain of exactly MAX_LINKS links resolves; one more does not.
        let mut m = Mem::new();
        m.put("/f", Entry::File);
        m.put("/l0", Entry::Link("/f".into()));
        for i in 1..=MAX_LINKS {
            m.put(&format!("/l{i}"), Entry::Link(format!("l{}", i - 1)));
        }
        let last = format!("/l{}", MAX_LINKS - 1);
        assert_eq!(resolve(&m, 1, &last, true), Ok(entry(1, "f")));
        let over = format!("/l{MAX_LINKS}");
        assert_eq!(resolve(&m, 1, &over, true), Err(Errno::ELOOP));
    }

    #[test]
    fn magic_links_are_never_followed() {
        let m = tree();
        assert_eq!(
            resolve(&m, 1, "/proc/1/root/etc/shadow", true),
            Err(Errno::ELOOP)
        );
        assert_eq!(resolve(&m, 1, "/proc/1/root", true), Err(Errno::ELOOP));
        let p1 = m.mkdir_lookup("/proc/1");
        assert_eq!(resolve(&m, 1, "/proc/1/root", false), Ok(entry(p1, "root")));
    }

    #[test]
    fn the_last_link_is_kept_when_not_followed_and_errors_are_the_kernels() {
        let m = tree();
        let etc = m.mkdir_lookup("/etc");
        assert_eq!(
            resolve(&m, 1, "/etc/resolv.conf", false),
            Ok(entry(etc, "resolv.conf"))
        );
        assert_eq!(resolve(&m, 1, "/etc/dangling", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&m, 1, "/etc/empty", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&m, 1, "/etc/shadow/x", true), Err(Errno::ENOTDIR));
    }

    impl Mem {
        fn mkdir_lookup(&self, path: &str) -> usize {
            let mut cur = 1;
            for c in components(path) {
                match self.nodes[cur].1.get(c) {
                    Some(Entry::Dir(n)) => cur = *n,
                    _ => panic!("{path}: no directory {c}"),
                }
            }
            cur
        }
    }

    /// The walk agrees with the kernel's openat2 on a real tree, link by link.
    #[test]
    fn the_walk_agrees_with_the_kernels_openat2() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("root");
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("etc/shadow"), "x").unwrap();
        std::fs::write(d.path().join("secret"), "outside").unwrap();
        nix::unistd::mkfifo(&r.join("etc/fifo"), Mode::S_IRUSR).unwrap();
        for (link, target) in [
            ("etc/abs", "/etc/shadow"),
            ("etc/rel", "../etc/./shadow"),
            ("etc/up", "../../../../secret"),
            ("etc/loop-a", "loop-b"),
            ("etc/loop-b", "/etc/loop-a"),
            ("etc/dangling", "nowhere"),
            ("etc/dir", "/etc/sub/"),
            ("etc/to-fifo", "fifo"),
            ("etc/sub/back", "../.."),
            ("etc/file-dir", "shadow/"),
            ("etc/to-file-dir", "file-dir"),
        ] {
            std::os::unix::fs::symlink(target, r.join(link)).unwrap();
        }
        let dir = Arc::new(
            nix::fcntl::open(&r, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap(),
        );
        let mut compared = 0;
        for path in [
            "",
            "/",
            "..",
            "/../..",
            "etc",
            "etc/",
            "etc/shadow",
            "etc/shadow/",
            "etc/shadow/.",
            "/etc/abs",
            "etc/rel",
            "etc/up",
            "etc/loop-a",
            "etc/dangling",
            "etc/dir",
            "etc/dir/",
            "etc/dir/../shadow",
            "etc/to-fifo",
            "etc/sub/back/etc/abs",
            "etc/missing/x",
            "etc/shadow/x",
            "etc/./sub/../abs",
            "//etc//abs",
            "etc/file-dir",
            "etc/to-file-dir",
            "etc/to-file-dir/",
        ] {
            for follow in [true, false] {
                let Some((kernel, walked)) = kernel_and_walk(&dir, path, follow) else {
                    eprintln!("skipped: no openat2 on this kernel");
                    return;
                };
                assert_eq!(kernel, walked, "{path:?} follow={follow}");
                compared += 1;
            }
        }
        assert_eq!(compared, 52);
    }
}
