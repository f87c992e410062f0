//! `serve --listen ADDR`: the DaemonSet's endpoints. `/metrics` (the Prometheus format of
//! `check`), `/findings` (exactly what `check --format json` prints) and `/healthz` (fails when
//! no sample completed for three intervals).
//!
//! Two halves that never wait on each other:
//! - the sampler, a plain thread, collects every `--interval` (a fresh host each time, with the
//!   cluster part attached exactly as `check` does), renders both bodies once and swaps them
//!   into [`Status`];
//! - the HTTP side ([`http`]) answers every request from [`Status`] at once, so a slow
//!   collection (a hung mount, a huge node) never stalls a scrape.
//!
//! The HTTP side is hyper on a single-threaded tokio runtime with bounds on everything a client
//! controls (head size, header time, connection count and lifetime): the port is reachable by
//! every pod on the node, and the pod's memory limit is 64 MiB (deploy/daemonset.yaml).

mod conns;
mod http;

use super::cluster::{self, Plan};
use crate::source::Host;
use bytes::Bytes;
use std::process::ExitCode;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Opens a fresh view of the host for one sample.
pub(super) type OpenHost = Box<dyn Fn() -> anyhow::Result<Box<dyn Host>> + Send>;

/// `/healthz` fails when no sample completed for this many intervals (the first sample gets
/// the same grace, counted from start).
const HEALTHY_INTERVALS: u32 = 3;

/// One completed sample, rendered once for every request that reads it.
#[derive(Clone)]
pub(super) struct Sample {
    /// `check --format prometheus` of this sample.
    pub metrics: Bytes,
    /// `check --format json` of this sample (`nodescope-check/1`).
    pub findings: Bytes,
    /// When it completed, on the monotonic clock (for `/healthz`).
    pub completed: Instant,
    /// When it completed, on the wall clock (the `Last-Modified` of its responses).
    pub completed_at: jiff::Timestamp,
}

/// What the sampler has produced so far; every request reads it and nothing else.
pub(super) struct Status {
    /// When serving started: the first sample's grace counts from here.
    pub started: Instant,
    pub interval: Duration,
    /// The last sample that completed.
    pub last: Option<Sample>,
    /// Why the last attempt failed; `None` when it completed. While it is set, /metrics and
    /// /findings answer 503 with it rather than serve an older sample as if it were current.
    pub failure: Option<String>,
}

impl Status {
    pub(super) fn new(started: Instant, interval: Duration) -> Self {
        Status {
            started,
            interval,
            last: None,
            failure: None,
        }
    }

    /// `Ok` while a sample completed within the last [`HEALTHY_INTERVALS`] intervals (or,
    /// before the first one, since start); otherwise the reason, for the 503 body.
    pub(super) fn health(&self, now: Instant) -> Result<(), String> {
        let since = self.last.as_ref().map_or(self.started, |s| s.completed);
        let quiet = now.saturating_duration_since(since);
        if quiet <= self.interval * HEALTHY_INTERVALS {
            return Ok(());
        }
        let mut reason = match &self.last {
            None => format!(
                "no sample has completed in the {} s since start (interval {} s)",
                quiet.as_secs(),
                self.interval.as_secs()
            ),
            Some(s) => format!(
                "no sample has completed for {} s (interval {} s); the last completed at {}",
                quiet.as_secs(),
                self.interval.as_secs(),
                s.completed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        };
        if let Some(f) = &self.failure {
            reason.push_str("; the last attempt failed: ");
            reason.push_str(f);
        }
        Err(reason)
    }
}

/// Serves until the process is killed (returns only when it cannot start). `open` builds a
/// fresh host for every sample, and `cluster` says what its cluster part asks (a bundle's
/// `cluster/*.json`, a dump, or the API).
pub(super) fn run(
    listen: &str,
    interval: Duration,
    open: OpenHost,
    cluster: Plan,
    debug_timings: bool,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let listener = {
        let _in_runtime = runtime.enter();
        bind(listen).map_err(|e| anyhow::anyhow!("--listen {listen}: {e}"))?
    };
    super::pipe::note(&format!(
        "serving /metrics, /findings and /healthz on http://{}",
        listener.local_addr()?
    ));
    let status = Arc::new(RwLock::new(Status::new(Instant::now(), interval)));
    let delays = sample_delays();
    let sampler = Arc::clone(&status);
    std::thread::Builder::new()
        .name("nodescope-sampler".into())
        .spawn(move || {
            sample_forever(&sampler, interval, &open, &cluster, &delays, debug_timings)
        })?;
    runtime.block_on(http::serve(listener, status));
    Ok(ExitCode::SUCCESS)
}

/// The kernel's queue of connections not yet accepted. std binds with 128; a burst of clients
/// (200 reconnecting at once) overflows that, and a dropped SYN costs the next client, a
/// scraper too, the 1 s SYN retransmission. Linux caps it at net.core.somaxconn.
const ACCEPT_BACKLOG: u32 = 1024;

/// Listens on the first address `listen` resolves to that can be bound, with SO_REUSEADDR
/// (as std does on Unix) and [`ACCEPT_BACKLOG`]. Must run inside the runtime.
fn bind(listen: &str) -> std::io::Result<tokio::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address");
    for addr in listen.to_socket_addrs()? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(ACCEPT_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Test hook `NODESCOPE_SERVE_SAMPLE_DELAY_MS`: extra milliseconds each sample takes, as a
/// comma-separated list (sample 1, sample 2, ...; the last value repeats). `1500` stretches
/// every sample; `0,60000` lets the first complete and stalls every later one.
fn sample_delays() -> Vec<Duration> {
    std::env::var("NODESCOPE_SERVE_SAMPLE_DELAY_MS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|ms| ms.trim().parse().ok())
                .map(Duration::from_millis)
                .collect()
        })
        .unwrap_or_default()
}

/// The sampler's loop: one attempt, then `interval` of sleep, forever. What changes slowly
/// is carried from one sample to the next (collect::Carry); with `debug_timings`, each
/// sample's phases are logged on one line.
fn sample_forever(
    status: &RwLock<Status>,
    interval: Duration,
    open: &OpenHost,
    cluster: &Plan,
    delays: &[Duration],
    debug_timings: bool,
) {
    let mut carry = crate::collect::Carry::new();
    for n in 0usize.. {
        let delay = delays.get(n).or(delays.last()).copied();
        let mut timings = crate::collect::Timings::when(debug_timings);
        let outcome = sample_once(open, cluster, delay, &mut carry, &mut timings);
        if timings.is_on() {
            super::pipe::note(&format!(
                "timings of sample {}: {}",
                n + 1,
                timings.one_line()
            ));
        }
        let mut s = status.write().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(sample) => {
                s.last = Some(sample);
                s.failure = None;
            }
            Err(e) => s.failure = Some(e),
        }
        drop(s);
        std::thread::sleep(interval);
    }
}

