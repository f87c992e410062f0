//! The `check --format json` wire format, schema `nodescope-check/1`. Scripts rely on it:
//! fields are only ever added; renaming or removing one bumps the schema name.
//!
//! ```text
//! {
//!   "schema": "nodescope-check/1",
//!   "node": "node-a",                  hostname of the node analyzed
//!   "source": "live host at /",        or "bundle <path> (captured <time>)"
//!   "taken_at": "2026-11-22T03:00:00Z",
//!   "summary": {"critical": 0, "warning": 1, "info": 0},
//!   "findings": [{
//!     "id": "eviction.hard-only",      rule id (RULES.md)
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
use crate::model::Snapshot;
use serde::Serialize;
use std::io::Write;

/// The schema name of `check --format json`.
pub const CHECK_SCHEMA: &str = "nodescope-check/1";

#[derive(Serialize)]
struct Summary {
    critical: usize,
    warning: usize,
    info: usize,
}

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    node: &'a str,
    source: &'a str,
    taken_at: jiff::Timestamp,
    summary: Summary,
    findings: &'a [Finding],
    errors: &'a [crate::model::CollectError],
}

/// Writes the check report as one pretty-printed JSON object and a newline.
pub fn write_check(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
) -> std::io::Result<()> {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let report = Report {
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
    };
    serde_json::to_writer_pretty(&mut *w, &report)?;
    writeln!(w)
}

/// Writes the whole snapshot (`nodescope snapshot --format json`).
pub fn write_snapshot(w: &mut dyn Write, snap: &Snapshot) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, snap)?;
    writeln!(w)
}
