//! `memory.kernel-oom-kill`: the kernel's cgroup OOM killer killed a process in a pod's
//! container, at the container's own limit. The kubelet neither chose nor saw it.

use crate::analyze::oom::{AttributedKill, human_age, kills};
use crate::analyze::remedy::container_limit;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct MemoryKernelOomKill;

/// A kill this recent is an incident in progress.
const RECENT_SECONDS: i64 = 3600;

impl Rule for MemoryKernelOomKill {
    fn id(&self) -> &'static str {
        "memory.kernel-oom-kill"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the kernel OOM killer killed a process in a container (critical within 1h)"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kernel's OOM killer killed a process inside a pod's container cgroup: the kernel log has
  the kill (`Memory cgroup out of memory: Killed process ...`, with the `oom-kill:` summary
  naming the cgroup), or the container cgroup's own counter says so (v2 memory.events oom_kill,
  v1 memory.oom_control oom_kill) even after the kernel ring has wrapped.

WHY IT MATTERS
  This is the container hitting its own memory limit. The kernel enforces it synchronously, in
  microseconds, by killing the process with the highest oom_score in that cgroup; the kubelet's
  eviction manager (every 10 s, on node-level memory.available) is not involved and usually never
  notices. Kubernetes reports the container as OOMKilled (exit 137) and restarts it; repeated, it
  becomes CrashLoopBackOff. The limit was smaller than the workload's peak.

HOW TO CONFIRM
  dmesg -T | grep -E 'invoked oom-killer|oom-kill:|Killed process'
  kubectl get pod -n NS POD -o jsonpath='{range .status.containerStatuses[*]}{.name} {.lastState.terminated.reason} {.restartCount}{\"\\n\"}{end}'
  v2: cat /sys/fs/cgroup/kubepods.slice/.../memory.events      v1: cat .../memory.oom_control
  kubectl top pod -n NS POD --containers

WHAT TO CHANGE
  Raise the container's memory limit to its real peak plus headroom (memory.peak /
  memory.max_usage_in_bytes say what that is), or make the workload fit (JVM
  -XX:MaxRAMPercentage, model or batch sizes, worker counts). Keep requests honest so the
  scheduler does not overpack the node."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let all = kills(snap);
        for k in all
            .iter()
            .filter(|k| !k.kill.global && (k.pod.is_some() || k.in_kubepods))
        {
            out.push(kill_finding(self, snap, k));
        }
        // Kills the cgroups counted but the ring no longer shows.
        for pod in &snap.pods {
            for c in pod.containers.iter().filter(|c| !c.sandbox) {
                let Some(cg) = &c.cgroup else { continue };
                let counted = cg
                    .events
                    .map(|e| e.oom_kill)
                    .or(cg.oom_control.and_then(|o| o.oom_kill))
                    .unwrap_or(0);
                let logged = all
                    .iter()
                    .filter(|k| k.container_id.as_deref() == Some(c.id.as_str()))
                    .count() as u64;
                if counted <= logged {
                    continue;
                }
                out.push(finding(
                    self,
                    Severity::Warning,
                    format!(
                        "{} OOM kill(s) counted by the container's cgroup, {} in the kernel log (the ring has wrapped)",
                        counted, logged
                    ),
                    Subject::of_container(pod, c),
                    serde_json::json!({
                        "cgroup_oom_kills": counted,
                        "kernel_log_kills": logged,
                        "limit_bytes": cg.limit_bytes,
                        "peak_bytes": cg.peak_bytes,
                        "cgroup": cg.path,
                    }),
                    container_limit(
                        &format!(
                            "{}/{}",
                            crate::model::pod_ref(
                                pod.namespace.as_deref(),
                                pod.name.as_deref(),
                                &pod.uid
                            ),
                            c.name.as_deref().unwrap_or(&c.id)
                        ),
                        cg.limit_bytes,
                        cg.peak_bytes,
                    )
                    .unwrap_or_else(|| GENERIC.into()),
                ));
            }
        }
    }
}

fn kill_finding(rule: &dyn Rule, snap: &Snapshot, k: &AttributedKill<'_>) -> Finding {
    let age = k.age_seconds(snap);
    let severity = match age {
        Some(a) if a <= RECENT_SECONDS => Severity::Critical,
        _ => Severity::Warning,
    };
    let limit = k.cgroup.and_then(|c| c.limit_bytes);
    let when = match age {
        Some(a) => format!("{} ago", human_age(a)),
        None => "at an unknown time".into(),
    };
    let by = match limit {
        Some(l) => format!("by its {} limit", units::bytes(l)),
        None => "by its cgroup's limit".into(),
    };
    let who = k.label();
    finding(
        rule,
        severity,
        format!(
            "{} (pid {}) in {who} killed {by} {when}",
            k.kill.comm, k.kill.pid
        ),
        k.subject(None),
        {
            let mut ev = k.evidence(snap);
            ev.insert("limit_bytes".into(), limit.into());
            ev.insert(
                "peak_bytes".into(),
                k.cgroup.and_then(|c| c.peak_bytes).into(),
            );
            serde_json::Value::Object(ev)
        },
        {
            let peak = k.cgroup.and_then(|c| c.peak_bytes);
            let rss = k.kill.anon_rss_kb.map(|v| v.saturating_mul(1024));
            container_limit(&who, limit, peak.max(rss)).unwrap_or_else(|| GENERIC.into())
        },
    )
}

