//! The `kubectl debug node/NAME --profile=sysadmin` layout, reproduced for real: in a private
//! mount namespace the machine's root is bind-mounted at /host, and nodescope, given no
//! --root, finds the node there, says so on stderr, and reads it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use std::path::Path;
use std::process::Command;

#[test]
fn live_kubectl_debug_layout_is_detected_at_host() {
    if !nix::unistd::geteuid().is_root() {
        return common::live::skip_or_fail("needs root for a mount namespace");
    }
    if Command::new("unshare")
        .arg("--version")
        .watched_output()
        .is_err()
    {
        return common::live::skip_or_fail("unshare (util-linux) is not installed");
    }
    // The bind mount happens in a private mount namespace: an existing /host (this test run
    // inside a debug pod) is covered there and untouched outside. A missing one is made as an
    // empty mount point and removed afterwards.
    struct Rm(bool);
    impl Drop for Rm {
        fn drop(&mut self) {
            if self.0 {
                let _ = std::fs::remove_dir("/host");
            }
        }
    }
    let made = !Path::new("/host").is_dir();
    if made {
        std::fs::create_dir("/host").unwrap();
    }
    let _rm = Rm(made);
    let script = format!(
        "mount --make-rprivate / && mount --rbind / /host && exec {} check --format json",
        env!("CARGO_BIN_EXE_nodescope")
    );
    let o = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("reading the node at /host"), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["source"], "live host at /host");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "node.kubelet-not-running")
    );
    assert!(r["node"].as_str().is_some_and(|n| !n.is_empty()));
}
