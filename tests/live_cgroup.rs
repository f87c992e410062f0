//! cgroup files as the running kernel writes them, on both hierarchies, read by nodescope as a
//! node: no fixture, so a kernel that formats a file differently from what the fixtures say
//! fails here.
//!
//! - v1: a pod's container cgroup in the kubelet's cgroupfs layout on the machine's memory
//!   hierarchy, with a limit and a process in it: its usage, limit and peak are the kernel's.
//! - v2: a cgroup2 hierarchy mounted for the test as the root's /sys/fs/cgroup (with /proc bound
//!   beside it), holding the systemd driver's `kubepods.slice/...-pod<uid>.slice/
//!   cri-containerd-<id>.scope` with a process in it. Where the memory and pids controllers are
//!   bound to v1 (as on this CI machine), the v2 files that exist are the core ones (cgroup.procs,
//!   cgroup.events, cpu.stat): the test asserts what the kernel's v2 hierarchy really offers, and
//!   the memory figures only when the memory controller is there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{FakePod, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn snapshot(root: &Path) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args([
            "--root",
            root.to_str().unwrap(),
            "snapshot",
            "--format",
            "json",
        ])
        .env_remove("NODESCOPE_ROOT")
        .output_within(Duration::from_secs(60))
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn container<'a>(s: &'a Value, uid: &str, cid: &str) -> &'a Value {
    let pod = s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uid"] == uid)
        .unwrap_or_else(|| panic!("pod {uid} not found in {:#}", s["pods"]));
    pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cid)
        .unwrap_or_else(|| panic!("container {cid} not found in {pod:#}"))
}

fn process(s: &Value, pid: u32) -> &Value {
    s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not among the processes"))
}

