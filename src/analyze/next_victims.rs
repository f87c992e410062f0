//! Who goes first: the kubelet's eviction ranking under memory pressure and the kernel OOM
//! killer's choice, predicted from the node alone.
//!
//! The kubelet ranks with `rankMemoryPressure = orderedBy(exceedMemoryRequests, priority,
//! memory)` (pkg/kubelet/eviction/helpers.go, docs/kubelet-semantics.md §2): pods without stats first; then
//! pods whose working set exceeds their memory request; then lower priority; then larger
//! working set minus request. When the API server (or a bundle's cluster files, or
//! `--cluster-dump`) gave the pod, its real memory requests and `spec.priority` are used, and a
//! priority of 2,000,000,000 or more makes it critical (`IsCriticalPodBasedOnPriority`,
//! pkg/kubelet/types/pod_update.go). Without it, requests and priorities are not on the node,
//! so this module estimates them, pod by pod, and says which:
//!
//! - a container's memory request from its `oom_score_adj`, which the kubelet derived from it
//!   (`adj = 1000 - 1000 * request / capacity`, pkg/kubelet/qos/policy.go), so
//!   `request ≈ (1000 - adj) * capacity / 1000` within capacity/1000 bytes; Guaranteed
//!   containers (-997) request their limit, BestEffort (1000) nothing;
//! - priority 0 for every pod, except that node-critical pods (-997 outside Guaranteed QoS)
//!   are never evicted (`evictPod` refuses critical pods).
//!
//! The kernel picks the process with the highest `oom_score`, read from /proc.

use super::eviction_ranking::{self, PodStats, RankedPod};
use crate::model::pod_facts::Critical;
use crate::model::quantity::parse_quantity;
use crate::model::{Qos, Snapshot};

/// `scheduling.SystemCriticalPriority`: a pod at or above it is critical, and the kubelet never
/// evicts it.
pub use crate::model::pod_facts::SYSTEM_CRITICAL_PRIORITY;
use serde::Serialize;

/// A pod in the kubelet's predicted order, with what the prediction rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictedPod {
    pub uid: String,
    /// How the pod is named to a reader ([`crate::model::Pod::label`]).
    pub label: String,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// Pod working set (usage - inactive_file of the pod cgroup); `None` = no stats.
    pub working_set_bytes: Option<i64>,
    /// Memory request (sum over containers): the API's, else estimated from oom_score_adj.
    pub request_bytes: i64,
    /// Where the request and priority came from: `api`, or `oom_score_adj` (estimated, the
    /// priority taken as 0).
    pub request_from: &'static str,
    /// `spec.priority` when the API gave it.
    pub priority: Option<i32>,
    /// Whether the working set exceeds the request (the first comparator).
    pub exceeds_request: bool,
    /// Processes and threads in the pod (`pids.current`).
    pub processes: Option<u64>,
    /// Critical (`IsCriticalPod`: static or mirror, priority at or above 2,000,000,000, a
    /// critical priority class; without the API, -997 outside Guaranteed): ranked, never
    /// evicted.
    pub critical: bool,
    /// Why it is critical, when it is.
    pub critical_because: Option<Critical>,
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

