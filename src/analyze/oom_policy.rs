//! The kubelet's QoS class and `oom_score_adj` policy, ported exactly as pure functions:
//! `ComputePodQOS` / `GetPodQOS` (pkg/apis/core/v1/helper/qos/qos.go, the classic sum-based
//! version), `GetContainerOOMScoreAdjust` (pkg/kubelet/qos/policy.go with its helpers.go),
//! `IsCriticalPod` / `IsNodeCriticalPod` (pkg/kubelet/types/pod_update.go) and the request sums
//! the eviction ranking uses (`GetResourceRequestQuantity`, pkg/api/v1/resource/helpers.go, over
//! `AggregateContainerRequests` of k8s.io/component-helpers/resource). k8s-semantics §3.
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
//! Version differences (k8s-semantics §3.2); compare the prediction with
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
/// container branch; the pod-level branch follows k8s-semantics §3.1 and reproduces
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
mod tests {
    use super::*;

    // policy_test.go: standardMemoryAmount and the sample quantities derived from it.
    const STANDARD: i64 = 8_000_000_000;
    const SAMPLE_MEM_REQUEST: i64 = STANDARD / 8; // sampleDefaultMemRequest
    const SAMPLE_MEM_LIMIT: i64 = 1000 + STANDARD / 8; // sampleDefaultMemLimit
    const SAMPLE_POD_MEM_REQUEST: i64 = STANDARD / 4; // sampleDefaultPodMemRequest
    const SAMPLE_POD_MEM_LIMIT: i64 = 1000 + STANDARD / 4; // sampleDefaultPodMemLimit
    const G: i64 = 1_000_000_000; // "1G"
    const MI: i64 = 1 << 20;
    const GI: i64 = 1 << 30;
    const TI: i64 = 1 << 40;

    /// A container with memory/cpu requests and limits (bytes, millicores).
    fn c(
        name: &str,
        (req_mem, req_cpu): (Option<i64>, Option<i64>),
        (lim_mem, lim_cpu): (Option<i64>, Option<i64>),
    ) -> ContainerResources {
        ContainerResources {
            name: name.into(),
            requests_memory_bytes: req_mem,
            requests_cpu_milli: req_cpu,
            limits_memory_bytes: lim_mem,
            limits_cpu_milli: lim_cpu,
            ..Default::default()
        }
    }

    fn empty(name: &str) -> ContainerResources {
        c(name, (None, None), (None, None))
    }

    fn sidecar(container: ContainerResources) -> ContainerResources {
        ContainerResources {
            sidecar: true,
            ..container
        }
    }

    fn pod(containers: Vec<ContainerResources>) -> PodSpecLite {
        PodSpecLite {
            containers,
            ..Default::default()
        }
    }

    fn with_init(mut p: PodSpecLite, init: Vec<ContainerResources>) -> PodSpecLite {
        p.init_containers = init;
        p
    }

    /// A pod with pod-level requests and limits (memory bytes, cpu millicores).
    fn pod_level(
        (req_mem, req_cpu): (Option<i64>, Option<i64>),
        (lim_mem, lim_cpu): (Option<i64>, Option<i64>),
        containers: Vec<ContainerResources>,
    ) -> PodSpecLite {
        PodSpecLite {
            resources: Some(PodLevelResources {
                requests_memory_bytes: req_mem,
                requests_cpu_milli: req_cpu,
                limits_memory_bytes: lim_mem,
                limits_cpu_milli: lim_cpu,
            }),
            ..pod(containers)
        }
    }

    /// Checks every container of `p` (init containers first, as the Go test iterates) against
    /// the Go test's range `lo..=hi` and this port's exact value.
    fn check(case: &str, p: &PodSpecLite, capacity: i64, want: &[(&str, i64, i64, i64)]) {
        assert_eq!(
            want.len(),
            p.init_containers.len() + p.containers.len(),
            "{case}: every container is checked"
        );
        for &(name, lo, hi, exact) in want {
            let container = p
                .init_containers
                .iter()
                .chain(&p.containers)
                .find(|c| c.name == name)
                .unwrap();
            let got = container_oom_score_adj(p, container, capacity);
            assert!(
                (lo..=hi).contains(&got),
                "{case}/{name}: {got} not in the Go test's range {lo}..={hi}"
            );
            assert_eq!(got, exact, "{case}/{name}");
        }
    }

