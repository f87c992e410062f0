//! `node.kubelet-stats-mismatch`: the kubelet's own `memory.available` or nodefs free bytes
//! (`/stats/summary`, the numbers its eviction manager judges) differ from the ones nodescope
//! computed the kubelet's way, by more than two samples of a moving quantity can. Every
//! eviction rule trusts nodescope's figures; this says when the kubelet sees another node.

use crate::analyze::disk::{bytes_observation, stat_of};
use crate::analyze::eviction_signals::human_bytes;
use crate::analyze::eviction_signals::memory_available;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeKubeletStatsMismatch;

const MIB: i64 = 1 << 20;

/// How far the two `memory.available` figures may be apart and still agree: the larger of
/// 100 MiB (the kubelet's default hard threshold, the smallest margin it acts on) and 2 % of
/// capacity. The summary's figure is cAdvisor's root-cgroup sample, refreshed once per
/// housekeeping interval (10 s), nodescope's is read at another instant, and a busy node's
/// working set moves by that much between two samples seconds apart.
pub fn memory_tolerance(capacity: i64) -> i64 {
    (100 * MIB).max(capacity / 50)
}

/// The same for nodefs free bytes: the larger of 512 MiB and 1 % of capacity. Both are
/// statfs of the same filesystem, but cAdvisor's is cached for a housekeeping interval, in
/// which container logs and image pulls write hundreds of MiB.
pub fn fs_tolerance(capacity: i64) -> i64 {
    (512 * MIB).max(capacity / 100)
}

/// One figure both sides have, and whether they agree.
#[derive(serde::Serialize)]
struct Compared {
    signal: &'static str,
    kubelet: i64,
    nodescope: i64,
    difference: i64,
    tolerance: i64,
    explanation: String,
}

fn memory(snap: &Snapshot, kubelet: i64, sampled: Option<&str>) -> Option<Compared> {
    let o = memory_available(snap)?;
    let age = sampled
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| snap.taken_at.duration_since(t).as_secs());
    Some(Compared {
        signal: "memory.available",
        kubelet,
        nodescope: o.available,
        difference: kubelet - o.available,
        tolerance: memory_tolerance(o.capacity),
        explanation: format!(
            "nodescope: MemTotal {} − root cgroup working set (usage − inactive_file) = {}; the kubelet: capacity − workingSet = {}{}. Larger gaps come from samples far apart in time, a kubelet whose cgroup root is not the host's (--cgroup-root, a kubelet in its own cgroup namespace), or a working set nodescope read from another cgroup file",
            human_bytes(o.capacity),
            human_bytes(o.available),
            human_bytes(kubelet),
            age.map_or(String::new(), |a| format!(
                " (sampled {a} s before nodescope's snapshot)"
            )),
        ),
    })
}

fn nodefs(snap: &Snapshot, kubelet: i64) -> Option<Compared> {
    let mp = snap.disk.nodefs.as_ref()?.mount_point.as_deref()?;
    let o = bytes_observation(stat_of(snap, mp)?);
    Some(Compared {
        signal: "nodefs.available",
        kubelet,
        nodescope: o.available,
        difference: kubelet - o.available,
        tolerance: fs_tolerance(o.capacity),
        explanation: format!(
            "nodescope: statvfs of {mp} (f_bavail × f_frsize) = {}; the kubelet: {}. A larger gap means the kubelet's root dir is on another filesystem than the one nodescope found (--root-dir), or its cached statfs is stale",
            human_bytes(o.available),
            human_bytes(kubelet),
        ),
    })
}

impl Rule for NodeKubeletStatsMismatch {
    fn id(&self) -> &'static str {
        "node.kubelet-stats-mismatch"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "the kubelet's memory.available or nodefs figures differ from nodescope's"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet's /stats/summary (read through the API server's node proxy) gives the node's
  memory.available (capacity − workingSet, pkg/kubelet/eviction/helpers.go
  makeSignalObservations) and its root filesystem's free bytes: the very numbers its eviction
  manager compares with the thresholds. nodescope computes both itself, the kubelet's way. The
  two differ by more than two samples of a moving quantity can (memory: the larger of 100 MiB
  and 2 % of capacity; nodefs: the larger of 512 MiB and 1 % of capacity).

