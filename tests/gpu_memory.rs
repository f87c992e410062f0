//! `gpu.memory-near-full` and NVML's per-process memory on fixtures/gpu-memory-near-full (an
//! H100 held by a vLLM pod, one idle) and fixtures/gpu-mig-memory (an A100 in MIG mode, one
//! 1g.10gb instance near full), both from scripts/fixtures/derive_gpu_memory.py: the finding
//! names the pod, `gpu -o json` maps processes to pods, Prometheus exports the figures, and a
//! bundle recorded the way `capture` records keeps the per-process figures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::{Value, json};

const GPU0: &str = "GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c00";
const MIB: u64 = 1 << 20;

fn near_full(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "gpu.memory-near-full")
        .collect()
}

fn gpu_json(bundle: &std::path::Path) -> Value {
    let o = run(&[
        "--bundle",
        bundle.to_str().unwrap(),
        "--no-cluster",
        "gpu",
        "-o",
        "json",
    ]);
    // `gpu` exits as `check` does: 1 for a warning among its findings.
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_vllm_pod_filling_an_h100_is_named_and_the_idle_gpu_is_not() {
    let (code, r) = check_json(&fixture("gpu-memory-near-full"), &[]);
    assert_eq!(code, Some(1), "a warning is the worst finding");
    let f = near_full(&r);
    assert_eq!(f.len(), 1, "GPU 1 is idle: {f:#?}");
    let f = f[0];
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["device"], GPU0);
    assert_eq!(
        f["title"],
        "GPU 0 (NVIDIA H100 80GB HBM3) has 96.1% of its memory in use: 76.5Gi of 79.6Gi, \
         most by llm/vllm-llama3-8b-0/vllm (pid 52318) with 76Gi"
    );
    let e = &f["evidence"];
    assert_eq!(e["used_bytes"], 78354 * MIB);
    assert_eq!(e["total_bytes"], 81559 * MIB);
    assert_eq!(e["used_percent"], 96.1);
    assert_eq!(
        e["processes"],
        json!([{"pid": 52318, "pod": "llm/vllm-llama3-8b-0", "container": "vllm",
                "used_bytes": 77824 * MIB}])
    );
    assert_eq!(
        f["remedy"],
        "llm/vllm-llama3-8b-0/vllm (pid 52318) is vLLM, which reserves --gpu-memory-utilization 0.9 \
         (its default) of the whole GPU at start (weights and KV cache) by design; it is alone on \
         this GPU, so this is expected; lower the flag only to leave room for another process"
    );
}

#[test]
fn below_the_threshold_the_rule_stays_silent() {
    let c = Copy::of("gpu-memory-near-full");
    let meta = c
        .read("/nodescope-bundle.json")
        .replace(&format!("{}", 78354 * MIB), &format!("{}", 77000 * MIB));
    c.write("/nodescope-bundle.json", &meta);
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(near_full(&r).len(), 0, "77000 of 81559 MiB is 94.4 %");
}

#[test]
fn gpu_json_maps_each_process_to_its_pod_and_a_stray_pid_to_itself() {
    let r = gpu_json(&fixture("gpu-memory-near-full"));
    let m = r["memory"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["uuid"], GPU0);
    assert_eq!(
        m[0]["holders"],
        json!([{"pid": 52318, "used_bytes": 77824 * MIB, "pod": "llm/vllm-llama3-8b-0",
                "container": "vllm", "comm": "python3"}])
    );
    assert_eq!(m[1]["holders"], json!([]));
    assert_eq!(m[1]["used_bytes"], MIB);

    let r = gpu_json(&fixture("gpu-mig-memory"));
    let rows: Vec<(Value, Value, Value)> = r["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mig_index"].clone(),
                m["used_bytes"].clone(),
                m["holders"].clone(),
            )
        })
        .take(3)
        .collect();
    assert_eq!(
        rows,
        vec![
            (Value::Null, json!(11532 * MIB), json!([])),
            (
                json!(0),
                json!(9412 * MIB),
                json!([{"pid": 61742, "used_bytes": 9394 * MIB, "pod": "ml/lora-ft-0",
                        "container": "trainer", "comm": "python"}])
            ),
            (
                json!(1),
                json!(2060 * MIB),
                json!([{"pid": 48810, "used_bytes": 2042 * MIB, "pod": null,
                        "container": null, "comm": null}])
            ),
        ]
    );
}

