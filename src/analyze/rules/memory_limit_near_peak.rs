//! `memory.limit-near-peak`: a container's peak or current working set is within 10 % of its
//! memory limit: the next spike is a kernel OOM kill, not an eviction.

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
                    "size the limit from the observed peak plus 20-30% headroom, or find what spikes",
                ));
            }
        }
    }
}
