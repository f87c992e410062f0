//! Samples: a snapshot and its findings, taken on a background thread at a fixed interval, and
//! a ring of the numbers the overview draws as sparklines. The thread carries what changes
//! slowly from one sample to the next ([`Carry`]): a sample reads again only what may have
//! changed.

use crate::analyze::{self, Finding};
use crate::collect::{Carry, Timings};
use crate::model::Snapshot;
use crate::source::Host;
use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// One collection pass.
pub struct Sample {
    pub snap: Snapshot,
    pub findings: Vec<Finding>,
    /// When it finished (for staleness).
    pub at: Instant,
    /// The time of each phase (`--debug-timings`; empty otherwise).
    pub timings: Timings,
}

/// One sample, read in full (a one-shot snapshot and its analysis).
pub fn sample(host: &dyn Host) -> Sample {
    let snap = crate::collect::snapshot(host);
    let findings = analyze::analyze(&snap);
    Sample {
        snap,
        findings,
        at: Instant::now(),
        timings: Timings::off(),
    }
}

/// One sample reading again only what may have changed since the ones `carry` remembers,
/// its phases timed into `timings`.
pub fn sample_with(host: &dyn Host, carry: &mut Carry, timings: Timings) -> Sample {
    let (snap, mut timings) = crate::collect::sample(host, carry, timings);
    let findings = timings.time("analyze", || analyze::analyze(&snap));
    Sample {
        snap,
        findings,
        at: Instant::now(),
        timings,
    }
}

/// Starts the sampler thread: a sample every `interval` (measured start to start, so a slow
/// collection delays the next one rather than piling up), until the receiver is gone. It
/// owns `carry` (what the first sample left) from here on.
pub fn spawn(
    open: super::OpenHost,
    interval: Duration,
    tx: Sender<Sample>,
    mut carry: Carry,
    debug_timings: bool,
) {
    let _ = std::thread::Builder::new()
        .name("nodescope-sampler".into())
        .spawn(move || {
            let Ok(host) = open() else { return };
            loop {
                let started = Instant::now();
                let s = sample_with(host.as_ref(), &mut carry, Timings::when(debug_timings));
                if tx.send(s).is_err() {
                    return;
                }
                std::thread::sleep(interval.saturating_sub(started.elapsed()));
            }
        });
}

/// How many samples the sparklines keep: 10 minutes at the default 2 s.
pub const HISTORY: usize = 300;

/// The figures the overview plots over time.
#[derive(Debug, Default)]
pub struct History {
    /// memory.available in MiB.
    pub mem_available_mib: VecDeque<u64>,
    /// Memory PSI `some avg10`, in hundredths of a percent.
    pub psi_memory: VecDeque<u64>,
    /// Threads on the node.
    pub threads: VecDeque<u64>,
}

impl History {
    pub fn push(&mut self, s: &Sample) {
        let mem = analyze::eviction_signals::memory_available(&s.snap)
            .map_or(0, |o| (o.available.max(0) / (1024 * 1024)) as u64);
        let psi = s
            .snap
            .psi
            .memory
            .map_or(0, |p| (p.some.avg10 * 100.0) as u64);
        let threads = s.snap.pids.threads.unwrap_or(0);
        for (q, v) in [
            (&mut self.mem_available_mib, mem),
            (&mut self.psi_memory, psi),
            (&mut self.threads, threads),
        ] {
            if q.len() == HISTORY {
                q.pop_front();
            }
            q.push_back(v);
        }
    }
}
