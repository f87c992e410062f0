//! `memory.oom-race`: two killers, two clocks. The kernel killed for lack of node (or
//! node-allocatable) memory while the kubelet, which polls every 10 s, evicted nothing.

use crate::analyze::eviction_signals::{memory_available, resolve};
use crate::analyze::oom::kills;
use crate::analyze::{Finding, Rule, Severity, finding};
use crate::model::Snapshot;
use crate::model::kubelet_log::EvictionStep;

pub struct MemoryOomRace;

/// The eviction manager's loop period (`evictionMonitoringPeriod`, pkg/kubelet/kubelet.go).
const MONITORING_SECONDS: i64 = 10;
/// How far before a kill an eviction still counts as the kubelet having acted.
const WINDOW_BEFORE: i64 = 60;

impl Rule for MemoryOomRace {
    fn id(&self) -> &'static str {
        "memory.oom-race"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the kernel OOM-killed for node memory while the kubelet evicted nothing"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kernel killed a process because the node (CONSTRAINT_NONE) or the node-allocatable
  kubepods cgroup ran out of memory, and the kubelet's log shows no eviction in the minute
  before the kill. The evidence lays out the timeline: the kill, the kubelet's eviction-manager
  lines around it, memory.available now against the hard and soft thresholds, and the 10 s
  eviction-monitoring interval.

WHY IT MATTERS
  Two killers run on two clocks. The kubelet samples memory.available every 10 s and, below the
  hard threshold, evicts one pod per loop, ranked by usage over requests; the kernel acts within
  microseconds of an allocation failing, picking by oom_score. If memory falls from above the
  threshold to zero between two samples, or the kubepods limit (capacity minus reserved) is hit
  before memory.available crosses the threshold, the kernel wins: the victim is whoever has the
  highest oom_score, not whom the kubelet would have chosen, and it gets no graceful shutdown.

HOW TO CONFIRM
  dmesg -T | grep -E 'invoked oom-killer|oom-kill:|Killed process'
  journalctl -u kubelet --since -1h | grep -E 'Eviction manager|Evicting pod'
  cat /sys/fs/cgroup/kubepods.slice/memory.max  (or memory/kubepods/memory.limit_in_bytes on v1)
  grep -A6 evictionHard /var/lib/kubelet/config.yaml

WHAT TO CHANGE
  Give the kubelet time to act: a hard memory.available threshold large enough to cover one
  10 s loop of the fastest growth you see, a soft threshold above it, evictionMinimumReclaim,
  and systemReserved/kubeReserved so the kubepods limit sits below what the kernel needs. Set
  memory limits on the pods that grow, so their own cgroup stops them first."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let hard = snap
            .kubelet
            .as_ref()
            .and_then(|k| k.config.eviction_hard.get("memory.available"));
        let obs = memory_available(snap);
        for k in kills(snap) {
            let kubepods_root = k.kill.oom_memcg.as_deref().is_some_and(|m| {
                let m = m.trim_end_matches('/');
                m.ends_with("/kubepods") || m.ends_with("/kubepods.slice")
            });
            if !k.kill.global && !kubepods_root {
                continue;
            }
            let Some(t) = k.time else { continue };
            let window: Vec<_> = snap
                .kubelet_log
                .iter()
                .filter(|e| {
                    e.time.is_some_and(|et| {
                        let d = et.as_second() - t.as_second();
                        (-WINDOW_BEFORE..=MONITORING_SECONDS).contains(&d)
                    })
                })
                .collect();
            if window
                .iter()
                .any(|e| matches!(e.step, EvictionStep::Evicting | EvictionStep::Evicted))
            {
                continue;
            }
            let mut timeline: Vec<serde_json::Value> = window
                .iter()
                .map(|e| serde_json::json!({"time": e.time.map(|x| x.to_string()), "source": e.source, "event": e.message}))
                .collect();
            timeline.push(serde_json::json!({
                "time": t.to_string(),
                "source": "kernel",
                "event": format!("{} killed {} (pid {})", if k.kill.global { "node OOM" } else { "kubepods OOM" }, k.kill.comm, k.kill.pid),
            }));
            timeline.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
            let kubelet_side = if snap.kubelet.is_none() {
                "no kubelet is running"
            } else if snap.kubelet_log.is_empty() {
                "the kubelet's log holds no eviction-manager line in the last hours"
            } else if window.is_empty() {
                "the kubelet logged nothing in the minute before the kill"
            } else {
                "the kubelet saw pressure but evicted nothing before the kill"
            };
            let hard_bytes = match (hard, obs) {
                (Some(h), Some(o)) => Some(resolve(h, o.capacity)),
                _ => None,
            };
            let who = match (&k.namespace, &k.pod) {
                (Some(ns), Some(p)) => format!("{ns}/{p}"),
                _ => k.kill.comm.clone(),
            };
            out.push(finding(
                self,
                Severity::Critical,
                format!(
                    "the kernel killed {who} (pid {}) for {} memory at {}; {kubelet_side}",
                    k.kill.pid,
                    if k.kill.global { "node" } else { "node-allocatable" },
                    t.strftime("%Y-%m-%dT%H:%M:%SZ")
                ),
                k.subject(Some(snap.hostname())),
                serde_json::json!({
                    "timeline": timeline,
                    "kill_time": t.to_string(),
                    "eviction_monitoring_interval_seconds": MONITORING_SECONDS,
                    "memory_available_bytes_now": obs.map(|o| o.available),
                    "hard_threshold": hard.map(|h| h.to_string()),
                    "hard_threshold_bytes": hard_bytes,
                    "soft_threshold": snap.kubelet.as_ref().and_then(|k| k.config.eviction_soft.get("memory.available")).map(|s| s.to_string()),
                    "kubelet_events_in_window": window.len(),
                    "evicted_in_window": false,
                    "why": kubelet_side,
                }),
                crate::analyze::remedy::node_oom(snap, &k),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::kubelet_log::KubeletLogEvent;

    const USEC: u64 = 7_200_000_000;
    const AGO: i64 = 600;

    /// A node-wide kill `AGO` seconds ago, a kubelet with the defaults, and kubelet log lines
    /// of `steps` at `offset` seconds from the kill.
    fn node(global: bool, events: &[(EvictionStep, i64)]) -> Snapshot {
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        let path = container_path("1234-abcd", &id('c'));
        s.oom_kills.push(kill(99, "python", USEC, &path, global));
        booted_so_that(&mut s, USEC, AGO);
        let kill_at = s.taken_at.as_second() - AGO;
        for (step, offset) in events {
            s.kubelet_log.push(KubeletLogEvent {
                time: Some(jiff::Timestamp::from_second(kill_at + offset).expect("a time")),
                source: "journal".into(),
                step: *step,
                resource: Some("memory".into()),
                pods: Vec::new(),
                condition: None,
                message: format!("{step:?}"),
            });
        }
        s
    }

    #[test]
    fn a_node_wide_kill_with_no_eviction_is_a_race() {
        let f = one(&MemoryOomRace, &node(true, &[]));
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.title
                .ends_with("the kubelet's log holds no eviction-manager line in the last hours"),
            "{}",
            f.title
        );
        assert!(
            f.title
                .starts_with("the kernel killed python (pid 99) for node memory at "),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["hard_threshold"], "100Mi");
    }

    #[test]
    fn an_eviction_up_to_60s_before_or_10s_after_the_kill_means_the_kubelet_acted() {
        for offset in [-60, 0, 10] {
            for step in [EvictionStep::Evicting, EvictionStep::Evicted] {
                assert!(
                    run(&MemoryOomRace, &node(true, &[(step, offset)])).is_empty(),
                    "{step:?} at {offset}s"
                );
            }
        }
        for offset in [-61, 11] {
            let f = one(
                &MemoryOomRace,
                &node(true, &[(EvictionStep::Evicted, offset)]),
            );
            assert!(
                f.title
                    .ends_with("the kubelet logged nothing in the minute before the kill"),
                "{offset}: {}",
                f.title
            );
        }
    }

    #[test]
    fn pressure_seen_without_an_eviction_is_still_a_race() {
        let f = one(
            &MemoryOomRace,
            &node(true, &[(EvictionStep::AttemptingToReclaim, -5)]),
        );
        assert!(
            f.title
                .ends_with("the kubelet saw pressure but evicted nothing before the kill"),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["kubelet_events_in_window"], 1);
        assert_eq!(f.evidence["timeline"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_kill_at_the_kubepods_limit_races_too_and_one_at_a_containers_limit_does_not() {
        let mut s = node(false, &[]);
        s.oom_kills[0].oom_memcg = Some("/kubepods.slice".into());
        assert!(
            one(&MemoryOomRace, &s)
                .title
                .contains("for node-allocatable memory")
        );
        s.oom_kills[0].oom_memcg = Some("/kubepods/".into());
        assert_eq!(run(&MemoryOomRace, &s).len(), 1);
        assert!(run(&MemoryOomRace, &node(false, &[])).is_empty());
    }

    #[test]
    fn an_undated_kill_cannot_be_compared_and_no_kubelet_is_said() {
        let mut s = node(true, &[]);
        s.node.boot_time = None;
        assert!(run(&MemoryOomRace, &s).is_empty());
        let mut s = node(true, &[]);
        s.kubelet = None;
        assert!(
            one(&MemoryOomRace, &s)
                .title
                .ends_with("; no kubelet is running")
        );
    }

    /// The fix depends on the configuration: a kubelet on its defaults is told to add the soft
    /// tier and the reservation; one that has them is told its config is sound.
    #[test]
    fn the_fix_adds_only_what_the_config_lacks() {
        let mut s = node(true, &[]);
        s.memory = meminfo(16 << 30);
        let lacking = one(&MemoryOomRace, &s).remedy;
        assert!(
            lacking.starts_with("raise `evictionHard: memory.available` from 100Mi to 384Mi; add `evictionSoft: {memory.available: 768Mi}`"),
            "{lacking}"
        );
        s.kubelet = kubelet(sound_memory_config());
        let sound = one(&MemoryOomRace, &s).remedy;
        assert!(
            sound.starts_with("config is sound (evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved): python (pid 99, outside any pod)"),
            "{sound}"
        );
        assert!(!sound.contains("add `"), "{sound}");
    }
}
