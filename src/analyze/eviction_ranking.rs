//! The kubelet's pod ranking for node-pressure eviction, ported exactly from
//! `pkg/kubelet/eviction/helpers.go` (k8s-semantics §2), with the kubelet's own test vectors
//! from `helpers_test.go` as unit tests.
//!
//! nodescope needs it to answer "who goes first" on a node under pressure: the kubelet evicts
//! the first non-critical pod of this ranking (one pod per 10 s loop), while the kernel's OOM
//! killer, if memory runs out before the kubelet acts, kills the process with the highest
//! `oom_score` ([`super::oom_policy`] predicts the `oom_score_adj` part of that). The two
//! orders differ, and that difference is what explains "my Guaranteed pod was OOM-killed but
//! the BestEffort one was evicted later".
//!
//! What is mirrored:
//!
//! - `multiSorter` / `orderedBy`: comparators are applied in order and the first one that is
//!   not equal decides; the last one decides alone (`Less` is "last comparator < 0");
//! - the comparators `exceedMemoryRequests`, `priority`, `memory`, `process`,
//!   `exceedDiskRequests` and `disk`, each putting pods without stats first (`cmpBool`: true
//!   before false) and using a strict `>` for "exceeds its request";
//! - the rank functions `rankMemoryPressure`, `rankPIDPressure`, `rankDiskPressureFunc` and the
//!   per-signal filesystem choice of `buildSignalToRankFunc`;
//! - `byEvictionPriority` and `getReclaimableThreshold` (which signal is acted on first);
//! - `evictPod`'s refusal to evict critical pods.
//!
//! Sorting: Go's `sort.Sort` is not stable, so the kubelet leaves pods that every comparator
//! finds equal in no set order. Here the sort is stable: such ties keep their input order.
//! Nothing should read meaning into the relative order of tied pods.
//!
//! Quantities are compared exactly (in `i128`), as `resource.Quantity` does; usages of 2^63
//! bytes or more, which Go would wrap when converting `uint64` stats to `int64`, are out of
//! scope.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A filesystem usage as the summary API reports it (`statsapi.FsStats`), summed over the
/// containers or volumes it covers. A value the summary does not report counts as 0, as
/// `diskUsage` / `inodeUsage` count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsUsage {
    /// `UsedBytes`, in bytes.
    pub used_bytes: u64,
    /// `InodesUsed`, a count of inodes.
    pub inodes_used: u64,
}

/// The parts of a pod's summary-API stats (`statsapi.PodStats`) the rankings read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodStats {
    /// `Memory.WorkingSetBytes` of the pod cgroup, in bytes. `None` (no memory stats) counts
    /// as 0 (`memoryUsage`); it does not make the pod a "no stats" pod.
    pub working_set_bytes: Option<u64>,
    /// `ProcessStats.ProcessCount`: processes in the pod. `None` counts as 0 (`processUsage`).
    pub process_count: Option<u64>,
    /// The containers' writable layers (`Containers[].Rootfs`), summed.
    pub rootfs: FsUsage,
    /// The containers' logs (`Containers[].Logs`), summed.
    pub logs: FsUsage,
    /// The pod's local volumes, summed: the `VolumeStats` of the volumes `localVolumeNames`
    /// lists, hostPath and `IsLocalEphemeralVolume` (gitRepo, emptyDir on the default medium,
    /// configMap; older kubelets also downwardAPI).
    pub local_volumes: FsUsage,
}

/// One pod as the kubelet's rank functions see it: the spec fields they read and its stats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedPod {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`: the key the kubelet looks the stats up by (`cachedStatsFunc`).
    pub uid: String,
    /// `spec.priority`. `None` ranks as 0, as `corev1helpers.PodPriority` resolves it.
    pub priority: Option<i32>,
    /// `GetResourceRequestQuantity(pod, memory)` in bytes: containers, sidecars and init
    /// containers as the scheduler sums them, or the pod-level request, plus the pod overhead
    /// only when that total is not 0 ([`super::oom_policy::pod_memory_request_bytes`]).
    /// `None` (unknown on this node) ranks as 0, the value of a pod that requests nothing.
    pub memory_request_bytes: Option<i64>,
    /// `GetResourceRequestQuantity(pod, ephemeral-storage)` in bytes
    /// ([`super::oom_policy::pod_ephemeral_storage_request_bytes`]). `None` ranks as 0.
    pub ephemeral_storage_request_bytes: Option<i64>,
    /// The pod's entry in the summary API; `None` means "no stats", and every comparator but
    /// `priority` puts such pods first.
    pub stats: Option<PodStats>,
    /// `IsCriticalPod` (static, mirror, or priority ≥ 2000000000;
    /// [`super::oom_policy::is_critical_pod`]): `evictPod` refuses to evict it.
    pub critical: bool,
}