    #[test]
    fn get_container_oom_score_adjust_single_container() {
        // TestGetContainerOOMScoreAdjust: the classic single-container pods.
        let cases = [
            (
                "cpu-limit",
                pod(vec![c("cpu-limit", (None, None), (None, Some(10_000)))]),
                4_000_000_000,
                (999, 999, 999),
            ),
            (
                "memory-limit-cpu-request",
                pod(vec![c(
                    "memory-limit-cpu-request",
                    (None, Some(0)),
                    (Some(10 * G), None),
                )]),
                8_000_000_000,
                (999, 999, 999),
            ),
            (
                "zero-memory-limit",
                pod(vec![c("zero-memory-limit", (None, None), (Some(0), None))]),
                7_230_457_451,
                (1000, 1000, 1000),
            ),
            (
                "no-request-limit",
                pod(vec![empty("no-request-limit")]),
                4_000_000_000,
                (1000, 1000, 1000),
            ),
            (
                "equal-request-limit-cpu-memory",
                pod(vec![c(
                    "equal-request-limit-cpu-memory",
                    (Some(10 * G), Some(5)),
                    (Some(10 * G), Some(5)),
                )]),
                123_456_789,
                (-997, -997, -997),
            ),
            (
                "cpu-unlimited-memory-limited-with-requests",
                pod(vec![c(
                    "cpu-unlimited-memory-limited-with-requests",
                    (Some(STANDARD / 2), Some(5)),
                    (Some(10 * G), None),
                )]),
                STANDARD,
                (495, 505, 500),
            ),
            (
                "request-no-limit",
                pod(vec![c(
                    "request-no-limit",
                    (Some(STANDARD - 1), Some(5)),
                    (None, None),
                )]),
                STANDARD,
                (3, 3, 3),
            ),
        ];
        for (case, p, capacity, (lo, hi, exact)) in cases {
            check(case, &p, capacity, &[(case, lo, hi, exact)]);
        }
    }

    #[test]
    fn get_container_oom_score_adjust_critical() {
        // TestGetContainerOOMScoreAdjust: cluster-critical and node-critical pods.
        let mut cluster = pod(vec![empty("cluster-critical")]);
        cluster.priority = Some(2_000_000_000);
        cluster.priority_class_name = Some("system-cluster-critical".into());
        check(
            "cluster-critical",
            &cluster,
            4_000_000_000,
            &[("cluster-critical", 1000, 1000, 1000)],
        );

        let mut node = pod(vec![empty("node-critical")]);
        node.priority = Some(2_000_001_000);
        node.priority_class_name = Some(SYSTEM_NODE_CRITICAL.into());
        check(
            "node-critical",
            &node,
            4_000_000_000,
            &[("node-critical", -997, -997, -997)],
        );

        // The older policy_test.go "critical" pod (priority 2000000000, no class) expected
        // -997 from kubelets that protected every critical pod; current ones give it 1000.
        let mut old = pod(vec![empty("critical")]);
        old.priority = Some(2_000_000_000);
        assert!(is_critical_pod(&old) && !is_node_critical_pod(&old));
        check(
            "critical (current policy)",
            &old,
            4_000_000_000,
            &[("critical", 1000, 1000, 1000)],
        );
    }