/// The pods found on the node as the ranking port takes them, with their predictions.
fn ranked_pods(snap: &Snapshot) -> Vec<(RankedPod, PredictedPod)> {
    let capacity = snap.memory.map_or(0, |m| m.mem_total_bytes as i64);
    snap.pods
        .iter()
        .filter(|p| p.cgroup.is_some())
        .map(|p| {
            let qos = p.qos.unwrap_or(Qos::Burstable);
            let mut request = 0i64;
            let mut adj_critical = false;
            for c in p.containers.iter().filter(|c| !c.sandbox) {
                let adj = snap
                    .processes
                    .iter()
                    .filter(|pr| pr.container_id.as_deref() == Some(c.id.as_str()))
                    .filter_map(|pr| pr.oom_score_adj)
                    .max();
                if adj == Some(-997) && qos != Qos::Guaranteed {
                    adj_critical = true;
                }
                let limit = c.cgroup.as_ref().and_then(|cg| cg.limit_bytes);
                request += adj.map_or(0, |a| request_from_adj(a, qos, limit, capacity));
            }
            // The API's word, when there is one: real requests, real priority.
            let (request, priority, request_from) = match &p.api {
                Some(api) => {
                    let real: f64 = api
                        .containers
                        .iter()
                        .filter_map(|c| c.requests.get("memory"))
                        .filter_map(|q| parse_quantity(q))
                        .sum();
                    (real as i64, api.priority, "api")
                }
                None => (request, None, "oom_score_adj"),
            };
            let facts = p.facts(adj_critical);
            let critical = facts.critical.is_some();
            let cg = p.cgroup.as_ref();
            let ws = cg.and_then(|cg| cg.working_set_bytes());
            let processes = cg.and_then(|cg| cg.pids_current);
            let ranked = RankedPod {
                namespace: p.namespace.clone().unwrap_or_default(),
                name: p.name.clone().unwrap_or_default(),
                uid: p.uid.clone(),
                priority,
                memory_request_bytes: Some(request),
                ephemeral_storage_request_bytes: None,
                stats: ws.map(|w| PodStats {
                    working_set_bytes: Some(w),
                    process_count: processes,
                    ..Default::default()
                }),
                critical,
            };
            let predicted = PredictedPod {
                uid: p.uid.clone(),
                label: facts.label(),
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                working_set_bytes: ws.map(|w| w as i64),
                request_bytes: request,
                request_from,
                priority,
                exceeds_request: ws.is_some_and(|w| w as i64 > request),
                processes,
                critical,
                critical_because: facts.critical,
            };
            (ranked, predicted)
        })
        .collect()
}

/// Reorders the predictions as the ranking put their pods.
fn in_order(
    mut ranked: Vec<RankedPod>,
    mut predicted: Vec<PredictedPod>,
    rank: fn(&mut [RankedPod]),
) -> Vec<PredictedPod> {
    rank(&mut ranked);
    let mut out = Vec::with_capacity(predicted.len());
    for r in ranked {
        if let Some(i) = predicted.iter().position(|p| p.uid == r.uid) {
            out.push(predicted.swap_remove(i));
        }
    }
    out
}

/// The kubelet's predicted order under memory pressure (`rankMemoryPressure`).
pub fn kubelet_order(snap: &Snapshot) -> Vec<PredictedPod> {
    let (r, p): (Vec<_>, Vec<_>) = ranked_pods(snap).into_iter().unzip();
    in_order(r, p, eviction_ranking::rank_memory_pressure)
}

/// The kubelet's predicted order under PID pressure (`rankPIDPressure`; priorities equal).
pub fn kubelet_pid_order(snap: &Snapshot) -> Vec<PredictedPod> {
    let (r, p): (Vec<_>, Vec<_>) = ranked_pods(snap).into_iter().unzip();
    in_order(r, p, eviction_ranking::rank_pid_pressure)
}

/// A pod in the kubelet's predicted order under disk pressure, with what the prediction
/// rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskPredictedPod {
    pub uid: String,
    /// How the pod is named to a reader ([`crate::model::Pod::label`]).
    pub label: String,
    /// What the signal measures of the pod, summed: bytes, or inodes for `*.inodesFree`.
    pub usage: u64,
    /// Which of the pod's usages nodescope measured (`rootfs`: writable layers walked; `logs`:
    /// its /var/log/pods directory walked; `volumes`: disk-backed emptyDirs walked); what was
    /// not measured counts as 0.
    pub measured: Vec<&'static str>,
    /// `ephemeral-storage` requests summed over the API's containers; `None` when the API did
    /// not give the pod (ranked as 0, as for a pod that requests nothing).
    pub request_bytes: Option<i64>,
    /// `spec.priority` when the API gave it.
    pub priority: Option<i32>,
    /// Whether the usage exceeds the request (the first comparator).
    pub exceeds_request: bool,
    /// Critical ([`crate::model::pod_facts::Critical`]): ranked, never evicted.
    pub critical: bool,
    pub critical_because: Option<Critical>,
}

