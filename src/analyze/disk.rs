//! Disk signals as the kubelet computes them (docs/kubelet-semantics.md §1.2–1.3): from statvfs of the
//! filesystem holding a directory, `*.available = f_bavail × f_frsize` against capacity
//! `f_blocks × f_frsize`, and `*.inodesFree = f_ffree` against `f_files`
//! (cadvisor `lib/fs/vfs/stats.go`).

use super::eviction_signals::{Observation, human_bytes, resolve};
use super::{Finding, Rule, Severity, Subject, finding};
use crate::model::disk::FsRole;
use crate::model::fs::StatVfs;
use crate::model::{Filesystem, Snapshot, ThresholdValue};

/// The statvfs of the filesystem mounted at `mount_point`, when it answered.
pub fn stat_of<'a>(snap: &'a Snapshot, mount_point: &str) -> Option<&'a StatVfs> {
    snap.filesystems
        .iter()
        .find(|f| f.mount_point == mount_point)
        .and_then(|f: &Filesystem| f.stat.as_ref())
}

/// `<fs>.available`: bytes available to unprivileged users (f_bavail), against the size.
pub fn bytes_observation(st: &StatVfs) -> Observation {
    let f = st.frsize.max(1);
    Observation {
        available: i64::try_from(st.bavail.saturating_mul(f)).unwrap_or(i64::MAX),
        capacity: i64::try_from(st.blocks.saturating_mul(f)).unwrap_or(i64::MAX),
    }
}

/// `<fs>.inodesFree`: free inodes (f_ffree) against all inodes (f_files).
pub fn inodes_observation(st: &StatVfs) -> Observation {
    Observation {
        available: i64::try_from(st.ffree).unwrap_or(i64::MAX),
        capacity: i64::try_from(st.files).unwrap_or(i64::MAX),
    }
}

/// Share of inodes in use, in percent (`df -i` IUse%).
pub fn inodes_used_percent(st: &StatVfs) -> Option<f64> {
    (st.files > 0).then(|| st.files.saturating_sub(st.ffree) as f64 * 100.0 / st.files as f64)
}

/// The ranking's name for a disk signal.
fn ranking_signal(signal: &str) -> Option<crate::analyze::eviction_ranking::DiskSignal> {
    use crate::analyze::eviction_ranking::DiskSignal as S;
    [
        S::NodeFsAvailable,
        S::NodeFsInodesFree,
        S::ImageFsAvailable,
        S::ImageFsInodesFree,
        S::ContainerFsAvailable,
        S::ContainerFsInodesFree,
    ]
    .into_iter()
    .find(|s| s.as_str() == signal)
}

/// How many pods of the kubelet's predicted disk order the evidence lists.
const TOP: usize = 5;

/// The kubelet's predicted disk order in the evidence, and, only when some pod lacks the API's
/// word, which values were taken as 0.
fn add_ranking_evidence(
    ev: &mut serde_json::Value,
    order: &[crate::analyze::next_victims::DiskPredictedPod],
) {
    if order.is_empty() {
        return;
    }
    ev["kubelet_order"] = serde_json::json!(order.iter().take(TOP).collect::<Vec<_>>());
    let without_api = order.iter().filter(|p| p.request_bytes.is_none()).count();
    if without_api > 0 {
        ev["approximation"] = format!(
            "{without_api} of {} pods without the API's word: ephemeral-storage requests and priorities taken as 0",
            order.len()
        )
        .into();
    }
}

/// One eviction threshold on a disk signal and how the filesystem stands against it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct DiskSignal {
    /// `nodefs.available`, `imagefs.inodesFree`, ...
    pub signal: String,
    /// `hard` or `soft`.
    pub kind: &'static str,
    pub threshold: String,
    pub threshold_value: i64,
    pub available: i64,
    pub capacity: i64,
    /// Available as a percent of capacity.
    pub available_percent: f64,
    /// Threshold as a percent of capacity.
    pub threshold_percent: f64,
    /// The kubelet's test: threshold > available (strict).
    pub met: bool,
}

impl DiskSignal {
    /// Within `points` percentage points of being met (and not met yet).
    pub fn near(&self, points: f64) -> bool {
        !self.met && self.available_percent < self.threshold_percent + points
    }

    /// `nodefs.available 8.2% (12Gi of 150Gi) < hard 10%`.
    pub fn describe(&self) -> String {
        let bytes = self.signal.ends_with(".available");
        let amount = if bytes {
            format!(
                "{} of {}",
                human_bytes(self.available),
                human_bytes(self.capacity)
            )
        } else {
            format!("{} of {} inodes free", self.available, self.capacity)
        };
        format!(
            "{} {:.1}% ({amount}) {} {} {}",
            self.signal,
            self.available_percent,
            if self.met { "<" } else { "near" },
            self.kind,
            self.threshold
        )
    }
}

