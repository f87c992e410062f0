//! Pod identity without the API server. The cgroup walk finds pods by UID and containers by
//! id; these files name them:
//!
//! - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/` (kubelet `BuildPodLogsDirectory`);
//! - `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` → a file in the above
//!   (kubelet `logSymlink`), which ties a container id to its name;
//! - the runtime's OCI spec annotations, for sandboxes and anything still unnamed: containerd
//!   `/run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json`
//!   (`io.kubernetes.cri.*`), CRI-O `/run/containers/storage/overlay-containers/<id>/userdata/config.json`
//!   (`io.kubernetes.pod.*`, `io.kubernetes.container.name`, `io.kubernetes.cri-o.ContainerType`).
//!
//! Namespaces, pod names and container names cannot contain `_` (DNS labels and subdomains),
//! so the `_`-separated names split unambiguously.

use super::Errors;
use crate::model::{ContainerLog, KubeletInfo, Pod};
use crate::source::{EntryKind, Host};
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

/// Identity facts about one container id.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Ident {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub uid: Option<String>,
    pub container: Option<String>,
    pub sandbox: bool,
    pub runtime: Option<&'static str>,
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
                        p.log_dir = Some(dir);
                    }
                    None => pods.push(Pod {
                        uid,
                        namespace: Some(ns),
                        name: Some(name),
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
                });
                idents.insert(
                    id,
                    Ident {
                        namespace: Some(ns),
                        pod: Some(pod),
                        uid,
                        container: Some(container),
                        ..Default::default()
                    },
                );
            }
        }
        Err(e) => errs.unless_missing(C, &e),
    }
    // 3. Runtime metadata for every container still unnamed (sandboxes, and nodes whose log
    //    symlinks were cleaned).
    for pod in pods.iter() {
        for c in &pod.containers {
            if idents.contains_key(&c.id) {
                continue;
            }
            if let Some(id) = runtime_ident(host, &c.id) {
                idents.insert(c.id.clone(), id);
            }
        }
    }
    for pod in pods.iter_mut() {
        for c in pod.containers.iter_mut() {
            let Some(id) = idents.get(&c.id) else {
                continue;
            };
            if c.name.is_none() && !id.sandbox {
                c.name = id.container.clone();
            }
            c.sandbox = id.sandbox;
            if c.runtime.is_none() {
                c.runtime = id.runtime.map(String::from);
            }
            if pod.namespace.is_none() {
                pod.namespace = id.namespace.clone();
            }
            if pod.name.is_none() {
                pod.name = id.pod.clone();
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

/// Identity from the runtime's OCI spec annotations, trying containerd then CRI-O.
fn runtime_ident(host: &dyn Host, id: &str) -> Option<Ident> {
    let candidates = std::iter::once(CONTAINERD_TASKS)
        .chain(DISTRIBUTION_CONTAINERD_TASKS)
        .map(|dir| (format!("{dir}/{id}/config.json"), "containerd"))
        .chain(std::iter::once((
            format!("{CRIO_CONTAINERS}/{id}/userdata/config.json"),
            "cri-o",
        )));
    for (path, runtime) in candidates {
        let Ok(raw) = host.read(&path) else { continue };
        let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
        return Some(annotations_ident(v.get("annotations")?, runtime));
    }
    None
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
    }
}