/// Whether the kubelet gave a non-Guaranteed pod's processes -997, which its policy reserves for
/// node-critical pods (pkg/kubelet/qos/policy.go): the estimate of criticality without the API.
fn adj_critical(snap: &Snapshot, p: &crate::model::Pod) -> bool {
    p.qos != Some(Qos::Guaranteed)
        && p.containers.iter().filter(|c| !c.sandbox).any(|c| {
            snap.processes.iter().any(|pr| {
                pr.container_id.as_deref() == Some(c.id.as_str()) && pr.oom_score_adj == Some(-997)
            })
        })
}

/// The pod's disk usages as the summary API would sum them for `rankDiskPressureFunc`, from
/// the walks the disk collector made, and which ones were measured.
fn disk_stats(snap: &Snapshot, p: &crate::model::Pod) -> (PodStats, Vec<&'static str>) {
    use super::eviction_ranking::FsUsage;
    let usage = |w: &crate::model::fs::Walk| FsUsage {
        used_bytes: w.bytes,
        inodes_used: w.inodes(),
    };
    let add = |a: FsUsage, b: FsUsage| FsUsage {
        used_bytes: a.used_bytes + b.used_bytes,
        inodes_used: a.inodes_used + b.inodes_used,
    };
    let mut measured = Vec::new();
    let mut st = PodStats::default();
    let layers: Vec<FsUsage> = snap
        .disk
        .writable_layers
        .iter()
        .filter(|l| p.containers.iter().any(|c| c.id == l.container_id))
        .filter_map(|l| l.walk.as_ref().map(usage))
        .collect();
    if !layers.is_empty() {
        measured.push("rootfs");
        st.rootfs = layers.into_iter().fold(FsUsage::default(), add);
    }
    if let Some(w) = snap
        .disk
        .pod_logs
        .iter()
        .find(|l| l.uid == p.uid)
        .and_then(|l| l.walk.as_ref())
    {
        measured.push("logs");
        st.logs = usage(w);
    }
    let volumes: Vec<FsUsage> = snap
        .disk
        .pod_dirs
        .iter()
        .filter(|d| d.uid == p.uid)
        .flat_map(|d| d.volumes.iter())
        .filter(|v| !v.memory_backed)
        .filter_map(|v| v.walk.as_ref().map(usage))
        .collect();
    if !volumes.is_empty() {
        measured.push("volumes");
        st.local_volumes = volumes.into_iter().fold(FsUsage::default(), add);
    }
    (st, measured)
}

