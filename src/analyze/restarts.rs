//! Why a container's last run ended: every restart is a kernel OOM kill (by its own limit or
//! of the node), a GPU out-of-memory, a signal, or an error exit. The sources, strongest
//! first: the kernel's own kill record for that container; the API's `OOMKilled` (the runtime
//! saw the kernel kill in the container's cgroup, even when the log is gone); the matched end
//! of its previous log (gpu.cuda-oom's evidence); then the rest of the API's
//! `lastState.terminated` (exit code, signal). `memory.kernel-oom-kill` and `gpu.cuda-oom`
//! follow the same order, so no restart is claimed by both.
//!
//! What the API's fields mean (the kubelet copies the runtime's CRI status,
//! kubernetes/kubernetes pkg/kubelet/kubelet_pods.go `convertContainerStatus`: exit code,
//! reason, message; it never sets `signal`):
//! - `reason` comes from the runtime: containerd sets `Completed` (exit 0), `Error` (any other
//!   exit), `OOMKilled` (a TaskOOM event for the container, whatever the exit code),
//!   `StartError` with exit 128 (containerd/containerd pkg/cri/server/helpers.go
//!   `completeExitReason`/`errorExitReason`/`oomExitReason`/`errorStartReason`, events.go
//!   TaskOOM); `ContainerCannotRun` was dockershim's for a start failure (removed with it in
//!   1.24); the kubelet itself writes `ContainerStatusUnknown` with a made-up exit code 137
//!   when the container vanished (pkg/kubelet/kubelet_pods.go, status_manager.go): no signal.
//! - exit code 128+N means signal N: the runtime reports a signalled process that way
//!   (containerd sys/reaper/reaper_unix.go `exitStatus`, runc libcontainer/utils `ExitStatus`,
//!   both `exitSignalOffset = 128`), as shells do (bash(1), "EXIT STATUS").

use crate::model::gpu::{GpuFailure, LogMatch};
use crate::model::{Container, Pod, Snapshot};

/// What ended a container's last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartCause {
    /// The kernel killed it at its cgroup's limit (`CONSTRAINT_MEMCG`), or the API says
    /// `OOMKilled` (the runtime saw an OOM kill in the container) without a kernel record left.
    OomLimit,
    /// The kernel killed it for the whole node (`CONSTRAINT_NONE`) or its node-allocatable.
    OomNode,
    /// Its previous log ends in a GPU-memory failure (CUDA allocator, KV cache, NCCL).
    GpuOom,
    /// Ended by a signal (`lastState.terminated.signal`, or exit code 128+N).
    Signal(i32),
    /// Exited with this code (not 0).
    Exit(i32),
    /// Exited 0 (`Completed`).
    Completed,
    /// Known only from its previous log, which ends in a failure that is not GPU memory (a full
    /// `/dev/shm`, NCCL's generic errors): an error, its exit code unknown without the API.
    LogError,
}

impl RestartCause {
    /// At most four characters for a table cell (the TUI's RST column, whose legend is in
    /// the view's footer): `oom` (its limit), `node` (a node OOM), `gpu` (GPU memory), `sigN`,
    /// `eN` (exit code N), `ok` (exit 0), `err` (an error its previous log shows).
    pub fn short(self) -> String {
        match self {
            RestartCause::OomLimit => "oom".into(),
            RestartCause::OomNode => "node".into(),
            RestartCause::GpuOom => "gpu".into(),
            RestartCause::Signal(n) => format!("sig{n}"),
            RestartCause::Exit(n) => format!("e{n}"),
            RestartCause::Completed => "ok".into(),
            RestartCause::LogError => "err".into(),
        }
    }
}

