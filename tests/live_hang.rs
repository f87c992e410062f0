//! No hangs: a mount that never answers costs `check` one statvfs deadline, and the report
//! names it. Live test: it mounts a FUSE filesystem whose daemon never replies (this process
//! opens /dev/fuse and never reads it, so the kernel's FUSE_INIT goes unanswered and every
//! statfs on the mount blocks), runs the binary on `/`, and unmounts whatever happens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;
use common::Watched;
use serde_json::Value;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
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

#[test]
fn live_a_mount_that_never_answers_is_reported_stuck_and_check_finishes() {
    if let Some(why) = cannot_run() {
        return common::live::skip_or_fail(why);
    }
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
