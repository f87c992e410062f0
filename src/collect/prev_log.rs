//! The end of a restarted container's previous run, read from its log: did it die of GPU
//! memory (a CUDA or NCCL out-of-memory error, vLLM's KV cache) or of shared memory? The
//! kernel's OOM kills are in the kernel log; these failures are only in the program's own
//! output, which is what the runbooks grep (`kubectl logs --previous | grep -i cuda`).
//!
//! Where the kubelet keeps it: `/var/log/pods/<ns>_<pod>_<uid>/<container>/<N>.log`, N the
//! container's restart count at its start (kubernetes/kubernetes pkg/kubelet/kuberuntime/
//! helpers.go `buildContainerLogsPath`); the log rotation renames a running container's log to
//! `<N>.log.<20060102-150405>` and gzips the rotated files but the newest
//! (pkg/kubelet/logs/container_log_manager.go `rotateLog`: `compressLog` for every older
//! rotation, then `rotateLatestLog`, "without compression"; only running containers are
//! rotated). A run's end is therefore in `<N>.log`, or, when that is empty (rotated just
//! before the run ended), in its newest rotation, which is never compressed. `.gz` files are
//! never opened: they hold no run's end, and their end would cost the whole file (a gzip bomb
//! planted there costs nothing). The previous run is the one below the running container's;
//! when no container of that name runs (CrashLoopBackOff), the newest run is the one that
//! ended.
//!
//! Bounded: only the last [`TAIL_BYTES`] of one file per container are read ([`Host::tail_lines`]
//! seeks to the end), and [`MAX_CONTAINERS`] containers at most. Trusted like every file
//! nodescope believes: root's alone all the way (`source::vet`, docs/security.md), as the
//! runtime writes them; a pod with a hostPath mount cannot plant one. Only matched lines are
//! kept, redacted and escaped; a capture records those lines and not the log.
//!
//! Lines are in the CRI log format `<RFC3339Nano> <stdout|stderr> <F|P> <message>`
//! (kubernetes/cri-api pkg/apis/runtime/v1 `LogTagPartial`/`LogTagFull`; kubelet
//! pkg/kubelet/kuberuntime/logs/logs.go `parseCRILog`; written by containerd pkg/cri/io/
//! logger.go `redirectLogs`, which splits a line longer than `max_container_log_line_size`,
//! 16 KiB by default, into `P` pieces: a needle cut by such a split is not seen).

use super::Errors;
use crate::model::Pod;
use crate::model::gpu::{GpuFailure, LogMatch, PreviousRun};
use crate::source::vet::{self, Want};
use crate::source::{EntryKind, ErrorKind, Host};

const C: &str = "previous-log";

/// How much of the end of a previous run's log is read.
pub const TAIL_BYTES: u64 = 64 * 1024;
/// The most containers whose previous log is read in one pass.
pub const MAX_CONTAINERS: usize = 256;
/// The most matched lines kept per run (the last ones).
const MAX_MATCHES: usize = 16;
/// The most bytes of one kept line.
const MAX_LINE: usize = 512;

/// One failure pattern: literal substrings of the message, what they mean, and where the
/// program writes them. Every pattern is backed by the upstream source that prints it and by
/// a real line from a public bug report (`tests/corpus/gpu_log/`, one sample per pattern).
pub struct Pattern {
    pub id: &'static str,
    /// The substring [`Host::tail_lines`] keeps a line for.
    pub needle: &'static str,
    /// A second substring the line must also hold, when the needle alone names no memory
    /// failure (TensorRT-LLM prints every CUDA error with the same prefix).
    pub also: Option<&'static str>,
    pub kind: GpuFailure,
    /// The upstream file that prints it: project, path, function.
    pub source: &'static str,
    /// Why the line is a hint and not proof, when it is one; `None` when upstream prints the
    /// text only for this failure.
    pub heuristic: Option<&'static str>,
}

