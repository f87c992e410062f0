//! The kubelet's own test vectors for its eviction ranking (pkg/kubelet/eviction/helpers_test.go,
//! eviction_manager_test.go), run against the port in the parent module.

use super::*;

const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;
// helpers_test.go / eviction_manager_test.go: lowPriority, defaultPriority, highPriority.
const LOW: i32 = -1;
const DEFAULT: i32 = 0;
const HIGH: i32 = 1;
// The filesystems every helpers_test.go disk test measures.
const ALL_FS: &[FsStatsType] = &[
    FsStatsType::Root,
    FsStatsType::Logs,
    FsStatsType::LocalVolumeSource,
];

/// `newPod(name, priority, ...)`: the name is also the uid.
fn pod(name: &str, priority: i32) -> RankedPod {
    RankedPod {
        namespace: String::new(),
        name: name.into(),
        uid: name.into(),
        priority: Some(priority),
        ..Default::default()
    }
}

/// A pod with a memory request (bytes) and `newPodMemoryStats(pod, workingSet)`.
fn mem_pod(name: &str, priority: i32, request: u64, working_set: u64) -> RankedPod {
    RankedPod {
        memory_request_bytes: Some(request as i64),
        stats: Some(PodStats {
            working_set_bytes: Some(working_set),
            ..Default::default()
        }),
        ..pod(name, priority)
    }
}

/// A pod with an ephemeral-storage request and `newPodDiskStats(pod, rootFsUsed, logsUsed,
/// perLocalVolumeUsed)` (one container; `volume` counts only when the pod has the
/// "local-volume" emptyDir, which `volumes` says).
fn disk_pod(
    name: &str,
    priority: i32,
    request: u64,
    (root, logs, volume): (u64, u64, u64),
    volumes: bool,
) -> RankedPod {
    let fs = |b| FsUsage {
        used_bytes: b,
        inodes_used: 0,
    };
    RankedPod {
        ephemeral_storage_request_bytes: Some(request as i64),
        stats: Some(PodStats {
            rootfs: fs(root),
            logs: fs(logs),
            local_volumes: fs(if volumes { volume } else { 0 }),
            ..Default::default()
        }),
        ..pod(name, priority)
    }
}

/// A pod with `newPodInodeStats(pod, rootFsInodesUsed, logsInodesUsed,
/// perLocalVolumeInodesUsed)` and the "local-volume" emptyDir.
fn inode_pod(name: &str, priority: i32, (root, logs, volume): (u64, u64, u64)) -> RankedPod {
    let fs = |n| FsUsage {
        used_bytes: 0,
        inodes_used: n,
    };
    RankedPod {
        stats: Some(PodStats {
            rootfs: fs(root),
            logs: fs(logs),
            local_volumes: fs(volume),
            ..Default::default()
        }),
        ..pod(name, priority)
    }
}

/// A pod with `newPodProcessStats(pod, num)`.
fn pid_pod(name: &str, priority: i32, processes: u64) -> RankedPod {
    RankedPod {
        stats: Some(PodStats {
            process_count: Some(processes),
            ..Default::default()
        }),
        ..pod(name, priority)
    }
}

fn names(pods: &[RankedPod]) -> Vec<&str> {
    pods.iter().map(|p| p.name.as_str()).collect()
}

