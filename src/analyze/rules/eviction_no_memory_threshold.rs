//! `eviction.no-memory-threshold`: the effective kubelet configuration has no hard and no soft
//! `memory.available` threshold, so the kubelet never evicts for memory and the kernel OOM
//! killer is the node's only defence.
//!
//! How a node gets there: the kubelet fills in its default thresholds (`memory.available<100Mi`
//! among them) only when `evictionHard` is absent altogether (kubernetes/kubernetes
//! cmd/kubelet/app/server.go `loadConfigFile`; pkg/kubelet/eviction/defaults_linux.go). A
//! configuration that sets `evictionHard` for the disks alone — k3s's drop-in, kind's, many
//! hand-written ones — drops the memory default, unless `mergeDefaultEvictionSettings: true`
//! (kubelet ≥ 1.34) merges them back (docs/kubelet-semantics.md).

use crate::analyze::oom::kills;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::kubelet::{KubeletInfo, Provenance};

pub struct EvictionNoMemoryThreshold;

/// The signals that are a memory threshold: the node's and node allocatable's.
const MEMORY_SIGNALS: [&str; 2] = ["memory.available", "allocatableMemory.available"];
/// An OOM kill this recent, of the node or of all pods together, makes the finding critical.
const RECENT_SECONDS: i64 = 3600;
/// What the fix proposes: the kubelet's own default (defaults_linux.go).
const DEFAULT_MEMORY: &str = "100Mi";

impl Rule for EvictionNoMemoryThreshold {
    fn id(&self) -> &'static str {
        "eviction.no-memory-threshold"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "no memory.available eviction threshold: the kubelet never evicts for memory"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet's effective configuration has no hard and no soft memory.available threshold. The
  kubelet applies its defaults (memory.available<100Mi and the disk ones) only when evictionHard
  is not set at all; a configuration that sets evictionHard for the disks alone drops the memory
  default. k3s's kubelet drop-in (00-k3s-defaults.conf) is one such configuration.

WHY IT MATTERS
  Without a memory threshold the kubelet never reports MemoryPressure and never evicts a pod
  for memory. When the node runs out, the kernel OOM killer chooses, by oom_score: not by the
  kubelet's order (priority, usage over requests), and it can kill system daemons too. The
  node's first sign of trouble is a kill, not a graceful eviction.

HOW TO CONFIRM
  kubectl get --raw /api/v1/nodes/NODE/proxy/configz | jq .kubeletconfig.evictionHard
  grep -rn -A6 evictionHard /var/lib/kubelet/config.yaml (and the --config-dir drop-ins)
  dmesg | grep -i 'out of memory'

WHAT TO CHANGE
  Add memory.available to evictionHard where the kubelet reads it (the finding names the
  files): evictionHard: {memory.available: 100Mi, ...the thresholds already set}, or a flag
  --eviction-hard=...,memory.available<100Mi; on k3s a kubelet-arg in /etc/rancher/k3s/config.yaml
  (k3s rewrites its drop-in on every start). On kubelet 1.34 and later,
  mergeDefaultEvictionSettings: true keeps the defaults for signals not set."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(k) = &snap.kubelet else { return };
        let c = &k.config;
        let has_memory = |m: &std::collections::BTreeMap<String, _>| {
            MEMORY_SIGNALS.iter().any(|s| m.contains_key(*s))
        };
        if has_memory(&c.eviction_hard) || has_memory(&c.eviction_soft) {
            return;
        }
        let set_by = match c.sources.get("evictionHard") {
            Some(Provenance::Flag) => "the --eviction-hard flag",
            Some(Provenance::Config) => "the configuration file",
            _ => "the configuration",
        };
        let recent: Vec<serde_json::Value> = kills(snap)
            .iter()
            .filter(|a| a.kill.global || a.kill.oom_memcg.as_deref().is_some_and(is_allocatable))
            .filter(|a| {
                a.age_seconds(snap)
                    .is_some_and(|s| (0..=RECENT_SECONDS).contains(&s))
            })
            .map(|a| {
                serde_json::json!({
                    "pid": a.kill.pid,
                    "comm": a.kill.comm,
                    "global": a.kill.global,
                    "oom_memcg": a.kill.oom_memcg,
                    "age_seconds": a.age_seconds(snap),
                })
            })
            .collect();
        let severity = if recent.is_empty() {
            Severity::Warning
        } else {
            Severity::Critical
        };
        let files: Vec<&str> = k
            .config_file
            .iter()
            .chain(&k.drop_ins)
            .chain(&k.config_sources)
            .map(String::as_str)
            .collect();
        let mut title = format!(
            "no memory.available eviction threshold: evictionHard is set by {set_by} without it, so the kubelet's defaults do not apply and only the kernel OOM killer acts"
        );
        if !recent.is_empty() {
            title.push_str(&format!(
                "; {} node-level OOM kill(s) in the last hour",
                recent.len()
            ));
        }
        out.push(finding(
            self,
            severity,
            &title,
            Subject::node(snap),
            serde_json::json!({
                "eviction_hard": c.eviction_hard,
                "eviction_soft": c.eviction_soft,
                "eviction_hard_set_by": set_by,
                "merge_default_eviction_settings": c.merge_default_eviction_settings,
                "files": files,
                "embedded_in": k.embedded_in,
                "recent_node_oom_kills": recent,
            }),
            remedy(k),
        ));
    }
}

