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
        _ => constants(host, &base, &stat.comm),
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

/// The constants of the process at `base` named `comm`: its memory cgroup, uids and command
/// line (as [`kept_cmdline`] stores it).
fn constants(host: &dyn Host, base: &str, comm: &str) -> Constants {
    let mut denied = 0;
    let cgroup = small(host, base, "cgroup", &mut denied).and_then(|t| memory_cgroup(&t));
    let uids = small(host, base, "status", &mut denied).and_then(|t| status_uids(&t));
    let cmdline = host
        .read(&format!("{base}/cmdline"))
        .map(|raw| kept_cmdline(&raw, comm))
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

/// The most of a command line kept per process, in bytes of whole arguments. What reads
/// command lines: the trust rules and distro detection (argv[0]), the deleted-open-files scan
/// (empty or not), the vLLM flags of gpu.cuda-oom (a handful of flags near the start) and people
/// reading `snapshot`. Linux allows up to 2 MiB of arguments (execve(2), ARG_MAX = a quarter
/// of the stack limit); 10,000 processes with long ones held whole were most of the snapshot.
pub const CMDLINE_MAX: usize = 4 * 1024;

/// The kubelet's cap: its flags are parsed from its command line (collect::kubelet), and a
/// long `--node-labels` or `--feature-gates` must not lose the flags after it. Still bounded:
/// any process may call itself `kubelet`.
pub const KUBELET_CMDLINE_MAX: usize = 128 * 1024;

/// A /proc/<pid>/cmdline as stored: cut to its cap ([`cap_args`]), then redacted. Cut first
/// at an argument boundary, so that redaction sees every kept argument whole (a URL with a
/// password cut in two might not be recognised) and never reads what is not kept.
pub fn kept_cmdline(raw: &[u8], comm: &str) -> Vec<String> {
    let argv0 = raw.split(|&b| b == 0).next().map(String::from_utf8_lossy);
    let max = if crate::model::names_itself(comm, argv0.as_deref(), "kubelet") {
        KUBELET_CMDLINE_MAX
    } else {
        CMDLINE_MAX
    };
    let (kept, cut) = cap_args(raw, max);
    let mut out = redact::cmdline(&kept);
    out.extend(cut);
    out
}

/// The arguments of a raw command line (NUL-separated, usually NUL-terminated) while their
/// bytes total at most `max`, and, when some were left out, the [`crate::model::CMDLINE_CUT`]
/// marker that says how many arguments and bytes. An argument is kept whole or not at all,
/// but for argv[0] longer than `max`, which is cut at a character boundary (the program
/// name is what the trust rules read). Only kept arguments are copied.
pub fn cap_args(raw: &[u8], max: usize) -> (Vec<String>, Option<String>) {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return (Vec::new(), None);
    }
    let mut kept = Vec::new();
    let mut used = 0usize;
    let mut args = raw.split(|&b| b == 0).peekable();
    while let Some(a) = args.next_if(|a| used + a.len() <= max) {
        used += a.len();
        kept.push(String::from_utf8_lossy(a).into_owned());
    }
    let mut left = (0usize, 0usize);
    if kept.is_empty()
        && let Some(argv0) = args.next()
    {
        let text = String::from_utf8_lossy(argv0);
        let end = text.floor_char_boundary(max);
        kept.push(text[..end].to_string());
        left.1 = text.len() - end;
    }
    let (n, bytes) = args.fold(left, |(n, b), a| (n + 1, b + a.len()));
    let cut = (n > 0 || bytes > 0).then(|| cut_marker(n, bytes));
    (kept, cut)
}