#[test]
fn a_full_mig_instance_fires_and_its_parent_gpu_does_not() {
    let (_, r) = check_json(&fixture("gpu-mig-memory"), &[]);
    let f = near_full(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        f[0]["subject"]["device"],
        "MIG-009f7c2a-1b3d-5e7f-9a1b-3c5d7e9f1a2b"
    );
    assert_eq!(f[0]["evidence"]["mig_index"], 0);
    assert!(
        f[0]["title"].as_str().unwrap().starts_with(
            "GPU 0 MIG 0 (NVIDIA A100-SXM4-80GB MIG 1g.10gb) has 96.8% of its memory in use"
        ),
        "{}",
        f[0]["title"]
    );
}

#[test]
fn the_text_report_lists_holders_under_their_gpu() {
    let o = run(&[
        "--bundle",
        fixture("gpu-mig-memory").to_str().unwrap(),
        "--no-cluster",
        "gpu",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(
            "  nvml 0 MIG 0: NVIDIA A100-SXM4-80GB MIG 1g.10gb MIG-009f7c2a-1b3d-5e7f-9a1b-3c5d7e9f1a2b  memory 9412/9728 MiB\n\
             \x20      9394 MiB  ml/lora-ft-0/trainer (pid 61742)\n\
             \x20 nvml 0 MIG 1: NVIDIA A100-SXM4-80GB MIG 1g.10gb MIG-019f7c2a-1b3d-5e7f-9a1b-3c5d7e9f1a2b  memory 2060/9728 MiB\n\
             \x20      2042 MiB  pid 48810\n"
        ),
        "{text}"
    );
}

#[test]
fn prometheus_exports_used_and_total_bytes_by_device() {
    let o = run(&[
        "--bundle",
        fixture("gpu-memory-near-full").to_str().unwrap(),
        "check",
        "-o",
        "prometheus",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("nodescope_gpu_memory_"))
        .collect();
    assert_eq!(
        lines,
        vec![
            format!("nodescope_gpu_memory_used_bytes{{index=\"0\",uuid=\"{GPU0}\"}} 82160123904"),
            "nodescope_gpu_memory_used_bytes{index=\"1\",uuid=\"GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c01\"} 1048576".to_string(),
            format!("nodescope_gpu_memory_total_bytes{{index=\"0\",uuid=\"{GPU0}\"}} 85520809984"),
            "nodescope_gpu_memory_total_bytes{index=\"1\",uuid=\"GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c01\"} 85520809984".to_string(),
        ]
    );
    let o = run(&[
        "--bundle",
        fixture("gpu-mig-memory").to_str().unwrap(),
        "check",
        "-o",
        "prometheus",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(
            "nodescope_gpu_memory_used_bytes{index=\"0\",mig=\"1\",uuid=\"MIG-019f7c2a-1b3d-5e7f-9a1b-3c5d7e9f1a2b\"} 2160066560\n"
        ),
        "{text}"
    );
}

/// `capture` records through `RecordingHost` (a live host only: NVML cannot answer on this
/// GPU-less machine, so the fixture's recorded answer stands in for the driver). Recorded,
/// written and replayed by the real binary, the per-process figures and their pods are the
/// same, and so is the finding.
#[test]
fn a_recorded_bundle_keeps_the_per_process_figures() {
    use nodescope::source::bundle::BundleHost;
    use nodescope::source::record::RecordingHost;
    for name in ["gpu-memory-near-full", "gpu-mig-memory"] {
        let original = fixture(name);
        let rec = RecordingHost::new(
            BundleHost::open(&original).unwrap(),
            std::path::Path::new("/"),
        );
        let _ = nodescope::collect::snapshot(&rec);
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("b.tar.gz");
        rec.write_bundle(&out, None).unwrap();
        let (before, after) = (gpu_json(&original), gpu_json(&out));
        assert_eq!(after["nvml"], before["nvml"], "{name}");
        assert_eq!(after["memory"], before["memory"], "{name}");
        assert!(
            after["memory"].to_string().contains("\"pid\":"),
            "{name}: the replay has holders"
        );
        let (_, r0) = check_json(&original, &[]);
        let (_, r1) = check_json(&out, &[]);
        assert_eq!(near_full(&r1), near_full(&r0), "{name}");
    }
}
