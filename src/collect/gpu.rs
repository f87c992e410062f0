//! GPUs from sysfs, procfs and the kernel log, so a node without nvidia-smi (or with a broken
//! driver) still says what it has: NVIDIA PCI devices (vendor 0x10de, class 0x0300 VGA or
//! 0x0302 3D), the driver bound to each, `/proc/driver/nvidia/version`, `/dev/nvidia*`, nouveau
//! in /proc/modules, `NVRM: Xid` records, and the device-plugin sockets the kubelet sees.

use super::Errors;
use crate::model::KmsgRecord;
use crate::model::gpu::{Gpu, PciGpu, Xid};
use crate::source::{EntryKind, Host, join};

const PCI: &str = "/sys/bus/pci/devices";
const NVIDIA: &str = "0x10de";

pub(super) fn collect(
    host: &dyn Host,
    kubelet_root: &str,
    kernel_log: &[KmsgRecord],
    _errs: &mut Errors,
) -> Gpu {
    let mut g = Gpu::default();
    let read = |p: &str| host.read_string(p).ok().map(|s| s.trim().to_string());
    if let Ok(devs) = host.read_dir(PCI) {
        for d in devs {
            let base = join(PCI, &d.name);
            if read(&join(&base, "vendor")).as_deref() != Some(NVIDIA) {
                continue;
            }
            let class = read(&join(&base, "class")).unwrap_or_default();
            if !(class.starts_with("0x0300") || class.starts_with("0x0302")) {
                continue;
            }
            g.devices.push(PciGpu {
                address: d.name.clone(),
                device: read(&join(&base, "device")).unwrap_or_default(),
                class,
                driver: host
                    .read_link(&join(&base, "driver"))
                    .ok()
                    .and_then(|t| t.rsplit('/').next().map(String::from)),
            });
        }
    }
    g.driver_version = read("/proc/driver/nvidia/version")
        .and_then(|v| v.lines().next().map(|l| l.trim().to_string()));
    if let Ok(dev) = host.read_dir("/dev") {
        g.dev_nodes = dev
            .into_iter()
            .filter(|e| e.name.starts_with("nvidia"))
            .map(|e| join("/dev", &e.name))
            .collect();
    }
    g.nouveau_loaded = read("/proc/modules").is_some_and(|m| {
        m.lines()
            .any(|l| l.split_whitespace().next() == Some("nouveau"))
    });
    g.xids = kernel_log.iter().filter_map(parse_xid).collect();
    let dp = join(kubelet_root, "device-plugins");
    if let Ok(entries) = host.read_dir(&dp) {
        g.device_plugin_sockets = entries
            .into_iter()
            .filter(|e| {
                e.kind != EntryKind::Dir && e.name.ends_with(".sock") && e.name != "kubelet.sock"
            })
            .map(|e| e.name)
            .collect();
    }
    g
}

/// An `NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.`
/// record (the format of NVIDIA's driver since R3xx; older drivers omit pid and name).
pub fn parse_xid(r: &KmsgRecord) -> Option<Xid> {
    let rest = r.message.split_once("NVRM: Xid (")?.1;
    let (device, rest) = rest.split_once("):")?;
    let rest = rest.trim_start();
    let (num, msg) = rest.split_once(',').unwrap_or((rest, ""));
    Some(Xid {
        usec: r.usec,
        device: device.to_string(),
        xid: num.trim().parse().ok()?,
        message: msg.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(m: &str) -> KmsgRecord {
        KmsgRecord {
            level: 4,
            facility: 0,
            seq: 1,
            usec: 5,
            message: m.into(),
        }
    }

    #[test]
    fn xid_lines_old_and_new() {
        let x = parse_xid(&rec(
            "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.",
        ))
        .expect("xid");
        assert_eq!((x.device.as_str(), x.xid), ("PCI:0000:3b:00", 79));
        assert!(x.message.starts_with("pid=1234"));
        let x = parse_xid(&rec("NVRM: Xid (0000:00:1e): 13, Graphics Exception")).expect("xid");
        assert_eq!(x.xid, 13);
        assert!(
            parse_xid(&rec(
                "NVRM: loading NVIDIA UNIX x86_64 Kernel Module 550.54.15"
            ))
            .is_none()
        );
        assert!(parse_xid(&rec("NVRM: Xid (PCI:0000:3b:00): notanumber")).is_none());
    }
}
