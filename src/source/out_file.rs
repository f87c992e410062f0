//! The one file nodescope writes: `capture`'s bundle. It runs as root, often in a directory
//! other users can write (`/tmp`), so it writes exactly the file it was told and nothing else:
//!
//! - the destination must be a regular file or absent: a directory, a device (`/dev/null`), a
//!   FIFO, a socket or a symbolic link is refused before anything is collected;
//! - the bytes go to a new temporary file beside it, created `O_CREAT|O_EXCL|O_NOFOLLOW` with
//!   mode 0600 under an unpredictable name, so nothing planted there (a link to
//!   `/etc/shadow`) is ever opened;
//! - it is renamed over the destination only after a second look right before the rename:
//!   still absent (then the rename refuses to replace anything that appeared meanwhile), or
//!   still the regular file seen first (same device and inode);
//! - on any failure the temporary file is removed.
//!
//! `-` means standard output instead (docs/security.md, "What nodescope writes").

use anyhow::{Context, bail};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What the destination was when first looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Absent,
    /// A regular file: its device and inode.
    Regular(u64, u64),
}

/// A checked destination: a regular file to replace, or a name that is free.
#[derive(Debug)]
pub struct Destination {
    path: PathBuf,
    seen: Seen,
}

impl Destination {
    /// Looks at `path` without following a link and refuses anything but a regular file or
    /// nothing; the error says what is there.
    pub fn check(path: &Path) -> anyhow::Result<Self> {
        let seen = look(path)?;
        Ok(Destination {
            path: path.to_path_buf(),
            seen,
        })
    }

    /// The destination as named.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file: `write` fills a new temporary file beside the destination, which then
    /// replaces it (see the module docs). Nothing is left behind when either step fails.
    pub fn write<T>(
        &self,
        write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut tmp = Temp::create(&self.path)?;
        let shown = tmp.path.display().to_string();
        let out = {
            let mut w = io::BufWriter::new(tmp.file()?);
            let out = write(&mut w)?;
            w.flush().with_context(|| format!("writing {shown}"))?;
            out
        };
        tmp.file()?
            .sync_all()
            .with_context(|| format!("writing {shown}"))?;
        self.replace_with(&mut tmp)?;
        Ok(out)
    }

    /// Renames `tmp` over the destination after a second look at it.
    fn replace_with(&self, tmp: &mut Temp) -> anyhow::Result<()> {
        let now = look(&self.path)?;
        if now != self.seen {
            bail!(
                "{} changed while the bundle was being written; not replacing it",
                self.path.display()
            );
        }
        let renamed = match now {
            // RENAME_NOREPLACE: whatever appeared since the look is never replaced.
            Seen::Absent => nix::fcntl::renameat2(
                nix::fcntl::AT_FDCWD,
                &tmp.path,
                nix::fcntl::AT_FDCWD,
                &self.path,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            )
            .map_err(io::Error::from),
            Seen::Regular(..) => fs::rename(&tmp.path, &self.path),
        };
        renamed.with_context(|| {
            format!("renaming {} to {}", tmp.path.display(), self.path.display())
        })?;
        tmp.done = true;
        Ok(())
    }
}

/// What is at `path` (not following a link), or why it may not be written.
fn look(path: &Path) -> anyhow::Result<Seen> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Seen::Absent),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    let ft = meta.file_type();
    let what = if ft.is_file() {
        return Ok(Seen::Regular(meta.dev(), meta.ino()));
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    bail!(
        "refusing to write the bundle to {}: it is {what}; name a regular file or a new one, or `-` for standard output",
        path.display()
    )
}

/// The temporary file, removed on drop unless renamed into place.
struct Temp {
    path: PathBuf,
    file: Option<File>,
    done: bool,
}

impl Temp {
    /// Creates `.<name>.<random>.partial` beside `dest`: `O_CREAT|O_EXCL|O_NOFOLLOW`, 0600.
    fn create(dest: &Path) -> anyhow::Result<Self> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "nodescope-bundle".into());
        let mut last = None;
        for _ in 0..16 {
            let path = dir.join(format!(".{name}.{:016x}.partial", random_u64()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(f) => {
                    return Ok(Temp {
                        path,
                        file: Some(f),
                        done: false,
                    });
                }
                // Taken (by chance, or planted): another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", path.display()));
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free name")))
            .with_context(|| format!("creating a temporary file in {}", dir.display()))
    }

    fn file(&mut self) -> anyhow::Result<&mut File> {
        self.file
            .as_mut()
            .context("the temporary file is already closed")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        self.file = None;
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// 64 unpredictable bits: std's `RandomState` is keyed from the operating system's random
/// source, and each instance differs.
fn random_u64() -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = d.path().join("link.tar.gz");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = Destination::check(&link).unwrap_err().to_string();
        assert!(e.contains("it is a symbolic link"), "{e}");
        let e = Destination::check(d.path()).unwrap_err().to_string();
        assert!(e.contains("it is a directory"), "{e}");
        let e = Destination::check(Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("it is a character device"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn replaces_a_regular_file_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("b.tar.gz");
        fs::write(&out, "old").unwrap();
        let dest = Destination::check(&out).unwrap();
        dest.write(|w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        // A failing writer leaves the old file and no temporary one.
        let dest = Destination::check(&out).unwrap();
        assert!(
            dest.write(|_| -> anyhow::Result<()> { bail!("boom") })
                .is_err()
        );
        assert_eq!(fs::read(&out).unwrap(), b"new");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_destination_that_changes_before_the_rename_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("b.tar.gz");
        let dest = Destination::check(&out).unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let e = dest
            .write(|w| {
                // Planted while the bundle is written.
                std::os::unix::fs::symlink(&victim, &out)?;
                Ok(w.write_all(b"bundle")?)
            })
            .unwrap_err()
            .to_string();
        assert!(e.contains("it is a symbolic link"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }
}
