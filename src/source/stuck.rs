//! Calls that can block in the kernel, bounded, and the mounts that did block, remembered.
//!
//! A read, statvfs or walk on a filesystem that does not answer (a dead NFS server, a FUSE
//! daemon that hangs) blocks its thread in the kernel for as long as the filesystem says, and
//! no signal nodescope may send ends it. So such calls run on a helper thread the caller waits
//! for with a deadline; past it, the caller reports the call stuck and goes on, and the helper
//! stays blocked until the kernel lets it go.
//!
//! Every blocked call is entered in a [`Registry`], process-wide ([`global`]) because `serve`
//! builds a new host for every sample, under the *mount* it blocked on (its device number,
//! from mountinfo). A later call on that mount is refused at once — "stuck since 02:58:13 UTC,
//! 41 samples" — instead of blocking one more thread, so a dead mount costs one thread for the
//! life of the process, not one per sample. When the blocked call returns, its entry goes and
//! the mount is asked again.
//!
//! The helper of single calls is per calling thread and lives as long as it: the sampler of
//! `top` and `serve` reuses one for every sample instead of paying a thread per read.

use super::{ErrorKind, HostError, HostResult};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a stuck call is remembered by: usually the device of the mount it blocked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Identity: `dev 0:53` for a mount (every path of one filesystem shares it), or
    /// `path /proc/42` when no mount could be named.
    pub id: String,
    /// What messages name: the mount point (`/mnt/nfs`), or the path.
    pub shown: String,
}

impl Key {
    /// The key of a filesystem by its `major:minor` device and a mount point of it.
    pub fn mount(majmin: &str, mount_point: &str) -> Self {
        Key {
            id: format!("dev {majmin}"),
            shown: mount_point.to_string(),
        }
    }

    /// The key of one path, when its mount is not known.
    pub fn path(path: &str) -> Self {
        Key {
            id: format!("path {path}"),
            shown: path.to_string(),
        }
    }
}

/// One call in progress, so that its return can clear what its blocking entered.
#[derive(Debug, Clone)]
pub struct Token(Arc<TokenState>);

#[derive(Debug)]
struct TokenState {
    id: u64,
    /// Set (under the registry's lock) when the call returned.
    returned: AtomicBool,
}

impl Token {
    /// A token for a call about to start.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Token(Arc::new(TokenState {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            returned: AtomicBool::new(false),
        }))
    }
}

impl Default for Token {
    fn default() -> Self {
        Token::new()
    }
}

/// A mount with a call blocked on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckMount {
    /// The mount point (or path) the key shows.
    pub shown: String,
    /// The call that blocked: `statvfs`, `reading /var/lib/kubelet/config.yaml`, ...
    pub what: String,
    /// When that call was declared stuck.
    pub since: jiff::Timestamp,
    /// In how many samples the mount was found stuck, the first included.
    pub samples: u64,
    /// The deadline the call missed.
    pub deadline: Duration,
    token: u64,
    last_sample: u64,
}

/// The stuck mounts of a process and the samples they were seen in.
#[derive(Debug, Default)]
pub struct Registry {
    stuck: Mutex<BTreeMap<String, StuckMount>>,
    /// Entries in `stuck`: lets the common case (nothing stuck) skip the lock and the
    /// mount lookup of a key.
    count: AtomicUsize,
    sample: AtomicU64,
}

