//! `node.clock-unsynced`: the kernel clock is not synchronised, drifts without bound, or
//! nothing runs to keep it synchronised.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NodeClockUnsynced;

/// A maximum error from this many microseconds on (1 s) is too large for TLS and leader
/// election to trust: with the kernel adding 500 µs per second, half an hour without an update.
const MAXERROR_USEC: i64 = 1_000_000;

/// Command names (`comm`, at most 15 characters) of the time daemons that discipline the
/// kernel clock: chrony, ntpd (and ntpsec, OpenNTPD), systemd-timesyncd, linuxptp.
const TIME_DAEMONS: &[&str] = &[
    "chronyd",
    "ntpd",
    "openntpd",
    "systemd-timesyn",
    "timesyncd",
    "ptp4l",
    "phc2sys",
    "timemaster",
];

impl Rule for NodeClockUnsynced {
    fn id(&self) -> &'static str {
        "node.clock-unsynced"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "the kernel clock is unsynchronised, or no time daemon runs"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  adjtimex(2) (read-only) says the kernel clock is not synchronised (STA_UNSYNC set, state
  TIME_ERROR), or its maximum error is 1 s or more; or no time daemon (chronyd, ntpd,
  systemd-timesyncd, ptp4l/phc2sys) runs on the node. The kernel grows the maximum error by
  500 µs every second no daemon updates it and sets STA_UNSYNC when it passes 16 s
  (kernel/time/ntp.c), so a node whose daemon died is flagged by the missing daemon first.
  A bundle captured without the clock state is not judged.

WHY IT MATTERS
  Certificates are checked against the clock: a node running behind rejects freshly issued
  certificates ('x509: certificate is not yet valid') and one running ahead sees valid ones
  expired - the kubelet loses the API server and the node goes NotReady. Lease and leader
  election timing, log and trace correlation, and token expiry all skew with it.

HOW TO CONFIRM
  timedatectl (System clock synchronized: no)
  chronyc tracking; chronyc sources -v    (or ntpq -p, timedatectl timesync-status)
  systemctl status chronyd systemd-timesyncd ntpd

WHAT TO CHANGE
  Run one time daemon and give it reachable servers: the cloud's link-local source
  (169.254.169.123 on AWS, metadata.google.internal on GCE, the PTP hyperv clock on Azure) or
  your NTP servers, with UDP 123 open. After a large offset, step the clock once
  (chronyc makestep) and restart the kubelet."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // Without the kernel's word (an old bundle), the process list alone is not enough.
        let Some(clock) = snap.health.clock else {
            return;
        };
        let daemons: Vec<String> = snap
            .processes
            .iter()
            .filter(|p| TIME_DAEMONS.contains(&p.comm.as_str()))
            .map(|p| format!("{} (pid {})", p.comm, p.pid))
            .collect();
        let mut problems = Vec::new();
        if clock.unsynced() {
            problems.push("the kernel clock is unsynchronised (adjtimex STA_UNSYNC)".to_string());
        } else if clock.maxerror_usec >= MAXERROR_USEC {
            problems.push(format!(
                "the kernel clock's maximum error is {:.1} s",
                clock.maxerror_usec as f64 / 1e6
            ));
        }
        if daemons.is_empty() && snap.processes_known() {
            problems.push("no time daemon runs (chronyd, ntpd, systemd-timesyncd, ptp4l)".into());
        }
        if problems.is_empty() {
            return;
        }
        out.push(finding(
            self,
            Severity::Warning,
            problems.join("; "),
            Subject::node(snap),
            serde_json::json!({
                "adjtimex": {
                    "state": clock.state,
                    "status": format!("{:#06x}", clock.status),
                    "sta_unsync": clock.status & crate::model::health::ClockState::STA_UNSYNC != 0,
                    "maxerror_usec": clock.maxerror_usec,
                    "esterror_usec": clock.esterror_usec,
                },
                "time_daemons": daemons,
                "timesyncd_synchronized": snap.health.timesyncd_synchronized,
            }),
            "run one time daemon (chronyd or systemd-timesyncd) with reachable servers, UDP 123 open; step the clock once (chronyc makestep) after a large offset",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::Process;
    use crate::model::health::ClockState;

    fn node(status: i32, maxerror: i64, daemon: Option<&str>) -> Snapshot {
        let mut s = snapshot();
        s.health.clock = Some(ClockState {
            state: if status & ClockState::STA_UNSYNC != 0 {
                5
            } else {
                0
            },
            status,
            maxerror_usec: maxerror,
            esterror_usec: 0,
        });
        s.processes = vec![Process {
            pid: 612,
            ppid: 1,
            comm: daemon.unwrap_or("kubelet").into(),
            cmdline: vec!["x".into()],
            state: "S".into(),
            threads: 1,
            start_ticks: 0,
            cgroup: None,
            oom_score: None,
            oom_score_adj: None,
            container_id: None,
            uid: Some(0),
            euid: Some(0),
        }];
        s
    }

    #[test]
    fn unsynced_or_large_error_fires() {
        let f = run(&NodeClockUnsynced, &node(0x40, 16_000_000, Some("chronyd")));
        assert_eq!(
            f[0].title,
            "the kernel clock is unsynchronised (adjtimex STA_UNSYNC)"
        );
        let f = run(
            &NodeClockUnsynced,
            &node(0x2001, MAXERROR_USEC, Some("chronyd")),
        );
        assert_eq!(f[0].title, "the kernel clock's maximum error is 1.0 s");
        assert!(
            run(
                &NodeClockUnsynced,
                &node(0x2001, MAXERROR_USEC - 1, Some("chronyd"))
            )
            .is_empty()
        );
    }

    #[test]
    fn a_missing_daemon_fires_and_an_unknown_clock_is_not_judged() {
        let f = run(&NodeClockUnsynced, &node(0x2001, 500, None));
        assert_eq!(
            f[0].title,
            "no time daemon runs (chronyd, ntpd, systemd-timesyncd, ptp4l)"
        );
        assert!(
            run(
                &NodeClockUnsynced,
                &node(0x2001, 500, Some("systemd-timesyn"))
            )
            .is_empty()
        );
        let mut s = node(0x40, 16_000_000, None);
        s.health.clock = None;
        assert!(run(&NodeClockUnsynced, &s).is_empty());
    }
}
