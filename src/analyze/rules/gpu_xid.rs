//! `gpu.xid`: NVIDIA Xid errors in the kernel log, one finding per GPU and Xid, with NVIDIA's
//! own recommended action.
//!
//! The driver logs `NVRM: Xid (PCI:0000:3b:00): 79, pid=..., name=..., GPU has fallen off the
//! bus.` (parsed by `collect::gpu::parse_xid`). What each code means and what to do is NVIDIA's
//! Xid catalog, "Resolution Bucket (Immediate Action)" (docs.nvidia.com/deploy/xid-errors/
//! analyzing-xid-catalog.html; the same buckets in leptonai/gpud
//! components/accelerator/nvidia/xid/catalog_generated.go, generated from NVIDIA's spreadsheet).
//! The bucket decides the severity: the GPU or the node needs an operator (RESET_GPU,
//! RESTART_BM, a WORKFLOW, XID_154) → critical; the application died (RESTART_APP) → warning;
//! NVIDIA says no action (IGNORE) → info. A code not in the table is a warning that names it.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::gpu::Xid;
use std::collections::BTreeMap;

pub struct GpuXid;

/// One row of NVIDIA's Xid catalog: code, what it is, the immediate action bucket, the
/// investigatory one.
struct Entry {
    xid: u32,
    what: &'static str,
    immediate: &'static str,
    investigate: &'static str,
}

/// The codes seen on Kubernetes GPU nodes, as NVIDIA's catalog (Ampere and newer) lists them.
const CATALOG: &[Entry] = &[
    Entry {
        xid: 13,
        what: "graphics engine exception",
        immediate: "RESTART_APP",
        investigate: "WORKFLOW_XID_13",
    },
    Entry {
        xid: 31,
        what: "GPU memory page fault",
        immediate: "RESTART_APP",
        investigate: "WORKFLOW_XID_31",
    },
    Entry {
        xid: 32,
        what: "invalid or corrupted push buffer stream",
        immediate: "RESTART_APP",
        investigate: "CHECK_APP/CUDA",
    },
    Entry {
        xid: 38,
        what: "driver firmware error",
        immediate: "IGNORE",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 43,
        what: "GPU stopped processing",
        immediate: "IGNORE",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 45,
        what: "preemptive cleanup after a previous error",
        immediate: "WORKFLOW_XID_45",
        investigate: "follow the other Xid",
    },
    Entry {
        xid: 48,
        what: "double-bit ECC error",
        immediate: "WORKFLOW_XID_48",
        investigate: "WORKFLOW_XID_48",
    },
    Entry {
        xid: 62,
        what: "internal micro-controller halt",
        immediate: "RESET_GPU",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 63,
        what: "GPU memory remapping event",
        immediate: "IGNORE",
        investigate: "IGNORE",
    },
    Entry {
        xid: 64,
        what: "GPU memory remapping failure",
        immediate: "RESET_GPU",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 68,
        what: "NVDEC0 exception",
        immediate: "RESTART_APP",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 69,
        what: "graphics engine class error",
        immediate: "RESTART_APP",
        investigate: "CHECK_APP/CUDA",
    },
    Entry {
        xid: 74,
        what: "NVLink error",
        immediate: "WORKFLOW_NVLINK_ERR",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 79,
        what: "GPU has fallen off the bus",
        immediate: "RESTART_BM",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 92,
        what: "high single-bit ECC error rate",
        immediate: "IGNORE",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 94,
        what: "contained memory error",
        immediate: "RESTART_APP",
        investigate: "IGNORE (sympathetic)",
    },
    Entry {
        xid: 95,
        what: "uncontained memory error",
        immediate: "RESET_GPU",
        investigate: "IGNORE (sympathetic)",
    },
    Entry {
        xid: 109,
        what: "context switch timeout",
        immediate: "RESET_GPU",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 119,
        what: "GSP RPC timeout",
        immediate: "RESET_GPU",
        investigate: "INVESTIGATE_SW",
    },
    Entry {
        xid: 120,
        what: "GSP error",
        immediate: "RESET_GPU",
        investigate: "INVESTIGATE_SW",
    },
    Entry {
        xid: 121,
        what: "C2C error",
        immediate: "IGNORE",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 140,
        what: "unrecovered ECC error",
        immediate: "RESET_GPU",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 143,
        what: "GPU initialization error",
        immediate: "RESET_GPU",
        investigate: "CONTACT_SUPPORT",
    },
    Entry {
        xid: 149,
        what: "NVLink NETIR error",
        immediate: "WORKFLOW_NVLINK5_ERR",
        investigate: "WORKFLOW_NVLINK5_ERR",
    },
    Entry {
        xid: 154,
        what: "GPU recovery action changed",
        immediate: "XID_154",
        investigate: "the Xid it accompanies",
    },
    Entry {
        xid: 155,
        what: "NVLink software-defined error",
        immediate: "RESET_GPU",
        investigate: "INVESTIGATE_SW_USER",
    },
];

