//! A pod's /dev/shm as its process sees it, from the real kernel: a process in a pod-shaped
//! cgroup (the kubelet's cgroupfs layout on the v1 memory hierarchy) with a private 64 MiB
//! tmpfs at /dev/shm in its own mount namespace (`unshare -m`, as a runtime gives each pod its
//! own), read by nodescope as a node through `/proc/<pid>/mountinfo`. The host's /dev/shm is
//! untouched: the mount lives and dies with the namespace. Skips, saying why, where the
//! machine lacks root, a writable memory cgroup or unshare; fails instead under
//! `NODESCOPE_LIVE=required`. A second test mounts the tmpfs without `size=` and checks the
//! size nodescope learns by statvfs through the process's root (`size_from: statvfs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{FakePod, Kill, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A process in a fresh pod-shaped cgroup with a private tmpfs mounted with `opts` at its
/// /dev/shm, and nodescope's snapshot entry for that pod's /dev/shm: (entry, pid, pod name).
/// `None` when the machine cannot run it (skipped, or failed under `NODESCOPE_LIVE=required`).
fn shm_of_a_pod(opts: &str) -> Option<(Value, u32, String)> {
    if let Some(why) = memcg_unavailable() {
        skip_or_fail(&why);
        return None;
    }
    if Command::new("unshare")
        .arg("--version")
        .output_within(Duration::from_secs(10))
        .map_or(true, |o| !o.status.success())
    {
        skip_or_fail("unshare (util-linux) is not installed");
        return None;
    }
    let fake = FakePod::new("nodescope-test", "shm", "trainer");
    let procs = fake.cgroup.join("cgroup.procs");
    // The shell joins the pod's cgroup, then becomes (exec) unshare, which becomes the shell
    // that mounts the tmpfs in the new namespace and becomes sleep: one pid throughout.
    let (child, _dog) = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec unshare -m --propagation private sh -c \
             'mount -t tmpfs -o {opts} tmpfs /dev/shm && exec sleep 90'",
            procs.display()
        ))
        .stdin(Stdio::null())
        .watched_spawn(Duration::from_secs(120))
        .unwrap();
    let pid = child.id();
    let _sleeper = Kill(child);
    let mut ready = false;
    for _ in 0..500 {
        if fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(ready, "the sleeper never started");
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args([
            "--root",
            "/",
            "--no-cluster",
            "snapshot",
            "--format",
            "json",
        ])
        .env_remove("NODESCOPE_ROOT")
        .output_within(Duration::from_secs(60))
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let shm = s["gpu"]["pod_shm"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["pod_uid"] == fake.uid.as_str())
        .unwrap_or_else(|| panic!("pod {} has no /dev/shm entry: {:#}", fake.uid, s["gpu"]))
        .clone();
    Some((shm, pid, fake.name.clone()))
}

#[test]
fn live_shm_a_pods_private_64_mib_dev_shm_is_read_through_its_mountinfo() {
    let Some((shm, pid, name)) = shm_of_a_pod("size=64m,mode=1777") else {
        return;
    };
    assert_eq!(shm["pid"], pid);
    assert_eq!(shm["fs_type"], "tmpfs");
    assert_eq!(shm["size_bytes"], 64u64 << 20, "{shm:#}");
    assert_eq!(shm["size_from"], "mount-option");
    assert_eq!(shm["empty_dir"], Value::Null);
    assert_eq!(shm["pod"], name.as_str());
}

/// A tmpfs mounted without `size=` shows none in mountinfo (mm/shmem.c shmem_show_options
/// prints it only when it is not the default, half of RAM): nodescope sizes it by statvfs
/// through the process's root, and gets the pod's mount, not the node's /dev/shm.
#[test]
fn live_shm_a_dev_shm_without_size_is_sized_by_statvfs_through_the_process_root() {
    let Some((shm, pid, _)) = shm_of_a_pod("mode=1777") else {
        return;
    };
    let mem_kib: u64 = fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    // shmem_default_max_blocks() = totalram_pages() / 2, in 4 KiB pages (x86-64, arm64 4K).
    let half = mem_kib / 4 / 2 * 4096;
    assert_eq!(shm["pid"], pid);
    assert_eq!(shm["size_bytes"], half, "{shm:#}");
    assert_eq!(shm["size_from"], "statvfs");
}