    #[test]
    fn get_container_oom_score_adjust_init_and_sidecars() {
        // TestGetContainerOOMScoreAdjust: the burstable-* pods with init and sidecar containers.
        let main = || {
            c(
                "main-1",
                (Some(SAMPLE_MEM_REQUEST), None),
                (Some(SAMPLE_MEM_LIMIT), None),
            )
        };
        let init = || {
            c(
                "init-container",
                (Some(SAMPLE_MEM_REQUEST), None),
                (Some(SAMPLE_MEM_LIMIT), None),
            )
        };
        let side = |name: &str, request: i64| {
            sidecar(c(
                name,
                (Some(request), None),
                (Some(SAMPLE_MEM_LIMIT), None),
            ))
        };

        let unique = pod(vec![c(
            "burstable-unique-container",
            (Some(SAMPLE_MEM_REQUEST), None),
            (Some(SAMPLE_MEM_LIMIT), None),
        )]);
        check(
            "burstable-unique-container-pod",
            &unique,
            STANDARD,
            &[("burstable-unique-container", 875, 880, 875)],
        );

        let mixed = with_init(pod(vec![main()]), vec![init()]);
        check(
            "burstable-mixed-unique-main-container-pod",
            &mixed,
            STANDARD,
            &[("init-container", 875, 880, 875), ("main-1", 875, 880, 875)],
        );

        let small = with_init(
            pod(vec![main()]),
            vec![init(), side("sidecar-small-container", STANDARD / 20)],
        );
        check(
            "burstable-mixed-multi-container-small-sidecar-pod",
            &small,
            STANDARD,
            &[
                ("init-container", 875, 880, 875),
                ("sidecar-small-container", 875, 875, 875),
                ("main-1", 875, 875, 875),
            ],
        );

        let same = with_init(
            pod(vec![main()]),
            vec![init(), side("sidecar-container", SAMPLE_MEM_REQUEST)],
        );
        check(
            "burstable-mixed-multi-container-sample-request-pod",
            &same,
            STANDARD,
            &[
                ("init-container", 875, 880, 875),
                ("sidecar-container", 875, 875, 875),
                ("main-1", 875, 875, 875),
            ],
        );

        let big = with_init(
            pod(vec![main()]),
            vec![init(), side("sidecar-big-container", STANDARD / 2)],
        );
        check(
            "burstable-mixed-multi-container-big-sidecar-container-pod",
            &big,
            STANDARD,
            &[
                ("init-container", 875, 880, 875),
                ("sidecar-big-container", 500, 500, 500),
                ("main-1", 875, 875, 875),
            ],
        );
    }

