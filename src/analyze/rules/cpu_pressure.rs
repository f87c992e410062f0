//! `cpu.pressure`: tasks on the node wait for a CPU most of the time.

use crate::analyze::remedy::{Remedy, add_entry, reserved_cpu_target_millis};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct CpuPressure;

/// CPU PSI `some avg10` from which the rule fires: runnable tasks waited for a CPU half of
/// the last 10 seconds.
const PSI_SOME_AVG10: f64 = 50.0;
/// Load average over CPUs from which the run queue is "far above" the CPUs.
const LOAD_PER_CPU: f64 = 4.0;

impl Rule for CpuPressure {
    fn id(&self) -> &'static str {
        "cpu.pressure"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "CPU PSI some avg10 is 50 or more, or the load is 4x the CPUs"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  /proc/pressure/cpu 'some avg10' is 50 or more: over the last 10 seconds, at least one
  runnable task waited for a CPU half of the time (Documentation/accounting/psi.rst). Or,
  where PSI is off, the 1-minute load average is 4 times the CPUs online or more.

WHY IT MATTERS
  The kubelet, the runtime and the network plugin's agent compete with the pods for CPU:
  under this pressure node-status updates and probes run late (the node flaps NotReady,
  containers are restarted for failing probes), and latency of every pod rises. The usual
  causes are pods without CPU limits bursting, too little kubeReserved/systemReserved CPU,
  or a node simply too small for its pods.

HOW TO CONFIRM
  cat /proc/pressure/cpu; uptime; nproc
  top -o %CPU; kubectl top pods -A --sort-by=cpu | head
  cat /sys/fs/cgroup/kubepods*/cpu.pressure   (v2: the pods' share of the stall)

WHAT TO CHANGE
  Set CPU requests that match usage (the scheduler packs by requests) and limits on
  bursting pods, reserve CPU for the system (kubeReserved, systemReserved), move pods off
  with anti-affinity or a larger node."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let psi = snap.psi.cpu.map(|p| p.some.avg10);
        let load = snap.health.loadavg;
        let cpus = snap.health.cpus_online;
        let per_cpu = match (load, cpus) {
            (Some(l), Some(c)) if c > 0 => Some(l.one / f64::from(c)),
            _ => None,
        };
        let mut why = Vec::new();
        if let Some(p) = psi.filter(|p| *p >= PSI_SOME_AVG10) {
            why.push(format!(
                "tasks waited for a CPU {p:.0}% of the last 10 s (PSI some avg10)"
            ));
        }
        if let (Some(r), Some(l), Some(c)) = (per_cpu.filter(|r| *r >= LOAD_PER_CPU), load, cpus) {
            why.push(format!("load {:.2} on {c} CPU(s), {r:.1} per CPU", l.one));
        }
        if why.is_empty() {
            return;
        }
        out.push(finding(
            self,
            Severity::Warning,
            format!("CPU pressure: {}", why.join("; ")),
            Subject::node(snap),
            serde_json::json!({
                "psi_cpu": snap.psi.cpu,
                "loadavg": load,
                "cpus_online": cpus,
                "load_per_cpu": per_cpu.map(|r| (r * 100.0).round() / 100.0),
            }),
            remedy(snap),
        ));
    }
}

/// Requests and limits for the pods, and CPU reserved for the system when the kubelet reserves
/// none (sized to the node's CPUs).
fn remedy(snap: &Snapshot) -> String {
    let mut r = Remedy::new();
    r.step("set CPU requests that match usage and limits on bursting pods, or move pods to a larger node");
    if let Some(k) = &snap.kubelet {
        let c = &k.config;
        if !c.system_reserved.contains_key("cpu") && !c.kube_reserved.contains_key("cpu") {
            let m = reserved_cpu_target_millis(snap.health.cpus_online.unwrap_or(1));
            r.step(add_entry(k, "systemReserved", "cpu", &format!("{m}m")));
        }
    }
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::health::LoadAvg;
    use crate::model::{Pressure, PsiLine};

    fn node(avg10: f64, load1: f64) -> Snapshot {
        let mut s = snapshot();
        s.psi.cpu = Some(Pressure {
            some: PsiLine {
                avg10,
                ..Default::default()
            },
            full: None,
        });
        s.health.loadavg = Some(LoadAvg {
            one: load1,
            five: 1.0,
            fifteen: 1.0,
            runnable: 3,
        });
        s.health.cpus_online = Some(2);
        s
    }

    #[test]
    fn psi_threshold_on_both_sides() {
        let f = run(&CpuPressure, &node(50.0, 1.0));
        assert_eq!(
            f[0].title,
            "CPU pressure: tasks waited for a CPU 50% of the last 10 s (PSI some avg10)"
        );
        assert!(run(&CpuPressure, &node(49.99, 1.0)).is_empty());
    }

    #[test]
    fn load_threshold_on_both_sides() {
        let f = run(&CpuPressure, &node(0.0, 8.0));
        assert_eq!(
            f[0].title,
            "CPU pressure: load 8.00 on 2 CPU(s), 4.0 per CPU"
        );
        assert!(run(&CpuPressure, &node(0.0, 7.99)).is_empty());
    }

    /// CPU is reserved for the system only when the kubelet reserves none.
    #[test]
    fn the_fix_reserves_cpu_only_when_none_is_reserved() {
        let mut s = node(50.0, 1.0);
        s.kubelet = crate::analyze::rules::testing::kubelet(
            crate::analyze::rules::testing::kubelet_defaults(),
        );
        let f = run(&CpuPressure, &s);
        assert_eq!(
            f[0].remedy,
            "set CPU requests that match usage and limits on bursting pods, or move pods to a larger node; add `systemReserved: {cpu: 70m}`"
        );
        if let Some(k) = s.kubelet.as_mut() {
            k.config.kube_reserved.insert("cpu".into(), "100m".into());
        }
        assert_eq!(
            run(&CpuPressure, &s)[0].remedy,
            "set CPU requests that match usage and limits on bursting pods, or move pods to a larger node"
        );
    }
}
