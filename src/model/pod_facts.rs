//! The one answer to "which pod is this, and what did it ask for": every pod on the node joined
//! from all that names it, each fact tagged with where it came from.
//!
//! A pod is known to nodescope through several doors: its cgroup (UID and QoS class by
//! placement), `/var/log/pods` and `/var/log/containers` (namespace, name, container names),
//! the runtime's own metadata (containerd and CRI-O OCI annotations, Docker's `config.v2.json`
//! labels written through cri-dockerd), and, when it could be asked, the API server (or a
//! bundle's cluster files, or `--cluster-dump`). Collectors record what each door said on
//! [`Pod`] and [`Container`]; this module is where rules and rankings read the result, so that
//! every rule names a pod the same way and uses the best source there is: the API's word over
//! the node's, and an estimate only where nothing stated the value.
//!
//! Naming: `namespace/name` when both are known; a pod whose cgroup is gone and whose name
//! nothing recalls is `pod <uid> (deleted)`; one still running but unnamed is `pod <uid>`.
//! Nothing here ever prints a placeholder such as `?`.

use super::cluster::ApiPod;
use super::{Container, Pod, Qos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a fact about a pod or container came from, most authoritative first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FactSource {
    /// The pod's API object: from the API server, a bundle's `cluster/*.json` or
    /// `--cluster-dump` (`Snapshot::cluster.source` says which).
    Api,
    /// containerd's OCI spec annotations (`io.kubernetes.cri.*`).
    ContainerdAnnotations,
    /// CRI-O's OCI spec annotations (`io.kubernetes.pod.*`, `io.kubernetes.cri-o.*`).
    CrioAnnotations,
    /// Docker's `/var/lib/docker/containers/<id>/config.v2.json` labels, which cri-dockerd
    /// (and dockershim before it) copies from the kubelet's container config.
    DockerLabels,
    /// `/var/log/pods/<namespace>_<name>_<uid>` (kubelet `BuildPodLogsDirectory`).
    PodLogDir,
    /// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` (kubelet `logSymlink`).
    ContainerLogLink,
    /// The pod's cgroup: its UID in the directory name and its QoS class by placement
    /// (pkg/kubelet/cm/qos_container_manager_linux.go), its limits from the controller files.
    Cgroup,
    /// Derived from the `oom_score_adj` the kubelet gave the pod's processes
    /// (pkg/kubelet/qos/policy.go): an estimate, never a stated value.
    OomScoreAdj,
}

impl FactSource {
    /// Whether a value from this source was estimated rather than read.
    pub fn is_estimate(self) -> bool {
        self == FactSource::OomScoreAdj
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sourced<T> {
    pub value: T,
    pub source: FactSource,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: FactSource) -> Self {
        Sourced { value, source }
    }
}

/// Why the kubelet will never evict a pod (`IsCriticalPod`, pkg/kubelet/types/pod_update.go;
/// `evictPod` in pkg/kubelet/eviction/eviction_manager.go refuses such pods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Critical {
    /// A static pod (annotation `kubernetes.io/config.source` other than `api`), or its mirror
    /// in the API (`kubernetes.io/config.mirror`): `IsStaticPod` / `IsMirrorPod`.
    StaticOrMirror,
    /// `spec.priority` at or above `SystemCriticalPriority` (2,000,000,000):
    /// `IsCriticalPodBasedOnPriority`.
    Priority,
    /// Priority class `system-node-critical` or `system-cluster-critical` with no resolved
    /// `spec.priority` at hand: both built-in classes resolve to at least 2,000,000,000.
    PriorityClass,
    /// No API object, but the pod's UID is 32 hex digits without dashes: the MD5 the kubelet
    /// gives a static pod whose manifest sets none (pkg/kubelet/config/common.go
    /// `applyDefaults`), where the API server gives a dashed UUID. An inference from the form.
    StaticUid,
    /// No API object, but the kubelet gave a non-Guaranteed pod's processes -997, which its
    /// policy (pkg/kubelet/qos/policy.go) reserves for node-critical pods: an estimate.
    OomScoreAdj,
}

/// `scheduling.SystemCriticalPriority` (pkg/apis/scheduling/types.go).
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;

/// The built-in priority classes, both critical (pkg/apis/scheduling/types.go).
pub const CRITICAL_PRIORITY_CLASSES: [&str; 2] =
    ["system-node-critical", "system-cluster-critical"];

/// Requests and limits of one container, as quantity strings (`128Mi`, `250m`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerFacts {
    /// The Kubernetes container name, where anything names it.
    pub name: Option<Sourced<String>>,
    /// The runtime's id; `None` for a container only the API lists (not started here).
    pub id: Option<String>,
    /// `resources.requests` by resource name; empty when unknown.
    pub requests: BTreeMap<String, String>,
    /// `resources.limits` by resource name; the memory limit falls back to the cgroup's.
    pub limits: BTreeMap<String, String>,
    /// Where `requests` and `limits` came from: the API, the cgroup (limits only), or `None`.
    pub resources_source: Option<FactSource>,
}

