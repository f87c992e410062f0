//! A real kernel OOM kill, found for real: lays out a pod the way the kubelet's cgroupfs driver
//! does on cgroup v1 (`kubepods/burstable/pod<uid>/<container-id>` with a memory limit), with
//! the pod's log directory and container log symlink, runs a process there that allocates past
//! the limit, and asserts that `nodescope check` names exactly that namespace, pod, container
//! and pid. Everything it made is removed, also when an assertion fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{FakePod, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

#[test]
fn live_real_memcg_oom_kill_is_attributed_to_its_pod_and_container() {
    if let Some(why) = memcg_unavailable() {
        return skip_or_fail(&why);
    }
    let fake = FakePod::new("nodescope-test", "oom", "hog");
    let (ns, pod, container) = (&fake.namespace, &fake.name, &fake.container);
    fs::write(
        fake.cgroup.join("memory.limit_in_bytes"),
        (32u64 << 20).to_string(),
    )
    .unwrap();
    let ctr_cg = &fake.cgroup;

    // A process in the container's cgroup that allocates past the limit: tail keeps its
    // newline-free input in memory until the kernel kills it.
    let procs = ctr_cg.join("cgroup.procs");
    let (child, dog) = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}; exec tail /dev/zero",
            procs.display()
        ))
        .watched_spawn(std::time::Duration::from_secs(60))
        .unwrap();
    let pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert!(
        !dog.disarm(),
        "the kernel never killed the allocator; the watchdog did"
    );
    assert_eq!(
        status.signal(),
        Some(9),
        "the kernel OOM killer sends SIGKILL"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", "/", "check", "--format", "json"])
        .watched_output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let kills: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "memory.kernel-oom-kill" && f["subject"]["pod"] == pod.as_str())
        .collect();
    eprintln!("{}", serde_json::to_string_pretty(&kills).unwrap());
    assert_eq!(
        kills.len(),
        1,
        "exactly one kill for the test pod: {kills:#?}"
    );
    let k = kills[0];
    assert_eq!(k["subject"]["namespace"], ns.as_str());
    assert_eq!(k["subject"]["container"], container.as_str());
    assert_eq!(k["subject"]["pid"], pid);
    assert_eq!(k["severity"], "critical", "a kill seconds ago is critical");
    assert_eq!(k["evidence"]["limit_bytes"], 32u64 << 20);
}
