//! The API server's objects, reduced to what the rules use, and joined to the pods found on
//! the node by UID. Local data stays the source of truth for usage.

use crate::model::Snapshot;
use crate::model::cluster::{
    ApiContainer, ApiEvent, ApiNode, ApiPod, Cluster, Condition, Taint, Toleration,
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
                            last_termination_reason: st
                                .and_then(|x| x.last_state.as_ref())
                                .and_then(|l| l.terminated.as_ref())
                                .and_then(|t| t.reason.clone()),
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
    };
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
    snap.cluster = Some(c);
}