/// The patterns, most specific first (the first that matches names the line). Matching is
/// case-sensitive, on the message after the CRI prefix. Each entry's comment quotes the real
/// line (issue URL) that `tests/corpus/gpu_log/<id>.txt` feeds to [`classify`].
pub const PATTERNS: &[Pattern] = &[
    // NVIDIA/nccl#1235:
    // `ng30903:3063028:3066152 [3] include/alloc.h:178 NCCL WARN Cuda failure 'out of memory'`
    Pattern {
        id: "nccl-cuda-oom",
        needle: "Cuda failure 'out of memory'",
        also: None,
        kind: GpuFailure::Nccl,
        source: "NVIDIA/nccl src/include/checks.h CUDACHECK: WARN(\"Cuda failure '%s'\", cudaGetErrorString(err)) (cudaErrorMemoryAllocation)",
        heuristic: None,
    },
    // openxla/xla#7201 (XLA quoting NCCL's last warning): `... failed: unhandled cuda error
    // (run with NCCL_DEBUG=INFO for details). Last NCCL warning(error) log entry (may be
    // unrelated) 'Cuda failure 2 'out of memory''.`
    Pattern {
        id: "nccl-cu-oom",
        needle: "Cuda failure 2 'out of memory'",
        also: None,
        kind: GpuFailure::Nccl,
        source: "NVIDIA/nccl src/include/cudawrap.h CUCHECK: WARN(\"Cuda failure %d '%s'\", err, errStr) (driver API, CUDA_ERROR_OUT_OF_MEMORY = 2)",
        heuristic: None,
    },
    // pytorch/ci-infra#490: `... [0] misc/shmutils.cc:88 NCCL WARN Error: failed to extend
    // /dev/shm/nccl-WU88OE to 9637892 bytes, error: No space left on device (28)`
    Pattern {
        id: "nccl-shm-extend",
        needle: "Error: failed to extend /dev/shm",
        also: None,
        kind: GpuFailure::Shm,
        source: "NVIDIA/nccl src/misc/shmutils.cc ncclShmOpen (2.12.7 to 2.29; src/os/linux.cc from 2.30): WARN(\"Error: failed to extend %s to %ld bytes\", shmPath, ...), with \", error: %s (%d)\" (strerror, errno) since 2.22",
        heuristic: None,
    },
    // NVIDIA/nccl#525 (Kubeflow, NCCL 2.9.6):
    // `[3] include/shm.h:28 NCCL WARN Call to posix_fallocate failed : No space left on device`
    Pattern {
        id: "nccl-shm-fallocate",
        needle: "Call to posix_fallocate failed : No space left on device",
        also: None,
        kind: GpuFailure::Shm,
        source: "NVIDIA/nccl src/include/shm.h shmSetup (before 2.12.7): SYSCHECK(shm_allocate(...), \"posix_fallocate\") -> checks.h WARN(\"Call to \" name \" failed : %s\", strerror(errno))",
        heuristic: None,
    },
    // NVIDIA/nccl#525: `[3] include/shm.h:48 NCCL WARN Error while creating shared memory
    // segment nccl-shm-recv-1462445a6f01cbfc-1-2-3 (size 9637888)`
    Pattern {
        id: "nccl-shm-segment",
        needle: "Error while creating shared memory segment",
        also: None,
        kind: GpuFailure::Shm,
        source: "NVIDIA/nccl src/include/shm.h shmOpen (before 2.12.7), src/misc/shmutils.cc ncclShmOpen: WARN(\"Error while %s shared memory segment %s (size %d)\", \"creating\", ...)",
        heuristic: Some(
            "NCCL prints it after any failure to set the segment up, a CUDA host registration too (NVIDIA/nccl#1518: after `Cuda failure 'invalid argument'`); a full /dev/shm is the usual cause",
        ),
    },
    // pytorch/pytorch#16979 (a Kubernetes pod): `ERROR: Unexpected bus error encountered in
    // worker. This might be caused by insufficient shared memory (shm).`
    Pattern {
        id: "shm-insufficient",
        needle: "insufficient shared memory (shm)",
        also: None,
        kind: GpuFailure::Shm,
        source: "pytorch/pytorch torch/csrc/DataLoader.cpp SIGNAL_HANDLER(SIGBUS, handler_SIGBUS, \"ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).\\n\")",
        heuristic: None,
    },
    // logicalclocks/hopsworks#1557 (a Kubernetes pod): `RuntimeError: DataLoader worker (pid
    // 729) is killed by signal: Bus error. It is possible that dataloader's workers are out of
    // shared memory. Please try to raise your shared memory limit.` (pytorch/pytorch#16979:
    // the same line before the second sentence was added)
    Pattern {
        id: "dataloader-bus-error",
        needle: "is killed by signal: Bus error",
        also: None,
        kind: GpuFailure::Shm,
        source: "pytorch/pytorch torch/csrc/DataLoader.cpp THPModule_errorIfAnyWorkerFails: \"DataLoader worker (pid \" pid \") is killed by signal: \" strsignal(si_status) \". \" and, for SIGBUS, \"It is possible that dataloader's workers are out of shared memory. ...\"",
        heuristic: Some(
            "PyTorch's own hedge (\"it is possible\"): a worker's SIGBUS is usually a full /dev/shm, not always",
        ),
    },
    // No bug report with the whole line was at hand: the sample is rendered from upstream's
    // format (tests/corpus/gpu_log/torch_shm_allocate_source.txt, marked derived):
    // `RuntimeError: unable to allocate shared memory(shm) for file </torch_4304_2962414746_0>:
    // No space left on device (28)`
    Pattern {
        id: "shm-allocate",
        needle: "unable to allocate shared memory(shm) for file",
        also: None,
        kind: GpuFailure::Shm,
        source: "pytorch/pytorch aten/src/ATen/MapAllocator.cpp MapAllocator::MapAllocator (posix_fallocate failed): TORCH_CHECK(false, \"unable to allocate shared memory(shm) for file <\", filename_, \">: \", ...)",
        heuristic: None,
    },
    // logicalclocks/hopsworks#1557: `RuntimeError: unable to write to file
    // </torch_739_144252761_4>: No space left on device (28)`
    Pattern {
        id: "shm-write",
        needle: "unable to write to file </torch_",
        also: None,
        kind: GpuFailure::Shm,
        source: "pytorch/pytorch aten/src/ATen/MapAllocator.cpp MapAllocator::MapAllocator (the write check after ftruncate): TORCH_CHECK(false, \"unable to write to file <\", filename_, \">: \", ...); `/torch_` is the shared-memory name torch/csrc/StorageSharing.cpp gives",
        heuristic: None,
    },
    // MIC-DKFZ/HD-BET#67 (docker; `--shm-size 8G` fixed it): `Bus error (core dumped)`
    Pattern {
        id: "bus-error",
        needle: "Bus error (core dumped)",
        also: None,
        kind: GpuFailure::Shm,
        source: "bminor/bash jobs.c (GNU bash: the job's termination report: strsignal(SIGBUS) \"Bus error\" + \" (core dumped)\"), printed only when a shell started the process",
        heuristic: Some(
            "SIGBUS has other causes (a memory-mapped file truncated under the process); a page of a full /dev/shm is the usual one in a container",
        ),
    },
    // vllm-project/vllm#10439: `vllm-1  | ERROR 11-18 18:07:28 engine.py:366] ValueError: No
    // available memory for the cache blocks. Try increasing `gpu_memory_utilization` when
    // initializing the engine.`
    Pattern {
        id: "vllm-no-kv-memory",
        needle: "No available memory for the cache blocks",
        also: None,
        kind: GpuFailure::KvCache,
        source: "vllm-project/vllm vllm/worker/worker.py raise_if_cache_size_invalid (V0), vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory (V1): ValueError(\"No available memory for the cache blocks. ...\")",
        heuristic: None,
    },
    // QwenLM/Qwen3#295: `ValueError: The model's max seq len (32768) is larger than the
    // maximum number of tokens that can be stored in KV cache (7344). Try increasing
    // `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.`
    Pattern {
        id: "vllm-kv-too-small",
        needle: "larger than the maximum number of tokens that can be stored in KV cache",
        also: None,
        kind: GpuFailure::KvCache,
        source: "vllm-project/vllm vllm/worker/worker.py raise_if_cache_size_invalid (V0): ValueError(f\"The model's max seq len ({max_model_len}) is larger than the maximum number of tokens that can be stored in KV cache ({max_seq_len}). ...\")",
        heuristic: None,
    },
    // vllm-project/vllm#34076: `(EngineCore_DP0 pid=1094) ValueError: To serve at least one
    // request with the models's max seq len (262144), (24.0 GiB KV cache is needed, which is
    // larger than the available KV cache memory (3.18 GiB). ...`
    Pattern {
        id: "vllm-kv-needed",
        needle: "larger than the available KV cache memory",
        also: None,
        kind: GpuFailure::KvCache,
        source: "vllm-project/vllm vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory (_check_enough_kv_cache_memory in later releases): ValueError(\"To serve at least one request ... KV cache is needed, which is larger than the available KV cache memory ...\")",
        heuristic: None,
    },
    // vllm-project/vllm#2140: `torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to
    // allocate 3.50 GiB. GPU 0 has a total capacty of 23.69 GiB of which 3.09 GiB is free. ...`
    Pattern {
        id: "pytorch-oom",
        needle: "CUDA out of memory. Tried to allocate",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "pytorch/pytorch c10/cuda/CUDACachingAllocator.cpp DeviceCachingAllocator::malloc: TORCH_CHECK_WITH(OutOfMemoryError, false, \"CUDA out of memory. Tried to allocate \", ...) (raised as torch.OutOfMemoryError, torch.cuda.OutOfMemoryError since 1.13, RuntimeError before)",
        heuristic: None,
    },
    // jiesutd/NCRFpp#121: `RuntimeError: cuda runtime error (2) : out of memory at
    // /pytorch/torch/lib/THC/generic/THCStorage.cu:58`
    Pattern {
        id: "thc-oom",
        needle: "cuda runtime error (2) : out of memory",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "pytorch/pytorch torch/lib/THC/THCGeneral.c (aten/src/THC/THCGeneral.cpp, PyTorch < 1.0 through 1.x) __THCudaCheck: _THError(file, line, \"cuda runtime error (%d) : %s\", err, cudaGetErrorString(err))",
        heuristic: None,
    },
    // kijai/ComfyUI-WanVideoWrapper#565: `RuntimeError: CUDA error: out of memory`
    Pattern {
        id: "cuda-error-oom",
        needle: "CUDA error: out of memory",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "pytorch/pytorch c10/cuda/CUDAException.cpp c10_cuda_check_implementation: \"CUDA error: \" + cudaGetErrorString(err) (C10_CUDA_CHECK)",
        heuristic: None,
    },
    // QwenLM/Qwen3#873: `RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling
    // `cublasCreate(handle)``
    Pattern {
        id: "cublas-alloc",
        needle: "CUBLAS_STATUS_ALLOC_FAILED",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "pytorch/pytorch aten/src/ATen/cuda/Exceptions.h TORCH_CUDABLAS_CHECK (\"CUDA error: \", _cublasGetErrorEnum(...), \" when calling `\" #EXPR \"`\"), from CublasHandlePool.cpp createCublasHandle; cuBLAS: \"resource allocation failed ... usually caused by a cudaMalloc() failure\"",
        heuristic: None,
    },
    // NVIDIA/TensorRT-LLM#1556: `RuntimeError: [TensorRT-LLM][ERROR] CUDA runtime error in
    // ::cudaMallocAsync(ptr, n, mCudaStream->get()): out of memory (/app/tensorrt_llm/cpp/
    // tensorrt_llm/runtime/tllmBuffers.h:118)`
    Pattern {
        id: "tensorrt-llm-oom",
        needle: "[TensorRT-LLM][ERROR] CUDA runtime error in",
        also: Some(": out of memory"),
        kind: GpuFailure::CudaOom,
        source: "NVIDIA/TensorRT-LLM cpp/include/tensorrt_llm/common/cudaUtils.h check(): fmtstr(\"[TensorRT-LLM][ERROR] CUDA runtime error in %s: %s\", func, _cudaGetErrorEnum(result))",
        heuristic: None,
    },
    // jax-ml/jax#13428: `jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of
    // memory while trying to allocate 6291456 bytes.`
    Pattern {
        id: "xla-oom",
        needle: "RESOURCE_EXHAUSTED: Out of memory while trying to allocate",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "openxla/xla xla/stream_executor/integrations/tf_allocator_adapter.cc TfAllocatorAdapter::Allocate: ResourceExhausted(\"Out of memory while trying to allocate \", size, \" bytes.\") (absl::Status prints its code RESOURCE_EXHAUSTED)",
        heuristic: None,
    },
    // jax-ml/jax#4994: `FAILED tests/core_test.py::CoreTest::test_jit_42 - RuntimeError:
    // Resource exhausted: Out of memory while trying to allocate 24 bytes.`
    Pattern {
        id: "xla-oom-old",
        needle: "Resource exhausted: Out of memory while trying to allocate",
        also: None,
        kind: GpuFailure::CudaOom,
        source: "tensorflow/tensorflow compiler/xla (before openxla/xla): the same allocator message under TensorFlow's Status, which printed the code as \"Resource exhausted\"",
        heuristic: None,
    },
    // hiyouga/LlamaFactory#3250: `torch.distributed.DistBackendError: NCCL error in:
    // /opt/pytorch/pytorch/torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1727, unhandled
    // system error (run with NCCL_DEBUG=INFO for details), NCCL versi[on ...]`
    Pattern {
        id: "nccl-system-error",
        needle: "unhandled system error",
        also: None,
        kind: GpuFailure::Nccl,
        source: "NVIDIA/nccl src/init.cc ncclGetErrorString(ncclSystemError): \"unhandled system error (run with NCCL_DEBUG=INFO for details)\", quoted by pytorch/pytorch torch/csrc/distributed/c10d/NCCLUtils.hpp C10D_NCCL_CHECK (\"NCCL error in: \" file:line \", \" ...)",
        heuristic: Some(
            "any failed system call in NCCL: a full /dev/shm, a socket, a missing file; not GPU memory by itself",
        ),
    },
    // pytorch/pytorch#111187: `torch.distributed.DistBackendError: NCCL error in:
    // ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1331, unhandled cuda error (run with
    // NCCL_DEBUG=INFO for details)`
    Pattern {
        id: "nccl-cuda-error",
        needle: "unhandled cuda error",
        also: None,
        kind: GpuFailure::Nccl,
        source: "NVIDIA/nccl src/init.cc ncclGetErrorString(ncclUnhandledCudaError): \"unhandled cuda error (run with NCCL_DEBUG=INFO for details)\"",
        heuristic: Some(
            "any failed CUDA call in NCCL (pytorch/pytorch#111187: `Cuda failure 'invalid argument'`); GPU memory only when NCCL's own WARN line says `out of memory`",
        ),
    },
];

