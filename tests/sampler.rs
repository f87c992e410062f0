//! Incremental sampling (issue 24): what `top` and `serve` carry from one sample to the next
//! (collect::Carry) must never change what a sample says. On an unchanging bundle an
//! incremental sample equals a fresh one; a process that changed under its pid is read again;
//! and the second sample reads fewer files (counted through a wrapper around the host, exact
//! numbers, no clock). Also `--debug-timings`: one line per phase, by name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use nodescope::collect::{self, Carry, Timings};
use nodescope::model::Snapshot;
use nodescope::source::bundle::BundleHost;
use nodescope::source::journal::{JournalEntry, JournalQuery};
use nodescope::source::{
    DirEntry, FdEntry, FileMeta, Host, HostError, HostResult, StatVfs, Walk, WalkLimits,
};
use std::sync::Mutex;
use std::time::Duration;

/// What a sample asked of the host, by kind of call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    /// `read` and `read_string` calls.
    reads: usize,
    /// Of which under /proc/<pid>/.
    proc_pid_reads: usize,
    /// `metadata` calls.
    metadata: usize,
    /// Processes whose open-file table was scanned.
    fd_tables: usize,
    /// Walks (`walk` and each path of `walk_each`).
    walks: usize,
    /// Calls to the runtime's CRI socket.
    cri: usize,
}

/// A host that forwards every call to `inner` and counts them.
struct Counting<H: Host> {
    inner: H,
    n: Mutex<Counts>,
}

impl<H: Host> Counting<H> {
    fn new(inner: H) -> Self {
        Counting {
            inner,
            n: Mutex::new(Counts::default()),
        }
    }

    /// The counts since the last call, reset.
    fn take(&self) -> Counts {
        std::mem::take(&mut *self.n.lock().unwrap())
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.n.lock().unwrap())
    }

    fn count_read(&self, path: &str) {
        let pid = path
            .strip_prefix("/proc/")
            .and_then(|r| r.split('/').next())
            .is_some_and(|p| p.parse::<u32>().is_ok());
        self.count(|c| {
            c.reads += 1;
            c.proc_pid_reads += usize::from(pid);
        })
    }
}

impl<H: Host> Host for Counting<H> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        self.count_read(path);
        self.inner.read(path)
    }
    fn read_string(&self, path: &str) -> HostResult<String> {
        self.count_read(path);
        self.inner.read_string(path)
    }
    fn read_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        self.inner.read_dir(path)
    }
    fn read_link(&self, path: &str) -> HostResult<String> {
        self.inner.read_link(path)
    }
    fn metadata(&self, path: &str) -> HostResult<FileMeta> {
        self.count(|c| c.metadata += 1);
        self.inner.metadata(path)
    }
    fn statvfs(&self, paths: &[String]) -> Vec<HostResult<StatVfs>> {
        self.inner.statvfs(paths)
    }
    fn deleted_files(&self, pids: &[u32]) -> Vec<HostResult<Vec<FdEntry>>> {
        self.count(|c| c.fd_tables += pids.len());
        self.inner.deleted_files(pids)
    }
    fn walk(&self, path: &str, limits: WalkLimits) -> HostResult<Walk> {
        self.count(|c| c.walks += 1);
        self.inner.walk(path, limits)
    }
    fn walk_each(
        &self,
        paths: &[String],
        limits: WalkLimits,
        total: Duration,
    ) -> Vec<HostResult<Walk>> {
        self.count(|c| c.walks += paths.len());
        self.inner.walk_each(paths, limits, total)
    }
    fn nvml(&self) -> Option<nodescope::model::gpu::Nvml> {
        self.inner.nvml()
    }
    fn cri(&self, endpoints: &[String]) -> Option<nodescope::model::disk::CriSnapshot> {
        self.count(|c| c.cri += 1);
        self.inner.cri(endpoints)
    }
    fn unparsed(&self, err: &HostError) {
        self.inner.unparsed(err)
    }
    fn kmsg(&self) -> HostResult<Vec<String>> {
        self.inner.kmsg()
    }
    fn journal(&self, q: &JournalQuery) -> HostResult<Vec<JournalEntry>> {
        self.inner.journal(q)
    }
    fn read_tail(&self, path: &str, max_bytes: u64) -> HostResult<Vec<u8>> {
        self.inner.read_tail(path, max_bytes)
    }
    fn tail_lines(&self, path: &str, max_bytes: u64, needles: &[&str]) -> HostResult<Vec<String>> {
        self.inner.tail_lines(path, max_bytes, needles)
    }
    fn now(&self) -> jiff::Timestamp {
        self.inner.now()
    }
    fn begin_sample(&self) {
        self.inner.begin_sample()
    }
    fn euid(&self) -> u32 {
        self.inner.euid()
    }
    fn clock(&self) -> Option<nodescope::model::health::ClockState> {
        self.inner.clock()
    }
    fn exists(&self, path: &str) -> bool {
        self.inner.exists(path)
    }
}

