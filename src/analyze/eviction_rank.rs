//! Who goes first: the kubelet's eviction ranking under memory pressure and the kernel OOM
//! killer's choice, predicted from the node alone.
//!
//! The kubelet ranks with `rankMemoryPressure = orderedBy(exceedMemoryRequests, priority,
//! memory)` (pkg/kubelet/eviction/helpers.go, k8s-semantics §2): pods without stats first; then
//! pods whose working set exceeds their memory request; then lower priority; then larger
//! working set minus request. Without the API server, requests and priorities are not on the
//! node, so this module estimates them, and says so:
//!
//! - a container's memory request from its `oom_score_adj`, which the kubelet derived from it
//!   (`adj = 1000 - 1000 * request / capacity`, pkg/kubelet/qos/policy.go), so
//!   `request ≈ (1000 - adj) * capacity / 1000` within capacity/1000 bytes; Guaranteed
//!   containers (-997) request their limit, BestEffort (1000) nothing;
//! - priority 0 for every pod, except that node-critical pods (-997 outside Guaranteed QoS)
//!   are never evicted (`evictPod` refuses critical pods).
//!
//! The kernel picks the process with the highest `oom_score`, read from /proc.

use crate::model::{Qos, Snapshot};
use serde::Serialize;
use std::cmp::Ordering;

/// One pod as the kubelet's memory ranking sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedPod {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// Pod working set (usage - inactive_file of the pod cgroup); `None` = no stats.
    pub working_set_bytes: Option<i64>,
    /// Estimated memory request (sum over containers).
    pub request_bytes: i64,
    /// `spec.priority` (0 when unknown).
    pub priority: i64,
    /// Whether the working set exceeds the request (the first comparator).
    pub exceeds_request: bool,
    /// Critical pods are skipped when the kubelet picks its victim.
    pub critical: bool,
}

/// Go's `cmpBool`: `true` sorts first.
fn cmp_bool(a: bool, b: bool) -> Ordering {
    match (a, b) {
        (x, y) if x == y => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `exceedMemoryRequests`: pods without stats first, then pods whose working set exceeds their
/// memory request (strictly) first.
pub fn cmp_exceeds_requests(a: &RankedPod, b: &RankedPod) -> Ordering {
    cmp_bool(a.working_set_bytes.is_none(), b.working_set_bytes.is_none())
        .then_with(|| cmp_bool(a.exceeds_request, b.exceeds_request))
}

/// `priority`: lower priority first.
pub fn cmp_priority(a: &RankedPod, b: &RankedPod) -> Ordering {
    a.priority.cmp(&b.priority)
}

/// `memory`: pods without stats first, then larger working set minus request first.
pub fn cmp_memory(a: &RankedPod, b: &RankedPod) -> Ordering {
    let ua = a.working_set_bytes.map(|w| w - a.request_bytes);
    let ub = b.working_set_bytes.map(|w| w - b.request_bytes);
    match (ua, ub) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    }
}

/// `orderedBy(exceedMemoryRequests, priority, memory)`: each comparator decides unless equal.
pub fn compare_memory(a: &RankedPod, b: &RankedPod) -> Ordering {
    cmp_exceeds_requests(a, b)
        .then_with(|| cmp_priority(a, b))
        .then_with(|| cmp_memory(a, b))
}

/// Sorts pods as `rankMemoryPressure` does (stable: ties keep their input order, where Go's
/// unstable sort leaves them in no set order).
pub fn rank_memory_pressure(pods: &mut [RankedPod]) {
    pods.sort_by(compare_memory);
}

/// One pod as `rankPIDPressure` sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PidRankedPod {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// Processes and threads in the pod (pids.current of the pod cgroup); `None` = no stats.
    pub process_count: Option<u64>,
    pub priority: i64,
}

/// `rankPIDPressure = orderedBy(priority, process)`: lower priority first, then pods without
/// stats, then more processes first (helpers.go).
pub fn rank_pid_pressure(pods: &mut [PidRankedPod]) {
    pods.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| match (a.process_count, b.process_count) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            })
    });
}

