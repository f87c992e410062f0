//! Snapshot builders for the rules' own tests: an empty node, and the few pieces a rule reads
//! (a kubelet with its built-in defaults, a pod with a container, a filesystem, a resolv.conf),
//! so that each rule's edge tests build exactly the facts they vary and nothing else.
//!
//! The kubelet defaults mirror `pkg/kubelet/apis/config/v1beta1/defaults.go` and
//! `pkg/kubelet/eviction/defaults_linux.go`; a test here checks them
//! against [`crate::model::kubelet::DEFAULT_EVICTION_HARD`].

use crate::analyze::{Finding, Rule, Severity};
use crate::model::dns::{PodDns, ResolvFile};
use crate::model::fs::StatVfs;
use crate::model::kubelet::{KubeletConfig, KubeletInfo, ThresholdValue};
use crate::model::oom_kill::OomKill;
use crate::model::resolv::ResolvConf;
use crate::model::{
    CgroupLayout, CgroupStats, CgroupVersion, Container, Filesystem, Meminfo, NodeIdentity,
    PidLimits, Pod, Process, Psi, Qos, Snapshot,
};
use std::collections::BTreeMap;

/// "Now" of every test snapshot.
pub const NOW: &str = "2026-11-22T03:00:00Z";
/// The node every test snapshot describes.
pub const NODE: &str = "node-a";

/// A node that reported nothing: no memory, no pods, no kubelet, no cluster, no errors.
pub fn snap() -> Snapshot {
    Snapshot {
        schema: crate::model::SNAPSHOT_SCHEMA.into(),
        taken_at: NOW.parse().expect("NOW is a timestamp"),
        source: "rule test".into(),
        node: NodeIdentity {
            hostname: Some(NODE.into()),
            ..Default::default()
        },
        memory: None,
        psi: Psi::default(),
        pids: PidLimits::default(),
        mounts: Vec::new(),
        filesystems: Vec::new(),
        cgroup: CgroupLayout::default(),
        root_memory: None,
        kubepods: None,
        pods: Vec::new(),
        container_logs: Vec::new(),
        processes: Vec::new(),
        kubelet: None,
        distribution: None,
        untrusted_daemons: Vec::new(),
        kernel_log: Vec::new(),
        oom_kills: Vec::new(),
        oom_kills_since_boot: None,
        kubelet_log: Vec::new(),
        disk: Default::default(),
        dns: Default::default(),
        gpu: Default::default(),
        cluster: None,
        health: Default::default(),
        errors: Vec::new(),
    }
}

/// A node whose pod cgroups were found (so a pod without one is known not to run).
pub fn snap_with_kubepods() -> Snapshot {
    let mut s = snap();
    s.cgroup = CgroupLayout {
        version: Some(CgroupVersion::V2),
        kubepods_path: Some("/kubepods.slice".into()),
        ..Default::default()
    };
    s
}

/// The kubelet's configuration when its file sets nothing: the built-in defaults.
pub fn kubelet_defaults() -> KubeletConfig {
    KubeletConfig {
        eviction_hard: crate::model::kubelet::default_eviction_hard()
            .into_iter()
            .collect(),
        eviction_soft: BTreeMap::new(),
        eviction_soft_grace_period: BTreeMap::new(),
        eviction_minimum_reclaim: BTreeMap::new(),
        eviction_pressure_transition_period: "5m".into(),
        eviction_max_pod_grace_period: 0,
        merge_default_eviction_settings: false,
        system_reserved: BTreeMap::new(),
        kube_reserved: BTreeMap::new(),
        enforce_node_allocatable: vec!["pods".into()],
        cgroup_driver: "cgroupfs".into(),
        cgroup_root: "/".into(),
        cgroups_per_qos: true,
        root_dir: "/var/lib/kubelet".into(),
        pod_pids_limit: -1,
        container_log_max_size: "10Mi".into(),
        container_log_max_files: 5,
        resolv_conf: "/etc/resolv.conf".into(),
        cluster_dns: Vec::new(),
        cluster_domain: String::new(),
        image_gc_high_threshold_percent: 85,
        image_gc_low_threshold_percent: 80,
        max_pods: 110,
        container_runtime_endpoint: "unix:///run/containerd/containerd.sock".into(),
        kernel_memcg_notification: false,
        kubeconfig: None,
        hostname_override: None,
        fail_swap_on: true,
        memory_swap_behavior: String::new(),
        rotate_certificates: false,
        server_tls_bootstrap: false,
        tls_cert_file: None,
        cert_dir: "/var/lib/kubelet/pki".into(),
        sources: BTreeMap::new(),
    }
}

