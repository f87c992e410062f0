//! `net.cni-missing`: the runtime has no CNI network configuration to load, or the plugins its
//! configuration names are not installed.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct NetCniMissing;

impl Rule for NetCniMissing {
    fn id(&self) -> &'static str {
        "net.cni-missing"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "no CNI network configuration, or its plugin binaries are not installed"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The container runtime loads the pod network from its CNI configuration directory
  (containerd's cni conf_dir, CRI-O's network_dir; /etc/cni/net.d by default): the first
  *.conf, *.conflist or *.json file in lexical order, and runs the plugins it names from its
  bin dirs (/opt/cni/bin by default). Here that directory holds no usable configuration, or
  the configuration names plugins (its 'type' fields) with no executable in any bin dir. When
  the directory is missing altogether this is reported only when the runtime itself says its
  network is not ready.

WHY IT MATTERS
  Without a loaded network the runtime reports NetworkReady=false ('cni plugin not
  initialized', 'no networks found in /etc/cni/net.d'), the kubelet marks the node NotReady,
  and every pod that needs the pod network stays ContainerCreating ('failed to find plugin
  \"calico\" in path [/opt/cni/bin]'). The network plugin's DaemonSet normally writes both on
  start: it is not running on this node, or it failed.

HOW TO CONFIRM
  ls -l /etc/cni/net.d /opt/cni/bin
  crictl info | jq '.status.conditions, .config.cni'
  kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=NODE   (calico-node,
  cilium, aws-node, kube-flannel ... on this node)

WHAT TO CHANGE
  Get the network plugin's DaemonSet pod running on the node (tolerations, image pulls, its
  own logs); it installs the configuration and binaries. If the runtime looks in another
  directory than the plugin writes to (k3s, GKE's /home/kubernetes/bin), align the runtime's
  conf_dir/bin_dir with it."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(cni) = snap.health.cni.as_ref() else {
            return;
        };
        let cri = snap.disk.cri.as_ref();
        let network_down = cri
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.iter().find(|c| c.type_ == "NetworkReady"))
            .filter(|c| !c.status);
        // A machine with neither kubelet nor runtime is not a node: CNI is not its business.
        let is_node = snap.kubelet.is_some()
            || snap.disk.runtime.is_some()
            || cri.is_some_and(|c| c.status.is_some());
        if !is_node {
            return;
        }
        let usable: Vec<&crate::model::health::CniConfFile> =
            cni.files.iter().filter(|f| f.invalid.is_none()).collect();
        let runtime_says = network_down.map(|c| format!("{}: {}", c.reason, c.message));
        let evidence = serde_json::json!({
            "conf_dir": cni.conf_dir,
            "conf_dir_exists": cni.conf_dir_exists,
            "bin_dirs": cni.bin_dirs,
            "files": cni.files,
            "runtime_network_ready": network_down.map(|_| false),
            "runtime_says": runtime_says,
        });
        let subject = Subject::node(snap).with_path(cni.conf_dir.clone());
        let remedy = "get the network plugin's DaemonSet pod running on this node (it writes the CNI configuration and installs the binaries); align the runtime's conf_dir/bin_dir with where it writes";
        let title = match usable.first() {
            None if cni.conf_dir_exists => {
                let invalid = cni.files.len();
                Some(if invalid == 0 {
                    format!("no CNI network configuration in {}", cni.conf_dir)
                } else {
                    format!(
                        "no usable CNI network configuration in {} ({invalid} file(s) that do not parse)",
                        cni.conf_dir
                    )
                })
            }
            None => runtime_says.as_ref().map(|r| {
                format!(
                    "{} does not exist and the runtime reports its network not ready ({r})",
                    cni.conf_dir
                )
            }),
            Some(f) if !f.missing_binaries.is_empty() => Some(format!(
                "{} names CNI plugin(s) {} that are not in {}",
                f.path,
                f.missing_binaries.join(", "),
                cni.bin_dirs.join(", ")
            )),
            Some(_) => None,
        };
        if let Some(title) = title {
            out.push(finding(
                self,
                Severity::Critical,
                title,
                subject,
                evidence,
                remedy,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::disk::{CriCondition, CriSnapshot, RuntimeStorage};
    use crate::model::health::{Cni, CniConfFile};

    fn node(exists: bool, files: Vec<CniConfFile>) -> Snapshot {
        let mut s = snapshot();
        s.disk.runtime = Some(RuntimeStorage {
            name: "containerd".into(),
            root: "/var/lib/containerd".into(),
            config_files: vec![],
            image_store: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs".into(),
            walks: vec![],
        });
        s.health.cni = Some(Cni {
            conf_dir: "/etc/cni/net.d".into(),
            bin_dirs: vec!["/opt/cni/bin".into()],
            conf_dir_exists: exists,
            files,
        });
        s
    }

    fn conf(missing: &[&str]) -> CniConfFile {
        CniConfFile {
            path: "/etc/cni/net.d/10-calico.conflist".into(),
            network: Some("k8s-pod-network".into()),
            plugins: vec!["calico".into(), "portmap".into()],
            missing_binaries: missing.iter().map(|m| m.to_string()).collect(),
            invalid: None,
        }
    }

    #[test]
    fn an_empty_conf_dir_or_a_missing_binary_fires() {
        let f = run(&NetCniMissing, &node(true, vec![]));
        assert_eq!(f[0].title, "no CNI network configuration in /etc/cni/net.d");
        let f = run(&NetCniMissing, &node(true, vec![conf(&["calico"])]));
        assert_eq!(
            f[0].title,
            "/etc/cni/net.d/10-calico.conflist names CNI plugin(s) calico that are not in /opt/cni/bin"
        );
    }

    #[test]
    fn silent_with_a_complete_configuration_or_off_a_node() {
        assert!(run(&NetCniMissing, &node(true, vec![conf(&[])])).is_empty());
        let mut s = node(true, vec![]);
        s.disk.runtime = None;
        assert!(run(&NetCniMissing, &s).is_empty(), "no kubelet, no runtime");
        // A missing directory alone says nothing ...
        assert!(run(&NetCniMissing, &node(false, vec![])).is_empty());
        // ... until the runtime says its network is down.
        let mut s = node(false, vec![]);
        s.disk.cri = Some(CriSnapshot {
            status: Some(vec![CriCondition {
                type_: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "cni plugin not initialized".into(),
            }]),
            ..CriSnapshot::default()
        });
        assert_eq!(run(&NetCniMissing, &s).len(), 1);
    }
}
