//! Plain data collected from one node. No I/O and no judgement here: collectors fill it,
//! rules read it, renderers show it. Every field that can be absent on some node or kernel is
//! an `Option`; `Snapshot::errors` says why a fact is absent. Maps are `BTreeMap` and lists are
//! sorted, so the JSON form is deterministic.

pub mod cgroup_name;
pub mod cluster;
pub mod disk;
pub mod distro;
pub mod dns;
pub mod fleet;
pub mod fs;
pub mod gpu;
pub mod health;
pub mod kubelet;
pub mod kubelet_log;
pub mod oom_kill;
pub mod pod_facts;
pub mod quantity;
pub mod resolv;
pub mod text;
pub mod units;

pub use fs::ErrorKind;
pub use kubelet::{KubeletConfig, KubeletInfo, Provenance, ThresholdValue};
use serde::{Deserialize, Serialize};

/// The schema name of `nodescope snapshot --format json`.
pub const SNAPSHOT_SCHEMA: &str = "nodescope-snapshot/1";

/// Everything one collection pass learned about a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Snapshot {
    pub schema: String,
    /// When the facts are from: now on a live host, the capture time of a bundle.
    pub taken_at: jiff::Timestamp,
    /// Where the facts came from (`live host at /`, `bundle x.tar.gz ...`).
    pub source: String,
    pub node: NodeIdentity,
    pub memory: Option<Meminfo>,
    pub psi: Psi,
    pub pids: PidLimits,
    pub mounts: Vec<Mount>,
    pub filesystems: Vec<Filesystem>,
    pub cgroup: CgroupLayout,
    /// Usage of the root cgroup, the node-level numbers the kubelet's memory.available uses.
    pub root_memory: Option<RootMemory>,
    /// The node-allocatable cgroup (`kubepods` / `kubepods.slice`), when found.
    pub kubepods: Option<CgroupStats>,
    pub pods: Vec<Pod>,
    /// Every `/var/log/containers` link and every exited Docker container's labels: names for
    /// containers whose cgroup is gone (a container killed and restarted keeps its old log
    /// link, and Docker its old container, until the kubelet's garbage collection removes them).
    #[serde(default)]
    pub container_logs: Vec<ContainerLog>,
    pub processes: Vec<Process>,
    pub kubelet: Option<KubeletInfo>,
    /// The distribution the node runs, when recognised (docs/distributions.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<distro::Distribution>,
    /// Processes that call themselves the kubelet (or another daemon nodescope would take
    /// flags from) but failed the trust rules of docs/security.md: their flags were ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untrusted_daemons: Vec<UntrustedDaemon>,
    pub kernel_log: Vec<KmsgRecord>,
    /// Kernel OOM kills found in `kernel_log`, oldest first.
    #[serde(default)]
    pub oom_kills: Vec<oom_kill::OomKill>,
    /// `oom_kill` of /proc/vmstat: the node's OOM kills since boot (Linux >= 4.13,
    /// mm/vmstat.c `vmstat_text`). A counter that keeps what the ring buffer overwrote, so
    /// Prometheus can alert on its increase (deploy/prometheus/nodescope.rules.yml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kills_since_boot: Option<u64>,
    /// The kubelet eviction manager's log lines of the last hours.
    #[serde(default)]
    pub kubelet_log: Vec<kubelet_log::KubeletLogEvent>,
    /// Filesystems the kubelet evicts on, and what Kubernetes put on them.
    #[serde(default)]
    pub disk: disk::Disk,
    /// Pods' resolvers, the node's, conntrack.
    #[serde(default)]
    pub dns: dns::Dns,
    /// GPUs, their driver and device plugin, as the node shows them.
    #[serde(default)]
    pub gpu: gpu::Gpu,
    /// What the API server said, when it was asked (`--no-cluster` and unreachable servers
    /// leave this empty; the reason is in `errors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<cluster::Cluster>,
    /// Kernel, clock, swap, network-plugin, certificate, CPU and service facts: the usual
    /// causes of a NotReady node.
    #[serde(default)]
    pub health: health::Health,
    /// What could not be collected, and why. A partial answer at 3am beats none.
    pub errors: Vec<CollectError>,
}

