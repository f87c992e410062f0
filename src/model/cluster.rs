//! What the API server knows about this node and its pods, when it could be asked (or a
//! `kubectl get -o json` dump stands in for it). Optional enrichment: every local rule runs
//! without it, and local data stays the source of truth for usage.

use serde::{Deserialize, Serialize};

/// Event reasons worth keeping: scheduling failures (GPU diagnosis), evictions and kernel OOMs
/// (the OOM-race timeline), node pressure transitions.
pub const EVENT_REASONS: &[&str] = &[
    "FailedScheduling",
    "Evicted",
    "OOMKilling",
    "SystemOOM",
    "NodeHasInsufficientMemory",
    "NodeHasDiskPressure",
    "NodeHasInsufficientPID",
    "NodeHasSufficientMemory",
    "NodeHasNoDiskPressure",
    "NodeHasSufficientPID",
    "NodeNotReady",
    "NodeReady",
    "EvictionThresholdMet",
    "FreeDiskSpaceFailed",
    "ImageGCFailed",
];
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cluster {
    /// `api https://10.0.0.1:6443 (kubeconfig /etc/kubernetes/kubelet.conf)`, `bundle`, `dump DIR`.
    pub source: String,
    /// This node, matched by name.
    pub node: Option<ApiNode>,
    /// Every node the credentials may list (this one included).
    pub nodes: Vec<ApiNode>,
    /// Pods bound to this node.
    pub pods: Vec<ApiPod>,
    /// Pending pods anywhere in the cluster (GPU diagnosis); empty when RBAC forbids the list.
    pub pending: Vec<ApiPod>,
    /// Events of interest: FailedScheduling, Evicted, OOMKilling, node pressure transitions.
    pub events: Vec<ApiEvent>,
    /// What could not be fetched, one line each (a 403 on listing pods, a timeout).
    pub notes: Vec<String>,
    /// Non-terminal pods bound to the other GPU nodes that hold a GPU resource: what each of
    /// those nodes has allocated (`gpu.pending-pod`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_node_pods: Vec<ApiPod>,
    /// The other GPU nodes whose pods were listed: their allocation is known, the rest's is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_nodes_listed: Vec<String>,
    /// The kubelet's own view through the API's node proxy (`configz`, `stats/summary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<KubeletView>,
}

/// What the running kubelet says of itself, through `/api/v1/nodes/<node>/proxy/...`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KubeletView {
    /// The running configuration (`/configz`'s `kubeletconfig` object, v1beta1 field names),
    /// read as nodescope reads a config file. Its `sources` name the fields the kubelet
    /// reported: only those are compared.
    pub running_config: Option<crate::model::kubelet::KubeletConfig>,
    /// The node part of `/stats/summary`.
    pub summary: Option<NodeSummary>,
}

/// `/stats/summary`'s `node` (k8s.io/kubelet/pkg/apis/stats/v1alpha1/types.go `NodeStats`):
/// the figures the kubelet's eviction manager judges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeSummary {
    /// `memory.time`: when the memory figures were sampled (RFC 3339).
    pub memory_time: Option<String>,
    /// `memory.availableBytes`: capacity − workingSet (the kubelet's `memory.available`).
    pub memory_available_bytes: Option<u64>,
    pub memory_working_set_bytes: Option<u64>,
    /// `fs.availableBytes` / `fs.capacityBytes`: the kubelet root's filesystem (nodefs).
    pub fs_available_bytes: Option<u64>,
    pub fs_capacity_bytes: Option<u64>,
    pub fs_inodes_free: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiNode {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub capacity: BTreeMap<String, String>,
    pub allocatable: BTreeMap<String, String>,
    pub conditions: Vec<Condition>,
    pub unschedulable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiPod {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub node_name: Option<String>,
    pub phase: Option<String>,
    pub qos_class: Option<String>,
    pub priority: Option<i32>,
    pub priority_class: Option<String>,
    /// Annotation `kubernetes.io/config.source` (`file`, `http`, `api`): a value other than
    /// `api` is a static pod (`IsStaticPod`, pkg/kubelet/types/pod_update.go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<String>,
    /// Annotation `kubernetes.io/config.mirror`: this is the API's mirror of a static pod, and
    /// the value is the static pod's UID on its node (the kubelet's config hash,
    /// pkg/kubelet/pod/mirror_client.go), not this object's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_of: Option<String>,
    pub host_network: bool,
    pub dns_policy: Option<String>,
    pub containers: Vec<ApiContainer>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`, as JSON.
    pub required_node_affinity: Option<serde_json::Value>,
    /// `status.reason` (`Evicted`) and `status.message`.
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiContainer {
    pub name: String,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
    pub restart_count: Option<i32>,
    /// `lastState.terminated.reason`: `OOMKilled`, `Error`, `Completed`.
    pub last_termination_reason: Option<String>,
    /// `lastState.terminated.exitCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination_exit_code: Option<i32>,
    /// `lastState.terminated.signal`, when the runtime reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination_signal: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiEvent {
    pub namespace: Option<String>,
    /// `Pod/shop/web-...`, `Node/node-a`.
    pub object: String,
    pub reason: String,
    pub message: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub count: Option<i32>,
    /// The newest of lastTimestamp, eventTime, firstTimestamp.
    pub time: Option<String>,
}