/// The needles handed to [`Host::tail_lines`].
pub fn needles() -> Vec<&'static str> {
    PATTERNS.iter().map(|p| p.needle).collect()
}

/// The previous runs of the restarted containers of `pods` that ended in a GPU-memory, NCCL or
/// shared-memory failure.
pub(super) fn collect(host: &dyn Host, pods: &[Pod], errs: &mut Errors) -> Vec<PreviousRun> {
    let mut out = Vec::new();
    let mut budget = MAX_CONTAINERS;
    // /var/log/pods and each pod's directory are vetted once for all of its logs.
    let mut vetter = vet::Vetter::new(host);
    for pod in pods {
        let (Some(dir), Some(ns), Some(name)) = (&pod.log_dir, &pod.namespace, &pod.name) else {
            continue;
        };
        let Ok(entries) = host.read_dir(dir) else {
            continue;
        };
        for e in entries.into_iter().filter(|e| e.kind == EntryKind::Dir) {
            let cdir = format!("{dir}/{}", e.name);
            let Some((run, path)) = previous_log(host, pod, &e.name, &cdir) else {
                continue;
            };
            if budget == 0 {
                errs.push(crate::model::CollectError {
                    collector: C.into(),
                    kind: ErrorKind::Invalid,
                    path: None,
                    line: None,
                    message: format!(
                        "more than {MAX_CONTAINERS} restarted containers: the rest were not read"
                    ),
                });
                return out;
            }
            budget -= 1;
            let matches = read_matches(host, &mut vetter, &path, errs);
            if !matches.is_empty() {
                out.push(PreviousRun {
                    namespace: ns.clone(),
                    pod: name.clone(),
                    pod_uid: pod.uid.clone(),
                    container: e.name.clone(),
                    path,
                    run,
                    matches,
                });
            }
        }
    }
    out
}

