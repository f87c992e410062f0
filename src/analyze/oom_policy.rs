//! The kubelet's QoS class and `oom_score_adj` policy, ported exactly as pure functions:
//! `ComputePodQOS` / `GetPodQOS` (pkg/apis/core/v1/helper/qos/qos.go, the classic sum-based
//! version), `GetContainerOOMScoreAdjust` (pkg/kubelet/qos/policy.go with its helpers.go),
//! `IsCriticalPod` / `IsNodeCriticalPod` (pkg/kubelet/types/pod_update.go) and the request sums
//! the eviction ranking uses (`GetResourceRequestQuantity`, pkg/api/v1/resource/helpers.go, over
//! `AggregateContainerRequests` of k8s.io/component-helpers/resource). docs/kubelet-semantics.md §3.
//!
//! nodescope needs it because two different mechanisms decide who dies on a node short of
//! memory: the kubelet evicts by its ranking ([`super::eviction_ranking`]), but the kernel OOM killer,
//! which acts first when memory runs out faster than the 10 s eviction loop, kills the process
//! with the highest `oom_score` = usage share in ‰ + `oom_score_adj`. The kubelet writes that
//! `oom_score_adj` from this policy, so predicting it tells who the kernel kills first, and a
//! process whose `/proc/<pid>/oom_score_adj` differs from the prediction shows a spec the tool
//! misread or a kubelet version that computes it differently.
//!
//! The policy, as released (PodLevelResources-aware, sidecar rule by regular-container minimum):
//!
//! ```text
//! node-critical pod (critical and priorityClassName system-node-critical) -> -997
//! QoS (status.qosClass, else ComputePodQOS): Guaranteed -> -997, BestEffort -> 1000
//! Burstable: adj = 1000 - 1000 * (request + podShare) / capacity      (int64, truncating)
//!            podShare = (pod memory request - aggregated container requests)
//!                       / (containers + init containers), only with pod-level requests
//!            sidecar (init container with restartPolicy Always):
//!                adj = min(adj, 1000 - 1000 * (min regular request + podShare) / capacity)
//!            adj < 3 -> 3 (1000 + guaranteedOOMScoreAdj); adj == 1000 -> 999
//! ```
//!
//! Version differences (docs/kubelet-semantics.md §3.2); compare the prediction with
//! `/proc/<pid>/oom_score_adj` before trusting it on an unknown kubelet:
//!
//! - very old kubelets used -998 for Guaranteed (and for the pod infra container);
//! - older kubelets gave -997 to every critical pod (`IsCriticalPod`, so also
//!   system-cluster-critical, static and mirror pods); current ones only to node-critical pods,
//!   so a cluster-critical BestEffort pod gets 1000;
//! - some versions read the request from `status.containerStatuses[].allocatedResources`
//!   (InPlacePodVerticalScaling); current ones expect the allocated resources in the spec, so
//!   pass the allocated requests when a resize is pending;
//! - an intermediate sidecar rule (SidecarContainers gate) took the minimum of the sidecar's and
//!   the regular containers' requests, with default requests for missing ones, and added 1 when
//!   the sidecar's request was at or above that minimum;
//! - the newest sources add DRA node-allocatable memory claims to the request
//!   (DRANodeAllocatableResources) and a tie-break nudge of a few points by request size and
//!   bounded limit (KubeletOOMScoreAdjTieBreak). Neither is modelled here.
//!
//! Not modelled either: hugepages (they never affect QoS or this policy) and ephemeral
//! containers (no resources). Go would panic on a pod without containers or on a zero memory
//! capacity; these functions do not (see each function).

use crate::model::Qos;
use serde::{Deserialize, Serialize};

/// `KubeletOOMScoreAdj`: the kubelet's own `oom_score_adj` (its `oomScoreAdj` default).
pub const KUBELET_OOM_SCORE_ADJ: i64 = -999;
/// `KubeProxyOOMScoreAdj`.
pub const KUBE_PROXY_OOM_SCORE_ADJ: i64 = -999;
/// `guaranteedOOMScoreAdj`: Guaranteed and node-critical containers (-998 in very old kubelets).
pub const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// `besteffortOOMScoreAdj`.
pub const BESTEFFORT_OOM_SCORE_ADJ: i64 = 1000;
/// `scheduling.SystemCriticalPriority`: a priority at or above it makes a pod critical. The
/// built-in classes are system-cluster-critical (this value) and system-node-critical (+1000).
pub const SYSTEM_CRITICAL_PRIORITY: i64 = 2_000_000_000;
/// `scheduling.SystemNodeCritical`, the priority class name that makes a critical pod
/// node-critical.
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";

