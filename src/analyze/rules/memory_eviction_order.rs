//! `memory.eviction-order`: who each killer takes first, side by side.

use crate::analyze::next_victims::{adj_mismatches_first, kernel_order_top, kubelet_order};
use crate::analyze::remedy::{Remedy, over_request};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct MemoryEvictionOrder;

/// How many candidates each list shows.
const TOP: usize = 10;

impl Rule for MemoryEvictionOrder {
    fn id(&self) -> &'static str {
        "memory.eviction-order"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "who the kubelet would evict first, and who the kernel would OOM-kill first"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  Two orderings of the pods on this node. evidence.kubelet: the kubelet's eviction ranking under
  memory pressure (pkg/kubelet/eviction/helpers.go rankMemoryPressure: pods whose working set
  exceeds their memory request first, then lower priority, then larger usage over request;
  critical pods are never evicted). evidence.kernel: the processes in pods by oom_score, the
  kernel OOM killer's choice in a node-wide OOM.

WHY IT MATTERS
  The two differ. QoS sets oom_score_adj (Guaranteed -997, BestEffort 1000, Burstable from the
  request), but the kubelet ranks by usage over request, not by QoS. A Burstable pod far over
  its request is evicted before an idle BestEffort one; in a kernel OOM, the BestEffort one dies
  first. Knowing both tells you who is exposed before it happens.

HOW TO CONFIRM
  for p in /proc/[0-9]*; do echo \"$(cat $p/oom_score) $(cat $p/oom_score_adj) $(cat $p/comm)\"; done | sort -rn | head
  kubectl top pods -A --sort-by=memory
  kubectl get pods -A -o custom-columns=NS:.metadata.namespace,POD:.metadata.name,QOS:.status.qosClass,PRIO:.spec.priority

WHAT TO CHANGE
  Set memory requests close to real usage, so that the kubelet's first victims are the pods
  that actually overrun; give the pods you must keep priority (and, for node agents,
  system-node-critical). Without the API server, nodescope estimates requests from
  oom_score_adj and treats priorities as equal: the evidence says so."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let kubelet = kubelet_order(snap);
        if kubelet.is_empty() {
            return;
        }
        let kernel = kernel_order_top(snap, TOP);
        let first_k = kubelet.iter().find(|p| !p.critical);
        let title = match (first_k, kernel.first()) {
            (Some(k), Some(c)) => format!(
                "kubelet would evict {} first; the kernel would kill {} ({}, oom_score {}) first",
                k.label, c.label, c.comm, c.oom_score
            ),
            (Some(k), None) => format!("kubelet would evict {} first", k.label),
            _ => "every pod found is critical: the kubelet would evict none".into(),
        };
        let kubelet_list: Vec<serde_json::Value> = kubelet
            .iter()
            .take(TOP)
            .map(|p| {
                serde_json::json!({
                    "namespace": p.namespace, "pod": p.pod, "working_set_bytes": p.working_set_bytes,
                    "request_bytes": p.request_bytes, "request_from": p.request_from, "priority": p.priority,
                    "exceeds_request": p.exceeds_request, "critical": p.critical,
                    "critical_because": p.critical_because,
                })
            })
            .collect();
        let kernel_list: Vec<serde_json::Value> = kernel
            .iter()
            .take(TOP)
            .map(|c| {
                serde_json::json!({
                    "namespace": c.namespace, "pod": c.pod, "container": c.container, "pid": c.pid,
                    "comm": c.comm, "oom_score": c.oom_score, "oom_score_adj": c.oom_score_adj,
                })
            })
            .collect();
        let estimated = kubelet.iter().filter(|p| p.request_from != "api").count();
        // Bounded as the two lists above: on a node where no process has the adj its QoS gives
        // (a runtime that ignores the kubelet's), every process would be listed, 2 MB of
        // evidence at 10,000 processes. The first TOP by pid, and how many there are.
        let (mismatches, mismatch_count) = adj_mismatches_first(snap, TOP);
        let mut evidence = serde_json::json!({
            "kubelet": kubelet_list,
            "kernel": kernel_list,
            "oom_score_adj_mismatches": mismatches,
        });
        if mismatch_count > TOP {
            evidence["oom_score_adj_mismatch_count"] = mismatch_count.into();
        }
        // Said only where data really is missing: the pods the API did not give.
        if estimated > 0 {
            evidence["approximation"] = format!(
                "{estimated} of {} pods without the API's word: memory requests estimated from oom_score_adj, priorities taken as 0",
                kubelet.len()
            )
            .into();
        }
        out.push(finding(
            self,
            Severity::Info,
            title,
            Subject::node(snap),
            evidence,
            remedy(snap, &kubelet),
        ));
    }
}