/// The run whose end is wanted and the file that holds it, or `None` when the container has
/// not restarted.
fn previous_log(host: &dyn Host, pod: &Pod, container: &str, cdir: &str) -> Option<(u32, String)> {
    let names: Vec<String> = host
        .read_dir(cdir)
        .ok()?
        .into_iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.name)
        .collect();
    let mut runs: Vec<u32> = names.iter().filter_map(|n| run_of(n)).collect();
    runs.sort_unstable();
    runs.dedup();
    let running = pod
        .containers
        .iter()
        .any(|c| !c.sandbox && c.cgroup.is_some() && c.name.as_deref() == Some(container));
    let run = match (running, runs.as_slice()) {
        (true, [.., prev, _current]) => *prev,
        // No container of that name runs in a live pod: the newest run has ended.
        (false, [.., last]) if pod.cgroup.is_some() => *last,
        _ => return None,
    };
    let plain = format!("{run}.log");
    if names.contains(&plain)
        && host
            .metadata(&format!("{cdir}/{plain}"))
            .is_ok_and(|m| m.size > 0)
    {
        return Some((run, format!("{cdir}/{plain}")));
    }
    // Rotated just before the end: the newest uncompressed rotation (timestamps sort as text).
    let newest = names
        .iter()
        .filter(|n| run_of(n) == Some(run) && rotation_stamp(n).is_some())
        .max()?;
    Some((run, format!("{cdir}/{newest}")))
}

