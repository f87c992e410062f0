//! A real kernel OOM kill, found for real: lays out a pod the way the kubelet's cgroupfs driver
//! does on cgroup v1 (`kubepods/burstable/pod<uid>/<container-id>` with a memory limit), with
//! the pod's log directory and container log symlink, runs a process there that allocates past
//! the limit, and asserts that `nodescope check` names exactly that namespace, pod, container
//! and pid. Everything it made is removed, also when an assertion fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use serde_json::Value;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const MEMCG: &str = "/sys/fs/cgroup/memory";

/// Everything the test created, removed in reverse order on drop.
#[derive(Default)]
struct Cleanup {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in self.files.iter().rev() {
            let _ = fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            // cgroup directories go with rmdir; log directories may hold files.
            if d.starts_with(MEMCG) {
                let _ = fs::remove_dir(d);
            } else {
                let _ = fs::remove_dir_all(d);
            }
        }
    }
}

fn mkdir(c: &mut Cleanup, p: &Path) {
    if !p.exists() {
        fs::create_dir_all(p).unwrap();
        c.dirs.push(p.to_path_buf());
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn can_run() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root to create memory cgroups".into());
    }
    let probe = Path::new(MEMCG).join(format!("nodescope-probe-{}", std::process::id()));
    fs::create_dir(&probe)
        .map_err(|e| format!("no writable cgroup v1 memory hierarchy at {MEMCG}: {e}"))?;
    let _ = fs::remove_dir(&probe);
    Ok(())
}

#[test]
fn live_real_memcg_oom_kill_is_attributed_to_its_pod_and_container() {
    if let Err(why) = can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut c = Cleanup::default();
    let uid = fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_string();
    let cid = random_hex(32);
    let ns = "nodescope-test";
    let pod = format!("oom-{}", &uid[..8]);
    let container = "hog";

    // The kubelet's cgroupfs layout on v1 (k8s-semantics §4.1).
    let kubepods = Path::new(MEMCG).join("kubepods");
    mkdir(&mut c, &kubepods);
    mkdir(&mut c, &kubepods.join("burstable"));
    let pod_cg = kubepods.join("burstable").join(format!("pod{uid}"));
    mkdir(&mut c, &pod_cg);
    let ctr_cg = pod_cg.join(&cid);
    mkdir(&mut c, &ctr_cg);
    fs::write(
        ctr_cg.join("memory.limit_in_bytes"),
        (32u64 << 20).to_string(),
    )
    .unwrap();

    // Pod identity as the kubelet leaves it on disk.
    let log_dir = PathBuf::from(format!("/var/log/pods/{ns}_{pod}_{uid}"));
    mkdir(&mut c, Path::new("/var/log/pods"));
    mkdir(&mut c, &log_dir);
    mkdir(&mut c, &log_dir.join(container));
    fs::write(
        log_dir.join(container).join("0.log"),
        "2026-11-22T03:00:00.000000000Z stdout F allocating\n",
    )
    .unwrap();
    mkdir(&mut c, Path::new("/var/log/containers"));
    let link = PathBuf::from(format!(
        "/var/log/containers/{pod}_{ns}_{container}-{cid}.log"
    ));
    std::os::unix::fs::symlink(log_dir.join(container).join("0.log"), &link).unwrap();
    c.files.push(link);

    // A process in the container's cgroup that allocates past the limit: tail keeps its
    // newline-free input in memory until the kernel kills it.
    let procs = ctr_cg.join("cgroup.procs");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}; exec tail /dev/zero",
            procs.display()
        ))
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(
        status.signal(),
        Some(9),
        "the kernel OOM killer sends SIGKILL"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", "/", "check", "--format", "json"])
        .output()
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
    assert_eq!(k["subject"]["namespace"], ns);
    assert_eq!(k["subject"]["container"], container);
    assert_eq!(k["subject"]["pid"], pid);
    assert_eq!(k["severity"], "critical", "a kill seconds ago is critical");
    assert_eq!(k["evidence"]["limit_bytes"], 32u64 << 20);
}
