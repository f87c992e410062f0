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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::gpu::PciGpu;

    fn node(driver: bool, dev_nodes: bool) -> Snapshot {
        let mut s = snap();
        s.gpu.devices = vec![PciGpu {
            address: "0000:3b:00.0".into(),
            device: "0x20b0".into(),
            class: "0x030200".into(),
            driver: None,
        }];
        if driver {
            s.gpu.driver_version =
                Some("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05".into());
        }
        if dev_nodes {
            s.gpu.dev_nodes = vec!["/dev/nvidia0".into(), "/dev/nvidiactl".into()];
        }
        s
    }

    #[test]
    fn a_gpu_with_no_driver_fires_per_device() {
        let f = one(&GpuDriverNotLoaded, &node(false, false));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.title,
            "NVIDIA GPU 0000:3b:00.0 (device 0x20b0) is bound to no driver; /proc/driver/nvidia is missing"
        );
        assert_eq!(f.subject.device.as_deref(), Some("0000:3b:00.0"));
    }

    #[test]
    fn a_driver_without_device_nodes_fires_and_with_them_is_silent() {
        let f = one(&GpuDriverNotLoaded, &node(true, false));
        assert!(f.title.ends_with("; no /dev/nvidia* node"), "{}", f.title);
        assert!(run(&GpuDriverNotLoaded, &node(true, true)).is_empty());
    }

    #[test]
    fn device_nodes_without_the_driver_still_fire() {
        assert_eq!(run(&GpuDriverNotLoaded, &node(false, true)).len(), 1);
    }

    #[test]
    fn nouveau_changes_the_remedy() {
        let mut s = node(false, false);
        s.gpu.nouveau_loaded = true;
        s.gpu.devices[0].driver = Some("nouveau".into());
        let f = one(&GpuDriverNotLoaded, &s);
        assert!(
            f.title.contains("bound to nouveau;") && f.title.ends_with("; nouveau is loaded"),
            "{}",
            f.title
        );
        assert!(f.remedy.starts_with("blacklist nouveau"), "{}", f.remedy);
    }

    #[test]
    fn no_nvidia_gpu_no_finding() {
        let mut s = node(false, false);
        s.gpu.devices.clear();
        assert!(run(&GpuDriverNotLoaded, &s).is_empty());
    }
}