/// The disk quantity a disk-pressure ranking measures (`diskResource` of
/// `rankDiskPressureFunc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskResource {
    /// `ephemeral-storage`: bytes used (the `*.available` signals).
    EphemeralStorage,
    /// `inodes`: inodes used (the `*.inodesFree` signals).
    Inodes,
}

/// Which of a pod's filesystem usages a disk ranking counts (`fsStatsType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsStatsType {
    /// `fsStatsRoot`: the containers' writable layers.
    Root,
    /// `fsStatsLogs`: the containers' logs.
    Logs,
    /// `fsStatsLocalVolumeSource`: the pod's local volumes.
    LocalVolumeSource,
    /// `fsStatsImages`: listed by the kubelet, but `podDiskUsage` adds nothing for it.
    Images,
}

/// A disk eviction signal, for [`disk_rank_inputs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskSignal {
    /// `nodefs.available`.
    NodeFsAvailable,
    /// `nodefs.inodesFree`.
    NodeFsInodesFree,
    /// `imagefs.available`.
    ImageFsAvailable,
    /// `imagefs.inodesFree`.
    ImageFsInodesFree,
    /// `containerfs.available`.
    ContainerFsAvailable,
    /// `containerfs.inodesFree`.
    ContainerFsInodesFree,
}

impl DiskSignal {
    /// The signal's name as the kubelet configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskSignal::NodeFsAvailable => "nodefs.available",
            DiskSignal::NodeFsInodesFree => "nodefs.inodesFree",
            DiskSignal::ImageFsAvailable => "imagefs.available",
            DiskSignal::ImageFsInodesFree => "imagefs.inodesFree",
            DiskSignal::ContainerFsAvailable => "containerfs.available",
            DiskSignal::ContainerFsInodesFree => "containerfs.inodesFree",
        }
    }

    /// The resource the signal reclaims (`signalToResource`): bytes or inodes.
    pub fn resource(self) -> DiskResource {
        match self {
            DiskSignal::NodeFsAvailable
            | DiskSignal::ImageFsAvailable
            | DiskSignal::ContainerFsAvailable => DiskResource::EphemeralStorage,
            DiskSignal::NodeFsInodesFree
            | DiskSignal::ImageFsInodesFree
            | DiskSignal::ContainerFsInodesFree => DiskResource::Inodes,
        }
    }
}

/// What `buildSignalToRankFunc` ranks `signal` by: the filesystem usages it counts and the
/// resource, for a node with (`dedicated_imagefs`) or without a separate image filesystem and
/// with (`split_container_imagefs`) or without containers and images on separate filesystems.
///
/// | layout | nodefs.* | imagefs.* | containerfs.* |
/// |---|---|---|---|
/// | no dedicated imagefs | images, root, logs, volumes | same | = nodefs |
/// | dedicated imagefs, not split | logs, volumes | root, images | = imagefs |
/// | dedicated imagefs, split | logs, volumes, root | images | = nodefs |
///
/// The kubelet's own fallback puts "split without a dedicated imagefs" in the first row.
pub fn disk_rank_inputs(
    signal: DiskSignal,
    dedicated_imagefs: bool,
    split_container_imagefs: bool,
) -> (&'static [FsStatsType], DiskResource) {
    use FsStatsType::*;
    const ALL: &[FsStatsType] = &[Images, Root, Logs, LocalVolumeSource];
    const LOGS_VOLUMES: &[FsStatsType] = &[Logs, LocalVolumeSource];
    const ROOT_IMAGES: &[FsStatsType] = &[Root, Images];
    const LOGS_VOLUMES_ROOT: &[FsStatsType] = &[Logs, LocalVolumeSource, Root];
    const IMAGES: &[FsStatsType] = &[Images];
    let fs = match (dedicated_imagefs, split_container_imagefs, signal) {
        (true, false, DiskSignal::NodeFsAvailable | DiskSignal::NodeFsInodesFree) => LOGS_VOLUMES,
        (true, false, _) => ROOT_IMAGES,
        (true, true, DiskSignal::ImageFsAvailable | DiskSignal::ImageFsInodesFree) => IMAGES,
        (true, true, _) => LOGS_VOLUMES_ROOT,
        (false, _, _) => ALL,
    };
    (fs, signal.resource())
}

/// `cmpBool`: `true` sorts before `false`.
fn cmp_bool(a: bool, b: bool) -> Ordering {
    match (a, b) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The "no stats first" guard every stats comparator starts with: `Some(order)` when either
/// pod has no stats, else both pods' stats.
fn no_stats_first<'a>(
    p1: &'a RankedPod,
    p2: &'a RankedPod,
) -> Result<(&'a PodStats, &'a PodStats), Ordering> {
    match (&p1.stats, &p2.stats) {
        (Some(s1), Some(s2)) => Ok((s1, s2)),
        (s1, s2) => Err(cmp_bool(s1.is_none(), s2.is_none())),
    }
}

