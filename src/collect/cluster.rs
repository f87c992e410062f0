//! The API server's objects, reduced to what the rules use, and joined to the pods found on
//! the node by UID. Local data stays the source of truth for usage.

use crate::model::Snapshot;
use crate::model::cluster::{
    ApiContainer, ApiEvent, ApiNode, ApiPod, Cluster, Condition, KubeletView, NodeSummary, Taint,
    Toleration,
};
use crate::source::cluster::ClusterData;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use std::collections::BTreeMap;

pub use crate::model::cluster::EVENT_REASONS;

fn quantities(
    m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

pub fn node(n: &Node) -> ApiNode {
    let spec = n.spec.as_ref();
    let status = n.status.as_ref();
    ApiNode {
        name: n.metadata.name.clone().unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default(),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| Taint {
                        key: t.key.clone(),
                        value: t.value.clone(),
                        effect: t.effect.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        capacity: quantities(status.and_then(|s| s.capacity.as_ref())),
        allocatable: quantities(status.and_then(|s| s.allocatable.as_ref())),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| Condition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition: c.last_transition_time.as_ref().map(|t| t.0.to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
    }
}

pub fn pod(p: &Pod) -> ApiPod {
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let statuses = status.and_then(|s| s.container_statuses.as_ref());
    let annotation = |k: &str| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k).cloned())
    };
    ApiPod {
        uid: p.metadata.uid.clone().unwrap_or_default(),
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        node_name: spec.and_then(|s| s.node_name.clone()),
        phase: status.and_then(|s| s.phase.clone()),
        qos_class: status.and_then(|s| s.qos_class.clone()),
        priority: spec.and_then(|s| s.priority),
        priority_class: spec.and_then(|s| s.priority_class_name.clone()),
        config_source: annotation("kubernetes.io/config.source"),
        mirror_of: annotation("kubernetes.io/config.mirror"),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        dns_policy: spec.and_then(|s| s.dns_policy.clone()),
        containers: spec
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| {
                        let st = statuses.and_then(|v| v.iter().find(|x| x.name == c.name));
                        ApiContainer {
                            name: c.name.clone(),
                            requests: quantities(
                                c.resources.as_ref().and_then(|r| r.requests.as_ref()),
                            ),
                            limits: quantities(
                                c.resources.as_ref().and_then(|r| r.limits.as_ref()),
                            ),
                            restart_count: st.map(|x| x.restart_count),
                            last_termination_reason: terminated(st).and_then(|t| t.reason.clone()),
                            last_termination_exit_code: terminated(st).map(|t| t.exit_code),
                            last_termination_signal: terminated(st).and_then(|t| t.signal),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        node_selector: spec
            .and_then(|s| s.node_selector.clone())
            .unwrap_or_default(),
        tolerations: spec
            .and_then(|s| s.tolerations.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| Toleration {
                        key: t.key.clone(),
                        operator: t.operator.clone(),
                        value: t.value.clone(),
                        effect: t.effect.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        required_node_affinity: spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .and_then(|r| serde_json::to_value(r).ok()),
        reason: status.and_then(|s| s.reason.clone()),
        message: status.and_then(|s| s.message.clone()),
    }
}

pub fn event(e: &Event) -> ApiEvent {
    let o = &e.involved_object;
    ApiEvent {
        namespace: e.metadata.namespace.clone(),
        object: format!(
            "{}/{}{}",
            o.kind.as_deref().unwrap_or("Object"),
            o.namespace
                .as_ref()
                .map_or(String::new(), |n| format!("{n}/")),
            o.name.as_deref().unwrap_or("(unnamed)")
        ),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        type_: e.type_.clone(),
        count: e.count,
        time: e
            .last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string())),
    }
}

/// The kubelet's answers, read: `/configz` as nodescope reads a config file (no flags: the
/// kubelet reports its config after flags were applied), the summary's node figures. What
/// does not parse is a note.
fn kubelet_view(d: &ClusterData, notes: &mut Vec<String>) -> Option<KubeletView> {
    let running_config = d.configz.as_deref().and_then(|raw| {
        let v: serde_json::Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("the kubelet's configz: not JSON: {e}"));
                return None;
            }
        };
        // pkg/kubelet/server/server.go serves component-base/configz: {"kubeletconfig": {...}}.
        let Some(obj) = v.get("kubeletconfig").filter(|o| o.is_object()) else {
            notes.push("the kubelet's configz: no `kubeletconfig` object".into());
            return None;
        };
        let obj = with_omitted_zeros(obj);
        let mut errs = super::Errors::default();
        let cfg = super::kubelet::resolve(&obj, &BTreeMap::new(), "configz", &mut errs);
        notes.extend(
            errs.0
                .into_iter()
                .map(|e| format!("the kubelet's configz: {}", e.message)),
        );
        Some(cfg)
    });
    let summary =
        d.summary
            .as_deref()
            .and_then(|raw| match serde_json::from_slice::<SummaryDoc>(raw) {
                Ok(doc) => Some(doc.node.into()),
                Err(e) => {
                    notes.push(format!("the kubelet's stats/summary: {e}"));
                    None
                }
            });
    (running_config.is_some() || summary.is_some()).then_some(KubeletView {
        running_config,
        summary,
    })
}

