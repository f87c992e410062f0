//! Snapshots built in code for the rules' unit tests: an empty node at a fixed time, to which a
//! test adds only the facts its rule reads.

use crate::analyze::{Finding, Rule};
use crate::model::{NodeIdentity, SNAPSHOT_SCHEMA, Snapshot};

/// The time every test snapshot is taken at.
pub const NOW: &str = "2026-11-22T03:00:00Z";

/// An empty node named `node-a`, booted two days before [`NOW`].
pub fn snapshot() -> Snapshot {
    let now: jiff::Timestamp = NOW.parse().expect("NOW");
    Snapshot {
        schema: SNAPSHOT_SCHEMA.into(),
        taken_at: now,
        source: "test".into(),
        node: NodeIdentity {
            hostname: Some("node-a".into()),
            kernel: None,
            uptime_seconds: Some(172_800.0),
            boot_time: Some(now - jiff::SignedDuration::from_hours(48)),
            euid: 0,
        },
        memory: None,
        psi: Default::default(),
        pids: Default::default(),
        mounts: Vec::new(),
        filesystems: Vec::new(),
        cgroup: Default::default(),
        root_memory: None,
        kubepods: None,
        pods: Vec::new(),
        container_logs: Vec::new(),
        processes: Vec::new(),
        kubelet: None,
        distribution: None,
        untrusted_daemons: Vec::new(),
        kernel_log: Vec::new(),
        oom_kills: Vec::new(),
        kubelet_log: Vec::new(),
        disk: Default::default(),
        dns: Default::default(),
        gpu: Default::default(),
        cluster: None,
        health: Default::default(),
        errors: Vec::new(),
    }
}

/// What `rule` finds in `snap`.
pub fn run(rule: &dyn Rule, snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    rule.check(snap, &mut out);
    out
}

/// Microseconds since the test boot of a moment `ago` seconds before [`NOW`].
pub fn usec_ago(ago: i64) -> u64 {
    u64::try_from(172_800 - ago).unwrap_or(0) * 1_000_000
}

/// A kernel event record as the collector would make it from `message`.
pub fn kernel_event(message: &str, ago: i64) -> crate::model::health::KernelEvent {
    crate::model::health::KernelEvent {
        seq: 1,
        usec: usec_ago(ago),
        kind: crate::collect::kernel_events::classify(message).expect("a kernel event"),
        message: message.into(),
    }
}
