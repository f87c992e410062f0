//! Reads the kubelet's eviction-manager lines from the journal (`kubelet.service`) or, where the
//! distribution writes plain files, from the tail of /var/log/kubelet.log, /var/log/syslog or
//! /var/log/messages. Only the last hours are read, and only matching lines are kept (a bundle
//! keeps just those).

use super::Errors;
use crate::model::kubelet_log::{EvictionStep, KubeletLogEvent};
use crate::source::journal::JournalQuery;
use crate::source::{ErrorKind, Host};

const C: &str = "kubelet-log";

/// How far back to look: long enough to cover a night's incident.
pub const LOOKBACK_HOURS: i64 = 6;
/// The most bytes read from the end of a plain log file.
const TAIL_BYTES: u64 = 32 * 1024 * 1024;
/// The most events kept.
const LIMIT: usize = 5000;
/// Plain-text logs, in the order tried.
const LOG_FILES: &[&str] = &[
    "/var/log/kubelet.log",
    "/var/log/syslog",
    "/var/log/messages",
];

/// Substrings that select the lines worth keeping (shared by the journal query and file scan).
pub const MARKERS: &[&str] = &[
    "Eviction manager:",
    "eviction manager:",
    "\"Evicting pod\"",
    // The same inside k0s's logrus wrapper, where the kubelet's quotes arrive escaped.
    "Evicting pod\\\"",
    // Both `Recording event message for node` (structured, ≥1.21) and the older
    // `Recording NodeReady event message for node <name>`.
    "event message for",
];

/// Syslog tags (programs) whose lines carry the kubelet's log: the kubelet itself (`kubelet`,
/// IBM's `kubelet.service`), and the distributions that run it inside their own binary
/// (k3s and k3s-agent, RKE2's `rke2-server`/`rke2-agent`, MicroK8s' `kubelite`, k0s' `k0s`/
/// `k0sworker`, the old `hyperkube`).
const KUBELET_TAGS: &[&str] = &["kubelet", "k3s", "rke2", "kubelite", "k0s", "hyperkube"];

/// Node events that mark pressure or readiness transitions (`pkg/kubelet/nodestatus/setters.go`).
const NODE_EVENTS: &[&str] = &[
    "NodeHasInsufficientMemory",
    "NodeHasSufficientMemory",
    "NodeHasDiskPressure",
    "NodeHasNoDiskPressure",
    "NodeHasInsufficientPID",
    "NodeHasSufficientPID",
    "NodeNotReady",
    "NodeReady",
];

