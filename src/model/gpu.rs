//! The node's GPU stack as far as the kernel and the kubelet show it, with no NVIDIA tool
//! installed: PCI devices, the driver, device nodes, Xid errors, device-plugin sockets.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gpu {
    /// NVIDIA display or 3D controllers on the PCI bus.
    pub devices: Vec<PciGpu>,
    /// First line of `/proc/driver/nvidia/version`, when the driver is loaded.
    pub driver_version: Option<String>,
    /// `/dev/nvidia*` nodes.
    pub dev_nodes: Vec<String>,
    /// `nouveau` is in /proc/modules (it keeps the NVIDIA driver from binding).
    pub nouveau_loaded: bool,
    /// `NVRM: Xid` records from the kernel log, oldest first.
    pub xids: Vec<Xid>,
    /// Sockets beside `kubelet.sock` in the kubelet's device-plugins directory.
    pub device_plugin_sockets: Vec<String>,
    /// `/proc/driver/nvidia/gpus/<bus>/information`, one per GPU the driver owns.
    #[serde(default)]
    pub driver_gpus: Vec<DriverGpu>,
    /// The kubelet's device-manager checkpoint: registered devices and who holds each.
    #[serde(default)]
    pub checkpoint: Option<DeviceCheckpoint>,
    /// `/run/nvidia/validations/*-ready` files the GPU operator's validator wrote.
    #[serde(default)]
    pub validations: Vec<String>,
    /// What NVML said, or why it could not be asked (no libnvidia-ml on this node).
    #[serde(default)]
    pub nvml: Option<Nvml>,
    /// Restarted containers whose previous run's log ends in a GPU-memory or NCCL failure:
    /// only the matched lines, never the rest of the log (`collect::prev_log`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_runs: Vec<PreviousRun>,
    /// `/dev/shm` as one process of each running pod sees it (`collect::pod_shm`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_shm: Vec<PodShm>,
}

/// A pod's `/dev/shm`, from the mountinfo of one of its processes (`/proc/<pid>/mountinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodShm {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub pod_uid: String,
    /// The process whose view was read.
    pub pid: u32,
    /// The filesystem mounted there (`tmpfs`).
    pub fs_type: String,
    /// The tmpfs `size=` of the mount's superblock options, in bytes; `None` when the mount
    /// shows none (tmpfs's default, half the node's memory) and statvfs could not size it.
    pub size_bytes: Option<u64>,
    /// How `size_bytes` was learned; `None` in bundles captured before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_from: Option<ShmSizeFrom>,
    /// The emptyDir volume mounted there when it is one (`medium: Memory`): its name, from
    /// the host mount of the same device under `/var/lib/kubelet/pods/<uid>/volumes/
    /// kubernetes.io~empty-dir/<name>`.
    pub empty_dir: Option<String>,
}

/// Where a pod's `/dev/shm` size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShmSizeFrom {
    /// The tmpfs `size=` option in the process's mountinfo.
    MountOption,
    /// statvfs of `/proc/<pid>/root/dev/shm` (blocks × fragment size): the mount showed no
    /// usable `size=` (tmpfs's default, half of RAM, is not printed).
    Statvfs,
}

/// The end of a container's previous run as its log (`/var/log/pods/<ns>_<pod>_<uid>/
/// <container>/<N>.log`, the CRI log format) tells it: the lines of its last 64 KiB that matched
/// a GPU-memory or NCCL failure pattern, redacted, escaped and cut to 512 bytes each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PreviousRun {
    pub namespace: String,
    pub pod: String,
    pub pod_uid: String,
    pub container: String,
    /// The log file read.
    pub path: String,
    /// The run's number: the kubelet names a run's log by its restart count.
    pub run: u32,
    /// The matched lines, oldest first (at most 16).
    pub matches: Vec<LogMatch>,
}

/// One log line that matched a failure pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogMatch {
    /// The runtime's RFC 3339 timestamp of the line, as written.
    pub time: Option<String>,
    pub kind: GpuFailure,
    /// The pattern's id (`pytorch-oom`, `nccl-cuda-oom`, ...).
    pub pattern: String,
    /// The message (without the CRI prefix), redacted, escaped, at most 512 bytes.
    pub line: String,
}

/// What a matched line says ended the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GpuFailure {
    /// The CUDA allocator ran out of device memory (PyTorch, JAX/XLA, TensorRT-LLM).
    CudaOom,
    /// vLLM found no room for its KV cache after loading the weights.
    KvCache,
    /// NCCL failed on a CUDA allocation or a system call (often memory).
    Nccl,
    /// NCCL or a data loader ran out of shared memory (`/dev/shm`).
    Shm,
}

