//! The `nodescope fleet` report (schema `nodescope-fleet/1`): one row per node with its API
//! conditions, the worst severity its agent reported, its findings grouped by rule, and how old
//! the agent's sample is. Built from [`crate::model::fleet`]; `render::fleet` prints it.

use crate::analyze::Severity;
use crate::model::fleet::{AgentAnswer, FleetNode};
use serde::Serialize;
use std::collections::BTreeMap;

/// The JSON schema name of `nodescope fleet --format json`.
pub const FLEET_SCHEMA: &str = "nodescope-fleet/1";

/// The node conditions shown, in the order `kubectl describe node` lists them.
pub const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FleetReport {
    pub schema: &'static str,
    /// When the report was made; sample ages count from here.
    pub taken_at: jiff::Timestamp,
    /// Node counts by agent status and by worst severity.
    pub summary: FleetSummary,
    /// Sorted by node name.
    pub nodes: Vec<NodeRow>,
}

#[derive(Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FleetSummary {
    pub nodes: usize,
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
    /// Nodes whose agent answered with no finding.
    pub clean: usize,
    pub no_agent: usize,
    pub timeout: usize,
    pub forbidden: usize,
    pub error: usize,
}

#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NodeRow {
    pub node: String,
    /// `True`, `False` or `Unknown` for Ready; absent when the node does not report it.
    pub ready: Option<String>,
    /// The pressure conditions (MemoryPressure, DiskPressure, PIDPressure) that are `True`.
    pub pressure: Vec<String>,
    /// `ok` (a sample was read), `no agent`, `timeout`, `forbidden` or `error`.
    pub agent: &'static str,
    /// The agent pod, `namespace/name`.
    pub agent_pod: Option<String>,
    /// Why the agent could not be read, for `error`.
    pub error: Option<String>,
    /// The worst severity in the sample; absent without a sample or when it found nothing.
    pub worst: Option<Severity>,
    /// The sample's findings grouped by rule id, worst severity first, then by count.
    pub findings: Vec<RuleCount>,
    /// Seconds between the sample and [`FleetReport::taken_at`].
    pub age_seconds: Option<i64>,
    /// The sample is older than [`STALE_AFTER_SECONDS`]: the agent stopped sampling.
    pub stale: bool,
}

/// A sample older than this is stale: 3 of the agent's default 30 s intervals, when its own
/// /healthz starts failing (`nodescope serve --help`).
pub const STALE_AFTER_SECONDS: i64 = 90;

#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RuleCount {
    pub id: String,
    pub severity: Severity,
    pub count: usize,
}

/// The JSON Schema of the report (docs/schema/nodescope-fleet.schema.json).
pub fn fleet_schema() -> String {
    super::schema_json::<FleetReport>()
}

/// Builds the report of `nodes` as of `now`.
pub fn build(nodes: &[FleetNode], now: jiff::Timestamp) -> FleetReport {
    let mut rows: Vec<NodeRow> = nodes.iter().map(|n| row(n, now)).collect();
    rows.sort_by(|a, b| a.node.cmp(&b.node));
    let mut summary = FleetSummary {
        nodes: rows.len(),
        ..FleetSummary::default()
    };
    for r in &rows {
        match (r.agent, r.worst) {
            (_, Some(Severity::Critical)) => summary.critical += 1,
            (_, Some(Severity::Warning)) => summary.warning += 1,
            (_, Some(Severity::Info)) => summary.info += 1,
            ("ok", None) => summary.clean += 1,
            ("no agent", _) => summary.no_agent += 1,
            ("timeout", _) => summary.timeout += 1,
            ("forbidden", _) => summary.forbidden += 1,
            _ => summary.error += 1,
        }
    }
    FleetReport {
        schema: FLEET_SCHEMA,
        taken_at: now,
        summary,
        nodes: rows,
    }
}

/// The worst severity across the fleet's samples.
pub fn worst(report: &FleetReport) -> Option<Severity> {
    report.nodes.iter().filter_map(|r| r.worst).max()
}

