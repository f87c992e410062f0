//! `gpu.cuda-oom`: a container's previous run ended in a GPU-memory or NCCL out-of-memory
//! error (its log's end, `collect::prev_log`), not in the kernel's OOM killer. The two look
//! alike from the API (a restart) and need opposite fixes: a kernel kill wants more host
//! memory (the limit), a CUDA OOM wants less GPU memory asked for or a larger GPU.
//!
//! The kernel's word wins: a restart whose container the kernel OOM-killed (the kernel log
//! attributes a kill to that pod and container, `memory.kernel-oom-kill`, or the API's
//! `lastState.terminated.reason` is the runtime's `OOMKilled`) is never claimed here, so the
//! two never claim the same restart (`analyze::restarts` orders the sources the same way).
//!
//! Shared-memory failures (`GpuFailure::Shm`) and NCCL's bare `unhandled system error` /
//! `unhandled cuda error` are `pod.shm-small`'s evidence, not this rule's
//! (`restarts::is_gpu_oom`).

use crate::analyze::gpu_memory::{self, is_vllm};
use crate::analyze::oom::kills;
use crate::analyze::restarts::{api_oom_killed, is_gpu_oom};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::gpu::{GpuFailure, LogMatch, PreviousRun};
use crate::model::units;

pub struct GpuCudaOom;