/// A kubelet configuration that leaves a 16Gi node room before the OOM killer: hard
/// memory.available 500Mi, soft 1Gi for 1m30s, 256Mi minimum reclaim, 512Mi reserved each for
/// the system and the kubelet.
pub fn sound_memory_config() -> KubeletConfig {
    let mut c = kubelet_defaults();
    c.eviction_hard = thresholds("memory.available", "500Mi");
    c.eviction_soft = thresholds("memory.available", "1Gi");
    c.eviction_soft_grace_period = BTreeMap::from([("memory.available".into(), "1m30s".into())]);
    c.eviction_minimum_reclaim = thresholds("memory.available", "256Mi");
    c.system_reserved = BTreeMap::from([("memory".into(), "512Mi".into())]);
    c.kube_reserved = BTreeMap::from([("memory".into(), "512Mi".into())]);
    c
}

/// A running kubelet with `config`.
pub fn kubelet(config: KubeletConfig) -> Option<KubeletInfo> {
    Some(KubeletInfo {
        embedded_in: None,
        config_sources: Vec::new(),
        pid: 900,
        config_file: Some("/var/lib/kubelet/config.yaml".into()),
        drop_ins: Vec::new(),
        flags: BTreeMap::new(),
        config,
    })
}

/// A threshold as the kubelet parses it (`100Mi`, `10%`).
pub fn threshold(signal: &str, raw: &str) -> ThresholdValue {
    ThresholdValue::parse(signal, raw)
        .expect("valid threshold")
        .expect("not ignored")
}

/// A map of one threshold.
pub fn thresholds(signal: &str, raw: &str) -> BTreeMap<String, ThresholdValue> {
    BTreeMap::from([(signal.to_string(), threshold(signal, raw))])
}

/// `/proc/meminfo` with `total` bytes of memory.
pub fn meminfo(total: u64) -> Option<Meminfo> {
    Some(Meminfo {
        mem_total_bytes: total,
        ..Default::default()
    })
}

/// A cgroup at `path` with nothing read yet.
pub fn cgroup(path: &str) -> CgroupStats {
    CgroupStats {
        path: path.into(),
        ..Default::default()
    }
}

/// A Burstable pod `ns/name` with a pod cgroup and no containers.
pub fn pod(ns: &str, name: &str, uid: &str) -> Pod {
    Pod {
        uid: uid.into(),
        namespace: Some(ns.into()),
        name: Some(name.into()),
        qos: Some(Qos::Burstable),
        cgroup: Some(cgroup(&format!("/kubepods.slice/pod{uid}"))),
        containers: Vec::new(),
        log_dir: None,
        api: None,
    }
}

/// A workload container `name` with runtime id `id` and the given cgroup.
pub fn container(id: &str, name: &str, cg: Option<CgroupStats>) -> Container {
    Container {
        id: id.into(),
        name: Some(name.into()),
        runtime: Some("containerd".into()),
        sandbox: false,
        cgroup: cg,
    }
}

/// A process `comm` (pid) in container `container_id`.
pub fn process(pid: u32, comm: &str, container_id: Option<&str>) -> Process {
    Process {
        pid,
        ppid: 1,
        comm: comm.into(),
        cmdline: vec![comm.into()],
        state: "S".into(),
        threads: 1,
        start_ticks: 0,
        cgroup: None,
        oom_score: None,
        oom_score_adj: None,
        container_id: container_id.map(String::from),
        uid: Some(0),
        euid: Some(0),
    }
}

/// A filesystem at `mount_point` with `blocks` blocks of 1 byte, `bavail` of them available,
/// and `files` inodes of which `ffree` are free: figures chosen so that thresholds land on
/// whole bytes and inodes.
pub fn filesystem(
    mount_point: &str,
    blocks: u64,
    bavail: u64,
    files: u64,
    ffree: u64,
) -> Filesystem {
    Filesystem {
        mount_point: mount_point.into(),
        fs_type: "ext4".into(),
        stat: Some(StatVfs {
            bsize: 1,
            frsize: 1,
            blocks,
            bfree: bavail,
            bavail,
            files,
            ffree,
            favail: ffree,
        }),
        error: None,
        stuck: false,
    }
}

