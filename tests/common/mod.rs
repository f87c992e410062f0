//! Helpers shared by every module of the test binary (tests/tests.rs): the binary, fixture
//! paths, writable fixture copies; the watchdog, the live-test guards, the output proofs, and
//! the stand-in servers (`cri_server`, and `fake_apiserver.py` for tests/cluster.rs).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each module uses a subset

pub mod cri_server;
pub mod live;
pub mod outputs;
pub mod watchdog;

pub use watchdog::Watched;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const V2: &str = "healthy-v2-systemd-containerd";
pub const V1: &str = "healthy-v1-cgroupfs-crio";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap()
}

pub fn check_json(bundle: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec![
        "--bundle",
        bundle.to_str().unwrap(),
        "check",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

pub fn ids(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of the findings, without `memory.eviction-order` (info on every node with pods).
pub fn ids_but_order(report: &Value) -> Vec<String> {
    ids(report)
        .into_iter()
        .filter(|i| i != "memory.eviction-order")
        .collect()
}

pub fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

/// A writable copy of a fixture, for one edit.
pub struct Copy {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Copy {
    pub fn of(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        copy_tree(&fixture(name), &root);
        Copy { _dir: dir, root }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }
    pub fn read(&self, p: &str) -> String {
        fs::read_to_string(self.path(p)).unwrap()
    }
    pub fn write(&self, p: &str, content: &str) -> &Self {
        fs::write(self.path(p), content).unwrap();
        self
    }
    /// Replaces the value of `key` in a flat-keyed file (`key value` lines).
    pub fn set_key(&self, p: &str, key: &str, value: u64) -> &Self {
        let text = self.read(p);
        let mut found = false;
        let out: Vec<String> = text
            .lines()
            .map(|l| match l.split_once(' ') {
                Some((k, _)) if k == key => {
                    found = true;
                    format!("{k} {value}")
                }
                _ => l.to_string(),
            })
            .collect();
        assert!(found, "{key} not in {p}");
        self.write(p, &(out.join("\n") + "\n"))
    }
    pub fn remove_dir(&self, p: &str) -> &Self {
        fs::remove_dir_all(self.path(p)).unwrap();
        self
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Makes a fixture tree usable as a live `--root`: each `proc/<pid>/exe` (on a real host the
/// kernel's link to the process's executable, which a bundle does not hold) becomes a 0755
/// regular file owned by the test's user, so that, run as root (as CI runs), the kubelet of
/// the fixture passes the trust rules as it does in the bundle (docs/security.md).
pub fn with_executables(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in fs::read_dir(root.join("proc")).unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            let exe = e.path().join("exe");
            fs::write(&exe, "ELF").unwrap();
            fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

pub fn kubelet_config(c: &Copy) -> String {
    c.read("/var/lib/kubelet/config.yaml")
}

/// Drops a top-level YAML block (`key:` and its indented lines) from the kubelet config.
pub fn drop_yaml_block(text: &str, key: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with(&format!("{key}:")) {
            skipping = true;
            continue;
        }
        if skipping && (l.starts_with(' ') || l.starts_with('-')) {
            continue;
        }
        skipping = false;
        out.push(l);
    }
    out.join("\n") + "\n"
}

pub fn mem_total_bytes(c: &Copy) -> u64 {
    let m = c.read("/proc/meminfo");
    let kb: u64 = m
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kb * 1024
}

/// The snapshot of a bundle, for finding paths to edit.
pub fn snapshot(bundle: &Path) -> Value {
    serde_json::from_slice(&run(&["--bundle", bundle.to_str().unwrap(), "snapshot"]).stdout)
        .unwrap()
}

pub fn pod<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

pub fn container<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// The phases `--debug-timings` names, in order (a collector each, then the rest).
pub const DEBUG_PHASES: [&str; 18] = [
    "node",
    "mounts",
    "processes",
    "kubelet",
    "filesystems",
    "cgroup",
    "pods",
    "kernel_log",
    "kubelet_log",
    "disk",
    "dns",
    "gpu",
    "prev_log",
    "pod_shm",
    "health",
    "cluster",
    "analyze",
    "render",
];