/// Fields of v1beta1 `KubeletConfiguration` declared `omitempty` and not pointers, with their
/// zero value as JSON
/// (staging/src/k8s.io/kubelet/config/v1beta1/types.go): configz leaves them out when they
/// hold their zero value, so absent means empty, 0 or false there, not "not reported".
/// Pointer fields (`failSwapOn`, `cgroupsPerQOS`, `podPidsLimit`, `maxPods`, ...) are
/// always present once defaulted; a field absent otherwise is one the kubelet's version does
/// not have, and is not compared.
const OMITTED_ZEROS: &[(&str, &str)] = &[
    ("evictionSoft", "{}"),
    ("evictionSoftGracePeriod", "{}"),
    ("evictionMinimumReclaim", "{}"),
    ("systemReserved", "{}"),
    ("kubeReserved", "{}"),
    ("clusterDNS", "[]"),
    ("clusterDomain", "\"\""),
    ("tlsCertFile", "\"\""),
    ("cgroupRoot", "\"\""),
    ("evictionMaxPodGracePeriod", "0"),
    ("kernelMemcgNotification", "false"),
    ("rotateCertificates", "false"),
    ("serverTLSBootstrap", "false"),
];

/// `obj` with [`OMITTED_ZEROS`] filled in where absent.
fn with_omitted_zeros(obj: &serde_json::Value) -> serde_json::Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        for (k, zero) in OMITTED_ZEROS {
            if let Ok(z) = serde_json::from_str(zero) {
                m.entry(*k).or_insert(z);
            }
        }
    }
    o
}