/// The fix when neither a peak nor the victim's size was measured.
const GENERIC: &str = "raise the container's memory limit to its observed peak plus headroom, or make the workload fit";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::{CgroupStats, MemoryEvents, OomControl};

    const USEC: u64 = 5_000_000_000; // 5000 s after boot

    /// Pod shop/web (uid 1234-abcd) with container `app` (id aaaa…), a 256Mi limit, and one
    /// kernel kill of it logged `ago` seconds before now.
    fn node(ago: Option<i64>) -> Snapshot {
        let mut s = snap();
        let cid = id('a');
        let mut p = pod("shop", "web", "1234-abcd");
        p.containers.push(container(
            &cid,
            "app",
            Some(CgroupStats {
                limit_bytes: Some(256 << 20),
                ..cgroup(&container_path("1234-abcd", &cid))
            }),
        ));
        s.pods.push(p);
        s.oom_kills.push(kill(
            4242,
            "java",
            USEC,
            &container_path("1234-abcd", &cid),
            false,
        ));
        if let Some(ago) = ago {
            booted_so_that(&mut s, USEC, ago);
        }
        s
    }

    #[test]
    fn a_kill_one_hour_old_is_critical_and_one_second_older_a_warning() {
        let f = one(&MemoryKernelOomKill, &node(Some(3600)));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "java (pid 4242) in shop/web/app killed by its 256Mi limit 1h0m ago"
        );
        assert_eq!(f.subject.pid, Some(4242));
        assert_eq!(f.subject.container.as_deref(), Some("app"));
        assert_eq!(f.evidence["limit_bytes"], 256u64 << 20);
        assert_eq!(
            severities(&MemoryKernelOomKill, &node(Some(3601))),
            [Severity::Warning]
        );
    }

    #[test]
    fn an_unknown_boot_time_makes_an_undated_warning() {
        let f = one(&MemoryKernelOomKill, &node(None));
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.title.ends_with("at an unknown time"), "{}", f.title);
    }

    #[test]
    fn node_wide_kills_and_kills_outside_pods_are_not_this_rules() {
        let mut s = node(Some(10));
        s.oom_kills[0].global = true;
        assert!(run(&MemoryKernelOomKill, &s).is_empty());
        let mut s = node(Some(10));
        s.oom_kills[0] = kill(7, "sshd", USEC, "/system.slice/ssh.service", false);
        assert!(run(&MemoryKernelOomKill, &s).is_empty());
    }

    #[test]
    fn a_kill_under_kubepods_of_a_container_now_gone_is_still_reported() {
        let mut s = node(Some(10));
        s.pods.clear();
        let f = one(&MemoryKernelOomKill, &s);
        // Gone from the node: named by the uid its cgroup path carried, and said to be gone.
        assert_eq!(f.subject.pod.as_deref(), Some("pod 1234-abcd (deleted)"));
        assert_eq!(f.subject.namespace, None);
        assert!(
            f.title.contains("in pod 1234-abcd (deleted) "),
            "{}",
            f.title
        );
        assert!(
            f.title.contains("killed by its cgroup's limit"),
            "{}",
            f.title
        );
    }

    /// The container's cgroup counted `counted` kills (v2 memory.events) and the log has `logged`.
    fn counted(counted: u64, logged: bool) -> Snapshot {
        let mut s = node(Some(10));
        if !logged {
            s.oom_kills.clear();
        }
        if let Some(cg) = s.pods[0].containers[0].cgroup.as_mut() {
            cg.events = Some(MemoryEvents {
                oom: counted,
                oom_kill: counted,
                max: counted,
                ..Default::default()
            });
        }
        s
    }

    #[test]
    fn kills_counted_beyond_those_logged_are_reported_once() {
        let f = one(&MemoryKernelOomKill, &counted(1, false));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "1 OOM kill(s) counted by the container's cgroup, 0 in the kernel log (the ring has wrapped)"
        );
        // One counted, one logged: only the logged kill's finding.
        assert_eq!(
            severities(&MemoryKernelOomKill, &counted(1, true)),
            [Severity::Critical]
        );
        // Two counted, one logged: both.
        assert_eq!(
            severities(&MemoryKernelOomKill, &counted(2, true)),
            [Severity::Critical, Severity::Warning]
        );
        assert!(run(&MemoryKernelOomKill, &counted(0, false)).is_empty());
    }

    #[test]
    fn the_v1_oom_control_counter_counts_when_there_is_no_memory_events() {
        let mut s = node(Some(10));
        s.oom_kills.clear();
        if let Some(cg) = s.pods[0].containers[0].cgroup.as_mut() {
            cg.oom_control = Some(OomControl {
                oom_kill_disable: false,
                under_oom: false,
                oom_kill: Some(3),
            });
        }
        assert!(
            one(&MemoryKernelOomKill, &s)
                .title
                .starts_with("3 OOM kill(s) counted")
        );
        s.pods[0].containers[0].sandbox = true;
        assert!(
            run(&MemoryKernelOomKill, &s).is_empty(),
            "the sandbox is not a workload"
        );
    }
}
