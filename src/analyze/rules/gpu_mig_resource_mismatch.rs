//! `gpu.mig-resource-mismatch`: MIG slices offered while pods ask for whole GPUs, or the reverse.

use crate::analyze::gpu::gpu_requests;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuMigResourceMismatch;

fn is_mig(r: &str) -> bool {
    r.starts_with("nvidia.com/mig-")
}

impl Rule for GpuMigResourceMismatch {
    fn id(&self) -> &'static str {
        "gpu.mig-resource-mismatch"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "MIG resources on the node while pods request nvidia.com/gpu, or the reverse"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  With MIG enabled and the device plugin's 'mixed' strategy, the node offers slices as their own
  resources (nvidia.com/mig-1g.10gb, nvidia.com/mig-3g.40gb) and no nvidia.com/gpu for the
  partitioned GPUs; with the 'single' strategy the slices are offered as nvidia.com/gpu. Pods
  here ask for the resource the node does not offer.

WHY IT MATTERS
  The scheduler sees 'Insufficient nvidia.com/gpu' although the GPUs are idle: the pod asks for
  a resource name that does not exist on the node. It happens after enabling MIG on a node pool
  without changing the workloads, or when the strategy differs between pools.

HOW TO CONFIRM
  kubectl get node NODE -o jsonpath='{.status.allocatable}'
  kubectl get node NODE -o jsonpath='{.metadata.labels.nvidia\\.com/mig\\.strategy}'
  nvidia-smi mig -lgi

WHAT TO CHANGE
  Request the slice the node offers (resources.limits: {nvidia.com/mig-1g.10gb: 1}), switch the
  strategy to single if workloads must keep asking for nvidia.com/gpu, or keep MIG off on the
  pool those workloads use."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // What this node offers: its API allocatable, else what the kubelet registered.
        let offered: Vec<String> = match snap.cluster.as_ref().and_then(|c| c.node.as_ref()) {
            Some(n) => n
                .allocatable
                .iter()
                .filter(|(k, v)| k.starts_with("nvidia.com/") && v.as_str() != "0")
                .map(|(k, _)| k.clone())
                .collect(),
            None => snap
                .gpu
                .checkpoint
                .as_ref()
                .map(|c| {
                    c.registered
                        .keys()
                        .filter(|k| k.starts_with("nvidia.com/"))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        };
        if offered.is_empty() {
            return;
        }
        let mig_offered = offered.iter().any(|r| is_mig(r));
        let whole_offered = offered.iter().any(|r| r == "nvidia.com/gpu");
        let Some(c) = &snap.cluster else { return };
        for p in c.pending.iter().chain(
            c.pods
                .iter()
                .filter(|p| p.phase.as_deref() == Some("Pending")),
        ) {
            let req = gpu_requests(p);
            let bad: Vec<&String> = req
                .keys()
                .filter(|r| {
                    (r.as_str() == "nvidia.com/gpu" && mig_offered && !whole_offered)
                        || (is_mig(r) && !mig_offered)
                })
                .collect();
            if bad.is_empty() {
                continue;
            }
            out.push(finding(
                self,
                Severity::Warning,
                format!(
                    "{}/{} requests {} but {} offers {}",
                    p.namespace,
                    p.name,
                    bad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    snap.hostname(),
                    offered.join(", ")
                ),
                Subject::pod(Some(p.namespace.clone()), Some(p.name.clone())).on_node(snap),
                serde_json::json!({ "requested": req, "offered": offered }),
                "request the MIG slice the node offers, or use the single strategy so slices appear as nvidia.com/gpu",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::{ApiContainer, ApiNode, ApiPod, Cluster};
    use crate::model::gpu::DeviceCheckpoint;

    fn wants(res: &str) -> ApiPod {
        ApiPod {
            uid: "p1".into(),
            namespace: "ml".into(),
            name: "train".into(),
            phase: Some("Pending".into()),
            containers: vec![ApiContainer {
                name: "cuda".into(),
                limits: [(res.to_string(), "1".to_string())].into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A node offering `offers` (resource, count) in its API allocatable, with `pod` Pending.
    fn node(offers: &[(&str, &str)], pod: ApiPod) -> Snapshot {
        let mut s = snap();
        s.cluster = Some(Cluster {
            source: "test".into(),
            node: Some(ApiNode {
                name: NODE.into(),
                allocatable: offers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }),
            pending: vec![pod],
            ..Default::default()
        });
        s
    }

    #[test]
    fn a_whole_gpu_asked_of_a_mig_only_node_fires() {
        let f = one(
            &GpuMigResourceMismatch,
            &node(&[("nvidia.com/mig-1g.10gb", "7")], wants("nvidia.com/gpu")),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "ml/train requests nvidia.com/gpu but node-a offers nvidia.com/mig-1g.10gb"
        );
    }

    #[test]
    fn a_mig_slice_asked_of_a_whole_gpu_node_fires() {
        assert_eq!(
            run(
                &GpuMigResourceMismatch,
                &node(&[("nvidia.com/gpu", "4")], wants("nvidia.com/mig-1g.10gb"))
            )
            .len(),
            1
        );
    }

    #[test]
    fn matching_or_mixed_offers_are_silent() {
        assert!(
            run(
                &GpuMigResourceMismatch,
                &node(&[("nvidia.com/gpu", "4")], wants("nvidia.com/gpu"))
            )
            .is_empty()
        );
        let mixed = [("nvidia.com/gpu", "1"), ("nvidia.com/mig-1g.10gb", "7")];
        assert!(
            run(
                &GpuMigResourceMismatch,
                &node(&mixed, wants("nvidia.com/gpu"))
            )
            .is_empty()
        );
        assert!(
            run(
                &GpuMigResourceMismatch,
                &node(&mixed, wants("nvidia.com/mig-1g.10gb"))
            )
            .is_empty()
        );
    }

    #[test]
    fn a_zero_offer_is_no_offer() {
        let offers = [("nvidia.com/gpu", "0"), ("nvidia.com/mig-1g.10gb", "7")];
        assert_eq!(
            run(
                &GpuMigResourceMismatch,
                &node(&offers, wants("nvidia.com/gpu"))
            )
            .len(),
            1
        );
    }

    #[test]
    fn without_the_api_node_the_kubelet_registration_is_the_offer() {
        let mut s = node(&[], wants("nvidia.com/gpu"));
        if let Some(c) = s.cluster.as_mut() {
            c.node = None;
        }
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: [(
                "nvidia.com/mig-2g.20gb".to_string(),
                vec!["MIG-0".to_string()],
            )]
            .into(),
            allocations: Vec::new(),
        });
        assert!(
            one(&GpuMigResourceMismatch, &s)
                .title
                .ends_with("offers nvidia.com/mig-2g.20gb")
        );
    }

    #[test]
    fn pods_bound_here_count_only_while_pending() {
        let mut s = node(&[("nvidia.com/mig-1g.10gb", "7")], wants("nvidia.com/gpu"));
        let bound = |s: &mut Snapshot, phase: &str| {
            if let Some(c) = s.cluster.as_mut() {
                let mut p = wants("nvidia.com/gpu");
                p.phase = Some(phase.into());
                c.pending.clear();
                c.pods = vec![p];
            }
        };
        bound(&mut s, "Pending");
        assert_eq!(run(&GpuMigResourceMismatch, &s).len(), 1);
        bound(&mut s, "Running");
        assert!(run(&GpuMigResourceMismatch, &s).is_empty());
    }

    #[test]
    fn nothing_offered_is_silent() {
        assert!(run(&GpuMigResourceMismatch, &node(&[], wants("nvidia.com/gpu"))).is_empty());
    }
}