    #[test]
    fn get_container_oom_score_adjust_pod_level_resources() {
        // TestGetContainerOOMScoreAdjust: the *-pod-resources-* pods (PodLevelResources on),
        // on a 4000000000-byte node.
        const CAP: i64 = 4_000_000_000;
        let guaranteed_pod = |containers| {
            pod_level(
                (Some(SAMPLE_POD_MEM_REQUEST), Some(5)),
                (Some(SAMPLE_POD_MEM_REQUEST), Some(5)),
                containers,
            )
        };
        let burstable_pod = |containers| {
            pod_level(
                (Some(SAMPLE_POD_MEM_REQUEST), Some(5)),
                (Some(SAMPLE_POD_MEM_LIMIT), Some(5)),
                containers,
            )
        };
        let guaranteed_container = |name: &str| {
            c(
                name,
                (Some(SAMPLE_MEM_REQUEST), Some(5)),
                (Some(SAMPLE_MEM_REQUEST), Some(5)),
            )
        };

        check(
            "guaranteed-pod-resources-no-container-resources",
            &guaranteed_pod(vec![
                empty("no-request-limit-1"),
                empty("no-request-limit-2"),
            ]),
            CAP,
            &[
                ("no-request-limit-1", -997, -997, -997),
                ("no-request-limit-2", -997, -997, -997),
            ],
        );
        check(
            "guaranteed-pod-resources-equal-container-resources",
            &guaranteed_pod(vec![
                guaranteed_container("guaranteed-container-1"),
                guaranteed_container("guaranteed-container-2"),
            ]),
            CAP,
            &[
                ("guaranteed-container-1", -997, -997, -997),
                ("guaranteed-container-2", -997, -997, -997),
            ],
        );
        check(
            "guaranteed-pod-resources-unequal-container-requests",
            &guaranteed_pod(vec![
                c(
                    "burstable-container",
                    (Some(SAMPLE_MEM_REQUEST), Some(3)),
                    (Some(SAMPLE_MEM_LIMIT), Some(5)),
                ),
                empty("best-effort-container"),
            ]),
            CAP,
            &[
                ("burstable-container", -997, -997, -997),
                ("best-effort-container", -997, -997, -997),
            ],
        );
        check(
            "burstable-pod-resources-no-container-resources",
            &burstable_pod(vec![
                empty("no-request-limit-1"),
                empty("no-request-limit-2"),
            ]),
            CAP,
            &[
                ("no-request-limit-1", 750, 750, 750),
                ("no-request-limit-2", 750, 750, 750),
            ],
        );
        check(
            "burstable-pod-resources-equal-container-requests",
            &burstable_pod(vec![
                guaranteed_container("guaranteed-container-1"),
                guaranteed_container("guaranteed-container-2"),
            ]),
            CAP,
            &[
                ("guaranteed-container-1", 750, 750, 750),
                ("guaranteed-container-2", 750, 750, 750),
            ],
        );
        check(
            "burstable-pod-resources-unequal-container-requests",
            &burstable_pod(vec![
                c(
                    "burstable-container",
                    (Some(SAMPLE_MEM_REQUEST), Some(3)),
                    (Some(SAMPLE_MEM_REQUEST), Some(5)),
                ),
                empty("best-effort-container"),
            ]),
            CAP,
            &[
                ("burstable-container", 625, 625, 625),
                ("best-effort-container", 875, 875, 875),
            ],
        );
        check(
            "burstable-pod-resources-no-container-resources-with-sidecar",
            &with_init(
                burstable_pod(vec![empty("no-request-limit")]),
                vec![sidecar(empty("no-request-limit-sidecar"))],
            ),
            CAP,
            &[
                ("no-request-limit", 750, 750, 750),
                ("no-request-limit-sidecar", 750, 750, 750),
            ],
        );
        let burstable_container = |name: &str| {
            c(
                name,
                (Some(SAMPLE_MEM_REQUEST), Some(5)),
                (Some(SAMPLE_MEM_LIMIT), Some(5)),
            )
        };
        check(
            "burstable-pod-resources-equal-container-requests-with-sidecar",
            &with_init(
                burstable_pod(vec![burstable_container("burstable-container")]),
                vec![sidecar(burstable_container("burstable-sidecar"))],
            ),
            CAP,
            &[
                ("burstable-container", 750, 750, 750),
                ("burstable-sidecar", 750, 750, 750),
            ],
        );
        let limited = |name: &str, request: i64| {
            c(
                name,
                (Some(request), Some(5)),
                (Some(SAMPLE_POD_MEM_LIMIT), Some(5)),
            )
        };
        check(
            "burstable-pod-resources-unequal-container-requests-with-sidecar",
            &with_init(
                pod_level(
                    (Some(2_000_000_000), Some(5)),
                    (Some(SAMPLE_POD_MEM_LIMIT), Some(5)),
                    vec![
                        limited("burstable-container-1", 1_000_000_000),
                        limited("burstable-container-2", 500_000_000),
                    ],
                ),
                vec![sidecar(limited("burstable-sidecar", 200_000_000))],
            ),
            CAP,
            &[
                ("burstable-container-1", 725, 725, 725),
                ("burstable-container-2", 850, 850, 850),
                ("burstable-sidecar", 850, 850, 850),
            ],
        );
    }

    #[test]
    fn get_container_oom_score_adjust_dra_disabled() {
        // TestGetContainerOOMScoreAdjust "burstable-pod-with-dra-disabled": with the
        // DRANodeAllocatableResources gate off the claim is ignored: 1000 - 1000*500Mi/4GB.
        let p = pod(vec![c("c1", (Some(500 * MI), None), (None, None))]);
        check(
            "burstable-pod-with-dra-disabled",
            &p,
            4_000_000_000,
            &[("c1", 869, 869, 869)],
        );
    }

