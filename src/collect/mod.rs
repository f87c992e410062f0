//! Collectors: read the host through [`Host`], parse, and fill a [`Snapshot`]. They never
//! judge, and a failure is data: each one records what it could not read in `errors` and the
//! rest goes on.
//!
//! Order matters only where one collector needs another's facts: the kubelet's configuration
//! (from its process, once [`trust`] believes it) picks the cgroup driver and root, and the
//! pods are found under that root. A collection runs in two steps ([`start`], then
//! [`Started::finish`]) so that the cluster part of a run can set off for the API server with
//! the kubelet's kubeconfig as soon as the kubelet is known, from the one reading of `/proc`.

mod carry;
mod cgroup;
pub mod checkpoint_checksum;
pub mod cluster;
pub mod disk;
pub mod distro;
pub mod dns;
pub mod gpu;
pub mod health;
pub mod images;
pub mod kernel_events;
mod kmsg;
pub mod kubeconfig;
mod kubelet;
mod kubelet_log;
mod mounts;
mod node;
pub mod oom;
pub mod pod_shm;
mod pods;
pub mod prev_log;
mod processes;
pub mod resolv;
pub mod runtime;
pub mod timings;
pub mod trust;

pub use carry::{Carry, FULL_EVERY, SLOW_EVERY};
pub use timings::Timings;

pub use kmsg::parse_record as parse_kmsg_record;
pub use kubelet_log::{is_kubelet_syslog_line, parse_line as parse_kubelet_log_line};
pub use mounts::parse_mountinfo;
pub use node::{parse_meminfo, parse_pressure};
pub use processes::memory_cgroup as parse_proc_cgroup;
pub use processes::status_uids as parse_proc_status_uids;

use crate::model::{
    CollectError, KubeletInfo, Meminfo, Mount, NodeIdentity, PidLimits, Process, Psi,
    SNAPSHOT_SCHEMA, Snapshot, UntrustedDaemon,
};
use crate::source::{ErrorKind, Host, HostError};

/// Collects everything the rules need from `host`.
pub fn snapshot(host: &dyn Host) -> Snapshot {
    snapshot_with(host, disk::DiskOptions::default())
}

/// [`snapshot`] with a say in how much disk walking to do (`nodescope disk` walks the image
/// store too, with a progress line).
pub fn snapshot_with(host: &dyn Host, disk_opts: disk::DiskOptions<'_>) -> Snapshot {
    start(host).finish(disk_opts)
}

/// One sample of `top` or `serve`: [`snapshot`], reading again only what may have changed
/// since the samples `carry` remembers (collect::carry), its phases timed into `timings`.
pub fn sample(host: &dyn Host, carry: &mut Carry, timings: Timings) -> (Snapshot, Timings) {
    start_with(host, Some(carry), timings).finish_timed(disk::DiskOptions::default())
}

/// The first step of a collection: who the node is, its processes and the kubelet among them.
pub struct Started<'h> {
    host: &'h dyn Host,
    carry: Option<&'h mut Carry>,
    timings: Timings,
    errs: Errors,
    taken_at: jiff::Timestamp,
    node: NodeIdentity,
    memory: Option<Meminfo>,
    psi: Psi,
    pids: PidLimits,
    loadavg: Option<crate::model::health::LoadAvg>,
    mounts: Vec<Mount>,
    processes: Vec<Process>,
    kubelet: Option<KubeletInfo>,
    distribution: Option<crate::model::distro::Distribution>,
    untrusted: Vec<UntrustedDaemon>,
}

/// Reads the node's identity, memory, mounts and processes, and finds the kubelet.
pub fn start(host: &dyn Host) -> Started<'_> {
    start_with(host, None, Timings::off())
}

/// [`start`], with a cache carried from the last sample (`top`, `serve`) and a recorder of
/// each phase's time (`--debug-timings`).
pub fn start_with<'h>(
    host: &'h dyn Host,
    mut carry: Option<&'h mut Carry>,
    mut timings: Timings,
) -> Started<'h> {
    host.begin_sample();
    if let Some(c) = carry.as_deref_mut() {
        c.begin();
    }
    let t = &mut timings;
    let mut errs = Errors::default();
    let taken_at = host.now();
    let (node, memory, psi, (pids, loadavg)) = t.time("node", || {
        (
            node::identity(host, taken_at, &mut errs),
            node::meminfo(host, &mut errs),
            node::psi(host, &mut errs),
            node::pid_limits(host, &mut errs),
        )
    });
    let mounts = t.time("mounts", || mounts::mountinfo(host, &mut errs));
    let processes = t.time("processes", || {
        processes::collect(host, &mut errs, carry.as_deref_mut().map(|c| &mut c.procs))
    });
    let mut untrusted = Vec::new();
    let (kubelet, distribution) = t.time("kubelet", || {
        let kubelet = kubelet::collect(host, &processes, &mut errs, &mut untrusted);
        let distribution = distro::detect(host, &processes, kubelet.as_ref());
        (kubelet, distribution)
    });
    Started {
        distribution,
        host,
        carry,
        timings,
        errs,
        taken_at,
        node,
        memory,
        psi,
        pids,
        mounts,
        processes,
        kubelet,
        untrusted,
        loadavg,
    }
}

