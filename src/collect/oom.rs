//! Assembles kernel OOM kills from kernel-log records. Formats, by kernel:
//!
//! ```text
//! (all)    tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
//! (<4.19)  Task in /kubepods/burstable/pod<uid>/<id> killed as a result of limit of /kubepods/burstable/pod<uid>
//! (≥4.19)  oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x,task=tail,pid=10722,uid=0
//!          (global OOMs print `,global_oom` instead of `,oom_memcg=...`)
//! (<5.0)   Memory cgroup out of memory: Kill process 10722 (tail) score 1990 or sacrifice child
//!          Killed process 10722 (tail) total-vm:35476kB, anon-rss:32512kB, file-rss:1560kB, shmem-rss:0kB
//! (≥5.0)   Memory cgroup out of memory: Killed process 10722 (tail) total-vm:35476kB, anon-rss:32512kB,
//!          file-rss:1560kB, shmem-rss:0kB, UID:0 pgtables:108kB oom_score_adj:0
//!          Out of memory: Killed process ...            (a global OOM)
//! (≥4.19)  Tasks in /x are going to be killed due to memory.oom.group set   (then one Killed line per task)
//! ```
//!
//! The cgroup-v1 sample above was produced on this project's CI kernel by a real memcg OOM
//! (tests/live_oom.rs); the rest follow mm/oom_kill.c. Lines in between (stack traces, the
//! memory dump, the task table) are skipped. Parsing never panics on any input.

use crate::model::KmsgRecord;
use crate::model::oom_kill::OomKill;

#[derive(Default, Clone)]
struct Header {
    invoker: Option<String>,
    gfp_mask: Option<String>,
    order: Option<i32>,
}

#[derive(Default, Clone)]
struct Summary {
    constraint: Option<String>,
    oom_memcg: Option<String>,
    task_memcg: Option<String>,
    pid: Option<u32>,
    uid: Option<u32>,
    global: bool,
}

/// Every OOM kill in the records, oldest first.
pub fn parse_oom_kills(records: &[KmsgRecord]) -> Vec<OomKill> {
    let mut out = Vec::new();
    let mut header: Option<Header> = None;
    let mut summary: Option<Summary> = None;
    let mut task_in: Option<(String, String)> = None;
    let mut old_kill: Option<(u32, u64, bool)> = None; // pid, score, global
    let mut group: Option<String> = None;
    let mut kills_in_event = 0usize;
    for r in records {
        let m = r.message.as_str();
        if let Some(h) = parse_invoked(m) {
            header = Some(h);
            summary = None;
            task_in = None;
            old_kill = None;
            group = None;
            kills_in_event = 0;
        } else if let Some(s) = m.strip_prefix("oom-kill:") {
            summary = Some(parse_summary(s));
        } else if let Some(t) = parse_task_in(m) {
            task_in = Some(t);
        } else if let Some(g) = parse_group(m) {
            group = Some(g);
        } else if let Some(k) = parse_old_kill(m) {
            old_kill = Some(k);
        } else if let Some(mut k) = parse_killed(m) {
            k.seq = r.seq;
            k.usec = r.usec;
            if let Some(h) = &header {
                k.invoker = h.invoker.clone();
                k.gfp_mask = h.gfp_mask.clone();
                k.order = h.order;
            }
            if let Some(s) = summary
                .as_ref()
                .filter(|s| s.pid.is_none_or(|p| p == k.pid))
            {
                k.constraint = s.constraint.clone();
                k.oom_memcg = s.oom_memcg.clone();
                k.task_memcg = s.task_memcg.clone();
                k.uid = k.uid.or(s.uid);
                k.global |= s.global;
            }
            if let Some((task, limit)) = &task_in {
                k.task_memcg.get_or_insert_with(|| task.clone());
                k.oom_memcg.get_or_insert_with(|| limit.clone());
            }
            if let Some((_, score, global)) = old_kill.filter(|(p, _, _)| *p == k.pid) {
                k.score = Some(score);
                k.global |= global;
            }
            if kills_in_event > 0
                && let Some(g) = &group
            {
                // After the first victim, memory.oom.group kills every task of the cgroup.
                k.group_kill = true;
                k.oom_memcg = Some(g.clone());
                k.task_memcg = Some(g.clone());
                k.constraint = k.constraint.or(Some("CONSTRAINT_MEMCG".into()));
            }
            if k.constraint.is_none() && !k.global && k.oom_memcg.is_some() {
                k.constraint = Some("CONSTRAINT_MEMCG".into());
            }
            kills_in_event += 1;
            out.push(k);
        }
    }
    out
}

