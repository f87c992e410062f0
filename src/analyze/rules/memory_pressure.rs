//! `memory.pressure`: `memory.available`, computed as the kubelet computes it, is below (or
//! near) an eviction threshold, or the node is stalling on memory (PSI).

use crate::analyze::eviction_signals::{
    allocatable_memory_available, human_bytes, memory_available, resolve,
};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct MemoryPressure;

/// PSI memory `full avg10` at or above this percent: every task stalled on memory for at least
/// 1 s of the last 10 s on average.
const PSI_FULL_AVG10: f64 = 10.0;
/// "Near" the hard threshold: available below threshold × 1.10.
const NEAR: f64 = 1.10;

impl Rule for MemoryPressure {
    fn id(&self) -> &'static str {
        "memory.pressure"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "memory.available is below or within 10% of an eviction threshold, or PSI stalls"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  memory.available, computed exactly as the kubelet does, is below the hard eviction threshold
  (critical), below a soft threshold or within 10 % of the hard one (warning); or the kernel
  reports memory stalls: PSI memory full avg10 >= 10 % (warning). The kubelet's
  allocatableMemory.available (kubepods limit minus kubepods working set) is checked against the
  same hard threshold when enforceNodeAllocatable includes pods.

WHY IT MATTERS
  memory.available = MemTotal - (root cgroup usage - inactive_file). It is not free memory and
  not MemAvailable: active page cache counts as used. Below the hard threshold the kubelet evicts
  one pod per 10-second loop with a 1-second grace period, ranked by whether usage exceeds
  requests, then priority, then usage over request. If memory runs out faster than that loop,
  the kernel's OOM killer acts first and picks by oom_score instead.

HOW TO CONFIRM
  grep MemTotal /proc/meminfo
  v2: grep -E '^(anon|file|inactive_file) ' /sys/fs/cgroup/memory.stat
  v1: cat /sys/fs/cgroup/memory/memory.usage_in_bytes; grep total_inactive_file /sys/fs/cgroup/memory/memory.stat
  available = MemTotal*1024 - (usage - inactive_file)   (v2 usage = anon + file)
  cat /proc/pressure/memory
  kubectl describe node NODE | grep MemoryPressure

WHAT TO CHANGE
  Now: find the pods whose working set exceeds their requests (they are evicted first) and
  scale or move them. Then: set memory requests close to real usage, limits from the observed
  peak, a soft threshold above the hard one, evictionMinimumReclaim, and systemReserved /
  kubeReserved so the node keeps headroom."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let obs = memory_available(snap);
        let cfg = snap.kubelet.as_ref().map(|k| &k.config);
        let hard = cfg.and_then(|c| c.eviction_hard.get("memory.available"));
        let soft = cfg.and_then(|c| c.eviction_soft.get("memory.available"));
        let psi_full = snap.psi.memory.and_then(|p| p.full).map(|f| f.avg10);
        let mut worst: Option<Severity> = None;
        let mut reasons: Vec<String> = Vec::new();
        let mut raise = |s: Severity, why: String, worst: &mut Option<Severity>| {
            *worst = Some(worst.map_or(s, |w| w.max(s)));
            reasons.push(why);
        };
        let mut ev = serde_json::Map::new();
        if let Some(o) = obs {
            ev.insert("memory_available_bytes".into(), o.available.into());
            ev.insert("capacity_bytes".into(), o.capacity.into());
            ev.insert(
                "working_set_bytes".into(),
                (o.capacity - o.available).into(),
            );
            if let Some(h) = hard {
                let q = resolve(h, o.capacity);
                ev.insert("hard_threshold".into(), h.to_string().into());
                ev.insert("hard_threshold_bytes".into(), q.into());
                if o.met(h) {
                    raise(
                        Severity::Critical,
                        format!(
                            "memory.available {} is below the hard threshold {}",
                            human_bytes(o.available),
                            human_bytes(q)
                        ),
                        &mut worst,
                    );
                } else if (o.available as f64) < q as f64 * NEAR {
                    raise(
                        Severity::Warning,
                        format!(
                            "memory.available {} is within 10% of the hard threshold {}",
                            human_bytes(o.available),
                            human_bytes(q)
                        ),
                        &mut worst,
                    );
                }
            }
            if let Some(s) = soft {
                let q = resolve(s, o.capacity);
                ev.insert("soft_threshold".into(), s.to_string().into());
                ev.insert("soft_threshold_bytes".into(), q.into());
                if o.met(s) {
                    raise(
                        Severity::Warning,
                        format!(
                            "memory.available {} is below the soft threshold {}",
                            human_bytes(o.available),
                            human_bytes(q)
                        ),
                        &mut worst,
                    );
                }
            }
        }
        let enforces_pods =
            cfg.is_some_and(|c| c.enforce_node_allocatable.iter().any(|e| e == "pods"));
        if let (Some(a), Some(h), true) = (allocatable_memory_available(snap), hard, enforces_pods)
        {
            let q = resolve(h, a.capacity);
            ev.insert(
                "allocatable_memory_available_bytes".into(),
                a.available.into(),
            );
            ev.insert("allocatable_capacity_bytes".into(), a.capacity.into());
            if a.met(h) {
                raise(
                    Severity::Critical,
                    format!(
                        "allocatableMemory.available {} (kubepods limit {}) is below the hard threshold {}",
                        human_bytes(a.available),
                        human_bytes(a.capacity),
                        human_bytes(q)
                    ),
                    &mut worst,
                );
            }
        }
        if let Some(f) = psi_full {
            ev.insert("psi_memory_full_avg10".into(), f.into());
            if f >= PSI_FULL_AVG10 {
                raise(
                    Severity::Warning,
                    format!("memory PSI full avg10 is {f:.1}%: tasks are stalling on memory"),
                    &mut worst,
                );
            }
        }
        let Some(sev) = worst else { return };
        ev.insert("reasons".into(), reasons.clone().into());
        out.push(finding(
            self,
            sev,
            reasons.join("; "),
            Subject::node(snap),
            serde_json::Value::Object(ev),
            "move or shrink the pods whose working set exceeds their requests; then add a soft threshold, minimum reclaim and reserved memory",
        ));
    }
}
