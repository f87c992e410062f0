//! `gpu.all-allocated`: every GPU the kubelet registered is held by a pod.

use crate::analyze::gpu::local_allocation;
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuAllAllocated;

impl Rule for GpuAllAllocated {
    fn id(&self) -> &'static str {
        "gpu.all-allocated"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "every GPU (or MIG slice) the node registered is allocated to a pod"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  In the kubelet's device-manager checkpoint, every device a plugin registered for an
  nvidia.com/ resource is allocated to a container. GPUs are not shared unless time-slicing or
  MPS says so: one device, one container.

WHY IT MATTERS
  New GPU pods cannot land here until one finishes. Idle notebooks, finished jobs whose pods
  were not deleted, and pods that request a whole GPU for a small model hold devices nobody uses.

HOW TO CONFIRM
  cat /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint | jq .Data.PodDeviceEntries
  kubectl get pods -A -o wide --field-selector spec.nodeName=NODE
  nvidia-smi   (which processes actually use each GPU)

WHAT TO CHANGE
  Delete finished or idle GPU pods, right-size requests (MIG slices or time-slicing for small
  workloads), or add GPU capacity."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(cp) = &snap.gpu.checkpoint else {
            return;
        };
        for res in cp
            .registered
            .keys()
            .filter(|k| k.starts_with("nvidia.com/"))
        {
            let Some((reg, held)) = local_allocation(snap, res) else {
                continue;
            };
            if reg == 0 || held < reg {
                continue;
            }
            let holders: Vec<serde_json::Value> = cp
                .allocations
                .iter()
                .filter(|a| &a.resource == res)
                .map(|a| {
                    let local = snap.pods.iter().find(|p| p.uid == a.pod_uid);
                    let api = snap.cluster.as_ref().and_then(|c| c.pods.iter().find(|p| p.uid == a.pod_uid));
                    serde_json::json!({
                        "namespace": local.and_then(|p| p.namespace.clone()).or_else(|| api.map(|p| p.namespace.clone())),
                        "pod": local.and_then(|p| p.name.clone()).or_else(|| api.map(|p| p.name.clone())),
                        "pod_uid": a.pod_uid,
                        "container": a.container,
                        "devices": a.device_ids,
                    })
                })
                .collect();
            out.push(finding(
                self,
                Severity::Warning,
                format!("all {reg} {res} on {} are allocated ({} container(s) hold them)", snap.hostname(), holders.len()),
                Subject::node(snap),
                serde_json::json!({
                    "resource": res,
                    "registered": reg,
                    "allocated": held,
                    "holders": holders,
                    // GPU feature discovery labels a time-sliced GPU with its replica count.
                    "time_slicing_replicas": snap.cluster.as_ref().and_then(|c| c.node.as_ref()).and_then(|n| n.labels.get("nvidia.com/gpu.replicas").cloned()),
                }),
                "delete finished or idle GPU pods, share GPUs (MIG, time-slicing) for small workloads, or add GPU capacity",
            ));
        }
    }
}