/// Who the node is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeIdentity {
    /// `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// `/proc/sys/kernel/osrelease`, e.g. `6.1.0-28-amd64`.
    pub kernel: Option<String>,
    /// Seconds since boot, first field of `/proc/uptime`.
    pub uptime_seconds: Option<f64>,
    /// `taken_at - uptime`: the wall-clock boot time that turns kernel-log timestamps into times.
    pub boot_time: Option<jiff::Timestamp>,
    /// The effective uid nodescope read with; not 0 means some sources were out of reach.
    pub euid: u32,
}

/// The /proc/meminfo fields the rules use, in bytes (meminfo prints kB = KiB).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Meminfo {
    pub mem_total_bytes: u64,
    pub mem_free_bytes: u64,
    pub mem_available_bytes: Option<u64>,
    pub buffers_bytes: u64,
    pub cached_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

/// One PSI line: the share of wall time tasks were stalled, in percent (Documentation/accounting/psi.rst).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    /// Total stall time in microseconds.
    pub total_usec: u64,
}

/// A `/proc/pressure/<resource>` file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pressure {
    pub some: PsiLine,
    /// `None` for cpu on kernels before 5.13, which print only `some`.
    pub full: Option<PsiLine>,
}

/// Node pressure stall information; each `None` when the kernel lacks PSI (CONFIG_PSI, psi=0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Psi {
    pub cpu: Option<Pressure>,
    pub memory: Option<Pressure>,
    pub io: Option<Pressure>,
}

/// The inputs of the kubelet's `pid.available` (pkg/kubelet/stats/pidlimit/pidlimit_linux.go).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PidLimits {
    /// `/proc/sys/kernel/pid_max`.
    pub pid_max: Option<u64>,
    /// `/proc/sys/kernel/threads-max`.
    pub threads_max: Option<u64>,
    /// Field 4 of `/proc/loadavg` after the `/`: every thread on the node.
    pub threads: Option<u64>,
    /// The 1-minute load average, for context.
    pub load1: Option<f64>,
}

/// How a pod is named to a reader: `namespace/name` when both are known, else `pod <uid>`
/// (a pod whose name only its uid recalls: gone from the API, or never seen by it).
pub fn pod_ref(namespace: Option<&str>, name: Option<&str>, uid: &str) -> String {
    match (namespace, name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        _ => format!("pod {uid}"),
    }
}

/// One line of the host's mountinfo (`/proc/1/mountinfo`, proc(5)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mount {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    /// `major:minor` of the device.
    pub device: String,
    /// Mount options, comma-separated as in mountinfo.
    pub options: String,
    /// Only `upperdir` of the superblock options: where an overlay (a container's root
    /// filesystem) writes, the container's writable layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upperdir: Option<String>,
}

/// The mount point holding `path`: the longest mount point that is `path` or a parent of it.
pub fn mount_of(mounts: &[Mount], path: &str) -> Option<String> {
    mounts
        .iter()
        .map(|m| m.mount_point.as_str())
        .filter(|mp| {
            *mp == "/"
                || path == *mp
                || path
                    .strip_prefix(mp)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .max_by_key(|mp| mp.len())
        .map(String::from)
}

/// statvfs of one local filesystem, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Filesystem {
    pub mount_point: String,
    pub fs_type: String,
    /// `None` when statvfs failed or timed out (see `error`).
    pub stat: Option<fs::StatVfs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when statvfs did not return within its deadline: a hung mount.
    #[serde(default)]
    pub stuck: bool,
}

/// cgroup v1 or v2 (unified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The kubelet's cgroup driver (`cgroupDriver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CgroupDriver {
    Systemd,
    Cgroupfs,
}

