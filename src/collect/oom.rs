//! Assembles kernel OOM kills from kernel-log records. Formats, by kernel:
//!
//! ```text
//! (all)    tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
//! (<4.19)  Task in /kubepods/burstable/pod<uid>/<id> killed as a result of limit of /kubepods/burstable/pod<uid>
//! (≥4.19)  oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x,task=tail,pid=10722,uid=0
//!          (global OOMs print `,global_oom` instead of `,oom_memcg=...`)
//! (<5.0)   Memory cgroup out of memory: Kill process 10722 (tail) score 1990 or sacrifice child
//!          Killed process 10722 (tail) total-vm:35476kB, anon-rss:32512kB, file-rss:1560kB, shmem-rss:0kB
//!          (the killed process may be a child of the chosen one: `Killed process 10730 (sh)`)
//! (≥5.0)   Memory cgroup out of memory: Killed process 10722 (tail) total-vm:35476kB, anon-rss:32512kB,
//!          file-rss:1560kB, shmem-rss:0kB, UID:0 pgtables:108kB oom_score_adj:0
//!          Out of memory: Killed process ...            (not a memcg OOM: global, cpuset or mempolicy)
//! (≥4.19)  Tasks in /x are going to be killed due to memory.oom.group set   (then one Killed line per
//!          task of /x, the first victim included a second time)
//! (≥4.6)   oom_reaper: reaped process 10722 (tail), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
//! (RHEL 6) Killed process 11726, UID 498, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, file-rss:768kB
//! (RHEL 7) Killed process 799153 (node), UID 1000, total-vm:606096kB, anon-rss:68308kB, ...
//! ```
//!
//! The cgroup-v1 sample above was produced on this project's CI kernel by a real memcg OOM
//! (tests/live_oom.rs); the rest follow mm/oom_kill.c, and tests/corpus/oom holds real logs of
//! each dialect. Lines in between (stack traces, the memory dump, the task table) are skipped.
//!
//! One OOM event is the records from `invoked oom-killer` to its kills; when the ring lost the
//! header, a summary, `Task in` or `Kill process` line after a kill starts the next event. In
//! an event: a pid and command killed twice is one kill (memory.oom.group rescans the first victim); the
//! first kill inherits the event's summary and chosen-process line even when it is a sacrificed
//! child; and an `oom_reaper` line or an `oom-kill:` summary for a pid no `Killed process` line
//! named still yields the kill (kernels and consoles that drop the kill line at their log
//! level, rings that lost it). Parsing never panics.

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
    task: Option<String>,
    uid: Option<u32>,
    global: bool,
}

/// The pre-5.0 line naming the process the killer chose: `Kill process N (x) score S or
/// sacrifice child`, prefixed `Memory cgroup out of memory:` or `Out of memory:`.
#[derive(Clone, Copy)]
struct Chosen {
    pid: u32,
    score: u64,
    memcg: bool,
}

/// Which message prefixed a `Killed process` line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prefix {
    /// `Memory cgroup out of memory:`: a cgroup's limit was hit.
    Memcg,
    /// `Out of memory:`: not a memcg OOM (global, or a cpuset or mempolicy constraint).
    NotMemcg,
    /// No prefix (kernels before 5.0 print the reason on the `Kill process` line instead).
    Bare,
}

/// The records of one OOM event seen so far.
#[derive(Default)]
struct Event {
    header: Option<Header>,
    summary: Option<Summary>,
    /// The summary's record, for a kill only the summary names.
    summary_record: Option<KmsgRecord>,
    task_in: Option<(String, String)>,
    chosen: Option<Chosen>,
    group: Option<String>,
    /// Pids and commands killed in this event, in order.
    killed: Vec<(u32, String)>,
    /// Whether the event's first kill was node-wide (the group kills after it share it).
    global: bool,
}

/// How many earlier kills an `oom_reaper` line is checked against (it reaps asynchronously and
/// may be logged after the next event began).
const REAPER_LOOKBACK: usize = 64;

