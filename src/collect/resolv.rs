//! resolv.conf parsing with glibc's semantics (resolv/res_init.c, resolv.conf(5)):
//!
//! - `#` and `;` start comments; a keyword must start its line;
//! - `nameserver` lines accumulate; only the first three are used (MAXNS);
//! - `search` and `domain` each replace the search list: the last such line wins;
//! - `options` lines accumulate, later values override earlier ones; numbers are read with
//!   `atoi` (leading digits, anything else is 0) and capped: `ndots` at 15, `timeout` at 30,
//!   `attempts` at 5 (negative values, which glibc stores into unsigned fields, read as 0 here).
//!
//! musl differs where it changes outcomes: it ignores `rotate`, `single-request` and
//! `single-request-reopen` (it always sends A and AAAA in parallel and retries within the
//! timeout), caps `timeout` at 60 and `attempts` at 10, and takes only the last `search`.

use crate::model::resolv::{MAX_ATTEMPTS, MAX_NAMESERVERS, MAX_NDOTS, MAX_TIMEOUT, ResolvConf};

/// Parses resolv.conf text. Never fails: unknown or malformed lines are skipped, as glibc does.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut r = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            continue;
        }
        match keyword {
            "nameserver" => {
                if let Some(ns) = words.next() {
                    r.nameservers_listed.push(ns.to_string());
                }
            }
            "search" | "domain" => {
                r.search = words
                    .map(|d| d.trim_end_matches('.').to_string())
                    .filter(|d| !d.is_empty())
                    .collect();
                if keyword == "domain" {
                    r.search.truncate(1);
                }
            }
            "options" => {
                for opt in words {
                    // glibc matches "ndots:" with its colon: a bare `ndots` is no option.
                    if let Some(v) = opt.strip_prefix("ndots:") {
                        r.ndots = atoi(v).min(MAX_NDOTS);
                        continue;
                    }
                    if let Some(v) = opt.strip_prefix("timeout:") {
                        r.timeout = atoi(v).min(MAX_TIMEOUT);
                        continue;
                    }
                    if let Some(v) = opt.strip_prefix("attempts:") {
                        r.attempts = atoi(v).min(MAX_ATTEMPTS);
                        continue;
                    }
                    match opt {
                        "rotate" => r.rotate = true,
                        "single-request" => r.single_request = true,
                        "single-request-reopen" => r.single_request_reopen = true,
                        "use-vc" => r.use_vc = true,
                        "edns0" => r.edns0 = true,
                        "trust-ad" => r.trust_ad = true,
                        _ => r.unknown_options.push(opt.to_string()),
                    }
                }
            }
            _ => {}
        }
    }
    r.nameservers = r
        .nameservers_listed
        .iter()
        .take(MAX_NAMESERVERS)
        .cloned()
        .collect();
    r
}

