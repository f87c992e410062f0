//! The node's GPU stack as far as the kernel and the kubelet show it, with no NVIDIA tool
//! installed: PCI devices, the driver, device nodes, Xid errors, device-plugin sockets.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gpu {
    /// NVIDIA display or 3D controllers on the PCI bus.
    pub devices: Vec<PciGpu>,
    /// First line of `/proc/driver/nvidia/version`, when the driver is loaded.
    pub driver_version: Option<String>,
    /// `/dev/nvidia*` nodes.
    pub dev_nodes: Vec<String>,
    /// `nouveau` is in /proc/modules (it keeps the NVIDIA driver from binding).
    pub nouveau_loaded: bool,
    /// `NVRM: Xid` records from the kernel log, oldest first.
    pub xids: Vec<Xid>,
    /// Sockets beside `kubelet.sock` in the kubelet's device-plugins directory.
    pub device_plugin_sockets: Vec<String>,
}

/// One PCI GPU (`/sys/bus/pci/devices/<address>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PciGpu {
    /// `0000:3b:00.0`.
    pub address: String,
    /// PCI device id, `0x20b0`.
    pub device: String,
    /// PCI class, `0x030200` (3D controller) or `0x030000` (VGA).
    pub class: String,
    /// The bound kernel driver (`nvidia`, `nouveau`, `vfio-pci`), from the `driver` link.
    pub driver: Option<String>,
}

/// An NVIDIA Xid error: `NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has fallen off the bus.`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Xid {
    /// Microseconds since boot.
    pub usec: u64,
    /// `PCI:0000:3b:00`.
    pub device: String,
    pub xid: u32,
    pub message: String,
}