/// One GPU as the driver describes it (`information` file; keys as NVIDIA's driver prints them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DriverGpu {
    pub model: Option<String>,
    pub uuid: Option<String>,
    pub bus_location: Option<String>,
    pub minor: Option<u32>,
    /// `GPU Excluded: Yes` (drivers >= 470).
    pub excluded: bool,
}

/// `<kubelet root>/device-plugins/kubelet_internal_checkpoint` (docs/kubelet-semantics.md §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceCheckpoint {
    /// Devices each plugin registered, by resource name.
    pub registered: std::collections::BTreeMap<String, Vec<String>>,
    pub allocations: Vec<DeviceAllocation>,
}

/// Devices allocated to one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceAllocation {
    pub pod_uid: String,
    pub container: String,
    pub resource: String,
    pub device_ids: Vec<String>,
}

/// NVML's view, when libnvidia-ml could be loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Nvml {
    /// Why NVML is not available (`libnvidia-ml.so.1: cannot open shared object file`).
    pub unavailable: Option<String>,
    pub driver_version: Option<String>,
    pub devices: Vec<NvmlDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NvmlDevice {
    pub index: u32,
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub memory_total_bytes: Option<u64>,
    pub memory_used_bytes: Option<u64>,
    pub utilization_percent: Option<u32>,
    pub mig_enabled: Option<bool>,
    /// Uncorrected ECC errors since the driver loaded (volatile counter); `None` without ECC.
    #[serde(default)]
    pub ecc_uncorrected: Option<u64>,
    /// The processes running on the whole GPU (NVML's compute and graphics lists). With MIG
    /// on, each instance lists its own ([`MigDevice::processes`]) and this list, when NVML
    /// gives one (a privileged caller), aggregates them: recorded as NVML answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<GpuProcess>,
    /// The MIG instances of this GPU when MIG is on, each with its own memory and processes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mig_devices: Vec<MigDevice>,
}

/// One MIG instance of a GPU (`nvmlDeviceGetMigDeviceHandleByIndex`): a slice of the GPU with
/// its own memory, which its processes cannot exceed whatever the rest of the GPU holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MigDevice {
    /// The index under its parent GPU (0 to `nvmlDeviceGetMaxMigDeviceCount` - 1).
    pub index: u32,
    /// `MIG-<uuid>` (drivers >= 470), the id the device plugin hands out for MIG resources.
    pub uuid: Option<String>,
    /// `NVIDIA A100-SXM4-80GB MIG 1g.10gb`.
    pub name: Option<String>,
    pub memory_total_bytes: Option<u64>,
    pub memory_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<GpuProcess>,
}

/// A process holding GPU memory, as NVML's `nvmlProcessInfo_t` gives it.
///
/// `pid` is the process id the NVIDIA driver sees: the host's PID namespace (NVML reports the
/// pid in the namespace of whoever loaded the driver's view, the node). nodescope's process
/// table has host pids too, since it runs on the host or in `kubectl debug node`, which shares
/// the host PID namespace; the two are joined on that assumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuProcess {
    pub pid: u32,
    pub kind: GpuProcessKind,
    /// Device memory the process holds, in bytes; `None` when NVML answers "not available"
    /// (`NVML_VALUE_NOT_AVAILABLE`: under WDDM, or without the rights to see it).
    pub used_bytes: Option<u64>,
    /// The GPU and compute instance it runs in, with MIG on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_instance_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_instance_id: Option<u32>,
}

/// Which of NVML's lists named the process: a CUDA (or OpenCL) context is `compute`, a
/// graphics context `graphics`; one with both is `compute+graphics` (nvidia-smi's `C+G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GpuProcessKind {
    Compute,
    Graphics,
    #[serde(rename = "compute+graphics")]
    ComputeGraphics,
}

/// One PCI GPU (`/sys/bus/pci/devices/<address>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PciGpu {
    /// `0000:3b:00.0`.
    pub address: String,
    /// PCI device id, `0x20b0`.
    pub device: String,
    /// PCI class, `0x030200` (3D controller) or `0x030000` (VGA).
    pub class: String,
    /// The bound kernel driver (`nvidia`, `nouveau`, `vfio-pci`), from the `driver` link.
    pub driver: Option<String>,
}

/// An NVIDIA Xid error: `NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has fallen off the bus.`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Xid {
    /// Microseconds since boot.
    pub usec: u64,
    /// `PCI:0000:3b:00`.
    pub device: String,
    pub xid: u32,
    pub message: String,
}
