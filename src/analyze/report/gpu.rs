//! The `nodescope gpu` report: the node's GPUs (PCI, driver, NVML), which pod holds each device
//! the kubelet handed out, the GPU operator's chain, and every Pending GPU pod with each reason
//! it does not schedule and the one change that would. `render/gpu.rs` prints it, the TUI's GPU
//! view shows it, and `--format json` is this struct (docs/schema/nodescope-gpu.schema.json).

use crate::analyze::Finding;
use crate::analyze::gpu::{self, Component, PendingDiagnosis};
use crate::analyze::gpu_memory::{self, GpuMemory};
use crate::model::gpu::{DriverGpu, Nvml, PciGpu, Xid};
use crate::model::{CollectError, Snapshot, pod_ref};
use serde::Serialize;

/// The JSON schema name of `nodescope gpu --format json`.
pub const GPU_SCHEMA: &str = "nodescope-gpu/1";

/// What `holder` says of a device no container holds.
pub const FREE: &str = "free";

/// `nodescope gpu --format json`. The field names are those of `nodescope-gpu/1` as first
/// shipped (an untyped object then): scripts keep working.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct GpuReport {
    /// Always `nodescope-gpu/1` for this shape.
    pub schema: &'static str,
    pub node: String,
    pub taken_at: jiff::Timestamp,
    /// NVIDIA devices on the PCI bus (vendor 0x10de) and the driver bound to each.
    pub devices: Vec<PciGpu>,
    /// `/proc/driver/nvidia/version`'s first line; `None` when the driver is not loaded.
    pub driver_version: Option<String>,
    /// `/proc/driver/nvidia/gpus/*/information`: model and UUID by PCI address.
    pub driver_gpus: Vec<DriverGpu>,
    /// What NVML answered, when it was asked.
    pub nvml: Option<Nvml>,
    /// Memory of each GPU and MIG instance NVML answered for, with the processes holding it
    /// joined to their pods (`analyze::gpu_memory`); empty without NVML.
    pub memory: Vec<GpuMemory>,
    /// Xid errors the driver logged to the kernel log, oldest first.
    pub xids: Vec<Xid>,
    /// Device-plugin sockets registered with the kubelet.
    pub device_plugin_sockets: Vec<String>,
    /// Each device a plugin registered and who holds it (the kubelet's device checkpoint).
    pub allocation: Vec<Allocation>,
    /// The GPU operator's pods on this node, in dependency order.
    pub operator: Vec<Component>,
    /// The operator validator's status files present.
    pub validations: Vec<String>,
    /// Every Pending pod asking for a GPU, with every reason (needs cluster data).
    pub pending: Vec<PendingDiagnosis>,
    /// The `gpu.*` findings.
    pub findings: Vec<Finding>,
    /// What could not be collected, and why.
    pub errors: Vec<CollectError>,
}

/// One device a device plugin registered with the kubelet, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Allocation {
    /// The extended resource (`nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`).
    pub resource: String,
    /// The plugin's device id (a GPU UUID, a MIG device, a time-slicing replica).
    pub device: String,
    /// `namespace/pod (container)`, `pod <uid> (container)` when the pod's name is unknown,
    /// or `free`.
    pub holder: String,
}

/// Builds the report. `findings` are all findings of the snapshot; the `gpu.*` ones are kept.
pub fn build(snap: &Snapshot, findings: &[Finding]) -> GpuReport {
    let g = &snap.gpu;
    GpuReport {
        schema: GPU_SCHEMA,
        node: snap.hostname().to_string(),
        taken_at: snap.taken_at,
        devices: g.devices.clone(),
        driver_version: g.driver_version.clone(),
        driver_gpus: g.driver_gpus.clone(),
        nvml: g.nvml.clone(),
        memory: gpu_memory::devices(snap),
        xids: g.xids.clone(),
        device_plugin_sockets: g.device_plugin_sockets.clone(),
        allocation: allocation(snap),
        operator: gpu::operator_components(snap),
        validations: g.validations.clone(),
        pending: gpu::pending(snap),
        findings: findings
            .iter()
            .filter(|f| f.id.starts_with("gpu."))
            .cloned()
            .collect(),
        errors: snap.errors.clone(),
    }
}

/// Every registered device with its holder, in the checkpoint's resource order.
fn allocation(snap: &Snapshot) -> Vec<Allocation> {
    let Some(cp) = &snap.gpu.checkpoint else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (resource, ids) in &cp.registered {
        for id in ids {
            let holder = cp
                .allocations
                .iter()
                .find(|a| &a.resource == resource && a.device_ids.contains(id))
                .map_or_else(
                    || FREE.to_string(),
                    |a| format!("{} ({})", pod_name(snap, &a.pod_uid), a.container),
                );
            out.push(Allocation {
                resource: resource.clone(),
                device: id.clone(),
                holder,
            });
        }
    }
    out
}

/// A pod's name from the node's own pods, else from the API server's, else its uid.
fn pod_name(snap: &Snapshot, uid: &str) -> String {
    if let Some(p) = snap.pods.iter().find(|p| p.uid == uid)
        && p.namespace.is_some()
        && p.name.is_some()
    {
        return pod_ref(p.namespace.as_deref(), p.name.as_deref(), uid);
    }
    let api = snap
        .cluster
        .as_ref()
        .and_then(|c| c.pods.iter().find(|p| p.uid == uid));
    match api {
        Some(p) => pod_ref(Some(&p.namespace), Some(&p.name), uid),
        None => pod_ref(None, None, uid),
    }
}

/// The JSON Schema of `nodescope gpu --format json`.
pub fn gpu_schema() -> String {
    super::schema_json::<GpuReport>()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::model::gpu::{DeviceAllocation, DeviceCheckpoint};

    fn snap_with_checkpoint() -> Snapshot {
        let mut s = crate::analyze::testkit::snapshot();
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: [(
                "nvidia.com/gpu".to_string(),
                vec!["GPU-a".to_string(), "GPU-b".to_string()],
            )]
            .into(),
            allocations: vec![DeviceAllocation {
                pod_uid: "u-1".into(),
                container: "main".into(),
                resource: "nvidia.com/gpu".into(),
                device_ids: vec!["GPU-b".into()],
            }],
        });
        s
    }

    #[test]
    fn a_holder_whose_name_is_unknown_is_named_by_uid_and_the_rest_are_free() {
        let r = build(&snap_with_checkpoint(), &[]);
        let got: Vec<(&str, &str)> = r
            .allocation
            .iter()
            .map(|a| (a.device.as_str(), a.holder.as_str()))
            .collect();
        assert_eq!(got, [("GPU-a", "free"), ("GPU-b", "pod u-1 (main)")]);
        assert_eq!(r.schema, "nodescope-gpu/1");
    }
}