fn incremental(host: &dyn Host, carry: &mut Carry) -> Snapshot {
    collect::sample(host, carry, Timings::off()).0
}

fn json(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap()
}

fn findings(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(nodescope::analyze::analyze(s)).unwrap()
}

fn cmdline_of(s: &Snapshot, pid: u32) -> Vec<String> {
    s.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("no process {pid}"))
        .cmdline
        .clone()
}

#[test]
fn on_every_fixture_incremental_samples_equal_a_fresh_one() {
    let mut names: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("nodescope-bundle.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "fixtures: {names:?}");
    for name in names {
        let host = BundleHost::open(&fixture(&name)).unwrap();
        let fresh = collect::snapshot(&host);
        let mut carry = Carry::new();
        for n in 1..=3 {
            let s = incremental(&host, &mut carry);
            assert_eq!(json(&s), json(&fresh), "{name}: sample {n}");
            assert_eq!(findings(&s), findings(&fresh), "{name}: sample {n}");
        }
        assert_eq!(carry.samples(), 3, "{name}");
    }
}

#[test]
fn the_second_sample_reads_only_what_may_have_changed() {
    // disk-bloat-v2-containerd: 12 processes, all with a command line (12 open-file tables),
    // 11 walks (pod log directories, emptyDirs, writable layers and the filesystem short of
    // inodes) and a recorded CRI answer.
    let host = Counting::new(BundleHost::open(&fixture("disk-bloat-v2-containerd")).unwrap());
    collect::snapshot(&host);
    let one_shot = host.take();
    let mut carry = Carry::new();
    incremental(&host, &mut carry);
    let first = host.take();
    incremental(&host, &mut carry);
    let second = host.take();
    incremental(&host, &mut carry);
    let third = host.take();
    assert_eq!(
        one_shot,
        Counts {
            reads: 241,
            proc_pid_reads: 88,
            // 11, and the 5 runtimes' container directories looked for once (a container
            // without a log link is named from its runtime's config).
            metadata: 16,
            fd_tables: 12,
            walks: 11,
            cri: 1,
        },
        "one-shot"
    );
    // The first incremental sample reads what a one-shot one reads, and stats each process's
    // /proc/<pid>/fd for its count of open files (12 metadata calls).
    assert_eq!(
        first,
        Counts {
            metadata: 16 + 12,
            ..one_shot
        }
    );
    // Later ones: per process only stat, oom_score and oom_score_adj (12 x 3 fewer reads of
    // cgroup, status and cmdline; one fewer of the runtime's configuration), no open-file
    // table, no walk, no CRI call.
    let later = Counts {
        reads: 241 - 36 - 1,
        proc_pid_reads: 88 - 36,
        metadata: 16 + 12,
        fd_tables: 0,
        walks: 0,
        cri: 0,
    };
    assert_eq!(second, later, "second");
    assert_eq!(third, later, "third");
}

#[test]
fn a_full_refresh_reads_everything_again_every_nth_sample() {
    let host = Counting::new(BundleHost::open(&fixture("disk-bloat-v2-containerd")).unwrap());
    // Every 2nd sample full; the slow parts reused for an hour (the count rules here).
    let mut carry = Carry::with_policy(2, Duration::from_secs(3600));
    let counts: Vec<Counts> = (0..4)
        .map(|_| {
            incremental(&host, &mut carry);
            host.take()
        })
        .collect();
    assert_eq!(counts[0], counts[2], "samples 1 and 3 are full");
    assert_eq!(counts[1], counts[3], "samples 2 and 4 are incremental");
    assert_eq!((counts[0].fd_tables, counts[1].fd_tables), (12, 0));
    assert_eq!((counts[0].cri, counts[1].cri), (1, 0));
}

/// A /proc/<pid>/stat line with field 22 (start time) and the name replaced.
fn stat_with(stat: &str, comm: &str, start: u64) -> String {
    let close = stat.rfind(')').unwrap();
    let pid = stat[..stat.find('(').unwrap()].trim();
    let mut fields: Vec<String> = stat[close + 2..]
        .split_whitespace()
        .map(String::from)
        .collect();
    // Fields after the name start at 3 (state); field 22 is index 22 - 3.
    fields[22 - 3] = start.to_string();
    format!("{pid} ({comm}) {}\n", fields.join(" "))
}

#[test]
fn a_process_that_changed_under_its_pid_is_read_again() {
    let copy = Copy::of("disk-bloat-v2-containerd");
    let host = BundleHost::open(&copy.root).unwrap();
    let mut carry = Carry::new();
    let pid = 24608;
    let s1 = incremental(&host, &mut carry);
    assert_eq!(cmdline_of(&s1, pid), ["/app/checkout", "--listen=:8080"]);
    let stat = copy.read("proc/24608/stat");
    let start = s1
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap()
        .start_ticks;

    // The same process (same start time and name): its command line is not read again.
    copy.write("proc/24608/cmdline", "/app/checkout\0--listen=:9090\0");
    let s2 = incremental(&host, &mut carry);
    assert_eq!(cmdline_of(&s2, pid), ["/app/checkout", "--listen=:8080"]);

    // A new process under the same pid (another start time): read again.
    copy.write(
        "proc/24608/stat",
        &stat_with(&stat, "checkout", start + 500),
    );
    let s3 = incremental(&host, &mut carry);
    assert_eq!(cmdline_of(&s3, pid), ["/app/checkout", "--listen=:9090"]);
    assert_eq!(
        s3.processes
            .iter()
            .find(|p| p.pid == pid)
            .unwrap()
            .start_ticks,
        start + 500
    );

    // The same process after exec (same start time, another name): read again.
    copy.write("proc/24608/cmdline", "/bin/worker\0--once\0");
    copy.write("proc/24608/stat", &stat_with(&stat, "worker", start + 500));
    let s4 = incremental(&host, &mut carry);
    assert_eq!(cmdline_of(&s4, pid), ["/bin/worker", "--once"]);

    // And what the last sample says is what a fresh one says.
    assert_eq!(json(&s4), json(&collect::snapshot(&host)));
}

#[test]
fn check_debug_timings_prints_one_line_per_phase_and_the_same_report() {
    let bundle = fixture("disk-bloat-v2-containerd");
    let b = bundle.to_str().unwrap();
    let plain = run(&["check", "--bundle", b, "-o", "json"]);
    let timed = run(&["check", "--bundle", b, "-o", "json", "--debug-timings"]);
    assert_eq!(timed.stdout, plain.stdout, "the report does not change");
    assert_eq!(timed.status.code(), plain.status.code());
    assert!(
        plain.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let err = String::from_utf8(timed.stderr).unwrap();
    let names: Vec<&str> = err
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            assert_eq!((w.len(), w[0], w[3]), (4, "timing", "ms"), "{l}");
            assert!(w[2].parse::<f64>().is_ok(), "{l}");
            w[1]
        })
        .collect();
    assert_eq!(names, common::DEBUG_PHASES);
}

