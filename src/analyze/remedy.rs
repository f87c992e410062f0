//! Remedies computed from the evidence: what to change *given the current configuration*.
//!
//! A rule's fix must never tell to add what is already set. This module is the one place that
//! reads the kubelet's effective configuration and words a change to it: `add` a setting that is
//! absent, `raise` one that is set too low ("from A to B"), or say that the configuration is
//! sound and name what grew instead. Each change is written where the setting lives now: as a
//! KubeletConfiguration entry (`add \`evictionSoft: {memory.available: 640Mi}\``) when it comes
//! from the configuration file or is unset on a kubelet that has one, as a flag entry
//! (`add \`memory.available<640Mi\` to \`--eviction-soft\``) when the kubelet takes it from its
//! command line. tests/remedies.rs parses exactly these two forms out of every fixture's
//! findings and checks that nothing it is told to add is already in the effective config.
//!
//! Sizing (documented so the figures can be argued with):
//! - reserved memory: 255Mi plus 6 % of memory up to 8Gi and 2 % above (the rule
//!   `eviction.no-reserved`'s explanation quotes it), rounded up to 64Mi;
//! - the hard `memory.available` threshold: 2 % of memory, at least the kubelet's default
//!   100Mi, rounded up to 64Mi: room for one 10 s housekeeping loop of allocations on a busy
//!   node, where 100Mi is sized for the smallest ones;
//! - a soft `memory.available` threshold: twice the hard one, with a 1m30s grace period.

use crate::analyze::eviction_signals::resolve;
use crate::analyze::next_victims::kubelet_order;
use crate::analyze::oom::AttributedKill;
use crate::model::units::bytes;
use crate::model::{KubeletConfig, KubeletInfo, Provenance, Snapshot};

const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;

/// A remedy as a list of steps, shown joined by `; `.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Remedy {
    steps: Vec<String>,
}

impl Remedy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a step (empty steps are dropped).
    pub fn step(&mut self, s: impl Into<String>) -> &mut Self {
        let s = s.into();
        if !s.is_empty() {
            self.steps.push(s);
        }
        self
    }

    /// Appends every step of another remedy.
    pub fn extend(&mut self, other: Remedy) -> &mut Self {
        self.steps.extend(other.steps);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps joined by `; `.
    pub fn text(&self) -> String {
        self.steps.join("; ")
    }
}

/// The kubelet flag of a KubeletConfiguration field (the flag names of
/// cmd/kubelet/app/options/options.go; most are the field's name in kebab case).
pub fn flag_name(field: &str) -> String {
    match field {
        "podPidsLimit" => "pod-max-pids".into(),
        "imageGCHighThresholdPercent" => "image-gc-high-threshold".into(),
        "imageGCLowThresholdPercent" => "image-gc-low-threshold".into(),
        _ => field.chars().fold(String::new(), |mut s, c| {
            if c.is_ascii_uppercase() {
                s.push('-');
                s.push(c.to_ascii_lowercase());
            } else {
                s.push(c);
            }
            s
        }),
    }
}

/// Whether a change to `field` is written as a flag: the kubelet takes it from a flag now, or it
/// is unset and the kubelet has no configuration file to put it in.
/// An unset field follows its family (the eviction settings, the reservations): a kubelet
/// whose evictionHard comes from a flag gets its evictionSoft as a flag too.
pub fn as_flag(k: &KubeletInfo, field: &str) -> bool {
    const FAMILIES: [&[&str]; 2] = [
        &[
            "evictionHard",
            "evictionSoft",
            "evictionSoftGracePeriod",
            "evictionMinimumReclaim",
        ],
        &["systemReserved", "kubeReserved"],
    ];
    if is_k3s(k) {
        return true; // its kubelet.conf.d drop-in is rewritten on every start: kubelet-arg only
    }
    let source = k.config.sources.get(field).or_else(|| {
        FAMILIES
            .iter()
            .find(|f| f.contains(&field))
            .and_then(|f| f.iter().find_map(|s| k.config.sources.get(*s)))
    });
    match source {
        Some(Provenance::Flag) => true,
        Some(_) => false,
        None => k.config_file.is_none() && k.drop_ins.is_empty(),
    }
}