/// One sample, the way `check` makes its report: collect, attach the cluster, analyze; then
/// both renderings. `Err` (one line) when the host cannot be opened.
fn sample_once(
    open: &OpenHost,
    cluster: &Plan,
    delay: Option<Duration>,
    carry: &mut crate::collect::Carry,
    timings: &mut crate::collect::Timings,
) -> Result<Sample, String> {
    let host = open().map_err(|e| format!("could not open the host: {e:#}").replace('\n', " "))?;
    // As `check` does: the API is asked in parallel with the collection.
    let (snap, _) = cluster::collect_with(
        cluster,
        host.as_ref(),
        Default::default(),
        Some(carry),
        timings,
    );
    if let Some(d) = delay {
        std::thread::sleep(d);
    }
    let findings = timings.time("analyze", || crate::analyze::analyze(&snap));
    let completed_at = jiff::Timestamp::now();
    let (metrics, json) = timings.time("render", || {
        let mut metrics = crate::render::prometheus::render(&snap, &findings);
        metrics.push_str(&sample_time_family(completed_at));
        let mut json = Vec::new();
        crate::render::json::write_check(&mut json, &snap, &findings)
            .map(|()| (metrics, json))
            .map_err(|e| format!("rendering the findings: {e}"))
    })?;
    Ok(Sample {
        metrics: Bytes::from(metrics),
        findings: Bytes::from(json),
        completed: Instant::now(),
        completed_at,
    })
}

/// The gauge that tells a stale agent from a quiet node: /metrics answers from the last
/// sample even while the sampler is stuck (a hung mount), so the alert "no sample for three
/// intervals" (deploy/prometheus/nodescope.rules.yml) compares this with `time()`. Only the
/// agent has it: a textfile (`check --format prometheus`) has node_exporter's
/// `node_textfile_mtime_seconds` instead.
fn sample_time_family(at: jiff::Timestamp) -> String {
    format!(
        "# HELP nodescope_last_sample_timestamp_seconds When the sample served here completed (Unix time).\n\
         # TYPE nodescope_last_sample_timestamp_seconds gauge\n\
         nodescope_last_sample_timestamp_seconds {}\n",
        at.as_second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(completed: Instant) -> Sample {
        Sample {
            metrics: Bytes::from_static(b"m\n"),
            findings: Bytes::from_static(b"{}\n"),
            completed,
            completed_at: "2026-11-22T03:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_first_sample_has_three_intervals_of_grace() {
        let t0 = Instant::now();
        let s = Status::new(t0, Duration::from_secs(10));
        assert_eq!(s.health(t0 + Duration::from_secs(30)), Ok(()));
        assert_eq!(
            s.health(t0 + Duration::from_secs(31)),
            Err("no sample has completed in the 31 s since start (interval 10 s)".into())
        );
    }

    #[test]
    fn health_counts_from_the_last_completed_sample_and_names_the_last_failure() {
        let t0 = Instant::now();
        let mut s = Status::new(t0, Duration::from_secs(2));
        s.last = Some(sample(t0 + Duration::from_secs(100)));
        assert_eq!(s.health(t0 + Duration::from_secs(106)), Ok(()));
        s.failure = Some("could not open the host: no proc/".into());
        assert_eq!(
            s.health(t0 + Duration::from_secs(107)),
            Err(
                "no sample has completed for 7 s (interval 2 s); the last completed at \
                 2026-11-22T03:00:00Z; the last attempt failed: could not open the host: no proc/"
                    .into()
            )
        );
    }
}
