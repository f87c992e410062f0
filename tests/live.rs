//! Live tests: these read the machine they run on (never the fixture tests). Each says why it
//! skips where the machine cannot run it, and fails instead under `NODESCOPE_LIVE=required`
//! (CI: root, Linux, the tools .ci/run installs), so CI runs them all.

use crate::common;
use common::Watched;
use common::live::skip_or_fail;
use nodescope::collect;
use nodescope::source::Host;
use nodescope::source::bundle::BundleHost;
use nodescope::source::live::LiveHost;
use nodescope::source::record::RecordingHost;
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn kubelet_running() -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "kubelet")
    })
}

/// Capture this machine, analyze the bundle, and demand the very same snapshot and findings.
#[test]
fn live_capture_round_trip_gives_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live-roundtrip.tar.gz");
    let rec = RecordingHost::new(LiveHost::new(Path::new("/")).unwrap(), Path::new("/"));
    let live = collect::snapshot(&rec);
    let live_findings = nodescope::analyze::analyze(&live);
    rec.write_bundle(&out, Some(serde_json::to_value(&live_findings).unwrap()))
        .unwrap();

    let bundle = BundleHost::open(&out).unwrap();
    let replay = collect::snapshot(&bundle);
    let replay_findings = nodescope::analyze::analyze(&replay);
    assert_eq!(
        replay_findings, live_findings,
        "findings differ between the live run and its bundle"
    );
    let mut a = live.clone();
    let mut b = replay.clone();
    a.source.clear();
    b.source.clear();
    assert_eq!(a, b, "the bundle's snapshot differs from the live one");
    assert!(
        !replay.processes.is_empty() && replay.memory.is_some(),
        "the bundle holds the node's facts"
    );
    eprintln!(
        "round trip: {} processes, {} mounts, {} kernel-log records, {} findings",
        replay.processes.len(),
        replay.mounts.len(),
        replay.kernel_log.len(),
        replay_findings.len()
    );

    // The same through the binary: capture, then --bundle check, against the capture-time findings.
    let cli_out = dir.path().join("live-cli.tar.gz");
    let st = bin()
        .args(["capture", "-o"])
        .arg(&cli_out)
        .watched_status()
        .unwrap();
    assert!(st.success());
    let recorded = BundleHost::open(&cli_out)
        .unwrap()
        .meta()
        .findings
        .clone()
        .unwrap();
    let o = bin()
        .arg("--bundle")
        .arg(&cli_out)
        .args(["check", "--format", "json"])
        .watched_output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["findings"], recorded);
}

#[test]
fn live_check_reports_the_missing_kubelet_and_exits_by_severity() {
    // A skip even under NODESCOPE_LIVE=required: a kubelet running here is the machine's state,
    // not a missing ability, and the finding is then rightly absent (a fixture covers it).
    if kubelet_running() {
        eprintln!(
            "skipped: a kubelet runs on this machine, so node.kubelet-not-running cannot fire"
        );
        return;
    }
    let o = bin()
        .args(["--root", "/", "check", "--format", "json"])
        .watched_output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"node.kubelet-not-running"), "{ids:?}");
    assert_eq!(o.status.code(), Some(2), "critical finding → exit 2");
    let o = bin()
        .args(["--root", "/", "check", "--fail-on", "critical"])
        .watched_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn live_check_as_an_unprivileged_user_says_what_it_could_not_read() {
    if !is_root() {
        return skip_or_fail("needs root to drop to an unprivileged user");
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(setpriv) = setpriv else {
        return skip_or_fail("setpriv (util-linux) is not installed");
    };
    let o = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", "/", "check", "--format", "json"])
        .watched_output()
        .unwrap();
    assert_ne!(
        o.status.code(),
        Some(3),
        "not being root is no reason to fail: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The exit code is the findings' (2 critical, 1 warning, 0), as for root.
    let worst = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match f["severity"].as_str().unwrap() {
            "critical" => 2,
            "warning" => 1,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    assert_eq!(o.status.code(), Some(worst), "exit code by findings");
    let errors = report["errors"].as_array().unwrap();
    eprintln!("as uid 65534: exit {worst}, {} errors:", errors.len());
    for e in errors {
        eprintln!("  {e}");
    }
    // What could not be read, and why: the kernel log, and other users' open files in one line.
    assert_eq!(
        errors[0]["collector"], "privileges",
        "the reason comes first"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == "/dev/kmsg" && e["kind"] == "denied"),
        "{errors:?}"
    );
    let fd_lines: Vec<_> = errors
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/fd")))
        .collect();
    assert_eq!(
        fd_lines.len(),
        1,
        "one line for all denied fd directories: {fd_lines:?}"
    );
    assert!(
        fd_lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("are not readable"),
        "{fd_lines:?}"
    );
    assert!(
        errors.iter().any(|e| e["collector"] == "privileges"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("not running as root")),
        "{errors:?}"
    );
}

/// The live host refuses environments even when asked directly.
#[test]
fn live_host_never_reads_environ() {
    let h = LiveHost::new(Path::new("/")).unwrap();
    let e = h.read("/proc/self/environ").unwrap_err();
    assert_eq!(e.kind, nodescope::source::ErrorKind::Denied);
}
