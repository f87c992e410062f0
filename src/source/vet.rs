//! Whether a path on the host is root's alone: the file and every directory on the way to it
//! owned by root and writable by no one else, symbolic links followed by hand under the host
//! root. Only then may nodescope, running as root, believe what the file says, run it, or load
//! it (docs/security.md, "Who is trusted").
//!
//! Links are resolved here rather than by the kernel for two reasons: a directory on the way
//! that someone else can write lets them swap the file after the check (so each one is
//! checked), and under `--root /host` an absolute link target names a path on the node, which
//! the kernel would resolve in nodescope's own container. Callers read the returned
//! [`Vetted::path`], which holds no links, so the file read is the file checked.
//!
//! Everything goes through [`Host::read_link`] and [`Host::metadata`], so a capture records the
//! answers and a replay of the bundle makes the same decision.

use super::{EntryKind, ErrorKind, FileMeta, Host, join};
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// How many symbolic links one resolution may follow: Linux's own limit (`MAXSYMLINKS`,
/// include/linux/namei.h), after which open(2) fails with ELOOP.
pub const MAX_LINKS: usize = 40;

/// What the vetted path must be at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A regular file (a configuration, a certificate, a token, a library).
    File,
    /// A regular file with an execute bit (an exec credential plugin).
    Executable,
    /// A directory (`--config-dir`, listed before its drop-ins are vetted one by one).
    Dir,
}

/// A path that passed: where it really is (absolute, no links, no `..`) and what stat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vetted {
    pub path: String,
    pub meta: FileMeta,
}

/// Why a path did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// [`ErrorKind::Untrusted`] when ownership or mode refused it; the host's own kind when
    /// a component could not be read (missing, denied).
    pub kind: ErrorKind,
    /// The component that failed (the file itself, or a directory or link on the way).
    pub at: String,
    pub why: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.at, self.why)
    }
}

/// Vets `path` (absolute on the host): `/` and each directory below it, each link's target in
/// turn, and the final component, which must be what `want` says.
pub fn vet(host: &dyn Host, path: &str, want: Want) -> Result<Vetted, Refused> {
    Vetter::new(host).vet(path, want)
}

/// What the host said of one directory on the way to a vetted path.
#[derive(Clone)]
enum Step {
    /// A symbolic link to this target.
    Link(String),
    /// Not a link: stat's answer, already judged.
    Checked(Result<FileMeta, Refused>),
}

/// Vets many paths in one pass (a collector's 256 log files, 2,000 Docker configs): each
/// directory on their way is asked about (`read_link`, then `metadata`) once per pass rather
/// than once per path. The last component of each path is always asked afresh, so its size
/// and kind are current. A pass is short (one collection); a directory that changes owner
/// within it is as racy as it is between the check and the read of a single path.
pub struct Vetter<'h> {
    host: &'h dyn Host,
    seen: HashMap<String, Step>,
}

impl<'h> Vetter<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Vetter {
            host,
            seen: HashMap::new(),
        }
    }

    /// As [`vet`], with the directories on the way remembered for the next call.
    pub fn vet(&mut self, path: &str, want: Want) -> Result<Vetted, Refused> {
        if !path.starts_with('/') {
            return Err(refused(
                ErrorKind::Untrusted,
                path,
                "is not an absolute path",
            ));
        }
        let root = self.step("/", true);
        let Step::Checked(root) = root else {
            return Err(refused(ErrorKind::Invalid, "/", "is a symbolic link"));
        };
        let mut meta = root?;
        let mut pending: VecDeque<String> = components(path);
        let mut cur = "/".to_string();
        let mut links = 0usize;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                cur = parent(&cur);
                continue;
            }
            let next = join(&cur, &c);
            match self.step(&next, !pending.is_empty()) {
                Step::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(refused(
                            ErrorKind::Invalid,
                            path,
                            "has too many levels of symbolic links",
                        ));
                    }
                    let mut rest = components(&target);
                    rest.extend(pending);
                    pending = rest;
                    if target.starts_with('/') {
                        cur = "/".into();
                    }
                    continue;
                }
                Step::Checked(m) => meta = m?,
            }
            if !pending.is_empty() && meta.kind != EntryKind::Dir {
                return Err(refused(ErrorKind::Invalid, &next, "is not a directory"));
            }
            cur = next;
        }
        match (want, meta.kind) {
            (Want::Dir, EntryKind::Dir) | (Want::File, EntryKind::File) => {}
            (Want::Executable, EntryKind::File) if meta.mode & 0o111 != 0 => {}
            (Want::Executable, EntryKind::File) => {
                return Err(refused(ErrorKind::Untrusted, &cur, "is not executable"));
            }
            (Want::Dir, _) => return Err(refused(ErrorKind::Invalid, &cur, "is not a directory")),
            _ => return Err(refused(ErrorKind::Invalid, &cur, "is not a regular file")),
        }
        Ok(Vetted { path: cur, meta })
    }

    /// One component: a link's target, or stat's judged answer; from the pass's memory when
    /// `remember` (a directory on the way) and it was asked before.
    fn step(&mut self, path: &str, remember: bool) -> Step {
        if let Some(s) = self.seen.get(path).filter(|_| remember) {
            return s.clone();
        }
        // The root is where resolution starts: stat'ed, never read as a link.
        let link = (path != "/").then(|| self.host.read_link(path));
        let s = match link {
            None => Step::Checked(checked(self.host, path)),
            Some(Ok(target)) => Step::Link(target),
            Some(Err(e)) if e.kind == ErrorKind::Missing => {
                Step::Checked(Err(refused(ErrorKind::Missing, path, "does not exist")))
            }
            Some(Err(_)) => Step::Checked(checked(self.host, path)),
        };
        if remember {
            self.seen.insert(path.to_string(), s.clone());
        }
        s
    }
}

