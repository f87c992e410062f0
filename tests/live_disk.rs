//! Disk findings from real kernel state: a tmpfs with few inodes filled with empty files, and a
//! file deleted while a process in a kubepods-shaped cgroup holds it open. Both clean up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{Cleanup, FakePod, Kill, memcg_unavailable, skip_or_fail};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn check() -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", "/", "check", "--format", "json"])
        .watched_output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c < 3), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn findings<'a>(r: &'a Value, id: &str, path: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id && f["subject"]["path"] == path)
        .collect()
}

#[test]
fn live_a_tmpfs_out_of_inodes_with_free_bytes_is_inode_exhaustion() {
    if !nix::unistd::geteuid().is_root() {
        return skip_or_fail("needs root to mount a tmpfs");
    }
    let mut c = Cleanup::default();
    let mnt = PathBuf::from(format!("/tmp/nodescope-inodes-{}", std::process::id()));
    c.mkdir(&mnt);
    // 2000 inodes (the root directory takes one), 64 MiB: bytes stay almost all free.
    nix::mount::mount(
        Some("nodescope-inodes"),
        &mnt,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64m,nr_inodes=2000"),
    )
    .unwrap();
    c.mounts.push(mnt.clone());
    let spool = mnt.join("spool");
    std::fs::create_dir(&spool).unwrap();
    for i in 0..1950 {
        std::fs::File::create(spool.join(format!("sess_{i:05}"))).unwrap();
    }
    let r = check();
    let mp = mnt.to_str().unwrap();
    let hits = findings(&r, "disk.inode-exhaustion", mp);
    eprintln!("{}", serde_json::to_string_pretty(&hits).unwrap());
    assert_eq!(hits.len(), 1, "one finding for {mp}");
    let f = hits[0];
    assert_eq!(f["severity"], "critical", "1952 of 2000 inodes is past 95%");
    assert!(f["evidence"]["bytes_used_percent"].as_f64().unwrap() < 1.0);
    assert!(f["evidence"]["inodes_used_percent"].as_f64().unwrap() >= 95.0);
    let top = &f["evidence"]["densest_dirs"][0];
    assert_eq!(top["path"], format!("{mp}/spool"));
    assert_eq!(top["entries"], 1950);
}

#[test]
fn live_a_deleted_file_held_open_in_a_pod_is_named_with_its_pod() {
    if let Some(why) = memcg_unavailable() {
        return skip_or_fail(&why);
    }
    let fake = FakePod::new("nodescope-test", "holder", "writer");
    let mut c = Cleanup::default();
    let dir = PathBuf::from(format!("/var/tmp/nodescope-deleted-{}", std::process::id()));
    c.mkdir(&dir);
    let file = dir.join("access.log");
    // 150 MiB of real blocks, over the rule's 100 MiB.
    let st = Command::new("fallocate")
        .args(["-l", "150M"])
        .arg(&file)
        .watched_status()
        .unwrap();
    assert!(st.success());
    let procs = fake.cgroup.join("cgroup.procs");
    let (child, _dog) = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}; exec 3<{}; exec sleep 120",
            procs.display(),
            file.display()
        ))
        .stdin(Stdio::null())
        .watched_spawn(std::time::Duration::from_secs(150))
        .unwrap();
    let holder = Kill(child);
    let pid = holder.0.id();
    // Wait until the holder sits in the pod's cgroup with the file open, then delete it.
    let fd3 = PathBuf::from(format!("/proc/{pid}/fd/3"));
    for _ in 0..200 {
        if fd3.exists()
            && std::fs::read_to_string(&procs).is_ok_and(|p| p.contains(&pid.to_string()))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::remove_file(&file).unwrap();

    let r = check();
    let hits: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "disk.deleted-open-files")
        .filter(|f| {
            f["evidence"]["holders"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["pid"] == pid)
        })
        .collect();
    eprintln!("{}", serde_json::to_string_pretty(&hits).unwrap());
    assert_eq!(hits.len(), 1, "one finding holds pid {pid}");
    let h = hits[0]["evidence"]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["pid"] == pid)
        .unwrap();
    assert_eq!(h["path"], file.to_str().unwrap());
    assert_eq!(h["bytes"], 150u64 << 20);
    assert_eq!(h["fd"], 3);
    assert_eq!(h["namespace"], fake.namespace.as_str());
    assert_eq!(h["pod"], fake.name.as_str());
    assert_eq!(h["container"], fake.container.as_str());
    drop(holder);
}