/// `tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0`.
fn parse_invoked(m: &str) -> Option<Header> {
    let (comm, rest) = m.split_once(" invoked oom-killer: ")?;
    let mut h = Header {
        invoker: Some(comm.to_string()),
        ..Default::default()
    };
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("gfp_mask=") {
            h.gfp_mask = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("order=") {
            h.order = v.trim().parse().ok();
        }
    }
    Some(h)
}

/// The comma-separated `key=value` summary after `oom-kill:`.
fn parse_summary(s: &str) -> Summary {
    let mut out = Summary::default();
    for part in s.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "constraint" => {
                out.global = v == "CONSTRAINT_NONE";
                out.constraint = Some(v.to_string());
            }
            "oom_memcg" => out.oom_memcg = Some(v.to_string()),
            "task_memcg" => out.task_memcg = Some(v.to_string()),
            "pid" => out.pid = v.parse().ok(),
            "uid" => out.uid = v.parse().ok(),
            "global_oom" => out.global = true,
            _ => {}
        }
    }
    out
}

/// `Task in /a killed as a result of limit of /b` (kernels before 4.19).
fn parse_task_in(m: &str) -> Option<(String, String)> {
    let rest = m.strip_prefix("Task in ")?;
    let (task, limit) = rest.split_once(" killed as a result of limit of ")?;
    Some((task.to_string(), limit.trim().to_string()))
}

/// `Tasks in /a are going to be killed due to memory.oom.group set`.
fn parse_group(m: &str) -> Option<String> {
    let rest = m.strip_prefix("Tasks in ")?;
    let (cg, _) = rest.split_once(" are going to be killed due to memory.oom.group set")?;
    Some(cg.to_string())
}

/// `Memory cgroup out of memory: Kill process 10722 (tail) score 1990 or sacrifice child`
/// and the global `Out of memory: Kill process ...` (kernels before 5.0).
fn parse_old_kill(m: &str) -> Option<(u32, u64, bool)> {
    let (global, rest) =
        if let Some(r) = m.strip_prefix("Memory cgroup out of memory: Kill process ") {
            (false, r)
        } else {
            (true, m.strip_prefix("Out of memory: Kill process ")?)
        };
    let pid: u32 = rest.split_whitespace().next()?.parse().ok()?;
    let score_at = rest.rfind(") score ")? + 8;
    let score: u64 = rest[score_at..].split_whitespace().next()?.parse().ok()?;
    Some((pid, score, global))
}