/// C's `atoi` for the non-negative values resolv.conf uses: the leading digits, else 0.
fn atoi(s: &str) -> u32 {
    let digits: String = s
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubernetes_pod_resolv_conf() {
        // As the kubelet writes it for ClusterFirst (docs/kubelet-semantics.md §5).
        let r = parse_resolv_conf(
            "search shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal\nnameserver 10.96.0.10\noptions ndots:5\n",
        );
        assert_eq!(
            r.search,
            [
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "ec2.internal"
            ]
        );
        assert_eq!(r.nameservers, ["10.96.0.10"]);
        assert_eq!((r.ndots, r.timeout, r.attempts), (5, 5, 2));
    }

    #[test]
    fn glibc_rules() {
        let r = parse_resolv_conf(
            "# comment\n; comment\nnameserver 1.1.1.1\nnameserver 8.8.8.8 # trailing\nnameserver 9.9.9.9\nnameserver 4.4.4.4\n\
             search a.example b.example.\ndomain only.example\nsearch c.example d.example\n\
             options ndots:20 timeout:90 attempts:0\noptions rotate single-request-reopen use-vc edns0 trust-ad no-reload\n \
             nameserver 7.7.7.7\nnameserver\n",
        );
        assert_eq!(
            r.nameservers_listed,
            ["1.1.1.1", "8.8.8.8", "9.9.9.9", "4.4.4.4"]
        );
        assert_eq!(
            r.nameservers,
            ["1.1.1.1", "8.8.8.8", "9.9.9.9"],
            "MAXNS = 3; an indented line is not a keyword"
        );
        assert_eq!(
            r.search,
            ["c.example", "d.example"],
            "the last search/domain line wins"
        );
        assert_eq!(
            (r.ndots, r.timeout, r.attempts),
            (15, 30, 0),
            "atoi(\"0\") is 0, kept as glibc keeps it"
        );
        assert!(
            r.rotate
                && r.single_request_reopen
                && r.use_vc
                && r.edns0
                && r.trust_ad
                && !r.single_request
        );
        assert_eq!(r.unknown_options, ["no-reload"]);
        let r = parse_resolv_conf("search a b\ndomain x.example.\n");
        assert_eq!(r.search, ["x.example"]);
    }

    #[test]
    fn defaults_and_garbage() {
        assert_eq!(parse_resolv_conf(""), ResolvConf::default());
        let r = parse_resolv_conf(
            "options ndots:x timeout:3s attempts\n\u{0}\u{ff}garbage\nnameserver ::1\n",
        );
        assert_eq!(
            (r.ndots, r.timeout, r.attempts),
            (0, 3, 2),
            "atoi: \"x\" is 0, \"3s\" is 3; a bare word is no option"
        );
        assert_eq!(r.nameservers, ["::1"]);
    }

    /// The facts of Go's net package testdata (src/net/testdata/resolv.conf and friends):
    /// `domain` sets a one-entry search list, IPv6 and scoped addresses are nameservers like
    /// any other, and `options attempts 3` (no colon) sets nothing.
    #[test]
    fn go_net_package_cases() {
        let r = parse_resolv_conf(
            "# /etc/resolv.conf\n\ndomain localdomain\nnameserver 8.8.8.8\nnameserver 2001:4860:4860::8888\n\
             nameserver fe80::1%lo0\noptions ndots:5 timeout:10 attempts:3 rotate\noptions attempts 3\n",
        );
        assert_eq!(
            r.nameservers,
            ["8.8.8.8", "2001:4860:4860::8888", "fe80::1%lo0"]
        );
        assert_eq!(r.search, ["localdomain"]);
        assert_eq!((r.ndots, r.timeout, r.attempts, r.rotate), (5, 10, 3, true));
        let r = parse_resolv_conf("nameserver 8.8.8.8\nsearch test invalid\n");
        assert_eq!(r.search, ["test", "invalid"]);
        assert_eq!(
            (r.ndots, r.timeout, r.attempts),
            (1, 5, 2),
            "glibc's defaults"
        );
    }

    /// The facts of the kubelet's parseResolvConf tests (pkg/kubelet/network/dns/dns_test.go):
    /// trailing dots are trimmed from search domains, the last search line wins, later options
    /// override earlier ones, tabs separate words, `#` ends a line. One difference is kept on
    /// purpose: the kubelet accepts an indented `nameserver` line, glibc does not.
    #[test]
    fn kubelet_parse_resolv_conf_cases() {
        assert_eq!(parse_resolv_conf("search foo. bar").search, ["foo", "bar"]);
        assert_eq!(parse_resolv_conf("search foo\nsearch bar").search, ["bar"]);
        assert!(parse_resolv_conf("search ").search.is_empty());
        assert_eq!(
            parse_resolv_conf("nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar\noptions ndots:5 attempts:4")
                .nameservers,
            ["1.2.3.4", "5.6.7.8"]
        );
        let r = parse_resolv_conf("options ndots:1\noptions ndots:5 attempts:3");
        assert_eq!((r.ndots, r.attempts), (5, 3));
        assert_eq!(
            parse_resolv_conf("nameserver \t 1.2.3.4 #comment").nameservers,
            ["1.2.3.4"]
        );
        assert!(
            parse_resolv_conf(" nameserver 1.2.3.4")
                .nameservers
                .is_empty(),
            "glibc matches keywords at the start of the line only"
        );
    }
}