/// A kubelet embedded in k3s (`k3s-agent`, `k3s-server`).
fn is_k3s(k: &KubeletInfo) -> bool {
    k.embedded_in
        .as_deref()
        .is_some_and(|e| e.starts_with("k3s"))
}

/// Where a change is made and how it takes effect: k3s takes kubelet flags only from the
/// kubelet-arg list of its config.yaml; a distribution's args file (MicroK8s) is named;
/// otherwise the kubelet is restarted.
pub fn then_restart(k: &KubeletInfo) -> String {
    if is_k3s(k) {
        let file = k
            .config_sources
            .first()
            .map_or("/etc/rancher/k3s/config.yaml", String::as_str);
        return format!("in the kubelet-arg list of {file}, then restart k3s");
    }
    let restart = match k.embedded_in.as_deref() {
        Some("kubelite") => "then restart kubelite (snap restart microk8s.daemon-kubelite)".into(),
        Some(other) => format!("then restart {other}"),
        None => "then restart the kubelet".to_string(),
    };
    match k.config_sources.first() {
        Some(src) => format!("in {src}, {restart}"),
        None => restart,
    }
}

/// The operator between a key and its value in a map-valued flag: `<` for thresholds
/// (`memory.available<1Gi`), `=` otherwise (`memory=1Gi`, `memory.available=1m30s`).
fn flag_op(field: &str) -> &'static str {
    if field == "evictionHard" || field == "evictionSoft" {
        "<"
    } else {
        "="
    }
}

/// "add" an entry of a map-valued setting (`evictionSoft`, `systemReserved`, ...).
pub fn add_entry(k: &KubeletInfo, field: &str, key: &str, value: &str) -> String {
    add_entries(k, field, &[(key.to_string(), value.to_string())])
}

/// The step for a setting the files already change but the running kubelet does not have
/// (`node.kubelet-config-drift`): applying the files, not adding it again.
fn not_in_force(field: &str) -> String {
    format!("apply the files' `{field}`, which the running kubelet does not have")
}

/// "add" entries of a map-valued setting: `add \`evictionSoft: {a: 1, b: 2}\`` or
/// `add \`a<1,b<2\` to \`--eviction-soft\``.
pub fn add_entries(k: &KubeletInfo, field: &str, entries: &[(String, String)]) -> String {
    if k.drifted(field) {
        return not_in_force(field);
    }
    if as_flag(k, field) {
        let op = flag_op(field);
        let list: Vec<String> = entries.iter().map(|(k, v)| format!("{k}{op}{v}")).collect();
        format!("add `{}` to `--{}`", list.join(","), flag_name(field))
    } else {
        let list: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("add `{field}: {{{}}}`", list.join(", "))
    }
}

/// "raise" (or "lower") an entry of a map-valued setting from its current value.
pub fn change_entry(
    k: &KubeletInfo,
    verb: &str,
    field: &str,
    key: &str,
    from: &str,
    to: &str,
) -> String {
    if k.drifted(field) {
        return not_in_force(field);
    }
    if as_flag(k, field) {
        format!(
            "{verb} `{key}` in `--{}` from {from} to {to}",
            flag_name(field)
        )
    } else {
        format!("{verb} `{field}: {key}` from {from} to {to}")
    }
}

/// "add" a scalar setting (`podPidsLimit: 4096`).
pub fn add_scalar(k: &KubeletInfo, field: &str, value: &str) -> String {
    if k.drifted(field) {
        return not_in_force(field);
    }
    if as_flag(k, field) {
        format!("add `--{}={value}`", flag_name(field))
    } else {
        format!("add `{field}: {value}`")
    }
}

/// "raise"/"lower" a scalar setting from its current value.
pub fn change_scalar(k: &KubeletInfo, verb: &str, field: &str, from: &str, to: &str) -> String {
    if k.drifted(field) {
        return not_in_force(field);
    }
    if as_flag(k, field) {
        format!("{verb} `--{}` from {from} to {to}", flag_name(field))
    } else {
        format!("{verb} `{field}` from {from} to {to}")
    }
}