/// The kill itself, in its three prefixes: `Memory cgroup out of memory: Killed process`,
/// `Out of memory: Killed process` (global), and the bare pre-5.0 `Killed process`.
fn parse_killed(m: &str) -> Option<OomKill> {
    let (global, rest) =
        if let Some(r) = m.strip_prefix("Memory cgroup out of memory: Killed process ") {
            (false, r)
        } else if let Some(r) = m.strip_prefix("Out of memory: Killed process ") {
            (true, r)
        } else {
            (false, m.strip_prefix("Killed process ")?)
        };
    let (pid, rest) = rest.split_once(' ')?;
    let pid: u32 = pid.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    // comm may hold spaces and parentheses: it ends at the last ") " before the figures.
    let close = rest.rfind(") total-vm:").or_else(|| rest.rfind(')'))?;
    let comm = rest[..close].to_string();
    let figures = rest.get(close + 1..).unwrap_or("");
    let mut k = OomKill {
        seq: 0,
        usec: 0,
        pid,
        comm,
        global,
        constraint: None,
        oom_memcg: None,
        task_memcg: None,
        invoker: None,
        gfp_mask: None,
        order: None,
        total_vm_kb: None,
        anon_rss_kb: None,
        file_rss_kb: None,
        shmem_rss_kb: None,
        pgtables_kb: None,
        oom_score_adj: None,
        uid: None,
        score: None,
        group_kill: false,
    };
    let kb = |v: &str| v.trim_end_matches("kB").parse::<u64>().ok();
    for tok in figures.split([',', ' ']).filter(|t| !t.is_empty()) {
        let Some((key, v)) = tok.split_once(':') else {
            continue;
        };
        match key {
            "total-vm" => k.total_vm_kb = kb(v),
            "anon-rss" => k.anon_rss_kb = kb(v),
            "file-rss" => k.file_rss_kb = kb(v),
            "shmem-rss" => k.shmem_rss_kb = kb(v),
            "pgtables" => k.pgtables_kb = kb(v),
            "UID" => k.uid = v.parse().ok(),
            "oom_score_adj" => k.oom_score_adj = v.parse().ok(),
            _ => {}
        }
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::parse_kmsg_record;

    fn recs(text: &str) -> Vec<KmsgRecord> {
        text.lines()
            .filter_map(|l| parse_kmsg_record(l.trim_start()))
            .collect()
    }

    const ID: &str = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

    #[test]
    fn cgroup_v1_memcg_kill_as_this_kernel_prints_it() {
        // Recorded from a real memcg OOM on Linux 6.18 (cgroup v1), trimmed of the stack and dump.
        let r = recs(&format!(
            "4,344,2149333981,-;tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
             4,345,2149334150,-;CPU: 1 UID: 0 PID: 10722 Comm: tail Not tainted 6.18.44 #1 PREEMPT(none)
             6,374,2149341725,-;memory: usage 32768kB, limit 32768kB, failcnt 107
             6,377,2149341748,-;Memory cgroup stats for /kubepods/burstable/pod1111-2222/{ID}:
             6,421,2149341943,-;[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
             6,422,2149341948,-;[  10722]     0 10722     8869     8518     8128      390         0   110592        0             0 tail
             6,423,2149341953,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/burstable/pod1111-2222/{ID},task_memcg=/kubepods/burstable/pod1111-2222/{ID},task=tail,pid=10722,uid=0
             3,424,2149341989,-;Memory cgroup out of memory: Killed process 10722 (tail) total-vm:35476kB, anon-rss:32512kB, file-rss:1560kB, shmem-rss:0kB, UID:0 pgtables:108kB oom_score_adj:0"
        ));
        let k = parse_oom_kills(&r);
        assert_eq!(k.len(), 1);
        let k = &k[0];
        assert_eq!(
            (k.pid, k.comm.as_str(), k.seq, k.usec),
            (10722, "tail", 424, 2_149_341_989)
        );
        assert!(!k.global);
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert_eq!(
            k.task_memcg.as_deref(),
            Some(format!("/kubepods/burstable/pod1111-2222/{ID}").as_str())
        );
        assert_eq!(k.invoker.as_deref(), Some("tail"));
        assert_eq!(k.gfp_mask.as_deref(), Some("0xcc0(GFP_KERNEL)"));
        assert_eq!(
            (k.order, k.anon_rss_kb, k.file_rss_kb, k.pgtables_kb),
            (Some(0), Some(32512), Some(1560), Some(108))
        );
        assert_eq!((k.oom_score_adj, k.uid), (Some(0), Some(0)));
    }

    #[test]
    fn cgroup_v2_systemd_containerd_kill() {
        let cg = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5d2c1f3e_8a4b.slice/cri-containerd-{ID}.scope"
        );
        let r = recs(&format!(
            "4,10,5000000,-;python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=996
             6,11,5000100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-{ID}.scope,mems_allowed=0,oom_memcg={cg},task_memcg={cg},task=python3,pid=4242,uid=1000
             3,12,5000200,-;Memory cgroup out of memory: Killed process 4242 (python3) total-vm:2345678kB, anon-rss:524288kB, file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:1100kB oom_score_adj:996"
        ));
        let k = &parse_oom_kills(&r)[0];
        assert_eq!(k.oom_memcg.as_deref(), Some(cg.as_str()));
        assert_eq!((k.uid, k.oom_score_adj), (Some(1000), Some(996)));
    }

    #[test]
    fn global_oom_with_global_oom_summary() {
        let r = recs(
            "4,1,1,-;java invoked oom-killer: gfp_mask=0x100dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), order=0, oom_score_adj=0
             6,2,2,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/kubepods/besteffort/podabc/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,task=java,pid=777,uid=0
             3,3,3,-;Out of memory: Killed process 777 (java) total-vm:9000000kB, anon-rss:8000000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:16000kB oom_score_adj:1000",
        );
        let k = &parse_oom_kills(&r)[0];
        assert!(k.global);
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_NONE"));
        assert!(k.oom_memcg.is_none());
        assert_eq!(k.oom_score_adj, Some(1000));
    }

    #[test]
    fn pre_4_19_kill_with_task_in_and_sacrifice_child() {
        let r = recs(
            "4,1,1,-;app invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=-998
             6,2,2,-;Task in /kubepods/podu-1/0123456789ab killed as a result of limit of /kubepods/podu-1
             3,3,3,-;Memory cgroup out of memory: Kill process 55 (app server) score 1990 or sacrifice child
             3,4,4,-;Killed process 55 (app server) total-vm:100kB, anon-rss:50kB, file-rss:5kB, shmem-rss:0kB",
        );
        let k = &parse_oom_kills(&r)[0];
        assert_eq!(k.comm, "app server");
        assert_eq!(k.score, Some(1990));
        assert_eq!(
            k.task_memcg.as_deref(),
            Some("/kubepods/podu-1/0123456789ab")
        );
        assert_eq!(k.oom_memcg.as_deref(), Some("/kubepods/podu-1"));
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert!(!k.global);
    }

    #[test]
    fn oom_group_kills_every_task() {
        let r = recs(
            "4,1,1,-;worker invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=900
             6,2,2,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/p/c,task_memcg=/p/c,task=worker,pid=10,uid=0
             3,3,3,-;Memory cgroup out of memory: Killed process 10 (worker) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:900
             6,4,4,-;Tasks in /p/c are going to be killed due to memory.oom.group set
             3,5,5,-;Memory cgroup out of memory: Killed process 11 (worker) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:900
             6,6,6,-;oom_reaper: reaped process 10 (worker), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
             3,7,7,-;Memory cgroup out of memory: Killed process 12 (sidecar) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:900",
        );
        let k = parse_oom_kills(&r);
        assert_eq!(
            k.iter().map(|k| (k.pid, k.group_kill)).collect::<Vec<_>>(),
            [(10, false), (11, true), (12, true)]
        );
        assert!(k.iter().all(|k| k.task_memcg.as_deref() == Some("/p/c")));
    }

    #[test]
    fn a_wrapped_ring_still_yields_the_kill() {
        let r = recs(
            "3,900,9,-;Memory cgroup out of memory: Killed process 3 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:5",
        );
        let k = &parse_oom_kills(&r)[0];
        assert_eq!((k.pid, k.oom_score_adj, k.seq), (3, Some(5), 900));
        assert!(k.invoker.is_none() && k.task_memcg.is_none());
    }

    #[test]
    fn garbage_never_panics_and_yields_nothing() {
        let lines = [
            "Killed process",
            "Killed process x (y)",
            "Killed process 1",
            "Killed process 1 (",
            "oom-kill:",
            "oom-kill:=,,==",
            "Task in ",
            "Memory cgroup out of memory: Kill process 1 (a) score",
            "Out of memory: Kill process z",
            " invoked oom-killer: ",
            "Killed process 99999999999 (a) total-vm:x",
            "Killed process 1 (é) total-vm:ékB",
        ];
        let r: Vec<KmsgRecord> = lines
            .iter()
            .enumerate()
            .map(|(i, m)| KmsgRecord {
                level: 3,
                facility: 0,
                seq: i as u64,
                usec: 0,
                message: m.to_string(),
            })
            .collect();
        let k = parse_oom_kills(&r);
        assert!(k.iter().all(|k| k.pid == 1), "{k:?}");
    }
}
