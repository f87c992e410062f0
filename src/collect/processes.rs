//! Processes of the host: pid, comm, command line (secrets redacted), cgroup, OOM scores and
//! uids (which trust decisions need: collect::trust). Environments are never read. A process
//! that exits mid-collection is churn, not an error.

use super::Errors;
use crate::model::{CollectError, Pod, Process};
use crate::source::{ErrorKind, Host, redact};
use procfs_core::FromRead;
use std::collections::HashMap;

const C: &str = "processes";

/// Reads every process; with a `memo` (incremental sampling: collect::Carry), a process's
/// constants are taken from the last sample while it keeps its pid, start time and name.
pub(super) fn collect(host: &dyn Host, errs: &mut Errors, memo: Option<&mut Memo>) -> Vec<Process> {
    let entries = match host.read_dir("/proc") {
        Ok(e) => e,
        Err(e) => {
            errs.host(C, &e);
            return Vec::new();
        }
    };
    let mut pids: Vec<u32> = entries.iter().filter_map(|e| e.name.parse().ok()).collect();
    pids.sort_unstable();
    let mut out = Vec::with_capacity(pids.len());
    let mut denied = 0usize;
    let mut next = HashMap::with_capacity(memo.as_ref().map_or(0, |_| pids.len()));
    for pid in pids {
        match one(host, pid, &mut denied, memo.as_deref()) {
            Some((p, remember)) => {
                if let Some(c) = remember {
                    next.insert(pid, (p.start_ticks, p.comm.clone(), c));
                }
                out.push(p)
            }
            None => continue,
        }
    }
    if let Some(m) = memo {
        m.by_pid = next;
    }
    if denied > 0 {
        errs.push(CollectError {
            collector: C.into(),
            kind: ErrorKind::Denied,
            path: Some("/proc/<pid>".into()),
            line: None,
            message: format!(
                "{denied} file(s) of other users' processes could not be read (run as root)"
            ),
        });
    }
    out
}

/// One process, and (with a memo) its constants to remember.
fn one(
    host: &dyn Host,
    pid: u32,
    denied: &mut usize,
    memo: Option<&Memo>,
) -> Option<(Process, Option<Constants>)> {
    let base = format!("/proc/{pid}");
    // /proc/<pid>/stat: "1 (systemd) S 0 1 1 ..." — comm in parentheses may hold spaces (proc(5)).
    let stat = match host.read(&format!("{base}/stat")) {
        Ok(raw) if is_stat_line(&raw) => procfs_core::process::Stat::from_read(&raw[..]).ok()?,
        Ok(_) => return None,
        Err(e) => {
            if e.kind == ErrorKind::Denied {
                *denied += 1;
            }
            return None;
        }
    };
    // A new process under a reused pid has another start time; exec changes the name.
    let consts = match memo.and_then(|m| m.usable(pid)) {
        Some((start, comm, c)) if start == stat.starttime && comm == stat.comm => c.clone(),
        _ => constants(host, &base),
    };
    *denied += consts.denied;
    let oom_score = small(host, &base, "oom_score", denied).and_then(|s| s.trim().parse().ok());
    let oom_score_adj =
        small(host, &base, "oom_score_adj", denied).and_then(|s| s.trim().parse().ok());
    let remember = memo.map(|_| consts.clone());
    let Constants {
        cmdline,
        cgroup,
        uids,
        ..
    } = consts;
    let process = Process {
        pid,
        ppid: u32::try_from(stat.ppid).unwrap_or(0),
        comm: stat.comm,
        cmdline,
        state: stat.state.to_string(),
        threads: u64::try_from(stat.num_threads).unwrap_or(0),
        start_ticks: stat.starttime,
        cgroup,
        oom_score,
        oom_score_adj,
        container_id: None,
        uid: uids.map(|(real, _)| real),
        euid: uids.map(|(_, effective)| effective),
    };
    Some((process, remember))
}

/// What a process keeps for its life (short of exec): read once per (pid, start time, name)
/// when sampling incrementally.
#[derive(Debug, Clone, Default)]
pub(super) struct Constants {
    cmdline: Vec<String>,
    cgroup: Option<String>,
    uids: Option<(u32, u32)>,
    /// How many of these files were denied (each sample reports them again).
    denied: usize,
}

/// The constants of the process at `base`: its memory cgroup, uids and command line.
fn constants(host: &dyn Host, base: &str) -> Constants {
    let mut denied = 0;
    let cgroup = small(host, base, "cgroup", &mut denied).and_then(|t| memory_cgroup(&t));
    let uids = small(host, base, "status", &mut denied).and_then(|t| status_uids(&t));
    let cmdline = host
        .read(&format!("{base}/cmdline"))
        .map(|raw| redact::cmdline(&redact::split_cmdline(&raw)))
        .unwrap_or_default();
    Constants {
        cmdline,
        cgroup,
        uids,
        denied,
    }
}

/// `<base>/<name>` as text; `None` when it cannot be read, a denied read counted.
fn small(host: &dyn Host, base: &str, name: &str, denied: &mut usize) -> Option<String> {
    match host.read_string(&format!("{base}/{name}")) {
        Ok(s) => Some(s),
        Err(e) => {
            if e.kind == ErrorKind::Denied {
                *denied += 1;
            }
            None
        }
    }
}

/// The constants of the last sample, by pid (collect::Carry owns it).
#[derive(Debug, Default)]
pub(super) struct Memo {
    by_pid: HashMap<u32, (u64, String, Constants)>,
    /// Whether the constants may be used this sample (false on a full refresh).
    pub(super) reuse: bool,
}

