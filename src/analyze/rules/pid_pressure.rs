//! `pid.pressure`: the node is running out of process ids.

use crate::analyze::eviction_signals::{pid_available, resolve};
use crate::analyze::remedy::{Remedy, pid_config, top_pid_users};
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
                if below_threshold {
                    ", below the eviction threshold"
                } else {
                    ""
                }
            ),
            Subject::node(snap),
            ev,
            remedy(snap),
        ));
    }
}

/// The pods with the most processes, the process to look for, and the PID settings the
/// kubelet lacks (or that its config is sound).
fn remedy(snap: &Snapshot) -> String {
    let mut r = Remedy::new();
    let top = top_pid_users(snap, 3);
    if !top.is_empty() {
        r.step(format!("most processes and threads: {}", top.join(", ")));
    }
    r.step("find the process with the most threads (ps -eo nlwp,pid,comm --sort=-nlwp)");
    if let Some(c) = pid_config(snap) {
        r.extend(c);
    }
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    /// pid_max 10000 (threads-max above it), `threads` threads running.
    fn node(threads: u64) -> Snapshot {
        let mut s = snap();
        s.pids.pid_max = Some(10_000);
        s.pids.threads_max = Some(50_000);
        s.pids.threads = Some(threads);
        s
    }

    #[test]
    fn under_ten_percent_left_fires_and_exactly_ten_does_not() {
        // available 999 of 10000: 9.99 % left.
        let f = one(&PidPressure, &node(9_001));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.title, "pid.available 999 of 10000 (10.0% left)");
        assert_eq!(f.evidence["pid_available"], 999);
        assert_eq!(f.evidence["threads"], 9_001);
        // available 1000: exactly 10 %, not under it.
        assert!(run(&PidPressure, &node(9_000)).is_empty());
    }

    #[test]
    fn capacity_is_the_smaller_of_pid_max_and_threads_max() {
        let mut s = node(4_501);
        s.pids.threads_max = Some(5_000);
        // min(10000, 5000) = 5000; 499 left is under 10 % of 5000 (but not of 10000).
        assert_eq!(one(&PidPressure, &s).evidence["pid_capacity"], 5_000);
        s.pids.threads = Some(4_500);
        assert!(run(&PidPressure, &s).is_empty());
        s.pids.pid_max = None;
        s.pids.threads = Some(4_501);
        assert_eq!(one(&PidPressure, &s).evidence["pid_capacity"], 5_000);
    }

    #[test]
    fn a_configured_threshold_is_met_strictly_as_the_kubelet_meets_it() {
        // thresholdsMet: met iff threshold > available. 3000 > 2999 fires; 3000 > 3000 does not.
        let mut s = node(7_001);
        let mut c = kubelet_defaults();
        c.eviction_hard = thresholds("pid.available", "3000");
        s.kubelet = kubelet(c);
        let f = one(&PidPressure, &s);
        assert!(
            f.title.ends_with(", below the eviction threshold"),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["threshold"], "3000");
        assert_eq!(f.evidence["threshold_pids"], 3000);
        s.pids.threads = Some(7_000);
        assert!(run(&PidPressure, &s).is_empty());
    }

    #[test]
    fn a_soft_threshold_counts_when_there_is_no_hard_one() {
        let mut s = node(9_000); // 10 % left: the share alone is silent
        let mut c = kubelet_defaults();
        c.eviction_soft = thresholds("pid.available", "20%");
        s.kubelet = kubelet(c);
        let f = one(&PidPressure, &s);
        assert_eq!(f.evidence["threshold"], "20%");
        assert_eq!(f.evidence["threshold_pids"], 2000);
    }

    #[test]
    fn no_pid_figures_no_finding() {
        let mut s = node(9_999);
        s.pids.threads = None;
        assert!(run(&PidPressure, &s).is_empty());
        let mut s = node(9_999);
        s.pids.pid_max = None;
        s.pids.threads_max = None;
        assert!(run(&PidPressure, &s).is_empty());
    }

    /// The PID settings the fix adds are the ones the kubelet lacks; with both set it says the
    /// config is sound.
    #[test]
    fn the_fix_adds_only_the_pid_settings_the_config_lacks() {
        let mut s = node(9_500);
        s.kubelet = kubelet(kubelet_defaults());
        assert_eq!(
            one(&PidPressure, &s).remedy,
            "find the process with the most threads (ps -eo nlwp,pid,comm --sort=-nlwp); add `podPidsLimit: 1024`; add `evictionHard: {pid.available: 10%}`"
        );
        let mut c = kubelet_defaults();
        c.pod_pids_limit = 2048;
        c.eviction_hard.extend(thresholds("pid.available", "5%"));
        s.kubelet = kubelet(c);
        assert_eq!(
            one(&PidPressure, &s).remedy,
            "find the process with the most threads (ps -eo nlwp,pid,comm --sort=-nlwp); config is sound (podPidsLimit 2048, pid.available threshold 5%)"
        );
    }
}