/// `n` rounded up to a multiple of 64Mi.
fn round_up_64mi(n: u64) -> u64 {
    n.div_ceil(64 * MI).saturating_mul(64 * MI)
}

/// Memory to reserve for the system and the kubelet on a node of `total` bytes.
pub fn reserved_memory_target(total: u64) -> u64 {
    let low = total.min(8 * GI);
    let high = total.saturating_sub(8 * GI);
    round_up_64mi(255 * MI + low * 6 / 100 + high / 50)
}

/// The hard `memory.available` threshold for a node of `total` bytes.
pub fn hard_memory_target(total: u64) -> u64 {
    round_up_64mi((total / 50).max(100 * MI))
}

/// Memory reserved (systemReserved + kubeReserved), when either has a memory entry.
pub fn reserved_memory(c: &KubeletConfig) -> Option<u64> {
    let q = |m: &std::collections::BTreeMap<String, String>| {
        m.get("memory")
            .and_then(|v| crate::model::quantity::quantity_value(v))
            .and_then(|v| u64::try_from(v).ok())
    };
    match (q(&c.system_reserved), q(&c.kube_reserved)) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

/// The configuration steps that give a node room before the kernel OOM killer acts: a hard
/// and a soft `memory.available` threshold of the sizes above, and reserved memory. Empty when
/// the configuration already has all three; `sound` then describes it.
pub struct NodeMemoryConfig {
    pub steps: Remedy,
    /// "evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved".
    pub sound: String,
}

/// What the node's memory configuration lacks, from its effective config and memory size.
pub fn node_memory_config(snap: &Snapshot) -> Option<NodeMemoryConfig> {
    let k = snap.kubelet.as_ref()?;
    let total = snap.memory?.mem_total_bytes;
    let c = &k.config;
    let cap = i64::try_from(total).ok()?;
    let signal = "memory.available";
    let mut steps = Remedy::new();
    let want_hard = hard_memory_target(total);
    let hard = c.eviction_hard.get(signal);
    let hard_bytes = hard.map(|h| resolve(h, cap).max(0) as u64);
    match (hard, hard_bytes) {
        (Some(h), Some(b)) if b < want_hard => steps.step(change_entry(
            k,
            "raise",
            "evictionHard",
            signal,
            &h.to_string(),
            &bytes(want_hard),
        )),
        (Some(_), _) => &mut steps,
        (None, _) => steps.step(add_entry(k, "evictionHard", signal, &bytes(want_hard))),
    };
    let hard_now = hard_bytes.unwrap_or(0).max(want_hard);
    let soft = c.eviction_soft.get(signal);
    let soft_bytes = soft.map(|s| resolve(s, cap).max(0) as u64);
    match (soft, soft_bytes) {
        (Some(s), Some(b)) if b <= hard_now => steps.step(change_entry(
            k,
            "raise",
            "evictionSoft",
            signal,
            &s.to_string(),
            &bytes(round_up_64mi(hard_now.saturating_mul(2))),
        )),
        (Some(_), _) => &mut steps,
        (None, _) => {
            steps.step(add_entry(
                k,
                "evictionSoft",
                signal,
                &bytes(round_up_64mi(hard_now.saturating_mul(2))),
            ));
            if !c.eviction_soft_grace_period.contains_key(signal) {
                steps.step(add_entry(k, "evictionSoftGracePeriod", signal, "1m30s"));
            }
            &mut steps
        }
    };
    let reserved = reserved_memory(c);
    if reserved.is_none() {
        steps.step(add_entry(
            k,
            "systemReserved",
            "memory",
            &bytes(reserved_memory_target(total)),
        ));
    }
    let sound = format!(
        "evictionHard {signal} {}, evictionSoft {signal} {}, {} reserved",
        hard.map_or_else(|| "unset".into(), ToString::to_string),
        soft.map_or_else(|| "unset".into(), ToString::to_string),
        reserved.map_or_else(|| "nothing".into(), bytes)
    );
    Some(NodeMemoryConfig { steps, sound })
}

/// `ns/pod` of a pod known by parts.
fn pod_name(ns: Option<&str>, pod: Option<&str>, uid: &str) -> String {
    crate::model::pod_ref(ns, pod, uid)
}

/// The `n` pods with the largest `value` (pods without one, or with 0, left out), each as
/// `ns/pod <shown value>`, in the kubelet's predicted order's names.
fn top_pods<V: Ord + Copy + Default>(
    snap: &Snapshot,
    n: usize,
    value: impl Fn(&crate::analyze::next_victims::PredictedPod) -> Option<V>,
    show: impl Fn(V) -> String,
) -> Vec<String> {
    let mut pods: Vec<_> = kubelet_order(snap)
        .into_iter()
        .filter_map(|p| value(&p).filter(|v| *v > V::default()).map(|v| (p, v)))
        .collect();
    pods.sort_by_key(|(_, v)| std::cmp::Reverse(*v));
    pods.iter()
        .take(n)
        .map(|(p, v)| {
            format!(
                "{} {}",
                pod_name(p.namespace.as_deref(), p.pod.as_deref(), &p.uid),
                show(*v)
            )
        })
        .collect()
}

/// The pods with the largest working sets now, `ns/pod 1.2Gi`, at most `n`.
pub fn top_working_sets(snap: &Snapshot, n: usize) -> Vec<String> {
    top_pods(snap, n, |p| p.working_set_bytes, |w| bytes(w.max(0) as u64))
}

/// Pods whose working set exceeds their memory request (evicted first), largest excess first:
/// `ns/pod 1.2Gi over its 256Mi request`, at most `n`.
pub fn over_request(snap: &Snapshot, n: usize) -> Vec<String> {
    let mut pods: Vec<_> = kubelet_order(snap)
        .into_iter()
        .filter(|p| p.exceeds_request && !p.critical)
        .collect();
    pods.sort_by_key(|p| std::cmp::Reverse(p.working_set_bytes.unwrap_or(0) - p.request_bytes));
    pods.iter()
        .take(n)
        .map(|p| {
            let est = if p.request_from == "api" {
                ""
            } else {
                " (estimated)"
            };
            format!(
                "{} {} over its {}{est} request",
                pod_name(p.namespace.as_deref(), p.pod.as_deref(), &p.uid),
                bytes((p.working_set_bytes.unwrap_or(0) - p.request_bytes).max(0) as u64),
                bytes(p.request_bytes.max(0) as u64)
            )
        })
        .collect()
}

/// What the victim of a node-level OOM kill grew to, and whether it had a limit: "payments/api
/// grew to 12.6Gi anon-rss (79% of 15.6Gi) with no memory limit (working set 186Mi now)".
fn victim_growth(snap: &Snapshot, k: &AttributedKill<'_>) -> Option<(String, bool)> {
    let rss = k.kill.anon_rss_kb?.saturating_mul(1024);
    let who = match (&k.namespace, &k.pod) {
        (Some(ns), Some(p)) => format!("{ns}/{p}"),
        _ => format!("{} (pid {}, outside any pod)", k.kill.comm, k.kill.pid),
    };
    let mut s = format!("{who} grew to {} anon-rss", bytes(rss));
    if let Some(m) = snap.memory.filter(|m| m.mem_total_bytes > 0) {
        s.push_str(&format!(
            " ({:.0}% of {})",
            rss as f64 * 100.0 / m.mem_total_bytes as f64,
            bytes(m.mem_total_bytes)
        ));
    }
    let limit = k.cgroup.and_then(|c| c.limit_bytes);
    let unlimited = k.pod.is_some() && limit.is_none();
    // Its request, when the API gave it (an estimate from oom_score_adj is not a figure to quote).
    let request = k.pod_uid.as_deref().and_then(|uid| {
        kubelet_order(snap)
            .into_iter()
            .find(|p| p.uid == uid && p.request_from == "api" && p.request_bytes > 0)
            .map(|p| p.request_bytes.max(0) as u64)
    });
    if let Some(r) = request {
        s.push_str(&format!(" against a {} request", bytes(r)));
    }
    if unlimited {
        s.push_str(" with no memory limit");
    }
    // The cgroup read now is the restarted container's: its figures are today's, not the kill's.
    let now: Vec<String> = k
        .cgroup
        .and_then(|c| c.working_set_bytes())
        .map(|ws| format!("working set {}", bytes(ws)))
        .into_iter()
        .chain(limit.map(|l| format!("limit {}", bytes(l))))
        .collect();
    if !now.is_empty() {
        s.push_str(&format!("; now: {}", now.join(", ")));
    }
    Some((s, unlimited))
}

/// The remedy of a node-level OOM kill (`memory.global-oom`, `memory.oom-race`): the config
/// steps the node lacks, or "config is sound" and what grew; then the victim to limit and the
/// largest consumers now.
pub fn node_oom(snap: &Snapshot, k: &AttributedKill<'_>) -> String {
    let mut r = Remedy::new();
    let cfg = node_memory_config(snap);
    let growth = victim_growth(snap, k);
    match &cfg {
        Some(c) if c.steps.is_empty() => {
            let what = growth
                .as_ref()
                .map_or_else(|| "the victim grew".into(), |(g, _)| g.clone());
            r.step(format!("config is sound ({}): {what}", c.sound));
        }
        Some(c) => {
            r.extend(c.steps.clone());
            if let Some((g, _)) = &growth {
                r.step(g.clone());
            }
        }
        None => {
            r.step("reserve system memory and set hard and soft memory.available thresholds");
            if let Some((g, _)) = &growth {
                r.step(g.clone());
            }
        }
    }
    match (&k.namespace, &k.pod, &growth) {
        (Some(ns), Some(p), Some((_, true))) => {
            r.step(format!("set a memory limit on {ns}/{p} from its real need"))
        }
        (Some(ns), Some(p), _) => {
            r.step(format!("size {ns}/{p}'s memory limit from its real need"))
        }
        _ => r.step(format!(
            "cap {} with its unit's MemoryMax or reserve memory for it",
            k.kill.comm
        )),
    };
    let top = top_working_sets(snap, 3);
    if !top.is_empty() {
        r.step(format!("largest working sets now: {}", top.join(", ")));
    }
    r.text()
}

/// The remedy of memory pressure on the node (`memory.pressure`): the pods over their requests
/// (evicted first), then what the configuration lacks (soft tier, minimum reclaim, reserved
/// memory), or that it is sound.
pub fn node_pressure(snap: &Snapshot) -> String {
    let mut r = Remedy::new();
    let over = over_request(snap, 3);
    if over.is_empty() {
        let top = top_working_sets(snap, 3);
        if !top.is_empty() {
            r.step(format!(
                "no pod is over its request: shrink or move the largest ({})",
                top.join(", ")
            ));
        }
    } else {
        r.step(format!(
            "move or shrink the pods over their memory requests: {}",
            over.join(", ")
        ));
    }
    let Some(c) = node_memory_config(snap) else {
        r.step("then add a soft threshold, minimum reclaim and reserved memory");
        return r.text();
    };
    let mut steps = c.steps;
    if let Some(k) = &snap.kubelet
        && !k
            .config
            .eviction_minimum_reclaim
            .contains_key("memory.available")
    {
        steps.step(add_entry(
            k,
            "evictionMinimumReclaim",
            "memory.available",
            "256Mi",
        ));
    }
    if steps.is_empty() {
        r.step(format!("config is sound ({})", c.sound));
    } else {
        r.extend(steps);
    }
    r.text()
}

/// The PID settings a node lacks: a per-pod limit (`podPidsLimit`, 4096 or the node's PID space
/// shared by `maxPods` when that is smaller) and a `pid.available` eviction threshold (10 %,
/// the kubelet has none by default); "config is sound" when both are set. `None` without a
/// kubelet.
pub fn pid_config(snap: &Snapshot) -> Option<Remedy> {
    let k = snap.kubelet.as_ref()?;
    let c = &k.config;
    let mut r = Remedy::new();
    if c.pod_pids_limit <= 0 {
        let share = crate::analyze::eviction_signals::pid_available(snap)
            .map(|o| o.capacity / c.max_pods.max(1))
            .unwrap_or(4096);
        r.step(add_scalar(
            k,
            "podPidsLimit",
            &share.clamp(1024, 4096).to_string(),
        ));
    }
    let threshold = c
        .eviction_hard
        .get("pid.available")
        .or_else(|| c.eviction_soft.get("pid.available"));
    if threshold.is_none() {
        r.step(add_entry(k, "evictionHard", "pid.available", "10%"));
    }
    if r.is_empty() {
        r.step(format!(
            "config is sound (podPidsLimit {}, pid.available threshold {})",
            c.pod_pids_limit,
            threshold.map_or_else(String::new, ToString::to_string)
        ));
    }
    Some(r)
}

/// The pods with the most processes and threads (`pids.current`), `ns/pod 812`, at most `n`.
pub fn top_pid_users(snap: &Snapshot, n: usize) -> Vec<String> {
    top_pods(snap, n, |p| p.processes, |n| n.to_string())
}

/// CPU to reserve for the system and the kubelet, in millicores, by GKE's published rule
/// (cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes, "CPU reservations"): 6 %
/// of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % of any above four.
pub fn reserved_cpu_target_millis(cpus: u32) -> u32 {
    let n = f64::from(cpus);
    let m = 60.0
        + 10.0 * (n - 1.0).clamp(0.0, 1.0)
        + 5.0 * (n - 2.0).clamp(0.0, 2.0)
        + 2.5 * (n - 4.0).max(0.0);
    (m.ceil() as u32).div_ceil(10) * 10
}

/// A container's memory limit sized from what it used: its peak (or the anon-rss it was killed
/// at, when larger) plus 25 %, rounded up to 64Mi. "raise shop/web/app's memory limit from
/// 512Mi to 640Mi (peak 512Mi plus 25%)"; "set" when it has none; `None` when nothing was
/// measured.
pub fn container_limit(who: &str, limit: Option<u64>, used: Option<u64>) -> Option<String> {
    let used = used.filter(|u| *u > 0)?;
    let target = round_up_64mi(used.saturating_add(used / 4));
    Some(match limit {
        Some(l) if target <= l => format!(
            "{who}'s memory limit {} already has 25% over its peak {}: find what spikes",
            bytes(l),
            bytes(used)
        ),
        Some(l) => format!(
            "raise {who}'s memory limit from {} to {} (peak {} plus 25%), or make the workload fit",
            bytes(l),
            bytes(target),
            bytes(used)
        ),
        None => format!(
            "set {who}'s memory limit to {} (peak {} plus 25%)",
            bytes(target),
            bytes(used)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    /// Figures from a hostile bundle (a peak near 2^64) size nothing past u64, and never
    /// panic (the fuzz target `cgroup` found the overflow).
    #[test]
    fn sizes_saturate_on_absurd_figures() {
        assert!(container_limit("a/b/c", Some(MI), Some(u64::MAX)).is_some());
        assert!(reserved_memory_target(u64::MAX) > 0);
        assert!(hard_memory_target(u64::MAX) > 0);
    }

    #[test]
    fn container_limits_are_sized_from_the_peak() {
        assert_eq!(
            container_limit("a/b/c", Some(512 * MI), Some(512 * MI)).as_deref(),
            Some(
                "raise a/b/c's memory limit from 512Mi to 640Mi (peak 512Mi plus 25%), or make the workload fit"
            )
        );
        assert_eq!(
            container_limit("a/b/c", Some(GI), Some(512 * MI)).as_deref(),
            Some("a/b/c's memory limit 1Gi already has 25% over its peak 512Mi: find what spikes")
        );
        assert_eq!(container_limit("a/b/c", Some(GI), None), None);
    }

    #[test]
    fn cpu_reservations_follow_gke() {
        assert_eq!(reserved_cpu_target_millis(1), 60);
        assert_eq!(reserved_cpu_target_millis(2), 70);
        assert_eq!(reserved_cpu_target_millis(4), 80);
        assert_eq!(reserved_cpu_target_millis(8), 90);
        assert_eq!(reserved_cpu_target_millis(32), 150);
    }

    #[test]
    fn flag_names_are_the_kubelets() {
        assert_eq!(flag_name("evictionSoft"), "eviction-soft");
        assert_eq!(
            flag_name("evictionSoftGracePeriod"),
            "eviction-soft-grace-period"
        );
        assert_eq!(flag_name("systemReserved"), "system-reserved");
        assert_eq!(flag_name("podPidsLimit"), "pod-max-pids");
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        assert_eq!(bytes(reserved_memory_target(16 * GI)), "960Mi");
        assert_eq!(bytes(reserved_memory_target(4 * GI)), "512Mi");
        assert_eq!(bytes(hard_memory_target(16 * GI)), "384Mi");
        assert_eq!(bytes(hard_memory_target(2 * GI)), "128Mi");
    }

    fn node(c: KubeletConfig) -> Snapshot {
        let mut s = snap();
        s.memory = meminfo(16 * GI);
        s.kubelet = kubelet(c);
        s
    }

    #[test]
    fn the_defaults_get_a_raise_a_soft_tier_and_reserved_memory_in_the_config_file() {
        let mut s = node(kubelet_defaults());
        s.kubelet.as_mut().unwrap().config_file = Some("/var/lib/kubelet/config.yaml".into());
        let c = node_memory_config(&s).unwrap();
        assert_eq!(
            c.steps.text(),
            "raise `evictionHard: memory.available` from 100Mi to 384Mi; add `evictionSoft: {memory.available: 768Mi}`; add `evictionSoftGracePeriod: {memory.available: 1m30s}`; add `systemReserved: {memory: 960Mi}`"
        );
    }

    #[test]
    fn a_config_from_flags_is_changed_in_its_flags_and_a_sound_one_is_said_so() {
        let mut c = kubelet_defaults();
        c.eviction_hard = thresholds("memory.available", "500Mi");
        c.eviction_soft = thresholds("memory.available", "1Gi");
        c.system_reserved.insert("memory".into(), "512Mi".into());
        c.kube_reserved.insert("memory".into(), "512Mi".into());
        for f in [
            "evictionHard",
            "evictionSoft",
            "systemReserved",
            "kubeReserved",
        ] {
            c.sources.insert(f.into(), Provenance::Flag);
        }
        let s = node(c.clone());
        let got = node_memory_config(&s).unwrap();
        assert!(got.steps.is_empty(), "{}", got.steps.text());
        assert_eq!(
            got.sound,
            "evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved"
        );
        c.eviction_soft.clear();
        c.eviction_hard = thresholds("memory.available", "100Mi");
        let got = node_memory_config(&node(c)).unwrap();
        assert_eq!(
            got.steps.text(),
            "raise `memory.available` in `--eviction-hard` from 100Mi to 384Mi; add `memory.available<768Mi` to `--eviction-soft`; add `memory.available=1m30s` to `--eviction-soft-grace-period`"
        );
    }

    /// What a remedy tells to add, as (field, map key): the four forms of this module.
    fn additions(remedy: &str) -> Vec<(String, Option<String>)> {
        let camel = |flag: &str| -> String {
            let mut out = String::new();
            let mut up = false;
            for c in flag.chars() {
                if c == '-' {
                    up = true;
                } else if up {
                    out.push(c.to_ascii_uppercase());
                    up = false;
                } else {
                    out.push(c);
                }
            }
            match out.as_str() {
                "podMaxPids" => "podPidsLimit".into(),
                _ => out,
            }
        };
        let mut out = Vec::new();
        for part in remedy.split("add `").skip(1) {
            let Some((quoted, after)) = part.split_once('`') else {
                continue;
            };
            if let Some(flag) = after
                .strip_prefix(" to `--")
                .and_then(|a| a.split('`').next())
            {
                for e in quoted.split(',') {
                    let key = e.split(['<', '=']).next().unwrap_or("");
                    out.push((camel(flag), Some(key.to_string())));
                }
            } else if let Some(flag) = quoted.strip_prefix("--") {
                out.push((camel(flag.split('=').next().unwrap_or("")), None));
            } else if let Some((field, value)) = quoted.split_once(": ") {
                match value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                    Some(map) => {
                        for e in map.split(", ") {
                            let key = e.split(": ").next().unwrap_or("");
                            out.push((field.to_string(), Some(key.to_string())));
                        }
                    }
                    None => out.push((field.to_string(), None)),
                }
            }
        }
        out
    }

    /// Whether the config already has it.
    fn is_set(c: &KubeletConfig, field: &str, key: Option<&str>) -> bool {
        let map_has = |k: &str| match field {
            "evictionHard" => c.eviction_hard.contains_key(k),
            "evictionSoft" => c.eviction_soft.contains_key(k),
            "evictionSoftGracePeriod" => c.eviction_soft_grace_period.contains_key(k),
            "evictionMinimumReclaim" => c.eviction_minimum_reclaim.contains_key(k),
            "systemReserved" => c.system_reserved.contains_key(k),
            "kubeReserved" => c.kube_reserved.contains_key(k),
            other => panic!("a remedy adds to {other}, unknown to this test"),
        };
        match key {
            Some(k) => map_has(k),
            None => match field {
                "podPidsLimit" => c.pod_pids_limit > 0,
                other => c.sources.contains_key(other),
            },
        }
    }

    /// Every rule, on a node under memory and PID pressure just after a node-wide OOM kill,
    /// for every combination of the settings the remedies propose (each set or not, from the
    /// file or from flags): no remedy tells to add a setting the configuration has, and the
    /// node-OOM fix differs between a configuration that has everything and one that has not.
    #[test]
    fn no_remedy_adds_what_any_combination_of_settings_already_has() {
        let mut seen = std::collections::BTreeSet::new();
        let mut checked = 0;
        for bits in 0u32..256 {
            let has = |i: u32| bits & (1 << i) != 0;
            let mut c = kubelet_defaults();
            if has(0) {
                c.eviction_hard = thresholds("memory.available", "500Mi");
            }
            if has(1) {
                c.eviction_soft = thresholds("memory.available", "1Gi");
            }
            if has(2) {
                c.eviction_soft_grace_period
                    .insert("memory.available".into(), "1m30s".into());
            }
            if has(3) {
                c.eviction_minimum_reclaim = thresholds("memory.available", "256Mi");
            }
            if has(4) {
                c.system_reserved.insert("memory".into(), "512Mi".into());
                c.kube_reserved.insert("cpu".into(), "100m".into());
            }
            if has(5) {
                c.pod_pids_limit = 4096;
                c.sources.insert("podPidsLimit".into(), Provenance::Config);
            }
            if has(6) {
                c.eviction_hard.extend(thresholds("pid.available", "10%"));
            }
            if has(7) {
                for f in [
                    "evictionHard",
                    "evictionSoft",
                    "systemReserved",
                    "podPidsLimit",
                ] {
                    c.sources.insert(f.into(), Provenance::Flag);
                }
            }
            let mut s = snap();
            s.memory = meminfo(16 * GI);
            s.root_memory = Some(crate::model::RootMemory {
                usage_bytes: 16 * GI - 50 * MI,
                inactive_file_bytes: 0,
            });
            s.pids.pid_max = Some(10_000);
            s.pids.threads = Some(9_900);
            s.kubelet = kubelet(c.clone());
            let mut p = pod("shop", "cache", "5678-ef01");
            p.containers.push(container(&id('b'), "redis", None));
            s.pods.push(p);
            let usec = 9_000_000_000;
            let mut k = kill(
                7,
                "redis-server",
                usec,
                &container_path("5678-ef01", &id('b')),
                true,
            );
            k.anon_rss_kb = Some(12 << 20);
            s.oom_kills.push(k);
            booted_so_that(&mut s, usec, 60);
            for f in crate::analyze::analyze(&s) {
                for (field, key) in additions(&f.remedy) {
                    checked += 1;
                    assert!(
                        !is_set(&c, &field, key.as_deref()),
                        "config {bits:08b}: {} adds {field} {key:?}, already set: {}",
                        f.id,
                        f.remedy
                    );
                }
                if f.id == "memory.global-oom" {
                    seen.insert(f.remedy.clone());
                }
            }
        }
        assert!(
            checked > 500,
            "only {checked} additions: the parser reads nothing"
        );
        assert!(
            seen.len() > 16,
            "the node-OOM fix ignores the config: {seen:#?}"
        );
        assert!(seen.iter().any(|r| r.starts_with("config is sound")));
    }
}
