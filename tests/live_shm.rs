//! A pod's /dev/shm as its process sees it, from the real kernel: a process in a pod-shaped
//! cgroup (the kubelet's cgroupfs layout on the v1 memory hierarchy) with a private 64 MiB
//! tmpfs at /dev/shm in its own mount namespace (`unshare -m`, as a runtime gives each pod its
//! own), read by nodescope as a node through `/proc/<pid>/mountinfo`. The host's /dev/shm is
//! untouched: the mount lives and dies with the namespace. Skips, saying why, where the
//! machine lacks root, a writable memory cgroup or unshare; fails instead under
//! `NODESCOPE_LIVE=required`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{FakePod, Kill, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn live_shm_a_pods_private_64_mib_dev_shm_is_read_through_its_mountinfo() {
    if let Some(why) = memcg_unavailable() {
        return skip_or_fail(&why);
    }
    if Command::new("unshare")
        .arg("--version")
        .output_within(Duration::from_secs(10))
        .map_or(true, |o| !o.status.success())
    {
        return skip_or_fail("unshare (util-linux) is not installed");
    }
    let fake = FakePod::new("nodescope-test", "shm", "trainer");
    let procs = fake.cgroup.join("cgroup.procs");
    // The shell joins the pod's cgroup, then becomes (exec) unshare, which becomes the shell
    // that mounts the tmpfs in the new namespace and becomes sleep: one pid throughout.
    let (child, _dog) = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec unshare -m --propagation private sh -c \
             'mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm && exec sleep 90'",
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
        .unwrap_or_else(|| panic!("pod {} has no /dev/shm entry: {:#}", fake.uid, s["gpu"]));
    assert_eq!(shm["pid"], pid);
    assert_eq!(shm["fs_type"], "tmpfs");
    assert_eq!(shm["size_bytes"], 64u64 << 20, "{shm:#}");
    assert_eq!(shm["empty_dir"], Value::Null);
    assert_eq!(shm["pod"], fake.name.as_str());
}