/// The run number of a log file name: `<N>.log` or `<N>.log.<YYYYMMDD-hhmmss>`; `None` for
/// compressed (`.gz`) and temporary (`.tmp`) files and anything else.
pub fn run_of(name: &str) -> Option<u32> {
    let (n, rest) = name.split_once(".log")?;
    if !(rest.is_empty() || rotation_stamp(name).is_some()) {
        return None;
    }
    n.parse().ok()
}

/// The `YYYYMMDD-hhmmss` suffix of a rotated log's name (kubelet `timestampFormat`).
fn rotation_stamp(name: &str) -> Option<&str> {
    let (_, stamp) = name.split_once(".log.")?;
    let ok = stamp.len() == 15
        && stamp
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() });
    ok.then_some(stamp)
}

/// The matched lines of the end of `path`, once the path is vetted as root's alone.
fn read_matches(
    host: &dyn Host,
    vetter: &mut vet::Vetter<'_>,
    path: &str,
    errs: &mut Errors,
) -> Vec<LogMatch> {
    let vetted = match vetter.vet(path, Want::File) {
        Ok(v) => v,
        Err(refused) => {
            errs.push(crate::model::CollectError {
                collector: super::trust::C.into(),
                kind: ErrorKind::Untrusted,
                path: Some(path.into()),
                line: None,
                message: format!("previous container log not read: {refused}"),
            });
            return Vec::new();
        }
    };
    let lines = match host.tail_lines(&vetted.path, TAIL_BYTES, &needles()) {
        Ok(l) => l,
        Err(e) => {
            errs.host(C, &e);
            return Vec::new();
        }
    };
    let mut out: Vec<LogMatch> = lines.iter().filter_map(|l| classify(l)).collect();
    if out.len() > MAX_MATCHES {
        out.drain(..out.len() - MAX_MATCHES);
    }
    out
}