/// One container's resources as its spec states them. Quantities are resolved as
/// `Quantity.Value()` / `MilliValue()` give them (rounded up); `Some(0)` is an explicit zero
/// (Go's map key present), `None` an absent key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerResources {
    /// The container name, unique within the pod (how the kubelet matches sidecars).
    pub name: String,
    /// `resources.requests.cpu`, in millicores.
    pub requests_cpu_milli: Option<i64>,
    /// `resources.requests.memory`, in bytes.
    pub requests_memory_bytes: Option<i64>,
    /// `resources.requests.ephemeral-storage`, in bytes.
    pub requests_ephemeral_storage_bytes: Option<i64>,
    /// `resources.limits.cpu`, in millicores.
    pub limits_cpu_milli: Option<i64>,
    /// `resources.limits.memory`, in bytes.
    pub limits_memory_bytes: Option<i64>,
    /// `restartPolicy: Always`, which only init containers may set: a sidecar. Ignored on a
    /// container of [`PodSpecLite::containers`].
    pub sidecar: bool,
}

/// Pod-level `spec.resources` (PodLevelResources), cpu and memory only, the resources it
/// supports besides hugepages. Units and `None` as in [`ContainerResources`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodLevelResources {
    /// `spec.resources.requests.cpu`, in millicores.
    pub requests_cpu_milli: Option<i64>,
    /// `spec.resources.requests.memory`, in bytes.
    pub requests_memory_bytes: Option<i64>,
    /// `spec.resources.limits.cpu`, in millicores.
    pub limits_cpu_milli: Option<i64>,
    /// `spec.resources.limits.memory`, in bytes.
    pub limits_memory_bytes: Option<i64>,
}

/// The parts of a pod the policy reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSpecLite {
    /// `spec.containers`, in spec order.
    pub containers: Vec<ContainerResources>,
    /// `spec.initContainers`, in spec order (the order matters for sidecar sums).
    pub init_containers: Vec<ContainerResources>,
    /// `spec.resources`. `Some` means the field is present, which the API server allows only
    /// with the PodLevelResources gate on; this port then treats the gate as on.
    pub resources: Option<PodLevelResources>,
    /// `spec.overhead.memory` (from the RuntimeClass), in bytes.
    pub overhead_memory_bytes: Option<i64>,
    /// `spec.overhead.ephemeral-storage`, in bytes.
    pub overhead_ephemeral_storage_bytes: Option<i64>,
    /// `spec.priority`; `None` when unset.
    pub priority: Option<i32>,
    /// `spec.priorityClassName`.
    pub priority_class_name: Option<String>,
    /// A static pod: annotation `kubernetes.io/config.source` present and not `api`
    /// (`IsStaticPod`).
    pub static_pod: bool,
    /// A mirror pod: annotation `kubernetes.io/config.mirror` present (`IsMirrorPod`).
    pub mirror_pod: bool,
    /// `status.qosClass`, which `GetPodQOS` prefers to computing it; `None` when unknown.
    pub status_qos_class: Option<Qos>,
}

/// `IsCriticalPodBasedOnPriority`: `priority >= SystemCriticalPriority`.
pub fn is_critical_priority(priority: i32) -> bool {
    i64::from(priority) >= SYSTEM_CRITICAL_PRIORITY
}

/// `IsCriticalPod`: static, mirror, or of critical priority. The eviction manager never evicts
/// such a pod (`evictPod`).
pub fn is_critical_pod(pod: &PodSpecLite) -> bool {
    pod.static_pod || pod.mirror_pod || pod.priority.is_some_and(is_critical_priority)
}

/// `IsNodeCriticalPod`: critical and of priority class `system-node-critical`.
pub fn is_node_critical_pod(pod: &PodSpecLite) -> bool {
    is_critical_pod(pod) && pod.priority_class_name.as_deref() == Some(SYSTEM_NODE_CRITICAL)
}

/// Positive cpu and memory quantities summed as `ComputePodQOS` sums them: a resource is
/// present once any positive quantity of it was added.
#[derive(Default, PartialEq)]
struct CpuMemSum {
    cpu: Option<i128>,
    memory: Option<i128>,
}

