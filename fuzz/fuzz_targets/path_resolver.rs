//! The fallback path resolver of the live host (`source/resolve.rs`), which stands in for
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` on kernels before 5.6: a tree and a path
//! from the input, resolved twice.
//!
//! Input: records separated by `nodescope_fuzz::SEP`; every record but the last is one entry
//! of the tree, `d<path>` (directory), `f<path>` (file), `m<path>` (a /proc magic link) or
//! `l<path>\0<target>` (symbolic link); the last record is the path to resolve, prefixed by
//! `!` to leave its last link unfollowed (readlink, lstat).
//!
//! 1. In memory, with a directory *outside* the root holding a secret: the resolver never
//!    panics, never asks for `.`/`..`/empty names, never ends outside the root, follows at
//!    most 40 links, never follows a magic link, and resolving the canonical path of what it
//!    found finds the same thing again.
//! 2. On a real tree (magic links left out: only procfs has them): what the walk finds is what
//!    the kernel's openat2 finds, or both fail with the same errno.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nix::errno::Errno;
use nodescope::source::resolve::{self, Found, MAX_LINKS, Resolved, Tree};
use nodescope_fuzz::SEP;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone)]
enum Entry {
    Dir(usize),
    File,
    Link(String),
    Magic,
}

/// Node 0 is outside the root and holds `secret` and `root`; node 1 is the root.
struct Mem {
    dirs: Vec<(usize, BTreeMap<String, Entry>)>,
    lookups: Cell<usize>,
    links_seen: Cell<usize>,
}

impl Mem {
    fn new() -> Self {
        let mut outside = BTreeMap::new();
        outside.insert("secret".to_string(), Entry::File);
        outside.insert("root".to_string(), Entry::Dir(1));
        Mem {
            dirs: vec![(0, outside), (0, BTreeMap::new())],
            lookups: Cell::new(0),
            links_seen: Cell::new(0),
        }
    }

    fn names(path: &str) -> Vec<&str> {
        path.split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .collect()
    }

    /// Adds `e` at `path` under the root, creating parent directories; an existing name wins.
    fn add(&mut self, path: &str, e: Entry) {
        let names = Self::names(path);
        let Some((last, parents)) = names.split_last() else {
            return;
        };
        let mut cur = 1;
        for n in parents {
            cur = match self.dirs[cur].1.get(*n) {
                Some(Entry::Dir(d)) => *d,
                Some(_) => return,
                None => {
                    self.dirs.push((cur, BTreeMap::new()));
                    let d = self.dirs.len() - 1;
                    self.dirs[cur].1.insert(n.to_string(), Entry::Dir(d));
                    d
                }
            };
        }
        let e = match e {
            Entry::Dir(_) => {
                self.dirs.push((cur, BTreeMap::new()));
                Entry::Dir(self.dirs.len() - 1)
            }
            e => e,
        };
        self.dirs[cur].1.entry(last.to_string()).or_insert(e);
    }

    /// Whether `d` is the root or below it.
    fn inside(&self, mut d: usize) -> bool {
        while d != 1 {
            if d == 0 {
                return false;
            }
            d = self.dirs[d].0;
        }
        true
    }

    /// The path of directory `d` from the root.
    fn canonical(&self, mut d: usize) -> String {
        let mut parts = Vec::new();
        while d > 1 {
            let parent = self.dirs[d].0;
            let name = self.dirs[parent]
                .1
                .iter()
                .find(|(_, e)| matches!(e, Entry::Dir(x) if *x == d))
                .map(|(n, _)| n.clone())
                .unwrap();
            parts.push(name);
            d = parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }
}

impl Tree for Mem {
    type Node = usize;
    fn lookup(&self, dir: &usize, name: &str) -> Result<Found<usize>, Errno> {
        assert!(!name.is_empty() && name != "." && name != ".." && !name.contains('/'));
        assert!(self.inside(*dir), "a lookup outside the root");
        self.lookups.set(self.lookups.get() + 1);
        match self.dirs[*dir].1.get(name) {
            None => Err(Errno::ENOENT),
            Some(Entry::Dir(d)) => Ok(Found::Dir(*d)),
            Some(Entry::File) => Ok(Found::Other),
            Some(Entry::Magic) => Ok(Found::Magic),
            Some(Entry::Link(t)) => {
                self.links_seen.set(self.links_seen.get() + 1);
                Ok(Found::Link(t.clone()))
            }
        }
    }
}

/// The tree's entries and the path, from the input.
fn parse(data: &[u8]) -> Option<(Vec<(u8, String, String)>, String, bool)> {
    let records: Vec<&[u8]> = data.split(|&b| b == SEP).collect();
    let (last, entries) = records.split_last()?;
    let mut out = Vec::new();
    for r in entries.iter().take(64) {
        let (&kind, rest) = r.split_first()?;
        let rest = String::from_utf8_lossy(rest);
        let (path, target) = rest.split_once('\0').unwrap_or((&rest, ""));
        out.push((kind, path.to_string(), target.to_string()));
    }
    let last = String::from_utf8_lossy(last).into_owned();
    let (path, follow) = match last.strip_prefix('!') {
        Some(p) => (p.to_string(), false),
        None => (last, true),
    };
    Some((out, path, follow))
}

/// The tree of the input, in memory.
fn build(entries: &[(u8, String, String)]) -> Mem {
    let mut m = Mem::new();
    for (kind, p, target) in entries {
        match kind {
            b'd' => m.add(p, Entry::Dir(0)),
            b'f' => m.add(p, Entry::File),
            b'l' => m.add(p, Entry::Link(target.clone())),
            b'm' => m.add(p, Entry::Magic),
            _ => {}
        }
    }
    m
}

fn in_memory(m: &Mem, path: &str, follow: bool) {
    let r = resolve::resolve(m, 1, path, follow);
    assert!(
        m.links_seen.get() <= MAX_LINKS + 1,
        "followed more than 40 links"
    );
    match &r {
        Ok(Resolved::Dir(d)) => {
            assert!(m.inside(*d));
            let again = resolve::resolve(m, 1, &m.canonical(*d), true);
            assert_eq!(again, Ok(Resolved::Dir(*d)), "{path:?}");
        }
        Ok(Resolved::Entry { parent, name }) => {
            assert!(m.inside(*parent));
            match m.dirs[*parent].1.get(name) {
                Some(Entry::File) => {}
                Some(Entry::Link(_)) | Some(Entry::Magic) => assert!(!follow, "{path:?}"),
                _ => panic!("{path:?} ended on {name:?}, which is no entry of its parent"),
            }
            let canon = format!("{}/{name}", m.canonical(*parent).trim_end_matches('/'));
            let again = resolve::resolve(m, 1, &canon, false);
            assert_eq!(again, r, "{path:?} -> {canon:?}");
        }
        Err(e) => assert!(
            matches!(e, Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP),
            "{e}"
        ),
    }
}

/// Writes directory `d` of `m` (and below) at `at`. Every parent is a directory this function
/// made, so no path here crosses a link: nothing is created outside `at`.
fn materialize(m: &Mem, d: usize, at: &std::path::Path) {
    for (name, e) in &m.dirs[d].1 {
        let p = at.join(name);
        match e {
            Entry::Dir(sub) => {
                if std::fs::create_dir(&p).is_ok() {
                    materialize(m, *sub, &p);
                }
            }
            Entry::File => {
                let _ = std::fs::write(&p, "");
            }
            Entry::Link(t) if !t.is_empty() => {
                let _ = std::os::unix::fs::symlink(t, &p);
            }
            // Magic links exist only in procfs; an empty target cannot be created.
            Entry::Link(_) | Entry::Magic => {}
        }
    }
}

/// The kernel's answer for the same tree on disk.
fn on_disk(m: &Mem, path: &str, follow: bool) {
    // Names the kernel cannot hold are not the resolver's to judge.
    let ok = |s: &str| !s.contains('\0') && s.len() < 1024 && s.split('/').all(|c| c.len() < 255);
    let names_ok = m.dirs.iter().all(|(_, es)| {
        es.iter()
            .all(|(n, e)| ok(n) && !matches!(e, Entry::Link(t) if !ok(t)))
    });
    if !ok(path) || !names_ok {
        return;
    }
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = std::env::temp_dir().join(format!(
        "nodescope-fuzz-resolver-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let root = base.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base.join("secret"), "outside").unwrap();
    materialize(m, 1, &root);
    let dir = Arc::new(
        nix::fcntl::open(
            &root,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap(),
    );
    let compared = resolve::kernel_and_walk(&dir, path, follow);
    drop(dir);
    std::fs::remove_dir_all(&base).unwrap();
    if let Some((kernel, walked)) = compared {
        assert_eq!(kernel, walked, "{path:?} follow={follow}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((entries, path, follow)) = parse(data) else {
        return;
    };
    let m = build(&entries);
    in_memory(&m, &path, follow);
    on_disk(&m, &path, follow);
});
