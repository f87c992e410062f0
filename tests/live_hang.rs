//! No hangs: a mount that never answers costs `check` one statvfs deadline, and the report
//! names it; `serve` and `top`, which sample for days, pay one thread for it for as long as it
//! does not answer, not one per sample. Live tests: they mount a FUSE filesystem whose daemon
//! never replies (this process opens /dev/fuse and never reads it, so the kernel's FUSE_INIT
//! goes unanswered and every statfs on the mount blocks), run the binary on `/`, and unmount
//! whatever happens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{Kill, free_port, http_get, skip_or_fail, threads};
use serde_json::Value;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A FUSE mount with no daemon behind it. Dropping it detaches the mount, then closes the
/// device, which aborts the connection and fails every request still blocked on it.
struct HungFuse {
    mnt: PathBuf,
    device: Option<fs::File>,
    _dir: tempfile::TempDir,
}

impl HungFuse {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("hung");
        fs::create_dir(&mnt).unwrap();
        let device = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .unwrap();
        let data = format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            device.as_raw_fd()
        );
        nix::mount::mount(
            Some(format!("nodescope-hang-{}", std::process::id()).as_str()),
            &mnt,
            Some("fuse"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(data.as_str()),
        )
        .expect("mount a FUSE filesystem");
        HungFuse {
            mnt,
            device: Some(device),
            _dir: dir,
        }
    }
}

impl HungFuse {
    /// Closes the device: the kernel aborts the connection and every call blocked on the
    /// mount returns (ENOTCONN); the mount stays until dropped.
    fn abort(&mut self) {
        drop(self.device.take());
    }
}

impl Drop for HungFuse {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
        drop(self.device.take());
    }
}

/// Why this machine cannot run the test, if it cannot.
fn cannot_run() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root to mount a FUSE filesystem");
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse");
    }
    None
}

/// The tests of this file run one at a time: each counts what a hung mount costs, and the
/// other's mount would be counted too.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn live_a_mount_that_never_answers_is_reported_stuck_and_check_finishes() {
    if let Some(why) = cannot_run() {
        return skip_or_fail(why);
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let fuse = HungFuse::mount();
    let mount_point = fuse.mnt.display().to_string();
    let started = Instant::now();
    // The watchdog: a hang fails this test instead of blocking CI.
    let out = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", "/", "check", "--format", "json"])
        .env_remove("NODESCOPE_ROOT")
        .output_within(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("check with a hung mount at {mount_point}: {e}"));
    let took = started.elapsed();
    drop(fuse);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(3), "could not run: {stderr}");
    assert!(out.status.code().is_some(), "killed: {:?}", out.status);
    // One statvfs deadline (1.5 s), well within the 5 s statvfs budget of a snapshot.
    assert!(
        took < Duration::from_secs(20),
        "check took {took:?} with one hung mount"
    );
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    let stuck = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == mount_point.as_str())
        .unwrap_or_else(|| panic!("{mount_point} not in errors: {:#}", report["errors"]));
    assert_eq!(stuck["kind"], "timeout", "{stuck}");
    assert!(
        stuck["message"]
            .as_str()
            .unwrap()
            .contains("did not return"),
        "{stuck}"
    );
    eprintln!("check finished in {took:?} with {mount_point} stuck");
}

