//! `gpu.memory-near-full`: a GPU, or a MIG instance, has 95 % or more of its memory in use
//! (NVML's `nvmlDeviceGetMemoryInfo`), and the finding names who holds it: each process NVML
//! lists, joined to its pod and container ([`crate::analyze::gpu_memory`]), largest first.
//!
//! A full GPU is not an error by itself: vLLM reserves `--gpu-memory-utilization` (0.9 by
//! default) of the whole GPU at start, for its weights and KV cache, so one vLLM pod alone
//! fills the device by design. What fails is the next allocation: a second process on the
//! same GPU (time-slicing, MPS, a sidecar), a restart racing the old process's memory, or the
//! pod's own growth ends in `CUDA out of memory`. The remedy is computed from the evidence:
//! the holder with the most memory, and for a vLLM holder the flag's value from its command
//! line. Unknown memory figures never fire.

use crate::analyze::gpu_memory::{self, GpuHolder, GpuMemory, NEAR_FULL_PERCENT};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct GpuMemoryNearFull;

impl Rule for GpuMemoryNearFull {
    fn id(&self) -> &'static str {
        "gpu.memory-near-full"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a GPU or MIG instance has 95% or more of its memory in use (NVML)"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  NVML (the NVIDIA driver's management library, what nvidia-smi shows) reports a GPU, or a
  MIG instance of one, with 95% or more of its memory used. The finding lists the processes
  NVML says hold it, each with its bytes and, through its cgroup, its pod and container;
  a process not in nodescope's process table is named by its pid only.

WHY IT MATTERS
  GPU memory is not a Kubernetes resource: nothing evicts or throttles for it. The next
  allocation on a full GPU fails with `CUDA out of memory` (gpu.cuda-oom): a second pod
  sharing the GPU (time-slicing, MPS), a restarted container while the old one's memory is
  still held, or the pod's own growth. vLLM reserves --gpu-memory-utilization (default 0.9)
  of the whole GPU at start for weights and KV cache: one vLLM pod alone looks full by
  design, and it is a problem only when something else must share that GPU.

HOW TO CONFIRM
  nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total --format=csv
  nvidia-smi --query-compute-apps=pid,used_memory,gpu_uuid --format=csv
  cat /proc/PID/cgroup   (the pod and container of a pid)

WHAT TO CHANGE
  vLLM sharing a GPU: lower --gpu-memory-utilization so the others fit (or give it the GPU
  alone). Other workloads: a smaller batch or model, another GPU for one of the holders, a
  GPU (or MIG profile) with more memory, or stop a stray process that holds memory."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for m in gpu_memory::devices(snap)
            .into_iter()
            .filter(GpuMemory::near_full)
        {
            out.push(device_finding(self, snap, &m));
        }
    }
}

fn device_finding(rule: &dyn Rule, snap: &Snapshot, m: &GpuMemory) -> Finding {
    let used = m.used_bytes.unwrap_or(0);
    let total = m.total_bytes.unwrap_or(0);
    let pct = m.used_percent.unwrap_or(0.0);
    let name = m
        .name
        .as_deref()
        .map_or(String::new(), |n| format!(" ({n})"));
    let most = m.holders.first().map_or(String::new(), |h| {
        let with = h
            .used_bytes
            .map_or(String::new(), |b| format!(" with {}", units::bytes(b)));
        format!(", most by {}{with}", h.label())
    });
    finding(
        rule,
        Severity::Warning,
        format!(
            "{}{name} has {pct:.1}% of its memory in use: {} of {}{most}",
            m.label(),
            units::bytes(used),
            units::bytes(total)
        ),
        Subject::default()
            .with_device(m.uuid.clone().unwrap_or_else(|| m.label()))
            .on_node(snap),
        serde_json::json!({
            "index": m.index,
            "mig_index": m.mig_index,
            "uuid": m.uuid,
            "name": m.name,
            "used_bytes": used,
            "total_bytes": total,
            "used_percent": pct,
            "threshold_percent": NEAR_FULL_PERCENT,
            "processes": m.holders.iter().map(|h| serde_json::json!({
                "pid": h.pid, "pod": h.pod, "container": h.container, "used_bytes": h.used_bytes,
            })).collect::<Vec<_>>(),
        }),
        remedy(snap, m),
    )
}

/// `, 76Gi` when the holder's bytes are known.
fn held(h: &GpuHolder) -> String {
    h.used_bytes
        .map_or(String::new(), |b| format!(", {}", units::bytes(b)))
}