impl Started<'_> {
    /// The kubelet, when a process the trust rules believe calls itself so.
    pub fn kubelet(&self) -> Option<&KubeletInfo> {
        self.kubelet.as_ref()
    }

    /// The node's name as the API server knows it: the kubelet's `--hostname-override`, else
    /// the kernel's hostname (/proc/sys/kernel/hostname, read through the host).
    pub fn node_name(&self) -> Option<String> {
        self.kubelet
            .as_ref()
            .and_then(|k| k.config.hostname_override.clone())
            .or_else(|| self.node.hostname.clone())
    }

    /// Collects the rest and returns the snapshot.
    pub fn finish(self, disk_opts: disk::DiskOptions<'_>) -> Snapshot {
        self.finish_timed(disk_opts).0
    }

    /// [`Started::finish`], and the time of each phase (when the recorder is on).
    pub fn finish_timed(self, disk_opts: disk::DiskOptions<'_>) -> (Snapshot, Timings) {
        let Started {
            host,
            mut carry,
            mut timings,
            mut errs,
            taken_at,
            node,
            memory,
            psi,
            pids,
            mounts,
            mut processes,
            kubelet,
            distribution,
            untrusted,
            loadavg,
        } = self;
        let t = &mut timings;
        let filesystems = t.time("filesystems", || {
            mounts::filesystems(host, &mounts, &mut errs)
        });
        let (cgroup, root_memory, kubepods, mut pods) = t.time("cgroup", || {
            let cgroup = cgroup::layout(host, kubelet.as_ref(), &mut errs);
            let root_memory = cgroup::root_memory(host, &cgroup, &mut errs);
            let (kubepods, pods) = cgroup::pods(host, &cgroup, &mut errs);
            (cgroup, root_memory, kubepods, pods)
        });
        let container_logs = t.time("pods", || {
            let logs = pods::identify(host, &mut pods, kubelet.as_ref(), &mut errs);
            processes::attribute(&mut processes, &pods);
            logs
        });
        let (kernel_log, oom_kills, oom_kills_since_boot) = t.time("kernel_log", || {
            let kernel_log = kmsg::collect(host, &mut errs);
            let oom_kills = oom::parse_oom_kills(&kernel_log);
            let since_boot = node::vmstat_oom_kill(host, &mut errs);
            (kernel_log, oom_kills, since_boot)
        });
        let profile = distro::profile(distribution.as_ref().map_or("", |d| d.id.as_str()));
        let kubelet_log = t.time("kubelet_log", || {
            kubelet_log::collect(host, kubelet.is_some(), profile, &mut errs)
        });
        let disk = t.time("disk", || {
            disk::collect(
                host,
                &disk::Inputs {
                    mounts: &mounts,
                    filesystems: &filesystems,
                    processes: &processes,
                    kubelet: kubelet.as_ref(),
                },
                disk_opts,
                &mut errs,
                carry.as_deref_mut(),
            )
        });
        let dns = t.time("dns", || {
            dns::collect(
                host,
                &dns::Inputs {
                    pods: &pods,
                    processes: &processes,
                    kubelet: kubelet.as_ref(),
                    runtime: disk.runtime.as_ref(),
                    kernel_log: &kernel_log,
                },
                &mut errs,
            )
        });
        let mut gpu = t.time("gpu", || {
            gpu::collect(
                host,
                kubelet
                    .as_ref()
                    .map_or(gpu::DEFAULT_KUBELET_ROOT, |k| k.config.root_dir.as_str()),
                &kernel_log,
                &mut errs,
            )
        });
        gpu.previous_runs = t.time("prev_log", || {
            carry::previous_runs(host, &pods, &mut errs, carry)
        });
        gpu.pod_shm = t.time("pod_shm", || {
            pod_shm::collect(host, &pods, &processes, &mounts, &mut errs)
        });
        let health = t.time("health", || {
            health::collect(
                host,
                &health::Inputs {
                    kernel_log: &kernel_log,
                    kubelet: kubelet.as_ref(),
                    runtime: disk.runtime.as_ref(),
                    loadavg,
                },
                &mut errs,
            )
        });
        if node.euid != 0 {
            errs.push(not_root(node.euid));
        }
        let mut errors = errs.0;
        // A message quotes its source (a parser's excerpt, a URL): no secret goes further.
        crate::source::redact::errors(&mut errors);
        errors.sort();
        errors.dedup();
        // The reason for many of the others comes first.
        errors.sort_by_key(|e| e.collector != "privileges");
        let snap = Snapshot {
            schema: SNAPSHOT_SCHEMA.into(),
            taken_at,
            source: host.describe(),
            node,
            memory,
            psi,
            pids,
            mounts,
            filesystems,
            cgroup,
            root_memory,
            kubepods,
            pods,
            container_logs,
            processes,
            kubelet,
            distribution,
            untrusted_daemons: untrusted,
            kernel_log,
            oom_kills,
            oom_kills_since_boot,
            kubelet_log,
            disk,
            dns,
            gpu,
            cluster: None,
            health,
            errors,
        };
        (snap, timings)
    }
}

