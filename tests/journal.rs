//! The kubelet's eviction lines read from a real systemd journal file, written by journald's own
//! tooling (`systemd-journal-remote`, from Debian's systemd-journal-remote package, which .ci/run
//! installs), then read back by nodescope's pure-Rust reader under a test root.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const TOOL: &str = "/lib/systemd/systemd-journal-remote";

/// Writes entries (unit, message, seconds before now) in journal export format into a journal file.
fn write_journal(file: &Path, entries: &[(&str, &str, i64)]) {
    let now = jiff::Timestamp::now().as_microsecond();
    let mut export = String::new();
    for (i, (unit, msg, ago)) in entries.iter().enumerate() {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT={unit}\n_HOSTNAME=node-test\nMESSAGE={msg}\n\n",
            now - ago * 1_000_000,
            1_000_000 + i
        ));
    }
    let (mut child, dog) = Command::new(TOOL)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .watched_spawn(common::watchdog::LIMIT)
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(export.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!dog.disarm(), "{TOOL} was killed by its watchdog");
}

#[test]
fn kubelet_eviction_lines_come_from_a_real_journal_file() {
    if !Path::new(TOOL).exists() {
        return common::live::skip_or_fail(&format!(
            "{TOOL} is not installed (apt-get install systemd-journal-remote)"
        ));
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let jdir = root.join("var/log/journal/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&jdir).unwrap();
    write_journal(
        &jdir.join("system.journal"),
        &[
            (
                "kubelet.service",
                r#"I1122 02:58:05.183991    1043 eviction_manager.go:369] "Eviction manager: attempting to reclaim" resourceName="memory""#,
                120,
            ),
            (
                "kubelet.service",
                r#"I1122 02:58:05.184530    1043 eviction_manager.go:398] "Eviction manager: pods ranked for eviction" pods=["shop/web-1","kube-system/kube-proxy-x"]"#,
                119,
            ),
            (
                "kubelet.service",
                r#"I1122 02:58:06.000000    1043 kubelet.go:2400] "SyncLoop (PLEG): event for pod""#,
                118,
            ),
            (
                "containerd.service",
                r#"level=info msg="Eviction manager: not the kubelet""#,
                117,
            ),
            (
                "kubelet.service",
                r#"I1122 02:58:06.512000    1043 eviction_manager.go:620] "Eviction manager: pod is evicted successfully" pod="shop/web-1""#,
                60,
            ),
            (
                "kubelet.service",
                r#"I1121 20:00:00.000000    1043 eviction_manager.go:369] "Eviction manager: attempting to reclaim" resourceName="memory""#,
                7 * 3600,
            ),
        ],
    );
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .arg("--root")
        .arg(root)
        .arg("snapshot")
        .watched_output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let log = s["kubelet_log"].as_array().unwrap();
    let steps: Vec<&str> = log.iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["attempting_to_reclaim", "ranked", "evicted"],
        "only the kubelet's eviction lines of the last 6 h: {log:#?}"
    );
    assert!(log.iter().all(|e| e["source"] == "journal"));
    assert_eq!(
        log[1]["pods"],
        serde_json::json!(["shop/web-1", "kube-system/kube-proxy-x"])
    );
    assert_eq!(log[2]["pods"], serde_json::json!(["shop/web-1"]));
    // The journal's own timestamp is used, not the klog header's.
    let t: jiff::Timestamp = log[2]["time"].as_str().unwrap().parse().unwrap();
    let ago = jiff::Timestamp::now().as_second() - t.as_second();
    assert!((55..=120).contains(&ago), "{ago}");
}