/// What to change, from who holds the memory.
fn remedy(snap: &Snapshot, m: &GpuMemory) -> String {
    let Some(top) = m.holders.first() else {
        return "NVML lists no process holding it: look for processes outside this node's view \
                (`nvidia-smi --query-compute-apps=pid,used_memory --format=csv` on the node) \
                before placing more work on this GPU"
            .into();
    };
    let others = m.holders.len() - 1;
    let cmdline = snap
        .processes
        .iter()
        .find(|p| p.pid == top.pid)
        .map(|p| p.cmdline.as_slice())
        .unwrap_or_default();
    if gpu_memory::is_vllm(cmdline) {
        let util = gpu_memory::vllm_flags(cmdline)
            .into_iter()
            .find(|(k, _)| k == "--gpu-memory-utilization")
            .map_or("0.9 (its default)".to_string(), |(_, v)| v);
        let share = if others == 0 {
            "it is alone on this GPU, so this is expected; lower the flag only to leave room for another process"
        } else {
            "other processes share this GPU and will fail to allocate: lower the flag so they fit, or move them to another GPU"
        };
        return format!(
            "{} is vLLM, which reserves --gpu-memory-utilization {util} of the whole GPU at start \
             (weights and KV cache) by design; {share}",
            top.label()
        );
    }
    let also = if others == 0 {
        String::new()
    } else {
        format!(" ({others} other process(es) share it)")
    };
    format!(
        "{} holds the most{}{also}: make it fit with room to spare (a smaller batch or model), \
         move it or the others to another GPU, or use a GPU or MIG profile with more memory",
        top.label(),
        held(top)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::{GpuProcess, GpuProcessKind, MigDevice, Nvml, NvmlDevice};

    const GIB: u64 = 1 << 30;

    fn gp(pid: u32, used: u64) -> GpuProcess {
        GpuProcess {
            pid,
            kind: GpuProcessKind::Compute,
            used_bytes: Some(used),
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    /// An 80 GiB H100 with a vLLM pod's process on it, `used` bytes in use.
    fn node(used: Option<u64>, cmdline: &[&str]) -> Snapshot {
        let mut s = snap();
        let mut p = pod("llm", "vllm-70b-0", "u1");
        p.containers.push(container(&id('a'), "vllm", None));
        s.pods.push(p);
        let mut proc = process(31207, "python3", Some(&id('a')));
        proc.cmdline = cmdline.iter().map(|a| a.to_string()).collect();
        s.processes.push(proc);
        s.gpu.nvml = Some(Nvml {
            devices: vec![NvmlDevice {
                index: 0,
                name: Some("NVIDIA H100 80GB HBM3".into()),
                uuid: Some("GPU-5f1c".into()),
                memory_total_bytes: Some(80 * GIB),
                memory_used_bytes: used,
                processes: vec![gp(31207, 76 * GIB)],
                ..Default::default()
            }],
            ..Default::default()
        });
        s
    }

    const VLLM: &[&str] = &["python3", "-m", "vllm.entrypoints.openai.api_server"];

    #[test]
    fn a_full_gpu_names_its_vllm_pod_and_the_flags_default() {
        let f = one(&GpuMemoryNearFull, &node(Some(78 * GIB), VLLM));
        assert_eq!(
            f.title,
            "GPU 0 (NVIDIA H100 80GB HBM3) has 97.5% of its memory in use: 78Gi of 80Gi, most by llm/vllm-70b-0/vllm (pid 31207) with 76Gi"
        );
        assert_eq!(f.subject.device.as_deref(), Some("GPU-5f1c"));
        assert_eq!(
            f.evidence["processes"],
            serde_json::json!([{"pid": 31207, "pod": "llm/vllm-70b-0", "container": "vllm",
                "used_bytes": 76 * GIB}])
        );
        assert_eq!(
            f.remedy,
            "llm/vllm-70b-0/vllm (pid 31207) is vLLM, which reserves --gpu-memory-utilization 0.9 (its default) of the whole GPU at start (weights and KV cache) by design; it is alone on this GPU, so this is expected; lower the flag only to leave room for another process"
        );
    }

    #[test]
    fn the_flag_is_read_from_the_command_line_and_a_sharer_changes_the_advice() {
        let mut s = node(
            Some(79 * GIB),
            &[VLLM, &["--gpu-memory-utilization", "0.95"]].concat(),
        );
        if let Some(n) = s.gpu.nvml.as_mut() {
            n.devices[0].processes.push(gp(4242, GIB));
        }
        let f = one(&GpuMemoryNearFull, &s);
        assert!(
            f.remedy
                .contains("--gpu-memory-utilization 0.95 of the whole GPU")
                && f.remedy.contains("other processes share this GPU"),
            "{}",
            f.remedy
        );
        assert_eq!(f.evidence["processes"][1]["pod"], serde_json::Value::Null);
    }

    #[test]
    fn below_95_percent_or_without_figures_it_does_not_fire() {
        assert_eq!(run(&GpuMemoryNearFull, &node(Some(75 * GIB), VLLM)), vec![]);
        assert_eq!(run(&GpuMemoryNearFull, &node(None, VLLM)), vec![]);
        assert_eq!(run(&GpuMemoryNearFull, &snap()), vec![]);
    }

    #[test]
    fn a_full_mig_instance_fires_and_a_non_vllm_holder_gets_the_generic_advice() {
        let mut s = node(Some(20 * GIB), &["python", "train.py"]);
        if let Some(n) = s.gpu.nvml.as_mut() {
            let d = &mut n.devices[0];
            d.name = Some("NVIDIA A100-SXM4-80GB".into());
            d.mig_enabled = Some(true);
            d.processes.clear();
            d.mig_devices = vec![MigDevice {
                index: 1,
                uuid: Some("MIG-0a1b".into()),
                name: Some("NVIDIA A100-SXM4-80GB MIG 1g.10gb".into()),
                memory_total_bytes: Some(9984 << 20),
                memory_used_bytes: Some(9700 << 20),
                processes: vec![gp(31207, 9600 << 20)],
            }];
        }
        let f = one(&GpuMemoryNearFull, &s);
        assert!(
            f.title
                .starts_with("GPU 0 MIG 1 (NVIDIA A100-SXM4-80GB MIG 1g.10gb) has 97.2%"),
            "{}",
            f.title
        );
        assert!(
            f.remedy
                .starts_with("llm/vllm-70b-0/vllm (pid 31207) holds the most, 9.4Gi: "),
            "{}",
            f.remedy
        );
    }
}
