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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::{DeviceAllocation, DeviceCheckpoint};

    fn alloc(uid: &str, res: &str, ids: &[&str]) -> DeviceAllocation {
        DeviceAllocation {
            pod_uid: uid.into(),
            container: "cuda".into(),
            resource: res.into(),
            device_ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// 4 GPUs registered; `allocs` hold some of them.
    fn node(allocs: Vec<DeviceAllocation>) -> Snapshot {
        let mut s = snap();
        s.pods.push(pod("ml", "train", "u1"));
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: [(
                "nvidia.com/gpu".to_string(),
                vec![
                    "GPU-0".into(),
                    "GPU-1".into(),
                    "GPU-2".into(),
                    "GPU-3".into(),
                ],
            )]
            .into(),
            allocations: allocs,
        });
        s
    }

    #[test]
    fn every_registered_gpu_held_fires_and_one_free_does_not() {
        let f = one(
            &GpuAllAllocated,
            &node(vec![
                alloc("u1", "nvidia.com/gpu", &["GPU-0", "GPU-1"]),
                alloc("u2", "nvidia.com/gpu", &["GPU-2", "GPU-3"]),
            ]),
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "all 4 nvidia.com/gpu on node-a are allocated (2 container(s) hold them)"
        );
        assert_eq!(f.evidence["holders"][0]["pod"], "train");
        assert!(
            run(
                &GpuAllAllocated,
                &node(vec![alloc(
                    "u1",
                    "nvidia.com/gpu",
                    &["GPU-0", "GPU-1", "GPU-2"]
                )])
            )
            .is_empty()
        );
    }

    #[test]
    fn a_device_held_twice_counts_once() {
        // Init containers and their app containers may list the same device.
        let s = node(vec![
            alloc("u1", "nvidia.com/gpu", &["GPU-0", "GPU-1", "GPU-2"]),
            alloc("u1", "nvidia.com/gpu", &["GPU-0"]),
        ]);
        assert!(run(&GpuAllAllocated, &s).is_empty());
    }

    #[test]
    fn other_vendors_and_other_resources_do_not_count() {
        let mut s = node(vec![alloc(
            "u1",
            "nvidia.com/mig-1g.10gb",
            &["GPU-0", "GPU-1", "GPU-2", "GPU-3"],
        )]);
        assert!(run(&GpuAllAllocated, &s).is_empty());
        if let Some(c) = s.gpu.checkpoint.as_mut() {
            c.registered = [("amd.com/gpu".to_string(), vec!["0".to_string()])].into();
            c.allocations = vec![alloc("u1", "amd.com/gpu", &["0"])];
        }
        assert!(run(&GpuAllAllocated, &s).is_empty());
    }

    #[test]
    fn nothing_registered_is_not_all_allocated() {
        let mut s = node(Vec::new());
        if let Some(c) = s.gpu.checkpoint.as_mut() {
            c.registered.insert("nvidia.com/gpu".into(), Vec::new());
        }
        assert!(run(&GpuAllAllocated, &s).is_empty());
        assert!(run(&GpuAllAllocated, &snap()).is_empty());
    }
}
