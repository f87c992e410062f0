//! The node-health facts behind "node NotReady" and "pods stuck ContainerCreating": the
//! kernel's own reports of hung tasks, lockups and filesystem errors, the clock, swap, the
//! network plugin's configuration, the kubelet's certificates, CPU load and restarts of the
//! node's services. The same sources node-problem-detector (kernel monitor, custom plugins),
//! gpud and the EKS node monitoring agent watch. Plain data: rules judge it.

use serde::{Deserialize, Serialize};

/// Everything this module describes, as one part of the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Health {
    /// Kernel-log records about hung tasks, lockups, RCU stalls and filesystem or block I/O
    /// errors, oldest first.
    #[serde(default)]
    pub kernel_events: Vec<KernelEvent>,
    /// The kernel clock's synchronisation state (adjtimex), when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockState>,
    /// Whether `/run/systemd/timesync/synchronized` exists (systemd-timesyncd touches it at
    /// each synchronisation); `None` when the directory `/run/systemd/timesync` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timesyncd_synchronized: Option<bool>,
    /// Active swap areas (`/proc/swaps`); `None` when the file could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swaps: Option<Vec<SwapArea>>,
    /// The network plugin's configuration as the runtime would load it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<Cni>,
    /// The kubelet's client and serving certificates.
    #[serde(default)]
    pub kubelet_certs: Vec<KubeletCert>,
    /// `Scheduled restart job` records of the kubelet's and the runtime's units.
    #[serde(default)]
    pub service_restarts: Vec<ServiceRestart>,
    /// The services whose restarts were looked for (`kubelet.service`, `containerd.service`),
    /// and where: `journal` or a syslog file. Empty when no log could be read.
    #[serde(default)]
    pub restart_sources: Vec<String>,
    /// CPUs online (`/sys/devices/system/cpu/online`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_online: Option<u32>,
    /// `/proc/loadavg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadavg: Option<LoadAvg>,
}

/// What a kernel-log record reports. Dialects differ by kernel version; the parser in
/// `collect/kernel_events.rs` names its sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelEventKind {
    /// `INFO: task <comm>:<pid> blocked for more than <n> seconds.` (kernel/hung_task.c).
    HungTask {
        comm: String,
        pid: u32,
        seconds: u64,
    },
    /// `watchdog: BUG: soft lockup - CPU#<n> stuck for <s>s! [<comm>:<pid>]` (kernel/watchdog.c).
    SoftLockup {
        cpu: u32,
        seconds: u64,
        comm: String,
        pid: u32,
    },
    /// `Watchdog detected hard LOCKUP on cpu <n>` (kernel/watchdog_perf.c, watchdog_hld.c).
    HardLockup { cpu: u32 },
    /// `rcu: INFO: rcu_sched detected stalls on CPUs/tasks:` and `self-detected stall on CPU`
    /// (kernel/rcu/tree_stall.h).
    RcuStall { flavor: String },
    /// A filesystem reported an error: `EXT4-fs error (device sda1): ...`, `XFS (dm-4): ...
    /// Shutting down filesystem`, `XFS (sdb6): metadata I/O error ...`.
    FsError { fs: String, device: String },
    /// The block layer failed a request (`blk_update_request: I/O error, dev sda, sector N`,
    /// `I/O error, dev nvme0n1, sector N op 0x1:(WRITE)` since 5.17, `print_req_error:`) or
    /// the buffer cache lost a page (`Buffer I/O error on dev dm-1, logical block N`).
    IoError { device: String },
    /// The kernel made a filesystem read-only after an error (`EXT4-fs (sda1): Remounting
    /// filesystem read-only`, `XFS (dm-4): ... Shutting down filesystem`).
    RemountedReadOnly { fs: String, device: String },
}

/// One kernel-log record of interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KernelEvent {
    /// kmsg sequence number.
    pub seq: u64,
    /// Microseconds since boot.
    pub usec: u64,
    #[serde(flatten)]
    pub kind: KernelEventKind,
    /// The record's text, as logged.
    pub message: String,
}