/// The kubelet's predicted order under PID pressure (priorities unknown locally: equal).
pub fn kubelet_pid_order(snap: &Snapshot) -> Vec<PidRankedPod> {
    let mut out: Vec<PidRankedPod> = snap
        .pods
        .iter()
        .filter_map(|p| {
            let cg = p.cgroup.as_ref()?;
            Some(PidRankedPod {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                process_count: cg.pids_current,
                priority: 0,
            })
        })
        .collect();
    rank_pid_pressure(&mut out);
    out
}

/// One pod as the disk-pressure ranking sees it, for one resource (bytes or inodes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskRankedPod {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// Usage summed over the filesystems the layout counts (root, logs, local volumes);
    /// `None` = no stats.
    pub usage: Option<i64>,
    /// The pod's ephemeral-storage request (also subtracted for inodes, as the kubelet does).
    pub ephemeral_storage_request: i64,
    pub priority: i64,
}

/// `exceedDiskRequests`: no stats first, then usage above the request first.
pub fn cmp_exceeds_disk_requests(a: &DiskRankedPod, b: &DiskRankedPod) -> Ordering {
    cmp_bool(a.usage.is_none(), b.usage.is_none()).then_with(|| {
        cmp_bool(
            a.usage.is_some_and(|u| u > a.ephemeral_storage_request),
            b.usage.is_some_and(|u| u > b.ephemeral_storage_request),
        )
    })
}

/// `disk`: no stats first, then larger usage minus the ephemeral-storage request first.
pub fn cmp_disk(a: &DiskRankedPod, b: &DiskRankedPod) -> Ordering {
    match (a.usage, b.usage) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => {
            (y - b.ephemeral_storage_request).cmp(&(x - a.ephemeral_storage_request))
        }
    }
}

/// `rankDiskPressureFunc = orderedBy(exceedDiskRequests, priority, disk)`.
pub fn rank_disk_pressure(pods: &mut [DiskRankedPod]) {
    pods.sort_by(|a, b| {
        cmp_exceeds_disk_requests(a, b)
            .then_with(|| a.priority.cmp(&b.priority))
            .then_with(|| cmp_disk(a, b))
    });
}

/// A container's memory request, estimated from the oom_score_adj the kubelet gave it.
pub fn request_from_adj(adj: i64, qos: Qos, limit: Option<u64>, capacity: i64) -> i64 {
    match (qos, adj) {
        (Qos::Guaranteed, _) => limit.map_or(0, |l| l as i64),
        (Qos::BestEffort, _) => 0,
        (Qos::Burstable, a) if (3..=999).contains(&a) => (1000 - a) * capacity / 1000,
        _ => 0,
    }
}

/// The kubelet's predicted order of the pods found on the node.
pub fn kubelet_order(snap: &Snapshot) -> Vec<RankedPod> {
    let capacity = snap.memory.map_or(0, |m| m.mem_total_bytes as i64);
    let mut out: Vec<RankedPod> = snap
        .pods
        .iter()
        .filter(|p| p.cgroup.is_some())
        .map(|p| {
            let qos = p.qos.unwrap_or(Qos::Burstable);
            let mut request = 0i64;
            let mut critical = false;
            for c in p.containers.iter().filter(|c| !c.sandbox) {
                let adj = snap
                    .processes
                    .iter()
                    .filter(|pr| pr.container_id.as_deref() == Some(c.id.as_str()))
                    .filter_map(|pr| pr.oom_score_adj)
                    .max();
                if adj == Some(-997) && qos != Qos::Guaranteed {
                    critical = true;
                }
                let limit = c.cgroup.as_ref().and_then(|cg| cg.limit_bytes);
                request += adj.map_or(0, |a| request_from_adj(a, qos, limit, capacity));
            }
            let ws = p
                .cgroup
                .as_ref()
                .and_then(|cg| cg.working_set_bytes())
                .map(|w| w as i64);
            RankedPod {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                working_set_bytes: ws,
                request_bytes: request,
                priority: 0,
                exceeds_request: ws.is_some_and(|w| w > request),
                critical,
            }
        })
        .collect();
    rank_memory_pressure(&mut out);
    out
}

