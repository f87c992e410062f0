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