/// The kubelet's predicted order under `signal` (`rankDiskPressureFunc` with the filesystems
/// `buildSignalToRankFunc` measures for it; a node has a dedicated imagefs when its image
/// store is on another filesystem than its kubelet root). Requests and priorities are the
/// API's when it gave the pod; critical pods are ranked but never evicted.
pub fn kubelet_disk_order(
    snap: &Snapshot,
    signal: eviction_ranking::DiskSignal,
) -> Vec<DiskPredictedPod> {
    let dedicated = match (&snap.disk.nodefs, &snap.disk.imagefs) {
        (Some(n), Some(i)) => n.mount_point.is_some() && n.mount_point != i.mount_point,
        _ => false,
    };
    let (fs, resource) = eviction_ranking::disk_rank_inputs(signal, dedicated, false);
    let mut ranked = Vec::new();
    let mut predicted = Vec::new();
    for p in snap.pods.iter().filter(|p| p.cgroup.is_some()) {
        let facts = p.facts(adj_critical(snap, p));
        let (stats, measured) = disk_stats(snap, p);
        let request = p.api.as_ref().map(|a| {
            a.containers
                .iter()
                .filter_map(|c| c.requests.get("ephemeral-storage"))
                .filter_map(|q| parse_quantity(q))
                .sum::<f64>() as i64
        });
        let r = RankedPod {
            namespace: p.namespace.clone().unwrap_or_default(),
            name: p.name.clone().unwrap_or_default(),
            uid: p.uid.clone(),
            priority: facts.priority.as_ref().map(|x| x.value),
            memory_request_bytes: None,
            ephemeral_storage_request_bytes: request,
            stats: Some(stats),
            critical: facts.critical.is_some(),
        };
        let usage = eviction_ranking::pod_usage(&r, fs, resource);
        let exceeds = match resource {
            eviction_ranking::DiskResource::EphemeralStorage => {
                i128::from(usage) > i128::from(request.unwrap_or(0))
            }
            eviction_ranking::DiskResource::Inodes => usage > 0,
        };
        predicted.push(DiskPredictedPod {
            uid: p.uid.clone(),
            label: facts.label(),
            usage,
            measured,
            request_bytes: request,
            priority: r.priority,
            exceeds_request: exceeds,
            critical: r.critical,
            critical_because: facts.critical,
        });
        ranked.push(r);
    }
    eviction_ranking::rank_disk_pressure(&mut ranked, fs, resource);
    let mut out = Vec::with_capacity(predicted.len());
    for r in ranked {
        if let Some(i) = predicted.iter().position(|p| p.uid == r.uid) {
            out.push(predicted.swap_remove(i));
        }
    }
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
    adj_mismatches_first(snap, usize::MAX).0
}

/// The first `n` of [`adj_mismatches`] (in pid order) and how many there are in all; only
/// the `n` are built.
pub fn adj_mismatches_first(snap: &Snapshot, n: usize) -> (Vec<AdjMismatch>, usize) {
    use crate::analyze::oom_policy::{BESTEFFORT_OOM_SCORE_ADJ, GUARANTEED_OOM_SCORE_ADJ};
    let mut out = Vec::new();
    let mut count = 0usize;
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
        if ok {
            continue;
        }
        count += 1;
        if out.len() < n {
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
    (out, count)
}

/// One process as the kernel's OOM killer would rank it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelCandidate {
    /// How the pod is named to a reader ([`crate::model::Pod::label`]).
    pub label: String,
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
    kernel_order_top(snap, usize::MAX)
}

/// The first `n` of [`kernel_order`]. Only those `n` are built: ranked by their keys first, a
/// 10,000-process node costs 160 KB here, not the 2.5 MB of every candidate built and sorted.
pub fn kernel_order_top(snap: &Snapshot, n: usize) -> Vec<KernelCandidate> {
    let mut keys: Vec<(i64, u32, usize)> = snap
        .processes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let (_, c) = snap.container(p.container_id.as_deref()?)?;
            (!c.sandbox).then_some((p.oom_score?, p.pid, i))
        })
        .collect();
    keys.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    keys.truncate(n);
    keys.into_iter()
        .filter_map(|(_, _, i)| kernel_candidate(snap, snap.processes.get(i)?))
        .collect()
}