/// How cgroups are laid out on this node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CgroupLayout {
    pub version: Option<CgroupVersion>,
    /// v1 with a v2 hierarchy mounted beside it (`/sys/fs/cgroup/unified`).
    pub hybrid: bool,
    /// Directory of the memory controller: `/sys/fs/cgroup` (v2) or `/sys/fs/cgroup/memory` (v1).
    pub memory_root: Option<String>,
    /// Directory of the pids controller.
    pub pids_root: Option<String>,
    pub driver: Option<CgroupDriver>,
    /// Where `driver` came from: `kubelet` (its configuration) or `layout` (the names found).
    pub driver_source: Option<String>,
    /// The node-allocatable cgroup relative to the controller root, e.g. `/kubepods.slice`.
    pub kubepods_path: Option<String>,
    /// Directory of the cpu controller: `/sys/fs/cgroup` (v2, when `cpu` is enabled there),
    /// `/sys/fs/cgroup/cpu,cpuacct` or `/sys/fs/cgroup/cpu` (v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_root: Option<String>,
}

/// Root-cgroup memory as cadvisor reads it for the node summary (google/cadvisor
/// `container/libcontainer/handler.go` `setMemoryStats`, via kubernetes/kubernetes
/// `pkg/kubelet/server/stats/summary.go`):
/// v1 `memory.usage_in_bytes` and `total_inactive_file`; v2 `anon + file` and `inactive_file`
/// from `/sys/fs/cgroup/memory.stat`, because the v2 root has no `memory.current`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct RootMemory {
    pub usage_bytes: u64,
    pub inactive_file_bytes: u64,
}

impl RootMemory {
    /// `usage - inactive_file`, floored at 0 (cadvisor `setMemoryStats`).
    pub fn working_set_bytes(&self) -> u64 {
        self.usage_bytes.saturating_sub(self.inactive_file_bytes)
    }
}

/// v2 `memory.events` (Documentation/admin-guide/cgroup-v2.rst).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct MemoryEvents {
    pub low: u64,
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
    pub oom_group_kill: u64,
}

/// v1 `memory.oom_control` (Documentation/admin-guide/cgroup-v1/memory.rst).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct OomControl {
    pub oom_kill_disable: bool,
    pub under_oom: bool,
    /// Kills in this cgroup (kernels ≥ 4.13).
    pub oom_kill: Option<u64>,
}

/// Memory and pids of one cgroup, the numbers the kubelet and cadvisor read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CgroupStats {
    /// Path relative to the controller root, e.g. `/kubepods.slice/kubepods-pod<uid>.slice`.
    pub path: String,
    /// v2 `memory.current`, v1 `memory.usage_in_bytes`.
    pub usage_bytes: Option<u64>,
    /// v2 `inactive_file`, v1 `total_inactive_file` from `memory.stat`.
    pub inactive_file_bytes: Option<u64>,
    /// v2 `memory.max` (`max` → none), v1 `memory.limit_in_bytes` (≥ 2^62 → none).
    pub limit_bytes: Option<u64>,
    /// v2 `memory.peak` (kernel ≥ 5.19), v1 `memory.max_usage_in_bytes`.
    pub peak_bytes: Option<u64>,
    pub events: Option<MemoryEvents>,
    pub oom_control: Option<OomControl>,
    /// v1 `memory.failcnt`: how often usage hit the limit.
    pub failcnt: Option<u64>,
    pub pids_current: Option<u64>,
    /// `pids.max`; `None` when `max` (unbounded) or unreadable.
    pub pids_max: Option<u64>,
    /// True when `pids.max` read `max`.
    #[serde(default)]
    pub pids_unbounded: bool,
    /// CFS bandwidth and usage from the cpu controller; `None` when it is not readable here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CgroupCpu>,
}

