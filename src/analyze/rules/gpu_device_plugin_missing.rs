//! `gpu.device-plugin-missing`: the driver works, but the kubelet has no NVIDIA device plugin.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuDevicePluginMissing;

impl Rule for GpuDevicePluginMissing {
    fn id(&self) -> &'static str {
        "gpu.device-plugin-missing"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the NVIDIA driver is loaded but no NVIDIA device plugin is registered"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The NVIDIA driver is loaded (/proc/driver/nvidia exists), but the kubelet's device-plugins
  directory has no nvidia socket beside kubelet.sock and its checkpoint registers no nvidia.com/
  resource: no device plugin told the kubelet about the GPUs.

WHY IT MATTERS
  The kubelet advertises only what a device plugin registers. Without one, the node's
  allocatable has no nvidia.com/gpu and the scheduler reports 'Insufficient nvidia.com/gpu' for
  every GPU pod, although nvidia-smi works on the node.

HOW TO CONFIRM
  ls /var/lib/kubelet/device-plugins/
  kubectl get node NODE -o jsonpath='{.status.allocatable}'
  kubectl -n gpu-operator get pods -o wide | grep device-plugin
  kubectl get node NODE --show-labels | tr , '\\n' | grep nvidia   (a nodeSelector may exclude it)

WHAT TO CHANGE
  Deploy the NVIDIA device plugin (or fix the GPU operator's device-plugin daemonset: its node
  selector, the toolkit it waits for, its logs), then check allocatable again."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let g = &snap.gpu;
        if g.driver_version.is_none() {
            return;
        }
        let socket = g.device_plugin_sockets.iter().any(|s| s.contains("nvidia"));
        let registered = g
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.registered.keys().any(|k| k.starts_with("nvidia.com/")));
        if socket || registered {
            return;
        }
        out.push(finding(
            self,
            Severity::Critical,
            format!(
                "driver {} is loaded for {} GPU(s) but no NVIDIA device plugin is registered with the kubelet",
                g.driver_version.as_deref().map_or("?".to_string(), crate::analyze::gpu::driver_release),
                g.devices.len().max(g.driver_gpus.len())
            ),
            Subject::node(snap),
            serde_json::json!({
                "sockets": g.device_plugin_sockets,
                "registered": g.checkpoint.as_ref().map(|c| c.registered.keys().cloned().collect::<Vec<_>>()),
            }),
            "deploy the NVIDIA device plugin (or fix the GPU operator's device-plugin daemonset)",
        ));
    }
}