fn entry(xid: u32) -> Option<&'static Entry> {
    CATALOG.iter().find(|e| e.xid == xid)
}

/// The severity of an immediate-action bucket.
fn severity(immediate: &str) -> Severity {
    match immediate {
        "RESTART_APP" => Severity::Warning,
        "IGNORE" => Severity::Info,
        _ => Severity::Critical,
    }
}

/// What an operator does for a bucket, on a Kubernetes node.
fn remedy(e: Option<&Entry>, device: &str, last: &Xid) -> String {
    let Some(e) = e else {
        return format!(
            "look up Xid {} in NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors); run `nvidia-smi -q -i {}` and dcgmi diag",
            last.xid,
            device.trim_start_matches("PCI:")
        );
    };
    let bus = device.trim_start_matches("PCI:");
    let then = format!("then {} (NVIDIA's investigatory action)", e.investigate);
    match e.immediate {
        "RESTART_APP" => format!(
            "the application on this GPU failed: restart it and check it (CUDA errors, its own bug){}; NVIDIA: RESTART_APP, {then}",
            if last.message.contains("pid=") {
                " (the record names the process)"
            } else {
                ""
            }
        ),
        "IGNORE" => format!(
            "no action for this Xid alone (NVIDIA: IGNORE); watch for other Xids with it, {then}"
        ),
        "RESTART_BM" => format!(
            "cordon and drain the node (kubectl drain NODE --ignore-daemonsets --delete-emptydir-data) and reboot it; NVIDIA: RESTART_BM, {then}; if it recurs, check the GPU's seating, power and cooling"
        ),
        "RESET_GPU" => format!(
            "drain the GPU's pods, then reset it (`nvidia-smi -r -i {bus}`, no process may hold it) or reboot the node; NVIDIA: RESET_GPU, {then}"
        ),
        "XID_154" => format!(
            "do the recovery action the record names (Reset Required, Node Reboot Required, Drain and Reset): {}",
            last.message
        ),
        w => format!(
            "follow NVIDIA's {w} for Xid {} (docs.nvidia.com/deploy/xid-errors); until then drain the GPU's pods and reset it (`nvidia-smi -r -i {bus}`)",
            e.xid
        ),
    }
}

