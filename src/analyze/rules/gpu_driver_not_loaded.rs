//! `gpu.driver-not-loaded`: NVIDIA GPUs on the bus, no NVIDIA driver to drive them.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuDriverNotLoaded;

impl Rule for GpuDriverNotLoaded {
    fn id(&self) -> &'static str {
        "gpu.driver-not-loaded"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "NVIDIA PCI devices are present but the NVIDIA driver is not loaded"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The PCI bus has NVIDIA display or 3D controllers (vendor 0x10de, class 0x0300 or 0x0302) but
  /proc/driver/nvidia does not exist or there is no /dev/nvidia* node: the NVIDIA kernel module
  is not loaded, or another driver (nouveau, vfio-pci) owns the devices.

WHY IT MATTERS
  Without the driver nothing above it works: the container toolkit cannot inject the GPU, the
  device plugin registers no nvidia.com/gpu, the node's allocatable has no GPUs, and every GPU
  pod stays Pending with 'Insufficient nvidia.com/gpu' while the machine has GPUs.

HOW TO CONFIRM
  lspci -nnk -d 10de:          (Kernel driver in use:)
  lsmod | grep -e nvidia -e nouveau
  cat /proc/driver/nvidia/version; ls /dev/nvidia*
  kubectl -n gpu-operator logs ds/nvidia-driver-daemonset

WHAT TO CHANGE
  Blacklist nouveau (modprobe.blacklist=nouveau, then rebuild the initramfs and reboot), and let
  the GPU operator's driver daemonset, or the node image, install and load a driver that matches
  the kernel (kernel headers present; Secure Boot signing where it is on)."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let g = &snap.gpu;
        if g.devices.is_empty() || (g.driver_version.is_some() && !g.dev_nodes.is_empty()) {
            return;
        }
        for d in &g.devices {
            let bound = d.driver.as_deref().unwrap_or("no driver");
            out.push(finding(
                self,
                Severity::Critical,
                format!(
                    "NVIDIA GPU {} (device {}) is bound to {bound}; {}{}",
                    d.address,
                    d.device,
                    if g.driver_version.is_none() { "/proc/driver/nvidia is missing" } else { "no /dev/nvidia* node" },
                    if g.nouveau_loaded { "; nouveau is loaded" } else { "" }
                ),
                Subject::node(snap).with_device(d.address.clone()),
                serde_json::json!({
                    "device": d,
                    "driver_version": g.driver_version,
                    "dev_nodes": g.dev_nodes,
                    "nouveau_loaded": g.nouveau_loaded,
                }),
                if g.nouveau_loaded {
                    "blacklist nouveau and install/load the NVIDIA driver (GPU operator driver daemonset or the node image)"
                } else {
                    "install and load the NVIDIA driver for this kernel (GPU operator driver daemonset or the node image)"
                },
            ));
        }
    }
}
