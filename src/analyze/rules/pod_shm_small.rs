//! `pod.shm-small`: a GPU pod whose `/dev/shm` is the runtime's 64 MiB default (or smaller)
//! while it uses NCCL or more than one GPU. NCCL's intra-node transport and PyTorch's data
//! loader workers pass tensors through /dev/shm; 64 MiB runs out and the process dies with
//! `Bus error` or `failed to extend /dev/shm/nccl-...` (collect::pod_shm says where the size
//! comes from).
//!
//! NCCL in view means: more than one device in the kubelet's checkpoint for the pod, or an
//! NCCL or shared-memory line at the end of a container's previous run. The environment
//! (`NCCL_*`) is never read: it may hold secrets.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::gpu::{GpuFailure, PodShm};
use crate::model::units;

pub struct PodShmSmall;

/// containerd's and CRI-O's default `/dev/shm` size (containerd pkg/cri/server/helpers_linux.go
/// `defaultShmSize`, CRI-O internal/lib/sandbox/sandbox.go `DefaultShmSize`: 64 MiB both).
const DEFAULT_SHM: u64 = 64 << 20;

impl Rule for PodShmSmall {
    fn id(&self) -> &'static str {
        "pod.shm-small"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a GPU pod using NCCL or several GPUs has a /dev/shm of 64 MiB or less"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A pod with more than one GPU, or whose previous run logged an NCCL or shared-memory error,
  sees a /dev/shm of at most 64 MiB: the container runtime's default (containerd and CRI-O
  mount a 64 MiB tmpfs there for every pod). The size is read from the mount table of one of
  the pod's processes (/proc/<pid>/mountinfo), or, when the mount shows no size=, by statvfs
  of /dev/shm through that process's root (/proc/<pid>/root/dev/shm).

WHY IT MATTERS
  NCCL's shared-memory transport between GPUs of one node, and PyTorch's DataLoader workers,
  put their buffers in /dev/shm. 64 MiB is soon full: the process dies with `Bus error`,
  `NCCL WARN Error: failed to extend /dev/shm/nccl-... to N bytes`, or `unable to allocate
  shared memory`, often only under load or with more GPUs.

HOW TO CONFIRM
  kubectl exec -n NS POD -- df -h /dev/shm
  kubectl logs -n NS POD --previous | grep -iE 'bus error|shm|NCCL WARN'

WHAT TO CHANGE
  Mount an emptyDir with medium: Memory at /dev/shm:
    volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]
    volumeMounts: [{name: dshm, mountPath: /dev/shm}]
  Its pages count against the pod's memory limit: raise the limit by the size used."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for shm in &snap.gpu.pod_shm {
            let Some(size) = shm.size_bytes.filter(|s| *s <= DEFAULT_SHM) else {
                continue;
            };
            let gpus = gpu_count(snap, &shm.pod_uid);
            let line = nccl_line(snap, &shm.pod_uid);
            if gpus < 2 && line.is_none() {
                continue;
            }
            out.push(shm_finding(self, shm, size, gpus, line));
        }
    }
}

/// The devices the kubelet's checkpoint gives the pod's containers.
fn gpu_count(snap: &Snapshot, uid: &str) -> usize {
    snap.gpu.checkpoint.as_ref().map_or(0, |cp| {
        cp.allocations
            .iter()
            .filter(|a| a.pod_uid == uid)
            .map(|a| a.device_ids.len())
            .sum()
    })
}

/// The last shared-memory line of a previous run of the pod's containers, else its last NCCL
/// line: the shared-memory one names the cause.
fn nccl_line<'a>(snap: &'a Snapshot, uid: &str) -> Option<&'a str> {
    let lines = || {
        snap.gpu
            .previous_runs
            .iter()
            .filter(move |r| r.pod_uid == uid)
            .flat_map(|r| r.matches.iter())
    };
    lines()
        .filter(|m| m.kind == GpuFailure::Shm)
        .chain(lines().filter(|m| m.kind == GpuFailure::Nccl))
        .map(|m| m.line.as_str())
        .next()
}

