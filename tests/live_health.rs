//! Node-health causes made for real on this machine and found by the real binary:
//! - an ext4 image on a loop device mounted at the kubelet root and remounted read-only;
//! - a tmpfs filled to 100 % of its bytes with free inodes;
//! - a busy loop in a pod-shaped cgroup with a 10 ms / 100 ms CFS quota.
//!
//! The mounts are made in a private mount and PID namespace (`unshare --mount --pid
//! --mount-proc`, `--kill-child`), where nodescope runs as that namespace's pid 1 with
//! `--root /`: the host's mount table never sees them, parallel tests cannot collide, and the
//! loop device is released (autoclear) when the namespace ends. The cgroups are named after a
//! fresh pod UID and removed by a guard. Every child has a watchdog. Without root, unshare,
//! mkfs.ext4 or a v1 cpu controller the test says why and passes, and fails under
//! `NODESCOPE_LIVE=required` (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{FakePod, Kill, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one nodescope run in the namespace may take before it is killed.
const WATCHDOG: Duration = Duration::from_secs(60);

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .watched_status()
        .is_ok_and(|s| s.success())
}

/// `cmd` to its end under the watchdog ([`WATCHDOG`]); its stdout. Its stderr is passed on.
fn stdout_within_watchdog(cmd: &mut Command) -> Vec<u8> {
    let o = cmd.output_within(WATCHDOG).unwrap();
    eprint!("{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// Why the namespace tests cannot run here, if they cannot.
fn namespaces_unavailable(tools: &[&str]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root for mount and PID namespaces".into());
    }
    tools
        .iter()
        .find(|t| !have(t))
        .map(|t| format!("{t} is not installed (apt-get install util-linux e2fsprogs)"))
}

/// Runs `setup` (shell) in a private mount and PID namespace, then nodescope `check` there as
/// pid 1 with `--root /`; the JSON report.
fn check_in_namespace(setup: &str) -> Value {
    let script =
        format!("set -e\n{setup}\nexec \"$NODESCOPE\" --root / --no-cluster check --format json");
    let out = stdout_within_watchdog(
        Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--mount-proc",
                "--propagation",
                "private",
                "--kill-child",
                "sh",
                "-c",
                &script,
            ])
            .env("NODESCOPE", env!("CARGO_BIN_EXE_nodescope"))
            .env_remove("NODESCOPE_ROOT"),
    );
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn with_id<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

#[test]
fn live_a_read_only_ext4_loop_mount_at_the_kubelet_root() {
    if let Some(why) = namespaces_unavailable(&["unshare", "mkfs.ext4", "losetup"]) {
        return skip_or_fail(&why);
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("kubelet.ext4");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let o = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&img)
        .watched_output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    // /var/lib gets a scratch tmpfs first, so /var/lib/kubelet can be made without touching
    // the host's own /var/lib.
    let r = check_in_namespace(&format!(
        "mount -t tmpfs -o size=1m nodescope-scratch /var/lib\n\
         mkdir /var/lib/kubelet\n\
         mount -o loop {img} /var/lib/kubelet\n\
         mkdir /var/lib/kubelet/pods\n\
         mount -o remount,ro /var/lib/kubelet",
        img = img.display()
    ));
    let f = with_id(&r, "fs.read-only");
    eprintln!("{}", serde_json::to_string_pretty(&f).unwrap());
    assert_eq!(f.len(), 1, "{:#}", r["findings"]);
    let f = f[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["subject"]["path"], "/var/lib/kubelet");
    let src = f["evidence"]["source"].as_str().unwrap();
    assert!(src.starts_with("/dev/loop"), "{src}");
    assert_eq!(
        f["title"],
        format!(
            "/var/lib/kubelet (ext4 on {src}) is mounted read-only: kubelet root (/var/lib/kubelet) cannot be written"
        )
    );
    assert!(
        f["evidence"]["options"]
            .as_str()
            .unwrap()
            .split(',')
            .any(|o| o == "ro")
    );
}

#[test]
fn live_a_tmpfs_full_of_bytes_with_free_inodes() {
    if let Some(why) = namespaces_unavailable(&["unshare"]) {
        return skip_or_fail(&why);
    }
    // 1 MiB of bytes, 1000 inodes: three files fill every byte and use 0.3 % of the inodes.
    let r = check_in_namespace(
        "mount -t tmpfs -o size=1m,nr_inodes=1000 nodescope-full /mnt\n\
         echo small > /mnt/small.txt\n\
         head -c 200000 /dev/zero > /mnt/middle.bin\n\
         dd if=/dev/zero of=/mnt/big.bin bs=64k 2>/dev/null || true",
    );
    let f = with_id(&r, "disk.filesystem-full");
    eprintln!("{}", serde_json::to_string_pretty(&f).unwrap());
    let f: Vec<&&Value> = f
        .iter()
        .filter(|f| f["subject"]["path"] == "/mnt")
        .collect();
    assert_eq!(f.len(), 1, "{:#}", r["findings"]);
    let f = f[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["bytes_used_percent"], 100.0);
    // Four inodes in use: the root directory and the three files.
    assert_eq!(f["evidence"]["inodes_free"], 996);
    let largest = f["evidence"]["largest_files"].as_array().unwrap();
    let names: Vec<&str> = largest
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/mnt/big.bin", "/mnt/middle.bin", "/mnt/small.txt"]);
    // tmpfs counts whole pages: 256 in 1 MiB, one for small.txt, 49 for middle.bin; dd's
    // last write is cut short at the last free byte.
    assert_eq!(largest[0]["bytes"], (256 - 1 - 49) * 4096);
    let t = f["title"].as_str().unwrap();
    assert!(
        t == "/mnt (tmpfs) is full: 100% of its bytes used (0 of 1Mi available); largest file /mnt/big.bin (824Ki)",
        "{t}"
    );
}