/// A CRI log line → its match, when its message holds one of [`PATTERNS`].
pub fn classify(line: &str) -> Option<LogMatch> {
    let (time, msg) = split_cri(line);
    let p = PATTERNS
        .iter()
        .find(|p| msg.contains(p.needle) && p.also.is_none_or(|a| msg.contains(a)))?;
    let redacted = crate::source::redact::text(msg.as_bytes());
    let text = String::from_utf8_lossy(&redacted);
    let escaped = crate::model::text::esc(&text);
    Some(LogMatch {
        time: time.map(String::from),
        kind: p.kind,
        pattern: p.id.into(),
        line: cut(&escaped, MAX_LINE).into(),
    })
}

/// `<time> <stream> <tag> <message>` → (time, message); a line not in that format is all
/// message.
fn split_cri(line: &str) -> (Option<&str>, &str) {
    let mut it = line.splitn(4, ' ');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(t), Some("stdout" | "stderr"), Some(tag), Some(msg))
            if tag.starts_with('F') || tag.starts_with('P') =>
        {
            (Some(t), msg)
        }
        _ => (None, line),
    }
}

/// At most `n` bytes of `s`, cut on a character boundary.
fn cut(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::counting::Counting;

    #[test]
    fn run_numbers_follow_the_kubelets_names() {
        assert_eq!(run_of("0.log"), Some(0));
        assert_eq!(run_of("3.log"), Some(3));
        assert_eq!(run_of("3.log.20261206-031500"), Some(3));
        assert_eq!(run_of("3.log.20261206-031500.gz"), None);
        assert_eq!(run_of("3.log.tmp"), None);
        assert_eq!(run_of("x.log"), None);
    }

    #[test]
    fn a_pytorch_oom_line_is_kept_without_its_prefix() {
        let m = classify("2026-12-06T03:14:07.123456789Z stderr F torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.25 GiB of which 1.06 GiB is free.").unwrap();
        assert_eq!(m.time.as_deref(), Some("2026-12-06T03:14:07.123456789Z"));
        assert_eq!(m.kind, GpuFailure::CudaOom);
        assert_eq!(m.pattern, "pytorch-oom");
        assert!(
            m.line
                .starts_with("torch.OutOfMemoryError: CUDA out of memory.")
        );
    }

    #[test]
    fn nccl_cuda_oom_wins_over_the_generic_system_error() {
        let m = classify("2026-12-06T03:14:07Z stderr F node-0:77:77 [0] include/alloc.h:114 NCCL WARN Cuda failure 'out of memory'").unwrap();
        assert_eq!(
            (m.kind, m.pattern.as_str()),
            (GpuFailure::Nccl, "nccl-cuda-oom")
        );
    }

    #[test]
    fn a_matched_line_is_escaped_and_cut() {
        let long = format!("CUDA error: out of memory \x1b[31m{}", "x".repeat(2000));
        let m = classify(&long).unwrap();
        assert!(m.line.len() <= MAX_LINE);
        assert!(m.line.contains("\\e[31m"));
        assert_eq!(m.time, None);
    }

    /// A pod `ns/p` whose container `c` runs, its logs under `root`.
    fn running_pod(root: &std::path::Path, running: bool) -> Pod {
        std::fs::create_dir_all(root.join("var/log/pods/ns_p_u1/c")).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        let cg = Some(crate::model::CgroupStats::default());
        Pod {
            uid: "u1".into(),
            namespace: Some("ns".into()),
            name: Some("p".into()),
            name_source: None,
            config_source: None,
            qos: None,
            cgroup: cg.clone(),
            containers: vec![crate::model::Container {
                id: "a".repeat(64),
                name: Some("c".into()),
                name_source: None,
                runtime: None,
                sandbox: false,
                cgroup: cg.filter(|_| running),
            }],
            log_dir: Some("/var/log/pods/ns_p_u1".into()),
            api: None,
        }
    }

    /// The bytes this process has read through read(2) and its kin (/proc/self/io `rchar`).
    fn rchar() -> u64 {
        let io = std::fs::read_to_string("/proc/self/io").unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn a_2_gib_previous_log_costs_its_last_64_kib() {
        use std::io::{Seek, SeekFrom, Write};
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), true);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        // Run 0: 2 GiB of holes, then the line the run died on.
        let mut f = std::fs::File::create(dir.join("0.log")).unwrap();
        f.seek(SeekFrom::Start(2 << 30)).unwrap();
        f.write_all(b"\n2026-12-06T03:14:07.5Z stderr F torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n").unwrap();
        drop(f);
        std::fs::write(
            dir.join("1.log"),
            "2026-12-06T03:15:00Z stdout F INFO started\n",
        )
        .unwrap();
        let host = crate::source::live::LiveHost::new(tmp.path()).unwrap();
        let mut errs = Errors::default();
        let before = rchar();
        let runs = collect(&host, &[pod], &mut errs);
        let read = rchar() - before;
        assert_eq!(errs.0, vec![]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].run, 0);
        assert_eq!(runs[0].path, "/var/log/pods/ns_p_u1/c/0.log");
        assert_eq!(runs[0].matches[0].pattern, "pytorch-oom");
        assert_eq!(
            runs[0].matches[0].time.as_deref(),
            Some("2026-12-06T03:14:07.5Z")
        );
        // Other tests of this binary read meanwhile; 2 GiB would dwarf them all.
        assert!(read < 64 << 20, "read {read} bytes for a 2 GiB log");
    }

    /// A live host under `root` that records every file content it hands out.
    fn counting(root: &std::path::Path) -> Counting<crate::source::live::LiveHost> {
        Counting::new(crate::source::live::LiveHost::new(root).unwrap())
    }

    /// A previous run whose `0.log` is `size` bytes (holes, then the line it died on), with a
    /// running run 1: what the collector reads, and what it found.
    fn read_a_log_of(size: u64) -> (Vec<(String, usize)>, Vec<PreviousRun>) {
        use std::io::{Seek, SeekFrom, Write};
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), true);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        let last = b"\n2026-12-06T03:14:07.5Z stderr F torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n";
        let mut f = std::fs::File::create(dir.join("0.log")).unwrap();
        f.seek(SeekFrom::Start(size - last.len() as u64)).unwrap();
        f.write_all(last).unwrap();
        drop(f);
        std::fs::write(
            dir.join("1.log"),
            "2026-12-06T03:15:00Z stdout F INFO started\n",
        )
        .unwrap();
        let host = counting(tmp.path());
        let mut errs = Errors::default();
        let runs = collect(&host, &[pod], &mut errs);
        assert_eq!(errs.0, vec![]);
        (host.reads(), runs)
    }

    #[test]
    fn a_2_gib_log_costs_one_read_of_64_kib_as_a_small_one_costs_one_read_of_itself() {
        let path = "/var/log/pods/ns_p_u1/c/0.log".to_string();
        let (big, runs) = read_a_log_of(2 << 30);
        assert_eq!(big, vec![(path.clone(), TAIL_BYTES as usize)]);
        assert_eq!(runs[0].matches[0].pattern, "pytorch-oom");
        let (small, runs) = read_a_log_of(4096);
        assert_eq!(small, vec![(path, 4096)]);
        assert_eq!(runs[0].matches[0].pattern, "pytorch-oom");
    }

    /// Writes `n` bytes of zeros gzipped: a few KiB on disk per MiB it claims.
    fn gzip_bomb(path: &std::path::Path, n: usize) {
        use std::io::Write;
        let f = std::fs::File::create(path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..n >> 20 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap();
    }

    #[test]
    fn compressed_rotations_are_never_opened_a_gzip_bomb_costs_nothing() {
        // The kubelet gzips every rotation but the newest before it renames the live log
        // (pkg/kubelet/logs/container_log_manager.go rotateLog: compressLog for the older
        // ones, then rotateLatestLog, "without compression"), and rotates only running
        // containers: a run's end is in `<N>.log` or its newest, uncompressed rotation.
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), false);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        std::fs::write(dir.join("0.log"), "").unwrap();
        gzip_bomb(&dir.join("0.log.20240501-020000.gz"), 64 << 20);
        let end = "2024-05-01T03:00:00.123456789Z stderr F torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n";
        std::fs::write(dir.join("0.log.20240501-030000"), end).unwrap();
        // A planted name that sorts after the real newest rotation is still a .gz.
        gzip_bomb(&dir.join("0.log.20240501-040000.gz"), 64 << 20);
        let host = counting(tmp.path());
        let mut errs = Errors::default();
        let runs = collect(&host, std::slice::from_ref(&pod), &mut errs);
        assert_eq!(
            host.reads(),
            vec![(
                "/var/log/pods/ns_p_u1/c/0.log.20240501-030000".to_string(),
                end.len()
            )]
        );
        assert_eq!(runs[0].matches[0].pattern, "pytorch-oom");
        // No uncompressed end at all: nothing is read, nothing is claimed.
        std::fs::remove_file(dir.join("0.log.20240501-030000")).unwrap();
        let host = counting(tmp.path());
        assert_eq!(collect(&host, &[pod], &mut errs), vec![]);
        assert_eq!(host.reads(), vec![]);
    }

    #[test]
    fn a_container_in_back_off_is_judged_by_its_newest_run_and_rotations_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), false);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        std::fs::write(
            dir.join("0.log"),
            "2026-12-06T01:00:00Z stderr F RuntimeError: CUDA out of memory.\n",
        )
        .unwrap();
        std::fs::write(dir.join("1.log"), "").unwrap();
        std::fs::write(
            dir.join("1.log.20261206-020000.gz"),
            "RESOURCE_EXHAUSTED: Out of memory while trying to allocate\n",
        )
        .unwrap();
        std::fs::write(dir.join("1.log.20261206-021500"), "2026-12-06T02:15:01Z stderr F NCCL WARN Error: failed to extend /dev/shm/nccl-Ab12Cd to 9637892 bytes, error: No space left on device (28)\n").unwrap();
        let host = crate::source::live::LiveHost::new(tmp.path()).unwrap();
        let mut errs = Errors::default();
        let runs = collect(&host, &[pod], &mut errs);
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].run, runs[0].path.as_str()),
            (1, "/var/log/pods/ns_p_u1/c/1.log.20261206-021500")
        );
        assert_eq!(runs[0].matches.len(), 1);
        assert_eq!(
            (runs[0].matches[0].kind, runs[0].matches[0].pattern.as_str()),
            (GpuFailure::Shm, "nccl-shm-extend")
        );
    }

    #[test]
    fn a_container_that_never_restarted_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), true);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        std::fs::write(
            dir.join("0.log"),
            "2026-12-06T01:00:00Z stderr F RuntimeError: CUDA out of memory.\n",
        )
        .unwrap();
        let host = crate::source::live::LiveHost::new(tmp.path()).unwrap();
        let mut errs = Errors::default();
        assert_eq!(collect(&host, &[pod], &mut errs), vec![]);
    }

    #[test]
    fn a_log_others_may_write_is_not_believed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let pod = running_pod(tmp.path(), true);
        let dir = tmp.path().join("var/log/pods/ns_p_u1/c");
        std::fs::write(dir.join("0.log"), "CUDA error: out of memory\n").unwrap();
        std::fs::write(dir.join("1.log"), "x\n").unwrap();
        std::fs::set_permissions(dir.join("0.log"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        let host = crate::source::live::LiveHost::new(tmp.path()).unwrap();
        let mut errs = Errors::default();
        assert_eq!(collect(&host, &[pod], &mut errs), vec![]);
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].kind, ErrorKind::Untrusted);
    }

    #[test]
    fn a_url_password_in_a_matched_line_is_redacted() {
        let m = classify("2026-12-06T03:14:07Z stderr F CUDA error: out of memory while loading https://svc:hunter2@models.example.com/m.bin").unwrap();
        assert!(!m.line.contains("hunter2"), "{}", m.line);
        assert!(m.line.starts_with("CUDA error: out of memory"));
    }

    #[test]
    fn a_bus_error_is_a_shared_memory_failure() {
        let m = classify("2026-12-06T03:14:07Z stderr F /entrypoint.sh: line 12:    48 Bus error (core dumped) torchrun train.py").unwrap();
        assert_eq!((m.kind, m.pattern.as_str()), (GpuFailure::Shm, "bus-error"));
    }

    #[test]
    fn every_pattern_names_its_source_and_a_heuristic_says_why() {
        let mut ids: Vec<&str> = PATTERNS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PATTERNS.len(), "pattern ids are unique");
        for p in PATTERNS {
            // `project/repo path ...`: an upstream file, not a paraphrase.
            let (repo, rest) = p.source.split_once(' ').unwrap();
            assert_eq!(repo.matches('/').count(), 1, "{}: {}", p.id, p.source);
            assert!(
                rest.contains('/') || rest.contains(".c"),
                "{}: {}",
                p.id,
                p.source
            );
            assert!(p.heuristic.is_none_or(|h| h.len() > 20), "{}", p.id);
        }
    }

    #[test]
    fn tensorrt_llm_needs_its_out_of_memory_too() {
        let oom = "RuntimeError: [TensorRT-LLM][ERROR] CUDA runtime error in ::cudaMallocAsync(ptr, n, mCudaStream->get()): out of memory (/app/tensorrt_llm/cpp/tensorrt_llm/runtime/tllmBuffers.h:118)";
        assert_eq!(classify(oom).unwrap().pattern, "tensorrt-llm-oom");
        let other = "[TensorRT-LLM][ERROR] CUDA runtime error in cudaSetDevice(device): invalid device ordinal (/app/tensorrt_llm/cpp/tensorrt_llm/runtime/utils/sessionUtils.cpp:34)";
        assert_eq!(classify(other), None);
    }

    #[test]
    fn other_lines_do_not_match() {
        assert_eq!(
            classify("2026-12-06T03:14:07Z stdout F INFO: loaded weights"),
            None
        );
    }
}