    #[test]
    fn get_container_oom_score_adjust_tie_break_gate_off() {
        // TestGetContainerOOMScoreAdjustTieBreak, the `gateOff` values (the released formula)
        // of the cases that need no DRA claim.
        let unlimited = |request| pod(vec![c("c", (Some(request), None), (None, None))]);
        let bounded = |request| pod(vec![c("c", (Some(request), None), (Some(request), None))]);
        let cases = [
            (
                "16Gi node, 500Mi unlimited",
                16 * GI,
                unlimited(500 * MI),
                970,
            ),
            (
                "16Gi node, 500Mi request equals limit",
                16 * GI,
                bounded(500 * MI),
                970,
            ),
            (
                "1Ti node, 50Mi unlimited is below the floor",
                TI,
                unlimited(50 * MI),
                999,
            ),
            ("1Ti node, 500Mi unlimited", TI, unlimited(500 * MI), 999),
            (
                "1Ti node, 4Gi unlimited hits the nudge cap",
                TI,
                unlimited(4 * GI),
                997,
            ),
            ("1Ti node, 16Gi unlimited", TI, unlimited(16 * GI), 985),
            (
                "1Ti node, 500Mi request equals limit",
                TI,
                bounded(500 * MI),
                999,
            ),
            (
                "4Ti node, 500Mi unlimited",
                4 * TI,
                unlimited(500 * MI),
                999,
            ),
            ("4Ti node, 64Gi unlimited", 4 * TI, unlimited(64 * GI), 985),
        ];
        for (case, capacity, p, want) in cases {
            check(case, &p, capacity, &[("c", want, want, want)]);
        }

        let sidecar_pod = with_init(
            pod(vec![
                c(
                    "small-bounded",
                    (Some(50 * MI), None),
                    (Some(50 * MI), None),
                ),
                c("large-unbounded", (Some(16 * GI), None), (None, None)),
            ]),
            vec![sidecar(c("sidecar", (Some(50 * MI), None), (None, None)))],
        );
        let side = &sidecar_pod.init_containers[0];
        assert_eq!(
            container_oom_score_adj(&sidecar_pod, side, TI),
            999,
            "1Ti node, sidecar capped at the highest regular container"
        );

        // Burstable through the container cpu request; memory bounded at the pod level only.
        let pod_level_pod = |limit| {
            pod_level(
                (Some(2 * GI), None),
                (Some(limit), None),
                vec![c("c", (None, Some(100)), (None, None))],
            )
        };
        for (case, limit) in [
            (
                "1Ti node, pod-level limit above the container's share",
                4 * GI,
            ),
            (
                "1Ti node, pod-level limit equal to the container's share",
                2 * GI,
            ),
        ] {
            check(case, &pod_level_pod(limit), TI, &[("c", 999, 999, 999)]);
        }
    }

    // The tests below are not from policy_test.go.

    #[test]
    fn qos_compares_sums_not_containers() {
        let guaranteed = c("a", (Some(100), Some(100)), (Some(100), Some(100)));
        assert_eq!(
            compute_pod_qos(&pod(vec![guaranteed.clone()])),
            Qos::Guaranteed
        );
        // Requests 50+150 and limits 100+100 per resource: the sums match, so Guaranteed.
        let lopsided = pod(vec![
            c("a", (Some(50), Some(50)), (Some(100), Some(100))),
            c("b", (Some(150), Some(150)), (Some(100), Some(100))),
        ]);
        assert_eq!(compute_pod_qos(&lopsided), Qos::Guaranteed);
        // Only memory limited: Burstable (helpers_test.go's "guaranteed-*" pods).
        let memory_only = c("a", (Some(100), None), (Some(100), None));
        assert_eq!(compute_pod_qos(&pod(vec![memory_only])), Qos::Burstable);
        // An init container without limits spoils Guaranteed.
        let with_plain_init = with_init(
            pod(vec![guaranteed]),
            vec![c("i", (Some(1), None), (None, None))],
        );
        assert_eq!(compute_pod_qos(&with_plain_init), Qos::Burstable);
        // Zero quantities do not count.
        let zeros = c("a", (Some(0), Some(0)), (Some(0), Some(0)));
        assert_eq!(compute_pod_qos(&pod(vec![zeros])), Qos::BestEffort);
        // Empty pod-level resources win over container resources.
        let mut p = pod(vec![c("a", (Some(1), Some(1)), (Some(1), Some(1)))]);
        p.resources = Some(PodLevelResources::default());
        assert_eq!(compute_pod_qos(&p), Qos::BestEffort);
    }