fn kernel_candidate(snap: &Snapshot, p: &crate::model::Process) -> Option<KernelCandidate> {
    let (pod, c) = snap.container(p.container_id.as_deref()?)?;
    Some(KernelCandidate {
        label: pod.label(),
        namespace: pod.namespace.clone(),
        pod: pod.name.clone(),
        container: c.name.clone(),
        pid: p.pid,
        comm: p.comm.clone(),
        oom_score: p.oom_score?,
        oom_score_adj: p.oom_score_adj,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    use crate::analyze::rules::testing::*;
    use crate::model::CgroupStats;

    #[test]
    fn request_estimates_by_class_and_adj_edge() {
        let cap = 1_000_000;
        assert_eq!(request_from_adj(3, Qos::Burstable, None, cap), 997_000);
        assert_eq!(request_from_adj(999, Qos::Burstable, None, cap), 1_000);
        // Outside the Burstable band the kubelet did not derive the adj from a request.
        assert_eq!(request_from_adj(2, Qos::Burstable, None, cap), 0);
        assert_eq!(request_from_adj(1000, Qos::Burstable, None, cap), 0);
        assert_eq!(request_from_adj(-997, Qos::Guaranteed, None, cap), 0);
        assert_eq!(request_from_adj(500, Qos::BestEffort, Some(10), cap), 0);
    }

    /// Pod `name` (QoS `qos`) with one container whose process has `adj`, `score`, and a pod
    /// cgroup of working set `ws` and `procs` processes.
    fn add(s: &mut Snapshot, name: &str, qos: Qos, adj: i64, score: i64, ws: u64, procs: u64) {
        let uid = format!("uid-{name}");
        let cid = format!("{name:0>64}");
        let mut p = pod("shop", name, &uid);
        p.qos = Some(qos);
        p.cgroup = Some(CgroupStats {
            usage_bytes: Some(ws + 100),
            inactive_file_bytes: Some(100),
            pids_current: Some(procs),
            ..cgroup(&format!("/kubepods/pod{uid}"))
        });
        p.containers.push(container(
            &cid,
            "app",
            Some(CgroupStats {
                limit_bytes: Some(400),
                ..cgroup("/c")
            }),
        ));
        s.pods.push(p);
        let mut pr = process(s.processes.len() as u32 + 10, name, Some(&cid));
        pr.oom_score_adj = Some(adj);
        pr.oom_score = Some(score);
        s.processes.push(pr);
    }

    fn names(v: &[PredictedPod]) -> Vec<&str> {
        v.iter().map(|p| p.pod.as_deref().unwrap_or("?")).collect()
    }

    #[test]
    fn the_kubelet_order_puts_the_pod_furthest_over_its_request_first() {
        let mut s = snap();
        s.memory = meminfo(1_000_000);
        // Burstable adj 900: request 100000; 'over' uses 300000, 'under' 50000.
        add(&mut s, "under", Qos::Burstable, 900, 1900, 50_000, 3);
        add(&mut s, "over", Qos::Burstable, 900, 1800, 300_000, 9);
        add(&mut s, "guaranteed", Qos::Guaranteed, -997, 3, 390, 1);
        add(&mut s, "critical", Qos::BestEffort, -997, 3, 999_000, 50);
        let order = kubelet_order(&s);
        assert_eq!(names(&order), ["critical", "over", "guaranteed", "under"]);
        let over = &order[1];
        assert_eq!(over.request_bytes, 100_000);
        assert_eq!(over.working_set_bytes, Some(300_000));
        assert!(over.exceeds_request && !over.critical);
        assert!(order[0].critical, "BestEffort at -997 is node-critical");
        assert!(!order[2].critical, "-997 is a Guaranteed pod's own adj");
        assert_eq!(order[2].request_bytes, 400, "Guaranteed requests its limit");
        // Under PID pressure: priorities equal, then the most processes first.
        assert_eq!(
            names(&kubelet_pid_order(&s)),
            ["critical", "over", "under", "guaranteed"]
        );
        // The kernel: by oom_score, highest first.
        let kernel = kernel_order(&s);
        let k: Vec<&str> = kernel.iter().map(|c| c.comm.as_str()).collect();
        assert_eq!(k, ["under", "over", "guaranteed", "critical"]);
        assert_eq!(kernel_order_top(&s, 2), kernel[..2]);
        assert_eq!(kernel_order_top(&s, 9), kernel);
    }

    /// A pod `name` whose /var/log/pods directory holds `logs` bytes, with the API's
    /// ephemeral-storage request and priority when `api` gives them.
    fn disk_pod(s: &mut Snapshot, name: &str, logs: u64, api: Option<(&str, i32)>) {
        use crate::model::cluster::{ApiContainer, ApiPod};
        use crate::model::disk::PodLogDir;
        use crate::model::fs::Walk;
        let uid = format!("uid-{name}");
        let mut p = pod("shop", name, &uid);
        p.api = api.map(|(request, priority)| ApiPod {
            uid: uid.clone(),
            namespace: "shop".into(),
            name: name.into(),
            priority: Some(priority),
            containers: vec![ApiContainer {
                name: "app".into(),
                requests: [("ephemeral-storage".to_string(), request.to_string())].into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        s.pods.push(p);
        s.disk.pod_logs.push(PodLogDir {
            uid: uid.clone(),
            namespace: "shop".into(),
            pod: name.into(),
            path: format!("/var/log/pods/shop_{name}_{uid}"),
            walk: Some(Walk {
                path: format!("/var/log/pods/shop_{name}_{uid}"),
                bytes: logs,
                apparent_bytes: logs,
                files: 1,
                dirs: 1,
                complete: true,
                unreadable: 0,
                largest_files: Vec::new(),
                densest_dirs: Vec::new(),
            }),
        });
    }

    fn disk_labels(v: &[DiskPredictedPod]) -> Vec<&str> {
        v.iter().map(|p| p.label.as_str()).collect()
    }

    /// kubernetes/kubernetes pkg/kubelet/eviction/helpers_test.go TestOrderedByPriorityDisk,
    /// laid out as a node (usage in the pods' log directories, which every nodefs ranking
    /// measures): the API's requests and priorities put the pods over their request first,
    /// low priority before high, then those under it. Without the API every request counts as
    /// 0 and every priority as 0, and the order is by usage alone.
    #[test]
    fn the_disk_order_uses_the_apis_requests_and_priorities() {
        use crate::analyze::eviction_ranking::DiskSignal;
        const MI: u64 = 1 << 20;
        let (low, high) = (1, 100);
        let layout = |api: bool| {
            let mut s = snap();
            let a = |r: &'static str, p: i32| api.then_some((r, p));
            disk_pod(
                &mut s,
                "below-requests-high-priority",
                60 * MI,
                a("1Gi", high),
            );
            disk_pod(
                &mut s,
                "below-requests-low-priority",
                700 * MI,
                a("1Gi", low),
            );
            disk_pod(
                &mut s,
                "above-requests-high-priority",
                350 * MI,
                a("100Mi", high),
            );
            disk_pod(&mut s, "above-requests-low-priority", 10 * MI, a("0", low));
            s
        };
        let order = kubelet_disk_order(&layout(true), DiskSignal::NodeFsAvailable);
        assert_eq!(
            disk_labels(&order),
            [
                "shop/above-requests-low-priority",
                "shop/above-requests-high-priority",
                "shop/below-requests-low-priority",
                "shop/below-requests-high-priority",
            ]
        );
        assert_eq!(order[1].usage, 350 * MI);
        assert_eq!(order[1].request_bytes, Some(100 * MI as i64));
        assert_eq!(order[1].measured, ["logs"]);
        assert!(order[1].exceeds_request && !order[2].exceeds_request);
        let order = kubelet_disk_order(&layout(false), DiskSignal::NodeFsAvailable);
        assert_eq!(
            disk_labels(&order),
            [
                "shop/below-requests-low-priority",
                "shop/above-requests-high-priority",
                "shop/below-requests-high-priority",
                "shop/above-requests-low-priority",
            ]
        );
        assert_eq!(order[0].request_bytes, None);
        // A dedicated imagefs: imagefs.available measures writable layers and images only, so
        // the logs count for nothing and the API's priorities alone order the pods.
        let mut s = layout(true);
        s.disk.nodefs = Some(crate::model::disk::FsRole {
            path: "/var/lib/kubelet".into(),
            mount_point: Some("/var".into()),
        });
        s.disk.imagefs = Some(crate::model::disk::FsRole {
            path: "/var/lib/containerd".into(),
            mount_point: Some("/var/lib/containerd".into()),
        });
        let order = kubelet_disk_order(&s, DiskSignal::ImageFsAvailable);
        assert!(order.iter().all(|p| p.usage == 0 && p.measured == ["logs"]));
        assert_eq!(order[0].priority, Some(low));
    }

    /// `evictPod` never evicts a critical pod (pkg/kubelet/eviction/eviction_manager.go): a
    /// mirror pod ranks first by usage but is flagged, so the first candidate is the next one.
    #[test]
    fn a_mirror_pod_ranks_but_is_never_the_disk_victim() {
        use crate::analyze::eviction_ranking::DiskSignal;
        use crate::model::pod_facts::Critical;
        let mut s = snap();
        disk_pod(&mut s, "etcd-node-a", 900, Some(("0", 0)));
        disk_pod(&mut s, "web", 100, Some(("0", 0)));
        if let Some(a) = s.pods[0].api.as_mut() {
            a.mirror_of = Some("uid-etcd-node-a".into());
        }
        let order = kubelet_disk_order(&s, DiskSignal::NodeFsAvailable);
        assert_eq!(disk_labels(&order), ["shop/etcd-node-a", "shop/web"]);
        assert_eq!(order[0].critical_because, Some(Critical::StaticOrMirror));
        assert_eq!(
            order.iter().find(|p| !p.critical).map(|p| p.label.as_str()),
            Some("shop/web")
        );
    }

    #[test]
    fn adj_values_the_kubelet_cannot_have_set_are_named() {
        let mut s = snap();
        s.memory = meminfo(1_000_000);
        add(&mut s, "g-ok", Qos::Guaranteed, -997, 1, 1, 1);
        add(&mut s, "g-bad", Qos::Guaranteed, 0, 1, 1, 1);
        add(&mut s, "be-ok", Qos::BestEffort, 1000, 1, 1, 1);
        add(&mut s, "be-bad", Qos::BestEffort, 999, 1, 1, 1);
        add(&mut s, "bu-ok-low", Qos::Burstable, 3, 1, 1, 1);
        add(&mut s, "bu-ok-high", Qos::Burstable, 999, 1, 1, 1);
        add(&mut s, "bu-bad-low", Qos::Burstable, 2, 1, 1, 1);
        add(&mut s, "bu-bad-high", Qos::Burstable, 1000, 1, 1, 1);
        add(&mut s, "critical", Qos::Burstable, -997, 1, 1, 1);
        let m = adj_mismatches(&s);
        let (first, all) = adj_mismatches_first(&s, 1);
        assert_eq!((first.as_slice(), all), (&m[..1], m.len()));
        let got: Vec<(&str, i64, &str)> = m
            .iter()
            .map(|m| (m.comm.as_str(), m.oom_score_adj, m.expected.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("g-bad", 0, "-997"),
                ("be-bad", 999, "1000 (or -997 if node-critical)"),
                ("bu-bad-low", 2, "3..=999 (or -997 if node-critical)"),
                ("bu-bad-high", 1000, "3..=999 (or -997 if node-critical)"),
            ]
        );
        assert_eq!(m[0].pod.as_deref(), Some("g-bad"));
        assert_eq!(m[0].container.as_deref(), Some("app"));
        // The sandbox's own adj (-998) is the runtime's, not a finding.
        let mut s2 = snap();
        add(&mut s2, "pause", Qos::Burstable, -998, 1, 1, 1);
        s2.pods[0].containers[0].sandbox = true;
        assert!(adj_mismatches(&s2).is_empty());
        assert!(kernel_order(&s2).is_empty(), "sandboxes are not candidates");
    }
}
