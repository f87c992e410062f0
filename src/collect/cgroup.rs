//! cgroups: version and driver, the root cgroup's memory (the node-level numbers behind the
//! kubelet's `memory.available`), and the kubepods hierarchy down to each container's memory
//! and pids. Names follow the kubelet's cgroup manager and the runtimes (docs/kubelet-semantics.md §4.1):
//!
//! | driver   | pod cgroup                                                    | container leaf |
//! |----------|---------------------------------------------------------------|----------------|
//! | cgroupfs | `/kubepods[/burstable\|/besteffort]/pod<uid>`                  | `<id>` (containerd, docker), `crio-<id>` |
//! | systemd  | `/kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_>.slice` | `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope` |

use super::{Errors, parse_flat_keyed, read_u64};
use crate::model::cgroup_name::{
    parse_container_leaf, parse_pod_dir, parse_qos_dir, systemd_kubepods_path,
};
use crate::model::{
    CgroupCpu, CgroupDriver, CgroupLayout, CgroupStats, CgroupVersion, Container, KubeletInfo,
    MemoryEvents, OomControl, Pod, Qos, RootMemory,
};
use crate::source::{EntryKind, Host, HostError, join};

const C: &str = "cgroup";
const CG: &str = "/sys/fs/cgroup";

/// A v1 limit this large means "no limit" (cadvisor `isMemoryUnlimited`: > 2^62; the kernel
/// writes PAGE_COUNTER_MAX × page size = 9223372036854771712).
const UNLIMITED: u64 = 1 << 62;

