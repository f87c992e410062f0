//! Which Kubernetes distribution runs the node, as the collectors recognised it: it decides
//! where the kubelet runs (its own process, or inside k3s or MicroK8s's kubelite), how its
//! effective configuration is built, and where its log lines go. The profiles themselves
//! (paths, units, process names, each with its upstream source) are in `collect/distro.rs`;
//! docs/distributions.md lists them.

use serde::{Deserialize, Serialize};

/// The distribution recognised on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Distribution {
    /// Stable id: `kubeadm`, `k3s`, `rke2`, `microk8s`, `k0s`, `kind`, `openshift`, `eks-al2`,
    /// `eks-al2023`, `gke-cos`, `aks`, `talos`, `bottlerocket`, or `kubernetes` when nothing
    /// more specific was seen.
    pub id: String,
    /// Its name for people: `k3s (agent)`, `Amazon EKS (Amazon Linux 2023, nodeadm)`.
    pub name: String,
    /// What identified it, one fact per line: `process 812 k3s-agent (root, root-owned
    /// executable)`, `/etc/os-release ID=bottlerocket`.
    pub evidence: Vec<String>,
    /// The container runtime's kind when it is not what the distribution ships: `docker via
    /// cri-dockerd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}
