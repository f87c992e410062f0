//! A directory whose contents nodescope does not trust (a bundle attached to a ticket, a
//! `--cluster-dump` directory), read so that nothing in it can redirect a read elsewhere.
//!
//! Every path inside is opened one component at a time with `openat(2)` relative to the handle
//! of its parent and `O_NOFOLLOW`: a symbolic link anywhere on the way (one swapped in after
//! the directory was listed) fails the open instead of being followed by the kernel, so a link
//! to `/etc/shadow` can never be read through. Symbolic links a bundle holds on purpose are
//! resolved by the bundle's own resolver ([`super::bundle`]), inside the bundle, never here.
//! Files are opened `O_NONBLOCK` (a FIFO swapped in cannot block the open), checked with
//! `fstat` to be regular files, and read up to a cap (a file that grows is refused, not read
//! forever). Opening a file can also demand the device and inode seen when it was listed, so a
//! regular file renamed over the listed one is refused too.

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// What a listing saw of one entry (`fstatat(2)` without following links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub kind: ListedKind,
    /// Bytes, for regular files (`st_size`; a sparse file's apparent size).
    pub size: u64,
    /// Device and inode, to recognise the same file when it is opened later.
    pub id: FileId,
}

/// The type of a listed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedKind {
    File,
    Dir,
    Symlink,
    /// Socket, FIFO, character or block device: never opened.
    Special,
}

/// Device and inode of a file: the same pair means the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    fn of(st: &FileStat) -> Self {
        FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// An open handle on an untrusted directory; every access is relative to it.
#[derive(Debug)]
pub struct SafeDir {
    fd: OwnedFd,
}

/// The flags every intermediate directory is opened with: never through a link.
fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

impl SafeDir {
    /// Opens `path` itself, which the user named (links in `path` are followed: the user chose
    /// them). Fails unless it is a directory.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(SafeDir { fd })
    }

    /// Opens the directory `components` below this one, one component at a time, never
    /// following a link. No components: this directory again.
    fn open_dir(&self, components: &[&str]) -> io::Result<OwnedFd> {
        let mut cur = self.fd.try_clone()?;
        for c in components {
            check_component(c)?;
            cur = match openat(cur.as_fd(), *c, dir_flags(), Mode::empty()) {
                Ok(fd) => fd,
                // O_DIRECTORY reports a link as ENOTDIR: say it was a link, not followed.
                Err(nix::errno::Errno::ENOTDIR) if is_link(&cur, c) => {
                    return Err(nix::errno::Errno::ELOOP.into());
                }
                Err(e) => return Err(e.into()),
            };
        }
        Ok(cur)
    }

    /// The entries of the directory `components` below this one (unsorted; `.` and `..`
    /// left out), each typed and sized by `fstatat(AT_SYMLINK_NOFOLLOW)`.
    pub fn list(&self, components: &[&str]) -> io::Result<Vec<Listed>> {
        let fd = self.open_dir(components)?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(io::Error::from)?;
        let mut names = Vec::new();
        for e in dir.iter() {
            let e = e.map_err(io::Error::from)?;
            let name = e.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(e.file_name().to_owned());
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            let st = match nix::sys::stat::fstatat(
                dir.as_fd(),
                n.as_c_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(st) => st,
                // Removed between the listing and the stat: it is not there.
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(Listed {
                name: n.to_string_lossy().into_owned(),
                kind: kind_of(&st),
                size: u64::try_from(st.st_size).unwrap_or(0),
                id: FileId::of(&st),
            });
        }
        Ok(out)
    }

    /// The target of the link `name` in the directory `components`, as stored.
    pub fn read_link(&self, components: &[&str], name: &str) -> io::Result<String> {
        check_component(name)?;
        let fd = self.open_dir(components)?;
        let t = nix::fcntl::readlinkat(fd.as_fd(), name).map_err(io::Error::from)?;
        Ok(t.to_string_lossy().into_owned())
    }

    /// Opens the regular file at `components` (the last one its name) without following any
    /// link and without blocking, and checks what was opened: a regular file, and when
    /// `expect` is given, that very file (device and inode). Returns the file and its size.
    pub fn open_file(
        &self,
        components: &[&str],
        expect: Option<FileId>,
    ) -> Result<(File, u64), OpenError> {
        let Some((name, dirs)) = components.split_last() else {
            return Err(OpenError::NotRegular("a directory"));
        };
        check_component(name).map_err(OpenError::Io)?;
        let dir = self.open_dir(dirs).map_err(OpenError::from_io)?;
        let fd = openat(
            dir.as_fd(),
            *name,
            OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| OpenError::from_io(e.into()))?;
        let st = fstat(fd.as_fd()).map_err(|e| OpenError::Io(e.into()))?;
        match kind_of(&st) {
            ListedKind::File => {}
            ListedKind::Dir => return Err(OpenError::NotRegular("a directory")),
            ListedKind::Symlink => return Err(OpenError::Link),
            ListedKind::Special => return Err(OpenError::NotRegular(special_name(&st))),
        }
        if expect.is_some_and(|id| id != FileId::of(&st)) {
            return Err(OpenError::Replaced);
        }
        Ok((File::from(fd), u64::try_from(st.st_size).unwrap_or(0)))
    }

    /// [`SafeDir::open_file`], read whole: at most `max` bytes, more is an error.
    pub fn read_file(
        &self,
        components: &[&str],
        expect: Option<FileId>,
        max: u64,
    ) -> Result<Vec<u8>, OpenError> {
        let (f, size) = self.open_file(components, expect)?;
        if size > max {
            return Err(OpenError::TooBig { size, max });
        }
        read_capped(f, size, max)
    }
}

