//! What one sample carries to the next, so that `top` and `serve` read slowly what changes
//! slowly (issue 24). `check` and `snapshot` take one sample and carry nothing: their path
//! is the one-shot one, unchanged.
//!
//! - A process's constants (command line, memory cgroup, uids) are read again only when its
//!   pid shows another start time (field 22 of /proc/<pid>/stat: a reused pid) or another
//!   name (field 2: exec), and on every full refresh.
//! - Its open-file table is scanned again only when it is a new process, when its count of
//!   open files changed (the size of /proc/<pid>/fd, which Linux ≥ 6.2 reports: fs/proc/fd.c
//!   `proc_fd_getattr`; older kernels report 0, so the count never changes there), and on
//!   every full refresh. A file deleted while held open, with no fd opened or closed since,
//!   is therefore seen at the latest at the next full refresh.
//! - The pod log walks, the pod volume walks, the writable-layer walks, the walks of nearly
//!   full filesystems (reused while the filesystem still qualifies; one that newly does is
//!   walked at once), the runtime's storage configuration and the CRI calls are reused for
//!   [`SLOW_EVERY`], and so are the previous runs of restarted containers (a listing of every
//!   pod's log directory). The snapshot's errors of those parts are the ones they had.
//!
//! A full refresh is every [`FULL_EVERY`]th sample (the first is one): at `top`'s default 2 s
//! interval, every 30 s, so nothing is stale for longer than that.

use super::disk::Slow;
use super::{Errors, prev_log, processes};
use crate::model::gpu::PreviousRun;
use crate::model::{CollectError, Pod, Process};
use crate::source::{FdEntry, Host, HostResult};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Every this many samples, everything is read again (the first sample is full).
pub const FULL_EVERY: u64 = 15;
/// How long the slow parts (walks of pod logs, volumes, writable layers and full
/// filesystems; the runtime's configuration; CRI) are reused.
pub const SLOW_EVERY: Duration = Duration::from_secs(30);

/// The cache carried between samples; owned by `top`'s sampler thread and `serve`'s loop.
#[derive(Debug)]
pub struct Carry {
    samples: u64,
    full_every: u64,
    slow_every: Duration,
    pub(super) procs: processes::Memo,
    fds: HashMap<u32, FdMemo>,
    slow: Option<(Instant, Slow)>,
    /// The previous runs of restarted containers (their pod log directories listed, their
    /// previous logs' tails read), with the errors that reading them had.
    prev_log: Option<(Instant, Vec<PreviousRun>, Vec<CollectError>)>,
}

/// A process's open-file table as of the sample that scanned it.
#[derive(Debug)]
struct FdMemo {
    start_ticks: u64,
    count: Option<u64>,
    table: HostResult<Vec<FdEntry>>,
}

impl Default for Carry {
    fn default() -> Self {
        Carry::new()
    }
}

impl Carry {
    /// An empty cache with the default refresh policy.
    pub fn new() -> Self {
        Carry::with_policy(FULL_EVERY, SLOW_EVERY)
    }

    /// An empty cache that refreshes everything every `full_every` samples and the slow
    /// parts every `slow_every`.
    pub fn with_policy(full_every: u64, slow_every: Duration) -> Self {
        Carry {
            samples: 0,
            full_every: full_every.max(1),
            slow_every,
            procs: processes::Memo::default(),
            fds: HashMap::new(),
            slow: None,
            prev_log: None,
        }
    }

    /// How many samples began with this cache.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Counts a new sample; says whether it is a full refresh.
    pub(super) fn begin(&mut self) -> bool {
        let full = self.samples.is_multiple_of(self.full_every);
        self.samples += 1;
        self.procs.reuse = !full;
        full
    }

    /// Whether this sample (counted by [`Carry::begin`]) is a full refresh.
    fn full(&self) -> bool {
        !self.procs.reuse
    }

    /// The slow parts of the last sample that read them, while younger than the policy.
    pub(super) fn fresh_slow(&self) -> Option<&Slow> {
        match &self.slow {
            Some((at, s)) if !self.full() && at.elapsed() < self.slow_every => Some(s),
            _ => None,
        }
    }

    /// Keeps the slow parts just read.
    pub(super) fn keep_slow(&mut self, s: Slow) {
        self.slow = Some((Instant::now(), s));
    }

    /// How many processes' constants and open-file tables are remembered.
    pub fn remembered(&self) -> (usize, usize) {
        (self.procs.len(), self.fds.len())
    }
}

/// The previous runs of the restarted containers of `pods` (collect::prev_log): with a
/// cache, reused for [`SLOW_EVERY`] like the other pod log walks.
pub(super) fn previous_runs(
    host: &dyn Host,
    pods: &[Pod],
    errs: &mut Errors,
    carry: Option<&mut Carry>,
) -> Vec<PreviousRun> {
    let Some(carry) = carry else {
        return prev_log::collect(host, pods, errs);
    };
    if let Some((at, runs, e)) = &carry.prev_log
        && !carry.full()
        && at.elapsed() < carry.slow_every
    {
        errs.0.extend(e.iter().cloned());
        return runs.clone();
    }
    let mut mine = Errors::default();
    let runs = prev_log::collect(host, pods, &mut mine);
    carry.prev_log = Some((Instant::now(), runs.clone(), mine.0.clone()));
    errs.0.extend(mine.0);
    runs
}

/// The open-file tables of `holders` ([`Host::deleted_files`]), in their order: with a
/// cache, only the tables that may have changed are scanned (see the module docs).
pub(super) fn fd_tables(
    host: &dyn Host,
    holders: &[&Process],
    carry: Option<&mut Carry>,
) -> Vec<HostResult<Vec<FdEntry>>> {
    let Some(carry) = carry else {
        let pids: Vec<u32> = holders.iter().map(|p| p.pid).collect();
        return host.deleted_files(&pids);
    };
    let full = carry.full();
    let counts: Vec<Option<u64>> = holders
        .iter()
        .map(|p| {
            host.metadata(&format!("/proc/{}/fd", p.pid))
                .ok()
                .map(|m| m.size)
        })
        .collect();
    let stale = |p: &Process, count: Option<u64>| match carry.fds.get(&p.pid) {
        Some(m) => full || m.start_ticks != p.start_ticks || m.count != count,
        None => true,
    };
    let rescan: Vec<u32> = holders
        .iter()
        .zip(&counts)
        .filter(|(p, c)| stale(p, **c))
        .map(|(p, _)| p.pid)
        .collect();
    let mut scanned: HashMap<u32, HostResult<Vec<FdEntry>>> = rescan
        .iter()
        .copied()
        .zip(host.deleted_files(&rescan))
        .collect();
    let mut next = HashMap::with_capacity(holders.len());
    let mut out = Vec::with_capacity(holders.len());
    for (p, count) in holders.iter().zip(counts) {
        let table = match scanned.remove(&p.pid) {
            Some(t) => t,
            None => match carry.fds.remove(&p.pid) {
                Some(m) => m.table,
                // Not asked and not remembered cannot happen; an empty table is the safe answer.
                None => Ok(Vec::new()),
            },
        };
        out.push(table.clone());
        next.insert(
            p.pid,
            FdMemo {
                start_ticks: p.start_ticks,
                count,
                table,
            },
        );
    }
    carry.fds = next;
    out
}