impl Rule for GpuXid {
    fn id(&self) -> &'static str {
        "gpu.xid"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "NVIDIA Xid errors in the kernel log, with NVIDIA's recommended action"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The NVIDIA driver logged Xid errors (NVRM: Xid (PCI:...): N, ...) since boot. One finding per
  GPU and Xid code: how many, first and last, the last record, and what NVIDIA's Xid catalog
  says to do (its Immediate Action bucket).

WHY IT MATTERS
  Some Xids mean the application hit a bug or an ECC error it survived (RESTART_APP); some mean
  the GPU or the node must be reset or rebooted before it is trusted again (RESET_GPU,
  RESTART_BM: Xid 79, GPU fallen off the bus; Xid 95, uncontained ECC error; GSP timeouts
  119/120). Pods keep being scheduled onto a GPU in that state and fail there.

HOW TO CONFIRM
  dmesg -T | grep -i 'NVRM: Xid'
  nvidia-smi -q | grep -iA3 -E 'remap|retired|ecc|xid'
  dcgmi diag -r 2   (with DCGM installed)

WHAT TO CHANGE
  Follow the finding's remedy: restart the application (RESTART_APP); drain the GPU's pods and
  reset it (RESET_GPU); drain and reboot the node (RESTART_BM); contact your vendor when it
  recurs. The severity follows the bucket: critical for an operator's action on the GPU or
  node, warning for an application's failure, info for NVIDIA's IGNORE."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let mut groups: BTreeMap<(&str, u32), Vec<&Xid>> = BTreeMap::new();
        for x in &snap.gpu.xids {
            groups
                .entry((x.device.as_str(), x.xid))
                .or_default()
                .push(x);
        }
        for ((device, code), xs) in groups {
            let (Some(first), Some(last)) = (xs.first(), xs.last()) else {
                continue;
            };
            let e = entry(code);
            let sev = e.map_or(Severity::Warning, |e| severity(e.immediate));
            let time =
                |x: &Xid| crate::analyze::oom::kernel_time(snap, x.usec).map(|t| t.to_string());
            let what = e.map_or("not in nodescope's table of NVIDIA's catalog", |e| e.what);
            out.push(finding(
                self,
                sev,
                format!(
                    "GPU {device}: Xid {code} ({what}) {} time(s){}",
                    xs.len(),
                    e.map_or(String::new(), |e| format!("; NVIDIA: {}", e.immediate))
                ),
                Subject::node(snap).with_device(device.to_string()),
                serde_json::json!({
                    "device": device,
                    "xid": code,
                    "count": xs.len(),
                    "first": time(first),
                    "last": time(last),
                    "last_message": last.message,
                    "nvidia_immediate_action": e.map(|e| e.immediate),
                    "nvidia_investigatory_action": e.map(|e| e.investigate),
                    "catalog": "docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html",
                }),
                remedy(e, device, last),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;

    fn xid(device: &str, code: u32, usec: u64, message: &str) -> Xid {
        Xid {
            usec,
            device: device.into(),
            xid: code,
            message: message.into(),
        }
    }

    #[test]
    fn one_finding_per_gpu_and_code_with_the_bucket_deciding_the_severity() {
        let mut s = snap();
        s.gpu.xids = vec![
            xid(
                "PCI:0000:3b:00",
                79,
                1_000_000,
                "GPU has fallen off the bus.",
            ),
            xid(
                "PCI:0000:3b:00",
                13,
                2_000_000,
                "pid=4242, name=python, Graphics Exception",
            ),
            xid(
                "PCI:0000:3b:00",
                13,
                3_000_000,
                "pid=4243, name=python, Graphics Exception",
            ),
            xid(
                "PCI:0000:5e:00",
                63,
                4_000_000,
                "Row Remapper: New row marked for remapping",
            ),
            xid("PCI:0000:5e:00", 999, 5_000_000, "something new"),
        ];
        let f = run(&GpuXid, &s);
        let got: Vec<(String, Severity, u64)> = f
            .iter()
            .map(|f| {
                (
                    format!(
                        "{} {}",
                        f.evidence["device"].as_str().unwrap(),
                        f.evidence["xid"]
                    ),
                    f.severity,
                    f.evidence["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("PCI:0000:3b:00 13".to_string(), Severity::Warning, 2),
                ("PCI:0000:3b:00 79".to_string(), Severity::Critical, 1),
                ("PCI:0000:5e:00 63".to_string(), Severity::Info, 1),
                ("PCI:0000:5e:00 999".to_string(), Severity::Warning, 1),
            ]
        );
        assert_eq!(
            f[0].evidence["last_message"],
            "pid=4243, name=python, Graphics Exception"
        );
        assert!(
            f[1].remedy.starts_with("cordon and drain the node"),
            "{}",
            f[1].remedy
        );
        assert!(f[1].remedy.contains("NVIDIA: RESTART_BM"));
        assert_eq!(f[1].subject.device.as_deref(), Some("PCI:0000:3b:00"));
        assert!(
            f[3].remedy.starts_with("look up Xid 999"),
            "{}",
            f[3].remedy
        );
    }

    #[test]
    fn reset_and_workflow_buckets_are_critical_and_name_the_bus_to_reset() {
        for (code, want) in [
            (95, "RESET_GPU"),
            (119, "RESET_GPU"),
            (48, "WORKFLOW_XID_48"),
            (74, "WORKFLOW_NVLINK_ERR"),
        ] {
            let mut s = snap();
            s.gpu.xids = vec![xid("PCI:0000:3b:00", code, 1, "x")];
            let f = one(&GpuXid, &s);
            assert_eq!(f.severity, Severity::Critical, "{code}");
            assert_eq!(f.evidence["nvidia_immediate_action"], want);
            assert!(
                f.remedy.contains("nvidia-smi -r -i 0000:3b:00"),
                "{code}: {}",
                f.remedy
            );
        }
    }

    #[test]
    fn xid_154_passes_on_the_recovery_action_it_names() {
        let mut s = snap();
        let msg = "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)";
        s.gpu.xids = vec![xid("PCI:0000:3b:00", 154, 1, msg)];
        let f = one(&GpuXid, &s);
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.remedy.ends_with(msg), "{}", f.remedy);
    }

    #[test]
    fn no_xids_no_finding_and_the_table_is_sorted_and_unique() {
        assert!(run(&GpuXid, &snap()).is_empty());
        assert!(CATALOG.windows(2).all(|w| w[0].xid < w[1].xid));
    }
}