/// The fewest threads `pid` had over `window`, polled every 50 ms: a snapshot's short-lived
/// workers come and go, what stays is what a sample leaves behind.
fn settled_threads(pid: u32, window: Duration) -> usize {
    let started = Instant::now();
    let mut least = usize::MAX;
    while started.elapsed() < window {
        least = least.min(threads(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    least
}

/// A tmux session, killed on drop.
struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .stderr(Stdio::null())
            .watched_status();
    }
}

/// The `# <collector> timed out <path>: <why>` lines of a scrape: each stuck call's report.
fn timed_out(metrics: &str) -> Vec<&str> {
    metrics
        .lines()
        .filter(|l| l.starts_with("# mounts timed out "))
        .collect()
}

/// `serve --interval 1` and `top --interval 1` sample a node where a mount stops answering:
/// each process gains one thread for it (the call blocked in the kernel) and keeps that one for
/// 20 s of samples, instead of one more per sample; `/metrics` says since when and for how many
/// samples. When the blocked call returns (the connection aborted), the thread is gone and the
/// mount is asked again.
#[test]
fn live_a_stuck_mount_costs_serve_and_top_one_thread_not_one_per_sample() {
    if let Some(why) = cannot_run() {
        return skip_or_fail(why);
    }
    if Command::new("tmux").arg("-V").watched_output().is_err() {
        return skip_or_fail("tmux is not installed (.ci/run installs it)");
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let port = free_port();
    let serve = Kill(
        Command::new(bin)
            .args(["--root", "/", "serve", "--interval", "1", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("NODESCOPE_ROOT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn_killed_after(Duration::from_secs(300))
            .unwrap(),
    );
    let serve_pid = serve.0.id();
    let session = Tmux(format!("nodescope-hang-{}", std::process::id()));
    let st = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session.0,
            "-x",
            "120",
            "-y",
            "40",
        ])
        .arg(format!("exec {bin} --root / top --interval 1"))
        .watched_status()
        .unwrap();
    assert!(st.success());
    let pane_pid = || -> u32 {
        let o = Command::new("tmux")
            .args(["display-message", "-p", "-t", &session.0, "#{pane_pid}"])
            .watched_output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    // The watchdog of both: nothing here waits on them without a deadline, and both die with
    // their guards.
    let started = Instant::now();
    while http_get(port, "/metrics", Duration::from_secs(2)).is_err()
        || !Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &session.0])
            .watched_output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("[1 Overview]"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve or top never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let top_pid = pane_pid();
    let before = (
        settled_threads(serve_pid, Duration::from_secs(3)),
        settled_threads(top_pid, Duration::from_secs(3)),
    );

    let mut fuse = HungFuse::mount();
    let mount_point = fuse.mnt.display().to_string();
    // 20 s of samples with the mount stuck; what is left at the end is what stays.
    std::thread::sleep(Duration::from_secs(17));
    let after = (
        settled_threads(serve_pid, Duration::from_secs(3)),
        settled_threads(top_pid, Duration::from_secs(3)),
    );
    let metrics = http_get(port, "/metrics", Duration::from_secs(2)).unwrap();
    let stuck = timed_out(&metrics);
    // One thread per mount stuck now: this one, and any other hung mount on the machine
    // (another test's) that the report names.
    let allowed = stuck.len().max(1);
    eprintln!(
        "threads: serve {} -> {}, top {} -> {}; stuck: {stuck:#?}",
        before.0, after.0, before.1, after.1
    );
    assert!(
        after.0 <= before.0 + allowed,
        "serve grew from {} to {} threads with {allowed} stuck mount(s)",
        before.0,
        after.0,
    );
    assert!(
        after.1 <= before.1 + allowed,
        "top grew from {} to {} threads with {allowed} stuck mount(s)",
        before.1,
        after.1,
    );

    let mine = stuck
        .iter()
        .find(|l| l.starts_with(&format!("# mounts timed out {mount_point}: ")))
        .unwrap_or_else(|| panic!("{mount_point} not reported:\n{metrics}"));
    // "stuck since 02:58:13 UTC, 17 samples: statvfs on <mnt> did not return ..."
    let why = mine.split_once(": ").unwrap().1;
    assert!(why.starts_with("stuck since "), "{mine}");
    let samples: u64 = why
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in {mine}"));
    assert!(
        samples >= 10,
        "{samples} samples in 20 s at --interval 1: {mine}"
    );
    // The blocked calls return: the threads go, and the mount is asked again (it now fails
    // at once: the connection is aborted).
    fuse.abort();
    let started = Instant::now();
    loop {
        let metrics = http_get(port, "/metrics", Duration::from_secs(2)).unwrap();
        let again = !metrics.contains(&format!("# mounts timed out {mount_point}: "))
            && metrics.contains(&format!("path=\"{mount_point}\""));
        if again {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{mount_point} still stuck after its connection was aborted:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let freed = (
        settled_threads(serve_pid, Duration::from_secs(2)),
        settled_threads(top_pid, Duration::from_secs(2)),
    );
    assert!(
        freed.0 <= before.0,
        "serve: {} threads, {} before",
        freed.0,
        before.0
    );
    assert!(
        freed.1 <= before.1,
        "top: {} threads, {} before",
        freed.1,
        before.1
    );
    drop(fuse);
    drop(serve);
}
