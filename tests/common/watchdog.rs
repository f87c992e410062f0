//! Every process a test starts runs under a watchdog: a hang fails the test with the command
//! that hung, instead of blocking CI until its global timeout. `Command::output()`,
//! `status()` and `spawn()` are not used directly in tests/ (tests/hygiene.rs checks it); these
//! do the same under a deadline.
//!
//! The child gets its own process group, and the watchdog kills the whole group (a `sh -c`
//! script's children too), but only while the group leader is still the process it started:
//! the start time in /proc/<pid>/stat is compared first, so a reaped and reused pid is never hit.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How long any one command may take unless its test says otherwise: far above what any of
/// them needs on a loaded CI machine, far below CI's own timeout.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Start time (field 22 of /proc/<pid>/stat, clock ticks after boot) of a live process.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// Kills the process group of `pid` if `pid` is still the process that started at `ticks`.
fn kill_group_if_same(pid: u32, ticks: Option<u64>) -> bool {
    if ticks.is_none() || start_ticks(pid) != ticks {
        return false;
    }
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    killpg(Pid::from_raw(raw), Signal::SIGKILL).is_ok()
}

/// A deadline on one child: dropped (or `disarm`ed) in time, it does nothing.
pub struct Dog {
    stop: Option<mpsc::Sender<()>>,
    fired: Arc<AtomicBool>,
}

impl Dog {
    /// Watches `child`: kills its process group after `limit`.
    pub fn watch(child: &Child, limit: Duration, what: String) -> Dog {
        let pid = child.id();
        let ticks = start_ticks(pid);
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(limit)
                && kill_group_if_same(pid, ticks)
            {
                flag.store(true, Ordering::SeqCst);
                eprintln!("watchdog: killed {what} (pid {pid}) after {limit:?}");
            }
        });
        Dog {
            stop: Some(stop),
            fired,
        }
    }

    /// Lets the watch outlive this handle: the child's group is killed at the deadline unless
    /// the child has ended first (its start time is checked, so a reused pid is never hit).
    /// For a child a guard owns (a `Kill`), whose test may hang before the guard drops.
    pub fn detach(self) {
        std::mem::forget(self);
    }

    /// Stops watching; true when the deadline had already passed and the child was killed.
    pub fn disarm(mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Dog {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// `Command` under a watchdog.
pub trait Watched {
    /// `output()` (stdin closed, stdout and stderr captured), killed after `limit`.
    fn output_within(&mut self, limit: Duration) -> io::Result<Output>;
    /// `output()` under [`LIMIT`].
    fn watched_output(&mut self) -> io::Result<Output> {
        self.output_within(LIMIT)
    }
    /// `status()` (stdio inherited) under [`LIMIT`].
    fn watched_status(&mut self) -> io::Result<ExitStatus>;
    /// `spawn()` for a child the test stops itself (a server, a load): killed after `limit`
    /// if the test has not, for as long as the returned [`Dog`] lives.
    fn watched_spawn(&mut self, limit: Duration) -> io::Result<(Child, Dog)>;
    /// `spawn()` for a child a guard owns (`common::live::Kill`): its watchdog is detached
    /// ([`Dog::detach`]) and kills it after `limit` even if the test hangs holding the guard.
    fn spawn_killed_after(&mut self, limit: Duration) -> io::Result<Child> {
        let (child, dog) = self.watched_spawn(limit)?;
        dog.detach();
        Ok(child)
    }
}

impl Watched for Command {
    fn output_within(&mut self, limit: Duration) -> io::Result<Output> {
        let child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let dog = Dog::watch(&child, limit, format!("{self:?}"));
        let out = child.wait_with_output()?;
        assert!(
            !dog.disarm(),
            "{self:?} outlived its {limit:?} watchdog and was killed"
        );
        Ok(out)
    }

    fn watched_status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.process_group(0).spawn()?;
        let dog = Dog::watch(&child, LIMIT, format!("{self:?}"));
        let st = child.wait()?;
        assert!(
            !dog.disarm(),
            "{self:?} outlived its {LIMIT:?} watchdog and was killed"
        );
        Ok(st)
    }

    fn watched_spawn(&mut self, limit: Duration) -> io::Result<(Child, Dog)> {
        let child = self.process_group(0).spawn()?;
        let dog = Dog::watch(&child, limit, format!("{self:?}"));
        Ok((child, dog))
    }
}
