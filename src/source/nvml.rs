//! NVML through nvml-wrapper, loaded at run time: a node without libnvidia-ml (or a static
//! nodescope on any machine without an NVIDIA driver) gets the reason, not a failure to start.
//!
//! Loading a library runs its code inside nodescope, as root. So the library is taken only
//! from the driver's own install paths on the node (never the dynamic loader's search, which
//! follows `LD_LIBRARY_PATH` and the caller's choices), and only when it and every directory
//! on its way are root's alone ([`super::vet`]); the file loaded is the vetted, link-free path.

use super::vet::{self, Want};
use super::{ErrorKind, Host};
use crate::model::gpu::{GpuProcess, GpuProcessKind, MigDevice, Nvml, NvmlDevice};
use nvml_wrapper::Device;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;

/// Where the driver installs libnvidia-ml on the distributions GPU nodes run (Debian/Ubuntu
/// multiarch, RHEL and Amazon Linux lib64, the GPU operator's driver container root).
pub const LIBS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib64/libnvidia-ml.so.1",
    "/usr/lib/libnvidia-ml.so.1",
    "/run/nvidia/driver/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/run/nvidia/driver/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    "/run/nvidia/driver/usr/lib64/libnvidia-ml.so.1",
];

/// The host path of the first of [`LIBS`] that exists, once vetted; `Err` says why none may
/// be loaded: none there, or each one there refused (which file, which rule).
pub fn library(host: &dyn Host) -> Result<String, String> {
    let mut refused = Vec::new();
    for l in LIBS {
        match vet::vet(host, l, Want::File) {
            Ok(v) => return Ok(v.path),
            Err(r) if r.kind == ErrorKind::Missing => {}
            Err(r) => refused.push(format!("{l}: {r}")),
        }
    }
    if refused.is_empty() {
        Err(format!(
            "no libnvidia-ml.so.1 in the driver's install paths ({})",
            LIBS.join(", ")
        ))
    } else {
        Err(format!(
            "libnvidia-ml.so.1 not loaded: {}; nodescope loads only a library that root alone can write",
            refused.join("; ")
        ))
    }
}

/// Asks NVML on the live node: the vetted library from the node's own filesystem, under the
/// host's root.
pub fn query(host: &super::live::LiveHost) -> Nvml {
    let lib = match library(host) {
        Ok(p) => host.root().join(p.trim_start_matches('/')),
        Err(why) => {
            return Nvml {
                unavailable: Some(why),
                ..Nvml::default()
            };
        }
    };
    let mut b = nvml_wrapper::Nvml::builder();
    b.lib_path(lib.as_os_str());
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
            processes: processes(&d),
            mig_devices: mig_devices(&d),
        });
    }
    out
}

/// The processes NVML lists on a GPU or MIG instance, compute and graphics merged. Not
/// exercised on a machine without an NVIDIA GPU: the logic is in [`merge_processes`].
fn processes(d: &Device) -> Vec<GpuProcess> {
    merge_processes(
        d.running_compute_processes(),
        d.running_graphics_processes(),
    )
}

/// The MIG instances of a GPU with MIG on: indexes up to `nvmlDeviceGetMaxMigDeviceCount`,
/// skipping the slots with no instance (NVML answers `NotFound` for them). Nothing when MIG
/// is off or not supported (the count call fails).
fn mig_devices(d: &Device) -> Vec<MigDevice> {
    if !d.mig_mode().is_ok_and(|m| m.current == 1) {
        return Vec::new();
    }
    let max = d.mig_device_count().unwrap_or(0);
    (0..max)
        .filter_map(|i| {
            let m = d.mig_device_by_index(i).ok()?;
            let mem = m.memory_info().ok();
            Some(MigDevice {
                index: i,
                uuid: m.uuid().ok(),
                name: m.name().ok(),
                memory_total_bytes: mem.as_ref().map(|x| x.total),
                memory_used_bytes: mem.as_ref().map(|x| x.used),
                processes: processes(&m),
            })
        })
        .collect()
}

/// One NVML process record as the model holds it.
pub fn process(p: &ProcessInfo, kind: GpuProcessKind) -> GpuProcess {
    GpuProcess {
        pid: p.pid,
        kind,
        used_bytes: match p.used_gpu_memory {
            UsedGpuMemory::Used(b) => Some(b),
            UsedGpuMemory::Unavailable => None,
        },
        gpu_instance_id: p.gpu_instance_id,
        compute_instance_id: p.compute_instance_id,
    }
}

