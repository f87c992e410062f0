//! Never the second incident: no secrets in any output or bundle, no writes under the root
//! read, no failure when processes and cgroups come and go during collection. Live tests: they
//! plant secrets in real processes and churn real cgroups, and clean up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use std::io::Read;
use std::process::{Command, Stdio};

const CMDLINE_SECRET: &str = "tok-cmdline-3f9a1c77";
const ENV_SECRET: &str = "tok-environ-8e21b4d0";

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
}

/// A process in a network namespace of its own with nothing but a down loopback: `dns probe
/// --pid` of it sends its queries nowhere and fails at once instead of waiting on a timeout.
fn isolated_sleeper() -> (Kill, common::watchdog::Dog) {
    let (child, dog) = Command::new("unshare")
        .args(["-n", "sleep", "90"])
        .stdin(Stdio::null())
        .watched_spawn(std::time::Duration::from_secs(120))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    (Kill(child), dog)
}

#[test]
fn live_secrets_in_command_lines_and_environments_never_leave_the_node() {
    // A process whose command line carries a token and whose environment carries another.
    let holder = Command::new("sh")
        .args([
            "-c",
            "sleep 60",
            "sh",
            &format!("--token={CMDLINE_SECRET}"),
            "--password",
            CMDLINE_SECRET,
        ])
        .env("API_TOKEN", ENV_SECRET)
        .stdout(Stdio::null())
        .watched_spawn(std::time::Duration::from_secs(90))
        .unwrap();
    let _holder = Kill(holder.0);
    let _dog = holder.1;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut outputs = Vec::new();
    let (probed, _probe_dog) = isolated_sleeper();
    let probed = probed.0.id().to_string();
    // Every command and every output format (the snapshot first: it proves the process was
    // seen). `serve` and `top` below.
    for args in [
        vec!["snapshot"],
        vec!["snapshot", "--format", "json"],
        vec!["check", "--format", "json"],
        vec!["check", "--format", "text"],
        vec!["check", "--format", "prometheus"],
        vec!["check", "--format", "npd"],
        vec!["check", "--format", "junit"],
        vec!["disk"],
        vec!["disk", "--format", "json"],
        vec!["dns"],
        vec!["dns", "--format", "json"],
        vec!["gpu"],
        vec!["gpu", "--format", "json"],
        vec!["dns", "probe", "example.invalid", "--pid", &probed],
        vec![
            "dns",
            "probe",
            "example.invalid",
            "--pid",
            &probed,
            "--format",
            "json",
        ],
        vec!["rules"],
    ] {
        let o = bin()
            .args(["--root", "/"])
            .args(&args)
            .watched_output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "{args:?}: exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push((format!("{args:?}"), [o.stdout, o.stderr].concat()));
    }
    outputs.extend(outputs::serve_responses(&[], &["--root", "/"]));
    if outputs::tmux_missing() {
        return live::skip_or_fail("the TUI part needs tmux (.ci/run installs it)");
    }
    let dir_top = tempfile::tempdir().unwrap();
    outputs.extend(outputs::top_screens(
        "",
        "--root /",
        &format!("nodescope-secrets-{}", std::process::id()),
        &dir_top.path().join("done"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("secrets.tar.gz");
    assert!(
        bin()
            .args(["--root", "/", "capture", "-o"])
            .arg(&bundle)
            .watched_status()
            .unwrap()
            .success()
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    outputs.push(("capture bundle (uncompressed tar)".into(), raw));
    // The snapshot did see the process (so the test can fail): its redacted command line.
    let snap = String::from_utf8_lossy(&outputs[0].1).into_owned();
    assert!(
        snap.contains("--token=<redacted>"),
        "the planted process was collected"
    );
    for (what, bytes) in outputs {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(CMDLINE_SECRET),
            "{what} leaks the command-line secret"
        );
        assert!(
            !text.contains(ENV_SECRET),
            "{what} leaks the environment secret"
        );
    }
}

/// Every file under `root` with its length and modification time.
fn tree_state(root: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((
                e.path().display().to_string(),
                m.len(),
                m.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn nothing_under_the_root_is_created_or_modified() {
    // A node tree read as a live root: check, snapshot and capture (its output elsewhere).
    let c = Copy::of(V2);
    with_executables(&c.root);
    let before = tree_state(&c.root);
    let out = tempfile::tempdir().unwrap();
    for args in [
        vec!["check", "--format", "json"],
        vec!["check"],
        vec!["snapshot"],
    ] {
        let o = bin()
            .arg("--root")
            .arg(&c.root)
            .args(&args)
            .watched_output()
            .unwrap();
        assert_ne!(
            o.status.code(),
            Some(3),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        bin()
            .arg("--root")
            .arg(&c.root)
            .args(["capture", "-o"])
            .arg(out.path().join("b.tar.gz"))
            .watched_status()
            .unwrap()
            .success()
    );
    assert_eq!(
        tree_state(&c.root),
        before,
        "nodescope wrote under the root it read"
    );
}

#[test]
fn live_churn_of_processes_and_cgroups_never_fails_a_run() {
    let memcg = std::path::Path::new("/sys/fs/cgroup/memory");
    if !nix::unistd::geteuid().is_root() || !memcg.is_dir() {
        return live::skip_or_fail("needs root and a cgroup v1 memory hierarchy to churn cgroups");
    }
    let base = memcg.join(format!("nodescope-churn-{}", std::process::id()));
    // Processes and cgroups appear and vanish as fast as the shell can make them.
    let script = format!(
        "i=0; while [ $i -lt 400 ]; do d={b}/c$i; mkdir -p $d; (sleep 0.05 & echo $! > $d/cgroup.procs 2>/dev/null; wait) ; rmdir $d 2>/dev/null; i=$((i+1)); done",
        b = base.display()
    );
    let (churn, _dog) = Command::new("sh")
        .args(["-c", &script])
        .watched_spawn(std::time::Duration::from_secs(120))
        .unwrap();
    let churn = Kill(churn);
    for _ in 0..15 {
        let o = bin()
            .args(["--root", "/", "check", "--format", "json"])
            .watched_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "exit {:?}: {err}",
            o.status.code()
        );
        assert!(!err.contains("panicked"), "{err}");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
    }
    drop(churn);
    // Clean up whatever the loop left behind; a cgroup whose last `sleep 0.05` is still alive
    // cannot be removed yet, so retry for a while.
    for _ in 0..40 {
        if let Ok(rd) = std::fs::read_dir(&base) {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&base);
        if !base.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!base.exists(), "churn cgroups removed");
}

/// The system calls that change a filesystem, besides opening a file for writing.
const MUTATING: &[&str] = &[
    "creat",
    "truncate",
    "ftruncate",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "utimensat",
    "utimes",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "mknod",
    "mknodat",
    "mount",
    "umount2",
    "fallocate",
];
const OPENS: &[&str] = &["open", "openat", "openat2"];
const WRITE_FLAGS: &[&str] = &["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"];

fn strace_args(log: &std::path::Path) -> Vec<String> {
    let calls: Vec<&str> = OPENS.iter().chain(MUTATING).copied().collect();
    vec![
        "-f".into(),
        "-qq".into(),
        // Decode fds as paths: nodescope opens relative to a directory fd of the root
        // (openat2 with RESOLVE_IN_ROOT), so the path alone is relative.
        "-y".into(),
        "-o".into(),
        log.display().to_string(),
        format!("-etrace={}", calls.join(",")),
    ]
}

/// Reads a strace log: every path opened, and every call that opened for writing or changed
/// a filesystem, except under `allowed` (the output `capture` was asked to write, a terminal).
fn audit(log: &std::path::Path, allowed: &[&str]) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(log).unwrap();
    let (mut opened, mut writes) = (Vec::new(), Vec::new());
    for line in text.lines() {
        // "1234  openat(AT_FDCWD, "/proc/meminfo", O_RDONLY|O_CLOEXEC) = 3"
        let call = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        let Some((name, rest)) = call.split_once('(') else {
            continue; // "<... openat resumed>", exits and signals
        };
        let path = opened_path(rest);
        let permitted = allowed.iter().any(|a| path.starts_with(a));
        if OPENS.contains(&name) {
            let flags = rest.rsplit_once(')').map_or(rest, |(a, _)| a);
            if WRITE_FLAGS.iter().any(|f| flags.contains(f)) && !permitted {
                writes.push(line.to_string());
            }
            opened.push(path);
        } else if MUTATING.contains(&name) && !permitted {
            // ftruncate/fchmod/fallocate name an fd: only files opened writable, allowed above,
            // can take them, so any such call on another fd is also a write.
            writes.push(line.to_string());
        }
    }
    (opened, writes)
}

/// The path a traced call names: its quoted path, joined to its directory fd's path when
/// relative (`openat2(3</>, "proc/meminfo", ...)` is `/proc/meminfo`; with `-y` strace shows
/// an fd as `N<path>`).
fn opened_path(args: &str) -> String {
    let path = args.split('"').nth(1).unwrap_or("");
    if path.starts_with('/') {
        return path.to_string();
    }
    let dirfd = args.split(',').next().unwrap_or("");
    match dirfd.split_once('<').and_then(|(_, d)| d.strip_suffix('>')) {
        Some(dir) => format!("{}/{path}", dir.trim_end_matches('/')),
        None => path.to_string(),
    }
}

fn strace_missing() -> bool {
    Command::new("strace").arg("-V").watched_output().is_err()
}

/// No writes, traced: every command that reads the live root runs under strace, and not one
/// open for writing or filesystem-changing call is made anywhere on the node — /proc/sys
/// included — except the bundle `capture` was told to write and the terminal the TUI draws on.
#[test]
fn live_no_command_opens_a_file_for_writing_or_changes_a_filesystem() {
    if !nix::unistd::geteuid().is_root() {
        return live::skip_or_fail("needs root (strace of every process, the whole node readable)");
    }
    if strace_missing() {
        return live::skip_or_fail("strace is not installed (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    // The audit catches a write when there is one: a shell redirect, traced the same way.
    let canary = dir.path().join("canary-trace");
    let st = Command::new("strace")
        .args(strace_args(&canary))
        .args([
            "sh",
            "-c",
            &format!("echo x > {}/canary", dir.path().display()),
        ])
        .watched_status()
        .unwrap();
    assert!(st.success());
    let (_, writes) = audit(&canary, &[]);
    assert!(
        writes
            .iter()
            .any(|w| w.contains("/canary\"") && w.contains("O_CREAT")),
        "{writes:?}"
    );
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let bundle = out.join("b.tar.gz");
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let mut total_opened = 0;
    let mut proc_sys_read = 0;
    let (probed, _probe_dog) = isolated_sleeper();
    let probed = probed.0.id().to_string();
    for (i, args) in [
        vec!["check", "--format", "json"],
        vec!["check", "--format", "text"],
        vec!["check", "--format", "prometheus"],
        vec!["check", "--format", "npd"],
        vec!["check", "--format", "junit"],
        vec!["snapshot"],
        vec!["disk"],
        vec!["dns"],
        vec!["dns", "probe", "example.invalid", "--pid", &probed],
        vec!["gpu"],
        vec!["capture", "-o", bundle.to_str().unwrap()],
    ]
    .into_iter()
    .enumerate()
    {
        let log = dir.path().join(format!("trace-{i}"));
        let o = Command::new("strace")
            .args(strace_args(&log))
            .arg(bin)
            .args(["--root", "/"])
            .args(&args)
            .watched_output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "{args:?}: exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        let (opened, writes) = audit(&log, &[out.to_str().unwrap()]);
        assert!(writes.is_empty(), "{args:?} wrote:\n{}", writes.join("\n"));
        eprintln!("{args:?}: {} opens, none for writing", opened.len());
        total_opened += opened.len();
        proc_sys_read += opened
            .iter()
            .filter(|p| p.starts_with("/proc/sys/"))
            .count();
    }
    assert!(
        bundle.exists(),
        "capture wrote its bundle (the allowed write)"
    );
    // The audit can fail: it saw the reads, /proc/sys among them.
    assert!(total_opened > 100, "{total_opened} opens traced");
    assert!(proc_sys_read > 0, "/proc/sys was read");

    // serve, traced while it samples and answers /metrics, /findings and /healthz.
    let log = dir.path().join("trace-serve");
    let mut wrapper = vec!["strace".to_string()];
    wrapper.extend(strace_args(&log));
    let served = outputs::serve_responses(&wrapper, &["--root", "/"]);
    for (what, body) in &served {
        assert!(
            String::from_utf8_lossy(body).starts_with("HTTP/1.1 200"),
            "{what}: {}",
            String::from_utf8_lossy(body)
        );
    }
    let (opened, writes) = audit(&log, &[]);
    assert!(writes.is_empty(), "serve wrote:\n{}", writes.join("\n"));
    let samples = opened.iter().filter(|p| *p == "/proc/meminfo").count();
    eprintln!(
        "serve: {} opens, {samples} samples, none for writing",
        opened.len()
    );
    assert!(samples >= 2, "serve sampled the live root more than once");

    // The TUI, in a real terminal, on the live root: every view, then q.
    if outputs::tmux_missing() {
        return live::skip_or_fail("the TUI part needs tmux (.ci/run installs it)");
    }
    let log = dir.path().join("trace-top");
    let done = dir.path().join("top-done");
    outputs::top_screens(
        &format!("strace {}", strace_args(&log).join(" ")),
        "--root /",
        &format!("nodescope-nowrite-{}", std::process::id()),
        &done,
    );
    let (opened, writes) = audit(&log, &["/dev/tty", "/dev/pts/"]);
    assert!(writes.is_empty(), "the TUI wrote:\n{}", writes.join("\n"));
    let samples = opened.iter().filter(|p| *p == "/proc/meminfo").count();
    eprintln!(
        "top: {} opens, /proc/meminfo read {samples} times, none for writing",
        opened.len()
    );
    assert!(samples >= 2, "the TUI sampled the live root more than once");
}