/// Reads a file of `size` bytes (by fstat) to its end, refusing more than `max`.
pub fn read_capped(f: impl Read, size: u64, max: u64) -> Result<Vec<u8>, OpenError> {
    let mut buf = Vec::with_capacity(usize::try_from(size.min(max)).unwrap_or(0));
    f.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(OpenError::Io)?;
    if buf.len() as u64 > max {
        return Err(OpenError::TooBig {
            size: buf.len() as u64,
            max,
        });
    }
    Ok(buf)
}

/// Why a file of an untrusted directory was not opened.
#[derive(Debug)]
pub enum OpenError {
    Missing,
    /// A symbolic link where a file or directory was expected.
    Link,
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// A different file than the one listed (renamed over it after the listing).
    Replaced,
    TooBig {
        size: u64,
        max: u64,
    },
    Io(io::Error),
}

impl OpenError {
    fn from_io(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(c) if c == nix::libc::ENOENT => OpenError::Missing,
            Some(c) if c == nix::libc::ELOOP => OpenError::Link,
            Some(c) if c == nix::libc::ENOTDIR => OpenError::NotRegular("below a non-directory"),
            _ => OpenError::Io(e),
        }
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Missing => f.write_str("no such file"),
            OpenError::Link => f.write_str("a symbolic link (not followed)"),
            OpenError::NotRegular(what) => write!(f, "{what}, not a regular file"),
            OpenError::Replaced => f.write_str("replaced by another file after it was listed"),
            OpenError::TooBig { size, max } => {
                write!(f, "{size} bytes, over the {max}-byte limit of one file")
            }
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// One path component: no separators, not `.` or `..` (bundle paths are normalized before
/// they get here; this is the last line of defence).
fn check_component(c: &str) -> io::Result<()> {
    if c.is_empty() || c == "." || c == ".." || c.contains('/') || c.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{c:?} is not a plain file name"),
        ));
    }
    Ok(())
}

/// Whether `name` in `dir` is a symbolic link (not followed).
fn is_link(dir: &OwnedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| kind_of(&st) == ListedKind::Symlink)
}

fn kind_of(st: &FileStat) -> ListedKind {
    match st.st_mode & nix::libc::S_IFMT {
        nix::libc::S_IFREG => ListedKind::File,
        nix::libc::S_IFDIR => ListedKind::Dir,
        nix::libc::S_IFLNK => ListedKind::Symlink,
        _ => ListedKind::Special,
    }
}

fn special_name(st: &FileStat) -> &'static str {
    match st.st_mode & nix::libc::S_IFMT {
        nix::libc::S_IFIFO => "a FIFO",
        nix::libc::S_IFSOCK => "a socket",
        nix::libc::S_IFCHR => "a character device",
        nix::libc::S_IFBLK => "a block device",
        _ => "a special file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn files_open_only_through_real_directories_and_never_through_links() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("b");
        fs::create_dir_all(r.join("proc/1")).unwrap();
        fs::write(r.join("proc/1/cmdline"), "init\0").unwrap();
        fs::write(d.path().join("secret"), "MARKER").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), r.join("proc/1/link")).unwrap();
        std::os::unix::fs::symlink(r.join("proc/1"), r.join("proc/self")).unwrap();
        let s = SafeDir::open(&r).unwrap();
        assert_eq!(
            s.read_file(&["proc", "1", "cmdline"], None, 100).unwrap(),
            b"init\0"
        );
        assert!(matches!(
            s.read_file(&["proc", "1", "link"], None, 100),
            Err(OpenError::Link)
        ));
        assert!(matches!(
            s.read_file(&["proc", "self", "cmdline"], None, 100),
            Err(OpenError::Link)
        ));
        assert!(matches!(
            s.read_file(&["proc", "..", "..", "secret"], None, 100),
            Err(OpenError::Io(_))
        ));
        assert!(matches!(
            s.read_file(&["proc", "1", "cmdline"], None, 2),
            Err(OpenError::TooBig { size: 5, max: 2 })
        ));
        let mut l = s.list(&["proc", "1"]).unwrap();
        l.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(l[0].name, "cmdline");
        assert_eq!((l[0].kind, l[0].size), (ListedKind::File, 5));
        assert_eq!(l[1].kind, ListedKind::Symlink);
        assert_eq!(
            s.read_link(&["proc", "1"], "link").unwrap(),
            d.path().join("secret").display().to_string()
        );
        // The listed file, renamed over by another: refused by its inode.
        let id = l[0].id;
        fs::write(r.join("other"), "MARKER").unwrap();
        fs::rename(r.join("other"), r.join("proc/1/cmdline")).unwrap();
        assert!(matches!(
            s.read_file(&["proc", "1", "cmdline"], Some(id), 100),
            Err(OpenError::Replaced)
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&d.path().join("pods.json"), Mode::S_IRWXU).unwrap();
        let s = SafeDir::open(d.path()).unwrap();
        let e = s.read_file(&["pods.json"], None, 100).unwrap_err();
        assert_eq!(e.to_string(), "a FIFO, not a regular file");
    }
}
