//! `dns.conntrack-race`: conntrack insert failures, the cause of 5-second DNS timeouts.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct DnsConntrackRace;

impl Rule for DnsConntrackRace {
    fn id(&self) -> &'static str {
        "dns.conntrack-race"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "conntrack insert_failed or drop counters are non-zero: the 5-second DNS race"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  /proc/net/stat/nf_conntrack counts insert_failed (or drop) above zero. glibc sends the A and
  AAAA queries of a lookup from one UDP socket at the same moment; through kube-proxy's DNAT to
  a CoreDNS pod, the two packets race to create the same conntrack entry, and the loser is
  dropped (insert_failed).

WHY IT MATTERS
  The resolver waits for the lost answer for its full timeout, 5 seconds by default, then
  retries: lookups that usually take a millisecond take 5 s, intermittently, on busy nodes.
  Kernels since 5.0 resolve most clashes (clashres); the remaining failures still cost 5 s.

HOW TO CONFIRM
  conntrack -S | grep -o 'insert_failed=[0-9]*'     (or: cat /proc/net/stat/nf_conntrack, hex)
  kubectl exec -n NS POD -- sh -c 'time getent hosts api.example.com'   (look for ~5 s)
  nodescope dns probe api.example.com --pod NS/POD

WHAT TO CHANGE
  Run NodeLocal DNSCache (pods talk to a node-local address with no DNAT), or give pods
  dnsConfig options single-request-reopen (glibc; a new socket for the AAAA query) or use-vc
  (TCP). Lower ndots so fewer queries are sent at all."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(ct) = &snap.dns.conntrack else {
            return;
        };
        let failed = ct.insert_failed.unwrap_or(0);
        let dropped = ct.drop.unwrap_or(0);
        if failed == 0 && dropped == 0 {
            return;
        }
        let pods = &snap.dns.pods;
        let workaround: Vec<String> = pods
            .iter()
            .filter(|p| {
                let c = &p.resolv.conf;
                c.single_request_reopen || c.single_request || c.use_vc
            })
            .map(crate::analyze::dns::pod_label)
            .collect();
        out.push(finding(
            self,
            Severity::Warning,
            format!(
                "conntrack insert_failed {failed}, drop {dropped} since boot; {} of {} pods use single-request-reopen/use-vc; NodeLocal DNSCache {}",
                workaround.len(),
                pods.len(),
                if snap.dns.nodelocal.is_some() { "present" } else { "absent" }
            ),
            Subject::node(snap),
            serde_json::json!({
                "insert_failed": failed,
                "drop": dropped,
                "early_drop": ct.early_drop,
                "clash_resolve": ct.clash_resolve,
                "pods_with_workaround": workaround,
                "pods": pods.len(),
                "nodelocal_dns": snap.dns.nodelocal,
            }),
            if snap.dns.nodelocal.is_some() {
                format!(
                    "NodeLocal DNSCache already runs: give the {} pod(s) without a workaround dnsConfig options single-request-reopen (glibc) / use-vc, and have the cache reach its upstream over TCP (force_tcp)",
                    pods.len() - workaround.len()
                )
            } else {
                "run NodeLocal DNSCache, or dnsConfig options single-request-reopen (glibc) / use-vc".into()
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::dns::Conntrack;

    fn node(insert_failed: Option<u64>, drop: Option<u64>) -> Snapshot {
        let mut s = snap();
        s.dns.conntrack = Some(Conntrack {
            insert_failed,
            drop,
            count: Some(10),
            max: Some(1000),
            ..Default::default()
        });
        s
    }

    #[test]
    fn one_failed_insert_fires_and_zero_is_silent() {
        let f = one(&DnsConntrackRace, &node(Some(1), Some(0)));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "conntrack insert_failed 1, drop 0 since boot; 0 of 0 pods use single-request-reopen/use-vc; NodeLocal DNSCache absent"
        );
        assert!(run(&DnsConntrackRace, &node(Some(0), Some(0))).is_empty());
        assert!(run(&DnsConntrackRace, &node(None, None)).is_empty());
        assert!(run(&DnsConntrackRace, &snap()).is_empty());
    }

    #[test]
    fn one_drop_alone_fires() {
        let f = one(&DnsConntrackRace, &node(None, Some(1)));
        assert_eq!(f.evidence["insert_failed"], 0);
        assert_eq!(f.evidence["drop"], 1);
    }

    #[test]
    fn pods_with_a_workaround_are_counted_and_named() {
        let mut s = node(Some(5), Some(0));
        let plain = resolv(
            "/etc/resolv.conf",
            &["10.96.0.10"],
            &["svc.cluster.local"],
            5,
        );
        for (name, opt) in [("a", "reopen"), ("b", "single"), ("c", "vc"), ("d", "none")] {
            let mut r = plain.clone();
            match opt {
                "reopen" => r.conf.single_request_reopen = true,
                "single" => r.conf.single_request = true,
                "vc" => r.conf.use_vc = true,
                _ => {}
            }
            s.dns.pods.push(pod_dns("shop", name, r));
        }
        s.dns.nodelocal = Some(crate::model::dns::NodeLocalDns {
            interface: true,
            pods: vec!["kube-system/node-local-dns-x".into()],
        });
        let f = one(&DnsConntrackRace, &s);
        assert!(
            f.title.ends_with(
                "3 of 4 pods use single-request-reopen/use-vc; NodeLocal DNSCache present"
            ),
            "{}",
            f.title
        );
        assert_eq!(
            f.evidence["pods_with_workaround"],
            serde_json::json!(["shop/a", "shop/b", "shop/c"])
        );
    }

    /// NodeLocal DNSCache is proposed only where it does not run.
    #[test]
    fn the_fix_proposes_nodelocal_dns_only_where_it_is_absent() {
        let mut s = node(Some(5), Some(0));
        assert_eq!(
            one(&DnsConntrackRace, &s).remedy,
            "run NodeLocal DNSCache, or dnsConfig options single-request-reopen (glibc) / use-vc"
        );
        s.dns.nodelocal = Some(crate::model::dns::NodeLocalDns {
            interface: true,
            pods: vec!["kube-system/node-local-dns-x".into()],
        });
        assert_eq!(
            one(&DnsConntrackRace, &s).remedy,
            "NodeLocal DNSCache already runs: give the 0 pod(s) without a workaround dnsConfig options single-request-reopen (glibc) / use-vc, and have the cache reach its upstream over TCP (force_tcp)"
        );
    }
}