/// The kernel clock as adjtimex(2) reports it (`modes = 0`: a read, never a change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockState {
    /// The call's return: `TIME_OK` 0, `TIME_INS` 1, `TIME_DEL` 2, `TIME_OOP` 3,
    /// `TIME_WAIT` 4, `TIME_ERROR` 5 (the clock is not synchronised).
    pub state: i32,
    /// `timex.status` bits; `STA_UNSYNC` is 0x40.
    pub status: i32,
    /// `timex.maxerror`: the maximum error in microseconds; the kernel adds 500 µs each second
    /// without an update and sets `STA_UNSYNC` at 16 s (kernel/time/ntp.c).
    pub maxerror_usec: i64,
    /// `timex.esterror`: the estimated error in microseconds.
    pub esterror_usec: i64,
}

impl ClockState {
    /// `STA_UNSYNC` (include/uapi/linux/timex.h).
    pub const STA_UNSYNC: i32 = 0x0040;
    /// `TIME_ERROR`: what adjtimex returns while the clock is unsynchronised.
    pub const TIME_ERROR: i32 = 5;

    /// Whether the kernel considers its clock unsynchronised.
    pub fn unsynced(&self) -> bool {
        self.status & Self::STA_UNSYNC != 0 || self.state == Self::TIME_ERROR
    }
}

/// One line of `/proc/swaps`: `/swapfile  file  2097148  0  -2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwapArea {
    pub filename: String,
    /// `partition` or `file`.
    pub kind: String,
    pub size_kb: u64,
    pub used_kb: u64,
}

/// The CNI configuration the runtime loads, and whether its plugins are installed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cni {
    /// Where configurations are read: the runtime's `conf_dir` / `network_dir`, else
    /// `/etc/cni/net.d`.
    pub conf_dir: String,
    /// Where plugin binaries are looked for, in order (containerd `bin_dir` / `bin_dirs`,
    /// CRI-O `plugin_dirs`, else `/opt/cni/bin`).
    pub bin_dirs: Vec<String>,
    /// Whether `conf_dir` exists.
    pub conf_dir_exists: bool,
    /// The configuration files found (`*.conf`, `*.conflist`, `*.json`), sorted as the
    /// runtime sorts them (libcni `ConfFiles`: lexical).
    pub files: Vec<CniConfFile>,
}

/// One CNI configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CniConfFile {
    pub path: String,
    /// The network name (`name`), when the file parsed.
    pub network: Option<String>,
    /// Plugin types in order (`type` of a `.conf`, each `plugins[].type` of a `.conflist`).
    pub plugins: Vec<String>,
    /// Plugin types with no executable in any of the bin dirs.
    pub missing_binaries: Vec<String>,
    /// Why the file could not be used (not JSON, no `type`/`plugins`), when it could not.
    pub invalid: Option<String>,
}

/// One of the kubelet's certificates (only CERTIFICATE blocks are read; never a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KubeletCert {
    /// `client` (the kubelet's identity towards the API server) or `serving` (its HTTPS
    /// server, port 10250).
    pub role: String,
    pub path: String,
    pub subject: Option<String>,
    pub not_before: Option<jiff::Timestamp>,
    pub not_after: Option<jiff::Timestamp>,
    /// Issuer and subject are the same: the kubelet's own self-signed `kubelet.crt`.
    #[serde(default)]
    pub self_signed: bool,
    /// Why the certificate could not be read, when it could not.
    pub error: Option<String>,
}

/// One `Scheduled restart job` of a systemd unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceRestart {
    /// `kubelet.service`, `containerd.service`, `crio.service`.
    pub unit: String,
    pub time: jiff::Timestamp,
    /// `restart counter is at N` (systemd ≥ 236), when the record says it.
    pub counter: Option<u64>,
}

/// `/proc/loadavg`: `0.52 0.61 0.58 3/1874 402311`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
    /// Runnable tasks at the moment of reading (before the `/`).
    pub runnable: u64,
}