/// Everything known about one pod, joined, each fact with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodFacts {
    pub uid: String,
    pub namespace: Option<Sourced<String>>,
    pub name: Option<Sourced<String>>,
    pub qos: Option<Sourced<Qos>>,
    /// `spec.priority`; only the API states it.
    pub priority: Option<Sourced<i32>>,
    /// `spec.priorityClassName`; only the API states it.
    pub priority_class: Option<String>,
    /// Why the kubelet will not evict it, if it will not.
    pub critical: Option<Critical>,
    /// Workload containers (no sandboxes): those running here, then those only the API lists.
    pub containers: Vec<ContainerFacts>,
    /// Its cgroup is gone: the pod no longer runs on this node.
    pub deleted: bool,
}

impl PodFacts {
    /// How a reader sees the pod: `namespace/name`, else `pod <uid>`, with ` (deleted)` for a
    /// pod that no longer runs here and that nothing names.
    pub fn label(&self) -> String {
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => format!("{}/{}", ns.value, n.value),
            _ if self.deleted => format!("pod {} (deleted)", self.uid),
            _ => format!("pod {}", self.uid),
        }
    }
}

/// The QoS class the API states (`status.qosClass`), when it is one of the three.
fn api_qos(api: &ApiPod) -> Option<Qos> {
    match api.qos_class.as_deref()? {
        "Guaranteed" => Some(Qos::Guaranteed),
        "Burstable" => Some(Qos::Burstable),
        "BestEffort" => Some(Qos::BestEffort),
        _ => None,
    }
}

/// `IsCriticalPod` on the API object, with the priority-class fallback.
fn api_critical(api: &ApiPod) -> Option<Critical> {
    if api.mirror_of.is_some() || api.config_source.as_deref().is_some_and(|s| s != "api") {
        Some(Critical::StaticOrMirror)
    } else if let Some(p) = api.priority {
        (p >= SYSTEM_CRITICAL_PRIORITY).then_some(Critical::Priority)
    } else {
        api.priority_class
            .as_deref()
            .filter(|c| CRITICAL_PRIORITY_CLASSES.contains(c))
            .map(|_| Critical::PriorityClass)
    }
}

fn container_facts(c: &Container, api: Option<&ApiPod>) -> ContainerFacts {
    let name = c
        .name
        .clone()
        .map(|n| Sourced::new(n, c.name_source.unwrap_or(FactSource::Cgroup)));
    let from_api = api.and_then(|a| {
        a.containers
            .iter()
            .find(|x| Some(&x.name) == c.name.as_ref())
    });
    let mut f = ContainerFacts {
        name,
        id: Some(c.id.clone()),
        ..Default::default()
    };
    if let Some(x) = from_api {
        f.requests = x.requests.clone();
        f.limits = x.limits.clone();
        f.resources_source = Some(FactSource::Api);
    } else if let Some(l) = c.cgroup.as_ref().and_then(|cg| cg.limit_bytes) {
        f.limits.insert("memory".into(), l.to_string());
        f.resources_source = Some(FactSource::Cgroup);
    }
    f
}

