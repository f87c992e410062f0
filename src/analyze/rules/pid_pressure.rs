//! `pid.pressure`: the node is running out of process ids.

use crate::analyze::eviction_signals::{pid_available, resolve};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct PidPressure;

/// Fire when fewer than this share of the PID space is left, threshold or not.
const MIN_FREE_SHARE: f64 = 0.10;

impl Rule for PidPressure {
    fn id(&self) -> &'static str {
        "pid.pressure"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "pid.available is below its threshold or under 10% of the PID space"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  pid.available = min(kernel.pid_max, kernel.threads-max) - the number of threads on the node
  (the figure after the '/' in /proc/loadavg), as the kubelet computes it
  (pkg/kubelet/stats/pidlimit). It is below a configured pid.available eviction threshold, or
  below 10 % of the PID space.

WHY IT MATTERS
  When PIDs run out, fork() and clone() fail everywhere: new containers, exec probes, sshd,
  the kubelet's own goroutines' threads. The kubelet sets the PIDPressure condition and the node
  is tainted node.kubernetes.io/pid-pressure:NoSchedule, but there is no default pid.available
  threshold: unless one is configured, the kubelet evicts nothing for PIDs. A fork bomb in one
  pod without podPidsLimit can take the whole node.

HOW TO CONFIRM
  cat /proc/sys/kernel/pid_max /proc/sys/kernel/threads-max /proc/loadavg
  ps -eLf --no-headers | wc -l
  ps -eo nlwp,pid,comm --sort=-nlwp | head
  kubectl describe node NODE | grep PIDPressure

WHAT TO CHANGE
  Find the process or pod with the most threads and stop it. Then set podPidsLimit in the
  KubeletConfiguration (e.g. 4096), and an eviction threshold such as
  evictionHard: {pid.available: \"10%\"} so the kubelet can act."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(o) = pid_available(snap) else { return };
        let cfg = snap.kubelet.as_ref().map(|k| &k.config);
        let threshold = cfg.and_then(|c| {
            c.eviction_hard
                .get("pid.available")
                .or_else(|| c.eviction_soft.get("pid.available"))
        });
        let below_threshold = threshold.is_some_and(|t| o.met(t));
        let below_share = (o.available as f64) < o.capacity as f64 * MIN_FREE_SHARE;
        if !below_threshold && !below_share {
            return;
        }
        let mut ev = serde_json::json!({
            "pid_available": o.available,
            "pid_capacity": o.capacity,
            "threads": o.capacity - o.available,
            "note": "PIDPressure taints the node NoSchedule; the kubelet evicts for PIDs only when a pid.available threshold is configured (there is no default)",
        });
        let order: Vec<serde_json::Value> = crate::analyze::next_victims::kubelet_pid_order(snap)
            .iter()
            .take(5)
            .map(|p| serde_json::json!({"namespace": p.namespace, "pod": p.pod, "processes": p.processes}))
            .collect();
        ev["kubelet_order"] = order.into();
        if let Some(t) = threshold {
            ev["threshold"] = t.to_string().into();
            ev["threshold_pids"] = resolve(t, o.capacity).into();
        }
        out.push(finding(
            self,
            Severity::Warning,
            format!(
                "pid.available {} of {} ({:.1}% left){}",
                o.available,
                o.capacity,
                o.available as f64 * 100.0 / o.capacity.max(1) as f64,
                if below_threshold { ", below the eviction threshold" } else { "" }
            ),
            Subject::node(snap),
            ev,
            "find the process with the most threads (ps -eo nlwp,pid,comm --sort=-nlwp); set podPidsLimit and a pid.available threshold",
        ));
    }
}
