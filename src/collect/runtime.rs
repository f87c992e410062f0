//! The container runtime on this node and where it keeps things: which runtime (containerd or
//! CRI-O, from the kubelet's `containerRuntimeEndpoint` or the runtime's own directories), its
//! configuration files, its storage root and the image store the kubelet's imagefs is on
//! (containerd's snapshotter root, CRI-O's `<graphroot>/<driver>-images`: cri-o
//! `server/image_fs_info.go`), and the CRI endpoints to ask. The disk collector measures what
//! is found here; the DNS and health collectors read the same configuration files (CNI dirs).

use super::Errors;
use crate::model::KubeletInfo;
use crate::model::disk::RuntimeStorage;
use crate::source::{Host, join};

/// Errors found here are reported under the disk collector, as before this file was split
/// out of it (the `collector` of a JSON error is part of the output).
const C: &str = "disk";

/// The runtime the kubelet talks to (its `containerRuntimeEndpoint`), else whichever runtime's
/// state exists on the host, with its storage layout from its configuration.
pub(super) fn runtime_storage(
    host: &dyn Host,
    kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> Option<RuntimeStorage> {
    let endpoint = kubelet
        .map(|k| k.config.container_runtime_endpoint.as_str())
        .unwrap_or("");
    let name = if endpoint.contains("crio") {
        "cri-o"
    } else if endpoint.contains("containerd") {
        "containerd"
    } else if host.exists("/etc/crio") || host.exists("/run/crio") {
        "cri-o"
    } else if host.exists("/etc/containerd") || host.exists("/var/lib/containerd") {
        "containerd"
    } else {
        return None;
    };
    Some(if name == "containerd" {
        let (config, root) = containerd_layout(host, endpoint);
        containerd_storage(host, config, root, errs)
    } else {
        crio_storage(host, errs)
    })
}

pub(super) fn read_toml(host: &dyn Host, path: &str, errs: &mut Errors) -> Option<toml::Table> {
    let text = match host.read_string(path) {
        Ok(t) => t,
        Err(e) => {
            errs.unless_missing(C, &e);
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(t) => Some(t),
        Err(e) => {
            errs.unparsed(host, C, path, None, e.message().to_string());
            None
        }
    }
}

pub(super) fn toml_str<'a>(t: &'a toml::Table, keys: &[&str]) -> Option<&'a str> {
    let (last, parents) = keys.split_last()?;
    let mut cur = t;
    for k in parents {
        cur = cur.get(*k)?.as_table()?;
    }
    cur.get(*last)?.as_str()
}

/// Where a distribution's own containerd keeps its configuration and its root, by the socket
/// the kubelet talks to; the distribution passes the root as `--root` on containerd's command
/// line, so it is not in the file.
/// - k3s: socket /run/k3s/containerd/containerd.sock, config
///   /var/lib/rancher/k3s/agent/etc/containerd/config.toml, root
///   /var/lib/rancher/k3s/agent/containerd (k3s-io/k3s pkg/agent/config/config.go,
///   config_linux.go `applyContainerdStateAndAddress`);
/// - RKE2: the same socket, under /var/lib/rancher/rke2 (rancher/rke2 on k3s's agent code);
/// - MicroK8s: /var/snap/microk8s/common/run/containerd.sock, config
///   /var/snap/microk8s/current/args/containerd.toml, root
///   /var/snap/microk8s/common/var/lib/containerd (canonical/microk8s
///   microk8s-resources/default-args/containerd);
/// - k0s: /run/k0s/containerd.sock, root /var/lib/k0s/containerd, config
///   /etc/k0s/containerd.toml (k0sproject/k0s pkg/component/worker/containerd).
fn containerd_layout(host: &dyn Host, endpoint: &str) -> (&'static str, &'static str) {
    if endpoint.contains("/run/k3s/containerd/") {
        // RKE2 runs k3s's agent code with its own data dir: its agent directory marks it.
        if host.exists("/var/lib/rancher/rke2/agent") {
            return (
                "/var/lib/rancher/rke2/agent/etc/containerd/config.toml",
                "/var/lib/rancher/rke2/agent/containerd",
            );
        }
        return (
            "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
            "/var/lib/rancher/k3s/agent/containerd",
        );
    }
    if endpoint.contains("/var/snap/microk8s/") {
        return (
            "/var/snap/microk8s/current/args/containerd.toml",
            "/var/snap/microk8s/common/var/lib/containerd",
        );
    }
    if endpoint.contains("/run/k0s/") {
        return ("/etc/k0s/containerd.toml", "/var/lib/k0s/containerd");
    }
    ("/etc/containerd/config.toml", "/var/lib/containerd")
}