impl Pod {
    /// This pod's facts, joined: the API object's word first, then what the node's files said
    /// (the sources the collectors recorded), then the cgroup. `critical` without an API
    /// object is the oom_score_adj estimate the caller supplies (`adj_critical`), since only
    /// the process table shows it.
    pub fn facts(&self, adj_critical: bool) -> PodFacts {
        let api = self.api.as_ref();
        let local = self.name_source.unwrap_or(FactSource::Cgroup);
        let pick = |api_v: Option<&String>, local_v: &Option<String>| match api_v {
            Some(v) if !v.is_empty() => Some(Sourced::new(v.clone(), FactSource::Api)),
            _ => local_v.clone().map(|v| Sourced::new(v, local)),
        };
        let mut containers: Vec<ContainerFacts> = self
            .containers
            .iter()
            .filter(|c| !c.sandbox)
            .map(|c| container_facts(c, api))
            .collect();
        if let Some(a) = api {
            for x in &a.containers {
                if !containers
                    .iter()
                    .any(|c| c.name.as_ref().map(|n| &n.value) == Some(&x.name))
                {
                    containers.push(ContainerFacts {
                        name: Some(Sourced::new(x.name.clone(), FactSource::Api)),
                        id: None,
                        requests: x.requests.clone(),
                        limits: x.limits.clone(),
                        resources_source: Some(FactSource::Api),
                    });
                }
            }
        }
        PodFacts {
            uid: self.uid.clone(),
            namespace: pick(api.map(|a| &a.namespace), &self.namespace),
            name: pick(api.map(|a| &a.name), &self.name),
            qos: api
                .and_then(api_qos)
                .map(|q| Sourced::new(q, FactSource::Api))
                .or_else(|| self.qos.map(|q| Sourced::new(q, FactSource::Cgroup))),
            priority: api
                .and_then(|a| a.priority)
                .map(|p| Sourced::new(p, FactSource::Api)),
            priority_class: api.and_then(|a| a.priority_class.clone()),
            critical: match api {
                Some(a) => api_critical(a),
                None if self
                    .config_source
                    .as_ref()
                    .is_some_and(|c| c.value != "api") =>
                {
                    Some(Critical::StaticOrMirror)
                }
                None if is_static_pod_uid(&self.uid) => Some(Critical::StaticUid),
                None => adj_critical.then_some(Critical::OomScoreAdj),
            },
            containers,
            deleted: self.cgroup.is_none(),
        }
    }

    /// How a reader sees the pod ([`PodFacts::label`]).
    pub fn label(&self) -> String {
        self.facts(false).label()
    }
}