pub(super) fn layout(
    host: &dyn Host,
    kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> CgroupLayout {
    let mut l = CgroupLayout::default();
    if host.read(&format!("{CG}/cgroup.controllers")).is_ok() {
        l.version = Some(CgroupVersion::V2);
        l.memory_root = Some(CG.into());
        l.pids_root = Some(CG.into());
        l.cpu_root = Some(CG.into());
    } else if host.read_dir(&format!("{CG}/memory")).is_ok() {
        l.version = Some(CgroupVersion::V1);
        l.hybrid = host
            .read(&format!("{CG}/unified/cgroup.controllers"))
            .is_ok();
        l.memory_root = Some(format!("{CG}/memory"));
        if host.read_dir(&format!("{CG}/pids")).is_ok() {
            l.pids_root = Some(format!("{CG}/pids"));
        }
        // The cpu controller is co-mounted with cpuacct on most distributions
        // (`cpu,cpuacct`, with `cpu` a link to it), alone elsewhere.
        l.cpu_root = ["cpu,cpuacct", "cpu"]
            .iter()
            .map(|d| format!("{CG}/{d}"))
            .find(|d| host.read_dir(d).is_ok());
    } else {
        errs.push(crate::model::CollectError {
            collector: C.into(),
            kind: crate::source::ErrorKind::Missing,
            path: Some(CG.into()),
            line: None,
            message: "no cgroup v2 (cgroup.controllers) nor v1 memory hierarchy found".into(),
        });
        return l;
    }
    let Some(mem_root) = l.memory_root.clone() else {
        return l;
    };
    let cgroup_root = kubelet
        .map(|k| k.config.cgroup_root.clone())
        .unwrap_or_else(|| "/".into());
    // The systemd driver names the slice after the root's (`/kubelet` → `/kubelet.slice/
    // kubelet-kubepods.slice`, as kind configures it); `/` gives `/kubepods.slice`.
    let systemd_path = systemd_kubepods_path(&cgroup_root);
    let cgroupfs_path = join(&cgroup_root, "kubepods");
    let exists = |p: &str| host.read_dir(&format!("{mem_root}{p}")).is_ok();
    match kubelet.map(|k| k.config.cgroup_driver.as_str()) {
        Some(d) => {
            l.driver = Some(if d == "systemd" {
                CgroupDriver::Systemd
            } else {
                CgroupDriver::Cgroupfs
            });
            l.driver_source = Some("kubelet".into());
        }
        None => {
            if exists(&systemd_path) {
                l.driver = Some(CgroupDriver::Systemd);
                l.driver_source = Some("layout".into());
            } else if exists(&cgroupfs_path) {
                l.driver = Some(CgroupDriver::Cgroupfs);
                l.driver_source = Some("layout".into());
            }
        }
    }
    let (want, other) = match l.driver {
        Some(CgroupDriver::Systemd) => (systemd_path, cgroupfs_path),
        _ => (cgroupfs_path, systemd_path),
    };
    if exists(&want) {
        l.kubepods_path = Some(want);
    } else if exists(&other) {
        // The kubelet's driver and the tree disagree (a driver change without a reboot?):
        // follow the tree, which is where the pods are.
        l.kubepods_path = Some(other);
    }
    l
}

pub(super) fn root_memory(
    host: &dyn Host,
    l: &CgroupLayout,
    errs: &mut Errors,
) -> Option<RootMemory> {
    let root = l.memory_root.as_deref()?;
    let stat_path = format!("{root}/memory.stat");
    let stat = host
        .read_string(&stat_path)
        .map_err(|e| errs.host(C, &e))
        .ok()?;
    let kv = parse_flat_keyed(&stat);
    match l.version? {
        // The v2 root has no memory.current: runc's fs2 statMemory falls back to anon + file
        // from the root memory.stat (docs/kubelet-semantics.md §1.2).
        CgroupVersion::V2 => {
            let (Some(anon), Some(file), Some(inactive)) =
                (kv.get("anon"), kv.get("file"), kv.get("inactive_file"))
            else {
                errs.invalid(C, &stat_path, None, "missing anon, file or inactive_file");
                return None;
            };
            Some(RootMemory {
                usage_bytes: anon + file,
                inactive_file_bytes: *inactive,
            })
        }
        CgroupVersion::V1 => {
            let usage = read_u64(host, &format!("{root}/memory.usage_in_bytes"))
                .map_err(|e| errs.host(C, &e))
                .ok()?;
            let Some(inactive) = kv.get("total_inactive_file") else {
                errs.invalid(C, &stat_path, None, "missing total_inactive_file");
                return None;
            };
            Some(RootMemory {
                usage_bytes: usage,
                inactive_file_bytes: *inactive,
            })
        }
    }
}

/// Reads the memory and pids files of one cgroup (`rel` relative to the controller roots).
/// Files a kernel may lack (memory.peak before 5.19) are simply absent.
pub(crate) fn stats(
    host: &dyn Host,
    l: &CgroupLayout,
    rel: &str,
    errs: &mut Errors,
) -> CgroupStats {
    let mut s = CgroupStats {
        path: rel.to_string(),
        ..Default::default()
    };
    let Some(mem_root) = l.memory_root.as_deref() else {
        return s;
    };
    let dir = format!("{mem_root}{rel}");
    let mut num = |name: &str| -> Option<u64> {
        read_u64(host, &join(&dir, name))
            .map_err(|e: HostError| errs.unless_missing(C, &e))
            .ok()
    };
    let v2 = l.version == Some(CgroupVersion::V2);
    if v2 {
        s.usage_bytes = num("memory.current");
        s.limit_bytes = num("memory.max").filter(|&v| v != u64::MAX);
        s.peak_bytes = num("memory.peak");
    } else {
        s.usage_bytes = num("memory.usage_in_bytes");
        s.limit_bytes = num("memory.limit_in_bytes").filter(|&v| v <= UNLIMITED);
        s.peak_bytes = num("memory.max_usage_in_bytes");
        s.failcnt = num("memory.failcnt");
    }
    if let Ok(text) = host.read_string(&join(&dir, "memory.stat")) {
        let kv = parse_flat_keyed(&text);
        s.inactive_file_bytes = kv
            .get(if v2 {
                "inactive_file"
            } else {
                "total_inactive_file"
            })
            .copied();
    }
    if v2 {
        if let Ok(text) = host.read_string(&join(&dir, "memory.events")) {
            let kv = parse_flat_keyed(&text);
            let g = |k: &str| kv.get(k).copied().unwrap_or(0);
            s.events = Some(MemoryEvents {
                low: g("low"),
                high: g("high"),
                max: g("max"),
                oom: g("oom"),
                oom_kill: g("oom_kill"),
                oom_group_kill: g("oom_group_kill"),
            });
        }
    } else if let Ok(text) = host.read_string(&join(&dir, "memory.oom_control")) {
        // "oom_kill_disable 0\nunder_oom 0\noom_kill 0" (oom_kill since Linux 4.13).
        let kv = parse_flat_keyed(&text);
        s.oom_control = Some(OomControl {
            oom_kill_disable: kv.get("oom_kill_disable").copied().unwrap_or(0) != 0,
            under_oom: kv.get("under_oom").copied().unwrap_or(0) != 0,
            oom_kill: kv.get("oom_kill").copied(),
        });
    }
    s.cpu = cpu_stats(host, l, rel);
    if let Some(pids_root) = l.pids_root.as_deref() {
        let pdir = format!("{pids_root}{rel}");
        s.pids_current = read_u64(host, &join(&pdir, "pids.current")).ok();
        match read_u64(host, &join(&pdir, "pids.max")) {
            Ok(u64::MAX) => s.pids_unbounded = true,
            Ok(v) => s.pids_max = Some(v),
            Err(_) => {}
        }
    }
    s
}

/// CFS bandwidth and usage of one cgroup; `None` when its `cpu.stat` is not readable.
///
/// v2 (cgroup-v2.rst): `cpu.stat` holds `usage_usec`, and with the cpu controller enabled
/// `nr_periods`, `nr_throttled`, `throttled_usec`; `cpu.max` is `$MAX $PERIOD` (`max 100000`
/// when unlimited). v1 (sched-bwc.rst): `cpu.stat` holds `nr_periods`, `nr_throttled`,
/// `throttled_time` (ns); `cpu.cfs_quota_us` (`-1` when unlimited), `cpu.cfs_period_us`;
/// usage is cpuacct's `cpuacct.usage` (ns), in `cpu,cpuacct` or its own hierarchy.
fn cpu_stats(host: &dyn Host, l: &CgroupLayout, rel: &str) -> Option<CgroupCpu> {
    let dir = format!("{}{rel}", l.cpu_root.as_deref()?);
    let text = host.read_string(&join(&dir, "cpu.stat")).ok()?;
    let kv = parse_flat_keyed(&text);
    let get = |k: &str| kv.get(k).copied();
    let mut c = CgroupCpu {
        nr_periods: get("nr_periods").unwrap_or(0),
        nr_throttled: get("nr_throttled").unwrap_or(0),
        ..CgroupCpu::default()
    };
    if l.version == Some(CgroupVersion::V2) {
        c.throttled_usec = get("throttled_usec").unwrap_or(0);
        c.usage_usec = get("usage_usec");
        if let Ok(max) = host.read_string(&join(&dir, "cpu.max")) {
            let mut f = max.split_whitespace();
            c.quota_usec = f.next().and_then(|q| q.parse().ok());
            c.period_usec = f.next().and_then(|p| p.parse().ok());
        }
    } else {
        c.throttled_usec = get("throttled_time").unwrap_or(0) / 1000;
        let num = |name: &str| -> Option<i64> {
            host.read_string(&join(&dir, name))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        c.quota_usec = num("cpu.cfs_quota_us").and_then(|q| u64::try_from(q).ok());
        c.period_usec = num("cpu.cfs_period_us").and_then(|p| u64::try_from(p).ok());
        let acct = [dir.clone(), format!("{CG}/cpuacct{rel}")];
        c.usage_usec = acct
            .iter()
            .find_map(|d| read_u64(host, &join(d, "cpuacct.usage")).ok())
            .map(|ns| ns / 1000);
    }
    Some(c)
}

/// Walks the kubepods hierarchy: (the kubepods cgroup itself, one `Pod` per pod cgroup).
pub(super) fn pods(
    host: &dyn Host,
    l: &CgroupLayout,
    errs: &mut Errors,
) -> (Option<CgroupStats>, Vec<Pod>) {
    let (Some(mem_root), Some(kp)) = (l.memory_root.as_deref(), l.kubepods_path.as_deref()) else {
        return (None, Vec::new());
    };
    let kubepods = stats(host, l, kp, errs);
    let list = |rel: &str, errs: &mut Errors| -> Vec<String> {
        match host.read_dir(&format!("{mem_root}{rel}")) {
            Ok(e) => e
                .into_iter()
                .filter(|e| e.kind == EntryKind::Dir)
                .map(|e| e.name)
                .collect(),
            Err(e) => {
                errs.unless_missing(C, &e);
                Vec::new()
            }
        }
    };
    let mut pods = Vec::new();
    let mut add_pod = |rel: String, name: &str, qos: Qos, errs: &mut Errors| {
        let Some(uid) = parse_pod_dir(name) else {
            return;
        };
        let mut containers = Vec::new();
        for leaf in list(&rel, errs) {
            if let Some((runtime, id)) = parse_container_leaf(&leaf) {
                let crel = format!("{rel}/{leaf}");
                containers.push(Container {
                    id,
                    name: None,
                    name_source: None,
                    runtime: runtime.map(String::from),
                    sandbox: false,
                    cgroup: Some(stats(host, l, &crel, errs)),
                });
            }
        }
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        pods.push(Pod {
            uid,
            namespace: None,
            name: None,
            name_source: None,
            config_source: None,
            qos: Some(qos),
            cgroup: Some(stats(host, l, &rel, errs)),
            containers,
            log_dir: None,
            api: None,
        });
    };
    for child in list(kp, errs) {
        let rel = format!("{kp}/{child}");
        let qos = match parse_qos_dir(&child) {
            Some("burstable") => Some(Qos::Burstable),
            Some(_) => Some(Qos::BestEffort),
            None => None,
        };
        match qos {
            Some(q) => {
                for pod_dir in list(&rel, errs) {
                    add_pod(format!("{rel}/{pod_dir}"), &pod_dir, q, errs);
                }
            }
            None => add_pod(rel, &child, Qos::Guaranteed, errs),
        }
    }
    pods.sort_by(|a, b| a.uid.cmp(&b.uid));
    (Some(kubepods), pods)
}
