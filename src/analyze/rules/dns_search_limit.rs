//! `dns.search-limit`: a search list past the limits the kubelet and resolvers enforce.

use crate::analyze::dns::pod_label;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::dns::ResolvFile;

pub struct DnsSearchLimit;

/// `MaxDNSSearchPaths` and `MaxDNSSearchListChars` (pkg/apis/core/validation, v1.28+).
const MAX_SEARCH: usize = 32;
const MAX_SEARCH_CHARS: usize = 2048;
/// The legacy limits (before ExpandedDNSConfig; glibc < 2.26 MAXDNSRCH).
const LEGACY_SEARCH: usize = 6;
const LEGACY_SEARCH_CHARS: usize = 256;

impl Rule for DnsSearchLimit {
    fn id(&self) -> &'static str {
        "dns.search-limit"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a search list over 32 domains or 2048 characters (6 / 256 on old resolvers)"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A resolv.conf's search line has more than 32 domains or more than 2048 characters, the limits
  the kubelet enforces since v1.28 (MaxDNSSearchPaths, MaxDNSSearchListChars); or more than 6
  domains / 256 characters, the legacy limits of older kubelets and of glibc before 2.26.

WHY IT MATTERS
  The kubelet truncates the list and logs DNSConfigForming 'Search Line limits were exceeded'
  (at startup, CheckLimitsForResolvConf for the node's file); an old libc in an image silently
  ignores domains past the sixth. Names that relied on the dropped domains stop resolving, and
  every lookup of a short name walks a long list.

HOW TO CONFIRM
  grep ^search /etc/resolv.conf | wc -w
  kubectl get events -A --field-selector reason=DNSConfigForming

WHAT TO CHANGE
  Shorten the node's search list (DHCP options, systemd-resolved Domains=) and the pods'
  dnsConfig.searches; pods need only the cluster domains and one or two of yours."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let mut emit = |f: &ResolvFile, subject: Subject, who: String| {
            let n = f.conf.search.len();
            let chars = f.conf.search.join(" ").len();
            let over = n > MAX_SEARCH || chars > MAX_SEARCH_CHARS;
            let legacy = n > LEGACY_SEARCH || chars > LEGACY_SEARCH_CHARS;
            if !over && !legacy {
                return;
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{who}: search list of {n} domains, {chars} characters in {} ({})",
                    f.path,
                    if over {
                        "over the kubelet's 32 / 2048"
                    } else {
                        "over the legacy 6 / 256 of old kubelets and glibc < 2.26"
                    }
                ),
                subject,
                serde_json::json!({
                    "path": f.path,
                    "domains": n,
                    "characters": chars,
                    "limit": if over { "32 domains / 2048 characters" } else { "6 domains / 256 characters (legacy)" },
                    "search": f.conf.search,
                }),
                "shorten the search list: the cluster domains and one or two of yours",
            ));
        };
        if let Some(n) = &snap.dns.node {
            emit(n, Subject::node(snap), format!("node {}", snap.hostname()));
        }
        for p in &snap.dns.pods {
            emit(
                &p.resolv,
                Subject::pod(
                    p.namespace.clone(),
                    p.name.clone().or_else(|| Some(p.uid.clone())),
                ),
                pod_label(p),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    /// A pod whose search list is `n` domains `dN.x` (4 or 5 characters each).
    fn node(search: &[String]) -> Snapshot {
        let mut s = snap();
        let refs: Vec<&str> = search.iter().map(String::as_str).collect();
        s.dns.pods.push(pod_dns(
            "shop",
            "web",
            resolv("/etc/resolv.conf", &["10.96.0.10"], &refs, 5),
        ));
        s
    }

    fn domains(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("d{i}.x")).collect()
    }

    #[test]
    fn seven_domains_pass_the_legacy_limit_of_six() {
        let f = one(&DnsSearchLimit, &node(&domains(7)));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.evidence["limit"], "6 domains / 256 characters (legacy)");
        assert!(run(&DnsSearchLimit, &node(&domains(6))).is_empty());
    }

    #[test]
    fn thirty_three_domains_pass_the_kubelets_limit_of_thirty_two() {
        assert_eq!(
            one(&DnsSearchLimit, &node(&domains(33))).evidence["limit"],
            "32 domains / 2048 characters"
        );
        assert_eq!(
            one(&DnsSearchLimit, &node(&domains(32))).evidence["limit"],
            "6 domains / 256 characters (legacy)"
        );
    }

    /// `n` domains whose joined length (with single spaces) is exactly `chars`.
    fn of_length(n: usize, chars: usize) -> Vec<String> {
        let each = (chars - (n - 1)) / n;
        let mut v: Vec<String> = (0..n).map(|_| "a".repeat(each)).collect();
        let have = v.join(" ").len();
        v[0].push_str(&"b".repeat(chars - have));
        assert_eq!(v.join(" ").len(), chars);
        v
    }

    #[test]
    fn characters_are_counted_as_the_search_line_joins_them() {
        assert!(run(&DnsSearchLimit, &node(&of_length(3, 256))).is_empty());
        let f = one(&DnsSearchLimit, &node(&of_length(3, 257)));
        assert_eq!(f.evidence["characters"], 257);
        assert_eq!(f.evidence["limit"], "6 domains / 256 characters (legacy)");
        assert_eq!(
            one(&DnsSearchLimit, &node(&of_length(3, 2048))).evidence["limit"],
            "6 domains / 256 characters (legacy)"
        );
        assert_eq!(
            one(&DnsSearchLimit, &node(&of_length(3, 2049))).evidence["limit"],
            "32 domains / 2048 characters"
        );
    }

    #[test]
    fn the_node_file_is_judged_too() {
        let mut s = snap();
        let d = domains(7);
        let refs: Vec<&str> = d.iter().map(String::as_str).collect();
        s.dns.node = Some(resolv("/etc/resolv.conf", &["10.0.0.2"], &refs, 1));
        let f = one(&DnsSearchLimit, &s);
        assert_eq!(f.subject.node.as_deref(), Some("node-a"));
        assert!(
            f.title
                .starts_with("node node-a: search list of 7 domains, 34 characters"),
            "{}",
            f.title
        );
    }
}