/// Every OOM kill in the records, oldest first.
pub fn parse_oom_kills(records: &[KmsgRecord]) -> Vec<OomKill> {
    let mut out: Vec<OomKill> = Vec::new();
    let mut ev = Event::default();
    for r in records {
        let m = r.message.as_str();
        if let Some(h) = parse_invoked(m) {
            finish(&mut ev, &mut out);
            ev.header = Some(h);
        } else if let Some(s) = m.strip_prefix("oom-kill:") {
            if ev.summary.is_some() || !ev.killed.is_empty() {
                finish(&mut ev, &mut out);
            }
            ev.summary = Some(parse_summary(s));
            ev.summary_record = Some(r.clone());
        } else if let Some(t) = parse_task_in(m) {
            if ev.task_in.is_some() || !ev.killed.is_empty() {
                finish(&mut ev, &mut out);
            }
            ev.task_in = Some(t);
        } else if let Some(g) = parse_group(m) {
            ev.group = Some(g);
        } else if let Some(c) = parse_chosen(m) {
            if ev.chosen.is_some() || !ev.killed.is_empty() {
                finish(&mut ev, &mut out);
            }
            ev.chosen = Some(c);
        } else if let Some((k, prefix)) = parse_killed(m) {
            if let Some(k) = assemble(&mut ev, k, prefix, r) {
                out.push(k);
            }
        } else if let Some((pid, comm)) = parse_reaped(m) {
            let seen = ev.killed.iter().any(|(p, _)| *p == pid)
                || out.iter().rev().take(REAPER_LOOKBACK).any(|k| k.pid == pid);
            if !seen && let Some(k) = assemble(&mut ev, bare_kill(pid, comm), Prefix::Bare, r) {
                out.push(k);
            }
        }
    }
    finish(&mut ev, &mut out);
    out
}

/// Ends an event: a summary (kernels ≥ 4.19) whose event printed no kill still names its
/// victim (`task=`, `pid=`), so it yields that kill; then the next event starts empty.
fn finish(ev: &mut Event, out: &mut Vec<OomKill>) {
    let pending = ev.summary.as_ref().filter(|_| ev.killed.is_empty());
    if let Some((pid, task)) = pending.and_then(|s| Some((s.pid?, s.task.clone()?)))
        && let Some(r) = ev.summary_record.clone()
        && let Some(k) = assemble(ev, bare_kill(pid, task), Prefix::Bare, &r)
    {
        out.push(k);
    }
    *ev = Event::default();
}

