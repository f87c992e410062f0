//! GPU memory per device and per MIG instance, and who holds it: each process NVML lists is
//! joined to its pod and container through nodescope's own process table (the process's
//! cgroup gave its container id, `collect::processes`; the container's pod is named as
//! [`crate::model::Pod::facts`] names it). `gpu.memory-near-full`, `nodescope gpu` and the
//! Prometheus metrics read this one join.
//!
//! PID namespaces: NVML reports the pid the driver sees, a pid of the host's PID namespace.
//! The process table is the host's too: nodescope runs on the node, or in `kubectl debug
//! node/...`, whose pod shares the host PID namespace (`hostPID: true`). A pid the table does
//! not hold (a process that just ended, or a table read from another namespace) is named
//! `pid N`, never guessed.

use crate::model::Snapshot;
use crate::model::gpu::{GpuProcess, NvmlDevice};
use serde::Serialize;

/// Used memory at or above this share of a GPU's (or MIG instance's) total is "near full".
pub const NEAR_FULL_PERCENT: u64 = 95;

/// One GPU or MIG instance's memory and its holders.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GpuMemory {
    /// The GPU's NVML index (the parent's, for a MIG instance).
    pub index: u32,
    /// The MIG instance's index under its GPU; `None` for a whole GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mig_index: Option<u32>,
    /// `GPU-<uuid>`, or `MIG-<uuid>` for an instance.
    pub uuid: Option<String>,
    pub name: Option<String>,
    pub used_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    /// `used / total` in percent, one decimal; `None` when either is unknown.
    pub used_percent: Option<f64>,
    /// How many MIG instances of this GPU NVML listed (they are judged, not the GPU).
    #[serde(skip_serializing_if = "is_zero")]
    pub mig_instances: usize,
    /// The processes holding its memory, largest first.
    pub holders: Vec<GpuHolder>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A process holding GPU memory, with its pod and container where the process table knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct GpuHolder {
    /// The host pid (see the module docs on PID namespaces).
    pub pid: u32,
    /// Bytes it holds; `None` when NVML could not say.
    pub used_bytes: Option<u64>,
    /// `namespace/name` (or `pod <uid>`), when the process runs in a pod of this node.
    pub pod: Option<String>,
    /// The Kubernetes container name (`id <12 hex>` when nothing names it).
    pub container: Option<String>,
    /// The process's command name, when the process table holds the pid.
    pub comm: Option<String>,
}

impl GpuHolder {
    /// How a reader sees it: `llm/vllm-0/vllm (pid 31207)`, `pid 4242 (Xorg)`, or `pid 4242`.
    pub fn label(&self) -> String {
        match (&self.pod, &self.container, &self.comm) {
            (Some(p), Some(c), _) => format!("{p}/{c} (pid {})", self.pid),
            (Some(p), None, _) => format!("{p} (pid {})", self.pid),
            (None, _, Some(comm)) => format!("pid {} ({comm})", self.pid),
            (None, _, None) => format!("pid {}", self.pid),
        }
    }
}

impl GpuMemory {
    /// `GPU 0` or `GPU 0 MIG 3`.
    pub fn label(&self) -> String {
        match self.mig_index {
            Some(m) => format!("GPU {} MIG {m}", self.index),
            None => format!("GPU {}", self.index),
        }
    }

    /// Whether its used memory is at or above [`NEAR_FULL_PERCENT`] of a known, non-zero
    /// total. A GPU split into MIG instances is never near full itself: its instances are
    /// judged, each with its own memory.
    pub fn near_full(&self) -> bool {
        let (Some(used), Some(total)) = (self.used_bytes, self.total_bytes) else {
            return false;
        };
        self.mig_instances == 0
            && total > 0
            && u128::from(used) * 100 >= u128::from(total) * u128::from(NEAR_FULL_PERCENT)
    }
}

/// Every GPU NVML answered for, each followed by its MIG instances.
pub fn devices(snap: &Snapshot) -> Vec<GpuMemory> {
    let Some(nvml) = &snap.gpu.nvml else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in &nvml.devices {
        out.push(whole(snap, d));
        for m in &d.mig_devices {
            out.push(GpuMemory {
                index: d.index,
                mig_index: Some(m.index),
                uuid: m.uuid.clone(),
                name: m.name.clone(),
                used_bytes: m.memory_used_bytes,
                total_bytes: m.memory_total_bytes,
                used_percent: percent(m.memory_used_bytes, m.memory_total_bytes),
                mig_instances: 0,
                holders: holders(snap, &m.processes),
            });
        }
    }
    out
}

/// A whole GPU. With MIG on, NVML's list on the parent aggregates its instances' processes
/// (nvmlDeviceGetComputeRunningProcesses, for a privileged caller): a process an instance
/// lists is shown under that instance only.
fn whole(snap: &Snapshot, d: &NvmlDevice) -> GpuMemory {
    let own: Vec<GpuProcess> = d
        .processes
        .iter()
        .filter(|p| {
            !d.mig_devices
                .iter()
                .any(|m| m.processes.iter().any(|q| q.pid == p.pid))
        })
        .cloned()
        .collect();
    GpuMemory {
        index: d.index,
        mig_index: None,
        uuid: d.uuid.clone(),
        name: d.name.clone(),
        used_bytes: d.memory_used_bytes,
        total_bytes: d.memory_total_bytes,
        used_percent: percent(d.memory_used_bytes, d.memory_total_bytes),
        mig_instances: d.mig_devices.len(),
        holders: holders(snap, &own),
    }
}