/// The part of `/stats/summary` read (k8s.io/kubelet/pkg/apis/stats/v1alpha1/types.go
/// `Summary.Node`); `pods` and the rest are skipped unparsed.
#[derive(serde::Deserialize)]
struct SummaryDoc {
    node: SummaryNode,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SummaryNode {
    memory: Option<SummaryMemory>,
    fs: Option<SummaryFs>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SummaryMemory {
    time: Option<String>,
    available_bytes: Option<u64>,
    working_set_bytes: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SummaryFs {
    available_bytes: Option<u64>,
    capacity_bytes: Option<u64>,
    inodes_free: Option<u64>,
}

impl From<SummaryNode> for NodeSummary {
    fn from(n: SummaryNode) -> Self {
        let m = n.memory.unwrap_or_default();
        let f = n.fs.unwrap_or_default();
        NodeSummary {
            memory_time: m.time,
            memory_available_bytes: m.available_bytes,
            memory_working_set_bytes: m.working_set_bytes,
            fs_available_bytes: f.available_bytes,
            fs_capacity_bytes: f.capacity_bytes,
            fs_inodes_free: f.inodes_free,
        }
    }
}

/// The model of what was fetched.
pub fn reduce(d: &ClusterData) -> Cluster {
    let mut c = Cluster {
        source: crate::source::redact::message(&d.source).into_owned(),
        node: d.node.as_ref().map(node),
        nodes: d.nodes.iter().map(node).collect(),
        pods: d.pods.iter().map(pod).collect(),
        pending: d.pending.iter().map(pod).collect(),
        events: d
            .events
            .iter()
            .filter(|e| {
                e.reason
                    .as_deref()
                    .is_some_and(|r| EVENT_REASONS.contains(&r))
            })
            .map(event)
            .collect(),
        notes: d.notes.clone(),
        gpu_node_pods: d.gpu_node_pods.iter().map(pod).collect(),
        gpu_nodes_listed: d.gpu_nodes_listed.clone(),
        kubelet: None,
    };
    let mut unread = Vec::new();
    c.kubelet = kubelet_view(d, &mut unread);
    c.notes.extend(unread);
    c.gpu_node_pods.sort_by(|a, b| {
        (&a.node_name, &a.namespace, &a.name).cmp(&(&b.node_name, &b.namespace, &b.name))
    });
    c.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    c.pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    c.pending
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    c.events.sort_by(|a, b| b.time.cmp(&a.time));
    c
}

/// Attaches the cluster part to a snapshot and joins its pods by UID: names the API knows fill
/// in what the node did not say, and each local pod gets its API object. A static pod runs
/// here under the UID the kubelet made for it; its mirror in the API has its own UID and names
/// the static one in `kubernetes.io/config.mirror`, which is how it joins.
pub fn attach(snap: &mut Snapshot, data: &ClusterData) {
    let c = reduce(data);
    // The kubelet's answers that came but could not be read are collection errors, as the
    // fetch's own failures are (cmd/cluster.rs turned those into `errors` already).
    for n in c.notes.iter().filter(|n| !data.notes.contains(n)) {
        snap.errors.push(crate::model::CollectError {
            collector: "cluster".into(),
            kind: crate::source::ErrorKind::Invalid,
            path: None,
            line: None,
            message: n.clone(),
        });
    }
    for p in snap.pods.iter_mut() {
        if let Some(api) = c
            .pods
            .iter()
            .find(|a| a.uid == p.uid || a.mirror_of.as_deref() == Some(p.uid.as_str()))
        {
            p.namespace.get_or_insert_with(|| api.namespace.clone());
            p.name.get_or_insert_with(|| api.name.clone());
            p.api = Some(api.clone());
        }
    }
    // The running kubelet's word on its settings wins over nodescope's reading of its files.
    if let (Some(k), Some(running)) = (
        snap.kubelet.as_mut(),
        c.kubelet.as_ref().and_then(|v| v.running_config.as_ref()),
    ) {
        k.apply_running(running);
    }
    snap.cluster = Some(c);
}

/// `lastState.terminated` of a container status.
fn terminated(
    st: Option<&k8s_openapi::api::core::v1::ContainerStatus>,
) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    st?.last_state.as_ref()?.terminated.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(configz: &str, summary: &str) -> (Option<KubeletView>, Vec<String>) {
        let d = ClusterData {
            configz: (!configz.is_empty()).then(|| configz.as_bytes().to_vec()),
            summary: (!summary.is_empty()).then(|| summary.as_bytes().to_vec()),
            ..ClusterData::default()
        };
        let mut notes = Vec::new();
        (kubelet_view(&d, &mut notes), notes)
    }

    /// configz leaves out omitempty zero values: absent `kernelMemcgNotification` is false,
    /// absent `evictionSoft` empty, both reported; a field the kubelet's version lacks
    /// (`containerRuntimeEndpoint` before 1.27) is not reported, so never compared. Pointer
    /// fields are taken as given (`failSwapOn: false`).
    #[test]
    fn configz_absent_zero_values_are_zero_and_unknown_fields_unreported() {
        let (v, notes) = view(
            r#"{"kubeletconfig": {"maxPods": 250, "failSwapOn": false, "evictionHard": {"memory.available": "100Mi"}}}"#,
            "",
        );
        assert_eq!(notes, Vec::<String>::new());
        let c = v.and_then(|v| v.running_config).expect("running config");
        assert_eq!(c.max_pods, 250);
        assert!(!c.fail_swap_on);
        assert!(!c.kernel_memcg_notification);
        assert!(c.eviction_soft.is_empty());
        for f in [
            "kernelMemcgNotification",
            "evictionSoft",
            "failSwapOn",
            "maxPods",
        ] {
            assert!(c.sources.contains_key(f), "{f}");
        }
        assert!(!c.sources.contains_key("containerRuntimeEndpoint"));
    }

    /// The summary's node memory and fs figures (stats/v1alpha1 field names); a document
    /// without `kubeletconfig` or not JSON is a note, not a crash.
    #[test]
    fn the_summary_node_figures_are_read_and_bad_documents_are_notes() {
        let (v, notes) = view(
            r#"{"kubeletconfig": 3}"#,
            r#"{"node": {"nodeName": "node-a", "memory": {"time": "2026-11-22T02:59:52Z", "availableBytes": 12, "workingSetBytes": 4},
                "fs": {"availableBytes": 7, "capacityBytes": 10, "inodesFree": 5}}, "pods": [{"podRef": {}}]}"#,
        );
        let s = v.and_then(|v| v.summary).expect("summary");
        assert_eq!(
            s,
            NodeSummary {
                memory_time: Some("2026-11-22T02:59:52Z".into()),
                memory_available_bytes: Some(12),
                memory_working_set_bytes: Some(4),
                fs_available_bytes: Some(7),
                fs_capacity_bytes: Some(10),
                fs_inodes_free: Some(5),
            }
        );
        assert_eq!(
            notes,
            vec!["the kubelet's configz: no `kubeletconfig` object"]
        );
        let (v, notes) = view("", "not json");
        assert!(v.is_none());
        assert!(
            notes[0].starts_with("the kubelet's stats/summary: "),
            "{notes:?}"
        );
    }
}