/// The thresholds the kubelet has for `prefix` (`nodefs` or `imagefs`), hard then soft, judged
/// against `st`. Without a kubelet, its Linux defaults.
pub fn disk_signals(snap: &Snapshot, prefix: &str, st: &StatVfs) -> Vec<DiskSignal> {
    let mut out = Vec::new();
    let defaults: Vec<(String, ThresholdValue)> = crate::model::kubelet::default_eviction_hard()
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect();
    let cfg = snap.kubelet.as_ref().map(|k| &k.config);
    let hard: Vec<(String, ThresholdValue)> = match cfg {
        Some(c) => c
            .eviction_hard
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{prefix}.")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => defaults,
    };
    let soft: Vec<(String, ThresholdValue)> = cfg
        .map(|c| {
            c.eviction_soft
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{prefix}.")))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (kind, list) in [("hard", hard), ("soft", soft)] {
        for (signal, t) in list {
            let o = if signal.ends_with(".available") {
                bytes_observation(st)
            } else if signal.ends_with(".inodesFree") {
                inodes_observation(st)
            } else {
                continue;
            };
            if o.capacity <= 0 {
                continue;
            }
            let tv = resolve(&t, o.capacity);
            out.push(DiskSignal {
                signal,
                kind,
                threshold: t.to_string(),
                threshold_value: tv,
                available: o.available,
                capacity: o.capacity,
                available_percent: o.available as f64 * 100.0 / o.capacity as f64,
                threshold_percent: tv as f64 * 100.0 / o.capacity as f64,
                met: o.met(&t),
            });
        }
    }
    out
}

/// Percentage points before a threshold at which `disk.*-pressure` warns (docs/rules.md).
pub const NEAR_POINTS: f64 = 5.0;

/// The namespace and name of the pod with `uid`, when the node knows them.
pub fn pod_names(snap: &Snapshot, uid: &str) -> (Option<String>, Option<String>) {
    if let Some(p) = snap.pods.iter().find(|p| p.uid == uid) {
        return (p.namespace.clone(), p.name.clone());
    }
    match snap.disk.pod_logs.iter().find(|l| l.uid == uid) {
        Some(l) => (Some(l.namespace.clone()), Some(l.pod.clone())),
        None => (None, None),
    }
}

/// Whether the pod with `uid` still runs here: it has a pod cgroup. `None` when the node's pod
/// cgroups could not be found at all, so nothing can be called orphaned.
pub fn pod_running(snap: &Snapshot, uid: &str) -> Option<bool> {
    snap.cgroup.kubepods_path.as_ref()?;
    Some(snap.pods.iter().any(|p| p.uid == uid && p.cgroup.is_some()))
}

/// `disk.nodefs-pressure` and `disk.imagefs-pressure` are one test on two filesystems, as the
/// kubelet runs it on both. Findings for one role (`nodefs` or `imagefs`): at most one, naming every threshold met or near.
pub fn fs_pressure_findings(
    rule: &dyn Rule,
    snap: &Snapshot,
    prefix: &str,
    role: Option<&FsRole>,
    extra: serde_json::Value,
    remedy: &str,
    out: &mut Vec<Finding>,
) {
    let Some(role) = role else { return };
    let Some(mp) = role.mount_point.as_deref() else {
        return;
    };
    let Some(st) = stat_of(snap, mp) else { return };
    let signals = disk_signals(snap, prefix, st);
    let hits: Vec<&DiskSignal> = signals
        .iter()
        .filter(|s| s.met || s.near(NEAR_POINTS))
        .collect();
    let Some(worst) = hits
        .iter()
        .find(|s| s.met)
        .or_else(|| hits.first())
        .copied()
    else {
        return;
    };
    let severity = if worst.met {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut ev = serde_json::json!({
        "path": role.path,
        "mount_point": mp,
        "signals": hits,
        "note": if worst.met {
            "the kubelet reports DiskPressure, taints the node NoSchedule, reclaims (container and image GC) and then evicts pods"
        } else {
            "within 5 points of an eviction threshold"
        },
    });
    if let (Some(o), Some(e)) = (ev.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let mut title = format!("{} on {mp}", worst.describe());
    if let Some(signal) = ranking_signal(&worst.signal) {
        let order = crate::analyze::next_victims::kubelet_disk_order(snap, signal);
        // Named only when something was measured: with every usage 0 (nothing walked), the
        // order would be the input order, not the kubelet's.
        if worst.met
            && order.iter().any(|p| p.usage > 0)
            && let Some(first) = order.iter().find(|p| !p.critical)
        {
            title.push_str(&format!("; kubelet would evict {} first", first.label));
        }
        add_ranking_evidence(&mut ev, &order);
    }
    out.push(finding(
        rule,
        severity,
        title,
        Subject::node(snap).with_path(role.path.clone()),
        ev,
        remedy,
    ));
}