/// The registry of this process.
pub fn global() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(Registry::default)
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StuckMount>> {
        self.stuck.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a new sample (a collection pass of `top` or `serve`): stuck mounts found stuck
    /// again from now on count one sample more.
    pub fn begin_sample(&self) {
        self.sample.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether no mount is stuck (no lock taken).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// The mounts stuck now.
    pub fn stuck(&self) -> Vec<StuckMount> {
        self.lock().values().cloned().collect()
    }

    /// The refusal of a call on `key` when its mount is stuck: `Timeout`, naming `path` and
    /// saying since when and for how many samples. Counts this sample for the mount.
    pub fn refusal(&self, key: &Key, path: &str) -> Option<HostError> {
        if self.is_empty() {
            return None;
        }
        let sample = self.sample.load(Ordering::Relaxed);
        let mut st = self.lock();
        let s = st.get_mut(&key.id)?;
        if s.last_sample != sample {
            s.last_sample = sample;
            s.samples += 1;
        }
        Some(HostError::new(
            ErrorKind::Timeout,
            path,
            format!(
                "stuck since {} UTC, {} sample{}: {} on {} did not return within {} ms and has \
                 not returned since; not asked again until it does",
                s.since.strftime("%H:%M:%S"),
                s.samples,
                if s.samples == 1 { "" } else { "s" },
                s.what,
                s.shown,
                s.deadline.as_millis()
            ),
        ))
    }

    /// Enters the call of `token` as stuck on `key`, unless it returned meanwhile (then
    /// `false`: its answer is on the way).
    pub fn mark_stuck(&self, key: &Key, token: &Token, what: &str, deadline: Duration) -> bool {
        let mut st = self.lock();
        if token.0.returned.load(Ordering::Acquire) {
            return false;
        }
        st.entry(key.id.clone()).or_insert_with(|| StuckMount {
            shown: key.shown.clone(),
            what: what.to_string(),
            since: jiff::Timestamp::now(),
            samples: 1,
            deadline,
            token: token.0.id,
            last_sample: self.sample.load(Ordering::Relaxed),
        });
        self.count.store(st.len(), Ordering::Release);
        true
    }

    /// The call of `token` returned: what it left stuck is usable again.
    pub fn returned(&self, token: &Token) {
        let mut st = self.lock();
        token.0.returned.store(true, Ordering::Release);
        if !st.is_empty() {
            st.retain(|_, s| s.token != token.0.id);
            self.count.store(st.len(), Ordering::Release);
        }
    }
}

/// The first report of a call that missed its deadline.
pub fn timeout(what: &str, path: &str, deadline: Duration) -> HostError {
    HostError::new(
        ErrorKind::Timeout,
        path,
        format!(
            "{what} did not return within {} ms (a hung network or FUSE mount?); its mount is not \
             asked again until that call returns",
            deadline.as_millis()
        ),
    )
}

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// This thread's helper: where its bounded calls run.
    static HELPER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
    /// How many helpers this thread started (tests count threads with it).
    static STARTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many helper threads the calling thread has started so far.
pub fn helpers_started() -> usize {
    STARTED.with(|s| s.get())
}

/// Hands `job` to this thread's helper, starting one when there is none (or it is gone).
fn submit(job: Job) -> bool {
    HELPER.with(|h| {
        let mut h = h.borrow_mut();
        let job = match h.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return true,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("nodescope-io".into())
            .spawn(move || {
                // Ends when the caller drops the sender: its thread ended, or it gave up on
                // this helper because a call blocked.
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .is_ok();
        if !started || tx.send(job).is_err() {
            return false;
        }
        STARTED.with(|s| s.set(s.get() + 1));
        *h = Some(tx);
        true
    })
}

/// Gives up this thread's helper (it is blocked in the kernel); the next call starts another.
fn abandon_helper() {
    HELPER.with(|h| h.borrow_mut().take());
}

/// Runs `call` on this thread's helper and waits at most `deadline` for it.
///
/// When the mount of `key` (computed only if something is stuck, or at the deadline) is
/// stuck, the call is refused at once. A call past its deadline is entered stuck under its
/// key and reported as [`ErrorKind::Timeout`]; its helper is left to the kernel.
pub fn run<T: Send + 'static>(
    reg: &'static Registry,
    what: &str,
    path: &str,
    deadline: Duration,
    key: impl Fn() -> Key,
    call: impl FnOnce() -> HostResult<T> + Send + 'static,
) -> HostResult<T> {
    let mut known: Option<Key> = None;
    if !reg.is_empty() {
        let k = key();
        if let Some(e) = reg.refusal(&k, path) {
            return Err(e);
        }
        known = Some(k);
    }
    let token = Token::new();
    let (tx, rx) = mpsc::sync_channel(1);
    let job: Job = {
        let token = token.clone();
        Box::new(move || {
            let r = call();
            reg.returned(&token);
            let _ = tx.send(r);
        })
    };
    if !submit(job) {
        return Err(HostError::new(
            ErrorKind::Io,
            path,
            "could not start a worker thread",
        ));
    }
    match rx.recv_timeout(deadline) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let k = known.unwrap_or_else(key);
            if reg.mark_stuck(&k, &token, what, deadline) {
                abandon_helper();
                return Err(timeout(what, path, deadline));
            }
            // It returned between the deadline and the mark: its answer is being sent.
            rx.recv_timeout(Duration::from_secs(1)).unwrap_or_else(|_| {
                Err(HostError::new(
                    ErrorKind::Io,
                    path,
                    "no answer from the worker",
                ))
            })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(HostError::new(
            ErrorKind::Io,
            path,
            "the worker ended without an answer",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;
    use std::time::Instant;

    fn registry() -> &'static Registry {
        Box::leak(Box::new(Registry::default()))
    }

    /// A call that blocks until the test lets it go, like a read on a dead mount.
    fn blocking(release: Receiver<()>) -> impl FnOnce() -> HostResult<u32> + Send + 'static {
        move || {
            let _ = release.recv();
            Ok(7)
        }
    }

    #[test]
    fn a_blocked_call_is_remembered_refused_counted_by_sample_and_freed_when_it_returns() {
        let reg = registry();
        let key = || Key::mount("0:4242", "/mnt/dead");
        let (release, rx) = mpsc::channel();
        let started = Instant::now();
        let e = run(
            reg,
            "statvfs",
            "/mnt/dead",
            Duration::from_millis(100),
            key,
            blocking(rx),
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(
            e.detail.starts_with("statvfs did not return within 100 ms"),
            "{e}"
        );
        // Three more samples: each refused at once, without a call, counted once per sample.
        for _ in 0..3 {
            reg.begin_sample();
            for _ in 0..2 {
                let e = run(
                    reg,
                    "reading x",
                    "/mnt/dead/x",
                    Duration::from_secs(5),
                    key,
                    || -> HostResult<u32> { panic!("a stuck mount is not asked again") },
                )
                .unwrap_err();
                assert_eq!(e.kind, ErrorKind::Timeout);
            }
        }
        let e = reg.refusal(&key(), "/mnt/dead").unwrap();
        assert!(e.detail.starts_with("stuck since "), "{e}");
        assert!(
            e.detail
                .contains(" UTC, 4 samples: statvfs on /mnt/dead did not return within 100 ms"),
            "{e}"
        );
        assert_eq!(reg.stuck().len(), 1);
        // Another mount still answers.
        let other = || Key::mount("0:1", "/");
        assert_eq!(
            run(reg, "statvfs", "/", Duration::from_secs(5), other, || Ok(1)).unwrap(),
            1
        );
        // The blocked call returns: the mount is asked again.
        release.send(()).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while !reg.is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(reg.stuck().is_empty());
        assert_eq!(
            run(
                reg,
                "statvfs",
                "/mnt/dead",
                Duration::from_secs(5),
                key,
                || Ok(9)
            )
            .unwrap(),
            9
        );
    }

    #[test]
    fn one_helper_serves_many_calls_and_a_stuck_mount_costs_one_thread() {
        let reg = registry();
        // A thread of its own: helpers are per calling thread.
        std::thread::spawn(move || {
            let ok = || Key::mount("0:1", "/");
            for i in 0..200 {
                assert_eq!(
                    run(reg, "read", "/a", Duration::from_secs(5), ok, move || Ok(i)).unwrap(),
                    i
                );
            }
            assert_eq!(helpers_started(), 1, "one helper for every call");
            let dead = || Key::mount("0:99", "/mnt/dead");
            let (_release, rx) = mpsc::channel::<()>();
            let mut rx = Some(rx);
            let mut refused = 0;
            for _ in 0..20 {
                reg.begin_sample();
                let call = blocking(rx.take().unwrap_or_else(|| mpsc::channel().1));
                let e = run(
                    reg,
                    "read",
                    "/mnt/dead/f",
                    Duration::from_millis(50),
                    dead,
                    call,
                )
                .unwrap_err();
                refused += usize::from(e.detail.starts_with("stuck since"));
                assert_eq!(
                    run(reg, "read", "/a", Duration::from_secs(5), ok, || Ok(0)).unwrap(),
                    0
                );
            }
            assert_eq!(refused, 19);
            // The helper blocked on the dead mount, and its one replacement.
            assert_eq!(helpers_started(), 2);
        })
        .join()
        .unwrap();
    }
}