    #[test]
    fn status_qos_class_wins() {
        let mut p = pod(vec![empty("a")]);
        p.status_qos_class = Some(Qos::Burstable);
        assert_eq!(pod_qos(&p), Qos::Burstable);
        assert_eq!(container_oom_score_adj(&p, &p.containers[0], STANDARD), 999);
    }

    #[test]
    fn critical_pods() {
        let mut p = pod(vec![empty("a")]);
        assert!(!is_critical_pod(&p));
        p.static_pod = true;
        assert!(is_critical_pod(&p) && !is_node_critical_pod(&p));
        p.priority_class_name = Some(SYSTEM_NODE_CRITICAL.into());
        assert!(is_node_critical_pod(&p));
        assert_eq!(
            container_oom_score_adj(&p, &p.containers[0], STANDARD),
            -997
        );
        let mut m = pod(vec![empty("a")]);
        m.mirror_pod = true;
        assert!(is_critical_pod(&m));
        assert!(is_critical_priority(2_000_000_000) && !is_critical_priority(1_999_999_999));
        // A node-critical class name without critical priority or static/mirror is not enough.
        let mut named = pod(vec![empty("a")]);
        named.priority_class_name = Some(SYSTEM_NODE_CRITICAL.into());
        assert!(!is_node_critical_pod(&named));
    }

    #[test]
    fn sidecar_flag_counts_only_on_init_containers() {
        // A regular container marked sidecar is not capped: isSidecarContainer looks it up
        // among the init containers by name.
        let p = pod(vec![
            sidecar(c("odd", (Some(STANDARD / 20), None), (None, None))),
            c("big", (Some(STANDARD / 2), None), (None, None)),
        ]);
        assert_eq!(container_oom_score_adj(&p, &p.containers[0], STANDARD), 950);
    }

    #[test]
    fn request_sums_follow_get_resource_request_quantity() {
        // Containers 100 + sidecar 50 = 150; a classic init container of 300 (+ the 50 of the
        // sidecar started before it) makes the peak 350.
        let mut p = with_init(
            pod(vec![c("app", (Some(100), None), (None, None))]),
            vec![
                sidecar(c("proxy", (Some(50), None), (None, None))),
                c("migrate", (Some(300), None), (None, None)),
            ],
        );
        assert_eq!(pod_memory_request_bytes(&p), 350);
        p.overhead_memory_bytes = Some(7);
        assert_eq!(pod_memory_request_bytes(&p), 357);
        // The overhead is added only to a non-zero total.
        let mut none = pod(vec![empty("a")]);
        none.overhead_memory_bytes = Some(7);
        assert_eq!(pod_memory_request_bytes(&none), 0);
        // Ephemeral storage sums the same way.
        let mut e = pod(vec![ContainerResources {
            requests_ephemeral_storage_bytes: Some(10),
            ..empty("a")
        }]);
        e.overhead_ephemeral_storage_bytes = Some(1);
        assert_eq!(pod_ephemeral_storage_request_bytes(&e), 11);
        // Pod-level resources replace container requests, and have no ephemeral storage.
        e.resources = Some(PodLevelResources {
            requests_memory_bytes: Some(1000),
            ..Default::default()
        });
        assert_eq!(pod_memory_request_bytes(&e), 1000);
        assert_eq!(pod_ephemeral_storage_request_bytes(&e), 0);
        // Pod-level limits alone still skip the containers: memory request 0.
        let limits_only = pod_level(
            (None, None),
            (Some(1000), None),
            vec![c("a", (Some(5), None), (None, None))],
        );
        assert_eq!(pod_memory_request_bytes(&limits_only), 0);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let p = pod(vec![c("a", (Some(1), None), (None, None))]);
        assert_eq!(container_oom_score_adj(&p, &p.containers[0], 0), 3);
        let huge = pod(vec![c("a", (Some(i64::MAX), None), (None, None))]);
        let _ = container_oom_score_adj(&huge, &huge.containers[0], STANDARD);
        let no_containers = pod_level((Some(100), None), (None, None), vec![]);
        let lone = c("x", (Some(1), None), (None, None));
        let _ = container_oom_score_adj(&no_containers, &lone, STANDARD);
        assert_eq!(
            remaining_pod_memory_request_per_container(&no_containers),
            0
        );
    }
}
