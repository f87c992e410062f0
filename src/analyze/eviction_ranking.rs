//! The kubelet's pod ranking for node-pressure eviction, ported exactly from
//! `pkg/kubelet/eviction/helpers.go` (docs/kubelet-semantics.md §2), with the kubelet's own test vectors
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

/// What a disk ranking measures of `pod` (`podDiskUsage`), 0 without stats: the figure the
/// ranking compared, for showing it.
pub fn pod_usage(pod: &RankedPod, fs: &[FsStatsType], resource: DiskResource) -> u64 {
    pod.stats.as_ref().map_or(0, |s| {
        u64::try_from(pod_disk_usage(s, fs, resource)).unwrap_or(0)
    })
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
mod tests;