/// NVML's compute and graphics lists as one, by pid: a process in both (a CUDA context and a
/// graphics one) is `compute+graphics` once, with the larger figure (NVML gives each list the
/// process's whole usage). A list NVML could not give is left out; largest holder first.
pub fn merge_processes(
    compute: Result<Vec<ProcessInfo>, NvmlError>,
    graphics: Result<Vec<ProcessInfo>, NvmlError>,
) -> Vec<GpuProcess> {
    let mut out: Vec<GpuProcess> = Vec::new();
    let lists = [
        (compute.unwrap_or_default(), GpuProcessKind::Compute),
        (graphics.unwrap_or_default(), GpuProcessKind::Graphics),
    ];
    for (list, kind) in lists {
        for p in &list {
            let new = process(p, kind);
            match out.iter_mut().find(|o| o.pid == new.pid) {
                Some(o) if o.kind != kind => {
                    o.kind = GpuProcessKind::ComputeGraphics;
                    o.used_bytes = o.used_bytes.max(new.used_bytes);
                }
                Some(_) => {}
                None => out.push(new),
            }
        }
    }
    out.sort_by(|a, b| b.used_bytes.cmp(&a.used_bytes).then(a.pid.cmp(&b.pid)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bundle::BundleHost;
    use crate::source::live::LiveHost;
    use std::path::Path;

    fn info(pid: u32, used: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo {
            pid,
            used_gpu_memory: used,
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    #[test]
    fn compute_and_graphics_lists_merge_by_pid_largest_first() {
        let compute = vec![
            info(4242, UsedGpuMemory::Used(1 << 30)),
            info(31207, UsedGpuMemory::Used(76 << 30)),
            info(77, UsedGpuMemory::Unavailable),
        ];
        let graphics = vec![info(4242, UsedGpuMemory::Used(2 << 30))];
        let m = merge_processes(Ok(compute), Ok(graphics));
        let got: Vec<(u32, GpuProcessKind, Option<u64>)> =
            m.iter().map(|p| (p.pid, p.kind, p.used_bytes)).collect();
        assert_eq!(
            got,
            vec![
                (31207, GpuProcessKind::Compute, Some(76 << 30)),
                (4242, GpuProcessKind::ComputeGraphics, Some(2 << 30)),
                (77, GpuProcessKind::Compute, None),
            ]
        );
    }

    #[test]
    fn a_list_nvml_refuses_is_left_out_and_mig_ids_are_kept() {
        let mut p = info(9, UsedGpuMemory::Used(512 << 20));
        p.gpu_instance_id = Some(7);
        p.compute_instance_id = Some(0);
        let m = merge_processes(Err(NvmlError::NotSupported), Ok(vec![p]));
        assert_eq!(
            m,
            vec![GpuProcess {
                pid: 9,
                kind: GpuProcessKind::Graphics,
                used_bytes: Some(512 << 20),
                gpu_instance_id: Some(7),
                compute_instance_id: Some(0),
            }]
        );
    }

    /// CI machines have no NVIDIA driver: the absent-library branch must say why.
    #[test]
    fn without_the_library_nvml_says_why() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("proc")).unwrap();
        let n = query(&LiveHost::new(d.path()).unwrap());
        assert_eq!(
            n.unavailable.as_deref(),
            Some(
                "no libnvidia-ml.so.1 in the driver's install paths (/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1, \
                 /usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1, /usr/lib64/libnvidia-ml.so.1, /usr/lib/libnvidia-ml.so.1, \
                 /run/nvidia/driver/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1, \
                 /run/nvidia/driver/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1, /run/nvidia/driver/usr/lib64/libnvidia-ml.so.1)"
            )
        );
        assert!(n.devices.is_empty());
    }

    /// A node root as a bundle directory with the driver's library (a link to the versioned
    /// file, as the driver installs it) and the recorded metadata of what others control.
    fn node(meta: serde_json::Value) -> (tempfile::TempDir, BundleHost) {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libnvidia-ml.so.550.54.15"), "ELF").unwrap();
        std::os::unix::fs::symlink("libnvidia-ml.so.550.54.15", lib.join("libnvidia-ml.so.1"))
            .unwrap();
        std::fs::write(
            d.path().join("nodescope-bundle.json"),
            serde_json::json!({"format": "nodescope-bundle/1",
                "captured_at": "2026-11-22T03:00:00Z", "metadata": meta})
            .to_string(),
        )
        .unwrap();
        let h = BundleHost::open(d.path()).unwrap();
        (d, h)
    }

    #[test]
    fn the_library_and_every_directory_on_its_way_must_be_roots_alone() {
        let (_d, h) = node(serde_json::json!({}));
        assert_eq!(
            library(&h),
            Ok("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15".into()),
            "the versioned file the link names is what gets loaded"
        );
        let refused = |meta| library(&node(meta).1).unwrap_err();
        let file = serde_json::json!({"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15":
            {"uid": 1000, "gid": 1000, "mode": 0o755, "kind": "file", "size": 3}});
        assert_eq!(
            refused(file),
            "libnvidia-ml.so.1 not loaded: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1: \
             /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15 is owned by uid 1000, not root; \
             nodescope loads only a library that root alone can write"
        );
        let dir = serde_json::json!({"/usr/lib/x86_64-linux-gnu":
            {"uid": 0, "gid": 0, "mode": 0o777, "kind": "dir", "size": 0}});
        assert!(
            refused(dir).contains("/usr/lib/x86_64-linux-gnu is writable by others (mode 0777)")
        );
        let root = serde_json::json!({"/": {"uid": 0, "gid": 50, "mode": 0o775, "kind": "dir", "size": 0}});
        assert!(refused(root).contains(": / is writable by its group, gid 50 (mode 0775)"));
    }

    /// On a real filesystem: a library someone else may write is never handed to the loader; a
    /// root-owned one is (it is no real library here, so loading it fails: the loader was asked).
    #[test]
    fn a_writable_library_is_never_loaded_and_a_protected_one_is() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to own the test library as root");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(d.path().join("proc")).unwrap();
        let dir = d.path().join("usr/lib64");
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libnvidia-ml.so.1");
        std::fs::write(&lib, "not an ELF file").unwrap();
        let host = LiveHost::new(d.path()).unwrap();
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
        let n = query(&host);
        assert_eq!(
            n.unavailable.as_deref(),
            Some(
                "libnvidia-ml.so.1 not loaded: /usr/lib64/libnvidia-ml.so.1: /usr/lib64/libnvidia-ml.so.1 is \
                 writable by others (mode 0666); nodescope loads only a library that root alone can write"
            )
        );
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        let n = query(&host);
        let why = n.unavailable.unwrap();
        assert!(why.starts_with("NVML could not be loaded"), "{why}");
        assert!(Path::new(&lib).exists());
    }
}
