//! Snapshots built in code for the rules' unit tests: an empty node at a fixed time, to which a
//! test adds only the facts its rule reads.

use crate::model::Snapshot;

/// The time every test snapshot is taken at.
pub use crate::analyze::rules::testing::NOW;

/// An empty node named `node-a` ([`crate::analyze::rules::testing::snap`]), booted two days
/// before [`NOW`].
pub fn snapshot() -> Snapshot {
    let mut s = crate::analyze::rules::testing::snap();
    s.source = "test".into();
    s.node.uptime_seconds = Some(172_800.0);
    s.node.boot_time = Some(s.taken_at - jiff::SignedDuration::from_hours(48));
    s
}

/// What `rule` finds in `snap` (the rules' test runner, which also checks the ids).
pub use crate::analyze::rules::testing::run;

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
