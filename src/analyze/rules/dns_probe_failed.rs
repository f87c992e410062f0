//! `dns.probe-failed`: a live probe from a pod's network namespace timed out or failed.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DnsProbeFailed;

impl Rule for DnsProbeFailed {
    fn id(&self) -> &'static str {
        "dns.probe-failed"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "a live DNS probe from a pod's network namespace timed out or failed"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  nodescope dns probe entered a pod's network namespace and sent the queries its resolver would
  send for a name, to the nameservers in its resolv.conf. At least one query got no answer
  within the resolver's timeout, or failed (refused, unreachable, SERVFAIL), or the name did
  not resolve at all. Only the probe sends packets; check never does, so this rule fires only
  in the probe's report.

WHY IT MATTERS
  A query that times out costs the application the resolver's timeout (5 s by default) times its
  attempts; a SERVFAIL or a refused server fails the lookup outright. The probe shows which
  server and which name: the cluster DNS, a forwarder behind it, or the path between.

HOW TO CONFIRM
  kubectl exec -n NS POD -- nslookup NAME
  kubectl -n kube-system logs -l k8s-app=kube-dns --tail 50
  dig @SERVER NAME from the node; nodescope dns probe NAME --pod NS/POD --format json

WHAT TO CHANGE
  For timeouts to the cluster DNS: check CoreDNS pods and their endpoints, kube-proxy rules, and
  the conntrack race (dns.conntrack-race). For SERVFAIL on external names: CoreDNS's forward
  upstreams. For names that should not be asked at all: fewer search domains, lower ndots."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for p in &snap.dns.probes {
            let bad: Vec<&crate::model::dns::ProbeQuery> = p
                .queries
                .iter()
                .filter(|q| {
                    q.timed_out
                        || q.error.is_some()
                        || matches!(q.rcode.as_deref(), Some(r) if r != "NOERROR" && r != "NXDOMAIN")
                })
                .collect();
            if bad.is_empty() && p.resolved {
                continue;
            }
            let timeouts = bad.iter().filter(|q| q.timed_out).count();
            let title = if let Some(q) = bad.first() {
                format!(
                    "{} of {} queries for {} failed ({} timed out); first: {} {} to {} {}",
                    bad.len(),
                    p.queries.len(),
                    p.name,
                    timeouts,
                    q.qtype,
                    q.name,
                    q.server,
                    if q.timed_out {
                        format!("timed out after {:.0} ms", q.ms)
                    } else {
                        q.rcode
                            .clone()
                            .or_else(|| q.error.clone())
                            .unwrap_or_default()
                    }
                )
            } else {
                format!(
                    "{} did not resolve: every query answered NXDOMAIN or empty",
                    p.name
                )
            };
            out.push(finding(
                self,
                Severity::Critical,
                title,
                Subject::pod(p.namespace.clone(), p.pod.clone()).with_pid((p.pid != 0).then_some(p.pid)),
                serde_json::json!({
                    "name": p.name,
                    "failed": bad,
                    "queries": p.queries.len(),
                    "total_ms": p.total_ms,
                    "resolved": p.resolved,
                }),
                "check the cluster DNS pods and the path to them (kube-proxy, conntrack); see the failed queries' servers",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::dns::{Probe, ProbeQuery};

    fn q(qtype: &str, rcode: Option<&str>, timed_out: bool, error: Option<&str>) -> ProbeQuery {
        ProbeQuery {
            name: "api.example.com.".into(),
            qtype: qtype.into(),
            server: "10.96.0.10:53".into(),
            rcode: rcode.map(String::from),
            answers: usize::from(rcode == Some("NOERROR")),
            ms: if timed_out { 5000.0 } else { 1.0 },
            timed_out,
            error: error.map(String::from),
        }
    }

    fn node(queries: Vec<ProbeQuery>, resolved: bool) -> Snapshot {
        let mut s = snap();
        s.dns.probes.push(Probe {
            namespace: Some("shop".into()),
            pod: Some("web".into()),
            pid: 4242,
            name: "api.example.com".into(),
            queries,
            resolved,
            total_ms: 2.0,
        });
        s
    }

    #[test]
    fn a_resolved_name_with_noerror_and_nxdomain_only_is_silent() {
        let ok = vec![
            q("A", Some("NXDOMAIN"), false, None),
            q("A", Some("NOERROR"), false, None),
        ];
        assert!(run(&DnsProbeFailed, &node(ok, true)).is_empty());
    }

    #[test]
    fn one_timeout_is_critical_and_named_first() {
        let f = one(
            &DnsProbeFailed,
            &node(
                vec![
                    q("A", None, true, None),
                    q("AAAA", Some("NOERROR"), false, None),
                ],
                true,
            ),
        );
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "1 of 2 queries for api.example.com failed (1 timed out); first: A api.example.com. to 10.96.0.10:53 timed out after 5000 ms"
        );
        assert_eq!(f.subject.pid, Some(4242));
    }

    #[test]
    fn servfail_and_transport_errors_fail() {
        let f = one(
            &DnsProbeFailed,
            &node(vec![q("A", Some("SERVFAIL"), false, None)], true),
        );
        assert!(
            f.title.ends_with("to 10.96.0.10:53 SERVFAIL"),
            "{}",
            f.title
        );
        let f = one(
            &DnsProbeFailed,
            &node(vec![q("A", None, false, Some("connection refused"))], true),
        );
        assert!(f.title.ends_with("connection refused"), "{}", f.title);
    }

    #[test]
    fn an_unresolved_name_with_clean_answers_fires_too() {
        let f = one(
            &DnsProbeFailed,
            &node(vec![q("A", Some("NXDOMAIN"), false, None)], false),
        );
        assert_eq!(
            f.title,
            "api.example.com did not resolve: every query answered NXDOMAIN or empty"
        );
    }

    #[test]
    fn a_probe_of_the_nodes_own_namespace_names_no_pid() {
        let mut s = node(vec![q("A", None, true, None)], false);
        s.dns.probes[0].pid = 0;
        assert_eq!(one(&DnsProbeFailed, &s).subject.pid, None);
    }
}