pub(super) fn collect(
    host: &dyn Host,
    kubelet_running: bool,
    profile: &super::distro::Profile,
    errs: &mut Errors,
) -> Vec<KubeletLogEvent> {
    let now = host.now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(LOOKBACK_HOURS))
        .unwrap_or(now);
    // The units the distribution logs the kubelet under (k3s.service, snap.microk8s.daemon-
    // kubelite.service, ...): their lines together, oldest first.
    let mut journal: Option<Vec<KubeletLogEvent>> = None;
    for unit in profile.journal_units {
        let q = JournalQuery {
            unit: (*unit).into(),
            since_usec: u64::try_from(since.as_microsecond()).unwrap_or(0),
            contains: MARKERS.iter().map(|s| s.to_string()).collect(),
            limit: LIMIT,
        };
        match host.journal(&q) {
            Ok(entries) => journal
                .get_or_insert_with(Vec::new)
                .extend(entries.iter().filter_map(|e| {
                    let t = jiff::Timestamp::from_microsecond(i64::try_from(e.realtime_usec).ok()?)
                        .ok();
                    parse_line(&e.message, t, "journal", now)
                })),
            Err(e) => {
                if e.kind != ErrorKind::Missing {
                    errs.host(C, &e);
                }
                break;
            }
        }
    }
    // A journal that answered is the kubelet's log, unless the distribution writes the
    // kubelet's own file (RKE2's agent/logs/kubelet.log) and the journal had nothing.
    let files: Vec<&str> = match &journal {
        Some(events) if !events.is_empty() => {
            let mut events = journal.unwrap_or_default();
            events.sort_by_key(|e| e.time);
            if events.len() > LIMIT {
                events.drain(..events.len() - LIMIT);
            }
            return events;
        }
        Some(_) => profile.log_files.to_vec(),
        None => profile.log_files.iter().chain(LOG_FILES).copied().collect(),
    };
    if journal.is_some() && files.iter().all(|f| !host.exists(f)) {
        return Vec::new();
    }
    for path in files {
        let Ok(lines) = host.tail_lines(path, TAIL_BYTES, MARKERS) else {
            continue;
        };
        let is_syslog = !path.ends_with("kubelet.log");
        let mut out: Vec<KubeletLogEvent> = lines
            .iter()
            .filter(|l| !is_syslog || is_kubelet_syslog_line(l))
            .filter_map(|l| parse_line(l, None, path, now))
            .filter(|e| e.time.is_none_or(|t| t >= since))
            .collect();
        if out.len() > LIMIT {
            out.drain(..out.len() - LIMIT);
        }
        return out;
    }
    if kubelet_running {
        // Talos keeps no journal: machined holds the kubelet's log (`talosctl logs kubelet`).
        let message = if profile.journal_units.is_empty() && profile.log_files.is_empty() {
            format!(
                "{} keeps the kubelet's log outside the node's files (Talos: `talosctl logs kubelet`): the kubelet's evictions cannot be timed",
                profile.name
            )
        } else {
            "no kubelet log found (journal under /var/log/journal or /run/log/journal, /var/log/kubelet.log, syslog): the kubelet's evictions cannot be timed".into()
        };
        errs.push(crate::model::CollectError {
            collector: C.into(),
            kind: ErrorKind::Missing,
            path: None,
            line: None,
            message,
        });
    }
    Vec::new()
}

/// Whether a syslog line was written by the kubelet or a distribution that embeds it: its tag
/// (`Oct 16 09:50:55 host TAG[PID]: ...`, or RFC 3339 `2024-...+00:00 host TAG[PID]: ...`)
/// names one of [`KUBELET_TAGS`]. A line whose tag cannot be found is kept when it mentions the
/// kubelet at all (the previous rule, for unknown wrappers).
pub fn is_kubelet_syslog_line(line: &str) -> bool {
    match syslog_tag(line) {
        Some(tag) => KUBELET_TAGS.iter().any(|t| tag.contains(t)),
        None => line.contains("kubelet"),
    }
}

/// The program of a syslog line: the word ending in `:` (without its `[pid]`) after the time
/// and host. `None` when the line has no such header.
fn syslog_tag(line: &str) -> Option<&str> {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let first = words.next()?;
    // `Oct 16 09:50:55 host` (BSD) or `2024-05-28T16:05:50.1+00:00 host` (RFC 3339).
    let skip = if first.len() == 3 && first.chars().all(|c| c.is_ascii_alphabetic()) {
        3
    } else if first.get(4..5) == Some("-") && first.contains('T') {
        1
    } else {
        return None;
    };
    let mut words = words.skip(skip - 1);
    let _host = words.next()?;
    let tag = words.next()?.strip_suffix(':')?;
    Some(tag.split('[').next().unwrap_or(tag))
}

/// The klog header `I0617 16:18:42.080925 3814777 eviction_manager.go:381] ` → (time, rest).
/// klog prints local time without a year; nodes run UTC, and the year is the snapshot's (the
/// previous one when that would put the line in the future).
fn split_klog(line: &str, now: jiff::Timestamp) -> (Option<jiff::Timestamp>, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i + 21 < bytes.len() {
        let c = bytes[i];
        let at_word = i == 0 || bytes[i - 1] == b' ';
        if at_word
            && matches!(c, b'I' | b'W' | b'E' | b'F')
            && bytes[i + 1..i + 5].iter().all(u8::is_ascii_digit)
            && bytes[i + 5] == b' '
        {
            let head = &line[i..];
            if let Some(close) = head.find("] ") {
                let t = parse_klog_time(&head[1..5], head.get(6..21).unwrap_or(""), now);
                return (t, &head[close + 2..]);
            }
        }
        i += 1;
    }
    (None, line)
}