WHY IT MATTERS
  The eviction rules judge nodescope's figures. When the kubelet sees another number, it
  evicts (or does not) on that one: a kubelet under another cgroup root, a root dir on another
  filesystem, or stale statistics make it act on a node that is not the one on screen.

HOW TO CONFIRM
  kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary | jq '.node.memory, .node.fs'
  cat /sys/fs/cgroup/memory.stat | grep -w inactive_file; grep MemTotal /proc/meminfo
  df -B1 /var/lib/kubelet

WHAT TO CHANGE
  Nothing on the node by itself: find which side reads another source (the evidence names
  both computations), then judge the thresholds by the kubelet's figure."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(s) = snap
            .cluster
            .as_ref()
            .and_then(|c| c.kubelet.as_ref())
            .and_then(|k| k.summary.as_ref())
        else {
            return;
        };
        let as_i64 = |v: Option<u64>| v.and_then(|x| i64::try_from(x).ok());
        let compared: Vec<Compared> = [
            as_i64(s.memory_available_bytes)
                .and_then(|k| memory(snap, k, s.memory_time.as_deref())),
            as_i64(s.fs_available_bytes).and_then(|k| nodefs(snap, k)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let apart: Vec<&Compared> = compared
            .iter()
            .filter(|c| c.difference.abs() > c.tolerance)
            .collect();
        if apart.is_empty() {
            return;
        }
        out.push(finding(
            self,
            Severity::Info,
            format!(
                "the kubelet sees {}",
                apart
                    .iter()
                    .map(|c| format!(
                        "{} {} where nodescope computed {}",
                        c.signal,
                        human_bytes(c.kubelet),
                        human_bytes(c.nodescope)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Subject::node(snap),
            serde_json::json!({ "compared": compared }),
            "find which side reads another source (the evidence names both); the kubelet evicts on its own figure",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::{Cluster, KubeletView, NodeSummary};

    const GIB: u64 = 1 << 30;

    /// A 16 GiB node whose root cgroup works with 6 GiB: nodescope's memory.available is
    /// 10 GiB; the kubelet's is `kubelet`.
    fn node(kubelet: u64) -> Snapshot {
        let mut s = snap();
        s.memory = meminfo(16 * GIB);
        s.root_memory = Some(crate::model::RootMemory {
            usage_bytes: 7 * GIB,
            inactive_file_bytes: GIB,
        });
        s.cluster = Some(Cluster {
            source: "test".into(),
            kubelet: Some(KubeletView {
                running_config: None,
                summary: Some(NodeSummary {
                    memory_available_bytes: Some(kubelet),
                    memory_time: Some("2026-11-22T02:59:55Z".into()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        });
        s
    }

    #[test]
    fn a_kubelet_seeing_far_more_memory_is_reported_with_both_computations() {
        let f = one(&NodeKubeletStatsMismatch, &node(13 * GIB));
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(
            f.title,
            "the kubelet sees memory.available 13Gi where nodescope computed 10Gi"
        );
        let c = &f.evidence["compared"][0];
        assert_eq!(c["difference"], 3 * GIB as i64);
        assert_eq!(c["tolerance"], (16 * GIB / 50) as i64);
        assert!(
            c["explanation"]
                .as_str()
                .unwrap()
                .contains("(sampled 5 s before nodescope's snapshot)"),
            "{c}"
        );
    }

    #[test]
    fn figures_within_the_tolerance_stay_quiet() {
        // 300 MiB apart on a 16 GiB node: under 2 % (327 MiB).
        assert!(run(&NodeKubeletStatsMismatch, &node(10 * GIB + 300 * (1 << 20))).is_empty());
        assert!(run(&NodeKubeletStatsMismatch, &snap()).is_empty());
    }
}
