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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::{ApiNode, Cluster, Condition};

    fn cond(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: None,
            message: None,
            last_transition: None,
        }
    }

    /// The API's node object with these conditions.
    fn node(conds: &[(&str, &str)]) -> Snapshot {
        let mut s = snap();
        s.cluster = Some(Cluster {
            source: "test".into(),
            node: Some(ApiNode {
                name: NODE.into(),
                conditions: conds.iter().map(|(t, st)| cond(t, st)).collect(),
                ..Default::default()
            }),
            ..Default::default()
        });
        s
    }

    const HEALTHY: &[(&str, &str)] = &[
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
        ("Ready", "True"),
    ];

    #[test]
    fn a_healthy_node_and_no_api_are_silent() {
        assert!(run(&NodeCondition, &node(HEALTHY)).is_empty());
        assert!(run(&NodeCondition, &snap()).is_empty());
    }

    #[test]
    fn each_pressure_condition_true_fires() {
        for p in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            let conds: Vec<(&str, &str)> = HEALTHY
                .iter()
                .map(|&(t, st)| if t == p { (t, "True") } else { (t, st) })
                .collect();
            let f = one(&NodeCondition, &node(&conds));
            assert_eq!(f.severity, Severity::Critical);
            assert_eq!(f.title, format!("the API reports {p}=True for node node-a"));
        }
    }

    #[test]
    fn ready_false_and_ready_unknown_fire() {
        for status in ["False", "Unknown"] {
            let f = one(
                &NodeCondition,
                &node(&[("MemoryPressure", "False"), ("Ready", status)]),
            );
            assert_eq!(
                f.title,
                format!("the API reports Ready={status} for node node-a")
            );
            assert_eq!(f.evidence["conditions"][0]["type"], "Ready");
        }
    }

    #[test]
    fn other_condition_types_true_are_not_pressure() {
        // NetworkUnavailable and the NPD conditions are not the kubelet's pressure signals.
        let mut conds = HEALTHY.to_vec();
        conds.push(("NetworkUnavailable", "True"));
        conds.push(("KernelDeadlock", "True"));
        assert!(run(&NodeCondition, &node(&conds)).is_empty());
    }

    #[test]
    fn every_bad_condition_is_named_with_its_reason() {
        let mut s = node(&[("MemoryPressure", "True"), ("Ready", "False")]);
        if let Some(n) = s.cluster.as_mut().and_then(|c| c.node.as_mut()) {
            n.conditions[1].reason = Some("KubeletNotReady".into());
        }
        let f = one(&NodeCondition, &s);
        assert_eq!(
            f.title,
            "the API reports MemoryPressure=True, Ready=False (KubeletNotReady) for node node-a"
        );
    }
}
