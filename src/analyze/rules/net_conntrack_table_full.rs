//! `net.conntrack-table-full`: the connection-tracking table is full or nearly so.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NetConntrackTableFull;

/// Share of `nf_conntrack_max` from which the rule warns, and from which it is critical.
const WARN: f64 = 0.75;
const CRIT: f64 = 0.90;

impl Rule for NetConntrackTableFull {
    fn id(&self) -> &'static str {
        "net.conntrack-table-full"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "the conntrack table is 75% full, or the kernel dropped packets for it"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  nf_conntrack_count is at least 75% of nf_conntrack_max, or the kernel log says
  'nf_conntrack: table full, dropping packet'. Every connection and UDP flow through NAT (all
  Service traffic with kube-proxy in iptables or ipvs mode) needs an entry.

WHY IT MATTERS
  When the table is full the kernel drops the first packet of every new flow: new connections
  hang and retry, DNS queries vanish (5-second timeouts), health checks fail and pods restart.
  Existing connections keep working, so the node looks half alive.

HOW TO CONFIRM
  cat /proc/sys/net/netfilter/nf_conntrack_count /proc/sys/net/netfilter/nf_conntrack_max
  dmesg | grep 'table full'
  conntrack -L -o extended | awk '{print $1,$3}' | sort | uniq -c | sort -n | tail

WHAT TO CHANGE
  Raise nf_conntrack_max (kube-proxy's conntrack.maxPerCore / min), find what opens many short
  flows (DNS without NodeLocal DNSCache, clients without keep-alive), and shorten UDP and
  TIME_WAIT timeouts where safe."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(ct) = &snap.dns.conntrack else {
            return;
        };
        let share = match (ct.count, ct.max) {
            (Some(c), Some(m)) if m > 0 => Some(c as f64 / m as f64),
            _ => None,
        };
        let dropped = ct.table_full_messages > 0;
        if !dropped && share.is_none_or(|s| s < WARN) {
            return;
        }
        let severity = if dropped || share.is_some_and(|s| s >= CRIT) {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let ago = match (ct.last_table_full_usec, snap.node.uptime_seconds) {
            (Some(at), Some(up)) => Some(up - at as f64 / 1e6),
            _ => None,
        };
        let mut title = match (ct.count, ct.max, share) {
            (Some(c), Some(m), Some(s)) => {
                format!("conntrack {c} of {m} entries ({:.0}%)", s * 100.0)
            }
            _ => "conntrack table".to_string(),
        };
        if dropped {
            title.push_str(&format!(
                "; the kernel logged 'table full, dropping packet' {} time(s){}",
                ct.table_full_messages,
                ago.map_or(String::new(), |a| format!(
                    ", last {} ago",
                    crate::analyze::oom::human_age(a as i64)
                ))
            ));
        }
        out.push(finding(
            self,
            severity,
            title,
            Subject::node(snap),
            serde_json::json!({
                "count": ct.count,
                "max": ct.max,
                "used_percent": share.map(|s| (s * 1000.0).round() / 10.0),
                "table_full_messages": ct.table_full_messages,
                "last_table_full_seconds_ago": ago,
            }),
            match (ct.count, ct.max) {
                (Some(c), Some(m)) => format!(
                    "raise nf_conntrack_max from {m} to {} (kube-proxy conntrack.maxPerCore, or sysctl net.netfilter.nf_conntrack_max) and find what opens many short flows ({c} entries now)",
                    c.max(m)
                        .saturating_mul(2)
                        .checked_next_power_of_two()
                        .unwrap_or(u64::MAX)
                ),
                _ => "raise nf_conntrack_max (kube-proxy conntrack.maxPerCore) and find what opens many short flows".into(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::dns::Conntrack;

    fn node(count: u64, max: u64, table_full_messages: u64) -> Snapshot {
        let mut s = snap();
        s.dns.conntrack = Some(Conntrack {
            count: Some(count),
            max: Some(max),
            table_full_messages,
            ..Default::default()
        });
        s
    }

    #[test]
    fn seventy_five_percent_warns_and_one_entry_less_is_silent() {
        let f = one(&NetConntrackTableFull, &node(750, 1000, 0));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.title, "conntrack 750 of 1000 entries (75%)");
        assert_eq!(f.evidence["used_percent"], 75.0);
        assert!(run(&NetConntrackTableFull, &node(749, 1000, 0)).is_empty());
    }

    #[test]
    fn ninety_percent_is_critical_and_one_entry_less_a_warning() {
        assert_eq!(
            severities(&NetConntrackTableFull, &node(900, 1000, 0)),
            [Severity::Critical]
        );
        assert_eq!(
            severities(&NetConntrackTableFull, &node(899, 1000, 0)),
            [Severity::Warning]
        );
    }

    #[test]
    fn a_logged_drop_is_critical_whatever_the_count() {
        let mut s = node(10, 1000, 3);
        s.node.uptime_seconds = Some(1000.0);
        if let Some(ct) = s.dns.conntrack.as_mut() {
            ct.last_table_full_usec = Some(400_000_000);
        }
        let f = one(&NetConntrackTableFull, &s);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "conntrack 10 of 1000 entries (1%); the kernel logged 'table full, dropping packet' 3 time(s), last 10m ago"
        );
        assert_eq!(f.evidence["last_table_full_seconds_ago"], 600.0);
    }

    #[test]
    fn unknown_or_zero_max_judges_only_the_log() {
        let mut s = node(999, 0, 0);
        assert!(run(&NetConntrackTableFull, &s).is_empty());
        if let Some(ct) = s.dns.conntrack.as_mut() {
            ct.max = None;
            ct.table_full_messages = 1;
        }
        let f = one(&NetConntrackTableFull, &s);
        assert!(
            f.title.starts_with("conntrack table; the kernel logged"),
            "{}",
            f.title
        );
        assert!(run(&NetConntrackTableFull, &snap()).is_empty());
    }

    /// The new maximum is computed from the table's size and use: twice the larger, to a
    /// power of two.
    #[test]
    fn the_fix_says_from_what_to_what() {
        assert_eq!(
            one(&NetConntrackTableFull, &node(750, 1000, 0)).remedy,
            "raise nf_conntrack_max from 1000 to 2048 (kube-proxy conntrack.maxPerCore, or sysctl net.netfilter.nf_conntrack_max) and find what opens many short flows (750 entries now)"
        );
    }
}