/// Why `container` of `pod` last ended, when anything says so.
pub fn last_end(snap: &Snapshot, pod: &Pod, container: &Container) -> Option<RestartCause> {
    let name = container.name.as_deref();
    let kill = super::oom::kills(snap).into_iter().rev().find(|k| {
        k.container_id.as_deref() == Some(container.id.as_str())
            || (k.pod_uid.as_deref() == Some(pod.uid.as_str())
                && name.is_some()
                && k.container.as_deref() == name)
    });
    if let Some(k) = kill {
        return Some(match k.kill.constraint.as_deref() {
            Some("CONSTRAINT_MEMCG") => RestartCause::OomLimit,
            _ => RestartCause::OomNode,
        });
    }
    let api = pod
        .api
        .as_ref()
        .and_then(|a| a.containers.iter().find(|c| Some(c.name.as_str()) == name));
    let reason = api.and_then(|c| c.last_termination_reason.as_deref());
    if reason == Some("OOMKilled") {
        return Some(RestartCause::OomLimit);
    }
    let runs = || {
        snap.gpu
            .previous_runs
            .iter()
            .filter(|r| r.pod_uid == pod.uid && Some(r.container.as_str()) == name)
    };
    if runs().any(|r| r.matches.iter().any(is_gpu_oom)) {
        return Some(RestartCause::GpuOom);
    }
    // A previous run whose log ends in another failure: the API's exit code says more when
    // there is one, but without it the restart is still an error, not unknown.
    let log_error = runs()
        .any(|r| !r.matches.is_empty())
        .then_some(RestartCause::LogError);
    let Some(api) = api else {
        return log_error;
    };
    if reason == Some("ContainerStatusUnknown") {
        // The kubelet's placeholder: the container was not found; 137 is made up.
        return None;
    }
    if let Some(sig) = api.last_termination_signal.filter(|s| *s > 0) {
        return Some(RestartCause::Signal(sig));
    }
    let Some(code) = api.last_termination_exit_code else {
        return log_error;
    };
    match code {
        0 => Some(RestartCause::Completed),
        // 128+N: killed by signal N (1..=64). 128 itself is containerd's StartError.
        c if (129..=192).contains(&c) => Some(RestartCause::Signal(c - 128)),
        c => Some(RestartCause::Exit(c)),
    }
}

/// Whether a previous run's matched line says GPU memory ran out: a CUDA allocator or KV-cache
/// failure, or NCCL's own word that a CUDA allocation failed (`Cuda failure 'out of memory'`).
/// NCCL's bare `unhandled system error` / `unhandled cuda error` are not enough (a full
/// /dev/shm or an invalid argument end the same way), nor a shared-memory line.
pub fn is_gpu_oom(m: &LogMatch) -> bool {
    match m.kind {
        GpuFailure::CudaOom | GpuFailure::KvCache => true,
        GpuFailure::Nccl => matches!(m.pattern.as_str(), "nccl-cuda-oom" | "nccl-cu-oom"),
        GpuFailure::Shm => false,
    }
}

