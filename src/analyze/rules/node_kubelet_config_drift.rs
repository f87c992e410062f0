//! `node.kubelet-config-drift`: the kubelet runs with settings other than the ones its files
//! and flags give today: it was not restarted after a change, or the file read is not the one
//! it uses. The running config is `/configz` through the API server's node proxy; the files'
//! config is the one nodescope resolved (collect::kubelet).

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::quantity::{parse_duration, parse_quantity};
use crate::model::{KubeletConfig, Provenance, Snapshot, ThresholdValue};
use std::collections::BTreeMap;

pub struct NodeKubeletConfigDrift;

/// A field as shown (as configured) and in a form where equal settings compare equal
/// (`1Gi` = `1024Mi`, `5m` = `5m0s`, `unix:///run/x.sock` = `/run/x.sock`).
struct Value {
    shown: String,
    canon: String,
    /// For a map field, each key's entry as shown (`memory.available<100Mi`) and compared.
    entries: BTreeMap<String, (String, String)>,
}

fn plain(s: impl ToString) -> Value {
    let s = s.to_string();
    Value {
        canon: s.clone(),
        shown: s,
        entries: BTreeMap::new(),
    }
}

fn quantity(s: &str) -> Value {
    Value {
        shown: s.to_string(),
        canon: parse_quantity(s).map_or_else(|| s.to_string(), |q| q.to_string()),
        entries: BTreeMap::new(),
    }
}

fn duration(s: &str) -> Value {
    Value {
        shown: s.to_string(),
        canon: parse_duration(s).map_or_else(|| s.to_string(), |d| d.to_string()),
        entries: BTreeMap::new(),
    }
}

/// A map field from its entries: key → (as shown, as compared).
fn entries(entries: BTreeMap<String, (String, String)>) -> Value {
    let join = |f: fn(&(String, String)) -> &String| {
        entries
            .values()
            .map(f)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    Value {
        shown: join(|e| &e.0),
        canon: join(|e| &e.1),
        entries,
    }
}

fn threshold_map(m: &BTreeMap<String, ThresholdValue>, sep: &str) -> Value {
    let canon = |t: &ThresholdValue| match t {
        ThresholdValue::Percent(p) => format!("{p}%"),
        ThresholdValue::Quantity(q) => quantity(q).canon,
    };
    entries(
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (format!("{k}{sep}{v}"), format!("{k}{sep}{}", canon(v))),
                )
            })
            .collect(),
    )
}

fn map(m: &BTreeMap<String, String>, each: fn(&str) -> Value) -> Value {
    entries(
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (format!("{k}={v}"), format!("{k}={}", each(v).canon)),
                )
            })
            .collect(),
    )
}

/// The two sides of a difference as shown: for a map, only the keys that differ (`unset`
/// where one side lacks the key); else the whole values (`unset` for an empty one).
fn differing(r: &Value, f: &Value) -> (String, String) {
    let or_unset = |s: &str| {
        if s.is_empty() {
            "unset".to_string()
        } else {
            s.to_string()
        }
    };
    if r.entries.is_empty() && f.entries.is_empty() {
        return (or_unset(&r.shown), or_unset(&f.shown));
    }
    let mut keys: Vec<&String> = r.entries.keys().chain(f.entries.keys()).collect();
    keys.sort();
    keys.dedup();
    let (mut rs, mut fs) = (Vec::new(), Vec::new());
    for k in keys {
        let (a, b) = (r.entries.get(k), f.entries.get(k));
        if a.map(|x| &x.1) != b.map(|x| &x.1) {
            rs.push(a.map_or_else(|| format!("{k} unset"), |x| x.0.clone()));
            fs.push(b.map_or_else(|| format!("{k} unset"), |x| x.0.clone()));
        }
    }
    (rs.join(", "), fs.join(", "))
}

fn list(v: &[String]) -> Value {
    plain(v.join(", "))
}

fn endpoint(s: &str) -> Value {
    Value {
        shown: s.to_string(),
        canon: s.strip_prefix("unix://").unwrap_or(s).to_string(),
        entries: BTreeMap::new(),
    }
}