fn parse_klog_time(mmdd: &str, hms: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let month: i8 = mmdd.get(0..2)?.parse().ok()?;
    let day: i8 = mmdd.get(2..4)?.parse().ok()?;
    let h: i8 = hms.get(0..2)?.parse().ok()?;
    let m: i8 = hms.get(3..5)?.parse().ok()?;
    let s: i8 = hms.get(6..8)?.parse().ok()?;
    let micros: i32 = hms.get(9..15)?.parse().ok()?;
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    let mk = |y: i16| -> Option<jiff::Timestamp> {
        // Date::new, not civil::date: the year before -9999 is out of range, and a bundle's
        // capture time can be anything jiff represents.
        jiff::civil::Date::new(y, 1, 1)
            .ok()?
            .with()
            .month(month)
            .day(day)
            .build()
            .ok()?
            // Time::new, not Date::at: the header's fields are untrusted digits (`I1122
            // 99:61:75`), and `at` panics on a time of day that does not exist.
            .to_datetime(jiff::civil::Time::new(h, m, s, micros.checked_mul(1000)?).ok()?)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    };
    let t = mk(year)?;
    if now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .is_ok_and(|limit| t > limit)
    {
        mk(year - 1)
    } else {
        Some(t)
    }
}

/// `key="value"` from a structured klog line.
fn kv<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("{key}=\"");
    let start = msg.find(&pat)? + pat.len();
    let end = msg[start..].find('"')?;
    Some(&msg[start..start + end])
}

/// Old klog `format.Pod`: `name_namespace(uid)` → `namespace/name`.
fn old_pod(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches(',');
    let base = s.split('(').next()?;
    let (name, ns) = base.rsplit_once('_')?;
    (!name.is_empty() && !ns.is_empty()).then(|| format!("{ns}/{name}"))
}