/// Whether the API says the runtime saw an OOM kill end `container` of the pod `pod_uid`'s
/// last run (`lastState.terminated.reason == "OOMKilled"`).
pub fn api_oom_killed(snap: &Snapshot, pod_uid: &str, container: &str) -> bool {
    snap.pods
        .iter()
        .filter(|p| p.uid == pod_uid)
        .filter_map(|p| p.api.as_ref())
        .flat_map(|a| a.containers.iter())
        .any(|c| c.name == container && c.last_termination_reason.as_deref() == Some("OOMKilled"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{ApiContainer, ApiPod};

    fn api(reason: Option<&str>, code: Option<i32>, signal: Option<i32>) -> ApiPod {
        ApiPod {
            containers: vec![ApiContainer {
                name: "app".into(),
                requests: Default::default(),
                limits: Default::default(),
                restart_count: Some(1),
                last_termination_reason: reason.map(String::from),
                last_termination_exit_code: code,
                last_termination_signal: signal,
            }],
            ..Default::default()
        }
    }

    fn pod(a: ApiPod) -> (Pod, Container) {
        let c = crate::analyze::rules::testing::container("c0ffee", "app", None);
        let mut p = crate::analyze::rules::testing::pod("llm", "vllm-0", "u-1");
        p.containers = vec![c.clone()];
        p.api = Some(a);
        (p, c)
    }

    #[test]
    fn the_apis_last_termination_classifies_a_restart() {
        let snap = crate::analyze::rules::testing::snap();
        let cases = [
            (
                api(Some("OOMKilled"), Some(137), None),
                RestartCause::OomLimit,
            ),
            (api(Some("Error"), Some(137), None), RestartCause::Signal(9)),
            (api(Some("Error"), Some(1), None), RestartCause::Exit(1)),
            (
                api(Some("Error"), Some(0), Some(15)),
                RestartCause::Signal(15),
            ),
            (
                api(Some("Completed"), Some(0), None),
                RestartCause::Completed,
            ),
            // containerd's start failure: exit 128 is no signal.
            (
                api(Some("StartError"), Some(128), None),
                RestartCause::Exit(128),
            ),
            // The runtime saw an OOM kill though the main process exited 0.
            (
                api(Some("OOMKilled"), Some(0), None),
                RestartCause::OomLimit,
            ),
            (
                api(Some("Error"), Some(143), None),
                RestartCause::Signal(15),
            ),
            (api(Some("Error"), Some(255), None), RestartCause::Exit(255)),
        ];
        for (a, want) in cases {
            let (p, c) = pod(a);
            assert_eq!(last_end(&snap, &p, &c), Some(want));
        }
        let (p, c) = pod(api(None, None, None));
        assert_eq!(last_end(&snap, &p, &c), None);
        // The kubelet's placeholder for a vanished container: its 137 is no SIGKILL.
        let (p, c) = pod(api(Some("ContainerStatusUnknown"), Some(137), None));
        assert_eq!(last_end(&snap, &p, &c), None);
    }

    /// The previous run 0 of llm/vllm-0's container `app`, its log having matched `matches`.
    fn previous_run(matches: Vec<LogMatch>) -> crate::model::gpu::PreviousRun {
        crate::model::gpu::PreviousRun {
            namespace: "llm".into(),
            pod: "vllm-0".into(),
            pod_uid: "u-1".into(),
            container: "app".into(),
            path: "/var/log/pods/llm_vllm-0_u-1/app/0.log".into(),
            run: 0,
            matches,
        }
    }

    #[test]
    fn a_gpu_oom_in_the_previous_log_beats_the_apis_exit_code() {
        let mut snap = crate::analyze::rules::testing::snap();
        snap.gpu.previous_runs.push(previous_run(vec![LogMatch {
            time: None,
            kind: GpuFailure::CudaOom,
            pattern: "pytorch-oom".into(),
            line: "torch.cuda.OutOfMemoryError: CUDA out of memory.".into(),
        }]));
        let (p, c) = pod(api(Some("Error"), Some(1), None));
        assert_eq!(last_end(&snap, &p, &c), Some(RestartCause::GpuOom));
        assert_eq!(RestartCause::GpuOom.short(), "gpu");
        // The runtime saw an OOM kill: host memory, whatever the log says.
        let (p, c) = pod(api(Some("OOMKilled"), Some(137), None));
        assert_eq!(last_end(&snap, &p, &c), Some(RestartCause::OomLimit));
    }

    #[test]
    fn nccls_generic_errors_and_shared_memory_lines_are_no_gpu_oom() {
        let mut snap = crate::analyze::rules::testing::snap();
        let line = |pattern: &str, kind| LogMatch {
            time: None,
            kind,
            pattern: pattern.into(),
            line: String::new(),
        };
        snap.gpu.previous_runs.push(previous_run(vec![
            line("nccl-shm-extend", GpuFailure::Shm),
            line("nccl-system-error", GpuFailure::Nccl),
            line("nccl-cuda-error", GpuFailure::Nccl),
        ]));
        let (p, c) = pod(api(Some("Error"), Some(1), None));
        assert_eq!(last_end(&snap, &p, &c), Some(RestartCause::Exit(1)));
        // Without the API's exit code the log still says the run failed.
        let mut bare = p.clone();
        bare.api = None;
        assert_eq!(last_end(&snap, &bare, &c), Some(RestartCause::LogError));
        assert_eq!(RestartCause::LogError.short(), "err");
        snap.gpu.previous_runs[0]
            .matches
            .push(line("nccl-cu-oom", GpuFailure::Nccl));
        assert_eq!(last_end(&snap, &p, &c), Some(RestartCause::GpuOom));
    }
}