impl Memo {
    /// The remembered (start time, name, constants) of `pid`, unless this is a full refresh.
    fn usable(&self, pid: u32) -> Option<(u64, &str, &Constants)> {
        if !self.reuse {
            return None;
        }
        self.by_pid
            .get(&pid)
            .map(|(start, comm, c)| (*start, comm.as_str(), c))
    }

    /// How many processes are remembered.
    pub(super) fn len(&self) -> usize {
        self.by_pid.len()
    }
}

/// The real and effective uid from /proc/<pid>/status, whose `Uid:` line holds the real,
/// effective, saved and filesystem uids separated by tabs (proc(5); fs/proc/array.c
/// `task_state`): `Uid:\t0\t0\t0\t0`.
pub fn status_uids(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(str::parse::<u32>);
    match (ids.next(), ids.next()) {
        (Some(Ok(real)), Some(Ok(effective))) => Some((real, effective)),
        _ => None,
    }
}

/// Whether `raw` has the shape the kernel gives /proc/<pid>/stat around the command name:
/// `<digits> (<comm>) <state> ...`. procfs-core's parser slices at the parentheses unchecked
/// and panics on a line the kernel never writes (`(x) S`, `1 (x)`, or bytes before the `(`
/// that are not UTF-8); such a file, from a corrupt bundle, is no process.
fn is_stat_line(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let t = text.trim();
    let b = t.as_bytes();
    let (Some(open), Some(close)) = (t.find('('), t.rfind(')')) else {
        return false;
    };
    open >= 2
        && b[open - 1] == b' '
        && b[..open - 1].iter().all(u8::is_ascii_digit)
        && close > open
        && b.get(close + 1) == Some(&b' ')
        && b.len() > close + 2
}

/// The memory-controller path from /proc/<pid>/cgroup: the `memory` line on v1
/// (`4:memory:/kubepods/burstable/pod.../<id>`), else the unified `0::/...` line. Leading
/// `/..` components (a reader in its own cgroup namespace) are dropped.
pub fn memory_cgroup(text: &str) -> Option<String> {
    let mut unified = None;
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let path = strip_dotdot(path);
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(path);
        }
        if ctrls.is_empty() {
            unified = Some(path);
        }
    }
    unified
}

fn strip_dotdot(p: &str) -> String {
    let mut rest = p;
    while let Some(r) = rest.strip_prefix("/..") {
        rest = r;
    }
    if rest.is_empty() {
        "/".into()
    } else {
        rest.to_string()
    }
}

/// Joins processes to containers by the container id in their cgroup leaf.
pub(super) fn attribute(processes: &mut [Process], pods: &[Pod]) {
    let mut by_id: HashMap<&str, &str> = HashMap::new();
    for p in pods {
        for c in &p.containers {
            by_id.insert(c.id.as_str(), c.id.as_str());
        }
    }
    for proc_ in processes.iter_mut() {
        let Some(cg) = &proc_.cgroup else { continue };
        let leaf = cg.rsplit('/').next().unwrap_or_default();
        if let Some((_, id)) = crate::model::cgroup_name::parse_container_leaf(leaf)
            && let Some(id) = by_id.get(id.as_str())
        {
            proc_.container_id = Some((*id).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_the_kernel_never_writes_are_refused_before_procfs_parses_them() {
        let good = "24528 (coredns) S 24502 24528 24528 0 -1 4194560 1523 0 12 0 845 311 0 0 20 0 8 0 26028 240648192 19584 18446744073709551615 1 1 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert!(is_stat_line(good.as_bytes()));
        assert!(is_stat_line(b"1 (a) b) S 0"), "comm may hold ')'");
        assert!(is_stat_line(b"1 (\xff\xfe) S 0"), "comm may hold any bytes");
        // Regression: each of these panicked in procfs-core's Stat::from_read (found by the
        // proc_pid fuzz target: bytes that are not UTF-8 just before the '(').
        for bad in [
            &b"24528 \xff\xff\xff\xff(coredns) S 1"[..],
            b"(x) S 1",
            b"1 (x)",
            b"1 (x)S",
            b"x (y) S",
            b" (y) S",
            b"",
            b"1 x) (y",
        ] {
            assert!(!is_stat_line(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn uids_come_from_the_status_uid_line() {
        // A status file as Linux 6.1 writes it (abridged), for a setuid program run by uid 1000.
        let status = "Name:\tpasswd\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
                      Pid:\t4242\nPPid:\t4100\nTracerPid:\t0\nUid:\t1000\t0\t0\t0\n\
                      Gid:\t1000\t1000\t1000\t1000\nFDSize:\t64\n";
        assert_eq!(status_uids(status), Some((1000, 0)));
        assert_eq!(
            status_uids("Uid:\t65534\t65534\t65534\t65534\n"),
            Some((65534, 65534))
        );
        assert_eq!(status_uids("Name:\tx\n"), None);
        assert_eq!(status_uids("Uid:\t-1\t0\n"), None);
        assert_eq!(status_uids("Uid:\t0\n"), None);
    }

    #[test]
    fn memory_cgroup_v1_v2_and_namespaced() {
        let v1 =
            "12:pids:/kubepods/burstable/podx/abc\n4:memory:/kubepods/burstable/podx/abc\n0::/\n";
        assert_eq!(memory_cgroup(v1).unwrap(), "/kubepods/burstable/podx/abc");
        assert_eq!(
            memory_cgroup("0::/system.slice/kubelet.service\n").unwrap(),
            "/system.slice/kubelet.service"
        );
        assert_eq!(
            memory_cgroup("0::/../../kubepods.slice/x.scope\n").unwrap(),
            "/kubepods.slice/x.scope"
        );
        assert_eq!(memory_cgroup("4:cpu,memory:/a\n").unwrap(), "/a");
        assert!(memory_cgroup("garbage").is_none());
    }
}
