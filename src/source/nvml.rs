//! NVML through nvml-wrapper, loaded at run time: a node without libnvidia-ml (or a static
//! nodescope on any machine without an NVIDIA driver) gets the reason, not a failure to start.

use crate::model::gpu::{Nvml, NvmlDevice};
use std::path::Path;

/// Where the driver installs libnvidia-ml on the distributions GPU nodes run.
const LIBS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "usr/lib64/libnvidia-ml.so.1",
    "usr/lib/libnvidia-ml.so.1",
    "run/nvidia/driver/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
];

/// Asks NVML on the node under `root`: the library from the node's own filesystem when the
/// root is not `/` (a debug pod), else the dynamic loader's search.
pub fn query(root: &Path) -> Nvml {
    let found = LIBS.iter().map(|l| root.join(l)).find(|p| p.exists());
    let mut b = nvml_wrapper::Nvml::builder();
    if let Some(p) = &found {
        b.lib_path(p.as_os_str());
    } else if root != Path::new("/") {
        return Nvml {
            unavailable: Some(format!("no libnvidia-ml.so.1 under {}", root.display())),
            ..Nvml::default()
        };
    }
    let nvml = match b.init() {
        Ok(n) => n,
        Err(e) => {
            return Nvml {
                unavailable: Some(format!("NVML could not be loaded: {e}")),
                ..Nvml::default()
            };
        }
    };
    let mut out = Nvml {
        driver_version: nvml.sys_driver_version().ok(),
        ..Nvml::default()
    };
    let count = nvml.device_count().unwrap_or(0);
    for i in 0..count {
        let Ok(d) = nvml.device_by_index(i) else {
            continue;
        };
        let mem = d.memory_info().ok();
        out.devices.push(NvmlDevice {
            index: i,
            name: d.name().ok(),
            uuid: d.uuid().ok(),
            memory_total_bytes: mem.as_ref().map(|m| m.total),
            memory_used_bytes: mem.as_ref().map(|m| m.used),
            utilization_percent: d.utilization_rates().ok().map(|u| u.gpu),
            mig_enabled: d.mig_mode().ok().map(|m| m.current == 1),
            ecc_uncorrected: d
                .total_ecc_errors(
                    nvml_wrapper::enum_wrappers::device::MemoryError::Uncorrected,
                    nvml_wrapper::enum_wrappers::device::EccCounter::Volatile,
                )
                .ok(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI machines have no NVIDIA driver: the absent-library branch must say why.
    #[test]
    fn without_the_library_nvml_says_why() {
        let d = tempfile::tempdir().expect("tempdir");
        let n = query(d.path());
        assert!(
            n.unavailable
                .as_deref()
                .is_some_and(|u| u.contains("libnvidia-ml")),
            "{n:?}"
        );
        if !Path::new("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1").exists() {
            let n = query(Path::new("/"));
            assert!(n.unavailable.is_some(), "{n:?}");
            assert!(n.devices.is_empty());
        }
    }
}
