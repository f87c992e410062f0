//! The rule registry: one file per rule, one line per rule in [`RULES`], sorted by id.

mod cpu_pressure;
mod cpu_throttling;
mod disk_container_log_oversize;
mod disk_deleted_open_files;
mod disk_emptydir_large;
mod disk_filesystem_full;
mod disk_imagefs_pressure;
mod disk_inode_exhaustion;
mod disk_nodefs_pressure;
mod disk_orphaned_pod_logs;
mod disk_orphaned_pod_volumes;
mod dns_conntrack_race;
mod dns_nameserver_limit;
mod dns_ndots_amplification;
mod dns_no_cluster_dns;
mod dns_policy_default;
mod dns_probe_failed;
mod dns_search_limit;
mod eviction_besteffort_critical;
mod eviction_hard_only;
mod eviction_no_memory_threshold;
mod eviction_no_minimum_reclaim;
mod eviction_no_reserved;
mod fs_io_error;
mod fs_read_only;
mod gpu_all_allocated;
mod gpu_cuda_oom;
mod gpu_device_plugin_missing;
mod gpu_driver_not_loaded;
mod gpu_memory_near_full;
mod gpu_mig_resource_mismatch;
mod gpu_operator_unhealthy;
mod gpu_pending_pod;
mod gpu_xid;
mod kernel_hung_task;
mod kernel_soft_lockup;
mod kubelet_cert_expiry;
mod memory_eviction_order;
mod memory_global_oom;
mod memory_kernel_oom_kill;
mod memory_limit_near_peak;
mod memory_oom_race;
mod memory_pressure;
mod net_cni_missing;
mod net_conntrack_table_full;
mod node_clock_unsynced;
mod node_condition;
mod node_kubelet_config_drift;
mod node_kubelet_not_running;
mod node_kubelet_stats_mismatch;
mod node_service_flapping;
mod node_swap_on;
mod pid_pressure;
mod pid_unbounded_pods;
mod pod_shm_small;
mod runtime_not_ready;
#[cfg(test)]
pub(crate) mod testing;

use super::Rule;