/// Whether `uid` has the form of a static pod's kubelet-made UID: 32 lowercase hex digits
/// (`hex.EncodeToString` of an MD5), where API pods have dashed UUIDs.
pub fn is_static_pod_uid(uid: &str) -> bool {
    uid.len() == 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How a reader sees a container: `<pod label>/<name>`, the name being `id <12 hex>` when
/// nothing names it.
pub fn container_label(p: &Pod, c: &Container) -> String {
    match &c.name {
        Some(n) => format!("{}/{n}", p.label()),
        None => format!("{} container id {}", p.label(), &c.id[..c.id.len().min(12)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CgroupStats;
    use crate::model::cluster::ApiContainer;

    fn pod(ns: Option<&str>, name: Option<&str>, cgroup: bool) -> Pod {
        Pod {
            uid: "u-1".into(),
            namespace: ns.map(String::from),
            name: name.map(String::from),
            name_source: name.map(|_| FactSource::DockerLabels),
            config_source: None,
            qos: Some(Qos::Burstable),
            cgroup: cgroup.then(CgroupStats::default),
            containers: vec![Container {
                id: "c1".into(),
                name: Some("app".into()),
                name_source: Some(FactSource::DockerLabels),
                runtime: Some("docker".into()),
                sandbox: false,
                cgroup: Some(CgroupStats {
                    limit_bytes: Some(268_435_456),
                    ..Default::default()
                }),
            }],
            log_dir: None,
            api: None,
        }
    }

    #[test]
    fn labels_never_hold_a_placeholder() {
        assert_eq!(pod(Some("shop"), Some("web"), true).label(), "shop/web");
        assert_eq!(pod(None, None, true).label(), "pod u-1");
        assert_eq!(pod(None, None, false).label(), "pod u-1 (deleted)");
        assert_eq!(pod(Some("shop"), None, false).label(), "pod u-1 (deleted)");
    }

    #[test]
    fn the_node_names_a_pod_with_its_source_and_the_cgroup_gives_the_limit() {
        let f = pod(Some("shop"), Some("web"), true).facts(false);
        assert_eq!(
            f.name,
            Some(Sourced::new("web".into(), FactSource::DockerLabels))
        );
        assert_eq!(
            f.qos,
            Some(Sourced::new(Qos::Burstable, FactSource::Cgroup))
        );
        assert_eq!(f.containers.len(), 1);
        let c = &f.containers[0];
        assert_eq!(
            c.limits.get("memory").map(String::as_str),
            Some("268435456")
        );
        assert_eq!(c.resources_source, Some(FactSource::Cgroup));
        assert!(c.requests.is_empty());
        assert_eq!(f.priority, None);
        assert_eq!(f.critical, None);
        assert_eq!(
            pod(None, None, true).facts(true).critical,
            Some(Critical::OomScoreAdj)
        );
        // A static pod by the annotation its sandbox carries on the node.
        let mut p = pod(Some("kube-system"), Some("etcd-node-b"), true);
        p.config_source = Some(Sourced::new("file".into(), FactSource::DockerLabels));
        assert_eq!(p.facts(false).critical, Some(Critical::StaticOrMirror));
        p.config_source = Some(Sourced::new("api".into(), FactSource::DockerLabels));
        assert_eq!(p.facts(false).critical, None);
        // A kubeadm etcd's UID as the kubelet makes it for a manifest: md5, hex, no dashes.
        let mut p = pod(Some("kube-system"), Some("etcd-node-b"), true);
        p.uid = "8c3ad2c4b7e1f0a9d6b5e4c3f2a1b0c9".into();
        assert_eq!(p.facts(false).critical, Some(Critical::StaticUid));
        assert!(!is_static_pod_uid("5d2c1f3e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"));
        assert!(!is_static_pod_uid("8C3AD2C4B7E1F0A9D6B5E4C3F2A1B0C9"));
        assert!(!is_static_pod_uid("8c3ad2c4b7e1f0a9d6b5e4c3f2a1b0c"));
    }

    #[test]
    fn the_api_wins_and_names_critical_pods_as_the_kubelet_does() {
        let mut p = pod(Some("shop"), Some("web"), true);
        p.api = Some(ApiPod {
            uid: "u-1".into(),
            namespace: "shop".into(),
            name: "web".into(),
            qos_class: Some("Guaranteed".into()),
            priority: Some(1000),
            containers: vec![
                ApiContainer {
                    name: "app".into(),
                    requests: [("memory".to_string(), "256Mi".to_string())].into(),
                    limits: [("memory".to_string(), "256Mi".to_string())].into(),
                    ..Default::default()
                },
                ApiContainer {
                    name: "sidecar".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let f = p.facts(true);
        assert_eq!(f.name.as_ref().map(|n| n.source), Some(FactSource::Api));
        assert_eq!(f.qos, Some(Sourced::new(Qos::Guaranteed, FactSource::Api)));
        assert_eq!(f.priority, Some(Sourced::new(1000, FactSource::Api)));
        assert_eq!(f.critical, None, "the API's word beats the adj estimate");
        assert_eq!(f.containers[0].requests["memory"], "256Mi");
        assert_eq!(f.containers[1].id, None, "listed by the API only");
        let crit = |edit: &dyn Fn(&mut ApiPod)| {
            let mut q = p.clone();
            if let Some(a) = q.api.as_mut() {
                edit(a);
            }
            q.facts(false).critical
        };
        assert_eq!(
            crit(&|a| a.priority = Some(2_000_000_000)),
            Some(Critical::Priority)
        );
        assert_eq!(crit(&|a| a.priority = Some(1_999_999_999)), None);
        assert_eq!(
            crit(&|a| a.mirror_of = Some("u-1".into())),
            Some(Critical::StaticOrMirror)
        );
        assert_eq!(
            crit(&|a| a.config_source = Some("file".into())),
            Some(Critical::StaticOrMirror)
        );
        assert_eq!(crit(&|a| a.config_source = Some("api".into())), None);
        assert_eq!(
            crit(&|a| {
                a.priority = None;
                a.priority_class = Some("system-cluster-critical".into());
            }),
            Some(Critical::PriorityClass)
        );
    }
}
