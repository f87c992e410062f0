//! Who a kernel OOM kill hit and when: the victim's cgroup path read back into a pod and
//! container (through the pod identity the collectors found without the API), and its kernel
//! timestamp turned into wall-clock time (boot time + microseconds since boot).

use crate::analyze::Subject;
use crate::model::cgroup_name::parse_cgroup_path;
use crate::model::oom_kill::OomKill;
use crate::model::{CgroupStats, Snapshot};

/// A kill with its pod, container and time.
#[derive(Debug, Clone)]
pub struct AttributedKill<'a> {
    pub kill: &'a OomKill,
    /// Wall-clock time of the kill; `None` when the boot time is unknown.
    pub time: Option<jiff::Timestamp>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub pod_uid: Option<String>,
    pub container: Option<String>,
    pub container_id: Option<String>,
    /// The container's cgroup now (its limit and counters), when it still exists.
    pub cgroup: Option<&'a CgroupStats>,
    /// The victim's cgroup is under the kubelet's kubepods hierarchy.
    pub in_kubepods: bool,
    /// The victim's pod no longer runs here: no pod cgroup with its UID.
    pub pod_gone: bool,
}

impl AttributedKill<'_> {
    /// Seconds between the kill and the snapshot.
    pub fn age_seconds(&self, snap: &Snapshot) -> Option<i64> {
        self.time.map(|t| snap.taken_at.as_second() - t.as_second())
    }

    /// The finding subject: the victim's pod, container and pid (and the node, when given).
    /// A pod nothing names is `pod <uid> (deleted)` or `pod <uid>`.
    pub fn subject(&self, node: Option<&str>) -> Subject {
        let s = match (&self.namespace, &self.pod) {
            (Some(_), Some(_)) => Subject::container(
                self.namespace.clone(),
                self.pod.clone(),
                self.container.clone(),
            ),
            _ => Subject::pod(None, self.pod_label()),
        };
        s.with_node(node.map(String::from)).with_pid(self.kill.pid)
    }

    /// The victim's pod for a reader, when the kill was in one: `namespace/name`, else
    /// `pod <uid> (deleted)` (its cgroup is gone) or `pod <uid>`.
    fn pod_label(&self) -> Option<String> {
        match (&self.namespace, &self.pod, &self.pod_uid) {
            (Some(ns), Some(p), _) => Some(format!("{ns}/{p}")),
            (_, _, Some(uid)) if self.pod_gone => Some(format!("pod {uid} (deleted)")),
            (_, _, Some(uid)) => Some(format!("pod {uid}")),
            _ => None,
        }
    }

    /// Who was killed, for a reader: `namespace/pod/container`, the pod's label, else the
    /// victim's cgroup path, else `an unknown cgroup`.
    pub fn label(&self) -> String {
        match (&self.namespace, &self.pod, &self.container) {
            (Some(ns), Some(p), Some(c)) => format!("{ns}/{p}/{c}"),
            _ => self
                .pod_label()
                .or_else(|| self.kill.task_memcg.clone())
                .or_else(|| self.kill.oom_memcg.clone())
                .unwrap_or_else(|| "an unknown cgroup".into()),
        }
    }

    /// The facts every OOM finding shows about its kill; rules add their own.
    pub fn evidence(&self, snap: &Snapshot) -> serde_json::Map<String, serde_json::Value> {
        let v = serde_json::json!({
            "time": self.time.map(|t| t.to_string()),
            "age_seconds": self.age_seconds(snap),
            "comm": self.kill.comm,
            "constraint": self.kill.constraint,
            "oom_memcg": self.kill.oom_memcg,
            "task_memcg": self.kill.task_memcg,
            "container_id": self.container_id,
            "anon_rss_bytes": self.kill.anon_rss_kb.map(|v| v.saturating_mul(1024)),
            "oom_score_adj": self.kill.oom_score_adj,
            "invoker": self.kill.invoker,
            "group_kill": self.kill.group_kill,
            "kmsg_seq": self.kill.seq,
        });
        match v {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// `42s`, `5m`, `3h10m`, `2d4h`: how long ago, for finding titles.
pub fn human_age(s: i64) -> String {
    let s = s.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Wall-clock time of a kernel-log timestamp.
pub fn kernel_time(snap: &Snapshot, usec: u64) -> Option<jiff::Timestamp> {
    let boot = snap.node.boot_time?;
    boot.checked_add(jiff::SignedDuration::from_micros(i64::try_from(usec).ok()?))
        .ok()
}

/// Attributes one kill.
pub fn attribute<'a>(snap: &'a Snapshot, kill: &'a OomKill) -> AttributedKill<'a> {
    let path = kill
        .task_memcg
        .as_deref()
        .or(kill.oom_memcg.as_deref())
        .unwrap_or("");
    let cg = parse_cgroup_path(path);
    let mut a = AttributedKill {
        kill,
        time: kernel_time(snap, kill.usec),
        namespace: None,
        pod: None,
        pod_uid: cg.pod_uid,
        container: None,
        container_id: cg.container.map(|(_, id)| id),
        cgroup: None,
        in_kubepods: cg.in_kubepods,
        pod_gone: false,
    };
    if let Some(id) = &a.container_id
        && let Some((pod, c)) = snap.container(id)
    {
        a.namespace = pod.namespace.clone();
        a.pod = pod.name.clone();
        a.pod_uid = Some(pod.uid.clone());
        a.container = c.name.clone();
        a.cgroup = c.cgroup.as_ref();
        return a;
    }
    // A killed container is usually restarted under a new id; its old log link still names it.
    if let Some(id) = &a.container_id
        && let Some(l) = snap.container_logs.iter().find(|l| &l.id == id)
    {
        a.namespace = Some(l.namespace.clone());
        a.pod = Some(l.pod.clone());
        a.container = Some(l.container.clone());
        a.pod_uid = l.pod_uid.clone().or(a.pod_uid);
        return a;
    }
    let pod = a
        .pod_uid
        .as_ref()
        .and_then(|uid| snap.pods.iter().find(|p| &p.uid == uid));
    a.pod_gone = pod.is_none_or(|p| p.cgroup.is_none());
    if let Some(pod) = pod {
        a.namespace = pod.namespace.clone();
        a.pod = pod.name.clone();
    }
    a
}

/// Every kill, attributed, oldest first.
pub fn kills(snap: &Snapshot) -> Vec<AttributedKill<'_>> {
    snap.oom_kills.iter().map(|k| attribute(snap, k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::ContainerLog;

    #[test]
    fn ages_read_in_the_largest_two_units() {
        let cases = [
            (-5, "0s"),
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h0m"),
            (3661, "1h1m"),
            (86399, "23h59m"),
            (86400, "1d0h"),
            (90000, "1d1h"),
        ];
        for (s, want) in cases {
            assert_eq!(human_age(s), want, "{s}");
        }
    }

    #[test]
    fn kernel_times_are_boot_time_plus_microseconds() {
        let mut s = snap();
        assert_eq!(kernel_time(&s, 5), None, "no boot time, no wall clock");
        s.node.boot_time = Some("2026-11-22T00:00:00Z".parse().expect("time"));
        assert_eq!(
            kernel_time(&s, 90_500_000).map(|t| t.to_string()),
            Some("2026-11-22T00:01:30.5Z".into())
        );
    }

    const UID: &str = "1234-abcd";

    fn killed(s: &mut Snapshot, cid: &str) {
        s.oom_kills
            .push(kill(9, "java", 5_000_000, &container_path(UID, cid), false));
        booted_so_that(s, 5_000_000, 120);
    }

    #[test]
    fn a_kill_is_attributed_to_its_running_container() {
        let mut s = snap();
        let mut p = pod("shop", "web", UID);
        p.containers
            .push(container(&id('a'), "app", Some(cgroup("/x"))));
        s.pods.push(p);
        killed(&mut s, &id('a'));
        let k = &kills(&s)[0];
        assert_eq!(
            (k.namespace.as_deref(), k.pod.as_deref()),
            (Some("shop"), Some("web"))
        );
        assert_eq!(k.container.as_deref(), Some("app"));
        assert_eq!(k.pod_uid.as_deref(), Some(UID));
        assert_eq!(k.container_id, Some(id('a')));
        assert!(k.cgroup.is_some() && k.in_kubepods);
        assert_eq!(k.age_seconds(&s), Some(120));
        let sub = k.subject(Some("node-a"));
        assert_eq!((sub.pid, sub.node.as_deref()), (Some(9), Some("node-a")));
        let ev = k.evidence(&s);
        assert_eq!(ev["comm"], "java");
        assert_eq!(ev["anon_rss_bytes"], 1024 * 1024);
        assert_eq!(ev["age_seconds"], 120);
        assert_eq!(ev["kmsg_seq"], 100);
    }

    #[test]
    fn a_restarted_container_is_named_by_its_old_log_link() {
        let mut s = snap();
        s.container_logs.push(ContainerLog {
            id: id('b'),
            namespace: "shop".into(),
            pod: "web".into(),
            container: "app".into(),
            pod_uid: Some("from-the-link".into()),
            source: None,
        });
        killed(&mut s, &id('b'));
        let k = &kills(&s)[0];
        assert_eq!(k.container.as_deref(), Some("app"));
        assert_eq!(k.pod_uid.as_deref(), Some("from-the-link"));
        assert!(k.cgroup.is_none());
    }

    #[test]
    fn a_kill_of_a_gone_container_is_named_by_its_pod() {
        let mut s = snap();
        s.pods.push(pod("shop", "web", UID));
        killed(&mut s, &id('c'));
        let k = &kills(&s)[0];
        assert_eq!(k.pod.as_deref(), Some("web"));
        assert_eq!(k.container, None);
        // And with nothing left on the node: only what the path says.
        let mut s = snap();
        killed(&mut s, &id('c'));
        let k = &kills(&s)[0];
        assert_eq!((k.pod.as_deref(), k.pod_uid.as_deref()), (None, Some(UID)));
    }

    #[test]
    fn the_oom_memcg_stands_in_when_the_victims_cgroup_is_not_logged() {
        let mut s = snap();
        killed(&mut s, &id('d'));
        s.oom_kills[0].task_memcg = None;
        let k = &kills(&s)[0];
        assert_eq!(k.container_id, Some(id('d')), "from oom_memcg");
        s.oom_kills[0].oom_memcg = None;
        let k = &kills(&s)[0];
        assert!(!k.in_kubepods && k.container_id.is_none());
    }
}