fn checked(host: &dyn Host, path: &str) -> Result<FileMeta, Refused> {
    let meta = host.metadata(path).map_err(|e| {
        let why = match e.kind {
            ErrorKind::Missing => "does not exist".to_string(),
            k => format!("could not be examined: {k}"),
        };
        refused(e.kind, path, &why)
    })?;
    match meta.distrust() {
        Some(why) => Err(refused(ErrorKind::Untrusted, path, &format!("is {why}"))),
        None => Ok(meta),
    }
}

fn refused(kind: ErrorKind, at: &str, why: &str) -> Refused {
    Refused {
        kind,
        at: at.to_string(),
        why: why.to_string(),
    }
}

/// The components of a path, `.` and empty ones dropped, `..` kept (it is resolved against
/// the link-free directory reached so far, as the kernel does).
fn components(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(String::from)
        .collect()
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => p[..i].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bundle::BundleHost;
    use crate::source::counting::Counting;
    use std::path::Path;

    /// A bundle directory: `files` at their paths, `links` as symbolic links, `meta` recorded
    /// as a capture records `Host::metadata` answers (anything else reads as root's 0644/0755).
    fn bundle(
        dir: &Path,
        files: &[&str],
        links: &[(&str, &str)],
        meta: serde_json::Value,
    ) -> BundleHost {
        for f in files {
            let p = dir.join(f.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        for (l, t) in links {
            let p = dir.join(l.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(t, p).unwrap();
        }
        std::fs::write(
            dir.join("nodescope-bundle.json"),
            serde_json::json!({"format": "nodescope-bundle/1",
                "captured_at": "2026-11-22T03:00:00Z", "metadata": meta})
            .to_string(),
        )
        .unwrap();
        BundleHost::open(dir).unwrap()
    }

    fn meta(uid: u32, mode: u32, kind: &str) -> serde_json::Value {
        serde_json::json!({"uid": uid, "gid": uid, "mode": mode, "kind": kind, "size": 1})
    }

    #[test]
    fn a_root_owned_file_in_root_owned_directories_passes_and_links_resolve_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let h = bundle(
            d.path(),
            &["/etc/kubernetes/kubelet.conf", "/opt/real/config.yaml"],
            &[
                ("/etc/kubernetes/link.conf", "kubelet.conf"),
                ("/var/lib/kubelet/config.yaml", "/opt/real/config.yaml"),
                ("/etc/loop", "/etc/loop"),
            ],
            serde_json::json!({}),
        );
        let v = vet(&h, "/etc/kubernetes/kubelet.conf", Want::File).unwrap();
        assert_eq!(v.path, "/etc/kubernetes/kubelet.conf");
        assert_eq!(
            vet(&h, "/etc/kubernetes/link.conf", Want::File)
                .unwrap()
                .path,
            "/etc/kubernetes/kubelet.conf"
        );
        assert_eq!(
            vet(&h, "/var/lib/kubelet/config.yaml", Want::File)
                .unwrap()
                .path,
            "/opt/real/config.yaml",
            "an absolute target is a path under the host root"
        );
        assert_eq!(
            vet(&h, "/etc/kubernetes/../kubernetes/kubelet.conf", Want::File)
                .unwrap()
                .path,
            "/etc/kubernetes/kubelet.conf"
        );
        let e = vet(&h, "/etc/loop", Want::File).unwrap_err();
        assert!(e.why.contains("too many levels"), "{e}");
        let e = vet(&h, "/etc/kubernetes", Want::File).unwrap_err();
        assert_eq!(e.to_string(), "/etc/kubernetes is not a regular file");
        assert!(vet(&h, "/etc/kubernetes", Want::Dir).is_ok());
        let e = vet(&h, "/etc/nope.conf", Want::File).unwrap_err();
        assert_eq!(
            (e.kind, e.to_string()),
            (ErrorKind::Missing, "/etc/nope.conf does not exist".into())
        );
        assert!(vet(&h, "etc/kubernetes/kubelet.conf", Want::File).is_err());
    }

    #[test]
    fn the_file_a_directory_or_a_link_target_that_someone_else_controls_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let h = bundle(
            d.path(),
            &[
                "/home/u/kubelet.yaml",
                "/etc/kubernetes/group.conf",
                "/etc/kubernetes/world.conf",
                "/tmp/x/config.yaml",
                "/usr/bin/plugin",
                "/usr/bin/data",
            ],
            &[("/etc/kubernetes/via-tmp.conf", "/tmp/x/config.yaml")],
            serde_json::json!({
                "/home/u/kubelet.yaml": meta(1000, 0o644, "file"),
                "/etc/kubernetes/group.conf": meta(0, 0o664, "file"),
                "/etc/kubernetes/world.conf": meta(0, 0o646, "file"),
                "/tmp": meta(0, 0o1777, "dir"),
                "/usr/bin/plugin": meta(0, 0o755, "file"),
                "/usr/bin/data": meta(0, 0o644, "file"),
            }),
        );
        let why = |p: &str| vet(&h, p, Want::File).unwrap_err().to_string();
        assert_eq!(
            why("/home/u/kubelet.yaml"),
            "/home/u/kubelet.yaml is owned by uid 1000, not root"
        );
        assert_eq!(
            why("/etc/kubernetes/group.conf"),
            "/etc/kubernetes/group.conf is writable by its group, gid 0 (mode 0664)"
        );
        assert_eq!(
            why("/etc/kubernetes/world.conf"),
            "/etc/kubernetes/world.conf is writable by others (mode 0646)"
        );
        assert_eq!(
            why("/etc/kubernetes/via-tmp.conf"),
            "/tmp is writable by others (mode 1777)",
            "a root-owned link into a world-writable directory"
        );
        assert!(vet(&h, "/usr/bin/plugin", Want::Executable).is_ok());
        assert_eq!(
            vet(&h, "/usr/bin/data", Want::Executable)
                .unwrap_err()
                .to_string(),
            "/usr/bin/data is not executable"
        );
        let e = vet(&h, "/home/u/kubelet.yaml", Want::File).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
    }

    /// One pass over many log files asks about each directory on their way once, and about
    /// each file itself every time; the answers are the single-path `vet`'s, refusals included.
    #[test]
    fn a_pass_asks_about_each_directory_once() {
        let d = tempfile::tempdir().unwrap();
        let logs = [
            "/var/log/pods/a_p_1/c/0.log",
            "/var/log/pods/a_p_1/d/0.log",
            "/var/log/pods/b_q_2/c/0.log",
        ];
        let h = bundle(
            d.path(),
            &logs,
            &[],
            serde_json::json!({"/var/log/pods/b_q_2": {"uid": 1000, "gid": 0, "mode": 0o755, "kind": "dir", "size": 0}}),
        );
        let asked = Counting::new(BundleHost::open(d.path()).unwrap());
        let alone: Vec<_> = logs.iter().map(|l| vet(&h, l, Want::File)).collect();
        let mut pass = Vetter::new(&asked);
        let together: Vec<_> = logs.iter().map(|l| pass.vet(l, Want::File)).collect();
        assert_eq!(together, alone);
        assert!(together[0].is_ok() && together[1].is_ok());
        assert_eq!(
            together[2].as_ref().unwrap_err().to_string(),
            "/var/log/pods/b_q_2 is owned by uid 1000, not root"
        );
        // Directories: / var log pods a_p_1 a_p_1/c a_p_1/d b_q_2 (refused: b_q_2/c never
        // reached), 8 stat calls and 7 links (never of /); files: 2 of each.
        assert_eq!(asked.calls(), (7 + 2, 8 + 2));
        // One path alone asks about all of its 6 directories and itself.
        let once = Counting::new(BundleHost::open(d.path()).unwrap());
        Vetter::new(&once).vet(logs[0], Want::File).unwrap();
        assert_eq!(once.calls(), (6, 7));
    }
}