/// The cpu controller of cgroup v1 on this machine, when it is writable.
const CPUCG: &str = "/sys/fs/cgroup/cpu";

#[test]
fn live_a_busy_loop_throttled_by_a_cfs_quota_in_a_pod_cgroup() {
    if let Some(why) = memcg_unavailable() {
        return skip_or_fail(&why);
    }
    if !Path::new(CPUCG).join("cpu.cfs_quota_us").exists() {
        return skip_or_fail(&format!(
            "no cgroup v1 cpu controller with CFS bandwidth at {CPUCG}"
        ));
    }
    // The pod as the kubelet's cgroupfs driver lays it out; the same relative path in the cpu
    // hierarchy, limited to 10 ms every 100 ms (a 100m CPU limit).
    let mut fake = FakePod::new("nodescope-test", "throttled", "burner");
    let rel = fake
        .cgroup
        .strip_prefix(common::live::MEMCG)
        .unwrap()
        .to_path_buf();
    let cpu_cg = Path::new(CPUCG).join(&rel);
    fake.cleanup.mkdir(&cpu_cg);
    std::fs::write(cpu_cg.join("cpu.cfs_period_us"), "100000").unwrap();
    std::fs::write(cpu_cg.join("cpu.cfs_quota_us"), "10000").unwrap();
    // Where cpuacct has a hierarchy of its own (not co-mounted as cpu,cpuacct), the kubelet
    // makes the pod's cgroup there too: that is where the usage is counted.
    let mut cgroups = vec![fake.cgroup.clone(), cpu_cg.clone()];
    let acct = Path::new("/sys/fs/cgroup/cpuacct");
    if acct.join("cpuacct.usage").exists() && !Path::new(CPUCG).join("cpuacct.usage").exists() {
        let acct_cg = acct.join(&rel);
        fake.cleanup.mkdir(&acct_cg);
        cgroups.push(acct_cg);
    }
    let join: Vec<String> = cgroups
        .iter()
        .map(|c| format!("echo $$ > {}/cgroup.procs;", c.display()))
        .collect();
    // A busy loop in the pod's cgroups (memory: so the process is the pod's; cpu: to throttle
    // it; cpuacct: to count it).
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} exec sh -c 'while :; do :; done'",
            join.join(" ")
        ))
        .spawn_killed_after(WATCHDOG)
        .unwrap();
    let _busy = Kill(child);
    // At least 20 periods (the rule's minimum) with the loop runnable in each.
    std::thread::sleep(Duration::from_secs(3));
    let out = stdout_within_watchdog(
        Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .args(["--root", "/", "--no-cluster", "check", "--format", "json"])
            .env_remove("NODESCOPE_ROOT"),
    );
    let r: Value = serde_json::from_slice(&out).unwrap();
    let f: Vec<&Value> = with_id(&r, "cpu.throttling")
        .into_iter()
        .filter(|f| f["subject"]["pod"] == fake.name.as_str())
        .collect();
    eprintln!("{}", serde_json::to_string_pretty(&f).unwrap());
    assert_eq!(f.len(), 1, "{:#}", r["findings"]);
    let f = f[0];
    assert_eq!(f["subject"]["namespace"], "nodescope-test");
    assert_eq!(f["subject"]["container"], "burner");
    assert_eq!(f["evidence"]["quota_usec"], 10_000);
    assert_eq!(f["evidence"]["period_usec"], 100_000);
    assert_eq!(
        f["evidence"]["cgroup"],
        format!("/{}", rel.display()).as_str()
    );
    let pct = f["evidence"]["throttled_percent"].as_f64().unwrap();
    assert!(
        pct >= 90.0,
        "a busy loop at 10% quota is throttled nearly every period: {pct}"
    );
    let t = f["title"].as_str().unwrap();
    assert!(
        t.starts_with(&format!(
            "nodescope-test/{} container burner was throttled in ",
            fake.name
        )) && t.contains("; limit 0.1 CPU, ")
            && t.contains(" CPU-s used, "),
        "{t}"
    );
}