/// A container process whose oom_score_adj is not what the kubelet's policy gives its QoS class
/// (pkg/kubelet/qos/policy.go): Guaranteed -997, BestEffort 1000, Burstable 3..=999, any
/// node-critical pod -997. A process that rewrote its own adj, or a runtime that ignored the
/// kubelet's, changes who the kernel kills.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdjMismatch {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub pid: u32,
    pub comm: String,
    pub qos: Qos,
    pub oom_score_adj: i64,
    pub expected: String,
}

/// Container processes whose oom_score_adj the kubelet's policy cannot have produced.
pub fn adj_mismatches(snap: &Snapshot) -> Vec<AdjMismatch> {
    use crate::analyze::oom_policy::{BESTEFFORT_OOM_SCORE_ADJ, GUARANTEED_OOM_SCORE_ADJ};
    let mut out = Vec::new();
    for p in &snap.processes {
        let (Some(id), Some(adj)) = (p.container_id.as_deref(), p.oom_score_adj) else {
            continue;
        };
        let Some((pod, c)) = snap.container(id) else {
            continue;
        };
        let Some(qos) = pod.qos else { continue };
        if c.sandbox || adj == GUARANTEED_OOM_SCORE_ADJ {
            // -997 is right for Guaranteed and for node-critical pods of any class.
            continue;
        }
        let (ok, expected) = match qos {
            Qos::Guaranteed => (false, "-997"),
            Qos::BestEffort => (
                adj == BESTEFFORT_OOM_SCORE_ADJ,
                "1000 (or -997 if node-critical)",
            ),
            Qos::Burstable => (
                (3..=999).contains(&adj),
                "3..=999 (or -997 if node-critical)",
            ),
        };
        if !ok {
            out.push(AdjMismatch {
                namespace: pod.namespace.clone(),
                pod: pod.name.clone(),
                container: c.name.clone(),
                pid: p.pid,
                comm: p.comm.clone(),
                qos,
                oom_score_adj: adj,
                expected: expected.into(),
            });
        }
    }
    out
}

/// One process as the kernel's OOM killer would rank it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelCandidate {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub pid: u32,
    pub comm: String,
    pub oom_score: i64,
    pub oom_score_adj: Option<i64>,
}

