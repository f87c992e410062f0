//! `gpu.cuda-oom` on fixtures/gpu-cuda-oom (scripts/fixtures/derive_cuda_oom.py): the vLLM pod
//! whose previous run died of `torch.cuda.OutOfMemoryError` is a GPU OOM and not a kernel one;
//! the worker its memory limit killed is a kernel OOM and not a GPU one, though its log also
//! holds a (caught) CUDA OOM. A capture keeps only the matched lines of a previous log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

fn findings<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// The (pod, container) of each finding of `id`.
fn who(r: &Value, id: &str) -> Vec<(String, String)> {
    findings(r, id)
        .iter()
        .map(|f| {
            (
                f["subject"]["pod"].as_str().unwrap().to_string(),
                f["subject"]["container"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_classified(r: &Value) {
    assert_eq!(
        who(r, "gpu.cuda-oom"),
        [("vllm-7b-0".to_string(), "vllm".to_string())]
    );
    assert_eq!(
        who(r, "memory.kernel-oom-kill"),
        [(
            "embed-worker-5c9d7f6b8-q4m2x".to_string(),
            "worker".to_string()
        )]
    );
}

#[test]
fn the_vllm_restart_is_a_gpu_oom_and_the_limit_kill_a_kernel_one() {
    let (code, r) = check_json(&fixture("gpu-cuda-oom"), &[]);
    assert_eq!(code, Some(2), "the kernel kill is 16 minutes old: critical");
    assert_classified(&r);
    let f = findings(&r, "gpu.cuda-oom")[0];
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["namespace"], "llm");
    let e = &f["evidence"];
    assert_eq!(
        e["log"],
        "/var/log/pods/llm_vllm-7b-0_5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c10/vllm/0.log"
    );
    assert_eq!(e["run"], 0);
    assert_eq!(e["pattern"], "pytorch-oom");
    assert_eq!(e["time"], "2026-11-22T02:41:17.551311766Z");
    assert_eq!(
        e["gpus"],
        serde_json::json!([
            "GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c00 (NVIDIA A10G, 21Gi of 22.5Gi used)"
        ])
    );
    // NVML's figures of the allocated GPU (matched by the checkpoint's device UUID).
    assert_eq!(
        e["gpu_memory"],
        serde_json::json!([{"uuid": "GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c00", "name": "NVIDIA A10G",
            "used_bytes": 21504u64 << 20, "total_bytes": 23028u64 << 20}])
    );
    let line = e["line"].as_str().unwrap();
    assert!(
        line.starts_with(
            "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.76 GiB."
        ),
        "{line}"
    );
    assert_eq!(line.len(), 512, "the matched line is cut at 512 bytes");
    assert_eq!(
        e["vllm_flags"],
        serde_json::json!(["--gpu-memory-utilization=0.95", "--max-model-len=32768"])
    );
    assert!(
        f["remedy"].as_str().unwrap().ends_with(
            "(the running vLLM has --gpu-memory-utilization 0.95, --max-model-len 32768)"
        )
    );
}

#[test]
fn without_the_kernel_kill_the_workers_caught_cuda_oom_is_claimed() {
    // The kernel's record decides: with it gone, the worker's log alone speaks.
    let c = Copy::of("gpu-cuda-oom");
    let kmsg: String = c
        .read("/dev/kmsg")
        .lines()
        .filter(|l| !l.contains("41877") && !l.contains("oom"))
        .map(|l| format!("{l}\n"))
        .collect();
    c.write("/dev/kmsg", &kmsg);
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(who(&r, "memory.kernel-oom-kill"), []);
    let mut got = who(&r, "gpu.cuda-oom");
    got.sort();
    assert_eq!(
        got,
        [
            (
                "embed-worker-5c9d7f6b8-q4m2x".to_string(),
                "worker".to_string()
            ),
            ("vllm-7b-0".to_string(), "vllm".to_string())
        ]
    );
}

#[test]
fn a_capture_keeps_only_the_matched_lines_of_a_previous_log() {
    let c = Copy::of("gpu-cuda-oom");
    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("b.tar.gz");
    let o = run(&[
        "--root",
        c.root.to_str().unwrap(),
        "--no-cluster",
        "capture",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap()),
        &mut raw,
    )
    .unwrap();
    let tar = String::from_utf8_lossy(&raw);
    assert!(tar.contains("torch.cuda.OutOfMemoryError: CUDA out of memory."));
    for never in [
        "Loading model weights",
        "GPU blocks",
        "Traceback",
        "documents queued",
    ] {
        assert!(
            !tar.contains(never),
            "{never:?} of a previous log is in the bundle"
        );
    }
    // The replay finds what the live read found (under --root a regular file is no kernel
    // log: /dev/kmsg must be the character device, so neither sees the kernel's kill).
    let live = run(&[
        "--root",
        c.root.to_str().unwrap(),
        "--no-cluster",
        "check",
        "--format",
        "json",
    ]);
    let live: Value = serde_json::from_slice(&live.stdout).unwrap();
    let (_, replay) = check_json(&bundle, &[]);
    assert!(who(&replay, "gpu.cuda-oom").contains(&("vllm-7b-0".to_string(), "vllm".to_string())));
    assert_eq!(who(&replay, "gpu.cuda-oom"), who(&live, "gpu.cuda-oom"));
    assert_eq!(
        findings(&replay, "gpu.cuda-oom")[0]["evidence"],
        findings(&live, "gpu.cuda-oom")[0]["evidence"]
    );
}

#[test]
fn the_ddp_trainer_with_two_gpus_and_a_64_mib_dev_shm_is_shm_small_not_cuda_oom() {
    let (code, r) = check_json(&fixture("gpu-shm-small"), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&r, "gpu.cuda-oom").len(), 0);
    let f = findings(&r, "pod.shm-small");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["subject"]["pod"], "ddp-train-0");
    let e = &f[0]["evidence"];
    assert_eq!(e["shm_bytes"], 64u64 << 20);
    assert_eq!(e["pid"], 35137);
    assert_eq!(e["gpus"], 2);
    assert_eq!(e["empty_dir"], Value::Null);
    assert!(
        e["log_line"]
            .as_str()
            .unwrap()
            .contains("NCCL WARN Error: failed to extend /dev/shm/nccl-7xkQ2a to 9637892 bytes"),
        "{e:#}"
    );
}

#[test]
fn an_empty_dir_at_dev_shm_is_named_and_a_large_one_does_not_fire() {
    let c = Copy::of("gpu-shm-small");
    let uid = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e32";
    let info = c
        .read("/proc/35137/mountinfo")
        .replace("0:299 / /dev/shm", "0:333 / /dev/shm")
        .replace("tmpfs shm rw,size=65536k", "tmpfs tmpfs rw,size=16777216k");
    c.write("/proc/35137/mountinfo", &info);
    let mut host = c.read("/proc/1/mountinfo");
    host.push_str(&format!(
        "913 22 0:333 / /var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/dshm rw,relatime shared:411 - tmpfs tmpfs rw,size=16777216k,inode64\n"
    ));
    c.write("/proc/1/mountinfo", &host);
    let s = run(&[
        "--bundle",
        c.root.to_str().unwrap(),
        "snapshot",
        "--format",
        "json",
    ]);
    let s: Value = serde_json::from_slice(&s.stdout).unwrap();
    let shm = &s["gpu"]["pod_shm"][0];
    assert_eq!(shm["empty_dir"], "dshm");
    assert_eq!(shm["size_bytes"], 16u64 << 30);
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(findings(&r, "pod.shm-small").len(), 0);
}

/// The bytes and read(2) calls `check --root` spends on the file `suffix` names, counted by
/// strace (`-y` prints each descriptor's path).
fn reads_of(root: &std::path::Path, suffix: &str) -> (u64, usize, Value) {
    use common::watchdog::Watched;
    let d = tempfile::tempdir().unwrap();
    let trace = d.path().join("trace");
    let o = std::process::Command::new("strace")
        .args(["-f", "-y", "-e", "trace=read,pread64,readv,preadv", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_nodescope"))
        .arg("--root")
        .arg(root)
        .args(["--no-cluster", "check", "--format", "json"])
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let trace = std::fs::read_to_string(&trace).unwrap();
    let calls: Vec<u64> = trace
        .lines()
        .filter(|l| l.contains(&format!("{suffix}>")))
        .map(|l| l.rsplit_once("= ").unwrap().1.trim().parse().unwrap())
        .collect();
    (calls.iter().sum(), calls.len(), report)
}

/// The previous log of a restarted container is read from its end only: the same vLLM log
/// grown to 2 GiB (holes, then the lines it ended with) costs one read(2) of 64 KiB, where
/// the fixture's own few KiB cost two calls and themselves; the finding is the same.
/// Real syscalls of the real binary, counted by strace (live: needs strace).
#[test]
fn live_a_2_gib_previous_log_costs_one_read_of_64_kib_under_strace() {
    use common::watchdog::Watched;
    let strace_here = std::process::Command::new("strace")
        .arg("-V")
        .watched_output()
        .is_ok_and(|o| o.status.success());
    if !strace_here {
        return common::live::skip_or_fail("needs strace (.ci/run installs it)");
    }
    let log = "/var/log/pods/llm_vllm-7b-0_5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c10/vllm/0.log";
    let c = Copy::of("gpu-cuda-oom");
    let end = std::fs::read(c.path(log)).unwrap();
    let (small_bytes, small_calls, small) = reads_of(&c.root, "/vllm/0.log");
    assert_eq!(small_bytes, end.len() as u64);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(c.path(log)).unwrap();
        f.seek(SeekFrom::Start((2 << 30) - end.len() as u64))
            .unwrap();
        f.write_all(&end).unwrap();
    }
    assert_eq!(std::fs::metadata(c.path(log)).unwrap().len(), 2 << 30);
    let (big_bytes, big_calls, big) = reads_of(&c.root, "/vllm/0.log");
    assert_eq!(big_bytes, 64 * 1024);
    // The small one: its bytes, then end of file; the big one: exactly the 64 KiB asked for.
    assert_eq!((small_calls, big_calls), (2, 1));
    let evidence = |r: &Value| findings(r, "gpu.cuda-oom")[0]["evidence"].clone();
    assert_eq!(evidence(&big)["pattern"], "pytorch-oom");
    assert_eq!(evidence(&big), evidence(&small));
}