/// A resolv.conf with these nameservers, search list and ndots (other options at glibc's defaults).
pub fn resolv(path: &str, nameservers: &[&str], search: &[&str], ndots: u32) -> ResolvFile {
    let listed: Vec<String> = nameservers.iter().map(|s| s.to_string()).collect();
    ResolvFile {
        path: path.into(),
        conf: ResolvConf {
            nameservers: listed
                .iter()
                .take(crate::model::resolv::MAX_NAMESERVERS)
                .cloned()
                .collect(),
            nameservers_listed: listed,
            search: search.iter().map(|s| s.to_string()).collect(),
            ndots,
            ..Default::default()
        },
    }
}

/// A pod's DNS view.
pub fn pod_dns(ns: &str, name: &str, resolv: ResolvFile) -> PodDns {
    PodDns {
        uid: format!("uid-{name}"),
        namespace: Some(ns.into()),
        name: Some(name.into()),
        resolv,
        pid: Some(4242),
        host_network: Some(false),
    }
}

/// A 64-hex container id made of `c` repeated (`id('a')` = `aaaa…a`).
pub fn id(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// The cgroup v2 path (systemd driver) of container `cid` of Burstable pod `uid`.
pub fn container_path(uid: &str, cid: &str) -> String {
    let u = uid.replace('-', "_");
    format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/cri-containerd-{cid}.scope"
    )
}

/// A kernel OOM kill of `comm` (pid) `usec` after boot, in cgroup `task_memcg`: a memcg kill
/// at that cgroup's limit, or a node-wide one when `global`.
pub fn kill(pid: u32, comm: &str, usec: u64, task_memcg: &str, global: bool) -> OomKill {
    OomKill {
        seq: 100,
        usec,
        pid,
        comm: comm.into(),
        global,
        constraint: Some(
            if global {
                "CONSTRAINT_NONE"
            } else {
                "CONSTRAINT_MEMCG"
            }
            .into(),
        ),
        oom_memcg: Some(if global {
            "/".into()
        } else {
            task_memcg.into()
        }),
        task_memcg: Some(task_memcg.into()),
        invoker: Some(comm.into()),
        gfp_mask: None,
        order: Some(0),
        total_vm_kb: None,
        anon_rss_kb: Some(1024),
        file_rss_kb: None,
        shmem_rss_kb: None,
        pgtables_kb: None,
        oom_score_adj: Some(900),
        uid: Some(0),
        score: None,
        chosen_pid: None,
        group_kill: false,
    }
}

/// Sets the boot time so that `usec` after boot is `ago` seconds before [`NOW`].
pub fn booted_so_that(snap: &mut Snapshot, usec: u64, ago: i64) {
    let at = snap.taken_at.as_second() - ago;
    let boot = at - i64::try_from(usec / 1_000_000).unwrap_or(0);
    snap.node.boot_time = Some(jiff::Timestamp::from_second(boot).expect("a time"));
}

/// The findings `rule` makes on `snap`.
pub fn run(rule: &dyn Rule, snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    rule.check(snap, &mut out);
    for f in &out {
        assert_eq!(f.id, rule.id(), "a rule emits only its own id");
    }
    out
}

/// The severities of the findings `rule` makes on `snap`, in order.
pub fn severities(rule: &dyn Rule, snap: &Snapshot) -> Vec<Severity> {
    run(rule, snap).iter().map(|f| f.severity).collect()
}

/// The one finding `rule` makes on `snap` (fails when there are none or several).
pub fn one(rule: &dyn Rule, snap: &Snapshot) -> Finding {
    let mut f = run(rule, snap);
    assert_eq!(f.len(), 1, "expected one finding, got {f:#?}");
    f.remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_defaults_carry_the_linux_default_eviction_hard() {
        let c = kubelet_defaults();
        let want: BTreeMap<String, ThresholdValue> = crate::model::kubelet::DEFAULT_EVICTION_HARD
            .iter()
            .map(|(k, v)| (k.to_string(), threshold(k, v)))
            .collect();
        assert_eq!(c.eviction_hard, want);
        assert_eq!(c.eviction_hard.len(), 5);
        assert!(c.eviction_soft.is_empty() && c.eviction_minimum_reclaim.is_empty());
        assert_eq!(c.pod_pids_limit, -1);
    }

    #[test]
    fn an_empty_node_makes_no_finding_from_any_rule() {
        let s = snap();
        for r in super::super::RULES {
            assert!(
                run(*r, &s).is_empty(),
                "{} fired on an empty snapshot",
                r.id()
            );
        }
    }
}