/// Processes in pods by descending `oom_score` (the kernel's choice for a node-wide OOM).
pub fn kernel_order(snap: &Snapshot) -> Vec<KernelCandidate> {
    let mut out: Vec<KernelCandidate> = snap
        .processes
        .iter()
        .filter_map(|p| {
            let (pod, c) = snap.container(p.container_id.as_deref()?)?;
            if c.sandbox {
                return None;
            }
            Some(KernelCandidate {
                namespace: pod.namespace.clone(),
                pod: pod.name.clone(),
                container: c.name.clone(),
                pid: p.pid,
                comm: p.comm.clone(),
                oom_score: p.oom_score?,
                oom_score_adj: p.oom_score_adj,
            })
        })
        .collect();
    out.sort_by(|a, b| b.oom_score.cmp(&a.oom_score).then(a.pid.cmp(&b.pid)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, ws: Option<i64>, req: i64, prio: i64) -> RankedPod {
        RankedPod {
            namespace: Some("ns".into()),
            pod: Some(name.into()),
            working_set_bytes: ws,
            request_bytes: req,
            priority: prio,
            exceeds_request: ws.is_some_and(|w| w > req),
            critical: false,
        }
    }

    const MI: i64 = 1 << 20;
    const GI: i64 = 1 << 30;
    // helpers_test.go: lowPriority = -1, defaultPriority = 0, highPriority = 1.
    const LOW: i64 = -1;
    const DEFAULT: i64 = 0;
    const HIGH: i64 = 1;

    fn sorted(
        mut v: Vec<RankedPod>,
        cmp: impl Fn(&RankedPod, &RankedPod) -> Ordering,
    ) -> Vec<String> {
        v.sort_by(|a, b| cmp(a, b));
        v.into_iter().map(|p| p.pod.unwrap_or_default()).collect()
    }

    // Ported from pkg/kubelet/eviction/helpers_test.go: TestOrderedByExceedsRequestMemory.
    #[test]
    fn ordered_by_exceeds_request_memory() {
        let v = vec![
            p("below-requests", Some(199 * MI), 200 * MI, LOW),
            p("exceeds-requests", Some(101 * MI), 100 * MI, HIGH),
        ];
        assert_eq!(
            sorted(v, cmp_exceeds_requests),
            ["exceeds-requests", "below-requests"]
        );
    }

    // Ported from TestOrderedByMemory: the memory comparator alone.
    #[test]
    fn ordered_by_memory() {
        let v = vec![
            p("best-effort-high", Some(500 * MI), 0, DEFAULT),
            p("best-effort-low", Some(300 * MI), 0, DEFAULT),
            p("burstable-high", Some(800 * MI), 100 * MI, DEFAULT),
            p("burstable-low", Some(300 * MI), 100 * MI, DEFAULT),
            p("guaranteed-high", Some(800 * MI), GI, DEFAULT),
            p("guaranteed-low", Some(200 * MI), GI, DEFAULT),
        ];
        assert_eq!(
            sorted(v, cmp_memory),
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

    // Ported from TestOrderedByPriorityMemory: the full rankMemoryPressure order, input reversed.
    #[test]
    fn ordered_by_priority_memory() {
        let mut v = vec![
            p(
                "pod8-below-requests-high-priority-low-usage",
                Some(200 * MI),
                GI,
                HIGH,
            ),
            p(
                "pod7-below-requests-high-priority-high-usage",
                Some(800 * MI),
                GI,
                HIGH,
            ),
            p(
                "pod6-below-requests-low-priority-low-usage",
                Some(200 * MI),
                GI,
                LOW,
            ),
            p(
                "pod5-below-requests-low-priority-high-usage",
                Some(800 * MI),
                GI,
                LOW,
            ),
            p(
                "pod4-above-requests-high-priority-low-usage",
                Some(150 * MI),
                100 * MI,
                HIGH,
            ),
            p(
                "pod3-above-requests-high-priority-high-usage",
                Some(600 * MI),
                100 * MI,
                HIGH,
            ),
            p(
                "pod2-above-requests-low-priority-low-usage",
                Some(50 * MI),
                0,
                LOW,
            ),
            p(
                "pod1-above-requests-low-priority-high-usage",
                Some(500 * MI),
                0,
                LOW,
            ),
        ];
        rank_memory_pressure(&mut v);
        let got: Vec<&str> = v.iter().map(|p| &p.pod.as_deref().unwrap()[..4]).collect();
        assert_eq!(
            got,
            [
                "pod1", "pod2", "pod3", "pod4", "pod5", "pod6", "pod7", "pod8"
            ]
        );
    }

    #[test]
    fn pods_without_stats_come_first() {
        let v = vec![p("big-over", Some(900), 100, 0), p("no-stats", None, 0, 0)];
        assert_eq!(sorted(v, compare_memory), ["no-stats", "big-over"]);
    }

    fn d(name: &str, usage: i64, request: i64, prio: i64) -> DiskRankedPod {
        DiskRankedPod {
            namespace: None,
            pod: Some(name.into()),
            usage: Some(usage),
            ephemeral_storage_request: request,
            priority: prio,
        }
    }

    fn disk_names(v: &[DiskRankedPod]) -> Vec<&str> {
        v.iter().map(|p| p.pod.as_deref().unwrap()).collect()
    }

    // Ported from TestOrderedbyDisk: the disk comparator alone; usage = root + logs + volume.
    #[test]
    fn ordered_by_disk() {
        let mut v = vec![
            d("best-effort-high", 300 * MI, 0, DEFAULT),
            d("best-effort-low", 100 * MI, 0, DEFAULT),
            d("burstable-high", 350 * MI, 100 * MI, DEFAULT),
            d("burstable-low", 110 * MI, 100 * MI, DEFAULT),
            d("guaranteed-high", 375 * MI, 400 * MI, DEFAULT),
            d("guaranteed-low", 120 * MI, 400 * MI, DEFAULT),
        ];
        v.sort_by(cmp_disk);
        assert_eq!(
            disk_names(&v),
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

    // Ported from TestOrderedbyInodes: inodes, no requests.
    #[test]
    fn ordered_by_inodes() {
        let mut v = vec![
            d("low", 200_000, 0, DEFAULT),
            d("medium", 300_000, 0, DEFAULT),
            d("high", 400_000, 0, DEFAULT),
        ];
        v.sort_by(cmp_disk);
        assert_eq!(disk_names(&v), ["high", "medium", "low"]);
    }

    // Ported from TestOrderedByPriorityDisk: the full disk ranking, input reversed.
    #[test]
    fn ordered_by_priority_disk() {
        let mut v = vec![
            d("pod8", 200 * MI, GI, HIGH),
            d("pod7", 800 * MI, GI, HIGH),
            d("pod6", 200 * MI, GI, LOW),
            d("pod5", 800 * MI, GI, LOW),
            d("pod4", 150 * MI, 100 * MI, HIGH),
            d("pod3", 600 * MI, 100 * MI, HIGH),
            d("pod2", 50 * MI, 0, LOW),
            d("pod1", 500 * MI, 0, LOW),
        ];
        rank_disk_pressure(&mut v);
        assert_eq!(
            disk_names(&v),
            [
                "pod1", "pod2", "pod3", "pod4", "pod5", "pod6", "pod7", "pod8"
            ]
        );
    }

    // Ported from TestOrderedByPriorityInodes: priority, then inodes (no exceed comparator).
    #[test]
    fn ordered_by_priority_inodes() {
        let mut v = vec![
            d("high-priority-low-usage", 150_000, 0, HIGH),
            d("high-priority-high-usage", 350_000, 0, HIGH),
            d("low-priority-low-usage", 100_000, 0, LOW),
            d("low-priority-high-usage", 400_000, 0, LOW),
        ];
        v.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| cmp_disk(a, b)));
        assert_eq!(
            disk_names(&v),
            [
                "low-priority-high-usage",
                "low-priority-low-usage",
                "high-priority-high-usage",
                "high-priority-low-usage"
            ]
        );
    }

    // Ported from TestOrderedByPriorityProcess, input reversed; plus a pod without stats.
    #[test]
    fn ordered_by_priority_process() {
        let q = |n: &str, c: Option<u64>, prio: i64| PidRankedPod {
            namespace: None,
            pod: Some(n.into()),
            process_count: c,
            priority: prio,
        };
        let mut v = vec![
            q("high-priority-low-usage", Some(5), HIGH),
            q("high-priority-high-usage", Some(20), HIGH),
            q("low-priority-low-usage", Some(6), LOW),
            q("low-priority-high-usage", Some(20), LOW),
        ];
        rank_pid_pressure(&mut v);
        let names: Vec<&str> = v.iter().map(|p| p.pod.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "low-priority-high-usage",
                "low-priority-low-usage",
                "high-priority-high-usage",
                "high-priority-low-usage"
            ]
        );
        let mut v = vec![q("known", Some(1), LOW), q("unknown", None, LOW)];
        rank_pid_pressure(&mut v);
        assert_eq!(v[0].pod.as_deref(), Some("unknown"));
    }

    #[test]
    fn requests_are_recovered_from_oom_score_adj() {
        // 16 GiB node, a 128Mi request → adj 993 (policy.go); back to within capacity/1000.
        let cap: i64 = 17_179_869_184;
        let req: i64 = 128 << 20;
        let adj = 1000 - 1000 * req / cap;
        assert_eq!(adj, 993);
        let est = request_from_adj(adj, Qos::Burstable, None, cap);
        assert!((est - req).abs() <= cap / 1000, "{est} vs {req}");
        assert_eq!(
            request_from_adj(-997, Qos::Guaranteed, Some(512 << 20), cap),
            512 << 20
        );
        assert_eq!(request_from_adj(1000, Qos::BestEffort, None, cap), 0);
    }
}
