//! `memory.limit-near-peak`: a container's peak or current working set is within 10 % of its
//! memory limit: the next spike is a kernel OOM kill, not an eviction.

use crate::analyze::remedy::container_limit;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct MemoryLimitNearPeak;

/// Share of the limit at which a container is "near" it.
const NEAR: f64 = 0.90;

impl Rule for MemoryLimitNearPeak {
    fn id(&self) -> &'static str {
        "memory.limit-near-peak"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a container's peak or working set is >= 90% of its memory limit"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A container's highest recorded memory use (v2 memory.peak, v1 memory.max_usage_in_bytes) or
  its current working set (usage - inactive_file) has reached 90 % of its memory limit.

WHY IT MATTERS
  A container's limit is enforced by the kernel, not the kubelet: when usage reaches it and the
  kernel cannot reclaim page cache, the cgroup OOM killer kills a process in microseconds. The
  kubelet's eviction never sees it, because the node as a whole is fine. Limits sized from the
  steady state rather than the peak (JVM heaps, model loading, batch spikes) fail this way.

HOW TO CONFIRM
  v2: cat /sys/fs/cgroup/<pod slice>/<container scope>/{memory.peak,memory.max,memory.events}
  v1: cat /sys/fs/cgroup/memory/kubepods/<qos>/pod<uid>/<id>/{memory.max_usage_in_bytes,memory.limit_in_bytes,memory.failcnt}
  kubectl top pod -n NS POD --containers
  kubectl get pod -n NS POD -o jsonpath='{.status.containerStatuses[*].lastState}'

WHAT TO CHANGE
  Set the limit from the observed peak plus headroom (20-30 %), not from the average; for JVMs
  set -XX:MaxRAMPercentage so heap plus off-heap fits; or find what spikes at startup. If the
  workload may use more but should not die, raise the limit and keep the request honest."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for pod in &snap.pods {
            for c in pod.containers.iter().filter(|c| !c.sandbox) {
                let Some(cg) = &c.cgroup else { continue };
                let Some(limit) = cg.limit_bytes.filter(|&l| l > 0) else {
                    continue;
                };
                let peak = cg.peak_bytes;
                let ws = cg.working_set_bytes();
                let worst = peak.into_iter().chain(ws).max().unwrap_or(0);
                if (worst as f64) < limit as f64 * NEAR {
                    continue;
                }
                let what = if peak == Some(worst) {
                    "peak"
                } else {
                    "working set"
                };
                out.push(finding(
                    self,
                    Severity::Warning,
                    format!(
                        "{what} {} is {:.0}% of the {} limit",
                        units::bytes(worst),
                        worst as f64 * 100.0 / limit as f64,
                        units::bytes(limit)
                    ),
                    Subject::container(pod.namespace.clone(), pod.name.clone(), c.name.clone()),
                    serde_json::json!({
                        "limit_bytes": limit,
                        "peak_bytes": peak,
                        "working_set_bytes": ws,
                        "failcnt": cg.failcnt,
                        "cgroup": cg.path,
                    }),
                    container_limit(
                        &format!(
                            "{}/{}",
                            crate::model::pod_ref(
                                pod.namespace.as_deref(),
                                pod.name.as_deref(),
                                &pod.uid
                            ),
                            c.name.as_deref().unwrap_or(&c.id)
                        ),
                        Some(limit),
                        Some(worst),
                    )
                    .unwrap_or_else(|| {
                        "size the limit from the observed peak plus 20-30% headroom, or find what spikes".into()
                    }),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::CgroupStats;

    /// A node with one pod whose container has `cg` as its cgroup.
    fn node(cg: CgroupStats) -> Snapshot {
        let mut s = snap();
        let mut p = pod("shop", "web", "u1");
        p.containers.push(container("c1", "app", Some(cg)));
        s.pods.push(p);
        s
    }

    fn limited(
        limit: u64,
        peak: Option<u64>,
        usage: Option<u64>,
        inactive: Option<u64>,
    ) -> CgroupStats {
        CgroupStats {
            limit_bytes: Some(limit),
            peak_bytes: peak,
            usage_bytes: usage,
            inactive_file_bytes: inactive,
            ..cgroup("/kubepods.slice/podu1/c1")
        }
    }

    #[test]
    fn peak_at_exactly_90_percent_fires_and_one_byte_less_does_not() {
        let f = one(
            &MemoryLimitNearPeak,
            &node(limited(1000, Some(900), None, None)),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.title, "peak 900 is 90% of the 1000 limit");
        assert_eq!(f.subject.container.as_deref(), Some("app"));
        assert_eq!(f.evidence["peak_bytes"], 900);
        assert!(
            run(
                &MemoryLimitNearPeak,
                &node(limited(1000, Some(899), None, None))
            )
            .is_empty()
        );
    }

    #[test]
    fn working_set_counts_usage_minus_inactive_file() {
        // usage 950 - inactive 50 = 900: at the edge; the peak (800) is below it.
        let f = one(
            &MemoryLimitNearPeak,
            &node(limited(1000, Some(800), Some(950), Some(50))),
        );
        assert!(f.title.starts_with("working set 900 is 90%"), "{}", f.title);
        assert_eq!(f.evidence["working_set_bytes"], 900);
        // 950 - 51 = 899: short of it. Usage alone (950) would have fired.
        assert!(
            run(
                &MemoryLimitNearPeak,
                &node(limited(1000, Some(800), Some(950), Some(51)))
            )
            .is_empty()
        );
    }

    #[test]
    fn no_limit_a_zero_limit_and_sandboxes_are_never_judged() {
        let mut unlimited = limited(1000, Some(5000), None, None);
        unlimited.limit_bytes = None;
        assert!(run(&MemoryLimitNearPeak, &node(unlimited)).is_empty());
        assert!(
            run(
                &MemoryLimitNearPeak,
                &node(limited(0, Some(5000), None, None))
            )
            .is_empty()
        );
        let mut s = node(limited(1000, Some(1000), None, None));
        s.pods[0].containers[0].sandbox = true;
        assert!(run(&MemoryLimitNearPeak, &s).is_empty());
        let mut s = node(limited(1000, Some(1000), None, None));
        s.pods[0].containers[0].cgroup = None;
        assert!(run(&MemoryLimitNearPeak, &s).is_empty());
    }

    #[test]
    fn a_limit_with_nothing_measured_is_silent() {
        assert!(run(&MemoryLimitNearPeak, &node(limited(1000, None, None, None))).is_empty());
    }
}