/// A cgroup's CPU limit and how often the CFS throttled it (Documentation/scheduler/
/// sched-bwc.rst; cgroup-v2.rst `cpu.stat`, `cpu.max`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CgroupCpu {
    /// Runtime allowed per period in µs: v2 `cpu.max` first field, v1 `cpu.cfs_quota_us`;
    /// `None` when unlimited (`max`, `-1`).
    pub quota_usec: Option<u64>,
    /// The enforcement period in µs: v2 `cpu.max` second field, v1 `cpu.cfs_period_us`.
    pub period_usec: Option<u64>,
    /// `cpu.stat nr_periods`: periods in which the cgroup had runnable tasks.
    pub nr_periods: u64,
    /// `cpu.stat nr_throttled`: periods in which it ran out of quota.
    pub nr_throttled: u64,
    /// Time spent throttled, µs (v2 `throttled_usec`; v1 `throttled_time` is in ns).
    pub throttled_usec: u64,
    /// CPU time used, µs (v2 `cpu.stat usage_usec`; v1 `cpuacct.usage` is in ns).
    pub usage_usec: Option<u64>,
}

impl CgroupCpu {
    /// The CPU limit in cores (`quota / period`), when there is one.
    pub fn limit_cores(&self) -> Option<f64> {
        let (q, p) = (self.quota_usec?, self.period_usec?);
        (p > 0).then(|| q as f64 / p as f64)
    }

    /// Share of periods throttled, in percent; `None` before the first period.
    pub fn throttled_percent(&self) -> Option<f64> {
        (self.nr_periods > 0).then(|| self.nr_throttled as f64 * 100.0 / self.nr_periods as f64)
    }
}

impl CgroupStats {
    /// Working set as cadvisor computes it: usage minus inactive file, floored at 0.
    pub fn working_set_bytes(&self) -> Option<u64> {
        let u = self.usage_bytes?;
        Some(u.saturating_sub(self.inactive_file_bytes.unwrap_or(0)))
    }
}

/// Pod QoS class as its cgroup placement shows it (kubernetes/kubernetes
/// `pkg/kubelet/cm/qos_container_manager_linux.go`: Guaranteed pods directly under `kubepods`,
/// the others under `kubepods/burstable` and `kubepods/besteffort`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, schemars::JsonSchema,
)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// A pod found on the node without the API server: from its cgroup, log directory and the
/// runtime's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pod {
    pub uid: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Which file on the node gave `namespace` and `name` ([`Pod::facts`] joins it with the
    /// API's word).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_source: Option<pod_facts::FactSource>,
    /// The pod's `kubernetes.io/config.source` annotation as the runtime recorded it on the
    /// sandbox (cri-dockerd's `annotation.*` labels, CRI-O's `io.kubernetes.cri-o.Annotations`):
    /// `file` or `http` for a static pod, which the kubelet never evicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<pod_facts::Sourced<String>>,
    pub qos: Option<Qos>,
    /// The pod cgroup; `None` when the pod has none (gone, or only its logs remain).
    pub cgroup: Option<CgroupStats>,
    pub containers: Vec<Container>,
    /// `/var/log/pods/<ns>_<name>_<uid>` when present.
    pub log_dir: Option<String>,
    /// The pod's API object, when the API server (or a dump) was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<cluster::ApiPod>,
}

/// A container (or pod sandbox) of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Container {
    /// The runtime's 64-hex id.
    pub id: String,
    /// The Kubernetes container name; `None` when nothing on the node names it.
    pub name: Option<String>,
    /// Which file on the node gave `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_source: Option<pod_facts::FactSource>,
    /// `containerd`, `cri-o` or `docker`, from the cgroup leaf name or runtime metadata.
    pub runtime: Option<String>,
    /// The pod sandbox (pause) rather than a workload container.
    pub sandbox: bool,
    pub cgroup: Option<CgroupStats>,
}

/// A container named by the node outside the cgroup tree: its
/// `/var/log/containers/<pod>_<ns>_<container>-<id>.log` link, or Docker's labels on a
/// container that has exited (`/var/lib/docker/containers/<id>/config.v2.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerLog {
    pub id: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The pod UID, from the link's target directory (or the Docker label).
    pub pod_uid: Option<String>,
    /// Where the names came from; absent means the log link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<pod_facts::FactSource>,
}