/// Whether an OOM's memcg is the node-allocatable cgroup itself (`/kubepods`,
/// `/kubepods.slice`): every pod together hit the node's allocatable limit.
fn is_allocatable(memcg: &str) -> bool {
    let last = memcg.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    last == "kubepods" || last == "kubepods.slice"
}

/// Where and how to add the threshold, given where the configuration comes from now.
fn remedy(k: &KubeletInfo) -> String {
    let c = &k.config;
    let mut list: Vec<String> = c
        .eviction_hard
        .iter()
        .map(|(s, v)| format!("{s}<{v}"))
        .collect();
    list.push(format!("memory.available<{DEFAULT_MEMORY}"));
    let flag = format!("eviction-hard={}", list.join(","));
    if k.embedded_in
        .as_deref()
        .is_some_and(|e| e.starts_with("k3s"))
    {
        return format!(
            "add \"{flag}\" to the kubelet-arg list of /etc/rancher/k3s/config.yaml and restart k3s (its kubelet.conf.d drop-in is rewritten on every start)"
        );
    }
    if let Some(src) = k.config_sources.first() {
        return format!("set --{flag} in {src} and restart the kubelet");
    }
    if matches!(c.sources.get("evictionHard"), Some(Provenance::Flag)) {
        return format!(
            "set --{flag} on the kubelet's command line (its unit or environment file) and restart it"
        );
    }
    let file = k
        .drop_ins
        .last()
        .or(k.config_file.as_ref())
        .map_or("the kubelet's configuration file", String::as_str);
    format!(
        "add `memory.available: \"{DEFAULT_MEMORY}\"` under evictionHard in {file} (or mergeDefaultEvictionSettings: true on kubelet 1.34+) and restart the kubelet"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    fn node(hard: &[(&str, &str)], soft: &[(&str, &str)]) -> Snapshot {
        let mut s = snap();
        let mut c = kubelet_defaults();
        c.eviction_hard = hard.iter().flat_map(|(k, v)| thresholds(k, v)).collect();
        c.eviction_soft = soft.iter().flat_map(|(k, v)| thresholds(k, v)).collect();
        c.sources.insert("evictionHard".into(), Provenance::Config);
        s.kubelet = kubelet(c);
        s
    }

    #[test]
    fn disk_thresholds_alone_fire_a_warning_naming_the_fix() {
        let mut s = node(
            &[("nodefs.available", "5%"), ("imagefs.available", "5%")],
            &[],
        );
        s.kubelet.as_mut().unwrap().config_file = Some("/var/lib/kubelet/config.yaml".into());
        let f = one(&EvictionNoMemoryThreshold, &s);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.evidence["eviction_hard_set_by"], "the configuration file");
        assert_eq!(
            f.evidence["files"],
            serde_json::json!(["/var/lib/kubelet/config.yaml"])
        );
        assert_eq!(
            f.remedy,
            "add `memory.available: \"100Mi\"` under evictionHard in /var/lib/kubelet/config.yaml (or mergeDefaultEvictionSettings: true on kubelet 1.34+) and restart the kubelet"
        );
    }

    #[test]
    fn a_hard_or_soft_memory_threshold_of_either_signal_is_enough() {
        for (hard, soft) in [
            (vec![("memory.available", "100Mi")], vec![]),
            (
                vec![("nodefs.available", "5%")],
                vec![("memory.available", "1Gi")],
            ),
            (vec![("allocatableMemory.available", "200Mi")], vec![]),
        ] {
            assert!(run(&EvictionNoMemoryThreshold, &node(&hard, &soft)).is_empty());
        }
        // The kubelet's defaults carry memory.available.
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        assert!(run(&EvictionNoMemoryThreshold, &s).is_empty());
        assert!(run(&EvictionNoMemoryThreshold, &snap()).is_empty());
    }

    #[test]
    fn a_node_oom_kill_within_the_hour_is_critical_one_just_past_it_is_not() {
        for (ago, global, memcg, want) in [
            (
                3600,
                true,
                "/kubepods.slice/kubepods-burstable.slice/x",
                Severity::Critical,
            ),
            (
                3601,
                true,
                "/kubepods.slice/kubepods-burstable.slice/x",
                Severity::Warning,
            ),
            (60, false, "/kubepods.slice", Severity::Critical),
            (60, false, "/kubepods", Severity::Critical),
            // A container at its own limit is not the node running out.
            (
                60,
                false,
                "/kubepods.slice/kubepods-burstable.slice/pod1",
                Severity::Warning,
            ),
        ] {
            let mut s = node(&[("nodefs.available", "10%")], &[]);
            let mut k = kill(4242, "java", 5_000_000, memcg, global);
            if !global {
                k.oom_memcg = Some(memcg.into());
            }
            s.oom_kills = vec![k];
            booted_so_that(&mut s, 5_000_000, ago);
            let f = one(&EvictionNoMemoryThreshold, &s);
            assert_eq!(f.severity, want, "{ago} {global} {memcg}");
        }
    }

    #[test]
    fn the_fix_goes_where_the_configuration_comes_from() {
        // k3s: a kubelet-arg, since k3s rewrites its drop-in.
        let mut s = node(
            &[("nodefs.available", "5%"), ("imagefs.available", "5%")],
            &[],
        );
        s.kubelet.as_mut().unwrap().embedded_in = Some("k3s-agent".into());
        let f = one(&EvictionNoMemoryThreshold, &s);
        assert_eq!(
            f.remedy,
            "add \"eviction-hard=imagefs.available<5%,nodefs.available<5%,memory.available<100Mi\" to the kubelet-arg list of /etc/rancher/k3s/config.yaml and restart k3s (its kubelet.conf.d drop-in is rewritten on every start)"
        );
        // MicroK8s-style args file.
        let mut s = node(&[("nodefs.available", "1Gi")], &[]);
        s.kubelet.as_mut().unwrap().config_sources =
            vec!["/var/snap/microk8s/current/args/kubelet".into()];
        assert_eq!(
            one(&EvictionNoMemoryThreshold, &s).remedy,
            "set --eviction-hard=nodefs.available<1Gi,memory.available<100Mi in /var/snap/microk8s/current/args/kubelet and restart the kubelet"
        );
        // A flag on the command line.
        let mut s = node(&[("nodefs.available", "1Gi")], &[]);
        s.kubelet
            .as_mut()
            .unwrap()
            .config
            .sources
            .insert("evictionHard".into(), Provenance::Flag);
        let f = one(&EvictionNoMemoryThreshold, &s);
        assert_eq!(
            f.evidence["eviction_hard_set_by"],
            "the --eviction-hard flag"
        );
        assert!(f.remedy.starts_with("set --eviction-hard=nodefs.available<1Gi,memory.available<100Mi on the kubelet's command line"));
    }
}