/// `used / total` in percent, rounded to one decimal.
fn percent(used: Option<u64>, total: Option<u64>) -> Option<f64> {
    let (u, t) = (used?, total?);
    (t > 0).then(|| (u as f64 * 1000.0 / t as f64).round() / 10.0)
}

/// NVML's processes joined to the process table and the pods, largest holder first.
pub fn holders(snap: &Snapshot, processes: &[GpuProcess]) -> Vec<GpuHolder> {
    let mut out: Vec<GpuHolder> = processes.iter().map(|p| holder(snap, p)).collect();
    out.sort_by(|a, b| b.used_bytes.cmp(&a.used_bytes).then(a.pid.cmp(&b.pid)));
    out
}

fn holder(snap: &Snapshot, p: &GpuProcess) -> GpuHolder {
    let proc = snap.processes.iter().find(|x| x.pid == p.pid);
    let pod = proc
        .and_then(|x| x.container_id.as_deref())
        .and_then(|id| snap.container(id));
    GpuHolder {
        pid: p.pid,
        used_bytes: p.used_bytes,
        pod: pod.map(|(p, _)| p.label()),
        container: pod.map(|(_, c)| {
            c.name
                .clone()
                .unwrap_or_else(|| format!("id {}", &c.id[..c.id.len().min(12)]))
        }),
        comm: proc.map(|x| x.comm.clone()),
    }
}

/// Whether a command line runs vLLM (its module, entry point or `vllm serve`).
pub fn is_vllm(cmdline: &[String]) -> bool {
    cmdline.iter().any(|a| a.contains("vllm"))
}

/// The vLLM flags that size its GPU memory, as a command line sets them (`--flag value` or
/// `--flag=value`), in command-line order.
pub fn vllm_flags(cmdline: &[String]) -> Vec<(String, String)> {
    const FLAGS: [&str; 3] = [
        "--gpu-memory-utilization",
        "--max-model-len",
        "--max-num-seqs",
    ];
    let mut out = Vec::new();
    for (i, a) in cmdline.iter().enumerate() {
        for f in FLAGS {
            let value = if a == f {
                cmdline.get(i + 1).cloned()
            } else {
                a.strip_prefix(f)
                    .and_then(|r| r.strip_prefix('='))
                    .map(String::from)
            };
            if let Some(v) = value {
                out.push((f.to_string(), v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::{GpuProcessKind, MigDevice, Nvml};

    fn gp(pid: u32, used: Option<u64>) -> GpuProcess {
        GpuProcess {
            pid,
            kind: GpuProcessKind::Compute,
            used_bytes: used,
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    #[test]
    fn each_process_is_named_by_its_pod_or_honestly_by_its_pid() {
        let mut s = snap();
        let mut p = pod("llm", "vllm-0", "u1");
        p.containers.push(container(&id('a'), "vllm", None));
        s.pods.push(p);
        s.processes.push(process(31207, "python3", Some(&id('a'))));
        s.processes.push(process(2001, "Xorg", None));
        let h = holders(
            &s,
            &[
                gp(2001, Some(1 << 20)),
                gp(31207, Some(76 << 30)),
                gp(9999, None),
            ],
        );
        let labels: Vec<String> = h.iter().map(GpuHolder::label).collect();
        assert_eq!(
            labels,
            vec!["llm/vllm-0/vllm (pid 31207)", "pid 2001 (Xorg)", "pid 9999"]
        );
    }

    #[test]
    fn near_full_needs_known_figures_and_a_gpu_split_by_mig_is_judged_by_instance() {
        let mut s = snap();
        s.gpu.nvml = Some(Nvml {
            devices: vec![NvmlDevice {
                index: 0,
                memory_total_bytes: Some(100),
                memory_used_bytes: Some(99),
                mig_devices: vec![MigDevice {
                    index: 3,
                    memory_total_bytes: Some(100),
                    memory_used_bytes: Some(95),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let d = devices(&s);
        assert_eq!(
            d.iter()
                .map(|m| (m.label(), m.near_full(), m.used_percent))
                .collect::<Vec<_>>(),
            vec![
                ("GPU 0".to_string(), false, Some(99.0)),
                ("GPU 0 MIG 3".to_string(), true, Some(95.0))
            ]
        );
        assert!(
            d[0].holders.is_empty() && d[1].holders.is_empty(),
            "no process listed"
        );
        let unknown = GpuMemory {
            used_bytes: None,
            ..d[1].clone()
        };
        assert!(!unknown.near_full());
        let below = GpuMemory {
            used_bytes: Some(94),
            ..d[1].clone()
        };
        assert!(!below.near_full());
    }

    #[test]
    fn a_process_a_mig_instance_lists_is_not_repeated_under_its_gpu() {
        let mut s = snap();
        s.gpu.nvml = Some(Nvml {
            devices: vec![NvmlDevice {
                processes: vec![gp(7, Some(5)), gp(8, Some(3))],
                mig_devices: vec![MigDevice {
                    processes: vec![gp(7, Some(5))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let d = devices(&s);
        let pids = |m: &GpuMemory| m.holders.iter().map(|h| h.pid).collect::<Vec<_>>();
        assert_eq!((pids(&d[0]), pids(&d[1])), (vec![8], vec![7]));
    }

    #[test]
    fn vllm_flags_are_read_in_both_forms() {
        let cmd: Vec<String> = [
            "vllm",
            "serve",
            "m",
            "--gpu-memory-utilization=0.95",
            "--max-model-len",
            "8192",
        ]
        .map(String::from)
        .to_vec();
        assert!(is_vllm(&cmd));
        assert_eq!(
            vllm_flags(&cmd),
            vec![
                ("--gpu-memory-utilization".into(), "0.95".into()),
                ("--max-model-len".into(), "8192".into())
            ]
        );
    }
}