/// Field (v1beta1 name) → how to read it. The fields nodescope resolves from files and flags
/// and configz reports; flag-only settings (`--root-dir`, `--kubeconfig`,
/// `--hostname-override`, `--cert-dir`) are not in configz and are not compared.
type Field = (&'static str, fn(&KubeletConfig) -> Value);

const FIELDS: &[Field] = &[
    ("cgroupDriver", |c| plain(&c.cgroup_driver)),
    ("cgroupRoot", |c| plain(&c.cgroup_root)),
    ("cgroupsPerQOS", |c| plain(c.cgroups_per_qos)),
    ("clusterDNS", |c| list(&c.cluster_dns)),
    ("clusterDomain", |c| plain(&c.cluster_domain)),
    ("containerLogMaxFiles", |c| plain(c.container_log_max_files)),
    ("containerLogMaxSize", |c| {
        quantity(&c.container_log_max_size)
    }),
    ("containerRuntimeEndpoint", |c| {
        endpoint(&c.container_runtime_endpoint)
    }),
    ("enforceNodeAllocatable", |c| {
        list(&c.enforce_node_allocatable)
    }),
    ("evictionHard", |c| threshold_map(&c.eviction_hard, "<")),
    ("evictionMaxPodGracePeriod", |c| {
        plain(c.eviction_max_pod_grace_period)
    }),
    ("evictionMinimumReclaim", |c| {
        threshold_map(&c.eviction_minimum_reclaim, "=")
    }),
    ("evictionPressureTransitionPeriod", |c| {
        duration(&c.eviction_pressure_transition_period)
    }),
    ("evictionSoft", |c| threshold_map(&c.eviction_soft, "<")),
    ("evictionSoftGracePeriod", |c| {
        map(&c.eviction_soft_grace_period, duration)
    }),
    ("failSwapOn", |c| plain(c.fail_swap_on)),
    ("imageGCHighThresholdPercent", |c| {
        plain(c.image_gc_high_threshold_percent)
    }),
    ("imageGCLowThresholdPercent", |c| {
        plain(c.image_gc_low_threshold_percent)
    }),
    ("kernelMemcgNotification", |c| {
        plain(c.kernel_memcg_notification)
    }),
    ("kubeReserved", |c| map(&c.kube_reserved, quantity)),
    ("maxPods", |c| plain(c.max_pods)),
    ("podPidsLimit", |c| plain(c.pod_pids_limit)),
    ("resolvConf", |c| plain(&c.resolv_conf)),
    ("rotateCertificates", |c| plain(c.rotate_certificates)),
    ("serverTLSBootstrap", |c| plain(c.server_tls_bootstrap)),
    ("systemReserved", |c| map(&c.system_reserved, quantity)),
    ("tlsCertFile", |c| {
        plain(c.tls_cert_file.as_deref().unwrap_or(""))
    }),
];

/// One field that differs.
#[derive(serde::Serialize)]
struct Drift {
    field: &'static str,
    running: String,
    on_disk: String,
    /// Where nodescope's value came from: `config` (the file or a drop-in), `flag`, `default`.
    on_disk_from: &'static str,
}

/// Every field configz reported whose value differs from the files'.
fn drifts(files: &KubeletConfig, running: &KubeletConfig) -> Vec<Drift> {
    FIELDS
        .iter()
        .filter(|(name, _)| running.sources.contains_key(*name))
        .filter_map(|(name, read)| {
            let (r, f) = (read(running), read(files));
            let (running, on_disk) = differing(&r, &f);
            (r.canon != f.canon).then(|| Drift {
                field: name,
                running,
                on_disk,
                on_disk_from: match files.sources.get(*name) {
                    Some(Provenance::Flag) => "flag",
                    Some(Provenance::Config) => "config",
                    Some(Provenance::Default) | None => "default",
                },
            })
        })
        .collect()
}

impl Rule for NodeKubeletConfigDrift {
    fn id(&self) -> &'static str {
        "node.kubelet-config-drift"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "the kubelet's running config (configz) differs from its files and flags"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet reports the configuration it runs with at /configz (through the API server:
  /api/v1/nodes/NODE/proxy/configz). nodescope compares it, field by field, with the
  configuration it resolved from the kubelet's --config file, its drop-ins and its flags, and
  names every field that differs with both values: eviction thresholds, grace periods,
  reserved resources, maxPods, podPidsLimit, cgroupDriver, log rotation, image GC, DNS.

WHY IT MATTERS
  When the kubelet was not restarted after the file changed, or the file read is not the one
  in use (a different --config, a drop-in directory, a distribution's own file), the node
  behaves by settings nobody sees: a threshold raised on disk that is not in force, a reserve
  that was never applied. Once configz is read, every other rule judges the running values;
  without it, they judge the files.

HOW TO CONFIRM
  kubectl get --raw /api/v1/nodes/NODE/proxy/configz | jq .kubeletconfig
  ps -o lstart= -p $(pidof kubelet); stat -c %y /var/lib/kubelet/config.yaml
  tr '\\0' ' ' < /proc/$(pidof kubelet)/cmdline

WHAT TO CHANGE
  Restart the kubelet (systemctl restart kubelet) to apply the files, or correct the file that
  is really in use. Reading configz needs RBAC for nodes/proxy; without it this rule is
  silent and the reason is in errors."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(files) = snap.kubelet.as_ref().map(|k| k.files()) else {
            return;
        };
        let Some(running) = snap
            .cluster
            .as_ref()
            .and_then(|c| c.kubelet.as_ref())
            .and_then(|k| k.running_config.as_ref())
        else {
            return;
        };
        let d = drifts(files, running);
        if d.is_empty() {
            return;
        }
        let names: Vec<&str> = d.iter().map(|x| x.field).collect();
        let config_file = snap.kubelet.as_ref().and_then(|k| k.config_file.clone());
        out.push(finding(
            self,
            Severity::Warning,
            format!(
                "the running kubelet's config differs from its files in {}",
                names.join(", ")
            ),
            Subject::node(snap),
            serde_json::json!({
                "fields": d,
                "config_file": config_file,
                "compared": FIELDS.iter().filter(|(n, _)| running.sources.contains_key(*n)).count(),
            }),
            format!(
                "restart the kubelet to apply its files ({}), or fix the file in use",
                d.iter()
                    .map(|x| format!("{}: running {}, files {}", x.field, x.running, x.on_disk))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields compared here are exactly the ones the running config puts in force
    /// (model/kubelet.rs): a field added to one list and not the other would be judged by the
    /// files while configz said otherwise, or compared and never applied.
    #[test]
    fn the_compared_fields_are_the_ones_put_in_force() {
        let mut compared: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        let mut applied: Vec<&str> = crate::model::kubelet::running_fields().collect();
        compared.sort_unstable();
        applied.sort_unstable();
        assert_eq!(compared, applied);
    }
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::{Cluster, KubeletView};

    fn with_running(files: KubeletConfig, running: KubeletConfig) -> Snapshot {
        let mut s = snap();
        s.kubelet = kubelet(files);
        s.cluster = Some(Cluster {
            source: "test".into(),
            kubelet: Some(KubeletView {
                running_config: Some(running),
                summary: None,
            }),
            ..Default::default()
        });
        s
    }

    /// What configz reports: every compared field present.
    fn reported(mut c: KubeletConfig) -> KubeletConfig {
        for (name, _) in FIELDS {
            c.sources.insert((*name).to_string(), Provenance::Config);
        }
        c
    }

    #[test]
    fn a_threshold_changed_on_disk_but_not_applied_fires_naming_both_values() {
        let mut files = kubelet_defaults();
        files.eviction_hard =
            crate::analyze::rules::testing::thresholds("memory.available", "500Mi");
        files.max_pods = 250;
        files
            .sources
            .insert("evictionHard".into(), Provenance::Config);
        let mut running = kubelet_defaults();
        running.eviction_hard =
            crate::analyze::rules::testing::thresholds("memory.available", "100Mi");
        let f = one(
            &NodeKubeletConfigDrift,
            &with_running(files, reported(running)),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "the running kubelet's config differs from its files in evictionHard, maxPods"
        );
        assert_eq!(
            f.evidence["fields"][0],
            serde_json::json!({"field": "evictionHard", "running": "memory.available<100Mi",
                "on_disk": "memory.available<500Mi", "on_disk_from": "config"})
        );
        assert_eq!(f.evidence["fields"][1]["running"], "110");
        assert_eq!(f.evidence["fields"][1]["on_disk"], "250");
        assert_eq!(f.evidence["fields"][1]["on_disk_from"], "default");
    }

    #[test]
    fn equal_settings_written_differently_do_not_fire() {
        let mut files = kubelet_defaults();
        files.eviction_hard = crate::analyze::rules::testing::thresholds("memory.available", "1Gi");
        files.eviction_pressure_transition_period = "5m".into();
        files.container_runtime_endpoint = "/run/containerd/containerd.sock".into();
        files.system_reserved = [("memory".to_string(), "1Gi".to_string())].into();
        let mut running = files.clone();
        running.eviction_hard =
            crate::analyze::rules::testing::thresholds("memory.available", "1024Mi");
        running.eviction_pressure_transition_period = "5m0s".into();
        running.container_runtime_endpoint = "unix:///run/containerd/containerd.sock".into();
        running.system_reserved = [("memory".to_string(), "1024Mi".to_string())].into();
        assert!(
            run(
                &NodeKubeletConfigDrift,
                &with_running(files, reported(running))
            )
            .is_empty()
        );
    }

    #[test]
    fn a_field_configz_did_not_report_is_not_compared() {
        let files = kubelet_defaults();
        let mut running = kubelet_defaults();
        // An older kubelet: no containerRuntimeEndpoint field; nodescope's default differs.
        running.container_runtime_endpoint = "unix:///var/run/crio/crio.sock".into();
        let mut running = reported(running);
        running.sources.remove("containerRuntimeEndpoint");
        assert!(run(&NodeKubeletConfigDrift, &with_running(files, running)).is_empty());
        // Without configz (RBAC, no API) the rule is silent.
        let mut s = snap();
        s.kubelet = kubelet(kubelet_defaults());
        assert!(run(&NodeKubeletConfigDrift, &s).is_empty());
    }
}