fn shm_finding(
    rule: &dyn Rule,
    shm: &PodShm,
    size: u64,
    gpus: usize,
    line: Option<&str>,
) -> Finding {
    let who = crate::model::pod_ref(shm.namespace.as_deref(), shm.pod.as_deref(), &shm.pod_uid);
    let why = match line {
        Some(l) => format!(
            "{gpus} GPU(s); its previous run logged: {}",
            crate::model::text::truncate(l, 160)
        ),
        None => format!("it holds {gpus} GPUs (NCCL between them uses /dev/shm)"),
    };
    let what = match &shm.empty_dir {
        Some(v) => format!("the emptyDir {v}"),
        None => "the runtime's default tmpfs".to_string(),
    };
    finding(
        rule,
        Severity::Warning,
        format!("{who}: /dev/shm is {} ({what}); {why}", units::bytes(size)),
        Subject::pod(
            shm.namespace.clone(),
            shm.pod.clone().unwrap_or_else(|| shm.pod_uid.clone()),
        ),
        serde_json::json!({
            "shm_bytes": size,
            "pid": shm.pid,
            "empty_dir": shm.empty_dir,
            "gpus": gpus,
            "log_line": line,
        }),
        format!(
            "mount an emptyDir with medium: Memory at /dev/shm in {who} (volumes: [{{name: dshm, emptyDir: {{medium: Memory, sizeLimit: 16Gi}}}}], volumeMounts: [{{name: dshm, mountPath: /dev/shm}}]) and raise its memory limit by what it uses"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::{DeviceAllocation, DeviceCheckpoint, LogMatch, PreviousRun};

    fn node(size: Option<u64>, gpus: usize) -> Snapshot {
        let mut s = snap();
        s.gpu.pod_shm.push(PodShm {
            namespace: Some("ml".into()),
            pod: Some("train-0".into()),
            pod_uid: "u1".into(),
            pid: 4242,
            fs_type: "tmpfs".into(),
            size_bytes: size,
            size_from: None,
            empty_dir: None,
        });
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: Default::default(),
            allocations: vec![DeviceAllocation {
                pod_uid: "u1".into(),
                container: "trainer".into(),
                resource: "nvidia.com/gpu".into(),
                device_ids: (0..gpus).map(|i| format!("GPU-{i}")).collect(),
            }],
        });
        s
    }

    #[test]
    fn four_gpus_on_the_default_64_mib_fire() {
        let f = one(&PodShmSmall, &node(Some(64 << 20), 4));
        assert_eq!(
            f.title,
            "ml/train-0: /dev/shm is 64Mi (the runtime's default tmpfs); it holds 4 GPUs (NCCL between them uses /dev/shm)"
        );
        assert_eq!(f.evidence["shm_bytes"], 64 << 20);
    }

    #[test]
    fn one_gpu_without_nccl_or_a_large_shm_do_not() {
        assert_eq!(run(&PodShmSmall, &node(Some(64 << 20), 1)), vec![]);
        assert_eq!(run(&PodShmSmall, &node(Some(16 << 30), 4)), vec![]);
        assert_eq!(run(&PodShmSmall, &node(None, 4)), vec![]);
    }

    #[test]
    fn an_nccl_line_on_one_gpu_fires() {
        let mut s = node(Some(64 << 20), 1);
        s.gpu.previous_runs.push(PreviousRun {
            namespace: "ml".into(),
            pod: "train-0".into(),
            pod_uid: "u1".into(),
            container: "trainer".into(),
            path: "/var/log/pods/ml_train-0_u1/trainer/0.log".into(),
            run: 0,
            matches: vec![LogMatch {
                time: None,
                kind: GpuFailure::Shm,
                pattern: "nccl-shm-extend".into(),
                line: "NCCL WARN Error: failed to extend /dev/shm/nccl-x to 9637892 bytes".into(),
            }],
        });
        let f = one(&PodShmSmall, &s);
        assert!(f.title.ends_with("1 GPU(s); its previous run logged: NCCL WARN Error: failed to extend /dev/shm/nccl-x to 9637892 bytes"), "{}", f.title);
    }
}
