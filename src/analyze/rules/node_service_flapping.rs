//! `node.service-flapping`: systemd keeps restarting the kubelet or the container runtime.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use std::collections::BTreeMap;

pub struct NodeServiceFlapping;

/// Restarts within [`WINDOW_SECONDS`] from which a unit is flapping.
const RESTARTS: usize = 3;
const WINDOW_SECONDS: i64 = 3600;

impl Rule for NodeServiceFlapping {
    fn id(&self) -> &'static str {
        "node.service-flapping"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "the kubelet or the runtime was restarted by systemd 3 or more times in an hour"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  systemd logged 'Scheduled restart job' ('holdoff time over, scheduling restart' on older
  systemd) for kubelet.service or the runtime's unit (containerd.service, crio.service) 3 or
  more times in the last hour: the service exits and Restart= starts it again. Read from the
  journal (systemd's records carry UNIT=<unit>), else /var/log/syslog or /var/log/messages.

WHY IT MATTERS
  Each kubelet exit stops node-status updates and pod lifecycle handling; a kubelet in a
  crash loop flaps the node between Ready and NotReady. A runtime that restarts kills the
  kubelet's connection to it, and containers whose shim died with it are restarted. The exit
  reason is in the unit's own log just before each restart: a bad flag or config after an
  upgrade, swap on (node.swap-on), an expired certificate (kubelet.cert-expiry), a cgroup
  driver mismatch, the OOM killer.

HOW TO CONFIRM
  systemctl status kubelet; journalctl -u kubelet -b --no-pager | grep -B20 'Scheduled restart'
  journalctl -u containerd --since -1h
  systemctl show kubelet -p NRestarts

WHAT TO CHANGE
  Read the last lines the service wrote before each exit and fix that cause; the other
  findings of this report often name it. Do not raise RestartSec to hide it."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let mut by_unit: BTreeMap<&str, Vec<&crate::model::health::ServiceRestart>> =
            BTreeMap::new();
        for r in &snap.health.service_restarts {
            let age = snap.taken_at.as_second() - r.time.as_second();
            if (0..=WINDOW_SECONDS).contains(&age) {
                by_unit.entry(r.unit.as_str()).or_default().push(r);
            }
        }
        for (unit, rs) in by_unit {
            if rs.len() < RESTARTS {
                continue;
            }
            let counter = rs.iter().filter_map(|r| r.counter).max();
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "systemd restarted {unit} {} times in the last hour{}",
                    rs.len(),
                    counter.map_or(String::new(), |c| format!(" (restart counter at {c})"))
                ),
                Subject::node(snap).with_unit(unit.to_string()),
                serde_json::json!({
                    "unit": unit,
                    "restarts_last_hour": rs.len(),
                    "times": rs.iter().map(|r| r.time).collect::<Vec<_>>(),
                    "restart_counter": counter,
                    "sources": snap.health.restart_sources,
                }),
                "read the unit's log just before each restart (journalctl -u UNIT) and fix that cause; this report's other findings often name it",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{NOW, run, snapshot};
    use crate::model::health::ServiceRestart;

    fn node(ages: &[i64]) -> Snapshot {
        let now: jiff::Timestamp = NOW.parse().unwrap();
        let mut s = snapshot();
        s.health.service_restarts = ages
            .iter()
            .enumerate()
            .map(|(i, a)| ServiceRestart {
                unit: "kubelet.service".into(),
                time: now - jiff::SignedDuration::from_secs(*a),
                counter: Some(i as u64 + 1),
            })
            .collect();
        s
    }

    #[test]
    fn three_restarts_within_the_hour_fire() {
        let f = run(&NodeServiceFlapping, &node(&[3600, 1200, 10]));
        assert_eq!(
            f[0].title,
            "systemd restarted kubelet.service 3 times in the last hour (restart counter at 3)"
        );
        assert_eq!(f[0].subject.unit.as_deref(), Some("kubelet.service"));
    }

    #[test]
    fn two_or_older_restarts_do_not() {
        assert!(run(&NodeServiceFlapping, &node(&[1200, 10])).is_empty());
        assert!(run(&NodeServiceFlapping, &node(&[3601, 1200, 10])).is_empty());
    }
}