fn row(n: &FleetNode, now: jiff::Timestamp) -> NodeRow {
    let cond = |t: &str| {
        n.conditions
            .iter()
            .find(|(k, _)| k == t)
            .map(|(_, v)| v.clone())
    };
    let pressure = CONDITIONS[1..]
        .iter()
        .filter(|t| cond(t).as_deref() == Some("True"))
        .map(|t| t.to_string())
        .collect();
    let mut r = NodeRow {
        node: n.name.clone(),
        ready: cond("Ready"),
        pressure,
        agent: "ok",
        agent_pod: n.agent.clone(),
        error: None,
        worst: None,
        findings: Vec::new(),
        age_seconds: None,
        stale: false,
    };
    match &n.answer {
        AgentAnswer::NoAgent => r.agent = "no agent",
        AgentAnswer::Timeout => r.agent = "timeout",
        AgentAnswer::Forbidden => r.agent = "forbidden",
        AgentAnswer::Error(e) => {
            r.agent = "error";
            r.error = Some(e.clone());
        }
        AgentAnswer::Sample(s) => {
            r.findings = group(&s.findings);
            r.worst = r.findings.iter().map(|f| f.severity).max();
            r.age_seconds = s.taken_at.map(|t| now.duration_since(t).as_secs().max(0));
            r.stale = r.age_seconds.is_some_and(|a| a > STALE_AFTER_SECONDS);
        }
    }
    r
}

/// Findings counted per rule id; an unknown severity string counts as info.
fn group(findings: &[(String, String)]) -> Vec<RuleCount> {
    let mut by: BTreeMap<&str, (Severity, usize)> = BTreeMap::new();
    for (id, sev) in findings {
        let s = match sev.as_str() {
            "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        };
        let e = by.entry(id).or_insert((s, 0));
        e.0 = e.0.max(s);
        e.1 += 1;
    }
    let mut v: Vec<RuleCount> = by
        .into_iter()
        .map(|(id, (severity, count))| RuleCount {
            id: id.to_string(),
            severity,
            count,
        })
        .collect();
    v.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::Sample;

    fn node(name: &str, answer: AgentAnswer) -> FleetNode {
        FleetNode {
            name: name.into(),
            conditions: vec![
                ("Ready".into(), "True".into()),
                ("DiskPressure".into(), "True".into()),
                ("PIDPressure".into(), "False".into()),
            ],
            agent: Some("nodescope/agent-x".into()),
            answer,
        }
    }

    #[test]
    fn groups_by_rule_worst_first_and_counts_every_status() {
        let now: jiff::Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let f = |id: &str, s: &str| (id.to_string(), s.to_string());
        let sample = Sample {
            taken_at: Some("2026-12-06T09:59:30Z".parse().unwrap()),
            findings: vec![
                f("dns.policy-default", "warning"),
                f("memory.oom-race", "critical"),
                f("dns.policy-default", "warning"),
                f("memory.oom-race", "critical"),
                f("dns.policy-default", "warning"),
            ],
        };
        let r = build(
            &[
                node("b", AgentAnswer::Sample(sample)),
                node("a", AgentAnswer::Timeout),
                node("c", AgentAnswer::Forbidden),
                node("d", AgentAnswer::NoAgent),
            ],
            now,
        );
        assert_eq!(r.nodes[0].node, "a");
        let b = &r.nodes[1];
        assert_eq!(b.worst, Some(Severity::Critical));
        assert_eq!(b.age_seconds, Some(30));
        assert_eq!(b.pressure, ["DiskPressure"]);
        let got: Vec<(&str, usize)> = b
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.count))
            .collect();
        assert_eq!(got, [("memory.oom-race", 2), ("dns.policy-default", 3)]);
        assert_eq!(
            r.summary,
            FleetSummary {
                nodes: 4,
                critical: 1,
                timeout: 1,
                forbidden: 1,
                no_agent: 1,
                ..FleetSummary::default()
            }
        );
        assert_eq!(worst(&r), Some(Severity::Critical));
    }

    #[test]
    fn a_clean_sample_has_no_worst() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let r = build(
            &[node(
                "a",
                AgentAnswer::Sample(Sample {
                    taken_at: None,
                    findings: vec![],
                }),
            )],
            now,
        );
        assert_eq!(r.summary.clean, 1);
        assert_eq!(worst(&r), None);
        assert_eq!(r.nodes[0].age_seconds, None);
    }
}
