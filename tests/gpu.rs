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

/// fixtures/cluster-gpu-full (scripts/fixtures/derive_cluster_gpu_full.py): a Pending pod
/// whose A100 candidates are one fully allocated node and one MIG node, judged across the
/// cluster. Each reason on exactly its node, allocation counted from the other nodes'
/// non-terminal pods (a Succeeded pod's 4 GPUs do not count), and the scheduler's message
/// reconciled node by node.
#[test]
fn a_pending_pod_across_the_cluster_full_gpu_node_and_mig_node() {
    let (_, r) = check_json(
        &fixture("gpu-pending"),
        &[
            "--cluster-dump",
            fixture("cluster-gpu-full").to_str().unwrap(),
        ],
    );
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "gpu.pending-pod")
        .expect("gpu.pending-pod");
    assert_eq!(
        f["title"],
        "ml/a100-0 Pending, asks for 1 nvidia.com/gpu: affinity-mismatch, all-allocated, mig-resource-mismatch"
    );
    let by_node: Vec<(String, Value)> = f["evidence"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["reason"].as_str().unwrap().to_string(),
                x["by_node"].clone(),
            )
        })
        .collect();
    assert_eq!(
        by_node,
        vec![
            (
                "affinity-mismatch".to_string(),
                serde_json::json!({"node-a": "node-a does not match the pod's node selector/affinity"})
            ),
            (
                "all-allocated".to_string(),
                serde_json::json!({"gpu-b": "8/8 nvidia.com/gpu allocated on gpu-b"})
            ),
            (
                "mig-resource-mismatch".to_string(),
                serde_json::json!({"gpu-mig": "asks for nvidia.com/gpu; gpu-mig offers nvidia.com/mig-1g.5gb"})
            ),
        ]
    );
    assert_eq!(
        f["evidence"]["allocation"],
        serde_json::json!([
            {"node": "gpu-b", "resource": "nvidia.com/gpu", "allocated": 8, "allocatable": 8, "source": "pods"},
            {"node": "gpu-mig", "resource": "nvidia.com/mig-1g.5gb", "allocated": 2, "allocatable": 7, "source": "pods"},
            {"node": "node-a", "resource": "nvidia.com/gpu", "allocated": 1, "allocatable": 4, "source": "checkpoint"},
        ])
    );
    let rec = &f["evidence"]["reconciliation"];
    assert_eq!(rec["agrees"], true, "{rec}");
    assert_eq!(
        rec["by_node"],
        serde_json::json!({
            "cpu-1": ["node(s) didn't match Pod's node affinity/selector"],
            "gpu-b": ["Insufficient nvidia.com/gpu"],
            "gpu-mig": ["Insufficient nvidia.com/gpu"],
            "node-a": ["node(s) didn't match Pod's node affinity/selector"],
        })
    );
    assert_eq!(rec["differences"], serde_json::json!([]));
}

/// The same cluster with one of gpu-b's pods gone (finished since the event): gpu-b has room,
/// so all-allocated is no longer a reason there, and the scheduler's older message no longer
/// agrees with what is computed; the difference is named.
#[test]
fn a_freed_gpu_removes_all_allocated_and_the_stale_message_is_called_out() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("cluster-gpu-full"), d.path());
    let p = d.path().join("pods.json");
    let mut pods: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    for item in pods["items"].as_array_mut().unwrap() {
        if item["metadata"]["name"] == "llm-train-1" {
            item["status"]["phase"] = "Succeeded".into();
        }
    }
    std::fs::write(&p, serde_json::to_vec(&pods).unwrap()).unwrap();
    let (_, r) = check_json(
        &fixture("gpu-pending"),
        &["--cluster-dump", d.path().to_str().unwrap()],
    );
    assert_eq!(
        reasons(&r, "a100-0"),
        vec!["affinity-mismatch", "mig-resource-mismatch"]
    );
    let f = finding(&r, "gpu.pending-pod");
    let rec = &f["evidence"]["reconciliation"];
    assert_eq!(rec["agrees"], false);
    assert_eq!(
        rec["differences"][0],
        "Insufficient nvidia.com/gpu: the scheduler counted 2, nodescope 1 (gpu-mig)"
    );
    assert!(
        rec["differences"][1]
            .as_str()
            .unwrap()
            .starts_with("gpu-b fit(s) the pod's GPU request"),
        "{rec}"
    );
}

/// Every GPU fixture's FailedScheduling message is the one kube-scheduler writes for its
/// cluster: reconciled node by node, each agrees with what nodescope computes.
#[test]
fn every_gpu_fixtures_scheduler_message_reconciles() {
    for name in [
        "gpu-driver-missing",
        "gpu-no-device-plugin",
        "gpu-mig-mixed",
        "gpu-time-slicing-full",
        "gpu-pending",
    ] {
        let (_, r) = check_json(&fixture(name), &[]);
        let pending: Vec<&Value> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == "gpu.pending-pod")
            .collect();
        assert!(!pending.is_empty(), "{name}");
        for f in pending {
            let rec = &f["evidence"]["reconciliation"];
            assert_eq!(rec["agrees"], true, "{name} {}: {rec}", f["subject"]["pod"]);
        }
    }
}
