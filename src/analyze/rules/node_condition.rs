//! `node.condition`: the API server says the node is under pressure or not Ready.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeCondition;

const PRESSURE: &[&str] = &["MemoryPressure", "DiskPressure", "PIDPressure"];

impl Rule for NodeCondition {
    fn id(&self) -> &'static str {
        "node.condition"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the API reports MemoryPressure, DiskPressure or PIDPressure, or Ready not True"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The node object in the API server carries a condition MemoryPressure, DiskPressure or
  PIDPressure with status True, or Ready with status False or Unknown. The kubelet sets the
  pressure conditions when an eviction threshold is met (and keeps them for
  evictionPressureTransitionPeriod, 5m by default, after it is not); the node lifecycle
  controller sets Ready Unknown when the kubelet stops posting status (40 s by default).

WHY IT MATTERS
  Pressure conditions taint the node (node.kubernetes.io/memory-pressure and friends,
  NoSchedule): the scheduler stops placing pods there, and under MemoryPressure BestEffort pods
  are refused. A node NotReady for longer than the eviction timeout gets its pods evicted by
  the control plane and recreated elsewhere.

HOW TO CONFIRM
  kubectl describe node NODE   (Conditions, Taints, Events)
  kubectl get node NODE -o jsonpath='{.status.conditions}'
  journalctl -u kubelet --since -15m | grep -i -e evict -e 'node status'

WHAT TO CHANGE
  For pressure: the matching local findings (memory.pressure, disk.*-pressure, pid.pressure)
  say what fills the node. For NotReady: node.kubelet-not-running, the container runtime, the
  kubelet's certificates and its connection to the API server."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(node) = snap.cluster.as_ref().and_then(|c| c.node.as_ref()) else {
            return;
        };
        let bad: Vec<&crate::model::cluster::Condition> = node
            .conditions
            .iter()
            .filter(|c| {
                (PRESSURE.contains(&c.type_.as_str()) && c.status == "True")
                    || (c.type_ == "Ready" && c.status != "True")
            })
            .collect();
        if bad.is_empty() {
            return;
        }
        let what: Vec<String> = bad
            .iter()
            .map(|c| {
                format!(
                    "{}={}{}",
                    c.type_,
                    c.status,
                    c.reason
                        .as_ref()
                        .map_or(String::new(), |r| format!(" ({r})"))
                )
            })
            .collect();
        out.push(finding(
            self,
            Severity::Critical,
            format!("the API reports {} for node {}", what.join(", "), node.name),
            Subject {
                node: Some(node.name.clone()),
                ..Default::default()
            },
            serde_json::json!({
                "conditions": bad,
                "taints": node.taints,
                "source": snap.cluster.as_ref().map(|c| c.source.clone()),
            }),
            "read the matching local findings (memory.pressure, disk.*-pressure, pid.pressure, node.kubelet-not-running)",
        ));
    }
}