/// `orderedBy(cmps...).Sort(pods)` on a copy, returning the names.
fn sorted(mut pods: Vec<RankedPod>, cmps: &[Cmp<'_>]) -> Vec<String> {
    ordered_by(&mut pods, cmps);
    pods.into_iter().map(|p| p.name).collect()
}

#[test]
fn ordered_by_exceeds_request_memory() {
    // TestOrderedByExceedsRequestMemory.
    let below = mem_pod("below-requests", -1, 200 * MI, 199 * MI);
    let exceeds = mem_pod("exceeds-requests", 1, 100 * MI, 101 * MI);
    assert_eq!(
        sorted(vec![below, exceeds], &[&cmp_exceed_memory_requests]),
        ["exceeds-requests", "below-requests"]
    );
}

#[test]
fn ordered_by_exceeds_request_disk() {
    // TestOrderedByExceedsRequestDisk: 199Mi used of 200Mi requested vs 101Mi of 100Mi.
    let below = disk_pod(
        "below-requests",
        -1,
        200 * MI,
        (100 * MI, 99 * MI, 0),
        false,
    );
    let exceeds = disk_pod(
        "exceeds-requests",
        1,
        100 * MI,
        (90 * MI, 11 * MI, 0),
        false,
    );
    let cmp = |a: &RankedPod, b: &RankedPod| {
        cmp_exceed_disk_requests(a, b, ALL_FS, DiskResource::EphemeralStorage)
    };
    assert_eq!(
        sorted(vec![below, exceeds], &[&cmp]),
        ["exceeds-requests", "below-requests"]
    );
}

#[test]
fn ordered_by_priority() {
    // TestOrderedByPriority.
    let pods = vec![
        pod("high-priority", 12534),
        pod("medium-priority", 1),
        pod("low-priority", -134),
    ];
    assert_eq!(
        sorted(pods, &[&cmp_priority]),
        ["low-priority", "medium-priority", "high-priority"]
    );
}

#[test]
fn ordered_by_disk() {
    // TestOrderedbyDisk: the disk comparator alone, usage minus ephemeral-storage request.
    let pods = vec![
        disk_pod(
            "best-effort-high",
            DEFAULT,
            0,
            (50 * MI, 100 * MI, 150 * MI),
            true,
        ), // 300Mi
        disk_pod(
            "best-effort-low",
            DEFAULT,
            0,
            (25 * MI, 25 * MI, 50 * MI),
            true,
        ), // 100Mi
        disk_pod(
            "burstable-high",
            DEFAULT,
            100 * MI,
            (150 * MI, 150 * MI, 50 * MI),
            true,
        ), // 250Mi
        disk_pod(
            "burstable-low",
            DEFAULT,
            100 * MI,
            (25 * MI, 35 * MI, 50 * MI),
            true,
        ), // 10Mi
        disk_pod(
            "guaranteed-high",
            DEFAULT,
            400 * MI,
            (225 * MI, 100 * MI, 50 * MI),
            true,
        ), // -25Mi
        disk_pod(
            "guaranteed-low",
            DEFAULT,
            400 * MI,
            (25 * MI, 45 * MI, 50 * MI),
            true,
        ), // -280Mi
    ];
    let cmp = |a: &RankedPod, b: &RankedPod| cmp_disk(a, b, ALL_FS, DiskResource::EphemeralStorage);
    assert_eq!(
        sorted(pods, &[&cmp]),
        [
            "best-effort-high",
            "burstable-high",
            "best-effort-low",
            "burstable-low",
            "guaranteed-high",
            "guaranteed-low"
        ]
    );
}

#[test]
fn ordered_by_inodes() {
    // TestOrderedbyInodes.
    let pods = vec![
        inode_pod("low", DEFAULT, (50_000, 100_000, 50_000)), // 200000
        inode_pod("medium", DEFAULT, (100_000, 150_000, 50_000)), // 300000
        inode_pod("high", DEFAULT, (200_000, 150_000, 50_000)), // 400000
    ];
    let cmp = |a: &RankedPod, b: &RankedPod| cmp_disk(a, b, ALL_FS, DiskResource::Inodes);
    assert_eq!(sorted(pods, &[&cmp]), ["high", "medium", "low"]);
}

#[test]
fn ordered_by_priority_disk() {
    // TestOrderedByPriorityDisk: the full rankDiskPressureFunc order, input reversed.
    let mut pods = vec![
        disk_pod(
            "below-requests-high-priority-low-usage",
            HIGH,
            GI,
            (100 * MI, 60 * MI, 40 * MI),
            true,
        ),
        disk_pod(
            "below-requests-high-priority-high-usage",
            HIGH,
            GI,
            (250 * MI, 500 * MI, 50 * MI),
            true,
        ),
        disk_pod(
            "below-requests-low-priority-low-usage",
            LOW,
            GI,
            (50 * MI, 100 * MI, 50 * MI),
            true,
        ),
        disk_pod(
            "below-requests-low-priority-high-usage",
            LOW,
            GI,
            (500 * MI, 200 * MI, 100 * MI),
            true,
        ),
        disk_pod(
            "above-requests-high-priority-low-usage",
            HIGH,
            100 * MI,
            (90 * MI, 50 * MI, 10 * MI),
            true,
        ),
        disk_pod(
            "above-requests-high-priority-high-usage",
            HIGH,
            100 * MI,
            (200 * MI, 150 * MI, 250 * MI),
            true,
        ),
        disk_pod(
            "above-requests-low-priority-low-usage",
            LOW,
            0,
            (10 * MI, 10 * MI, 30 * MI),
            true,
        ),
        disk_pod(
            "above-requests-low-priority-high-usage",
            LOW,
            0,
            (200 * MI, 100 * MI, 200 * MI),
            true,
        ),
    ];
    rank_disk_pressure(&mut pods, ALL_FS, DiskResource::EphemeralStorage);
    assert_eq!(
        names(&pods),
        [
            "above-requests-low-priority-high-usage",
            "above-requests-low-priority-low-usage",
            "above-requests-high-priority-high-usage",
            "above-requests-high-priority-low-usage",
            "below-requests-low-priority-high-usage",
            "below-requests-low-priority-low-usage",
            "below-requests-high-priority-high-usage",
            "below-requests-high-priority-low-usage",
        ]
    );
}

#[test]
fn ordered_by_priority_inodes() {
    // TestOrderedByPriorityInodes: orderedBy(priority, disk(inodes)), input reversed.
    let pods = vec![
        inode_pod("high-priority-low-usage", HIGH, (10_000, 40_000, 100_000)), // 150000
        inode_pod("high-priority-high-usage", HIGH, (150_000, 150_000, 50_000)), // 350000
        inode_pod("low-priority-low-usage", LOW, (60_000, 30_000, 10_000)),    // 100000
        inode_pod("low-priority-high-usage", LOW, (50_000, 100_000, 250_000)), // 400000
    ];
    let disk = |a: &RankedPod, b: &RankedPod| cmp_disk(a, b, ALL_FS, DiskResource::Inodes);
    assert_eq!(
        sorted(pods, &[&cmp_priority, &disk]),
        [
            "low-priority-high-usage",
            "low-priority-low-usage",
            "high-priority-high-usage",
            "high-priority-low-usage"
        ]
    );
}

#[test]
fn ordered_by_memory() {
    // TestOrderedByMemory: the memory comparator alone.
    let pods = vec![
        mem_pod("best-effort-high", DEFAULT, 0, 500 * MI), // 500 over
        mem_pod("best-effort-low", DEFAULT, 0, 300 * MI),  // 300 over
        mem_pod("burstable-high", DEFAULT, 100 * MI, 800 * MI), // 700 over
        mem_pod("burstable-low", DEFAULT, 100 * MI, 300 * MI), // 200 over
        mem_pod("guaranteed-high", DEFAULT, GI, 800 * MI), // -224
        mem_pod("guaranteed-low", DEFAULT, GI, 200 * MI),  // -824
    ];
    assert_eq!(
        sorted(pods, &[&cmp_memory]),
        [
            "burstable-high",
            "best-effort-high",
            "best-effort-low",
            "burstable-low",
            "guaranteed-high",
            "guaranteed-low"
        ]
    );
}

#[test]
fn ordered_by_priority_memory() {
    // TestOrderedByPriorityMemory: the full rankMemoryPressure order, input reversed.
    let mut pods = vec![
        mem_pod("below-requests-high-priority-low-usage", HIGH, GI, 200 * MI),
        mem_pod(
            "below-requests-high-priority-high-usage",
            HIGH,
            GI,
            800 * MI,
        ),
        mem_pod("below-requests-low-priority-low-usage", LOW, GI, 200 * MI),
        mem_pod("below-requests-low-priority-high-usage", LOW, GI, 800 * MI),
        mem_pod(
            "above-requests-high-priority-low-usage",
            HIGH,
            100 * MI,
            150 * MI,
        ),
        mem_pod(
            "above-requests-high-priority-high-usage",
            HIGH,
            100 * MI,
            600 * MI,
        ),
        mem_pod("above-requests-low-priority-low-usage", LOW, 0, 50 * MI),
        mem_pod("above-requests-low-priority-high-usage", LOW, 0, 500 * MI),
    ];
    rank_memory_pressure(&mut pods);
    assert_eq!(
        names(&pods),
        [
            "above-requests-low-priority-high-usage",
            "above-requests-low-priority-low-usage",
            "above-requests-high-priority-high-usage",
            "above-requests-high-priority-low-usage",
            "below-requests-low-priority-high-usage",
            "below-requests-low-priority-low-usage",
            "below-requests-high-priority-high-usage",
            "below-requests-high-priority-low-usage",
        ]
    );
}

#[test]
fn ordered_by_priority_process() {
    // TestOrderedByPriorityProcess: rankPIDPressure, input reversed.
    let mut pods = vec![
        pid_pod("high-priority-low-usage", HIGH, 5),
        pid_pod("high-priority-high-usage", HIGH, 20),
        pid_pod("low-priority-low-usage", LOW, 6),
        pid_pod("low-priority-high-usage", LOW, 20),
    ];
    rank_pid_pressure(&mut pods);
    assert_eq!(
        names(&pods),
        [
            "low-priority-high-usage",
            "low-priority-low-usage",
            "high-priority-high-usage",
            "high-priority-low-usage"
        ]
    );
}

#[test]
fn sort_by_eviction_priority_cases() {
    // TestSortByEvictionPriority.
    let mut empty: Vec<&str> = vec![];
    sort_by_eviction_priority(&mut empty);
    assert!(empty.is_empty(), "empty threshold list");

    let mut v = vec!["nodefs.available", "pid.available", "memory.available"];
    sort_by_eviction_priority(&mut v);
    assert_eq!(
        v,
        ["memory.available", "nodefs.available", "pid.available"],
        "memory first"
    );

    let mut v = vec![
        "nodefs.available",
        "pid.available",
        "allocatableMemory.available",
    ];
    sort_by_eviction_priority(&mut v);
    assert_eq!(
        v,
        [
            "allocatableMemory.available",
            "nodefs.available",
            "pid.available"
        ],
        "allocatable memory first"
    );
}

#[test]
fn get_reclaimable_threshold() {
    // TestGetReclaimableThreshold: the sorted list has a reclaimable threshold.
    let mut v = vec![
        "allocatableMemory.available",
        "memory.available",
        "imagefs.available",
        "nodefs.available",
        "containerfs.available",
    ];
    sort_by_eviction_priority(&mut v);
    assert_eq!(
        reclaimable_signal(&v),
        Some(("allocatableMemory.available", "memory"))
    );
    // Not from helpers_test.go: a signal without a resource is skipped.
    assert_eq!(
        reclaimable_signal(&["swap.available", "pid.available"]),
        Some(("pid.available", "pids"))
    );
    assert_eq!(reclaimable_signal(&["swap.available"]), None);
}

// The tests below are not from helpers_test.go: they pin behaviour the Go code has but
// its tests do not exercise.

#[test]
fn pods_without_stats_come_first_in_every_ranking() {
    let no_stats = || pod("no-stats", HIGH);
    let mut mem = vec![mem_pod("hog", LOW, 0, 10 * GI), no_stats()];
    rank_memory_pressure(&mut mem);
    assert_eq!(names(&mem), ["no-stats", "hog"]);

    let mut disk = vec![disk_pod("hog", LOW, 0, (GI, GI, GI), true), no_stats()];
    rank_disk_pressure(&mut disk, ALL_FS, DiskResource::EphemeralStorage);
    assert_eq!(names(&disk), ["no-stats", "hog"]);

    // PID ranking applies priority before "no stats".
    let mut pid = vec![
        pid_pod("many", LOW, 1000),
        no_stats(),
        pid_pod("few", HIGH, 1),
    ];
    rank_pid_pressure(&mut pid);
    assert_eq!(names(&pid), ["many", "no-stats", "few"]);
}

#[test]
fn stats_without_memory_count_as_zero_not_as_no_stats() {
    let empty_stats = RankedPod {
        stats: Some(PodStats::default()),
        ..pod("empty-stats", DEFAULT)
    };
    let mut v = vec![empty_stats, mem_pod("small", DEFAULT, 0, 1)];
    rank_memory_pressure(&mut v);
    assert_eq!(names(&v), ["small", "empty-stats"]);
}

#[test]
fn exceeding_is_strict_and_unknown_request_is_zero() {
    let at = mem_pod("at-request", LOW, 100, 100);
    let mut unknown = mem_pod("unknown-request", HIGH, 0, 1);
    unknown.memory_request_bytes = None;
    let mut v = vec![at, unknown];
    rank_memory_pressure(&mut v);
    // 1 > 0 exceeds; 100 > 100 does not, so priority never gets a say.
    assert_eq!(names(&v), ["unknown-request", "at-request"]);
}

#[test]
fn unset_priority_is_zero() {
    let mut unset = pod("unset", 0);
    unset.priority = None;
    let mut v = vec![pod("positive", 1), unset, pod("negative", -1)];
    ordered_by(&mut v, &[&cmp_priority]);
    assert_eq!(names(&v), ["negative", "unset", "positive"]);
}

#[test]
fn inode_ranking_subtracts_the_ephemeral_storage_request() {
    // `disk` subtracts GetResourceRequestQuantity(pod, ephemeral-storage) whatever it
    // measures, so a byte request lowers a pod's inode rank; `exceedDiskRequests` compares
    // inodes with the (always 0) inodes request.
    let mut big_request = inode_pod("big-request", DEFAULT, (0, 0, 300_000));
    big_request.ephemeral_storage_request_bytes = Some(250_000);
    let small = inode_pod("no-request", DEFAULT, (0, 0, 100_000));
    let mut v = vec![big_request, small];
    rank_disk_pressure(&mut v, ALL_FS, DiskResource::Inodes);
    assert_eq!(names(&v), ["no-request", "big-request"]);
}

#[test]
fn images_measure_nothing() {
    let a = disk_pod("a", DEFAULT, 0, (GI, GI, GI), true);
    let b = disk_pod("b", DEFAULT, 0, (0, 0, 0), true);
    let mut v = vec![b, a];
    rank_disk_pressure(
        &mut v,
        &[FsStatsType::Images],
        DiskResource::EphemeralStorage,
    );
    assert_eq!(names(&v), ["b", "a"], "all equal: input order kept");
}

#[test]
fn process_comparator_matches_go_and_is_a_total_order() {
    let mut v = vec![
        pid_pod("few", DEFAULT, 1),
        pid_pod("many", DEFAULT, 4_000_000),
    ];
    ordered_by(&mut v, &[&cmp_process]);
    // Go: process(few, many) = int(4000000 - 1) > 0, so "many" sorts first.
    assert_eq!(names(&v), ["many", "few"]);
    // Regression: counts 2^63 or more apart made Go's wrapped sign a cycle
    // (0 < a < b < 0), and sort_by panicked ("does not correctly implement a total
    // order") on a ranking of pods whose pids.current a corrupt bundle set this way.
    let (a, b) = (0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA);
    let mut v: Vec<RankedPod> = (0..40)
        .map(|i| pid_pod(&format!("p{i}"), DEFAULT, [0, a, b, u64::MAX][i % 4]))
        .collect();
    ordered_by(&mut v, &[&cmp_process]);
    let counts: Vec<u64> = v
        .iter()
        .map(|p| p.stats.and_then(|s| s.process_count).unwrap_or(0))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
}

#[test]
fn disk_rank_inputs_follow_build_signal_to_rank_func() {
    use FsStatsType::*;
    let (fs, res) = disk_rank_inputs(DiskSignal::NodeFsAvailable, false, false);
    assert_eq!(fs, [Images, Root, Logs, LocalVolumeSource]);
    assert_eq!(res, DiskResource::EphemeralStorage);
    let (fs, res) = disk_rank_inputs(DiskSignal::ContainerFsInodesFree, true, false);
    assert_eq!(fs, [Root, Images]);
    assert_eq!(res, DiskResource::Inodes);
    assert_eq!(
        disk_rank_inputs(DiskSignal::NodeFsInodesFree, true, false).0,
        [Logs, LocalVolumeSource]
    );
    assert_eq!(
        disk_rank_inputs(DiskSignal::ImageFsAvailable, true, true).0,
        [Images]
    );
    assert_eq!(
        disk_rank_inputs(DiskSignal::ContainerFsAvailable, true, true).0,
        [Logs, LocalVolumeSource, Root]
    );
    assert_eq!(DiskSignal::ImageFsInodesFree.as_str(), "imagefs.inodesFree");
}

#[test]
fn eviction_candidates_skip_critical_pods() {
    let mut static_pod = mem_pod("etcd", DEFAULT, 0, 10 * GI);
    static_pod.critical = true;
    let mut v = vec![mem_pod("app", DEFAULT, 0, GI), static_pod];
    rank_memory_pressure(&mut v);
    assert_eq!(names(&v), ["etcd", "app"]);
    let next: Vec<&str> = eviction_candidates(&v).map(|p| p.name.as_str()).collect();
    assert_eq!(next, ["app"]);
}

/// `byEvictionPriority`: memory first, then signals with a resource to reclaim, then the rest;
/// the input order is kept within each group.
#[test]
fn signals_with_a_resource_sort_before_those_without() {
    let mut v = [
        "made.up",
        "pid.available",
        "nodefs.available",
        "memory.available",
    ];
    sort_by_eviction_priority(&mut v);
    assert_eq!(
        v,
        [
            "memory.available",
            "pid.available",
            "nodefs.available",
            "made.up"
        ]
    );
}