/// Fills one kill from its event's context; `None` when the event already killed that pid
/// (memory.oom.group's scan prints the first victim again).
fn assemble(ev: &mut Event, mut k: OomKill, prefix: Prefix, r: &KmsgRecord) -> Option<OomKill> {
    if ev.killed.iter().any(|(p, c)| *p == k.pid && *c == k.comm) {
        return None;
    }
    let first = ev.killed.is_empty();
    ev.killed.push((k.pid, k.comm.clone()));
    k.seq = r.seq;
    k.usec = r.usec;
    if let Some(h) = &ev.header {
        k.invoker = h.invoker.clone();
        k.gfp_mask = h.gfp_mask.clone();
        k.order = h.order;
    }
    k.global = prefix == Prefix::NotMemcg;
    let mut memcg = prefix == Prefix::Memcg;
    if let Some(c) = ev.chosen.filter(|c| c.pid == k.pid || first) {
        // The chosen process, or the child it sacrificed: the event's verdict is the same.
        k.score = Some(c.score);
        k.chosen_pid = (c.pid != k.pid).then_some(c.pid);
        k.global = !c.memcg;
        memcg |= c.memcg;
    }
    if let Some(s) = &ev.summary {
        // The constraint is the event's; the cgroups are its first victim's (or a sacrificed
        // child's, which lives in the same cgroup).
        k.constraint = s.constraint.clone();
        // The first victim is the summary's task, or the child it sacrificed (`Kill process`
        // named the summary's pid); a later kill is the summary's only when the pids agree.
        let handoff = first && ev.chosen.is_some_and(|c| Some(c.pid) == s.pid);
        if handoff || s.pid == Some(k.pid) {
            k.oom_memcg = s.oom_memcg.clone();
            k.task_memcg = s.task_memcg.clone();
        }
        if s.pid == Some(k.pid) {
            k.uid = k.uid.or(s.uid);
        }
        // `Out of memory:` is also a cpuset's or mempolicy's OOM: the summary says which. A
        // memcg prefix is the kernel's own word that a cgroup limit was hit.
        if (s.constraint.is_some() || s.global) && !memcg {
            k.global = s.global;
        }
    }
    if let Some((task, limit)) = ev.task_in.as_ref().filter(|_| first) {
        k.task_memcg.get_or_insert_with(|| task.clone());
        k.oom_memcg.get_or_insert_with(|| limit.clone());
    }
    if !first && let Some(g) = &ev.group {
        // After the first victim, memory.oom.group kills every task of the cgroup, for the
        // same reason: node-wide or not as the first kill was.
        k.group_kill = true;
        k.oom_memcg = Some(g.clone());
        k.task_memcg = Some(g.clone());
        k.global = ev.global;
        memcg |= !ev.global;
    }
    if first {
        ev.global = k.global;
    }
    if k.constraint.is_none() && !k.global && (memcg || k.oom_memcg.is_some()) {
        k.constraint = Some("CONSTRAINT_MEMCG".into());
    }
    Some(k)
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
            "task" => out.task = Some(v.to_string()),
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
/// and the non-memcg `Out of memory: Kill process ...` (kernels before 5.0).
fn parse_chosen(m: &str) -> Option<Chosen> {
    let (memcg, rest) =
        if let Some(r) = m.strip_prefix("Memory cgroup out of memory: Kill process ") {
            (true, r)
        } else {
            (false, m.strip_prefix("Out of memory: Kill process ")?)
        };
    let pid: u32 = rest.split_whitespace().next()?.parse().ok()?;
    let score_at = rest.rfind(") score ")? + 8;
    let score: u64 = rest
        .get(score_at..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Chosen { pid, score, memcg })
}

/// `oom_reaper: reaped process 10722 (tail), now anon-rss:0kB, ...` → (pid, comm).
fn parse_reaped(m: &str) -> Option<(u32, String)> {
    let rest = m.strip_prefix("oom_reaper: reaped process ")?;
    let (pid, rest) = rest.split_once(" (")?;
    let close = rest.rfind("), now").or_else(|| rest.rfind(')'))?;
    Some((pid.parse().ok()?, rest[..close].to_string()))
}

/// A kill with nothing but its pid and command.
fn bare_kill(pid: u32, comm: String) -> OomKill {
    OomKill {
        seq: 0,
        usec: 0,
        pid,
        comm,
        global: false,
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
        chosen_pid: None,
        group_kill: false,
    }
}

/// The kill itself, in its three prefixes: `Memory cgroup out of memory: Killed process`,
/// `Out of memory: Killed process`, and the bare pre-5.0 `Killed process`; with the RHEL 6
/// (`Killed process N, UID U, (comm) total-vm:...`) and RHEL 7 (`Killed process N (comm),
/// UID U, total-vm:...`) placements of the UID.
fn parse_killed(m: &str) -> Option<(OomKill, Prefix)> {
    let (prefix, rest) =
        if let Some(r) = m.strip_prefix("Memory cgroup out of memory: Killed process ") {
            (Prefix::Memcg, r)
        } else if let Some(r) = m.strip_prefix("Out of memory: Killed process ") {
            (Prefix::NotMemcg, r)
        } else {
            (Prefix::Bare, m.strip_prefix("Killed process ")?)
        };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let pid: u32 = rest.get(..digits)?.parse().ok()?;
    let mut rest = &rest[digits..];
    let mut uid = None;
    if let Some(r) = rest.strip_prefix(", UID ") {
        // RHEL 6: `N, UID U, (comm)`.
        let (u, r) = r.split_once(", ")?;
        uid = u.parse().ok();
        rest = r;
    }
    let rest = rest.trim_start().strip_prefix('(')?;
    // comm may hold spaces and parentheses: it ends at the last `)` before the figures.
    let close = rest
        .rfind(") total-vm:")
        .or_else(|| rest.rfind("), UID "))
        .or_else(|| rest.rfind(')'))?;
    let comm = rest[..close].to_string();
    let figures = rest.get(close + 1..).unwrap_or("");
    let mut k = bare_kill(pid, comm);
    k.uid = uid;
    let kb = |v: &str| v.trim_end_matches("kB").parse::<u64>().ok();
    let mut toks = figures.split([',', ' ']).filter(|t| !t.is_empty());
    while let Some(tok) = toks.next() {
        if tok == "UID" {
            // RHEL 7: `(comm), UID U, total-vm:...`.
            k.uid = toks.next().and_then(|v| v.parse().ok());
            continue;
        }
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
    Some((k, prefix))
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
    #[test]
    fn oom_group_prints_the_first_victim_twice_and_it_is_one_kill() {
        // An AKS node (kernel 5.15, cgroup v2, kubelet ≥ 1.28 sets memory.oom.group): the
        // group scan kills 68061 a second time. Before the fix this was two kills.
        let cg = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod10d16a28_60ff_475f_a631_510d9792219f.slice/cri-containerd-178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a.scope";
        let r = recs(&format!(
            "6,1,8341856856,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a.scope,mems_allowed=0,oom_memcg=/kubepods.slice,task_memcg={cg},task=stress,pid=68061,uid=0
             3,2,8341856870,-;Memory cgroup out of memory: Killed process 68061 (stress) total-vm:4195088kB, anon-rss:2884696kB, file-rss:288kB, shmem-rss:0kB, UID:0 pgtables:5696kB oom_score_adj:872
             6,3,8341868335,-;Tasks in {cg} are going to be killed due to memory.oom.group set
             3,4,8341890658,-;Memory cgroup out of memory: Killed process 68061 (stress) total-vm:4195088kB, anon-rss:2884696kB, file-rss:288kB, shmem-rss:0kB, UID:0 pgtables:5696kB oom_score_adj:872"
        ));
        let k = parse_oom_kills(&r);
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!((k[0].pid, k[0].seq, k[0].group_kill), (68061, 2, false));
        assert_eq!(k[0].oom_memcg.as_deref(), Some("/kubepods.slice"));
        assert_eq!(k[0].task_memcg.as_deref(), Some(cg));
    }

    #[test]
    fn a_sacrificed_child_keeps_the_events_global_flag_and_constraint() {
        // kernel 3.13 (Ubuntu), from cadvisor's oomparser tests, with the child handoff the
        // kernel made when the chosen process had children (kubernetes/kubernetes#56891).
        let r = recs(
            "4,1,1,-;badsysprogram invoked oom-killer: gfp_mask=0x280da, order=0, oom_score_adj=0
             3,2,2,-;Out of memory: Kill process 1532 (badsysprogram) score 919 or sacrifice child
             3,3,3,-;Killed process 1540 (worker) total-vm:1641388kB, anon-rss:1595164kB, file-rss:76kB",
        );
        let k = &parse_oom_kills(&r)[0];
        assert_eq!(
            (k.pid, k.chosen_pid, k.score),
            (1540, Some(1532), Some(919))
        );
        assert!(k.global, "the handoff lost the global flag");
        // 4.19–4.20 print the summary for the chosen pid, then kill a child.
        let r = recs(
            "4,1,1,-;java invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), order=0, oom_score_adj=-998
             6,2,2,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=abc,mems_allowed=0,oom_memcg=/kubepods/pod95387fa4-da9c-11e7-9d36-5254b24cbf5e,task_memcg=/kubepods/pod95387fa4-da9c-11e7-9d36-5254b24cbf5e/6895a3e13439,task=java,pid=24572,uid=0
             3,3,3,-;Memory cgroup out of memory: Kill process 24572 (java) score 0 or sacrifice child
             3,4,4,-;Killed process 28438 (java) total-vm:20255636kB, anon-rss:466160kB, file-rss:13684kB, shmem-rss:0kB",
        );
        let k = &parse_oom_kills(&r)[0];
        assert_eq!((k.pid, k.chosen_pid), (28438, Some(24572)));
        assert!(!k.global);
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert_eq!(
            k.task_memcg.as_deref(),
            Some("/kubepods/pod95387fa4-da9c-11e7-9d36-5254b24cbf5e/6895a3e13439")
        );
        assert_eq!(k.uid, None, "the summary's uid is the chosen process's");
    }

    #[test]
    fn task_in_and_oom_reaper_without_a_killed_line_still_yield_the_kill() {
        let r = recs(
            "4,1,1,-;gunpowder-memho invoked oom-killer: gfp_mask=0x24000c0(GFP_KERNEL), order=0, oom_score_adj=0
             6,2,2,-;Task in /docker/2e088fe462e25e60be1dafafe2c05c47bda1a97978648d10ad2b7484fc0b8f50 killed as a result of limit of /docker/2e088fe462e25e60be1dafafe2c05c47bda1a97978648d10ad2b7484fc0b8f50
             6,3,3,-;oom_reaper: reaped process 1381 (gunpowder-memho), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
             6,4,4,-;oom_reaper: reaped process 1381 (gunpowder-memho), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
        );
        let k = parse_oom_kills(&r);
        assert_eq!(k.len(), 1);
        assert_eq!(
            (k[0].pid, k[0].comm.as_str(), k[0].seq),
            (1381, "gunpowder-memho", 3)
        );
        assert_eq!(k[0].constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert!(
            k[0].anon_rss_kb.is_none(),
            "the reaper's figures are after the reap"
        );
        // A reaper line after its Killed line adds nothing.
        let r = recs(
            "3,1,1,-;Killed process 4254 (python3) total-vm:11968kB, anon-rss:4288kB, file-rss:3972kB, shmem-rss:0kB
             6,2,2,-;oom_reaper: reaped process 4254 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
        );
        assert_eq!(parse_oom_kills(&r).len(), 1);
    }

    #[test]
    fn rhel_uid_placements_and_a_cpuset_constraint() {
        let (k, _) = parse_killed("Killed process 11726, UID 498, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, file-rss:768kB").unwrap();
        assert_eq!(
            (k.pid, k.comm.as_str(), k.uid, k.anon_rss_kb),
            (11726, "mysqld", Some(498), Some(2539268))
        );
        let (k, _) = parse_killed("Killed process 799153 (node), UID 1000, total-vm:606096kB, anon-rss:68308kB, file-rss:13648kB, shmem-rss:0kB").unwrap();
        assert_eq!(
            (k.pid, k.comm.as_str(), k.uid, k.total_vm_kb),
            (799153, "node", Some(1000), Some(606096))
        );
        let r = recs(
            "6,1,1,-;oom-kill:constraint=CONSTRAINT_CPUSET,nodemask=0,cpuset=/restricted,mems_allowed=0,oom_memcg=/user.slice,task_memcg=/user.slice,task=stress,pid=33333,uid=1001
             3,2,2,-;Out of memory: Killed process 33333 (stress) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:1kB oom_score_adj:0",
        );
        let k = &parse_oom_kills(&r)[0];
        assert!(!k.global, "a cpuset OOM is not node-wide");
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_CPUSET"));
    }
    #[test]
    fn a_summary_without_its_kill_record_still_names_the_victim() {
        // leptonai/gpud's kmsg matcher counts this as a kill of postgres 12345; so do we.
        let r = recs(
            "4,1,1,-;postgres invoked oom-killer: gfp_mask=0x280da, order=0, oom_score_adj=0
             6,2,2,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/docker/container123,task_memcg=/docker/container123,task=postgres,pid=12345,uid=1000
             6,3,3,-;oom-kill:constraint=OTHER_CONSTRAINT",
        );
        let k = parse_oom_kills(&r);
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!(
            (k[0].pid, k[0].comm.as_str(), k[0].seq, k[0].uid),
            (12345, "postgres", 2, Some(1000))
        );
        assert_eq!(k[0].task_memcg.as_deref(), Some("/docker/container123"));
    }
}
