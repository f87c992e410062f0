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
//!     "remedy": "...",                 what to change
//!     "group": "dns.policy-default:1a2b3c4d"   rule and cause (report/group.rs): one
//!                                      block in the text report; added within /1
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
    pub findings: Vec<KeyedFinding<'a>>,
    /// What could not be collected, and why.
    pub errors: &'a [CollectError],
}

// Published as `Finding`, the name the schema's definition had before `group` was added.
/// One thing a rule found, and the group (rule and cause) it belongs to.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Finding")]
pub struct KeyedFinding<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    /// `<rule id>:<8 hex digits>`: findings of one rule with one cause (the same remedy once
    /// each subject's own names are taken out) share it, on every node. The text report and
    /// the TUI show one block per group.
    pub group: String,
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
        findings: findings
            .iter()
            .map(|f| KeyedFinding {
                finding: f,
                group: super::group::key(f),
            })
            .collect(),
        errors: &snap.errors,
    }
}

/// The evidence key by which a cluster-wide finding (a Pending pod, judged against every node)
/// names the nodes it could run on: an array of node names.
pub const CANDIDATE_NODES: &str = "candidate_nodes";

/// Drops the cluster-wide findings this node is no candidate for: those whose evidence has
/// [`CANDIDATE_NODES`] without this node's name (its API name when known, else its hostname).
/// Every node's `check` would report them otherwise; `check --cluster` keeps them.
pub fn retain_local(snap: &Snapshot, findings: &mut Vec<Finding>) {
    let host = snap.hostname().to_string();
    let name = snap
        .cluster
        .as_ref()
        .and_then(|c| c.node.as_ref())
        .map_or(host, |n| n.name.clone());
    findings.retain(
        |f| match f.evidence.get(CANDIDATE_NODES).and_then(|v| v.as_array()) {
            Some(nodes) => nodes.iter().any(|n| n.as_str() == Some(name.as_str())),
            None => true,
        },
    );
}

/// The JSON Schema of `check --format json` (docs/schema/nodescope-check.schema.json).
pub fn check_schema() -> String {
    super::schema_json::<Report<'static>>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Subject;

    fn f(evidence: serde_json::Value) -> Finding {
        Finding {
            id: "gpu.pending-pod".into(),
            severity: Severity::Warning,
            title: String::new(),
            subject: Subject::default(),
            evidence,
            remedy: String::new(),
        }
    }

    #[test]
    fn cluster_wide_findings_stay_only_on_their_candidate_nodes() {
        let snap = crate::analyze::rules::testing::snap();
        let here = snap.hostname().to_string();
        let mut v = vec![
            f(serde_json::json!({"candidate_nodes": ["gpu-a"]})),
            f(serde_json::json!({"candidate_nodes": [here]})),
            f(serde_json::json!({"candidate_nodes": []})),
            f(serde_json::json!({"other": 1})),
        ];
        retain_local(&snap, &mut v);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].evidence[CANDIDATE_NODES][0], here.as_str());
        assert_eq!(v[1].evidence["other"], 1);
    }
}