/// containerd: `root` at the top of its `config.toml` (default from [`containerd_layout`]);
/// the CRI plugin's snapshotter (config v2
/// `plugins."io.containerd.grpc.v1.cri".containerd.snapshotter`, v3
/// `plugins."io.containerd.cri.v1.images".snapshotter`; default `overlayfs`).
fn containerd_storage(
    host: &dyn Host,
    config: &str,
    default_root: &str,
    errs: &mut Errors,
) -> RuntimeStorage {
    let cfg = read_toml(host, config, errs);
    let root = cfg
        .as_ref()
        .and_then(|t| toml_str(t, &["root"]))
        .unwrap_or(default_root)
        .to_string();
    let snapshotter = cfg
        .as_ref()
        .and_then(|t| {
            toml_str(
                t,
                &["plugins", "io.containerd.cri.v1.images", "snapshotter"],
            )
            .or_else(|| {
                toml_str(
                    t,
                    &[
                        "plugins",
                        "io.containerd.grpc.v1.cri",
                        "containerd",
                        "snapshotter",
                    ],
                )
            })
        })
        .unwrap_or("overlayfs");
    RuntimeStorage {
        name: "containerd".into(),
        image_store: join(
            &root,
            &format!("io.containerd.snapshotter.v1.{snapshotter}"),
        ),
        root,
        config_files: cfg.map(|_| vec![config.to_string()]).unwrap_or_default(),
        walks: Vec::new(),
    }
}

/// CRI-O: containers-storage's `[storage] graphroot` and `driver` from
/// `/etc/containers/storage.conf`, overridden by `[crio] root` / `storage_driver` in
/// `/etc/crio/crio.conf` and its drop-ins `/etc/crio/crio.conf.d/*.conf` (lexical order).
fn crio_storage(host: &dyn Host, errs: &mut Errors) -> RuntimeStorage {
    let mut root = "/var/lib/containers/storage".to_string();
    let mut driver = "overlay".to_string();
    let mut files = Vec::new();
    let mut crio_files = vec!["/etc/crio/crio.conf".to_string()];
    if let Ok(d) = host.read_dir("/etc/crio/crio.conf.d") {
        crio_files.extend(
            d.into_iter()
                .filter(|e| e.name.ends_with(".conf"))
                .map(|e| join("/etc/crio/crio.conf.d", &e.name)),
        );
    }
    if let Some(t) = read_toml(host, "/etc/containers/storage.conf", errs) {
        files.push("/etc/containers/storage.conf".to_string());
        if let Some(r) = toml_str(&t, &["storage", "graphroot"]) {
            root = r.to_string();
        }
        if let Some(d) = toml_str(&t, &["storage", "driver"]).filter(|d| !d.is_empty()) {
            driver = d.to_string();
        }
    }
    for f in crio_files {
        if let Some(t) = read_toml(host, &f, errs) {
            if let Some(r) = toml_str(&t, &["crio", "root"]) {
                root = r.to_string();
            }
            if let Some(d) = toml_str(&t, &["crio", "storage_driver"]).filter(|d| !d.is_empty()) {
                driver = d.to_string();
            }
            files.push(f);
        }
    }
    RuntimeStorage {
        name: "cri-o".into(),
        image_store: join(&root, &format!("{driver}-images")),
        root,
        config_files: files,
        walks: Vec::new(),
    }
}

/// The directories holding image content and layers, walked by `nodescope disk`.
pub(super) fn store_dirs(rt: &RuntimeStorage) -> Vec<String> {
    if rt.name == "containerd" {
        vec![
            join(&rt.root, "io.containerd.content.v1.content"),
            rt.image_store.clone(),
        ]
    } else {
        vec![rt.root.clone()]
    }
}

/// The CRI endpoints to ask: the kubelet's `containerRuntimeEndpoint` when it sets one, else
/// containerd's then CRI-O's default socket.
pub(super) fn cri_endpoints(kubelet: Option<&KubeletInfo>) -> Vec<String> {
    let named = kubelet.filter(|k| {
        k.config.sources.contains_key("containerRuntimeEndpoint")
            && !k.config.container_runtime_endpoint.trim().is_empty()
    });
    match named {
        Some(k) => vec![k.config.container_runtime_endpoint.trim().to_string()],
        None => crate::source::cri::DEFAULT_ENDPOINTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}
