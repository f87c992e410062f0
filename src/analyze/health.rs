//! Shared judgement for the node-health rules (`kernel.*`, `fs.*`, `node.clock-unsynced`,
//! ...): which kernel events fall in the window a rule looks at, and who a pid or a device is.

use crate::analyze::oom::{human_age, kernel_time};
use crate::model::health::{KernelEvent, KernelEventKind};
use crate::model::{Mount, Snapshot};

/// How far back kernel events count: a day covers last night's incident; older records in
/// the ring are history, not the node's state.
pub const WINDOW_SECONDS: i64 = 24 * 3600;

/// A kernel event with its wall-clock time and age, when the boot time is known.
#[derive(Debug, Clone)]
pub struct DatedEvent<'a> {
    pub event: &'a KernelEvent,
    pub time: Option<jiff::Timestamp>,
    pub age_seconds: Option<i64>,
}

impl DatedEvent<'_> {
    /// `3m ago`, or `at 1234.5 s after boot` when the boot time is unknown.
    pub fn when(&self) -> String {
        match self.age_seconds {
            Some(a) => format!("{} ago", human_age(a)),
            None => format!("at {:.1} s after boot", self.event.usec as f64 / 1e6),
        }
    }

    /// The evidence form: time, age, seq and the record as logged.
    pub fn evidence(&self) -> serde_json::Value {
        serde_json::json!({
            "time": self.time,
            "age_seconds": self.age_seconds,
            "seq": self.event.seq,
            "message": self.event.message,
        })
    }
}

/// The events `keep` selects that happened within [`WINDOW_SECONDS`] of the snapshot (all of
/// them when the boot time is unknown), oldest first.
pub fn recent<'a>(
    snap: &'a Snapshot,
    keep: impl Fn(&KernelEventKind) -> bool,
) -> Vec<DatedEvent<'a>> {
    snap.health
        .kernel_events
        .iter()
        .filter(|e| keep(&e.kind))
        .map(|e| {
            let time = kernel_time(snap, e.usec);
            DatedEvent {
                event: e,
                time,
                age_seconds: time.map(|t| snap.taken_at.as_second() - t.as_second()),
            }
        })
        .filter(|d| d.age_seconds.is_none_or(|a| a <= WINDOW_SECONDS))
        .collect()
}

/// The namespace, pod and container of a process, when it runs in a pod the node knows.
pub fn pod_of_pid(snap: &Snapshot, pid: u32) -> (Option<String>, Option<String>, Option<String>) {
    let Some(cid) = snap
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .and_then(|p| p.container_id.as_deref())
    else {
        return (None, None, None);
    };
    match snap.container(cid) {
        Some((p, c)) => (p.namespace.clone(), p.name.clone(), c.name.clone()),
        None => (None, None, None),
    }
}

/// The mounts of a block device the kernel names (`sda1`, `dm-4`, `loop3`): those whose
/// source is `/dev/<device>`.
pub fn mounts_of_device<'a>(snap: &'a Snapshot, device: &str) -> Vec<&'a Mount> {
    let dev = format!("/dev/{device}");
    let mut v: Vec<&Mount> = snap.mounts.iter().filter(|m| m.source == dev).collect();
    v.sort_by_key(|m| m.mount_point.len());
    v.dedup_by(|a, b| a.mount_point == b.mount_point);
    v
}

/// Whether a mount is mounted read-only (`ro` among its per-mount options).
pub fn is_read_only(m: &Mount) -> bool {
    m.options.split(',').any(|o| o == "ro")
}
