//! GPUs from sysfs, procfs and the kernel log, so a node without nvidia-smi (or with a broken
//! driver) still says what it has: NVIDIA PCI devices (vendor 0x10de, class 0x0300 VGA or
//! 0x0302 3D), the driver bound to each, `/proc/driver/nvidia/version`, `/dev/nvidia*`, nouveau
//! in /proc/modules, `NVRM: Xid` records, and the device-plugin sockets the kubelet sees.

use super::Errors;
use crate::model::KmsgRecord;
use crate::model::gpu::{DeviceAllocation, DeviceCheckpoint, DriverGpu, Gpu, PciGpu, Xid};
use crate::source::{EntryKind, Host, join};

const PCI: &str = "/sys/bus/pci/devices";
const NVIDIA: &str = "0x10de";
/// The kubelet's `--root-dir` when no flag sets it.
pub(super) const DEFAULT_KUBELET_ROOT: &str = "/var/lib/kubelet";

pub(super) fn collect(
    host: &dyn Host,
    kubelet_root: &str,
    kernel_log: &[KmsgRecord],
    errs: &mut Errors,
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
    if let Ok(gpus) = host.read_dir("/proc/driver/nvidia/gpus") {
        for d in gpus {
            if let Ok(text) =
                host.read_string(&format!("/proc/driver/nvidia/gpus/{}/information", d.name))
            {
                g.driver_gpus.push(parse_information(&text));
            }
        }
    }
    let cp = join(&dp, "kubelet_internal_checkpoint");
    if let Some(real) = checkpoint_path(host, kubelet_root, &cp, errs) {
        match host.read(&real) {
            Ok(raw) => match parse_checkpoint(&raw) {
                Ok(c) => {
                    // What the kubelet would refuse is still what the file says: keep it, say so.
                    if let Some(why) = super::checkpoint_checksum::device_checkpoint_mismatch(&raw)
                    {
                        errs.invalid("gpu", &real, None, why);
                    }
                    g.checkpoint = Some(c);
                }
                Err(e) => errs.unparsed(host, "gpu", &real, None, e),
            },
            Err(e) => errs.unless_missing("gpu", &e),
        }
    }
    if let Ok(v) = host.read_dir("/run/nvidia/validations") {
        g.validations = v
            .into_iter()
            .map(|e| e.name)
            .filter(|n| n.ends_with("-ready"))
            .collect();
    }
    // NVML only where there is something for it to see.
    if !g.devices.is_empty() || g.driver_version.is_some() {
        g.nvml = host.nvml();
    }
    g
}

/// Where to read the device manager's checkpoint: at the kubelet's default root as is; under
/// a root the kubelet's `--root-dir` names, only once root alone can write it
/// (collect::trust). A checkpoint that is not there is no error.
fn checkpoint_path(
    host: &dyn Host,
    kubelet_root: &str,
    cp: &str,
    errs: &mut Errors,
) -> Option<String> {
    if kubelet_root == DEFAULT_KUBELET_ROOT {
        return Some(cp.to_string());
    }
    let named = super::trust::Named {
        path: cp,
        by: "the kubelet's --root-dir",
        want: crate::source::vet::Want::File,
        report_missing: false,
    };
    super::trust::vetted(host, &named, "gpu", errs)
}

/// `/proc/driver/nvidia/gpus/<bus>/information`: `Key: value` lines (`Model`, `GPU UUID`,
/// `Bus Location`, `Device Minor`, and since R470 `GPU Excluded`). Older drivers lack some keys.
pub fn parse_information(text: &str) -> DriverGpu {
    let mut g = DriverGpu::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Model" => g.model = Some(v.to_string()),
            "GPU UUID" => g.uuid = Some(v.to_string()),
            "Bus Location" => g.bus_location = Some(v.to_string()),
            "Device Minor" => g.minor = v.parse().ok(),
            "GPU Excluded" => g.excluded = v.eq_ignore_ascii_case("yes"),
            _ => {}
        }
    }
    g
}

