//! The GPU rules and `nodescope gpu` on fixture bundles (scripts/fixtures/derive_gpu.py): each
//! scenario fires its rule and the Pending pods carry exactly their reasons.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

fn gpu_ids(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = ids(r)
        .into_iter()
        .filter(|i| i.starts_with("gpu."))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn reasons(r: &Value, pod: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "gpu.pending-pod" && f["subject"]["pod"] == pod)
        .unwrap_or_else(|| panic!("no gpu.pending-pod for {pod}"))["evidence"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_nodes_have_no_gpu_findings() {
    for f in [V1, V2] {
        let (_, r) = check_json(&fixture(f), &[]);
        assert_eq!(gpu_ids(&r), Vec::<String>::new(), "{f}");
    }
}

#[test]
fn nouveau_bound_gpus_are_driver_not_loaded() {
    let (code, r) = check_json(&fixture("gpu-driver-missing"), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(gpu_ids(&r), ["gpu.driver-not-loaded", "gpu.pending-pod"]);
    let f = finding(&r, "gpu.driver-not-loaded");
    assert_eq!(f["evidence"]["device"]["driver"], "nouveau");
    assert_eq!(f["evidence"]["nouveau_loaded"], true);
    assert_eq!(reasons(&r, "train-0"), ["operator-unhealthy"]);
}

#[test]
fn a_driver_without_a_device_plugin() {
    let (_, r) = check_json(&fixture("gpu-no-device-plugin"), &[]);
    assert_eq!(
        gpu_ids(&r),
        ["gpu.device-plugin-missing", "gpu.pending-pod"]
    );
    assert!(
        finding(&r, "gpu.device-plugin-missing")["title"]
            .as_str()
            .unwrap()
            .contains("550.127.05")
    );
}

#[test]
fn mig_mixed_strategy_with_a_pod_asking_for_whole_gpus() {
    let (_, r) = check_json(&fixture("gpu-mig-mixed"), &[]);
    assert_eq!(
        gpu_ids(&r),
        ["gpu.mig-resource-mismatch", "gpu.pending-pod"]
    );
    assert_eq!(reasons(&r, "train-0"), ["mig-resource-mismatch"]);
    let m = finding(&r, "gpu.mig-resource-mismatch");
    assert_eq!(
        m["evidence"]["offered"],
        serde_json::json!(["nvidia.com/mig-1g.10gb"])
    );
}

#[test]
fn time_sliced_replicas_all_allocated() {
    let (_, r) = check_json(&fixture("gpu-time-slicing-full"), &[]);
    assert_eq!(gpu_ids(&r), ["gpu.all-allocated", "gpu.pending-pod"]);
    let a = finding(&r, "gpu.all-allocated");
    assert_eq!(
        (
            a["evidence"]["registered"].as_u64(),
            a["evidence"]["allocated"].as_u64()
        ),
        (Some(4), Some(4))
    );
    assert_eq!(a["evidence"]["time_slicing_replicas"], "4");
    assert_eq!(
        a["evidence"]["holders"][0]["pod"], "infer-5d8f7c6b9-x7k2q",
        "named from the API by UID"
    );
    assert_eq!(reasons(&r, "train-0"), ["all-allocated"]);
}

#[test]
fn pending_pods_untolerated_taint_missing_product_and_too_large() {
    let (code, r) = check_json(&fixture("gpu-pending"), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(gpu_ids(&r), ["gpu.pending-pod"]);
    assert_eq!(reasons(&r, "no-toleration-0"), ["untolerated-taint"]);
    assert_eq!(reasons(&r, "h100-0"), ["affinity-mismatch"]);
    assert_eq!(reasons(&r, "big-0"), ["exceeds-node-capacity"]);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"]["pod"] == "no-toleration-0")
        .unwrap();
    assert!(
        f["evidence"]["fix"]
            .as_str()
            .unwrap()
            .contains("key: nvidia.com/gpu")
    );
    assert_eq!(f["evidence"]["scheduler_reasons"]["nodes"], 2);
    assert_eq!(
        f["evidence"]["scheduler_reasons"]["reasons"][1][1],
        "node(s) had untolerated taint {nvidia.com/gpu: present}"
    );
    let h = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"]["pod"] == "h100-0")
        .unwrap();
    assert!(
        h["evidence"]["fix"]
            .as_str()
            .unwrap()
            .contains("NVIDIA-A10G")
    );
}

#[test]
fn gpu_command_shows_devices_allocation_and_pending_pods() {
    let o = run(&[
        "--bundle",
        fixture("gpu-pending").to_str().unwrap(),
        "gpu",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "nodescope-gpu/1");
    assert_eq!(v["devices"].as_array().unwrap().len(), 4);
    let held: Vec<&Value> = v["allocation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["holder"] != "free")
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["holder"], "ml/infer-5d8f7c6b9-x7k2q (main)");
    assert_eq!(v["pending"].as_array().unwrap().len(), 3);
    let o = run(&["--bundle", fixture("gpu-pending").to_str().unwrap(), "gpu"]);
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "DEVICES",
        "NVIDIA A10G",
        "driver: 550.127.05",
        "ALLOCATION",
        "PENDING GPU PODS",
        "scheduler said:",
        "fix:",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
}

#[test]
fn a_checkpoint_the_kubelet_would_refuse_is_said_and_still_read() {
    // The fixtures carry the checksum the kubelet computes: no error.
    let (_, r) = check_json(&fixture("gpu-time-slicing-full"), &[]);
    assert_eq!(r["errors"], serde_json::json!([]));
    assert!(gpu_ids(&r).contains(&"gpu.all-allocated".to_string()));

    // One byte of the allocation changed by hand: the kubelet's checksum no longer matches.
    let c = Copy::of("gpu-time-slicing-full");
    let f = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";
    c.write(
        f,
        &c.read(f)
            .replacen("\"ContainerName\":\"main\"", "\"ContainerName\":\"mai\"", 1),
    );
    let (_, r) = check_json(&c.root, &[]);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["collector"], "gpu");
    assert_eq!(errors[0]["kind"], "invalid");
    assert_eq!(errors[0]["path"], f);
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("checksum 4248657886 does not match ")
            && msg.contains("the kubelet refuses this checkpoint"),
        "{msg}"
    );
    // What the file says is still what nodescope reports: the allocations are read.
    assert!(gpu_ids(&r).contains(&"gpu.all-allocated".to_string()));
}

/// Xid records as the driver writes them (gpud's test data: Xid 79 with and without pid and
/// name; a row-remapping Xid 63 from a real report), appended to a GPU node's kernel log in
/// the /dev/kmsg format: one finding per GPU and code, severity and remedy from NVIDIA's
/// catalog (critical RESTART_BM for 79, info IGNORE for 63).
#[test]
fn xid_records_in_the_kernel_log_become_findings_with_nvidias_action() {
    let c = Copy::of("gpu-time-slicing-full");
    let mut kmsg = c.read("/dev/kmsg");
    // /dev/kmsg: `prio,seq,usec,flags;message` (Documentation/ABI/testing/dev-kmsg); NVRM
    // logs at KERN_WARNING (4) with facility kern (0), after the fixture's last record.
    for (seq, usec, msg) in [
        (
            1549,
            863990200000u64,
            "NVRM: Xid (PCI:0000:1b:00): 79, GPU has fallen off the bus.",
        ),
        (
            1550,
            863990200100,
            "NVRM: Xid (PCI:0000:1b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
        ),
        (
            1551,
            863990300000,
            "NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, reset gpu to activate.",
        ),
    ] {
        kmsg.push_str(&format!("4,{seq},{usec},-;{msg}\n"));
    }
    c.write("/dev/kmsg", &kmsg);
    let (_, r) = check_json(&c.root, &[]);
    let xids: Vec<(String, String, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "gpu.xid")
        .map(|f| {
            (
                f["evidence"]["device"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["evidence"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        xids,
        [
            ("PCI:0000:1b:00".to_string(), "critical".to_string(), 2),
            ("PCI:0000:10:1c".to_string(), "info".to_string(), 1),
        ]
    );
}
