//! The `check --format json` report, schema `nodescope-check/1`. Scripts rely on it: fields
//! are only ever added; renaming or removing one bumps the schema name
//! (docs/schema/nodescope-check.schema.json).
//!
//! ```text
//! {
//!   "schema": "nodescope-check/1",
//!   "node": "node-a",                  hostname of the node analyzed
//!   "source": "live host at /",        or "bundle <path> (captured <time>)"
//!   "taken_at": "2026-11-22T03:00:00Z",
//!   "summary": {"critical": 0, "warning": 1, "info": 0},
//!   "findings": [{
//!     "id": "eviction.hard-only",      rule id (docs/rules.md)
//!     "severity": "warning",           info | warning | critical
//!     "title": "...",                  one line with the number that proves it
//!     "subject": {"node": "node-a"},   whichever of node, namespace, pod, container, pid, path, device apply
//!     "evidence": {...},               rule-specific facts
//!     "remedy": "..."                  what to change
//!   }],
//!   "errors": [{"collector": "kmsg", "kind": "denied", "path": "/dev/kmsg", "message": "..."}]
//! }
//! ```
//! Findings are sorted worst first, then by id and subject.

use crate::analyze::{Finding, Severity};
use crate::model::{CollectError, Snapshot};
use serde::Serialize;

/// The schema name of `check --format json`.
pub const CHECK_SCHEMA: &str = "nodescope-check/1";

/// Number of findings by severity.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
}

// Named `Report`, not `CheckReport`: the name is the published schema's title.
/// The `check --format json` document.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Report<'a> {
    /// Always `nodescope-check/1` for this shape.
    pub schema: &'static str,
    /// The node's hostname.
    pub node: &'a str,
    /// Where the facts came from: `live host at /`, `bundle <path> (captured <time>)`.
    pub source: &'a str,
    /// When the facts are from.
    pub taken_at: jiff::Timestamp,
    pub summary: Summary,
    /// Worst first, then by id and subject.
    pub findings: &'a [Finding],
    /// What could not be collected, and why.
    pub errors: &'a [CollectError],
}

/// Builds the report of `snap` and its `findings` (sorted already, as `analyze` returns them).
pub fn build<'a>(snap: &'a Snapshot, findings: &'a [Finding]) -> Report<'a> {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    Report {
        schema: CHECK_SCHEMA,
        node: snap.hostname(),
        source: &snap.source,
        taken_at: snap.taken_at,
        summary: Summary {
            critical: count(Severity::Critical),
            warning: count(Severity::Warning),
            info: count(Severity::Info),
        },
        findings,
        errors: &snap.errors,
    }
}

/// The JSON Schema of `check --format json` (docs/schema/nodescope-check.schema.json).
pub fn check_schema() -> String {
    super::schema_json::<Report<'static>>()
}
