//! Incremental sampling on the real kernel: a process sampled, then changed under the same pid
//! by exec (same start time, another name), then replaced by a new process, is seen as it is
//! now at each sample; the cache (collect::Carry) never shows a command line that is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{Kill, random_hex, skip_or_fail};
use nodescope::collect::{self, Carry, Timings};
use nodescope::model::{Process, Snapshot};
use nodescope::source::live::LiveHost;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn process(s: &Snapshot, pid: u32) -> Option<&Process> {
    s.processes.iter().find(|p| p.pid == pid)
}

/// Waits (at most 10 s) until /proc/<pid>/comm reads `comm`.
fn wait_for_comm(pid: u32, comm: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default()
        != format!("{comm}\n")
    {
        assert!(Instant::now() < deadline, "pid {pid} never became {comm}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn live_sampler_sees_an_exec_and_a_replaced_process() {
    if !nix::unistd::geteuid().is_root() {
        return skip_or_fail("needs root: a sample reads every process's files");
    }
    // Unique per run, so parallel runs never mistake each other's processes. Kill ends them
    // with the test, their watchdogs after 600 s if the test hangs (a sample of a
    // 50,000-process host in a debug build takes tens of seconds).
    let n = u32::from_str_radix(&random_hex(2), 16).unwrap();
    let first = format!("600.{n}1");
    let second = format!("600.{n}2");
    let script = format!("read x; exec sleep {first}");
    let mut a = Kill(
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn_killed_after(Duration::from_secs(600))
            .unwrap(),
    );
    let pid = a.0.id();
    wait_for_comm(pid, "sh");
    let host = LiveHost::new(Path::new("/")).unwrap();
    let mut carry = Carry::new();

    let s1 = collect::sample(&host, &mut carry, Timings::off()).0;
    let p1 = process(&s1, pid).expect("the shell is sampled");
    assert_eq!(p1.cmdline, ["sh", "-c", script.as_str()]);

    // exec: the same pid and start time, another program.
    a.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    wait_for_comm(pid, "sleep");
    let s2 = collect::sample(&host, &mut carry, Timings::off()).0;
    let p2 = process(&s2, pid).expect("the exec'd process is sampled");
    assert_eq!(p2.start_ticks, p1.start_ticks, "exec keeps the start time");
    assert_eq!(p2.cmdline, ["sleep", first.as_str()]);

    // Replaced: the old process gone, a new one in its place.
    drop(a);
    let b = Kill(
        Command::new("sleep")
            .arg(&second)
            .spawn_killed_after(Duration::from_secs(600))
            .unwrap(),
    );
    wait_for_comm(b.0.id(), "sleep");
    let s3 = collect::sample(&host, &mut carry, Timings::off()).0;
    assert!(process(&s3, pid).is_none(), "the killed process is gone");
    let p3 = process(&s3, b.0.id()).expect("the new process is sampled");
    assert_eq!(p3.cmdline, ["sleep", second.as_str()]);
    assert_eq!(carry.samples(), 3);
}
