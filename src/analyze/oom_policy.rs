//! The kubelet's QoS class and `oom_score_adj` policy, ported to predict what the kernel sees:
//! `ComputePodQOS` (pkg/apis/core/v1/helper/qos/qos.go, the classic sum-based version) and
//! `GetContainerOOMScoreAdjust` (pkg/kubelet/qos/policy.go), k8s-semantics §3. The inputs are
//! pod specs as the API server has them; nodescope compares the prediction with
//! `/proc/<pid>/oom_score_adj` when the cluster part of a snapshot provides the specs.

use crate::model::Qos;

/// `KubeletOOMScoreAdj`, `KubeProxyOOMScoreAdj`.
pub const KUBELET_OOM_SCORE_ADJ: i64 = -999;
/// `guaranteedOOMScoreAdj` (-998 in kubelets before 1.10-ish; -997 since).
pub const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// `besteffortOOMScoreAdj`.
pub const BESTEFFORT_OOM_SCORE_ADJ: i64 = 1000;
/// `scheduling.SystemCriticalPriority`: priority at or above it makes a pod critical.
pub const SYSTEM_CRITICAL_PRIORITY: i64 = 2_000_000_000;

/// A container's resources as its spec states them (quantities resolved to bytes / millicores).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub requests_memory: Option<i64>,
    pub requests_cpu_milli: Option<i64>,
    pub limits_memory: Option<i64>,
    pub limits_cpu_milli: Option<i64>,
    /// An init container with `restartPolicy: Always` (a sidecar).
    pub sidecar: bool,
}

/// The parts of a pod spec the policy reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodSpec {
    pub containers: Vec<ContainerSpec>,
    pub init_containers: Vec<ContainerSpec>,
    pub priority: Option<i64>,
    pub priority_class_name: Option<String>,
    /// A static or mirror pod (config source not `api`, or the mirror annotation).
    pub static_or_mirror: bool,
}

/// `IsCriticalPod`: static, mirror, or priority ≥ system-critical (pkg/kubelet/types/pod_update.go).
pub fn is_critical(pod: &PodSpec) -> bool {
    pod.static_or_mirror || pod.priority.is_some_and(|p| p >= SYSTEM_CRITICAL_PRIORITY)
}

/// `IsNodeCriticalPod`: critical and of priority class `system-node-critical`.
pub fn is_node_critical(pod: &PodSpec) -> bool {
    is_critical(pod) && pod.priority_class_name.as_deref() == Some("system-node-critical")
}

/// `ComputePodQOS`: sums over containers and init containers of positive cpu/memory requests
/// and limits; Guaranteed needs every container to limit both and the sums to match.
pub fn qos(pod: &PodSpec) -> Qos {
    let (mut req_cpu, mut req_mem, mut lim_cpu, mut lim_mem) =
        (None::<i64>, None::<i64>, None::<i64>, None::<i64>);
    let add = |acc: &mut Option<i64>, v: Option<i64>| {
        if let Some(v) = v.filter(|&v| v > 0) {
            *acc = Some(acc.unwrap_or(0) + v);
        }
    };
    let mut guaranteed = true;
    for c in pod.containers.iter().chain(&pod.init_containers) {
        add(&mut req_cpu, c.requests_cpu_milli);
        add(&mut req_mem, c.requests_memory);
        add(&mut lim_cpu, c.limits_cpu_milli);
        add(&mut lim_mem, c.limits_memory);
        let limits_both =
            c.limits_cpu_milli.is_some_and(|v| v > 0) && c.limits_memory.is_some_and(|v| v > 0);
        if !limits_both {
            guaranteed = false;
        }
    }
    let requests = [req_cpu, req_mem];
    let limits = [lim_cpu, lim_mem];
    if requests.iter().all(Option::is_none) && limits.iter().all(Option::is_none) {
        return Qos::BestEffort;
    }
    let same_keys = requests
        .iter()
        .zip(&limits)
        .all(|(r, l)| r.is_some() == l.is_some());
    if guaranteed && same_keys && requests == limits {
        Qos::Guaranteed
    } else {
        Qos::Burstable
    }
}

/// `GetContainerOOMScoreAdjust` for one container of `pod` on a node with `capacity` bytes.
pub fn container_oom_score_adj(pod: &PodSpec, container: &ContainerSpec, capacity: i64) -> i64 {
    if is_node_critical(pod) {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match qos(pod) {
        Qos::Guaranteed => return GUARANTEED_OOM_SCORE_ADJ,
        Qos::BestEffort => return BESTEFFORT_OOM_SCORE_ADJ,
        Qos::Burstable => {}
    }
    let capacity = capacity.max(1);
    let request = container.requests_memory.unwrap_or(0);
    let mut adj = 1000 - (1000 * request) / capacity;
    if container.sidecar {
        // A sidecar is never easier to kill than the smallest regular container.
        if let Some(min_req) = pod
            .containers
            .iter()
            .map(|c| c.requests_memory.unwrap_or(0))
            .min()
        {
            adj = adj.min(1000 - (1000 * min_req) / capacity);
        }
    }
    // Burstable must stay killable before Guaranteed (1000 + guaranteedOOMScoreAdj) and before
    // BestEffort (not 1000).
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        adj = 1000 + GUARANTEED_OOM_SCORE_ADJ;
    }
    if adj == BESTEFFORT_OOM_SCORE_ADJ {
        adj = BESTEFFORT_OOM_SCORE_ADJ - 1;
    }
    adj
}

#[cfg(test)]
mod tests {
    use super::*;

