//! `kernel.hung-task`: the kernel's hung-task detector saw a task in uninterruptible sleep
//! longer than `hung_task_timeout_secs`.

use crate::analyze::health::{pod_of_pid, recent};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::health::KernelEventKind;
use std::collections::BTreeMap;

pub struct KernelHungTask;

impl Rule for KernelHungTask {
    fn id(&self) -> &'static str {
        "kernel.hung-task"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a task was blocked in the kernel (D state) past hung_task_timeout_secs"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kernel's hung-task detector (kernel/hung_task.c) logged 'INFO: task COMM:PID blocked for
  more than N seconds': a task sat in uninterruptible sleep (state D) for longer than
  kernel.hung_task_timeout_secs (120 s by default) in the last 24 hours. node-problem-detector
  reports the same record as TaskHung (and as KernelDeadlock when the task is docker).

WHY IT MATTERS
  A task in D state waits on the kernel - nearly always on I/O: a disk that stopped answering,
  a hung NFS or iSCSI server, an overlay or device-mapper deadlock, a cgroup being torn down.
  It cannot be killed, not even with SIGKILL. When the task is the kubelet, the runtime, runc or
  a mount helper, pods stop starting and stopping (ContainerCreating, Terminating forever), the
  kubelet misses its status updates and the node goes NotReady.

HOW TO CONFIRM
  dmesg -T | grep -A20 'blocked for more than'    (the stack shows what it waits on)
  ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /D/'
  cat /proc/PID/stack
  mount | grep -e nfs -e fuse; nodescope check (fs.io-error, stuck mounts)

WHAT TO CHANGE
  Fix what the task waits on: a failing disk (fs.io-error), an unreachable network filesystem
  (remount with soft,timeo= or fix the server), a runtime bug (upgrade containerd/runc). A task
  stuck in D state is only freed by the I/O completing or a reboot: drain and reboot the node if
  it does not recover."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // One finding per task: the latest record, and how often it was logged.
        let mut tasks: BTreeMap<u32, (usize, crate::analyze::health::DatedEvent<'_>)> =
            BTreeMap::new();
        for d in recent(snap, |k| matches!(k, KernelEventKind::HungTask { .. })) {
            let KernelEventKind::HungTask { pid, .. } = &d.event.kind else {
                continue;
            };
            let e = tasks.entry(*pid).or_insert((0, d.clone()));
            e.0 += 1;
            e.1 = d;
        }
        for (pid, (count, d)) in tasks {
            let KernelEventKind::HungTask { comm, seconds, .. } = &d.event.kind else {
                continue;
            };
            let (namespace, pod, container) = pod_of_pid(snap, pid);
            let in_pod = match (&namespace, &pod) {
                (Some(ns), Some(p)) => format!(" in pod {ns}/{p}"),
                _ => String::new(),
            };
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "task {comm} (pid {pid}){in_pod} was blocked in the kernel for more than {seconds} s, {} ({count} report(s))",
                    d.when()
                ),
                Subject::container(namespace, pod, container).on_node(snap).with_pid(pid),
                serde_json::json!({
                    "comm": comm,
                    "pid": pid,
                    "blocked_seconds": seconds,
                    "reports": count,
                    "last": d.evidence(),
                    "still_running": snap.processes.iter().any(|p| p.pid == pid),
                }),
                "find what the task waits on (dmesg stack, /proc/PID/stack): a failing disk, a hung network mount or a runtime bug; drain and reboot if it stays in D state",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{kernel_event, run, snapshot};

    const REC: &str = "INFO: task containerd:1043 blocked for more than 120 seconds.";

    #[test]
    fn fires_inside_the_window_and_names_the_task() {
        let mut s = snapshot();
        s.health.kernel_events = vec![kernel_event(REC, 24 * 3600 - 1), kernel_event(REC, 60)];
        let f = run(&KernelHungTask, &s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject.pid, Some(1043));
        assert_eq!(f[0].evidence["reports"], 2);
        assert_eq!(
            f[0].title,
            "task containerd (pid 1043) was blocked in the kernel for more than 120 s, 1m ago (2 report(s))"
        );
    }

    #[test]
    fn silent_past_the_window_or_without_records() {
        let mut s = snapshot();
        assert!(run(&KernelHungTask, &s).is_empty());
        s.health.kernel_events = vec![kernel_event(REC, 24 * 3600 + 1)];
        assert!(run(&KernelHungTask, &s).is_empty());
    }

    #[test]
    fn a_task_in_a_pod_is_named_with_its_pod_and_each_task_apart() {
        use crate::analyze::rules::testing::{container, pod, process};
        let mut s = snapshot();
        let mut p = pod("shop", "db-0", "u1");
        p.containers = vec![container("c1", "postgres", None)];
        s.pods = vec![p];
        s.processes = vec![process(1043, "postgres", Some("c1"))];
        s.health.kernel_events = vec![
            kernel_event(REC, 90),
            kernel_event(
                "INFO: task jbd2/sda1-8:311 blocked for more than 240 seconds.",
                30,
            ),
        ];
        let f = run(&KernelHungTask, &s);
        assert_eq!(f.len(), 2, "one finding per task");
        assert_eq!(f[0].subject.pid, Some(311));
        assert_eq!(f[0].evidence["still_running"], false);
        assert_eq!(f[0].evidence["blocked_seconds"], 240);
        assert_eq!(
            f[1].title,
            "task containerd (pid 1043) in pod shop/db-0 was blocked in the kernel for more than 120 s, 1m ago (1 report(s))"
        );
        assert_eq!(f[1].subject.container.as_deref(), Some("postgres"));
        assert_eq!(f[1].evidence["still_running"], true);
    }
}
