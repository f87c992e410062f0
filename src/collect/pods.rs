//! Pod identity without the API server. The cgroup walk finds pods by UID and containers by
//! id; these files name them:
//!
//! - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/` (kubelet `BuildPodLogsDirectory`);
//! - `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` → a file in the above
//!   (kubelet `logSymlink`), which ties a container id to its name;
//! - the runtime's OCI spec annotations, for sandboxes and anything still unnamed: containerd
//!   `/run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json`
//!   (`io.kubernetes.cri.*`), CRI-O `/run/containers/storage/overlay-containers/<id>/userdata/config.json`
//!   (`io.kubernetes.pod.*`, `io.kubernetes.container.name`, `io.kubernetes.cri-o.ContainerType`);
//! - Docker's `/var/lib/docker/containers/<id>/config.v2.json` on nodes that run Docker through
//!   cri-dockerd: its `Config.Labels` hold the labels the kubelet gives every container
//!   (`io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`,
//!   `io.kubernetes.container.name`: kubernetes/kubernetes pkg/kubelet/types/labels.go, set in
//!   pkg/kubelet/kuberuntime/labels.go) and cri-dockerd's own `io.kubernetes.docker.type`
//!   (`podsandbox` or `container`: Mirantis/cri-dockerd core/docker_service.go); Docker writes
//!   the file per container (moby/moby container/container.go `toDisk`, `configFileName`) and
//!   keeps it for exited containers until they are removed, so a container killed and restarted
//!   is still named there. The directory is read only when it is root's alone, like every
//!   runtime directory nodescope takes identities from (docs/security.md), at most
//!   [`MAX_DOCKER_CONTAINERS`] containers of at most [`MAX_DOCKER_CONFIG_BYTES`] each.
//!
//! Each name is recorded with its source ([`FactSource`]); [`crate::model::Pod::facts`] joins
//! them with the API's word.
//!
//! Namespaces, pod names and container names cannot contain `_` (DNS labels and subdomains),
//! so the `_`-separated names split unambiguously.

use super::Errors;
use crate::model::pod_facts::{FactSource, Sourced};
use crate::model::{ContainerLog, KubeletInfo, Pod};
use crate::source::vet::{self, Want};
use crate::source::{EntryKind, ErrorKind, Host};
use std::collections::HashMap;

const C: &str = "pods";
const POD_LOGS: &str = "/var/log/pods";
const CONTAINER_LOGS: &str = "/var/log/containers";
const CONTAINERD_TASKS: &str = "/run/containerd/io.containerd.runtime.v2.task/k8s.io";
/// The same task directory under the state directories distributions give their own
/// containerd (src/collect/runtime.rs `containerd_layout` cites them): k3s and RKE2
/// (`/run/k3s/containerd`), MicroK8s (`/var/snap/microk8s/common/run/containerd`), k0s
/// (`/run/k0s/containerd`). Asked only when the default has no such container.
const DISTRIBUTION_CONTAINERD_TASKS: [&str; 3] = [
    "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io",
    "/var/snap/microk8s/common/run/containerd/io.containerd.runtime.v2.task/k8s.io",
    "/run/k0s/containerd/io.containerd.runtime.v2.task/k8s.io",
];
const CRIO_CONTAINERS: &str = "/run/containers/storage/overlay-containers";
/// Docker's containers under its default `data-root` (moby/moby daemon/config).
const DOCKER_CONTAINERS: &str = "/var/lib/docker/containers";
/// At most this many Docker containers are read: a node runs a few hundred at most (the
/// kubelet's `maxPods` defaults to 110, each with a sandbox and exited predecessors).
pub const MAX_DOCKER_CONTAINERS: usize = 2000;
/// A `config.v2.json` larger than this is not read: real ones are a few KiB (the environment
/// and labels dominate).
pub const MAX_DOCKER_CONFIG_BYTES: u64 = 1 << 20;

/// Identity facts about one container id.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Ident {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub uid: Option<String>,
    pub container: Option<String>,
    pub sandbox: bool,
    pub runtime: Option<&'static str>,
    /// Which file said so.
    pub source: Option<FactSource>,
    /// The pod's `kubernetes.io/config.source` annotation, when the runtime kept it (sandboxes).
    pub config_source: Option<String>,
}