/// Every rule nodescope runs, sorted by id (a test keeps it so).
pub static RULES: &[&dyn Rule] = &[
    &cpu_pressure::CpuPressure,
    &cpu_throttling::CpuThrottling,
    &disk_container_log_oversize::DiskContainerLogOversize,
    &disk_deleted_open_files::DiskDeletedOpenFiles,
    &disk_emptydir_large::DiskEmptydirLarge,
    &disk_filesystem_full::DiskFilesystemFull,
    &disk_imagefs_pressure::DiskImagefsPressure,
    &disk_inode_exhaustion::DiskInodeExhaustion,
    &disk_nodefs_pressure::DiskNodefsPressure,
    &disk_orphaned_pod_logs::DiskOrphanedPodLogs,
    &disk_orphaned_pod_volumes::DiskOrphanedPodVolumes,
    &dns_conntrack_race::DnsConntrackRace,
    &dns_nameserver_limit::DnsNameserverLimit,
    &dns_ndots_amplification::DnsNdotsAmplification,
    &dns_no_cluster_dns::DnsNoClusterDns,
    &dns_policy_default::DnsPolicyDefault,
    &dns_probe_failed::DnsProbeFailed,
    &dns_search_limit::DnsSearchLimit,
    &eviction_besteffort_critical::EvictionBesteffortCritical,
    &eviction_hard_only::EvictionHardOnly,
    &eviction_no_memory_threshold::EvictionNoMemoryThreshold,
    &eviction_no_minimum_reclaim::EvictionNoMinimumReclaim,
    &eviction_no_reserved::EvictionNoReserved,
    &fs_io_error::FsIoError,
    &fs_read_only::FsReadOnly,
    &gpu_all_allocated::GpuAllAllocated,
    &gpu_cuda_oom::GpuCudaOom,
    &gpu_device_plugin_missing::GpuDevicePluginMissing,
    &gpu_driver_not_loaded::GpuDriverNotLoaded,
    &gpu_memory_near_full::GpuMemoryNearFull,
    &gpu_mig_resource_mismatch::GpuMigResourceMismatch,
    &gpu_operator_unhealthy::GpuOperatorUnhealthy,
    &gpu_pending_pod::GpuPendingPod,
    &gpu_xid::GpuXid,
    &kernel_hung_task::KernelHungTask,
    &kernel_soft_lockup::KernelSoftLockup,
    &kubelet_cert_expiry::KubeletCertExpiry,
    &memory_eviction_order::MemoryEvictionOrder,
    &memory_global_oom::MemoryGlobalOom,
    &memory_kernel_oom_kill::MemoryKernelOomKill,
    &memory_limit_near_peak::MemoryLimitNearPeak,
    &memory_oom_race::MemoryOomRace,
    &memory_pressure::MemoryPressure,
    &net_cni_missing::NetCniMissing,
    &net_conntrack_table_full::NetConntrackTableFull,
    &node_clock_unsynced::NodeClockUnsynced,
    &node_condition::NodeCondition,
    &node_kubelet_config_drift::NodeKubeletConfigDrift,
    &node_kubelet_not_running::NodeKubeletNotRunning,
    &node_kubelet_stats_mismatch::NodeKubeletStatsMismatch,
    &node_service_flapping::NodeServiceFlapping,
    &node_swap_on::NodeSwapOn,
    &pid_pressure::PidPressure,
    &pid_unbounded_pods::PidUnboundedPods,
    &pod_shm_small::PodShmSmall,
    &runtime_not_ready::RuntimeNotReady,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sorted_unique_and_well_formed() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted, "RULES must be sorted by id and unique");
        let areas = [
            "memory", "eviction", "pid", "dns", "net", "disk", "gpu", "node", "kernel", "fs",
            "runtime", "kubelet", "cpu", "pod",
        ];
        for id in ids {
            let (area, name) = id.split_once('.').expect("area.name");
            assert!(areas.contains(&area), "{id}: unknown area");
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id}"
            );
        }
    }

    #[test]
    fn every_explanation_has_the_four_sections() {
        for r in RULES {
            for h in [
                "WHAT IT MEANS",
                "WHY IT MATTERS",
                "HOW TO CONFIRM",
                "WHAT TO CHANGE",
            ] {
                assert!(r.explain().contains(h), "{}: explain lacks {h}", r.id());
            }
            let summary = r.summary();
            assert!(
                summary.len() <= 80 && !summary.ends_with('.'),
                "{}: summary",
                r.id()
            );
            // A phrase that says what fires, not a placeholder.
            assert!(
                summary.split_whitespace().count() >= 4,
                "{}: summary {summary:?}",
                r.id()
            );
        }
        let mut summaries: Vec<&str> = RULES.iter().map(|r| r.summary()).collect();
        summaries.sort_unstable();
        summaries.dedup();
        assert_eq!(summaries.len(), RULES.len(), "two rules share a summary");
        for r in RULES {
            assert!(
                r.explain().len() > 400,
                "{}: explain is too short to say what, why, how to confirm and what to change",
                r.id()
            );
        }
    }

    /// The `#[test]` functions in a rule's own source file.
    fn tests_in(source: &str) -> Vec<String> {
        let lines: Vec<&str> = source.lines().collect();
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == "#[test]")
            .filter_map(|(i, _)| {
                lines[i + 1..].iter().find_map(|l| {
                    let rest = l.trim().strip_prefix("fn ")?;
                    rest.split('(').next().map(String::from)
                })
            })
            .collect()
    }

    /// Every rule in the registry has its edges tested in its own file (docs/testing.md: at
    /// least one test that fires and one that stays silent), and the list of those tests in
    /// docs/testing.md is this registry's (`UPDATE_GENERATED=1 cargo test --lib rules::tests`
    /// rewrites it).
    #[test]
    fn every_rule_has_edge_tests_in_its_own_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/analyze/rules");
        let mut table = String::from("| rule | tests in its file |\n|---|---|\n");
        for r in RULES {
            let file = format!("{}.rs", r.id().replace(['.', '-'], "_"));
            let source = std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{}: {file}: {e}", r.id()));
            assert!(
                source.contains("#[cfg(test)]\nmod tests {"),
                "{}: no tests in {file}",
                r.id()
            );
            let names = tests_in(&source);
            assert!(
                names.len() >= 2,
                "{}: {file} needs a test on each side of its condition, has {names:?}",
                r.id()
            );
            table.push_str(&format!(
                "| `{}` ({}) | {} |\n",
                r.id(),
                names.len(),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/testing.md");
        let doc = std::fs::read_to_string(doc_path).expect("docs/testing.md");
        let (begin, end) = ("<!-- rule-tests:begin -->\n", "<!-- rule-tests:end -->");
        let (Some(a), Some(b)) = (doc.find(begin), doc.find(end)) else {
            panic!("docs/testing.md lacks the {begin:?} … {end:?} markers");
        };
        let now = &doc[a + begin.len()..b];
        if now != table {
            let update =
                std::env::var_os("UPDATE_GENERATED").is_some() && std::env::var_os("CI").is_none();
            if update {
                let new = format!("{}{table}{}", &doc[..a + begin.len()], &doc[b..]);
                std::fs::write(doc_path, new).expect("write docs/testing.md");
            } else {
                panic!(
                    "docs/testing.md's rule list is stale: UPDATE_GENERATED=1 cargo test --lib rules::tests"
                );
            }
        }
    }
}