impl Rule for GpuCudaOom {
    fn id(&self) -> &'static str {
        "gpu.cuda-oom"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a container's previous run ended in a GPU memory or NCCL out-of-memory error"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The log of a restarted container's previous run (/var/log/pods/<ns>_<pod>_<uid>/<container>/
  <N>.log, its last 64 KiB) ends in a GPU memory failure: PyTorch's `torch.OutOfMemoryError:
  CUDA out of memory. Tried to allocate ...`, `CUDA error: out of memory` or
  `CUBLAS_STATUS_ALLOC_FAILED`, NCCL's `Cuda failure 'out of memory'`, vLLM's `No available
  memory for the cache blocks` or its KV cache too small for --max-model-len, TensorRT-LLM's
  `CUDA runtime error in ...: out of memory`, or XLA's `RESOURCE_EXHAUSTED: Out of memory`.
  Only the matched line is shown, redacted.

WHY IT MATTERS
  The container died of GPU memory, not host memory: Kubernetes shows `Error`, exit 1, not
  `OOMKilled`, exit 137, and raising the memory limit changes nothing. The GPU's memory is not a
  Kubernetes resource: the model's weights, activations and KV cache must fit the device the
  device plugin gave it. When the kernel OOM-killed the same container, memory.kernel-oom-kill
  reports it and this rule stays silent.

HOW TO CONFIRM
  kubectl logs -n NS POD -c CONTAINER --previous | grep -iE 'out of memory|NCCL|cache blocks'
  kubectl get pod -n NS POD -o jsonpath='{.status.containerStatuses[*].lastState.terminated}'
  nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv

WHAT TO CHANGE
  vLLM: lower --gpu-memory-utilization (when other processes share the GPU) or --max-model-len,
  or fewer --max-num-seqs; or shard the model with --tensor-parallel-size over more GPUs.
  Training and other inference: a smaller batch, mixed precision, a GPU with more memory, or
  tensor/pipeline parallelism. A fragmentation note in PyTorch's message suggests
  PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let kernel = kills(snap);
        for run in &snap.gpu.previous_runs {
            let Some(m) = run.matches.iter().rev().find(|m| is_gpu_oom(m)) else {
                continue;
            };
            let killed_by_kernel = kernel.iter().any(|k| {
                !k.kill.global
                    && k.pod_uid.as_deref() == Some(run.pod_uid.as_str())
                    && k.container.as_deref().is_none_or(|c| c == run.container)
            });
            if killed_by_kernel || api_oom_killed(snap, &run.pod_uid, &run.container) {
                continue;
            }
            out.push(run_finding(self, snap, run, m));
        }
    }
}

fn run_finding(rule: &dyn Rule, snap: &Snapshot, run: &PreviousRun, m: &LogMatch) -> Finding {
    let gpus = gpus_of(snap, run);
    let on = if gpus.is_empty() {
        String::new()
    } else {
        format!(" on {}", gpus.join(", "))
    };
    let what = match m.kind {
        GpuFailure::KvCache => "vLLM finding no GPU memory for its KV cache",
        GpuFailure::Nccl => "an NCCL failure",
        _ => "a CUDA out-of-memory error",
    };
    let flags = vllm_flags(snap, run);
    finding(
        rule,
        Severity::Warning,
        format!(
            "{}/{}/{}: its previous run ({}.log) ended in {what}{on}: {}",
            run.namespace,
            run.pod,
            run.container,
            run.run,
            headline(&m.line)
        ),
        Subject::pod(Some(run.namespace.clone()), run.pod.clone())
            .with_container(run.container.clone()),
        serde_json::json!({
            "log": run.path,
            "run": run.run,
            "time": m.time,
            "pattern": m.pattern,
            "line": m.line,
            "gpus": gpus,
            "gpu_memory": nvml_memory(snap, run),
            "vllm_flags": flags.as_ref().map(|f| f.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()),
        }),
        remedy(m, flags.as_deref()),
    )
}

/// The start of a matched line for a title (the evidence keeps all of it): at most
/// [`TITLE_LINE`] characters, `…` when cut.
fn headline(line: &str) -> String {
    let cut = crate::model::text::truncate(line, TITLE_LINE);
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut.to_string()
    }
}

/// The most characters of a matched line a title shows.
const TITLE_LINE: usize = 160;

/// The devices the kubelet's checkpoint gives the container (GPU UUIDs, matched to NVML's
/// devices by uuid), with the model and memory NVML or the driver knows:
/// `GPU-1a2b (NVIDIA A100-SXM4-80GB, 76Gi of 80Gi used)`; the total alone when NVML gave no
/// used figure.
fn gpus_of(snap: &Snapshot, run: &PreviousRun) -> Vec<String> {
    allocated(snap, run)
        .into_iter()
        .map(|id| describe_gpu(snap, id))
        .collect()
}

/// The container's allocated devices NVML answered for, with their memory figures now.
fn nvml_memory(snap: &Snapshot, run: &PreviousRun) -> Vec<serde_json::Value> {
    let ids = allocated(snap, run);
    snap.gpu
        .nvml
        .iter()
        .flat_map(|n| n.devices.iter())
        .filter(|d| d.uuid.as_deref().is_some_and(|u| ids.contains(&u)))
        .map(|d| {
            serde_json::json!({
                "uuid": d.uuid, "name": d.name,
                "used_bytes": d.memory_used_bytes, "total_bytes": d.memory_total_bytes,
            })
        })
        .collect()
}

/// The device ids the kubelet's checkpoint allocated to the run's container.
fn allocated<'a>(snap: &'a Snapshot, run: &PreviousRun) -> Vec<&'a str> {
    snap.gpu
        .checkpoint
        .iter()
        .flat_map(|cp| cp.allocations.iter())
        .filter(|a| a.pod_uid == run.pod_uid && a.container == run.container)
        .flat_map(|a| a.device_ids.iter().map(String::as_str))
        .collect()
}

fn describe_gpu(snap: &Snapshot, id: &str) -> String {
    let nvml = snap
        .gpu
        .nvml
        .iter()
        .flat_map(|n| n.devices.iter())
        .find(|d| d.uuid.as_deref() == Some(id));
    let model = nvml.and_then(|d| d.name.clone()).or_else(|| {
        snap.gpu
            .driver_gpus
            .iter()
            .find(|g| g.uuid.as_deref() == Some(id))
            .and_then(|g| g.model.clone())
    });
    let memory = nvml.and_then(|d| match (d.memory_used_bytes, d.memory_total_bytes) {
        (Some(u), Some(t)) => Some(format!("{} of {} used", units::bytes(u), units::bytes(t))),
        (None, Some(t)) => Some(units::bytes(t)),
        _ => None,
    });
    match (model, memory) {
        (Some(m), Some(b)) => format!("{id} ({m}, {b})"),
        (Some(m), None) => format!("{id} ({m})"),
        (None, Some(b)) => format!("{id} ({b})"),
        (None, None) => id.to_string(),
    }
}

/// The vLLM memory flags of the container's running process, when one runs vLLM:
/// `Some([])` when vLLM runs with none of them set, `None` when no vLLM process is in view.
fn vllm_flags(snap: &Snapshot, run: &PreviousRun) -> Option<Vec<(String, String)>> {
    let ids: Vec<&str> = snap
        .pods
        .iter()
        .filter(|p| p.uid == run.pod_uid)
        .flat_map(|p| p.containers.iter())
        .filter(|c| c.name.as_deref() == Some(run.container.as_str()))
        .map(|c| c.id.as_str())
        .collect();
    let p = snap.processes.iter().find(|p| {
        p.container_id.as_deref().is_some_and(|c| ids.contains(&c)) && is_vllm(&p.cmdline)
    })?;
    Some(gpu_memory::vllm_flags(&p.cmdline))
}

/// What to change, from what the line and the process say.
fn remedy(m: &LogMatch, flags: Option<&[(String, String)]>) -> String {
    let is_vllm = m.pattern.starts_with("vllm-") || flags.is_some();
    if !is_vllm {
        return match m.kind {
            GpuFailure::Nccl => "NCCL's CUDA allocations failed: leave GPU memory for NCCL's buffers (a smaller batch or model shard), or use GPUs with more memory".into(),
            _ => "make the work fit the GPU: a smaller batch or sequence length, mixed precision, a GPU with more memory, or tensor parallelism over more GPUs".into(),
        };
    }
    let set = match flags {
        Some([]) => "the running vLLM sets none of these (its defaults: --gpu-memory-utilization 0.9, --max-model-len from the model)".to_string(),
        Some(f) => format!(
            "the running vLLM has {}",
            f.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        ),
        None => "no vLLM process of this container is in view to read its flags from".to_string(),
    };
    format!(
        "vLLM: lower --gpu-memory-utilization if other processes share the GPU, lower --max-model-len or --max-num-seqs, or shard with --tensor-parallel-size ({set})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::{DeviceAllocation, DeviceCheckpoint, Nvml, NvmlDevice};

    fn run_with(pattern: &str, kind: GpuFailure, line: &str) -> PreviousRun {
        PreviousRun {
            namespace: "llm".into(),
            pod: "vllm-0".into(),
            pod_uid: "u1".into(),
            container: "vllm".into(),
            path: "/var/log/pods/llm_vllm-0_u1/vllm/2.log".into(),
            run: 2,
            matches: vec![LogMatch {
                time: Some("2026-12-06T03:14:07Z".into()),
                kind,
                pattern: pattern.into(),
                line: line.into(),
            }],
        }
    }

    fn node() -> Snapshot {
        let mut s = snap();
        let mut p = pod("llm", "vllm-0", "u1");
        p.containers.push(container(&id('a'), "vllm", None));
        s.pods.push(p);
        let mut proc = process(4242, "python3", Some(&id('a')));
        proc.cmdline = [
            "python3",
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--gpu-memory-utilization=0.95",
            "--max-model-len",
            "32768",
        ]
        .map(String::from)
        .to_vec();
        s.processes.push(proc);
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: Default::default(),
            allocations: vec![DeviceAllocation {
                pod_uid: "u1".into(),
                container: "vllm".into(),
                resource: "nvidia.com/gpu".into(),
                device_ids: vec!["GPU-1a2b".into()],
            }],
        });
        s.gpu.nvml = Some(Nvml {
            devices: vec![NvmlDevice {
                uuid: Some("GPU-1a2b".into()),
                name: Some("NVIDIA A10G".into()),
                memory_total_bytes: Some(24 << 30),
                ..Default::default()
            }],
            ..Default::default()
        });
        s
    }

    #[test]
    fn a_cuda_oom_names_the_gpu_and_the_running_vllms_flags() {
        let mut s = node();
        s.gpu.previous_runs.push(run_with(
            "pytorch-oom",
            GpuFailure::CudaOom,
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
        ));
        let f = one(&GpuCudaOom, &s);
        assert_eq!(
            f.title,
            "llm/vllm-0/vllm: its previous run (2.log) ended in a CUDA out-of-memory error on GPU-1a2b (NVIDIA A10G, 24Gi): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."
        );
        assert_eq!(
            f.remedy,
            "vLLM: lower --gpu-memory-utilization if other processes share the GPU, lower --max-model-len or --max-num-seqs, or shard with --tensor-parallel-size (the running vLLM has --gpu-memory-utilization 0.95, --max-model-len 32768)"
        );
    }

    /// NVML's used figure of the allocated GPU joins its total in the title and evidence.
    #[test]
    fn the_gpus_used_memory_is_named_when_nvml_knows_it() {
        let mut s = node();
        if let Some(n) = s.gpu.nvml.as_mut() {
            n.devices[0].memory_used_bytes = Some(23 << 30);
        }
        s.gpu.previous_runs.push(run_with(
            "pytorch-oom",
            GpuFailure::CudaOom,
            "torch.OutOfMemoryError: CUDA out of memory.",
        ));
        let f = one(&GpuCudaOom, &s);
        assert!(
            f.title
                .contains(" on GPU-1a2b (NVIDIA A10G, 23Gi of 24Gi used): "),
            "{}",
            f.title
        );
        assert_eq!(
            f.evidence["gpu_memory"],
            serde_json::json!([{"uuid": "GPU-1a2b", "name": "NVIDIA A10G",
                "used_bytes": 23u64 << 30, "total_bytes": 24u64 << 30}])
        );
    }

    #[test]
    fn a_kernel_oom_kill_of_the_same_container_wins() {
        let mut s = node();
        s.gpu.previous_runs.push(run_with(
            "pytorch-oom",
            GpuFailure::CudaOom,
            "torch.OutOfMemoryError: CUDA out of memory.",
        ));
        let path = container_path("u1", &id('a'));
        s.pods[0].containers[0].cgroup = Some(cgroup(&path));
        s.oom_kills
            .push(kill(4242, "python3", 1_000_000, &path, false));
        assert_eq!(run(&GpuCudaOom, &s), vec![]);
    }

    #[test]
    fn the_apis_oomkilled_wins_when_the_kernel_record_is_gone() {
        let mut s = node();
        s.gpu.previous_runs.push(run_with(
            "pytorch-oom",
            GpuFailure::CudaOom,
            "torch.OutOfMemoryError: CUDA out of memory.",
        ));
        let mut api = crate::model::cluster::ApiPod::default();
        api.containers.push(crate::model::cluster::ApiContainer {
            name: "vllm".into(),
            requests: Default::default(),
            limits: Default::default(),
            restart_count: Some(3),
            last_termination_reason: Some("Error".into()),
            last_termination_exit_code: Some(1),
            last_termination_signal: None,
        });
        s.pods[0].api = Some(api);
        assert_eq!(run(&GpuCudaOom, &s).len(), 1, "`Error`, exit 1: the GPU's");
        s.pods[0].api.as_mut().unwrap().containers[0].last_termination_reason =
            Some("OOMKilled".into());
        assert_eq!(run(&GpuCudaOom, &s), vec![], "`OOMKilled`: the kernel's");
    }

    #[test]
    fn shared_memory_lines_and_no_runs_are_not_this_rules() {
        let mut s = node();
        assert_eq!(run(&GpuCudaOom, &s), vec![]);
        s.gpu.previous_runs.push(run_with(
            "nccl-shm-extend",
            GpuFailure::Shm,
            "NCCL WARN Error: failed to extend /dev/shm/nccl-x to 9637892 bytes",
        ));
        assert_eq!(run(&GpuCudaOom, &s), vec![]);
    }

    #[test]
    fn nccls_bare_system_error_is_not_a_gpu_oom_but_its_cuda_failure_is() {
        let mut s = node();
        s.gpu.previous_runs.push(run_with(
            "nccl-system-error",
            GpuFailure::Nccl,
            "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error",
        ));
        assert_eq!(run(&GpuCudaOom, &s), vec![]);
        s.gpu.previous_runs[0].matches[0].pattern = "nccl-cuda-error".into();
        assert_eq!(
            run(&GpuCudaOom, &s),
            vec![],
            "unhandled cuda error: any CUDA failure"
        );
        s.gpu.previous_runs[0].matches[0].pattern = "nccl-cuda-oom".into();
        assert_eq!(run(&GpuCudaOom, &s).len(), 1);
        s.gpu.previous_runs[0].matches[0].pattern = "nccl-cu-oom".into();
        assert_eq!(run(&GpuCudaOom, &s).len(), 1);
    }

    #[test]
    fn without_a_vllm_process_the_remedy_is_generic() {
        let mut s = node();
        s.processes.clear();
        s.gpu.previous_runs.push(run_with(
            "xla-oom",
            GpuFailure::CudaOom,
            "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1073741824 bytes.",
        ));
        let f = one(&GpuCudaOom, &s);
        assert!(
            f.remedy.starts_with("make the work fit the GPU"),
            "{}",
            f.remedy
        );
    }
}