impl CpuMemSum {
    fn add(&mut self, cpu: Option<i64>, memory: Option<i64>) {
        for (acc, v) in [(&mut self.cpu, cpu), (&mut self.memory, memory)] {
            if let Some(v) = v.filter(|&v| v > 0) {
                *acc = Some(acc.unwrap_or(0) + i128::from(v));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// Whether both cpu and memory are positive (`qosLimitsFound.HasAll(memory, cpu)`).
fn both_positive(cpu: Option<i64>, memory: Option<i64>) -> bool {
    cpu.is_some_and(|v| v > 0) && memory.is_some_and(|v| v > 0)
}

/// `ComputePodQOS`, the classic version: with pod-level resources, their positive cpu/memory
/// requests and limits; otherwise the sums over containers and init containers. BestEffort
/// when nothing positive is requested or limited; Guaranteed when every container (or the
/// pod level) limits both cpu and memory and the summed requests equal the summed limits;
/// else Burstable. It compares sums, not containers. The stored Go sources held only the
/// container branch; the pod-level branch follows docs/kubelet-semantics.md §3.1 and reproduces
/// policy_test.go's pod-level cases.
pub fn compute_pod_qos(pod: &PodSpecLite) -> Qos {
    let mut requests = CpuMemSum::default();
    let mut limits = CpuMemSum::default();
    let mut guaranteed = true;
    if let Some(r) = &pod.resources {
        requests.add(r.requests_cpu_milli, r.requests_memory_bytes);
        limits.add(r.limits_cpu_milli, r.limits_memory_bytes);
        if !both_positive(r.limits_cpu_milli, r.limits_memory_bytes) {
            guaranteed = false;
        }
    } else {
        for c in pod.containers.iter().chain(&pod.init_containers) {
            requests.add(c.requests_cpu_milli, c.requests_memory_bytes);
            limits.add(c.limits_cpu_milli, c.limits_memory_bytes);
            if !both_positive(c.limits_cpu_milli, c.limits_memory_bytes) {
                guaranteed = false;
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Qos::BestEffort;
    }
    // Every requested resource has an equal limit, and there are as many limits as requests.
    if guaranteed && requests == limits {
        Qos::Guaranteed
    } else {
        Qos::Burstable
    }
}

/// `GetPodQOS`: `status.qosClass` when known, else [`compute_pod_qos`].
pub fn pod_qos(pod: &PodSpecLite) -> Qos {
    pod.status_qos_class.unwrap_or_else(|| compute_pod_qos(pod))
}

/// `IsPodLevelResourcesSet`: pod-level cpu or memory requests or limits are present.
fn pod_level_resources_set(pod: &PodSpecLite) -> bool {
    pod.resources.is_some_and(|r| {
        r.requests_cpu_milli.is_some()
            || r.requests_memory_bytes.is_some()
            || r.limits_cpu_milli.is_some()
            || r.limits_memory_bytes.is_some()
    })
}

/// `IsPodLevelRequestsSet`: pod-level cpu or memory requests are present.
fn pod_level_requests_set(pod: &PodSpecLite) -> bool {
    pod.resources
        .is_some_and(|r| r.requests_cpu_milli.is_some() || r.requests_memory_bytes.is_some())
}

/// `AggregateContainerRequests` for one resource: regular containers and sidecars summed, then
/// the maximum with each classic init container's request plus the sidecars started before
/// it (KEP-753). Absent requests count as 0.
fn aggregate_container_requests(
    pod: &PodSpecLite,
    get: impl Fn(&ContainerResources) -> Option<i64>,
) -> i128 {
    let req = |c: &ContainerResources| i128::from(get(c).unwrap_or(0));
    let mut total: i128 = pod.containers.iter().map(req).sum();
    let mut sidecars = 0i128;
    let mut init_peak = 0i128;
    for c in &pod.init_containers {
        let during = if c.sidecar {
            total += req(c);
            sidecars += req(c);
            sidecars
        } else {
            req(c) + sidecars
        };
        init_peak = init_peak.max(during);
    }
    total.max(init_peak)
}

/// `GetResourceRequestQuantity` for one resource: the container aggregate (or, with pod-level
/// resources set, the pod-level request of a resource it supports, else 0), plus the overhead
/// only when that total is not 0. Saturates at the `i64` range.
fn resource_request(
    pod: &PodSpecLite,
    container: impl Fn(&ContainerResources) -> Option<i64>,
    pod_level: impl Fn(&PodLevelResources) -> Option<i64>,
    overhead: Option<i64>,
) -> i64 {
    let mut total = if pod_level_resources_set(pod) {
        0
    } else {
        aggregate_container_requests(pod, container)
    };
    if pod_level_requests_set(pod)
        && let Some(v) = pod.resources.as_ref().and_then(pod_level)
    {
        total = i128::from(v);
    }
    if total != 0
        && let Some(o) = overhead
    {
        total += i128::from(o);
    }
    i64::try_from(total).unwrap_or(if total > 0 { i64::MAX } else { i64::MIN })
}

/// `GetResourceRequestQuantity(pod, memory)` in bytes, the request the eviction ranking
/// compares memory usage with ([`super::eviction_ranking::RankedPod::memory_request_bytes`]).
pub fn pod_memory_request_bytes(pod: &PodSpecLite) -> i64 {
    resource_request(
        pod,
        |c| c.requests_memory_bytes,
        |r| r.requests_memory_bytes,
        pod.overhead_memory_bytes,
    )
}

/// `GetResourceRequestQuantity(pod, ephemeral-storage)` in bytes
/// ([`super::eviction_ranking::RankedPod::ephemeral_storage_request_bytes`]). With pod-level resources
/// set it is 0 plus nothing: the kubelet then skips container requests, and pod-level resources
/// have no ephemeral storage.
pub fn pod_ephemeral_storage_request_bytes(pod: &PodSpecLite) -> i64 {
    resource_request(
        pod,
        |c| c.requests_ephemeral_storage_bytes,
        |_| None,
        pod.overhead_ephemeral_storage_bytes,
    )
}

/// `remainingPodMemReqPerContainer`: the pod-level memory request not claimed by the
/// containers, shared equally by all containers and init containers (Go's `int64` truncating
/// division; negative when the containers request more). 0 without a pod-level memory request.
fn remaining_pod_memory_request_per_container(pod: &PodSpecLite) -> i64 {
    let pod_request = pod
        .resources
        .and_then(|r| r.requests_memory_bytes)
        .unwrap_or(0);
    if pod_request == 0 {
        return 0;
    }
    let containers =
        i64::try_from(pod.containers.len() + pod.init_containers.len()).unwrap_or(i64::MAX);
    let aggregate = aggregate_container_requests(pod, |c| c.requests_memory_bytes);
    let aggregate = i64::try_from(aggregate).unwrap_or(i64::MAX);
    // Go divides by zero here for a pod without containers; API validation forbids those.
    pod_request
        .wrapping_sub(aggregate)
        .checked_div(containers)
        .unwrap_or(0)
}

/// `minRegularContainerMemory`: the smallest memory request among the regular containers
/// (absent = 0). `None` for a pod without containers, where Go would index out of range.
fn min_regular_container_memory(pod: &PodSpecLite) -> Option<i64> {
    pod.containers
        .iter()
        .map(|c| c.requests_memory_bytes.unwrap_or(0))
        .min()
}

/// `isSidecarContainer`: `restartPolicy: Always` and listed among the init containers.
fn is_sidecar_container(pod: &PodSpecLite, container: &ContainerResources) -> bool {
    container.sidecar && pod.init_containers.iter().any(|c| c.name == container.name)
}

/// `1000 - (1000 * request) / capacity` with Go's `int64` arithmetic (wrapping, truncating).
fn linear_adj(request: i64, capacity: i64) -> i64 {
    1000i64.wrapping_sub(1000i64.wrapping_mul(request).wrapping_div(capacity))
}

/// `GetContainerOOMScoreAdjust`: the `oom_score_adj` the kubelet gives every process of
/// `container` (a member of `pod.containers` or `pod.init_containers`) on a node with
/// `memory_capacity_bytes` of memory (cadvisor `MachineInfo.MemoryCapacity`, i.e. MemTotal).
/// The result is -997, 1000, or a Burstable value in 3..=999. A capacity of 0, on which the
/// kubelet would divide by zero, is taken as 1 byte.
pub fn container_oom_score_adj(
    pod: &PodSpecLite,
    container: &ContainerResources,
    memory_capacity_bytes: i64,
) -> i64 {
    if is_node_critical_pod(pod) {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match pod_qos(pod) {
        Qos::Guaranteed => return GUARANTEED_OOM_SCORE_ADJ,
        Qos::BestEffort => return BESTEFFORT_OOM_SCORE_ADJ,
        Qos::Burstable => {}
    }
    let capacity = if memory_capacity_bytes == 0 {
        1
    } else {
        memory_capacity_bytes
    };
    let request = container.requests_memory_bytes.unwrap_or(0);
    let pod_share = if pod_level_requests_set(pod) {
        remaining_pod_memory_request_per_container(pod)
    } else {
        0
    };
    let mut adj = linear_adj(request.wrapping_add(pod_share), capacity);
    if is_sidecar_container(pod, container)
        && let Some(min_request) = min_regular_container_memory(pod)
    {
        // A sidecar never gets a higher score than the regular container with the smallest
        // request.
        adj = adj.min(linear_adj(min_request.wrapping_add(pod_share), capacity));
    }
    // Burstable stays above Guaranteed (a Guaranteed pod using all memory scores 1000 - 997)
    // and below BestEffort.
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        return 1000 + GUARANTEED_OOM_SCORE_ADJ;
    }
    if adj == BESTEFFORT_OOM_SCORE_ADJ {
        return BESTEFFORT_OOM_SCORE_ADJ - 1;
    }
    adj
}

#[cfg(test)]
mod tests;