pub(super) fn identify(
    host: &dyn Host,
    pods: &mut Vec<Pod>,
    _kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> Vec<ContainerLog> {
    let mut logs = Vec::new();
    // 1. Pod log directories: namespace and name for each UID, and pods that left only logs.
    match host.read_dir(POD_LOGS) {
        Ok(entries) => {
            for e in entries.into_iter().filter(|e| e.kind == EntryKind::Dir) {
                let Some((ns, name, uid)) = parse_pod_log_dir(&e.name) else {
                    continue;
                };
                let dir = format!("{POD_LOGS}/{}", e.name);
                match pods.iter_mut().find(|p| p.uid == uid) {
                    Some(p) => {
                        p.namespace = Some(ns);
                        p.name = Some(name);
                        p.name_source = Some(FactSource::PodLogDir);
                        p.log_dir = Some(dir);
                    }
                    None => pods.push(Pod {
                        uid,
                        namespace: Some(ns),
                        name: Some(name),
                        name_source: Some(FactSource::PodLogDir),
                        config_source: None,
                        qos: None,
                        cgroup: None,
                        containers: Vec::new(),
                        log_dir: Some(dir),
                        api: None,
                    }),
                }
            }
        }
        Err(e) => errs.unless_missing(C, &e),
    }
    // 2. Container log symlinks: container id → name.
    let mut idents: HashMap<String, Ident> = HashMap::new();
    match host.read_dir(CONTAINER_LOGS) {
        Ok(entries) => {
            for e in entries.into_iter().filter(|e| e.kind == EntryKind::Symlink) {
                let Some((pod, ns, container, id)) = parse_container_log_link(&e.name) else {
                    continue;
                };
                let uid = host
                    .read_link(&format!("{CONTAINER_LOGS}/{}", e.name))
                    .ok()
                    .and_then(|t| uid_from_log_target(&t));
                logs.push(ContainerLog {
                    id: id.clone(),
                    namespace: ns.clone(),
                    pod: pod.clone(),
                    container: container.clone(),
                    pod_uid: uid.clone(),
                    source: None,
                });
                idents.insert(
                    id,
                    Ident {
                        namespace: Some(ns),
                        pod: Some(pod),
                        uid,
                        container: Some(container),
                        source: Some(FactSource::ContainerLogLink),
                        ..Default::default()
                    },
                );
            }
        }
        Err(e) => errs.unless_missing(C, &e),
    }
    // 3. Runtime metadata for every container still unnamed (sandboxes, and nodes whose log
    //    symlinks were cleaned). Docker's are read once for all, exited containers included.
    let docker = docker_idents(host, errs);
    let mut dirs = None;
    for pod in pods.iter() {
        for c in &pod.containers {
            if idents.contains_key(&c.id) {
                continue;
            }
            if let Some(id) = docker.get(&c.id).cloned().or_else(|| {
                runtime_ident(host, dirs.get_or_insert_with(|| runtime_dirs(host)), &c.id)
            }) {
                idents.insert(c.id.clone(), id);
            }
        }
    }
    logs.extend(exited_docker_containers(pods, &docker, &idents));
    for pod in pods.iter_mut() {
        for c in pod.containers.iter_mut() {
            let Some(id) = idents.get(&c.id) else {
                continue;
            };
            if c.name.is_none() && !id.sandbox {
                c.name = id.container.clone();
                c.name_source = id.source.filter(|_| c.name.is_some());
            }
            c.sandbox = id.sandbox;
            if c.runtime.is_none() {
                c.runtime = id.runtime.map(String::from);
            }
            if let (true, None, Some(cs)) = (id.sandbox, &pod.config_source, &id.config_source) {
                let source = id.source.unwrap_or(FactSource::Cgroup);
                pod.config_source = Some(Sourced::new(cs.clone(), source));
            }
            if pod.name.is_none() && id.pod.is_some() {
                pod.namespace = pod.namespace.take().or_else(|| id.namespace.clone());
                pod.name = id.pod.clone();
                pod.name_source = id.source;
            }
        }
    }
    pods.sort_by(|a, b| (&a.namespace, &a.name, &a.uid).cmp(&(&b.namespace, &b.name, &b.uid)));
    logs.sort_by(|a, b| a.id.cmp(&b.id));
    logs
}

/// `<namespace>_<pod>_<uid>` → parts.
pub(crate) fn parse_pod_log_dir(name: &str) -> Option<(String, String, String)> {
    let mut it = name.splitn(3, '_');
    let (ns, pod, uid) = (it.next()?, it.next()?, it.next()?);
    (!ns.is_empty() && !pod.is_empty() && !uid.is_empty())
        .then(|| (ns.into(), pod.into(), uid.into()))
}

/// `<pod>_<namespace>_<container>-<64 hex id>.log` → (pod, namespace, container, id).
pub(crate) fn parse_container_log_link(name: &str) -> Option<(String, String, String, String)> {
    let stem = name.strip_suffix(".log")?;
    let (rest, id) = stem.rsplit_once('-')?;
    if id.len() != 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut it = rest.splitn(3, '_');
    let (pod, ns, container) = (it.next()?, it.next()?, it.next()?);
    Some((pod.into(), ns.into(), container.into(), id.into()))
}

/// `/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log` → uid.
fn uid_from_log_target(target: &str) -> Option<String> {
    let dir = target.split('/').rev().nth(2)?;
    parse_pod_log_dir(dir).map(|(_, _, uid)| uid)
}

/// The runtimes' container directories this node has, each with the runtime it belongs to:
/// containerd's task directories, then CRI-O's. Asked once per collection, so a node with
/// none of them costs five stat calls, not five failed opens per container.
fn runtime_dirs(host: &dyn Host) -> Vec<(&'static str, &'static str)> {
    std::iter::once(CONTAINERD_TASKS)
        .chain(DISTRIBUTION_CONTAINERD_TASKS)
        .map(|dir| (dir, "containerd"))
        .chain(std::iter::once((CRIO_CONTAINERS, "cri-o")))
        .filter(|(dir, _)| host.metadata(dir).is_ok())
        .collect()
}

/// Identity from the runtime's OCI spec annotations, trying containerd then CRI-O, in the
/// directories [`runtime_dirs`] found.
fn runtime_ident(host: &dyn Host, dirs: &[(&str, &'static str)], id: &str) -> Option<Ident> {
    for (dir, runtime) in dirs {
        let path = match *runtime {
            "cri-o" => format!("{dir}/{id}/userdata/config.json"),
            _ => format!("{dir}/{id}/config.json"),
        };
        let Ok(raw) = host.read(&path) else { continue };
        let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
        return Some(annotations_ident(v.get("annotations")?, runtime));
    }
    None
}

/// Every Docker container's identity by id, from its `config.v2.json` labels; only
/// Kubernetes containers (those with a pod UID label) are kept. Empty when Docker's directory
/// is absent; a directory or file that is not root's alone is refused with one line in
/// `errors` (the first such file, and how many there were).
fn docker_idents(host: &dyn Host, errs: &mut Errors) -> HashMap<String, Ident> {
    let mut out = HashMap::new();
    let dir = match vet::vet(host, DOCKER_CONTAINERS, Want::Dir) {
        Ok(v) => v.path,
        Err(r) if r.kind == ErrorKind::Missing => return out,
        Err(r) => {
            errs.push(refused(DOCKER_CONTAINERS, &r.to_string(), r.kind, 1));
            return out;
        }
    };
    let Ok(entries) = host.read_dir(&dir) else {
        return out;
    };
    let mut ids: Vec<String> = entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::Dir && is_container_id(&e.name))
        .map(|e| e.name)
        .collect();
    ids.sort();
    ids.truncate(MAX_DOCKER_CONTAINERS);
    let mut first_refusal: Option<(String, String, ErrorKind)> = None;
    let mut refusals = 0usize;
    let mut vetter = vet::Vetter::new(host);
    for id in ids {
        let path = format!("{dir}/{id}/config.v2.json");
        let real = match vetter.vet(&path, Want::File) {
            Ok(v) if v.meta.size > MAX_DOCKER_CONFIG_BYTES => {
                first_refusal.get_or_insert_with(|| {
                    let why = format!(
                        "is {} bytes, more than {MAX_DOCKER_CONFIG_BYTES}",
                        v.meta.size
                    );
                    (path.clone(), why, ErrorKind::Invalid)
                });
                refusals += 1;
                continue;
            }
            Ok(v) => v.path,
            Err(r) if r.kind == ErrorKind::Missing => continue,
            Err(r) => {
                first_refusal.get_or_insert_with(|| (path.clone(), r.to_string(), r.kind));
                refusals += 1;
                continue;
            }
        };
        let Ok(raw) = host.read(&real) else { continue };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        if let Some(ident) = v.pointer("/Config/Labels").and_then(docker_labels_ident) {
            out.insert(id, ident);
        }
    }
    if let Some((path, why, kind)) = first_refusal {
        errs.push(refused(&path, &why, kind, refusals));
    }
    out
}

/// The `errors` line of Docker metadata not read: `count` files like `path`.
fn refused(path: &str, why: &str, kind: ErrorKind, count: usize) -> crate::model::CollectError {
    let more = match count {
        0 | 1 => String::new(),
        n => format!(" ({} more like it)", n - 1),
    };
    crate::model::CollectError {
        collector: if kind == ErrorKind::Untrusted {
            super::trust::C
        } else {
            C
        }
        .into(),
        kind,
        path: Some(path.to_string()),
        line: None,
        message: format!(
            "not collected: {why}{more}; nodescope takes pod names only from what root alone can write"
        ),
    }
}

/// A 64-hex container id, as Docker names its directories.
fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Reads the kubelet's and cri-dockerd's labels off a Docker container; `None` for a container
/// the kubelet did not create (no pod UID label).
pub(crate) fn docker_labels_ident(labels: &serde_json::Value) -> Option<Ident> {
    let s = |k: &str| labels.get(k).and_then(|v| v.as_str()).map(String::from);
    let uid = s("io.kubernetes.pod.uid")?;
    let sandbox = s("io.kubernetes.docker.type").as_deref() == Some("podsandbox");
    Some(Ident {
        namespace: s("io.kubernetes.pod.namespace"),
        pod: s("io.kubernetes.pod.name"),
        uid: Some(uid),
        // The sandbox carries the container name `POD` (pkg/kubelet/kuberuntime), no workload's.
        container: if sandbox {
            None
        } else {
            s("io.kubernetes.container.name")
        },
        sandbox,
        runtime: Some("docker"),
        source: Some(FactSource::DockerLabels),
        // cri-dockerd copies the pod's annotations onto the sandbox as `annotation.<key>`
        // labels (core/helpers.go `makeLabels`).
        config_source: s("annotation.kubernetes.io/config.source"),
    })
}

/// Docker's Kubernetes containers that are not among the running ones and not already named by
/// a log link: exited, typically killed and restarted, still named by their labels.
fn exited_docker_containers(
    pods: &[Pod],
    docker: &HashMap<String, Ident>,
    named: &HashMap<String, Ident>,
) -> Vec<ContainerLog> {
    let running = |id: &str| pods.iter().any(|p| p.containers.iter().any(|c| c.id == id));
    let mut out: Vec<ContainerLog> = docker
        .iter()
        .filter(|(id, i)| !i.sandbox && !running(id) && !named.contains_key(*id))
        .filter_map(|(id, i)| {
            Some(ContainerLog {
                id: id.clone(),
                namespace: i.namespace.clone()?,
                pod: i.pod.clone()?,
                container: i.container.clone()?,
                pod_uid: i.uid.clone(),
                source: Some(FactSource::DockerLabels),
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Reads the CRI annotations of containerd or CRI-O.
pub(crate) fn annotations_ident(a: &serde_json::Value, runtime: &'static str) -> Ident {
    let s = |k: &str| a.get(k).and_then(|v| v.as_str()).map(String::from);
    if runtime == "containerd" {
        Ident {
            namespace: s("io.kubernetes.cri.sandbox-namespace"),
            pod: s("io.kubernetes.cri.sandbox-name"),
            uid: s("io.kubernetes.cri.sandbox-uid"),
            container: s("io.kubernetes.cri.container-name"),
            sandbox: s("io.kubernetes.cri.container-type").as_deref() == Some("sandbox"),
            runtime: Some(runtime),
            source: Some(FactSource::ContainerdAnnotations),
            // containerd's sandbox spec carries only its own `io.kubernetes.cri.*` keys.
            config_source: None,
        }
    } else {
        let sandbox = s("io.kubernetes.cri-o.ContainerType").as_deref() == Some("sandbox");
        Ident {
            namespace: s("io.kubernetes.pod.namespace"),
            pod: s("io.kubernetes.pod.name"),
            uid: s("io.kubernetes.pod.uid"),
            container: if sandbox {
                None
            } else {
                s("io.kubernetes.container.name")
            },
            sandbox,
            runtime: Some(runtime),
            source: Some(FactSource::CrioAnnotations),
            // CRI-O keeps the pod's annotations as one JSON string (cri-o
            // pkg/annotations `Annotations`).
            config_source: s("io.kubernetes.cri-o.Annotations")
                .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
                .and_then(|v| {
                    v.get("kubernetes.io/config.source")?
                        .as_str()
                        .map(String::from)
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8b0d3c1f9a2e4d5b6c7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c";

    #[test]
    fn log_names_split_unambiguously() {
        assert_eq!(
            parse_pod_log_dir(
                "kube-system_coredns-7db6d8ff4d-x2x7b_5d2c1f3e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"
            )
            .unwrap(),
            (
                "kube-system".into(),
                "coredns-7db6d8ff4d-x2x7b".into(),
                "5d2c1f3e-8a4b-4c6d-9e0f-1a2b3c4d5e6f".into()
            )
        );
        let link = format!("web-6d9f8c7b5-h2j4k_shop_nginx-{ID}.log");
        assert_eq!(
            parse_container_log_link(&link).unwrap(),
            (
                "web-6d9f8c7b5-h2j4k".into(),
                "shop".into(),
                "nginx".into(),
                ID.into()
            )
        );
        assert!(parse_container_log_link("web_shop_nginx-123.log").is_none());
        assert_eq!(
            uid_from_log_target("/var/log/pods/shop_web_u-1/nginx/0.log").unwrap(),
            "u-1"
        );
    }

    #[test]
    fn docker_labels_name_kubernetes_containers_only() {
        // Labels as the kubelet (pkg/kubelet/kuberuntime/labels.go) and cri-dockerd
        // (core/docker_service.go) set them.
        let c = serde_json::json!({"io.kubernetes.container.name":"api","io.kubernetes.docker.type":"container",
            "io.kubernetes.pod.name":"api-1","io.kubernetes.pod.namespace":"payments","io.kubernetes.pod.uid":"u",
            "io.kubernetes.sandbox.id":"abc"});
        let i = docker_labels_ident(&c).unwrap();
        assert_eq!(
            (i.namespace.as_deref(), i.pod.as_deref(), i.uid.as_deref()),
            (Some("payments"), Some("api-1"), Some("u"))
        );
        assert_eq!(i.container.as_deref(), Some("api"));
        assert!(!i.sandbox);
        assert_eq!(i.runtime, Some("docker"));
        assert_eq!(i.source, Some(FactSource::DockerLabels));
        let s = serde_json::json!({"io.kubernetes.container.name":"POD","io.kubernetes.docker.type":"podsandbox",
            "io.kubernetes.pod.name":"api-1","io.kubernetes.pod.namespace":"payments","io.kubernetes.pod.uid":"u"});
        let i = docker_labels_ident(&s).unwrap();
        assert!(i.sandbox);
        assert_eq!(
            i.container, None,
            "`POD` is the sandbox, no workload's name"
        );
        assert_eq!(i.config_source, None);
        // A static pod's sandbox: its annotations copied as `annotation.<key>` labels.
        let mut st = s.clone();
        st["annotation.kubernetes.io/config.source"] = "file".into();
        assert_eq!(
            docker_labels_ident(&st).unwrap().config_source.as_deref(),
            Some("file")
        );
        // A container Docker runs for anyone else carries no pod uid: not ours to name.
        assert!(docker_labels_ident(&serde_json::json!({"maintainer":"x"})).is_none());
        assert!(
            is_container_id(ID)
                && !is_container_id(&ID[1..])
                && !is_container_id("z".repeat(64).as_str())
        );
    }

    #[test]
    fn annotations_of_both_runtimes() {
        let a = serde_json::json!({"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"p",
            "io.kubernetes.cri.sandbox-namespace":"ns","io.kubernetes.cri.sandbox-uid":"u"});
        let i = annotations_ident(&a, "containerd");
        assert!(i.sandbox);
        assert_eq!(
            (i.namespace.as_deref(), i.pod.as_deref()),
            (Some("ns"), Some("p"))
        );
        let a = serde_json::json!({"io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.container.name":"app",
            "io.kubernetes.pod.name":"p","io.kubernetes.pod.namespace":"ns","io.kubernetes.pod.uid":"u"});
        let i = annotations_ident(&a, "cri-o");
        assert!(!i.sandbox);
        assert_eq!(i.container.as_deref(), Some("app"));
        assert_eq!(i.config_source, None);
        // CRI-O's sandbox keeps the pod's annotations as one JSON string.
        let a = serde_json::json!({"io.kubernetes.cri-o.ContainerType":"sandbox",
            "io.kubernetes.cri-o.Annotations":"{\"kubernetes.io/config.source\":\"file\",\"kubernetes.io/config.hash\":\"9f2c\"}"});
        assert_eq!(
            annotations_ident(&a, "cri-o").config_source.as_deref(),
            Some("file")
        );
    }
}
