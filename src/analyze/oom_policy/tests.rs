//! The kubelet's own test vectors for its QoS and `oom_score_adj` policy (pkg/kubelet/qos/policy_test.go,
//! pkg/apis/core/v1/helper/qos/qos_test.go, pkg/kubelet/types/pod_update_test.go), run against the
//! port in the parent module.

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

/// `HasAll(memory, cpu)` over positive quantities: a zero limit is no limit.
#[test]
fn both_positive_needs_each_above_zero() {
    assert!(both_positive(Some(1), Some(1)));
    assert!(!both_positive(Some(1), Some(0)));
    assert!(!both_positive(Some(0), Some(1)));
    assert!(!both_positive(None, Some(1)));
    assert!(!both_positive(Some(1), None));
}