/// The kubelet's device-manager checkpoint (kubernetes/kubernetes
/// `pkg/kubelet/cm/devicemanager/checkpoint/checkpoint.go`):
/// `{"Data": {"PodDeviceEntries": [...], "RegisteredDevices": {...}}, "Checksum": N}`.
/// `DeviceIDs` is a map from NUMA node to ids in current kubelets and a flat list in the old
/// (pre-1.20) format; both read the same. The checksum is checked apart
/// ([`super::checkpoint_checksum::device_checkpoint_mismatch`]).
pub fn parse_checkpoint(raw: &[u8]) -> Result<DeviceCheckpoint, String> {
    let v: serde_json::Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let data = v.get("Data").ok_or("no Data object")?;
    let mut c = DeviceCheckpoint::default();
    if let Some(reg) = data.get("RegisteredDevices").and_then(|r| r.as_object()) {
        for (res, ids) in reg {
            let ids: Vec<String> = ids
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            c.registered.insert(res.clone(), ids);
        }
    }
    for e in data
        .get("PodDeviceEntries")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let s = |k: &str| {
            e.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut ids: Vec<String> = match e.get("DeviceIDs") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Some(serde_json::Value::Object(m)) => m
                .values()
                .flat_map(|v| v.as_array().into_iter().flatten())
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        ids.sort();
        c.allocations.push(DeviceAllocation {
            pod_uid: s("PodUID"),
            container: s("ContainerName"),
            resource: s("ResourceName"),
            device_ids: ids,
        });
    }
    Ok(c)
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
    fn checkpoint_current_and_old_formats() {
        let new = br#"{"Data":{"PodDeviceEntries":[{"PodUID":"u1","ContainerName":"trainer","ResourceName":"nvidia.com/gpu","DeviceIDs":{"0":["GPU-b"],"1":["GPU-a"]},"AllocResp":"CgQKAg=="}],"RegisteredDevices":{"nvidia.com/gpu":["GPU-a","GPU-b"]}},"Checksum":1234567890}"#;
        let c = parse_checkpoint(new).expect("parse");
        assert_eq!(c.registered["nvidia.com/gpu"], ["GPU-a", "GPU-b"]);
        assert_eq!(c.allocations[0].device_ids, ["GPU-a", "GPU-b"]);
        assert_eq!(c.allocations[0].container, "trainer");
        let old = br#"{"Data":{"PodDeviceEntries":[{"PodUID":"u2","ContainerName":"c","ResourceName":"nvidia.com/gpu","DeviceIDs":["GPU-c"],"AllocResp":""}],"RegisteredDevices":{"nvidia.com/gpu":["GPU-c"]}},"Checksum":1}"#;
        assert_eq!(
            parse_checkpoint(old).expect("parse").allocations[0].device_ids,
            ["GPU-c"]
        );
        assert!(parse_checkpoint(b"{}").is_err());
        assert!(parse_checkpoint(b"not json").is_err());
        let empty = br#"{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{}},"Checksum":0}"#;
        assert!(
            parse_checkpoint(empty)
                .expect("parse")
                .allocations
                .is_empty()
        );
    }

    #[test]
    fn information_files_across_driver_versions() {
        let r535 = "Model: \t\t NVIDIA A10G\nIRQ:   \t\t 39\nGPU UUID: \t GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c0b\nVideo BIOS: \t 94.02.75.00.01\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t 0000:00:1e.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n";
        let g = parse_information(r535);
        assert_eq!(g.model.as_deref(), Some("NVIDIA A10G"));
        assert_eq!(
            g.uuid.as_deref(),
            Some("GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c0b")
        );
        assert_eq!(
            (g.bus_location.as_deref(), g.minor, g.excluded),
            (Some("0000:00:1e.0"), Some(0), false)
        );
        // R418: no GPU Excluded line.
        let r418 = "Model: \t\t Tesla T4\nIRQ:   \t\t 11\nGPU UUID: \t GPU-aa\nVideo BIOS: \t 90.04.38.00.03\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t 0000:00:04.0\nDevice Minor: \t 0\n";
        assert_eq!(parse_information(r418).model.as_deref(), Some("Tesla T4"));
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
