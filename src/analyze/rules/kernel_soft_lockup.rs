//! `kernel.soft-lockup`: the kernel's watchdogs saw a CPU stuck (soft or hard lockup) or RCU
//! saw a grace period stall.

use crate::analyze::health::recent;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::health::KernelEventKind;

pub struct KernelSoftLockup;

/// The most records listed in the evidence (a stuck CPU repeats every 20-odd seconds).
const SHOWN: usize = 20;

impl Rule for KernelSoftLockup {
    fn id(&self) -> &'static str {
        "kernel.soft-lockup"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the kernel reported a soft or hard lockup, or an RCU stall"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  In the last 24 hours the kernel logged 'watchdog: BUG: soft lockup - CPU#N stuck for Ns!'
  (a CPU ran kernel code without scheduling for twice kernel.watchdog_thresh, 20 s by
  default), 'Watchdog detected hard LOCKUP on cpu N' (a CPU stopped taking interrupts), or
  'rcu_sched detected stalls on CPUs/tasks' (a CPU did not pass through a quiescent state for
  rcu_cpu_stall_timeout, 21 s by default). kernel/watchdog.c and kernel/rcu/tree_stall.h.

WHY IT MATTERS
  While a CPU is locked up nothing else runs on it: the kubelet misses its node-status
  updates (the node goes NotReady after 40 s), probes time out, network packets queue. Causes
  are kernel bugs (netfilter, ebtables, overlayfs, drivers), a hypervisor that stole the vCPU
  (steal time, live migration, an overcommitted host) and heavy memory pressure. Repeated
  lockups usually end in a hang or, with kernel.softlockup_panic, a reboot.

HOW TO CONFIRM
  dmesg -T | grep -e 'soft lockup' -e 'hard LOCKUP' -e 'detected stall' -A30
  (the stack under each record names the code that spun; the [COMM:PID] the task on the CPU)
  top: high %st (steal) points at the hypervisor; sysctl kernel.watchdog_thresh

WHAT TO CHANGE
  Drain the node. Upgrade the kernel when the stack points at a known bug (search the top
  frames), move off an overcommitted host or instance type when steal is high, and replace the
  node if lockups repeat. Raising watchdog_thresh only hides the symptom."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let events = recent(snap, |k| {
            matches!(
                k,
                KernelEventKind::SoftLockup { .. }
                    | KernelEventKind::HardLockup { .. }
                    | KernelEventKind::RcuStall { .. }
            )
        });
        let Some(last) = events.last() else { return };
        let count =
            |f: fn(&KernelEventKind) -> bool| events.iter().filter(|d| f(&d.event.kind)).count();
        let soft = count(|k| matches!(k, KernelEventKind::SoftLockup { .. }));
        let hard = count(|k| matches!(k, KernelEventKind::HardLockup { .. }));
        let rcu = count(|k| matches!(k, KernelEventKind::RcuStall { .. }));
        let mut cpus: Vec<u32> = events
            .iter()
            .filter_map(|d| match &d.event.kind {
                KernelEventKind::SoftLockup { cpu, .. } | KernelEventKind::HardLockup { cpu } => {
                    Some(*cpu)
                }
                _ => None,
            })
            .collect();
        cpus.sort_unstable();
        cpus.dedup();
        let shown: Vec<serde_json::Value> = events
            .iter()
            .rev()
            .take(SHOWN)
            .map(|d| d.evidence())
            .collect();
        out.push(finding(
            self,
            Severity::Critical,
            format!(
                "{soft} soft lockup(s), {hard} hard lockup(s) and {rcu} RCU stall(s) in the last 24 h; the last {}: {}",
                last.when(),
                last.event.message
            ),
            Subject::node(snap),
            serde_json::json!({
                "soft_lockups": soft,
                "hard_lockups": hard,
                "rcu_stalls": rcu,
                "cpus": cpus,
                "records_newest_first": shown,
            }),
            "drain the node; read the stack under each record (dmesg); upgrade the kernel for a known bug, leave an overcommitted host when steal time is high, replace the node if it repeats",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{kernel_event, run, snapshot};

    #[test]
    fn counts_each_kind_inside_the_window() {
        let mut s = snapshot();
        s.health.kernel_events = vec![
            kernel_event(
                "watchdog: BUG: soft lockup - CPU#7 stuck for 28s! [qemu-ga:864]",
                24 * 3600 - 1,
            ),
            kernel_event("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3", 120),
            kernel_event("rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", 60),
        ];
        let f = run(&KernelSoftLockup, &s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].evidence["cpus"], serde_json::json!([3, 7]));
        assert_eq!(
            f[0].title,
            "1 soft lockup(s), 1 hard lockup(s) and 1 RCU stall(s) in the last 24 h; the last 1m ago: rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"
        );
    }

    #[test]
    fn silent_for_older_records() {
        let mut s = snapshot();
        s.health.kernel_events = vec![kernel_event(
            "watchdog: BUG: soft lockup - CPU#7 stuck for 28s! [qemu-ga:864]",
            24 * 3600 + 1,
        )];
        assert!(run(&KernelSoftLockup, &s).is_empty());
    }

    #[test]
    fn each_kind_alone_fires_and_other_records_do_not() {
        for (msg, counts) in [
            (
                "watchdog: BUG: soft lockup - CPU#2 stuck for 23s! [kworker/2:1:77]",
                [1, 0, 0],
            ),
            (
                "NMI watchdog: Watchdog detected hard LOCKUP on cpu 5",
                [0, 1, 0],
            ),
            (
                "rcu: INFO: rcu_preempt self-detected stall on CPU",
                [0, 0, 1],
            ),
        ] {
            let mut s = snapshot();
            s.health.kernel_events = vec![kernel_event(msg, 10)];
            let f = run(&KernelSoftLockup, &s);
            assert_eq!(f.len(), 1, "{msg}");
            let got =
                ["soft_lockups", "hard_lockups", "rcu_stalls"].map(|k| f[0].evidence[k].clone());
            assert_eq!(got, counts.map(serde_json::Value::from), "{msg}");
        }
        let mut s = snapshot();
        s.health.kernel_events = vec![kernel_event(
            "INFO: task containerd:1043 blocked for more than 120 seconds.",
            10,
        )];
        assert!(
            run(&KernelSoftLockup, &s).is_empty(),
            "a hung task is not a lockup"
        );
    }
}