/// `priority`: lower `spec.priority` first (`PodPriority`: unset is 0).
fn cmp_priority(p1: &RankedPod, p2: &RankedPod) -> Ordering {
    p1.priority.unwrap_or(0).cmp(&p2.priority.unwrap_or(0))
}

/// `memoryUsage`: the working set, 0 without memory stats.
fn memory_usage(s: &PodStats) -> i128 {
    i128::from(s.working_set_bytes.unwrap_or(0))
}

/// `exceedMemoryRequests`: no stats first, then pods whose working set is strictly above
/// their memory request.
fn cmp_exceed_memory_requests(p1: &RankedPod, p2: &RankedPod) -> Ordering {
    let (s1, s2) = match no_stats_first(p1, p2) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let exceeds = |p: &RankedPod, s: &PodStats| {
        memory_usage(s) > i128::from(p.memory_request_bytes.unwrap_or(0))
    };
    cmp_bool(exceeds(p1, s1), exceeds(p2, s2))
}

/// `memory`: no stats first, then the larger working set minus memory request first.
fn cmp_memory(p1: &RankedPod, p2: &RankedPod) -> Ordering {
    let (s1, s2) = match no_stats_first(p1, p2) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let over = |p: &RankedPod, s: &PodStats| {
        memory_usage(s) - i128::from(p.memory_request_bytes.unwrap_or(0))
    };
    over(p2, s2).cmp(&over(p1, s1))
}

/// `process`: no stats first, then more processes first. Go returns
/// `int(p2Process - p1Process)` on `uint64`s, the sign of the wrapped difference, which is
/// this plain comparison whenever the counts are less than 2^63 apart (pid_max is at most
/// 2^22). Beyond that the wrapped sign is no order at all (0 < 2^62·1.3 < 2^62·2.7 < 0), and
/// Rust's sort panics on a comparator that is not a total order, so counts read from a corrupt
/// pids.current must compare plainly.
fn cmp_process(p1: &RankedPod, p2: &RankedPod) -> Ordering {
    let (s1, s2) = match no_stats_first(p1, p2) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let n1 = s1.process_count.unwrap_or(0);
    let n2 = s2.process_count.unwrap_or(0);
    n2.cmp(&n1)
}

/// `podDiskUsage(stats, pod, fsStatsToMeasure)[resource]`: the measured usages, summed.
/// `fsStatsImages` contributes nothing, as in the kubelet.
fn pod_disk_usage(s: &PodStats, fs: &[FsStatsType], resource: DiskResource) -> i128 {
    let pick = |u: &FsUsage| match resource {
        DiskResource::EphemeralStorage => i128::from(u.used_bytes),
        DiskResource::Inodes => i128::from(u.inodes_used),
    };
    let mut total = 0i128;
    if fs.contains(&FsStatsType::Root) {
        total += pick(&s.rootfs);
    }
    if fs.contains(&FsStatsType::Logs) {
        total += pick(&s.logs);
    }
    if fs.contains(&FsStatsType::LocalVolumeSource) {
        total += pick(&s.local_volumes);
    }
    total
}

/// `GetResourceRequestQuantity(pod, resource)`: the ephemeral-storage request, or 0 for
/// `inodes`, which no container can request.
fn disk_request(p: &RankedPod, resource: DiskResource) -> i128 {
    match resource {
        DiskResource::EphemeralStorage => {
            i128::from(p.ephemeral_storage_request_bytes.unwrap_or(0))
        }
        DiskResource::Inodes => 0,
    }
}

/// `exceedDiskRequests`: no stats first, then pods whose measured usage is strictly above
/// their request for `resource` (0 for inodes).
fn cmp_exceed_disk_requests(
    p1: &RankedPod,
    p2: &RankedPod,
    fs: &[FsStatsType],
    resource: DiskResource,
) -> Ordering {
    let (s1, s2) = match no_stats_first(p1, p2) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let exceeds =
        |p: &RankedPod, s: &PodStats| pod_disk_usage(s, fs, resource) > disk_request(p, resource);
    cmp_bool(exceeds(p1, s1), exceeds(p2, s2))
}

/// `disk`: no stats first, then the larger measured usage minus request first. As in the
/// kubelet, the request subtracted is always the ephemeral-storage one, also when ranking by
/// inodes.
fn cmp_disk(
    p1: &RankedPod,
    p2: &RankedPod,
    fs: &[FsStatsType],
    resource: DiskResource,
) -> Ordering {
    let (s1, s2) = match no_stats_first(p1, p2) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let over = |p: &RankedPod, s: &PodStats| {
        pod_disk_usage(s, fs, resource) - disk_request(p, DiskResource::EphemeralStorage)
    };
    over(p2, s2).cmp(&over(p1, s1))
}

