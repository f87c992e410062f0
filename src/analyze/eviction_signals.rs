//! The kubelet's eviction signals, computed from a snapshot exactly as the kubelet computes
//! them (docs/kubelet-semantics.md §1.2–1.3, §8):
//!
//! - `memory.available = MemTotal×1024 − (usage − inactive_file)` of the root cgroup, capacity
//!   `MemTotal×1024` (`helpers_others.go:makeMemoryAvailableSignalObservation`, cadvisor);
//! - `allocatableMemory.available = kubepods limit − kubepods working set`, only when the limit
//!   is set (≤ 2^62);
//! - `pid.available = min(pid_max, threads-max) − threads` (`pidlimit_linux.go`);
//! - a threshold is met iff `threshold > available` (strict; `helpers.go:thresholdsMet`).

use crate::model::{Snapshot, ThresholdValue};
use serde::Serialize;

/// One signal observation: what is available and the capacity percentages resolve against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub available: i64,
    pub capacity: i64,
}

impl Observation {
    /// Whether `threshold` is met: resolved against this capacity, strictly above available.
    pub fn met(&self, threshold: &ThresholdValue) -> bool {
        resolve(threshold, self.capacity) > self.available
    }
}

/// A threshold in the signal's units (`GetThresholdQuantity`).
pub fn resolve(threshold: &ThresholdValue, capacity: i64) -> i64 {
    threshold.resolve(u64::try_from(capacity).unwrap_or(0))
}

/// `memory.available` of the node.
pub fn memory_available(snap: &Snapshot) -> Option<Observation> {
    let capacity = i64::try_from(snap.memory?.mem_total_bytes).ok()?;
    let ws = i64::try_from(snap.root_memory?.working_set_bytes()).ok()?;
    Some(Observation {
        available: capacity - ws,
        capacity,
    })
}

/// `allocatableMemory.available`: the kubepods cgroup's limit minus its working set.
pub fn allocatable_memory_available(snap: &Snapshot) -> Option<Observation> {
    let kp = snap.kubepods.as_ref()?;
    let limit = i64::try_from(kp.limit_bytes?).ok()?;
    let ws = i64::try_from(kp.working_set_bytes()?).ok()?;
    Some(Observation {
        available: limit - ws,
        capacity: limit,
    })
}

/// `pid.available` of the node.
pub fn pid_available(snap: &Snapshot) -> Option<Observation> {
    let p = &snap.pids;
    let max = match (p.pid_max, p.threads_max) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    let max = i64::try_from(max).ok()?;
    let cur = i64::try_from(p.threads?).ok()?;
    Some(Observation {
        available: max - cur,
        capacity: max,
    })
}

/// Bytes for humans: [`crate::model::units::signed_bytes`] (signals can be negative). Kept
/// under this name for the callers that format a signal.
pub use crate::model::units::signed_bytes as human_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_met_is_strict() {
        let o = Observation {
            available: 104_857_600,
            capacity: 1 << 34,
        };
        assert!(
            !o.met(&ThresholdValue::Quantity("100Mi".into())),
            "equal is not met"
        );
        let o = Observation {
            available: 104_857_599,
            capacity: 1 << 34,
        };
        assert!(o.met(&ThresholdValue::Quantity("100Mi".into())));
    }

    #[test]
    fn human_bytes_reads_like_kubectl() {
        assert_eq!(human_bytes(104_857_600), "100Mi");
        assert_eq!(human_bytes(9_771_050_598), "9.1Gi");
        assert_eq!(human_bytes(512), "512");
        assert_eq!(human_bytes(-2048), "-2Ki");
    }
}