/// `sleep` in the cgroup `dir`: the shell moves itself in, then execs, so the program's pages
/// are charged there (v1 does not move charges with a process). Killed by the guard or its
/// watchdog.
fn sleeper_in(dir: &Path) -> (std::process::Child, common::watchdog::Dog) {
    let procs = dir.join("cgroup.procs");
    let (child, dog) = Command::new("sh")
        .arg("-c")
        .arg(format!("echo $$ > {} && exec sleep 90", procs.display()))
        .stdin(Stdio::null())
        .watched_spawn(Duration::from_secs(120))
        .unwrap();
    let pid = child.id().to_string();
    for _ in 0..500 {
        let here = fs::read_to_string(&procs).is_ok_and(|p| p.lines().any(|l| l == pid));
        let exec_done =
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep");
        if here && exec_done {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, dog)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn live_cgroup_v1_memory_files_from_the_kernel() {
    if let Some(why) = memcg_unavailable() {
        return skip_or_fail(&why);
    }
    let fake = FakePod::new("nodescope-test", "v1read", "app");
    let limit: u64 = 64 << 20;
    fs::write(fake.cgroup.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
    let (child, _dog) = sleeper_in(&fake.cgroup);
    let pid = child.id();
    let _sleeper = Killed(child);
    let s = snapshot(Path::new("/"));
    assert_eq!(s["cgroup"]["version"], "v1");
    let c = container(&s, &fake.uid, &fake.cid);
    let cg = &c["cgroup"];
    assert_eq!(cg["limit_bytes"], limit, "{cg:#}");
    // What the kernel itself reports for the cgroup, read back the same moment.
    let usage = cg["usage_bytes"].as_u64().expect("usage_in_bytes read");
    let peak = cg["peak_bytes"].as_u64().expect("max_usage_in_bytes read");
    assert!(usage > 0 && usage <= limit, "usage {usage}");
    assert!(peak >= usage, "peak {peak} < usage {usage}");
    assert_eq!(cg["oom_control"]["oom_kill"], 0);
    assert_eq!(process(&s, pid)["container_id"], fake.cid.as_str());
}

/// A cgroup2 hierarchy mounted at `<root>/sys/fs/cgroup`, /proc bound at `<root>/proc`, and
/// the pod's cgroups; all removed on drop, also when an assertion fails.
struct V2Root {
    root: PathBuf,
    cgroup: PathBuf,
    /// Directories created, innermost last.
    dirs: Vec<PathBuf>,
}

impl Drop for V2Root {
    fn drop(&mut self) {
        for d in self.dirs.iter().rev() {
            // Fails while a parallel run still has pods under the shared kubepods.slice: fine.
            let _ = fs::remove_dir(d);
        }
        for m in [self.root.join("proc"), self.cgroup.clone()] {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn mount_v2() -> Result<V2Root, String> {
    use nix::mount::{MsFlags, mount};
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root to mount a cgroup2 hierarchy".into());
    }
    let root = std::env::temp_dir().join(format!(
        "nodescope-v2-{}-{}",
        std::process::id(),
        common::live::random_hex(4)
    ));
    let cgroup = root.join("sys/fs/cgroup");
    fs::create_dir_all(&cgroup).unwrap();
    fs::create_dir_all(root.join("proc")).unwrap();
    let guard = V2Root {
        root: root.clone(),
        cgroup: cgroup.clone(),
        dirs: Vec::new(),
    };
    mount(
        Some("cgroup2"),
        &cgroup,
        Some("cgroup2"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| format!("mount -t cgroup2: {e}"))?;
    mount(
        Some("/proc"),
        &root.join("proc"),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("bind /proc: {e}"))?;
    Ok(guard)
}

#[test]
fn live_cgroup_v2_hierarchy_from_the_kernel_read_as_a_systemd_node() {
    let mut v2 = match mount_v2() {
        Ok(v) => v,
        Err(why) => return skip_or_fail(&why),
    };
    let uid = fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_string();
    let cid = common::live::random_hex(32);
    let kubepods = v2.cgroup.join("kubepods.slice");
    let burstable = kubepods.join("kubepods-burstable.slice");
    let pod = burstable.join(format!(
        "kubepods-burstable-pod{}.slice",
        uid.replace('-', "_")
    ));
    let scope = pod.join(format!("cri-containerd-{cid}.scope"));
    for d in [&kubepods, &burstable, &pod, &scope] {
        if !d.exists() {
            fs::create_dir(d).unwrap();
            v2.dirs.push(d.clone());
        }
    }
    // Hand memory and pids down to the scope wherever the kernel offers them here (on a v2 node
    // systemd has enabled them at the root; on a v1 node they are bound elsewhere).
    for d in [&kubepods, &burstable, &pod] {
        let offered = fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
        for ctl in ["memory", "pids"] {
            if offered.split_whitespace().any(|c| c == ctl) {
                let _ = fs::write(d.join("cgroup.subtree_control"), format!("+{ctl}"));
            }
        }
    }
    let (child, _dog) = sleeper_in(&scope);
    let pid = child.id();
    let _sleeper = Killed(child);
    // The kernel says the scope is populated, and where the process lives.
    assert!(
        fs::read_to_string(scope.join("cgroup.events"))
            .unwrap()
            .contains("populated 1")
    );
    let rel = format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{cid}.scope",
        uid.replace('-', "_")
    );
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l == format!("0::{rel}")), "{own}");

    let s = snapshot(&v2.root);
    let layout = &s["cgroup"];
    assert_eq!(layout["version"], "v2", "{layout:#}");
    assert_eq!(layout["driver"], "systemd", "{layout:#}");
    assert_eq!(layout["kubepods_path"], "/kubepods.slice");
    let c = container(&s, &uid, &cid);
    assert_eq!(c["runtime"], "containerd");
    assert_eq!(c["cgroup"]["path"], rel.as_str());
    let p = process(&s, pid);
    assert_eq!(p["comm"], "sleep");
    // A process's memory cgroup is its v1 `memory:` line when the kernel has one (a node whose
    // memory controller is on v1, as this machine's is, whatever hierarchy the test mounts),
    // else its unified `0::` line: the join to the container needs the second.
    let v1_memory = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, path)| path.to_string()));
    match v1_memory {
        Some(path) => {
            assert_eq!(p["cgroup"], path.as_str(), "the kernel's memory line");
            eprintln!("memory is on v1 here: the process joins its container only on a v2 node");
        }
        None => {
            assert_eq!(p["cgroup"], rel.as_str());
            assert_eq!(p["container_id"], cid.as_str());
        }
    }

    // Memory and pids figures exactly when the kernel gave the scope those files.
    let cg = &c["cgroup"];
    eprintln!(
        "cgroup2 controllers of the scope: {:?}",
        fs::read_to_string(scope.join("cgroup.controllers")).unwrap_or_default()
    );
    match fs::read_to_string(scope.join("memory.current")) {
        Ok(cur) => {
            let usage = cg["usage_bytes"].as_u64().expect("memory.current read");
            let kernel: u64 = cur.trim().parse().unwrap();
            // Both read while sleep runs: the same order of magnitude, not the same page.
            assert!(
                usage > 0 && usage < kernel.max(1) * 16,
                "{usage} vs {kernel}"
            );
        }
        Err(_) => assert!(
            cg["usage_bytes"].is_null(),
            "no memory.current, no usage: {cg:#}"
        ),
    }
    match fs::read_to_string(scope.join("pids.current")) {
        Ok(_) => assert_eq!(cg["pids_current"], 1, "{cg:#}"),
        Err(_) => assert!(cg["pids_current"].is_null(), "{cg:#}"),
    }
}
