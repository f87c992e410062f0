//! `node.condition`: the API server says the node is under pressure or not Ready.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeCondition;

const PRESSURE: &[&str] = &["MemoryPressure", "DiskPressure", "PIDPressure"];

/// The local rules whose findings explain each condition, most direct cause first.
const CAUSES: &[(&str, &[&str])] = &[
    (
        "Ready",
        &[
            "node.kubelet-not-running",
            "runtime.not-ready",
            "net.cni-missing",
            "kubelet.cert-expiry",
            "node.service-flapping",
            "node.swap-on",
            "node.clock-unsynced",
            "fs.read-only",
            "fs.io-error",
            "kernel.soft-lockup",
            "kernel.hung-task",
            "disk.filesystem-full",
            "memory.pressure",
            "memory.global-oom",
            "pid.pressure",
            "cpu.pressure",
        ],
    ),
    (
        "MemoryPressure",
        &["memory.pressure", "memory.global-oom", "memory.oom-race"],
    ),
    (
        "DiskPressure",
        &[
            "disk.nodefs-pressure",
            "disk.imagefs-pressure",
            "disk.inode-exhaustion",
            "disk.filesystem-full",
        ],
    ),
    ("PIDPressure", &["pid.pressure"]),
];

/// The ids of the local findings that explain `condition` on this snapshot, in [`CAUSES`]
/// order (each rule run once more here: rules are pure, so this is only a re-computation).
fn explained_by(snap: &Snapshot, condition: &str) -> Vec<&'static str> {
    let Some((_, ids)) = CAUSES.iter().find(|(c, _)| *c == condition) else {
        return Vec::new();
    };
    ids.iter()
        .copied()
        .filter(|id| {
            crate::analyze::rule(id).is_some_and(|r| {
                let mut v = Vec::new();
                r.check(snap, &mut v);
                !v.is_empty()
            })
        })
        .collect()
}

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
  The finding names the local findings that explain each condition (evidence.explained_by),
  or says that none was found. For pressure: memory.pressure, disk.*-pressure,
  disk.filesystem-full, pid.pressure say what fills the node. For NotReady:
  node.kubelet-not-running, runtime.not-ready, net.cni-missing, kubelet.cert-expiry,
  node.service-flapping, node.swap-on, node.clock-unsynced, fs.read-only, the kernel's
  lockups and hung tasks; with none of them, the kubelet's connection to the API server."
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
        let mut explained = serde_json::Map::new();
        let mut causes: Vec<&str> = Vec::new();
        for c in &bad {
            let ids = explained_by(snap, &c.type_);
            for id in &ids {
                if !causes.contains(id) {
                    causes.push(id);
                }
            }
            explained.insert(c.type_.clone(), serde_json::json!(ids));
        }
        let because = if causes.is_empty() {
            "; no local finding explains it".to_string()
        } else {
            format!("; explained by {}", causes.join(", "))
        };
        out.push(finding(
            self,
            Severity::Critical,
            format!(
                "the API reports {} for node {}{because}",
                what.join(", "),
                node.name
            ),
            Subject::default().with_node(node.name.clone()),
            serde_json::json!({
                "conditions": bad,
                "explained_by": explained,
                "taints": node.taints,
                "source": snap.cluster.as_ref().map(|c| c.source.clone()),
            }),
            if causes.is_empty() {
                "no local cause found: check the kubelet's log and its connection to the API server (journalctl -u kubelet | grep -i -e 'node status' -e 'connection refused')".to_string()
            } else {
                format!("fix what {} report first", causes.join(", "))
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::analyze::testkit::snapshot;
    use crate::model::cluster::{ApiNode, Cluster, Condition};
    use crate::model::disk::{CriCondition, CriSnapshot};

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
            assert_eq!(
                f.title,
                format!("the API reports {p}=True for node node-a; no local finding explains it")
            );
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
                format!(
                    "the API reports Ready={status} for node node-a; no local finding explains it"
                )
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
            "the API reports MemoryPressure=True, Ready=False (KubeletNotReady) for node node-a; no local finding explains it"
        );
    }

    /// The API's node object with one Ready condition of reason KubeletNotReady.
    fn node_ready(ready: &str) -> Snapshot {
        let mut s = snapshot();
        s.cluster = Some(Cluster {
            source: "test".into(),
            node: Some(ApiNode {
                name: "node-a".into(),
                conditions: vec![Condition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    reason: Some("KubeletNotReady".into()),
                    message: None,
                    last_transition: None,
                }],
                ..Default::default()
            }),
            ..Default::default()
        });
        s
    }

    #[test]
    fn not_ready_names_the_local_cause_or_says_there_is_none() {
        let f = run(&NodeCondition, &node_ready("False"));
        assert!(
            f[0].title.ends_with("; no local finding explains it"),
            "{}",
            f[0].title
        );
        let mut s = node_ready("False");
        s.disk.cri = Some(CriSnapshot {
            status: Some(vec![CriCondition {
                type_: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "cni plugin not initialized".into(),
            }]),
            ..CriSnapshot::default()
        });
        let f = run(&NodeCondition, &s);
        assert_eq!(
            f[0].title,
            "the API reports Ready=False (KubeletNotReady) for node node-a; explained by runtime.not-ready"
        );
        assert_eq!(
            f[0].evidence["explained_by"]["Ready"],
            serde_json::json!(["runtime.not-ready"])
        );
        assert!(run(&NodeCondition, &node_ready("True")).is_empty());
    }

    #[test]
    fn a_pressure_condition_is_explained_by_the_local_rule_that_fires() {
        let mut s = node(&[("PIDPressure", "True"), ("Ready", "True")]);
        // pid_max 10000, 9001 threads: 999 left, under the 10 % pid.pressure judges.
        s.pids.pid_max = Some(10_000);
        s.pids.threads_max = Some(50_000);
        s.pids.threads = Some(9_001);
        let f = one(&NodeCondition, &s);
        assert_eq!(
            f.title,
            "the API reports PIDPressure=True for node node-a; explained by pid.pressure"
        );
        assert_eq!(
            f.evidence["explained_by"],
            serde_json::json!({"PIDPressure": ["pid.pressure"]})
        );
        assert_eq!(f.remedy, "fix what pid.pressure report first");
        // One thread fewer is exactly 10 % left: pid.pressure is silent, so nothing explains it.
        s.pids.threads = Some(9_000);
        assert!(
            one(&NodeCondition, &s)
                .title
                .ends_with("; no local finding explains it")
        );
    }
}
