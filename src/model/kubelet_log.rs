//! The kubelet's own record of what its eviction manager did, from its log: when it started
//! reclaiming a resource, whom it ranked first, whom it evicted, and the node-condition events it
//! recorded. Messages are those of `pkg/kubelet/eviction/eviction_manager.go` (structured klog
//! since v1.21: `"Eviction manager: attempting to reclaim" resourceName="memory"`; older glog:
//! `eviction manager: attempting to reclaim memory`).

use serde::{Deserialize, Serialize};

/// Which step of `synchronize` / `evictPod` a log line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvictionStep {
    /// `Eviction manager: attempting to reclaim`: a threshold was met for a resource.
    AttemptingToReclaim,
    /// `able to reduce resource pressure without evicting pods`: image/container GC sufficed.
    ReclaimedWithoutEviction,
    /// `must evict pod(s) to reclaim`.
    MustEvict,
    /// `eviction thresholds have been met, but no pods are active to evict`.
    NoPodsToEvict,
    /// `pods ranked for eviction`: the ranking, first victim first.
    Ranked,
    /// `Evicting pod` (verbosity 3).
    Evicting,
    /// `pod is evicted successfully`.
    Evicted,
    /// `cannot evict a critical pod`.
    CannotEvictCritical,
    /// `unable to evict any pods from the node`.
    UnableToEvict,
    /// `Recording event message for node` with a pressure or readiness event.
    NodeCondition,
}

/// One eviction-manager line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KubeletLogEvent {
    /// When it was logged: the journal's timestamp, or the klog header's (read as UTC, with the
    /// year of the snapshot) for plain log files. `None` when the line carried no time.
    pub time: Option<jiff::Timestamp>,
    /// `journal` or the log file's path.
    pub source: String,
    pub step: EvictionStep,
    /// The resource being reclaimed (`memory`, `ephemeral-storage`, `pids`), when the line names one.
    pub resource: Option<String>,
    /// Pods named by the line as `namespace/name`, in the order logged.
    pub pods: Vec<String>,
    /// The node event recorded (`NodeHasInsufficientMemory`, `NodeNotReady`, ...).
    pub condition: Option<String>,
    /// The message after the klog header, cut at 512 bytes.
    pub message: String,
}
