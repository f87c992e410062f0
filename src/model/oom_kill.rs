//! Kernel OOM kills as the kernel logged them. One [`OomKill`] per killed process, assembled
//! from the records of one OOM event (mm/oom_kill.c `dump_header`, `dump_oom_summary`,
//! `__oom_kill_process`; mm/memcontrol.c for the memcg context lines). A kill the kernel printed
//! twice (memory.oom.group rescans the first victim) is one [`OomKill`].

use serde::{Deserialize, Serialize};

/// One process killed by the kernel's OOM killer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OomKill {
    /// kmsg sequence number of the `Killed process` record.
    pub seq: u64,
    /// Microseconds since boot of the `Killed process` record.
    pub usec: u64,
    pub pid: u32,
    pub comm: String,
    /// A node-wide OOM (`Out of memory:` / `CONSTRAINT_NONE`): the kernel, not a cgroup limit, chose.
    pub global: bool,
    /// `CONSTRAINT_MEMCG`, `CONSTRAINT_NONE`, `CONSTRAINT_CPUSET`, `CONSTRAINT_MEMORY_POLICY`
    /// (from the `oom-kill:` summary, kernel ≥ 4.19).
    pub constraint: Option<String>,
    /// The cgroup whose limit was hit (`oom_memcg=`, or `limit of` in the pre-4.19 `Task in` line).
    pub oom_memcg: Option<String>,
    /// The victim's cgroup (`task_memcg=`, or `Task in X killed`).
    pub task_memcg: Option<String>,
    /// The task whose allocation invoked the OOM killer (`<comm> invoked oom-killer`).
    pub invoker: Option<String>,
    pub gfp_mask: Option<String>,
    pub order: Option<i32>,
    /// Virtual size and resident memory of the victim at the kill, in KiB.
    pub total_vm_kb: Option<u64>,
    pub anon_rss_kb: Option<u64>,
    pub file_rss_kb: Option<u64>,
    pub shmem_rss_kb: Option<u64>,
    pub pgtables_kb: Option<u64>,
    /// The victim's oom_score_adj (`oom_score_adj:` on the kill line, kernel ≥ 5.x).
    pub oom_score_adj: Option<i64>,
    pub uid: Option<u32>,
    /// The badness score of the old `Kill process N (x) score S or sacrifice child` line
    /// (the score of the chosen process, which is [`Self::chosen_pid`] when a child died instead).
    pub score: Option<u64>,
    /// The process the OOM killer chose, when it killed one of that process's children instead
    /// (kernels before 5.0: `Kill process N (x) score S or sacrifice child`, then `Killed
    /// process M (y)`). `None` when the chosen process itself was killed.
    pub chosen_pid: Option<u32>,
    /// Killed with its whole cgroup because `memory.oom.group` was set (not the first victim).
    pub group_kill: bool,
}