/// One process of the host (never its environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// Arguments with secret values redacted; whole arguments up to a cap of bytes
    /// (collect::processes: 4 KiB, the kubelet's 128 KiB), then, when arguments were left out,
    /// one last element starting [`CMDLINE_CUT`] that says how many.
    pub cmdline: Vec<String>,
    pub state: String,
    pub threads: u64,
    /// Start time in clock ticks after boot (field 22 of /proc/<pid>/stat).
    pub start_ticks: u64,
    /// The memory-controller cgroup path (v1 `memory:` line, v2 the `0::` line).
    pub cgroup: Option<String>,
    pub oom_score: Option<i64>,
    pub oom_score_adj: Option<i64>,
    /// The container this process runs in, joined by cgroup path.
    pub container_id: Option<String>,
    /// Real uid, from the `Uid:` line of /proc/<pid>/status (proc(5)). `None` when the file
    /// could not be read, and in bundles captured before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Effective uid, from the same line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub euid: Option<u32>,
}

/// How the last element of a cut [`Process::cmdline`] starts:
/// `<cut: 3 more arguments, 9000 bytes>`. Not an argument a program is ever given in practice,
/// and not one a flag parser takes for a flag.
pub const CMDLINE_CUT: &str = "<cut: ";

impl Process {
    /// Whether the process presents itself as `name`: its `comm` (the executable's file name,
    /// at most 15 bytes) is `name`, or its argv[0] is `name` or ends in `/name`. Anyone can
    /// choose both (`exec -a`, a copied binary): this is a claim, not an identity.
    pub fn calls_itself(&self, name: &str) -> bool {
        names_itself(&self.comm, self.cmdline.first().map(String::as_str), name)
    }

    /// Whether arguments of its command line were left out ([`CMDLINE_CUT`]).
    pub fn cmdline_cut(&self) -> bool {
        self.cmdline
            .last()
            .is_some_and(|a| a.starts_with(CMDLINE_CUT))
    }
}

/// [`Process::calls_itself`] from its parts, for a process not built yet.
pub fn names_itself(comm: &str, argv0: Option<&str>, name: &str) -> bool {
    comm == name
        || argv0
            .is_some_and(|a| a == name || a.strip_suffix(name).is_some_and(|d| d.ends_with('/')))
}

/// A process that claims to be a daemon nodescope takes flags from, and why it is not believed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UntrustedDaemon {
    pub pid: u32,
    /// What it calls itself (`kubelet`).
    pub claims: String,
    /// The rule it failed, in words: `runs as uid 65534`.
    pub reason: String,
}

/// One kernel-log record from /dev/kmsg (Documentation/ABI/testing/dev-kmsg).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KmsgRecord {
    /// Syslog priority level 0–7 (prio & 7).
    pub level: u8,
    /// Syslog facility (prio >> 3); 0 is the kernel.
    pub facility: u8,
    pub seq: u64,
    /// Microseconds since boot (CLOCK_MONOTONIC at the time of logging).
    pub usec: u64,
    pub message: String,
}

/// A source that could not be read or parsed.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, schemars::JsonSchema,
)]
pub struct CollectError {
    /// The collector that tried: `node`, `cgroup`, `pods`, `processes`, `kubelet`, `kmsg`, ...
    pub collector: String,
    pub kind: ErrorKind,
    /// The host path concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line for malformed files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl Snapshot {
    /// The node's name for subjects and headers.
    pub fn hostname(&self) -> &str {
        self.node.hostname.as_deref().unwrap_or("unknown")
    }

    /// The pod and container a process or cgroup belongs to, by container id.
    pub fn container(&self, id: &str) -> Option<(&Pod, &Container)> {
        self.pods
            .iter()
            .find_map(|p| p.containers.iter().find(|c| c.id == id).map(|c| (p, c)))
    }

    /// Whether the process table could be read at all (so "no kubelet" is a fact, not a gap).
    pub fn processes_known(&self) -> bool {
        !self.processes.is_empty()
    }
}