/// The pods over their requests by name (they go first), requests for them near their usage,
/// and priorities only where the API did not already give them.
fn remedy(snap: &Snapshot, kubelet: &[crate::analyze::next_victims::PredictedPod]) -> String {
    let mut r = Remedy::new();
    let over = over_request(snap, 3);
    if over.is_empty() {
        r.step("every pod is within its memory request: keep requests near real usage");
    } else {
        r.step(format!(
            "set memory requests near real usage on the pods over theirs: {}",
            over.join(", ")
        ));
    }
    if kubelet.iter().any(|p| p.priority.is_none()) {
        r.step("give the pods you must keep a PriorityClass");
    }
    r.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::CgroupStats;

    /// Two Burstable pods: `big` over its request (estimated from oom_score_adj) and `small`
    /// under it; the kernel would pick `small`'s process (higher oom_score).
    fn node() -> Snapshot {
        let mut s = snap();
        s.memory = meminfo(16 << 30);
        for (name, uid, c, ws, adj, score) in [
            ("big", "u1", 'a', 4u64 << 30, 900i64, 1100i64),
            ("small", "u2", 'b', 1u64 << 20, 900, 1500),
        ] {
            let mut p = pod("shop", name, uid);
            p.cgroup = Some(CgroupStats {
                usage_bytes: Some(ws),
                inactive_file_bytes: Some(0),
                ..cgroup(&format!("/kubepods.slice/pod{uid}"))
            });
            p.containers.push(container(&id(c), "app", None));
            s.pods.push(p);
            let mut pr = process(if name == "big" { 10 } else { 20 }, name, Some(&id(c)));
            pr.oom_score_adj = Some(adj);
            pr.oom_score = Some(score);
            s.processes.push(pr);
        }
        s
    }

    #[test]
    fn both_orders_are_given_side_by_side() {
        let f = one(&MemoryEvictionOrder, &node());
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(
            f.title,
            "kubelet would evict shop/big first; the kernel would kill shop/small (small, oom_score 1500) first"
        );
        assert_eq!(f.evidence["kubelet"][0]["pod"], "big");
        assert_eq!(f.evidence["kubelet"][0]["exceeds_request"], true);
        assert_eq!(f.evidence["kernel"][0]["pod"], "small");
    }

    /// The API's word replaces the estimate: `big` (over its estimated request) asks for 8Gi,
    /// so it no longer exceeds; `small` has priority 2,000,000,000 (system-cluster-critical),
    /// so it is critical. Both from the API: no approximation is claimed. Without `big`'s
    /// API object, one of two pods is said to be estimated.
    #[test]
    fn api_requests_and_priorities_replace_the_estimate() {
        use crate::model::cluster::{ApiContainer, ApiPod};
        let api = |uid: &str, memory: &str, priority: i32| ApiPod {
            uid: uid.into(),
            namespace: "shop".into(),
            name: uid.into(),
            node_name: None,
            phase: Some("Running".into()),
            qos_class: Some("Burstable".into()),
            priority: Some(priority),
            priority_class: None,
            host_network: false,
            dns_policy: None,
            containers: vec![ApiContainer {
                name: "app".into(),
                requests: [("memory".to_string(), memory.to_string())].into(),
                limits: Default::default(),
                restart_count: None,
                last_termination_reason: None,
                last_termination_exit_code: None,
                last_termination_signal: None,
            }],
            node_selector: Default::default(),
            tolerations: Vec::new(),
            required_node_affinity: None,
            reason: None,
            message: None,
            ..Default::default()
        };
        let mut s = node();
        s.pods[0].api = Some(api("u1", "8Gi", 0));
        s.pods[1].api = Some(api("u2", "1Mi", 2_000_000_000));
        let f = one(&MemoryEvictionOrder, &s);
        let k = &f.evidence["kubelet"];
        assert_eq!(k[0]["pod"], "big");
        assert_eq!(k[0]["exceeds_request"], false);
        assert_eq!(k[0]["request_bytes"], 8i64 << 30);
        assert_eq!(k[0]["request_from"], "api");
        assert_eq!(k[1]["pod"], "small");
        assert_eq!(k[1]["critical"], true);
        assert_eq!(k[1]["priority"], 2_000_000_000);
        assert!(f.evidence.get("approximation").is_none(), "{}", f.evidence);

        s.pods[0].api = None;
        let f = one(&MemoryEvictionOrder, &s);
        assert_eq!(f.evidence["kubelet"][0]["request_from"], "oom_score_adj");
        assert_eq!(
            f.evidence["approximation"],
            "1 of 2 pods without the API's word: memory requests estimated from oom_score_adj, priorities taken as 0"
        );
        // One below the critical priority is an ordinary pod.
        s.pods[1].api = Some(api("u2", "1Mi", 1_999_999_999));
        let f = one(&MemoryEvictionOrder, &s);
        assert!(
            f.evidence["kubelet"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["critical"] == false)
        );
    }

    /// `IsCriticalPod` beyond the priority value (pkg/kubelet/types/pod_update.go): the mirror of
    /// a static pod, a static pod, and a critical priority class whose resolved priority the
    /// object does not carry are all passed over; the next pod is the victim.
    #[test]
    fn static_and_mirror_pods_and_critical_classes_are_never_the_kubelets_victim() {
        use crate::model::cluster::ApiPod;
        let api = |edit: &dyn Fn(&mut ApiPod)| {
            let mut a = ApiPod {
                uid: "u1".into(),
                namespace: "shop".into(),
                name: "big".into(),
                ..Default::default()
            };
            edit(&mut a);
            Some(a)
        };
        for (edit, because) in [
            (
                &(|a: &mut ApiPod| a.mirror_of = Some("u1".into())) as &dyn Fn(&mut ApiPod),
                "static-or-mirror",
            ),
            (
                &|a: &mut ApiPod| a.config_source = Some("file".into()),
                "static-or-mirror",
            ),
            (
                &|a: &mut ApiPod| a.priority_class = Some("system-node-critical".into()),
                "priority-class",
            ),
            (
                &|a: &mut ApiPod| a.priority = Some(2_000_001_000),
                "priority",
            ),
        ] {
            let mut s = node();
            s.pods[0].api = api(edit);
            let f = one(&MemoryEvictionOrder, &s);
            assert_eq!(f.evidence["kubelet"][0]["pod"], "big");
            assert_eq!(f.evidence["kubelet"][0]["critical_because"], because);
            assert!(
                f.title.starts_with("kubelet would evict shop/small first"),
                "{because}: {}",
                f.title
            );
        }
        // An API pod from the API server (`config.source: api`) is an ordinary pod.
        let mut s = node();
        s.pods[0].api = api(&|a| a.config_source = Some("api".into()));
        let f = one(&MemoryEvictionOrder, &s);
        assert_eq!(f.evidence["kubelet"][0]["critical"], false);
    }

    #[test]
    fn a_pod_nothing_names_is_named_by_its_uid_never_by_a_placeholder() {
        let mut s = node();
        s.pods[0].namespace = None;
        s.pods[0].name = None;
        assert_eq!(
            one(&MemoryEvictionOrder, &s).title,
            "kubelet would evict pod u1 first; the kernel would kill shop/small (small, oom_score 1500) first"
        );
    }

    #[test]
    fn without_oom_scores_only_the_kubelet_order_is_told() {
        let mut s = node();
        for p in &mut s.processes {
            p.oom_score = None;
        }
        assert_eq!(
            one(&MemoryEvictionOrder, &s).title,
            "kubelet would evict shop/big first"
        );
    }

    #[test]
    fn only_critical_pods_leave_the_kubelet_nothing_to_evict() {
        let mut s = node();
        for p in &mut s.processes {
            p.oom_score_adj = Some(-997);
        }
        assert_eq!(
            one(&MemoryEvictionOrder, &s).title,
            "every pod found is critical: the kubelet would evict none"
        );
    }

    #[test]
    fn pods_without_a_cgroup_are_not_ranked_and_no_pods_means_no_finding() {
        let mut s = node();
        for p in &mut s.pods {
            p.cgroup = None;
        }
        assert!(run(&MemoryEvictionOrder, &s).is_empty());
    }

    #[test]
    fn each_list_is_cut_at_ten() {
        let mut s = snap();
        for i in 0..12 {
            s.pods
                .push(pod("shop", &format!("p{i:02}"), &format!("u{i}")));
        }
        let f = one(&MemoryEvictionOrder, &s);
        assert_eq!(f.evidence["kubelet"].as_array().map(Vec::len), Some(10));
    }

    /// The oom_score_adj mismatches are bounded as the other lists, with their number; a
    /// node with few says no number.
    #[test]
    fn the_adj_mismatches_are_cut_at_ten_and_counted() {
        let mut s = node();
        let f = one(&MemoryEvictionOrder, &s);
        assert_eq!(
            f.evidence["oom_score_adj_mismatches"],
            serde_json::json!([])
        );
        assert!(f.evidence.get("oom_score_adj_mismatch_count").is_none());
        for pid in 100..112 {
            // Burstable gives 3..=999; 1000 is BestEffort's.
            let mut pr = process(pid, "worker", Some(&id('a')));
            pr.oom_score_adj = Some(1000);
            s.processes.push(pr);
        }
        let f = one(&MemoryEvictionOrder, &s);
        let m = f.evidence["oom_score_adj_mismatches"].as_array().unwrap();
        assert_eq!(m.len(), 10);
        assert_eq!(
            (m[0]["pid"].as_u64(), m[9]["pid"].as_u64()),
            (Some(100), Some(109))
        );
        assert_eq!(f.evidence["oom_score_adj_mismatch_count"], 12);
    }

    /// The fix names the pod over its request, and asks for priorities only while the API has
    /// not given them.
    #[test]
    fn the_fix_names_the_pods_over_their_requests() {
        let f = one(&MemoryEvictionOrder, &node());
        assert!(
            f.remedy.starts_with(
                "set memory requests near real usage on the pods over theirs: shop/big "
            ),
            "{}",
            f.remedy
        );
        assert!(
            f.remedy
                .ends_with("(estimated) request; give the pods you must keep a PriorityClass"),
            "{}",
            f.remedy
        );
        let mut s = node();
        s.pods.retain(|p| p.name.as_deref() == Some("small"));
        assert_eq!(
            one(&MemoryEvictionOrder, &s).remedy,
            "every pod is within its memory request: keep requests near real usage; give the pods you must keep a PriorityClass"
        );
    }
}
