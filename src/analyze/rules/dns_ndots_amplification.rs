//! `dns.ndots-amplification`: every external lookup of a pod walks its search list first.

use crate::analyze::dns::{EXAMPLE_NAME, dead_server_seconds, plan, pod_label, queries_per_family};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DnsNdotsAmplification;

/// Queries per address family from which the rule warns (docs/rules.md): the Kubernetes default
/// (3 cluster search domains + the name) costs 4.
const WARN_PER_FAMILY: usize = 6;

impl Rule for DnsNdotsAmplification {
    fn id(&self) -> &'static str {
        "dns.ndots-amplification"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "a pod's ndots and search list make external lookups cost extra queries"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A ClusterFirst pod's resolv.conf has 'options ndots:5' and a search list of at least three
  cluster domains (<ns>.svc.cluster.local svc.cluster.local cluster.local, plus the node's own
  search domains). A name with fewer than 5 dots, such as api.stripe.com, is tried with every
  search domain first, each for A and AAAA, and only then as written: 4 queries per family by
  default, more with cloud search domains appended.

WHY IT MATTERS
  Each external lookup becomes 8 or more queries, all but two of them doomed NXDOMAINs. They
  load CoreDNS and conntrack, and each one is a chance to lose a UDP packet to the conntrack race
  (dns.conntrack-race) and wait the 5-second resolver timeout. Latency-sensitive clients that
  call external APIs pay it on every uncached lookup.

HOW TO CONFIRM
  kubectl exec -n NS POD -- cat /etc/resolv.conf
  nodescope dns                    (queries per lookup of api.example.com, per pod)
  nodescope dns probe api.example.com --pod NS/POD   (the real sequence, with rcodes and times)

WHAT TO CHANGE
  Write external names fully qualified with a trailing dot (api.stripe.com.), or lower ndots for
  the pod (spec.dnsConfig.options: [{name: ndots, value: \"2\"}]), and run NodeLocal DNSCache so
  the doomed queries are answered on the node."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        for p in &snap.dns.pods {
            if p.host_network == Some(true) {
                continue;
            }
            let conf = &p.resolv.conf;
            let per_family = queries_per_family(conf, EXAMPLE_NAME);
            if per_family < 2 {
                continue;
            }
            let severity = if per_family >= WARN_PER_FAMILY {
                Severity::Warning
            } else {
                Severity::Info
            };
            let queries = plan(conf, EXAMPLE_NAME);
            out.push(finding(
                self,
                severity,
                format!(
                    "{}: {} queries to resolve {EXAMPLE_NAME} (ndots:{}, {} search domains), {} of them NXDOMAIN by design",
                    pod_label(p),
                    queries.len(),
                    conf.ndots,
                    conf.search.len(),
                    queries.len() - 2
                ),
                Subject::pod(p.namespace.clone(), p.name.clone().or_else(|| Some(p.uid.clone()))),
                serde_json::json!({
                    "name": EXAMPLE_NAME,
                    "queries_per_family": per_family,
                    "queries": queries,
                    "ndots": conf.ndots,
                    "search": conf.search,
                    "resolv_conf": p.resolv.path,
                    "dead_server_seconds_per_name": dead_server_seconds(conf),
                    "nodelocal_dns": snap.dns.nodelocal.is_some(),
                    "fixes": [
                        "a trailing dot on external names (api.example.com.)",
                        "spec.dnsConfig.options ndots: 2",
                        "NodeLocal DNSCache",
                    ],
                }),
                "write external names with a trailing dot, or set dnsConfig ndots:2; run NodeLocal DNSCache",
            ));
        }
    }
}