    // The cases of pkg/kubelet/qos/policy_test.go (TestGetContainerOOMScoreAdjust): same pods,
    // same capacities; the Go test checks ranges, these assert the exact value inside them.
    const STANDARD: i64 = 8_000_000_000;

    fn c(
        name: &str,
        rm: Option<i64>,
        rc: Option<i64>,
        lm: Option<i64>,
        lc: Option<i64>,
    ) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            requests_memory: rm,
            requests_cpu_milli: rc,
            limits_memory: lm,
            limits_cpu_milli: lc,
            sidecar: false,
        }
    }

    fn one(container: ContainerSpec) -> PodSpec {
        PodSpec {
            containers: vec![container],
            ..Default::default()
        }
    }

    fn adj_of(pod: &PodSpec, name: &str, cap: i64) -> i64 {
        let c = pod
            .containers
            .iter()
            .chain(&pod.init_containers)
            .find(|c| c.name == name)
            .unwrap();
        container_oom_score_adj(pod, c, cap)
    }

    #[test]
    fn policy_test_single_container_cases() {
        let g = 1_000_000_000i64;
        let cases: Vec<(&str, PodSpec, i64, i64, i64, i64)> = vec![
            (
                "cpu-limit",
                one(c("x", None, None, None, Some(10_000))),
                4_000_000_000,
                999,
                999,
                999,
            ),
            (
                "memory-limit-cpu-request",
                one(c("x", None, Some(0), Some(10 * g), None)),
                8_000_000_000,
                999,
                999,
                999,
            ),
            (
                "zero-memory-limit",
                one(c("x", None, None, Some(0), None)),
                7_230_457_451,
                1000,
                1000,
                1000,
            ),
            (
                "no-request-limit",
                one(c("x", None, None, None, None)),
                4_000_000_000,
                1000,
                1000,
                1000,
            ),
            (
                "equal-request-limit-cpu-memory",
                one(c("x", Some(10 * g), Some(5), Some(10 * g), Some(5))),
                123_456_789,
                -997,
                -997,
                -997,
            ),
            (
                "cpu-unlimited-memory-limited-with-requests",
                one(c("x", Some(STANDARD / 2), Some(5), Some(10 * g), None)),
                STANDARD,
                495,
                505,
                500,
            ),
            (
                "request-no-limit",
                one(c("x", Some(STANDARD - 1), Some(5), None, None)),
                STANDARD,
                3,
                3,
                3,
            ),
        ];
        for (name, pod, cap, lo, hi, exact) in cases {
            let got = container_oom_score_adj(&pod, &pod.containers[0], cap);
            assert!((lo..=hi).contains(&got), "{name}: {got} not in {lo}..={hi}");
            assert_eq!(got, exact, "{name}");
        }
    }

    #[test]
    fn policy_test_critical_pods() {
        let mut cluster = one(c("x", None, None, None, None));
        cluster.priority = Some(SYSTEM_CRITICAL_PRIORITY);
        cluster.priority_class_name = Some("system-cluster-critical".into());
        assert_eq!(
            container_oom_score_adj(&cluster, &cluster.containers[0], 4_000_000_000),
            1000,
            "cluster-critical BestEffort stays 1000"
        );
        let mut node = one(c("x", None, None, None, None));
        node.priority = Some(SYSTEM_CRITICAL_PRIORITY + 1000);
        node.priority_class_name = Some("system-node-critical".into());
        assert_eq!(
            container_oom_score_adj(&node, &node.containers[0], 4_000_000_000),
            -997
        );
    }

    #[test]
    fn policy_test_sidecar_cases() {
        let req = STANDARD / 8;
        let lim = 1000 + STANDARD / 8;
        let main = c("main-1", Some(req), None, Some(lim), None);
        let init = c("init-container", Some(req), None, Some(lim), None);
        let sidecar = |name: &str, r: i64| ContainerSpec {
            sidecar: true,
            ..c(name, Some(r), None, Some(lim), None)
        };

        let unique = one(c(
            "burstable-unique-container",
            Some(req),
            None,
            Some(lim),
            None,
        ));
        assert_eq!(adj_of(&unique, "burstable-unique-container", STANDARD), 875);

        let mixed = PodSpec {
            containers: vec![main.clone()],
            init_containers: vec![init.clone()],
            ..Default::default()
        };
        assert_eq!(adj_of(&mixed, "init-container", STANDARD), 875);
        assert_eq!(adj_of(&mixed, "main-1", STANDARD), 875);

        for (name, r, want) in [
            ("sidecar-small-container", STANDARD / 20, 875),
            ("sidecar-container", req, 875),
            ("sidecar-big-container", STANDARD / 2, 500),
        ] {
            let pod = PodSpec {
                containers: vec![main.clone()],
                init_containers: vec![init.clone(), sidecar(name, r)],
                ..Default::default()
            };
            assert_eq!(adj_of(&pod, name, STANDARD), want, "{name}");
            assert_eq!(adj_of(&pod, "main-1", STANDARD), 875);
        }
    }

    #[test]
    fn qos_compares_sums_not_containers() {
        let g = one(c("a", Some(100), Some(100), Some(100), Some(100)));
        assert_eq!(qos(&g), Qos::Guaranteed);
        let b = one(c("a", Some(50), Some(100), Some(100), Some(100)));
        assert_eq!(qos(&b), Qos::Burstable);
        // Only memory limited: not Guaranteed (the eviction tests' "guaranteed-*" pods).
        let m = one(c("a", Some(100), None, Some(100), None));
        assert_eq!(qos(&m), Qos::Burstable);
        assert_eq!(qos(&one(c("a", None, None, None, None))), Qos::BestEffort);
    }
}
