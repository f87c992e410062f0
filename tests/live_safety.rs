//! Never the second incident: no secrets in any output or bundle, no writes under the root
//! read, no failure when processes and cgroups come and go during collection. Live tests: they
//! plant secrets in real processes and churn real cgroups, and clean up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;
use common::*;
use std::io::Read;
use std::process::{Command, Stdio};

const CMDLINE_SECRET: &str = "tok-cmdline-3f9a1c77";
const ENV_SECRET: &str = "tok-environ-8e21b4d0";

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
}

#[test]
fn live_secrets_in_command_lines_and_environments_never_leave_the_node() {
    // A process whose command line carries a token and whose environment carries another.
    let holder = Command::new("sh")
        .args([
            "-c",
            "sleep 60",
            "sh",
            &format!("--token={CMDLINE_SECRET}"),
            "--password",
            CMDLINE_SECRET,
        ])
        .env("API_TOKEN", ENV_SECRET)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _holder = Kill(holder);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut outputs = Vec::new();
    for args in [
        vec!["--root", "/", "check", "--format", "json"],
        vec!["--root", "/", "check", "--format", "text"],
        vec!["--root", "/", "check", "--format", "prometheus"],
        vec!["--root", "/", "snapshot"],
    ] {
        let o = bin().args(&args).output().unwrap();
        outputs.push((format!("{args:?}"), [o.stdout, o.stderr].concat()));
    }
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("secrets.tar.gz");
    assert!(
        bin()
            .args(["--root", "/", "capture", "-o"])
            .arg(&bundle)
            .status()
            .unwrap()
            .success()
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    outputs.push(("capture bundle (uncompressed tar)".into(), raw));
    // The snapshot did see the process (so the test can fail): its redacted command line.
    let snap = String::from_utf8_lossy(&outputs[3].1).into_owned();
    assert!(
        snap.contains("--token=<redacted>"),
        "the planted process was collected"
    );
    for (what, bytes) in outputs {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(CMDLINE_SECRET),
            "{what} leaks the command-line secret"
        );
        assert!(
            !text.contains(ENV_SECRET),
            "{what} leaks the environment secret"
        );
    }
}

/// Every file under `root` with its length and modification time.
fn tree_state(root: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((
                e.path().display().to_string(),
                m.len(),
                m.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn nothing_under_the_root_is_created_or_modified() {
    // A node tree read as a live root: check, snapshot and capture (its output elsewhere).
    let c = Copy::of(V2);
    let before = tree_state(&c.root);
    let out = tempfile::tempdir().unwrap();
    for args in [
        vec!["check", "--format", "json"],
        vec!["check"],
        vec!["snapshot"],
    ] {
        let o = bin()
            .arg("--root")
            .arg(&c.root)
            .args(&args)
            .output()
            .unwrap();
        assert_ne!(
            o.status.code(),
            Some(3),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        bin()
            .arg("--root")
            .arg(&c.root)
            .args(["capture", "-o"])
            .arg(out.path().join("b.tar.gz"))
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        tree_state(&c.root),
        before,
        "nodescope wrote under the root it read"
    );
}

#[test]
fn live_churn_of_processes_and_cgroups_never_fails_a_run() {
    let memcg = std::path::Path::new("/sys/fs/cgroup/memory");
    if !nix::unistd::geteuid().is_root() || !memcg.is_dir() {
        eprintln!("skipped: needs root and a cgroup v1 memory hierarchy to churn cgroups");
        return;
    }
    let base = memcg.join(format!("nodescope-churn-{}", std::process::id()));
    // Processes and cgroups appear and vanish as fast as the shell can make them.
    let script = format!(
        "i=0; while [ $i -lt 400 ]; do d={b}/c$i; mkdir -p $d; (sleep 0.05 & echo $! > $d/cgroup.procs 2>/dev/null; wait) ; rmdir $d 2>/dev/null; i=$((i+1)); done",
        b = base.display()
    );
    let churn = Kill(Command::new("sh").args(["-c", &script]).spawn().unwrap());
    for _ in 0..15 {
        let o = bin()
            .args(["--root", "/", "check", "--format", "json"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "exit {:?}: {err}",
            o.status.code()
        );
        assert!(!err.contains("panicked"), "{err}");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
    }
    drop(churn);
    // Clean up whatever the loop left behind; a cgroup whose last `sleep 0.05` is still alive
    // cannot be removed yet, so retry for a while.
    for _ in 0..40 {
        if let Ok(rd) = std::fs::read_dir(&base) {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&base);
        if !base.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!base.exists(), "churn cgroups removed");
}
