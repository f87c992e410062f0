//! The trust rules on fixture bundles (docs/security.md, "Who is trusted"): a bundle records
//! what the decisions needed (`/proc/<pid>/status`, `Host::metadata` answers in
//! `nodescope-bundle.json` `metadata`), so a replay decides as the capture did. Each test
//! shows the same fixture both ways, so none can pass by finding nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

/// The healthy fixture's kubelet (pid 1043), with a `status` whose Uid line names `uid`.
fn with_kubelet_uid(uid: u32) -> Copy {
    let c = Copy::of(V2);
    c.write(
        "/proc/1043/status",
        &format!(
            "Name:\tkubelet\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1043\nPid:\t1043\nPPid:\t1\n\
             Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        ),
    );
    c
}

/// Adds `entries` to the bundle's recorded `metadata`.
fn record_metadata(c: &Copy, entries: Value) {
    let mut meta: Value = serde_json::from_str(&c.read("/nodescope-bundle.json")).unwrap();
    let m = meta
        .as_object_mut()
        .unwrap()
        .entry("metadata")
        .or_insert_with(|| serde_json::json!({}));
    for (k, v) in entries.as_object().unwrap() {
        m[k] = v.clone();
    }
    c.write("/nodescope-bundle.json", &meta.to_string());
}

fn trust_errors(r: &Value) -> Vec<String> {
    r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "trust")
        .map(|e| {
            format!(
                "{}: {}",
                e["kind"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_kubelet_recorded_as_uid_65534_is_not_the_kubelet() {
    // Root's: the kubelet, its config read (cgroupDriver: systemd comes from the file).
    let root = with_kubelet_uid(0);
    let s = snapshot(&root.root);
    assert_eq!(s["kubelet"]["pid"], 1043);
    assert_eq!(s["kubelet"]["config"]["cgroup_driver"], "systemd");
    assert_eq!(
        s["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == 1043)
            .unwrap()["uid"],
        0
    );
    let (_, r) = check_json(&root.root, &[]);
    assert!(!ids(&r).contains(&"node.kubelet-not-running".to_string()));
    assert_eq!(trust_errors(&r), Vec::<String>::new());

    // nobody's: not the kubelet; its flags (and so its config file) are ignored.
    let nobody = with_kubelet_uid(65534);
    let s = snapshot(&nobody.root);
    assert_eq!(s["kubelet"], Value::Null);
    assert_eq!(
        s["untrusted_daemons"],
        serde_json::json!([{"pid": 1043, "claims": "kubelet", "reason": "runs as uid 65534"}])
    );
    let (code, r) = check_json(&nobody.root, &[]);
    assert_eq!(code, Some(2));
    let f = finding(&r, "node.kubelet-not-running");
    assert_eq!(f["severity"], "critical");
    assert_eq!(
        f["title"],
        "no trusted kubelet among 12 processes on node-a: process 1043 calls itself kubelet but runs as uid 65534"
    );
    assert_eq!(
        f["evidence"]["untrusted_kubelets"],
        serde_json::json!([{"pid": 1043, "reason": "runs as uid 65534"}])
    );
    assert_eq!(
        trust_errors(&r),
        [
            "untrusted: process 1043 calls itself kubelet but runs as uid 65534; its flags are ignored"
        ]
    );
}

#[test]
fn a_kubelet_whose_executable_others_may_write_is_not_the_kubelet() {
    let c = with_kubelet_uid(0);
    record_metadata(
        &c,
        serde_json::json!({"/proc/1043/exe": {"uid": 0, "gid": 1000, "mode": 0o775, "kind": "file", "size": 1}}),
    );
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(
        trust_errors(&r),
        [
            "untrusted: process 1043 calls itself kubelet but its executable (/proc/1043/exe) is \
          writable by its group, gid 1000 (mode 0775); its flags are ignored"
        ]
    );
    assert!(ids(&r).contains(&"node.kubelet-not-running".to_string()));
}

#[test]
fn a_config_file_someone_else_owns_is_not_collected() {
    let c = with_kubelet_uid(0);
    record_metadata(
        &c,
        serde_json::json!({"/var/lib/kubelet/config.yaml": {"uid": 1000, "gid": 1000, "mode": 0o644, "kind": "file", "size": 1}}),
    );
    let s = snapshot(&c.root);
    assert_eq!(s["kubelet"]["pid"], 1043, "the kubelet itself is believed");
    assert_eq!(
        s["kubelet"]["config"]["cgroup_driver"], "cgroupfs",
        "the file's systemd was not read: the kubelet's default"
    );
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(
        trust_errors(&r),
        [
            "untrusted: not collected: /var/lib/kubelet/config.yaml is owned by uid 1000, not root; \
          the kubelet's --config names it, and nodescope reads only what root alone can write"
        ]
    );
}

#[test]
fn fixtures_without_recorded_uids_keep_their_kubelet() {
    // Bundles from before status and exe were recorded: the kubelet is the process that says
    // so, as the capture that wrote them decided.
    for name in [V1, V2] {
        let s = snapshot(&fixture(name));
        assert!(s["kubelet"]["pid"].is_u64(), "{name}");
        assert!(s.get("untrusted_daemons").is_none(), "{name}");
    }
}