/// The phase names of one `timings of sample N: name 1.23 ms, ...` line of `serve`.
fn serve_phases(line: &str) -> Vec<String> {
    let after = &line[line.find("timings of sample ").unwrap()..];
    let (_, list) = after.split_once(": ").unwrap();
    list.split(", ")
        .map(|p| {
            let w: Vec<&str> = p.split(' ').collect();
            assert_eq!((w.len(), w[2]), (3, "ms"), "{p}");
            assert!(w[1].parse::<f64>().is_ok(), "{p}");
            w[0].to_string()
        })
        .collect()
}

#[test]
fn serve_debug_timings_logs_each_sample_by_phase() {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex, mpsc};
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1",
            "--debug-timings",
        ])
        .arg("--bundle")
        .arg(fixture("disk-bloat-v2-containerd"))
        .env_remove("NODESCOPE_ROOT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let child = Arc::new(Mutex::new(child));
    let stderr = child.lock().unwrap().stderr.take().unwrap();
    // Watchdog: the server is killed after 60 s whatever happens here.
    let (done, stopped) = mpsc::channel::<()>();
    let watched = Arc::clone(&child);
    let dog = std::thread::spawn(move || {
        let _ = stopped.recv_timeout(Duration::from_secs(60));
        let mut c = watched.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    });
    let lines: Vec<String> = std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("nodescope: timings of sample "))
        .take(2)
        .collect();
    let _ = done.send(());
    dog.join().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (n, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("nodescope: timings of sample {}: ", n + 1)),
            "{line}"
        );
        assert_eq!(serve_phases(line), common::DEBUG_PHASES, "{line}");
    }
}