/// A comparator as `orderedBy` takes them (`cmpFunc`).
type Cmp<'a> = &'a dyn Fn(&RankedPod, &RankedPod) -> Ordering;

/// `orderedBy(cmps...).Sort(pods)`: the first comparator that is not equal decides, and the
/// last one decides alone. `cmps` must not be empty (the kubelet never passes none); with none,
/// nothing moves. Stable: pods all comparators find equal keep their input order.
fn ordered_by(pods: &mut [RankedPod], cmps: &[Cmp<'_>]) {
    pods.sort_by(|a, b| {
        for c in cmps {
            let o = c(a, b);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

/// `rankMemoryPressure = orderedBy(exceedMemoryRequests, priority, memory)`, the ranking of
/// `memory.available` and `allocatableMemory.available`: pods without stats, then pods over
/// their memory request, each group by ascending priority, then by working set minus request,
/// largest first.
pub fn rank_memory_pressure(pods: &mut [RankedPod]) {
    ordered_by(
        pods,
        &[&cmp_exceed_memory_requests, &cmp_priority, &cmp_memory],
    );
}

/// `rankPIDPressure = orderedBy(priority, process)`, the ranking of `pid.available`: ascending
/// priority, then pods without stats, then the most processes first.
pub fn rank_pid_pressure(pods: &mut [RankedPod]) {
    ordered_by(pods, &[&cmp_priority, &cmp_process]);
}

/// `rankDiskPressureFunc(fs, resource) = orderedBy(exceedDiskRequests, priority, disk)`, the
/// ranking of the disk signals: pods without stats, then pods whose measured usage exceeds
/// their request, each group by ascending priority, then by usage minus ephemeral-storage
/// request, largest first. `fs` is what the signal measures ([`disk_rank_inputs`]).
pub fn rank_disk_pressure(pods: &mut [RankedPod], fs: &[FsStatsType], resource: DiskResource) {
    ordered_by(
        pods,
        &[
            &|a, b| cmp_exceed_disk_requests(a, b, fs, resource),
            &cmp_priority,
            &|a, b| cmp_disk(a, b, fs, resource),
        ],
    );
}

/// The pods the kubelet would actually try, in order: `synchronize` walks the ranking and
/// `evictPod` refuses critical pods, so the first item is the next eviction. Only one pod is
/// evicted per loop, and the next loop ranks afresh.
pub fn eviction_candidates(ranked: &[RankedPod]) -> impl Iterator<Item = &RankedPod> {
    ranked.iter().filter(|p| !p.critical)
}

/// `signalToResource`: the resource an eviction signal reclaims (`memory`,
/// `ephemeral-storage`, `inodes`, `pids`), or `None` for signals the kubelet cannot act on.
pub fn signal_resource(signal: &str) -> Option<&'static str> {
    match signal {
        "memory.available" | "allocatableMemory.available" => Some("memory"),
        "nodefs.available" | "imagefs.available" | "containerfs.available" => {
            Some("ephemeral-storage")
        }
        "nodefs.inodesFree" | "imagefs.inodesFree" | "containerfs.inodesFree" => Some("inodes"),
        "pid.available" => Some("pids"),
        _ => None,
    }
}

/// `sort.Sort(byEvictionPriority(thresholds))` on signal names: the memory signals first,
/// signals without a resource last. Go's `Less` reports two memory signals (or two signals
/// without a resource) as each less than the other, so it leaves their order unspecified;
/// this stable sort keeps their input order.
pub fn sort_by_eviction_priority<S: AsRef<str>>(signals: &mut [S]) {
    signals.sort_by_key(|s| match s.as_ref() {
        "memory.available" | "allocatableMemory.available" => 0u8,
        other if signal_resource(other).is_some() => 1,
        _ => 2,
    });
}

/// `getReclaimableThreshold`: the first signal with a resource to reclaim, and that resource.
/// The kubelet acts on this one signal per loop (after [`sort_by_eviction_priority`]).
pub fn reclaimable_signal<S: AsRef<str>>(signals: &[S]) -> Option<(&str, &'static str)> {
    signals
        .iter()
        .find_map(|s| signal_resource(s.as_ref()).map(|r| (s.as_ref(), r)))
}

#[cfg(test)]
mod tests {
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
        let cmp =
            |a: &RankedPod, b: &RankedPod| cmp_disk(a, b, ALL_FS, DiskResource::EphemeralStorage);
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
}
