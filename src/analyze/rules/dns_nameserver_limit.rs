//! `dns.nameserver-limit`: more than three nameservers, of which only three are used.

use crate::analyze::dns::pod_label;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::dns::ResolvFile;
use crate::model::resolv::MAX_NAMESERVERS;

pub struct DnsNameserverLimit;

impl Rule for DnsNameserverLimit {
    fn id(&self) -> &'static str {
        "dns.nameserver-limit"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "more than 3 nameservers in a resolv.conf: only the first 3 are used"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A resolv.conf a pod or the node uses lists more than three nameservers. glibc and musl use
  only the first three (MAXNS); the kubelet itself drops the rest when it builds pod DNS and
  logs the event DNSConfigForming 'Nameserver limits were exceeded, some nameservers have been
  omitted'.

WHY IT MATTERS
  The servers past the third are silently never asked: if the first three are the wrong ones
  (public resolvers before the corporate one, IPv6 before IPv4), internal names fail and nobody
  sees why. With dnsPolicy: Default the node's list is copied into every such pod.

HOW TO CONFIRM
  cat /etc/resolv.conf (the node) ; kubectl exec -n NS POD -- cat /etc/resolv.conf
  kubectl get events -A --field-selector reason=DNSConfigForming

WHAT TO CHANGE
  Keep three nameservers at most, the ones that must answer first; on the node, fix the DHCP or
  systemd-resolved configuration that adds more, and point the kubelet's resolvConf at
  /run/systemd/resolve/resolv.conf where systemd-resolved runs."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // Pods that take the node's list (dnsPolicy: Default, hostNetwork) share its cause:
        // they are named in the node's finding, not reported one by one. The kubelet passes
        // them the node's first three (dns.go formDNSConfigFitsLimits) and the runtime writes
        // those; a runtime that copies the node's file verbatim passes them all.
        let copies_node = |p: &crate::model::dns::PodDns| {
            snap.dns.node.as_ref().is_some_and(|n| {
                let listed = &p.resolv.conf.nameservers_listed;
                *listed == n.conf.nameservers_listed || *listed == n.conf.nameservers
            })
        };
        let copies: Vec<String> = snap
            .dns
            .pods
            .iter()
            .filter(|p| copies_node(p))
            .map(pod_label)
            .collect();
        let mut emit = |f: &ResolvFile, subject: Subject, who: String, pods: &[String]| {
            let listed = &f.conf.nameservers_listed;
            if listed.len() <= MAX_NAMESERVERS {
                return;
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{who}: {} nameservers listed in {}, only {} used; ignored: {}{}",
                    listed.len(),
                    f.path,
                    MAX_NAMESERVERS,
                    listed[MAX_NAMESERVERS..].join(" "),
                    if pods.is_empty() {
                        String::new()
                    } else {
                        format!("; {} pod(s) use this list", pods.len())
                    }
                ),
                subject,
                serde_json::json!({
                    "path": f.path,
                    "listed": listed,
                    "used": f.conf.nameservers,
                    "ignored": &listed[MAX_NAMESERVERS..],
                    "pods_using_it": pods,
                }),
                "keep the three nameservers that must answer, first; fix what adds more",
            ));
        };
        if let Some(n) = &snap.dns.node {
            emit(
                n,
                Subject::node(snap),
                format!("node {}", snap.hostname()),
                &copies,
            );
        }
        for p in &snap.dns.pods {
            if copies_node(p) {
                continue;
            }
            emit(
                &p.resolv,
                Subject::pod(
                    p.namespace.clone(),
                    p.name.clone().or_else(|| Some(p.uid.clone())),
                ),
                pod_label(p),
                &[],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    const FOUR: &[&str] = &["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];

    #[test]
    fn four_nameservers_on_the_node_fire_and_three_do_not() {
        let mut s = snap();
        s.dns.node = Some(resolv("/etc/resolv.conf", FOUR, &[], 1));
        let f = one(&DnsNameserverLimit, &s);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "node node-a: 4 nameservers listed in /etc/resolv.conf, only 3 used; ignored: 10.0.0.5"
        );
        assert_eq!(f.evidence["ignored"], serde_json::json!(["10.0.0.5"]));
        s.dns.node = Some(resolv("/etc/resolv.conf", &FOUR[..3], &[], 1));
        assert!(run(&DnsNameserverLimit, &s).is_empty());
    }

    #[test]
    fn a_pod_with_its_own_long_list_is_reported_for_itself() {
        let mut s = snap();
        s.dns.node = Some(resolv("/etc/resolv.conf", &FOUR[..1], &[], 1));
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/proc/1/root/etc/resolv.conf", FOUR, &[], 5),
        ));
        s.dns.pods.push(pod_dns(
            "shop",
            "ok",
            resolv("/proc/2/root/etc/resolv.conf", &FOUR[..3], &[], 5),
        ));
        let f = one(&DnsNameserverLimit, &s);
        assert_eq!(f.subject.pod.as_deref(), Some("web"));
        assert!(
            f.title.starts_with("shop/web: 4 nameservers"),
            "{}",
            f.title
        );
    }

    #[test]
    fn pods_given_the_nodes_first_three_by_the_kubelet_are_copies_too() {
        let mut s = snap();
        s.dns.node = Some(resolv("/etc/resolv.conf", FOUR, &[], 1));
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/proc/1/root/etc/resolv.conf", &FOUR[..3], &[], 1),
        ));
        // A pod with three other servers is neither a copy nor over the limit.
        s.dns.pods.push(pod_dns(
            "shop",
            "other",
            resolv("/proc/2/root/etc/resolv.conf", &FOUR[1..], &[], 1),
        ));
        let f = one(&DnsNameserverLimit, &s);
        assert_eq!(f.evidence["pods_using_it"], serde_json::json!(["shop/web"]));
    }

    #[test]
    fn pods_that_copy_the_nodes_list_are_named_in_its_finding_not_reported_again() {
        let mut s = snap();
        s.dns.node = Some(resolv("/etc/resolv.conf", FOUR, &[], 1));
        s.dns.pods.push(pod_dns(
            "kube-system",
            "coredns-1",
            resolv("/proc/1/root/etc/resolv.conf", FOUR, &[], 1),
        ));
        let f = one(&DnsNameserverLimit, &s);
        assert!(f.title.ends_with("; 1 pod(s) use this list"), "{}", f.title);
        assert_eq!(
            f.evidence["pods_using_it"],
            serde_json::json!(["kube-system/coredns-1"])
        );
    }
}