/// The note that explains many of the other errors when nodescope is not root.
fn not_root(euid: u32) -> CollectError {
    CollectError {
        collector: "privileges".into(),
        kind: ErrorKind::Denied,
        path: None,
        line: None,
        message: format!(
            "not running as root (euid {euid}): the kernel log (/dev/kmsg, kernel.dmesg_restrict), other users' \
             /proc/<pid> files and the kubelet's files may be unreadable; run with sudo for the full picture"
        ),
    }
}

/// The errors of one collection pass.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<CollectError>);

impl Errors {
    pub(crate) fn push(&mut self, e: CollectError) {
        self.0.push(e);
    }

    /// A failed host operation.
    pub(crate) fn host(&mut self, collector: &str, e: &HostError) {
        self.0.push(CollectError {
            collector: collector.into(),
            kind: e.kind,
            path: Some(e.path.clone()),
            line: e.line,
            message: if e.detail.is_empty() {
                e.kind.to_string()
            } else {
                e.detail.clone()
            },
        });
    }

    /// A host failure unless the file is simply absent (optional files: memory.peak before 5.19).
    pub(crate) fn unless_missing(&mut self, collector: &str, e: &HostError) {
        if e.kind != ErrorKind::Missing {
            self.host(collector, e);
        }
    }

    /// A file that was read and could not be understood *as a whole*: nothing of it is used.
    /// Recorded as [`Errors::invalid`] is, and told to the host ([`Host::unparsed`]), so a
    /// capture keeps this failure in place of the file.
    pub(crate) fn unparsed(
        &mut self,
        host: &dyn Host,
        collector: &str,
        path: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) {
        let message = message.into();
        host.unparsed(&HostError {
            line,
            ..HostError::new(ErrorKind::Invalid, path, message.clone())
        });
        self.invalid(collector, path, line, message);
    }

    /// A value in a file that was read and used otherwise (one kernel-log record, one
    /// threshold): the file stays evidence, this part of it is reported.
    pub(crate) fn invalid(
        &mut self,
        collector: &str,
        path: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) {
        self.0.push(CollectError {
            collector: collector.into(),
            kind: ErrorKind::Invalid,
            path: Some(path.into()),
            line,
            message: message.into(),
        });
    }
}

/// Reads a file holding one integer (`/proc/sys/kernel/pid_max`, `memory.current`).
/// `max` reads as `u64::MAX`, as the cgroup v2 interface files write "no limit".
pub(crate) fn read_u64(host: &dyn Host, path: &str) -> Result<u64, HostError> {
    let s = host.read_string(path)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse::<u64>().map_err(|_| {
        let e = HostError::new(
            ErrorKind::Invalid,
            path,
            format!("expected an integer, found {:?}", truncate(t, 40)),
        );
        host.unparsed(&e);
        e
    })
}

/// Parses a flat-keyed file (`key value` per line: memory.stat, memory.events, oom_control).
pub fn parse_flat_keyed(text: &str) -> std::collections::BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k, v))
        })
        .collect()
}

pub(crate) use crate::model::text::truncate;

/// The kubelet's effective configuration from these command-line flags alone (rule tests).
#[cfg(test)]
pub(crate) fn kubelet_config_for_tests(flags: &[&str]) -> crate::model::KubeletConfig {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    kubelet::resolve(
        &serde_json::Value::Object(Default::default()),
        &kubelet::parse_flags(&args),
        "test",
        &mut Errors::default(),
    )
}
