//! `cpu.throttling`: a container spent a large share of its CFS periods throttled at its CPU
//! limit.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct CpuThrottling;

/// Share of periods throttled from which the rule fires (percent).
const THROTTLED_PERCENT: f64 = 25.0;
/// Periods a container must have run before its share means anything (2 s at 100 ms).
const MIN_PERIODS: u64 = 20;

impl Rule for CpuThrottling {
    fn id(&self) -> &'static str {
        "cpu.throttling"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a container was CPU-throttled in 25% or more of its CFS periods"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kernel enforces a container's CPU limit with CFS bandwidth control: in each period
  (cpu.cfs_period_us, 100 ms) the cgroup may run for its quota (limit x period), and once the
  quota is spent its threads wait for the next period. cpu.stat counts the periods with
  runnable threads (nr_periods) and those that ran out of quota (nr_throttled); here
  nr_throttled is 25% or more of nr_periods (over at least 20 periods), counted since the
  container started (cgroup v2 cpu.stat / cpu.max; v1 cpu.stat / cpu.cfs_quota_us).

WHY IT MATTERS
  A throttled container stalls for the rest of each period: request latency jumps by up to
  tens of milliseconds per period, liveness probes time out and the kubelet restarts the
  container, JVMs and Go runtimes with more threads than the limit burn the quota in a
  fraction of the period. Average CPU usage below the limit does not show it: bursts hit it.

HOW TO CONFIRM
  cat /sys/fs/cgroup/<pod cgroup>/<container>/cpu.stat   (nr_periods, nr_throttled)
  cat .../cpu.max  (v2)  or  cpu.cfs_quota_us / cpu.cfs_period_us  (v1)
  PromQL: rate(container_cpu_cfs_throttled_periods_total[5m]) /
          rate(container_cpu_cfs_periods_total[5m])

WHAT TO CHANGE
  Raise the container's CPU limit or remove it (keep the request, which sets its share),
  size thread pools to the limit (GOMAXPROCS, -XX:ActiveProcessorCount), or spread the
  work. Throttling with low average usage means bursts: a higher limit costs nothing when
  the node has idle CPU."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for pod in &snap.pods {
            for c in pod.containers.iter().filter(|c| !c.sandbox) {
                let Some(cpu) = c.cgroup.as_ref().and_then(|g| g.cpu) else {
                    continue;
                };
                let Some(pct) = cpu.throttled_percent() else {
                    continue;
                };
                if cpu.nr_periods < MIN_PERIODS || pct < THROTTLED_PERCENT {
                    continue;
                }
                let name = |o: &Option<String>, d: &str| o.clone().unwrap_or_else(|| d.to_string());
                let who = format!(
                    "{}/{} container {}",
                    name(&pod.namespace, "?"),
                    name(&pod.name, &pod.uid),
                    name(&c.name, &c.id[..c.id.len().min(12)])
                );
                let limit = cpu
                    .limit_cores()
                    .map_or("no limit".to_string(), |l| format!("limit {} CPU", trim(l)));
                let used = cpu.usage_usec.map_or(String::new(), |u| {
                    format!(", {:.1} CPU-s used", u as f64 / 1e6)
                });
                out.push(finding(
                    self,
                    Severity::Warning,
                    format!(
                        "{who} was throttled in {:.0}% of its CFS periods ({} of {}; {limit}{used}, {:.1} s throttled)",
                        pct,
                        cpu.nr_throttled,
                        cpu.nr_periods,
                        cpu.throttled_usec as f64 / 1e6
                    ),
                    Subject::container(pod.namespace.clone(), pod.name.clone().or_else(|| Some(pod.uid.clone())), c.name.clone()).on_node(snap),
                    serde_json::json!({
                        "cgroup": c.cgroup.as_ref().map(|g| g.path.clone()),
                        "container_id": c.id,
                        "nr_periods": cpu.nr_periods,
                        "nr_throttled": cpu.nr_throttled,
                        "throttled_percent": (pct * 10.0).round() / 10.0,
                        "throttled_usec": cpu.throttled_usec,
                        "quota_usec": cpu.quota_usec,
                        "period_usec": cpu.period_usec,
                        "limit_cores": cpu.limit_cores(),
                        "usage_usec": cpu.usage_usec,
                    }),
                    match cpu.limit_cores() {
                        Some(l) => format!(
                            "raise or remove {}/{}'s CPU limit of {} CPU (keep its request), or size its thread pools to it (GOMAXPROCS={}, -XX:ActiveProcessorCount={})",
                            crate::model::pod_ref(pod.namespace.as_deref(), pod.name.as_deref(), &pod.uid),
                            name(&c.name, &c.id[..c.id.len().min(12)]),
                            trim(l),
                            l.ceil().max(1.0),
                            l.ceil().max(1.0)
                        ),
                        None => "raise or remove the container's CPU limit (keep its request), or size its thread pools to the limit (GOMAXPROCS, ActiveProcessorCount)".into(),
                    },
                ));
            }
        }
    }
}

/// `0.1`, `2`, `1.5`: cores without trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::{CgroupCpu, CgroupStats, Container, Pod};

    fn node(periods: u64, throttled: u64) -> Snapshot {
        let mut s = snapshot();
        s.pods = vec![Pod {
            uid: "u1".into(),
            namespace: Some("shop".into()),
            name: Some("api-1".into()),
            qos: None,
            cgroup: None,
            containers: vec![Container {
                id: "c".repeat(64),
                name: Some("api".into()),
                runtime: None,
                sandbox: false,
                cgroup: Some(CgroupStats {
                    path: "/kubepods/burstable/podu1/cc".into(),
                    cpu: Some(CgroupCpu {
                        quota_usec: Some(10_000),
                        period_usec: Some(100_000),
                        nr_periods: periods,
                        nr_throttled: throttled,
                        throttled_usec: 2_500_000,
                        usage_usec: Some(3_000_000),
                    }),
                    ..Default::default()
                }),
            }],
            log_dir: None,
            api: None,
        }];
        s
    }

    #[test]
    fn fires_from_a_quarter_of_the_periods() {
        let f = run(&CpuThrottling, &node(100, 25));
        assert_eq!(
            f[0].title,
            "shop/api-1 container api was throttled in 25% of its CFS periods (25 of 100; limit 0.1 CPU, 3.0 CPU-s used, 2.5 s throttled)"
        );
        assert!(run(&CpuThrottling, &node(100, 24)).is_empty());
    }

    #[test]
    fn needs_enough_periods() {
        assert_eq!(
            run(&CpuThrottling, &node(MIN_PERIODS, MIN_PERIODS)).len(),
            1
        );
        assert!(run(&CpuThrottling, &node(MIN_PERIODS - 1, MIN_PERIODS - 1)).is_empty());
    }

    /// The fix names the container and its limit, and the thread-pool size that fits it.
    #[test]
    fn the_fix_names_the_limit_in_force() {
        let f = run(&CpuThrottling, &node(100, 25));
        assert_eq!(
            f[0].remedy,
            "raise or remove shop/api-1/api's CPU limit of 0.1 CPU (keep its request), or size its thread pools to it (GOMAXPROCS=1, -XX:ActiveProcessorCount=1)"
        );
    }
}
