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
        let node_listed = snap.dns.node.as_ref().map(|n| &n.conf.nameservers_listed);
        // Pods that copy the node's list (dnsPolicy: Default, hostNetwork) share its cause:
        // they are named in the node's finding, not reported one by one.
        let copies: Vec<String> = snap
            .dns
            .pods
            .iter()
            .filter(|p| Some(&p.resolv.conf.nameservers_listed) == node_listed)
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
            if Some(&p.resolv.conf.nameservers_listed) == node_listed {
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
