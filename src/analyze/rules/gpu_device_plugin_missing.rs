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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::DeviceCheckpoint;

    const VERSION: &str =
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct 29 2024";

    fn node() -> Snapshot {
        let mut s = snap();
        s.gpu.driver_version = Some(VERSION.into());
        s.gpu.device_plugin_sockets = vec!["kubelet.sock".into()];
        s
    }

    #[test]
    fn a_loaded_driver_with_no_plugin_fires() {
        let f = one(&GpuDevicePluginMissing, &node());
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "driver 550.127.05 is loaded for 0 GPU(s) but no NVIDIA device plugin is registered with the kubelet"
        );
    }

    #[test]
    fn a_plugin_socket_or_a_registration_is_enough() {
        let mut s = node();
        s.gpu.device_plugin_sockets.push("nvidia-gpu.sock".into());
        assert!(run(&GpuDevicePluginMissing, &s).is_empty());
        let mut s = node();
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: [("nvidia.com/gpu".to_string(), vec!["GPU-0".to_string()])].into(),
            allocations: Vec::new(),
        });
        assert!(run(&GpuDevicePluginMissing, &s).is_empty());
    }

    #[test]
    fn another_vendors_registration_is_not_nvidias() {
        let mut s = node();
        s.gpu.device_plugin_sockets.push("amd.sock".into());
        s.gpu.checkpoint = Some(DeviceCheckpoint {
            registered: [("amd.com/gpu".to_string(), vec!["0".to_string()])].into(),
            allocations: Vec::new(),
        });
        assert_eq!(run(&GpuDevicePluginMissing, &s).len(), 1);
    }

    #[test]
    fn no_driver_is_another_rules_finding() {
        let mut s = node();
        s.gpu.driver_version = None;
        assert!(run(&GpuDevicePluginMissing, &s).is_empty());
    }
}
