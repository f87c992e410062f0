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
            crate::analyze::remedy::node_pressure(snap),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::{CgroupStats, Pressure, PsiLine, RootMemory};

    const GIB: u64 = 1 << 30;
    const MI100: i64 = 100 * 1024 * 1024;

    /// 16 GiB node whose memory.available is `available` bytes, kubelet defaults
    /// (hard memory.available 100Mi).
    fn node(available: i64) -> Snapshot {
        let mut s = snap();
        s.memory = meminfo(16 * GIB);
        s.root_memory = Some(RootMemory {
            usage_bytes: (16 * GIB as i64 - available) as u64 + 1000,
            inactive_file_bytes: 1000,
        });
        s.kubelet = kubelet(kubelet_defaults());
        s
    }

    #[test]
    fn below_the_hard_threshold_is_critical_and_equal_to_it_is_not_met() {
        // thresholdsMet is strict: met iff 100Mi > available.
        let f = one(&MemoryPressure, &node(MI100 - 1));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["memory_available_bytes"], MI100 - 1);
        assert_eq!(f.evidence["hard_threshold_bytes"], MI100);
        let f = one(&MemoryPressure, &node(MI100));
        assert_eq!(f.severity, Severity::Warning, "equal is near, not met");
        assert!(
            f.title.contains("within 10% of the hard threshold"),
            "{}",
            f.title
        );
    }

    #[test]
    fn the_near_band_ends_at_ten_percent_above_the_hard_threshold() {
        // 100Mi × 1.10 in f64 is 115343360.00000001 (1.1 is not exact), so 115343360 bytes is
        // still inside the band and 115343361 is the first byte outside it.
        let edge = 115_343_361;
        assert_eq!(
            severities(&MemoryPressure, &node(edge - 1)),
            [Severity::Warning]
        );
        assert!(run(&MemoryPressure, &node(edge)).is_empty());
    }

    #[test]
    fn a_soft_threshold_met_warns() {
        let mut s = node(GIB as i64 - 1);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.eviction_soft = thresholds("memory.available", "1Gi");
        }
        let f = one(&MemoryPressure, &s);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "memory.available 1024Mi is below the soft threshold 1Gi"
        );
        assert_eq!(f.evidence["soft_threshold_bytes"], GIB);
        if let Some(r) = s.root_memory.as_mut() {
            r.usage_bytes -= 1;
        }
        assert!(
            run(&MemoryPressure, &s).is_empty(),
            "available = soft threshold is not met"
        );
    }

    #[test]
    fn a_percent_threshold_resolves_against_memtotal() {
        // 10% of 16Gi through float32, as GetThresholdQuantity does: 1717986944.
        let mut s = node(1_717_986_943);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.eviction_hard = thresholds("memory.available", "10%");
        }
        assert_eq!(
            one(&MemoryPressure, &s).evidence["hard_threshold_bytes"],
            1_717_986_944i64
        );
        assert_eq!(severities(&MemoryPressure, &s), [Severity::Critical]);
    }

    /// A node with plenty of memory whose kubepods cgroup has `available` bytes left under a
    /// 10 GiB limit.
    fn allocatable(available: u64) -> Snapshot {
        let mut s = node(8 * GIB as i64);
        s.kubepods = Some(CgroupStats {
            limit_bytes: Some(10 * GIB),
            usage_bytes: Some(10 * GIB - available + 500),
            inactive_file_bytes: Some(500),
            ..cgroup("/kubepods.slice")
        });
        s
    }

    #[test]
    fn allocatable_memory_below_the_hard_threshold_is_critical() {
        let f = one(&MemoryPressure, &allocatable(MI100 as u64 - 1));
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.title.starts_with("allocatableMemory.available"),
            "{}",
            f.title
        );
        assert!(run(&MemoryPressure, &allocatable(MI100 as u64)).is_empty());
    }

    #[test]
    fn allocatable_is_judged_only_when_pods_are_enforced() {
        let mut s = allocatable(0);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.enforce_node_allocatable = vec!["system-reserved".into()];
        }
        assert!(run(&MemoryPressure, &s).is_empty());
    }

    fn psi(full_avg10: f64) -> Snapshot {
        let mut s = snap();
        s.psi.memory = Some(Pressure {
            some: PsiLine::default(),
            full: Some(PsiLine {
                avg10: full_avg10,
                ..Default::default()
            }),
        });
        s
    }

    #[test]
    fn psi_full_avg10_of_ten_warns_and_just_under_is_silent() {
        let f = one(&MemoryPressure, &psi(10.0));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "memory PSI full avg10 is 10.0%: tasks are stalling on memory"
        );
        assert!(run(&MemoryPressure, &psi(9.99)).is_empty());
    }

    #[test]
    fn the_worst_reason_sets_the_severity_and_all_are_listed() {
        let mut s = node(MI100 - 1);
        s.psi = psi(50.0).psi;
        let f = one(&MemoryPressure, &s);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["reasons"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn without_a_hard_threshold_only_the_soft_one_and_psi_count() {
        let mut s = node(1);
        if let Some(k) = s.kubelet.as_mut() {
            k.config.eviction_hard.clear();
        }
        assert!(run(&MemoryPressure, &s).is_empty());
        s.kubelet = None;
        assert!(run(&MemoryPressure, &s).is_empty());
    }

    /// Past the hard threshold on the defaults, the fix adds the soft tier, the minimum reclaim
    /// and the reservation; with all of them set it says the config is sound instead.
    #[test]
    fn the_fix_adds_only_what_the_config_lacks() {
        let s = node(MI100 - 1);
        assert_eq!(
            one(&MemoryPressure, &s).remedy,
            "raise `evictionHard: memory.available` from 100Mi to 384Mi; add `evictionSoft: {memory.available: 768Mi}`; add `evictionSoftGracePeriod: {memory.available: 1m30s}`; add `systemReserved: {memory: 960Mi}`; add `evictionMinimumReclaim: {memory.available: 256Mi}`"
        );
        let mut s = node(MI100 - 1);
        s.kubelet = kubelet(sound_memory_config());
        assert_eq!(
            one(&MemoryPressure, &s).remedy,
            "config is sound (evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved)"
        );
    }
}