/// The kubelet's own line inside k0s's log wrapper, unescaped; `None` for any other line.
///
/// k0s runs the kubelet as a child and logs each line it prints through logrus with the fields
/// `component=kubelet stream=stderr` (k0sproject/k0s pkg/supervisor/supervisor.go: the child's
/// stdout and stderr go to a `logWriter` on `logrus.WithField("component", s.Name)` and
/// `WithField("stream", ...)`). logrus's text formatter writes
/// `time="2024-07-08 08:46:25" level=info msg="I0708 08:46:25.876821 1814 ... \"MountVolume...\" ..." component=kubelet stream=stderr`
/// (the example of k0s docs/troubleshooting/logs.md): the message quoted as Go's `%q` quotes,
/// so the kubelet's own `"` arrive as `\"`.
fn unwrap_k0s(line: &str) -> Option<String> {
    let start = line.find("level=")?;
    let at = line[start..].find(" msg=\"")? + start + 6;
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(line.len() - at);
    let mut i = at;
    loop {
        match *bytes.get(i)? {
            b'"' => break,
            b'\\' => {
                let (b, used) = unescape_go(&bytes[i + 1..])?;
                out.extend_from_slice(&b);
                i += 1 + used;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let fields = &line[i + 1..];
    fields
        .split_whitespace()
        .any(|f| f == "component=kubelet")
        .then(|| String::from_utf8_lossy(&out).into_owned())
}

/// One Go `%q` escape after its backslash → (the bytes it stands for, bytes consumed).
fn unescape_go(rest: &[u8]) -> Option<(Vec<u8>, usize)> {
    let hex = |n: usize| -> Option<u32> {
        let s = std::str::from_utf8(rest.get(1..=n)?).ok()?;
        u32::from_str_radix(s, 16).ok()
    };
    let one = |b: u8| Some((vec![b], 1));
    match *rest.first()? {
        b'n' => one(b'\n'),
        b't' => one(b'\t'),
        b'r' => one(b'\r'),
        b'a' => one(0x07),
        b'b' => one(0x08),
        b'f' => one(0x0c),
        b'v' => one(0x0b),
        b'x' => Some((vec![u8::try_from(hex(2)?).ok()?], 3)),
        b'u' => Some((char::from_u32(hex(4)?)?.to_string().into_bytes(), 5)),
        b'U' => Some((char::from_u32(hex(8)?)?.to_string().into_bytes(), 9)),
        b => one(b),
    }
}

/// Parses one log line into an event, or `None` when it is no eviction-manager line. A line
/// of k0s's wrapper is read as the kubelet line inside it ([`unwrap_k0s`]).
pub fn parse_line(
    line: &str,
    time: Option<jiff::Timestamp>,
    source: &str,
    now: jiff::Timestamp,
) -> Option<KubeletLogEvent> {
    let unwrapped = unwrap_k0s(line);
    let line = unwrapped.as_deref().unwrap_or(line);
    let (klog_time, msg) = split_klog(line, now);
    let time = time.or(klog_time);
    let lower = msg.to_ascii_lowercase();
    let mut pods = Vec::new();
    let mut resource = kv(msg, "resourceName").map(String::from);
    let mut condition = None;
    let old_resource = |after: &str| -> Option<String> {
        let idx = lower.find(after)? + after.len();
        let w = msg[idx..].split_whitespace().next()?;
        Some(w.trim_matches('"').to_string())
    };
    let step = if lower.contains("attempting to reclaim") {
        resource = resource.or_else(|| old_resource("attempting to reclaim "));
        EvictionStep::AttemptingToReclaim
    } else if lower.contains("able to reduce resource pressure without evicting") {
        resource = resource.or_else(|| old_resource("to reclaim "));
        EvictionStep::ReclaimedWithoutEviction
    } else if lower.contains("must evict pod(s) to reclaim") {
        resource = resource.or_else(|| old_resource("must evict pod(s) to reclaim "));
        EvictionStep::MustEvict
    } else if lower.contains("no pods are active to evict") {
        EvictionStep::NoPodsToEvict
    } else if lower.contains("pods ranked for eviction") {
        if let Some(i) = msg.find("pods=[") {
            let list = &msg[i + 6..];
            let list = &list[..list.find(']').unwrap_or(list.len())];
            pods = list
                .split(',')
                .map(|p| p.trim().trim_matches('"').to_string())
                .filter(|p| !p.is_empty())
                .collect();
        } else if let Some(i) = msg.find("eviction: ") {
            pods = msg[i + 10..].split(", ").filter_map(old_pod).collect();
        }
        EvictionStep::Ranked
    } else if msg.contains("\"Evicting pod\"") {
        pods.extend(kv(msg, "pod").map(String::from));
        EvictionStep::Evicting
    } else if lower.contains("is evicted successfully") {
        match kv(msg, "pod") {
            Some(p) => pods.push(p.to_string()),
            None => {
                if let Some(i) = lower.find("eviction manager: pod ") {
                    pods.extend(msg[i + 22..].split_whitespace().next().and_then(old_pod));
                }
            }
        }
        EvictionStep::Evicted
    } else if lower.contains("cannot evict a critical") {
        // `cannot evict a critical pod` and, before 1.15, `... critical static pod <pod>`.
        match kv(msg, "pod") {
            Some(p) => pods.push(p.to_string()),
            None => {
                if let Some(i) = msg.find(" pod ") {
                    pods.extend(msg[i + 5..].split_whitespace().next().and_then(old_pod));
                }
            }
        }
        EvictionStep::CannotEvictCritical
    } else if lower.contains("unable to evict any pods") {
        EvictionStep::UnableToEvict
    } else if msg.contains(" event message for ") {
        // `"Recording event message for node" node="x" event="NodeReady"` (≥1.21) or
        // `Recording NodeReady event message for node x` (older; `... for x` before 1.2).
        let ev = match kv(msg, "event") {
            Some(ev) => ev,
            None => {
                let at = msg.find("Recording ")? + 10;
                msg[at..].split_once(" event message for ")?.0
            }
        };
        if !NODE_EVENTS.contains(&ev) {
            return None;
        }
        condition = Some(ev.to_string());
        EvictionStep::NodeCondition
    } else {
        return None;
    };
    let mut message = msg.to_string();
    if message.len() > 512 {
        let mut cut = 512;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    Some(KubeletLogEvent {
        time,
        source: source.to_string(),
        step,
        resource,
        pods,
        condition,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-11-22T03:00:00Z".parse().unwrap()
    }

    #[test]
    fn klog_times_at_the_ends_of_time_do_not_overflow() {
        // Regression (found by the kubelet_log fuzz target): a capture time within a day of
        // the largest timestamp overflowed `now + 24h`, and one in year -9999 asked for year
        // -10000; both panicked in jiff. A bundle's capture time is untrusted.
        let l = r#"I1231 23:59:59.000000 1 eviction_manager.go:369] "Eviction manager: attempting to reclaim" resourceName="memory""#;
        for now in [jiff::Timestamp::MAX, jiff::Timestamp::MIN] {
            let e = parse_line(l, None, "syslog", now).unwrap();
            assert_eq!(e.step, EvictionStep::AttemptingToReclaim);
        }
        // jiff's last instant is 9999-12-30T22:00:00.999999999Z.
        let last = l.replace("I1231 23:59:59", "I1230 21:59:59");
        let e = parse_line(&last, None, "syslog", jiff::Timestamp::MAX).unwrap();
        assert_eq!(e.time.unwrap().to_string(), "9999-12-30T21:59:59Z");
        // In year -9999 the line is in the future and the year before does not exist.
        assert!(
            parse_line(l, None, "syslog", jiff::Timestamp::MIN)
                .unwrap()
                .time
                .is_none()
        );
    }

    #[test]
    fn klog_headers_with_times_of_day_that_do_not_exist() {
        // Regression (found by the kubelet_log fuzz target): jiff's Date::at panicked on an
        // hour, minute, second or fraction out of range.
        for head in [
            "I1122 24:00:00.000000",
            "I1122 02:60:00.000000",
            "I1122 02:58:99.000000",
            "I1122 02:58:05.-00001",
        ] {
            let l = format!(
                r#"{head} 1 eviction_manager.go:369] "Eviction manager: attempting to reclaim" resourceName="memory""#
            );
            let e = parse_line(&l, None, "syslog", now()).unwrap();
            assert_eq!(e.step, EvictionStep::AttemptingToReclaim);
            assert!(e.time.is_none(), "{head}");
        }
    }

    #[test]
    fn structured_klog_lines_from_a_journal() {
        let l = r#"I1122 02:58:42.080925 3814777 eviction_manager.go:381] "Eviction manager: attempting to reclaim" resourceName="memory""#;
        let e = parse_line(l, None, "journal", now()).unwrap();
        assert_eq!(e.step, EvictionStep::AttemptingToReclaim);
        assert_eq!(e.resource.as_deref(), Some("memory"));
        assert_eq!(e.time.unwrap().to_string(), "2026-11-22T02:58:42.080925Z");
        assert_eq!(
            e.message,
            r#""Eviction manager: attempting to reclaim" resourceName="memory""#
        );

        let l = r#"I1122 02:58:42.212181 3814777 eviction_manager.go:400] "Eviction manager: pods ranked for eviction" pods=["shop/web-6d9f8c7b5-h2j4k","kube-system/kube-proxy-7k2p9"]"#;
        let e = parse_line(l, None, "journal", now()).unwrap();
        assert_eq!(e.step, EvictionStep::Ranked);
        assert_eq!(
            e.pods,
            ["shop/web-6d9f8c7b5-h2j4k", "kube-system/kube-proxy-7k2p9"]
        );

        let l = r#"I1122 02:58:43.1 1 eviction_manager.go:620] "Eviction manager: pod is evicted successfully" pod="shop/web-6d9f8c7b5-h2j4k""#;
        let e = parse_line(l, None, "journal", now()).unwrap();
        assert_eq!(e.step, EvictionStep::Evicted);
        assert_eq!(e.pods, ["shop/web-6d9f8c7b5-h2j4k"]);

        let l = r#"I1122 02:58:40.000001 1 kubelet_node_status.go:679] "Recording event message for node" node="node-a" event="NodeHasInsufficientMemory""#;
        let e = parse_line(l, None, "journal", now()).unwrap();
        assert_eq!(e.condition.as_deref(), Some("NodeHasInsufficientMemory"));
        let l = r#"I1122 02:58:40.000001 1 kubelet_node_status.go:679] "Recording event message for node" node="node-a" event="NodeHasSufficientPID2""#;
        assert!(parse_line(l, None, "journal", now()).is_none());
    }

    #[test]
    fn old_glog_lines_in_syslog() {
        let l = "Oct 16 09:50:55 node-b kubelet[17144]: W1016 09:50:55.056703 17144 eviction_manager.go:331] eviction manager: attempting to reclaim nodefs";
        let e = parse_line(l, None, "/var/log/syslog", now()).unwrap();
        assert_eq!(e.step, EvictionStep::AttemptingToReclaim);
        assert_eq!(e.resource.as_deref(), Some("nodefs"));
        assert_eq!(e.time.unwrap().to_string(), "2026-10-16T09:50:55.056703Z");
        let l = "kubelet[1]: I1016 09:50:55.057322 17144 eviction_manager.go:345] eviction manager: must evict pod(s) to reclaim memory";
        assert_eq!(
            parse_line(l, None, "x", now()).unwrap().resource.as_deref(),
            Some("memory")
        );
        let l = "I1016 09:50:56.1 1 eviction_manager.go:360] eviction manager: pods ranked for eviction: web-1_shop(8f3c), kube-proxy-x_kube-system(12ab)";
        assert_eq!(
            parse_line(l, None, "x", now()).unwrap().pods,
            ["shop/web-1", "kube-system/kube-proxy-x"]
        );
        let l = "I1016 09:50:57.1 1 eviction_manager.go:170] eviction manager: pod web-1_shop(8f3c) is evicted successfully";
        assert_eq!(
            parse_line(l, None, "x", now()).unwrap().pods,
            ["shop/web-1"]
        );
    }

    #[test]
    fn a_december_line_read_in_january_belongs_to_last_year() {
        let jan: jiff::Timestamp = "2027-01-01T00:10:00Z".parse().unwrap();
        let l = "I1231 23:59:00.000000 1 eviction_manager.go:1] eviction manager: attempting to reclaim memory";
        assert_eq!(
            parse_line(l, None, "x", jan)
                .unwrap()
                .time
                .unwrap()
                .to_string(),
            "2026-12-31T23:59:00Z"
        );
    }

    #[test]
    fn other_lines_and_garbage_are_ignored() {
        for l in [
            "",
            "I1122",
            "random text",
            "I1122 02:58:42.080925 1 kubelet.go:1] \"SyncLoop\"",
            "I9999 99:99:99.999999 1 x] eviction manager: attempting to reclaim memory",
        ] {
            let e = parse_line(l, None, "x", now());
            assert!(
                e.is_none() || e.as_ref().unwrap().time.is_none(),
                "{l}: {e:?}"
            );
        }
    }
    #[test]
    fn k0s_wraps_the_kubelet_lines_in_logrus_fields() {
        // k0s docs/troubleshooting/logs.md, as journalctl prints it (the syslog prefix is no
        // part of MESSAGE, but a syslog file keeps it).
        let doc = r#"Jul 08 08:46:26 worker-kppzr-lls2q k0s[1766]: time="2024-07-08 08:46:26" level=info msg="I0708 08:46:26.112550    1814 kuberuntime_container_linux.go:167] \"No swap cgroup controller present\" swapBehavior=\"\" pod=\"kube-system/node-shell-a16894ee-eb67-4865-8964-44ca5c87e18d\" containerName=\"shell\"" component=kubelet stream=stderr"#;
        assert_eq!(
            unwrap_k0s(doc).as_deref(),
            Some(
                r#"I0708 08:46:26.112550    1814 kuberuntime_container_linux.go:167] "No swap cgroup controller present" swapBehavior="" pod="kube-system/node-shell-a16894ee-eb67-4865-8964-44ca5c87e18d" containerName="shell""#
            )
        );
        // Nested quotes (`\\\"` in the wrapper) come back as the kubelet's `\"`.
        let nested = r#"time="2024-07-08 08:46:25" level=info msg="I0708 08:46:25.876821    1814 operation_generator.go:721] \"MountVolume.SetUp succeeded for volume \\\"kube-api-access-7tfxw\\\"\"" component=kubelet stream=stderr"#;
        assert_eq!(
            unwrap_k0s(nested).as_deref(),
            Some(
                r#"I0708 08:46:25.876821    1814 operation_generator.go:721] "MountVolume.SetUp succeeded for volume \"kube-api-access-7tfxw\"""#
            )
        );
        // Other components' lines and plain lines are not the kubelet's.
        assert_eq!(
            unwrap_k0s(
                r#"time="2024-07-08 08:46:25" level=info msg="Started" component=containerd stream=stderr"#
            ),
            None
        );
        assert_eq!(
            unwrap_k0s("I1122 02:58:05.183991 988 x.go:1] msg=\"y\""),
            None
        );

        // An eviction-manager line in the wrapper is parsed as the kubelet's own.
        let t = jiff::Timestamp::from_second(1_795_143_485).unwrap();
        let line = r#"time="2026-11-22 02:58:05" level=info msg="I1122 02:58:05.184530     988 eviction_manager.go:398] \"Eviction manager: pods ranked for eviction\" pods=[\"payments/api-7c8d9f6b5-r2t4y\",\"payments/ledger-0\"]" component=kubelet stream=stderr"#;
        let e = parse_line(line, Some(t), "journal", now()).unwrap();
        assert_eq!(e.step, EvictionStep::Ranked);
        assert_eq!(
            e.pods,
            ["payments/api-7c8d9f6b5-r2t4y", "payments/ledger-0"]
        );
        assert_eq!(
            e.message,
            r#""Eviction manager: pods ranked for eviction" pods=["payments/api-7c8d9f6b5-r2t4y","payments/ledger-0"]"#
        );
        let line = r#"time="2026-11-22 02:58:05" level=info msg="I1122 02:58:05.183991     988 eviction_manager.go:369] \"Eviction manager: attempting to reclaim\" resourceName=\"memory\"" component=kubelet stream=stderr"#;
        let e = parse_line(line, Some(t), "journal", now()).unwrap();
        assert_eq!(e.resource.as_deref(), Some("memory"));
        let line = r#"time="2026-11-22 02:58:15" level=info msg="I1122 02:58:15.200000     988 eviction_manager.go:616] \"Evicting pod\" pod=\"payments/api-7c8d9f6b5-r2t4y\" podUID=\"6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e\"" component=kubelet stream=stderr"#;
        assert!(MARKERS.iter().any(|m| line.contains(m)));
        let e = parse_line(line, Some(t), "journal", now()).unwrap();
        assert_eq!(e.step, EvictionStep::Evicting);
        assert_eq!(e.pods, ["payments/api-7c8d9f6b5-r2t4y"]);
    }

    #[test]
    fn go_escapes_of_every_kind() {
        assert_eq!(unescape_go(b"n"), Some((vec![b'\n'], 1)));
        assert_eq!(unescape_go(b"x41rest"), Some((vec![b'A'], 3)));
        assert_eq!(
            unescape_go("u00e9".as_bytes()),
            Some(("é".as_bytes().to_vec(), 5))
        );
        assert_eq!(
            unescape_go(b"U0001F600"),
            Some(("😀".as_bytes().to_vec(), 9))
        );
        assert_eq!(unescape_go(b"xZZ"), None);
        assert_eq!(unescape_go(b""), None);
    }

    #[test]
    fn critical_static_pods_and_old_node_ready_forms() {
        // v1.13 on IBM Cloud (kubernetes/kubernetes#73572).
        let l = "Feb 14 19:30:31 dev-dal10-w1 kubelet.service[7498]: E0214 19:30:31.899597    7498 eviction_manager.go:548] eviction manager: cannot evict a critical static pod ibm-master-proxy-static-10.94.47.199_kube-system(80da011274014ad7857773c0958a6493)";
        assert!(is_kubelet_syslog_line(l));
        let e = parse_line(l, None, "/var/log/syslog", now()).unwrap();
        assert_eq!(e.step, EvictionStep::CannotEvictCritical);
        assert_eq!(e.pods, ["kube-system/ibm-master-proxy-static-10.94.47.199"]);
        // v1.20 (k3s#2754): the glog form of `cannot evict a critical pod` names its pod too.
        let l = "E1228 14:47:51.316751    3398 eviction_manager.go:574] eviction manager: cannot evict a critical pod coredns-854c77959c-r9zzq_kube-system(be6e2ca9-c393-49c5-bd92-6f9abc008dc7)";
        assert_eq!(
            parse_line(l, None, "x", now()).unwrap().pods,
            ["kube-system/coredns-854c77959c-r9zzq"]
        );
        // v1.1.3 (kubernetes/kubernetes#19562) and the pre-1.21 `for node <name>` form.
        for (l, ev) in [
            (
                "I0109 01:40:27.563475   21132 kubelet.go:2300] Recording NodeReady event message for node-7",
                "NodeReady",
            ),
            (
                "I1122 02:58:40.1 1 kubelet_node_status.go:442] Recording NodeHasDiskPressure event message for node node-a",
                "NodeHasDiskPressure",
            ),
        ] {
            let e = parse_line(l, None, "x", now()).unwrap();
            assert_eq!(e.step, EvictionStep::NodeCondition);
            assert_eq!(e.condition.as_deref(), Some(ev));
        }
        let l = "I1122 02:58:40.1 1 kubelet_node_status.go:442] Recording NodeAllocatableEnforced event message for node node-a";
        assert!(parse_line(l, None, "x", now()).is_none());
    }

    #[test]
    fn syslog_tags_of_the_kubelet_and_the_distributions_that_embed_it() {
        for l in [
            "Oct 16 09:50:55 node-b kubelet[17144]: W1016 x",
            "Feb 14 19:30:31 w1 kubelet.service[7498]: E0214 x",
            "Jun  3 10:00:00 node k3s[812]: I0603 x",
            "Jun  3 10:00:00 node k3s-agent[812]: I0603 x",
            "Jun  3 10:00:00 node rke2-agent[99]: I0603 x",
            "Jun  3 10:00:00 node microk8s.daemon-kubelite[4242]: I0603 x",
            "2024-05-28T16:05:50.514706+00:00 node k0sworker[5]: x",
            "I1016 09:50:55.056703 17144 eviction_manager.go:331] no syslog header, mentions kubelet",
        ] {
            assert!(is_kubelet_syslog_line(l), "{l}");
        }
        for l in [
            "Oct 16 09:50:55 node-b kernel: [123.4] eviction manager: attempting to reclaim memory",
            "Oct 16 09:50:55 node-b containerd[1]: Recording NodeReady event message for node x",
            "2024-05-28T16:05:50+00:00 node systemd[1]: Started kubelet.service",
        ] {
            assert!(!is_kubelet_syslog_line(l), "{l}");
        }
    }
}