/// `<cut: N more arguments, B bytes>`.
fn cut_marker(args: usize, bytes: usize) -> String {
    format!(
        "{}{args} more arguments, {bytes} bytes>",
        crate::model::CMDLINE_CUT
    )
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

    /// A raw /proc/<pid>/cmdline of `args`, NUL-terminated as the kernel writes it.
    fn raw(args: &[&str]) -> Vec<u8> {
        args.iter().flat_map(|a| a.bytes().chain([0])).collect()
    }

    /// A secret after the cap is never stored, not even redacted: the arguments after the
    /// cap are counted in the marker, and what is kept is whole and redacted.
    #[test]
    fn a_secret_past_the_cap_is_not_kept_and_the_cut_is_marked() {
        let pad = "x".repeat(CMDLINE_MAX - 40);
        let args = [
            "/usr/bin/app",
            "--token=kept-but-redacted",
            &pad,
            "--db-url=postgres://admin:s3cret-past-the-cap@db:5432/x",
            "--password",
            "hunter2",
        ];
        let got = kept_cmdline(&raw(&args), "app");
        assert_eq!(
            got,
            vec![
                "/usr/bin/app".to_string(),
                "--token=<redacted>".into(),
                pad.clone(),
                "<cut: 3 more arguments, 72 bytes>".into(),
            ]
        );
        let all = got.join(" ");
        for secret in ["kept-but-redacted", "s3cret", "admin", "hunter2"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        let mut p = Process {
            pid: 1,
            ppid: 0,
            comm: "app".into(),
            cmdline: got,
            state: "S".into(),
            threads: 1,
            start_ticks: 0,
            cgroup: None,
            oom_score: None,
            oom_score_adj: None,
            container_id: None,
            uid: None,
            euid: None,
        };
        assert!(p.cmdline_cut());
        p.cmdline.pop();
        assert!(!p.cmdline_cut());
    }

    /// An argument that would cross the cap is left out whole, never cut in two: half a URL
    /// with a password might not read as one to redaction.
    #[test]
    fn an_argument_crossing_the_cap_is_left_out_whole() {
        let pad = "y".repeat(CMDLINE_MAX - 20);
        let url = "https://user:pa55word@example.com/a";
        let (kept, cut) = cap_args(&raw(&["curl", &pad, url]), CMDLINE_MAX);
        assert_eq!(kept, vec!["curl".to_string(), pad]);
        assert_eq!(cut.as_deref(), Some("<cut: 1 more arguments, 35 bytes>"));
        // Exactly at the cap: nothing cut, no marker.
        let exact = "z".repeat(CMDLINE_MAX - 4);
        assert_eq!(
            cap_args(&raw(&["curl", &exact]), CMDLINE_MAX),
            (vec!["curl".to_string(), exact], None)
        );
        assert_eq!(cap_args(b"", CMDLINE_MAX), (Vec::new(), None));
    }

    /// argv[0] alone longer than the cap is cut at a character boundary (é is 2 bytes).
    #[test]
    fn an_overlong_argv0_is_cut_at_a_character_boundary() {
        let argv0 = format!("/{}", "é".repeat(10));
        let (kept, cut) = cap_args(&raw(&[&argv0, "--v=2"]), 4);
        assert_eq!(kept, vec!["/é".to_string()]);
        assert_eq!(cut.as_deref(), Some("<cut: 1 more arguments, 23 bytes>"));
    }

    /// The kubelet's flags are parsed from its command line: it keeps up to its own, larger
    /// cap, by comm or by argv[0].
    #[test]
    fn the_kubelets_command_line_has_the_larger_cap() {
        let labels = format!("--node-labels={}", "k=v,".repeat(2_000));
        let args = [
            "/usr/bin/kubelet",
            &labels,
            "--config=/var/lib/kubelet/config.yaml",
        ];
        assert_eq!(kept_cmdline(&raw(&args), "kubelet"), args.to_vec());
        assert_eq!(kept_cmdline(&raw(&args), "exe"), args.to_vec());
        let other = kept_cmdline(&raw(&["/usr/bin/app", &labels]), "app");
        assert_eq!(
            other,
            vec!["/usr/bin/app", "<cut: 1 more arguments, 8014 bytes>"]
        );
        let huge = "a".repeat(KUBELET_CMDLINE_MAX);
        let cut = kept_cmdline(&raw(&["kubelet", &huge]), "kubelet");
        assert_eq!(cut.len(), 2);
        assert!(cut[1].starts_with(crate::model::CMDLINE_CUT));
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
