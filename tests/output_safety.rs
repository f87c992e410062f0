//! What people and scripts read: node strings escaped in every text output, suggested commands
//! quoted, Prometheus series unique, and a closed pipe ending every command quietly with the
//! status its report determines. All on fixture bundles (copies, where a name is crafted).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::{Copy, fixture};
use std::collections::HashSet;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`, killing it past that: no test hangs on a stuck process.
fn wait_bounded(mut child: Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watchdog: {:?} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Drains a pipe on its own thread.
fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Runs nodescope to completion under a watchdog.
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // watchdog: wait_bounded kills it past its limit
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status = wait_bounded(child, Duration::from_secs(120));
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The bytes a terminal would act on: C0 controls but the newline, DEL, C1 controls, and the
/// bidirectional overrides and isolates.
fn unsafe_bytes(out: &[u8]) -> Vec<String> {
    let mut bad: Vec<String> = out
        .iter()
        .enumerate()
        .filter(|(_, b)| (**b < 0x20 && **b != b'\n') || **b == 0x7f)
        .map(|(i, b)| format!("byte {b:#04x} at {i}"))
        .collect();
    let text = String::from_utf8_lossy(out);
    bad.extend(
        text.chars()
            .filter(|c| {
                matches!(*c, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .map(|c| format!("char {:?}", c)),
    );
    bad
}

fn assert_printable(what: &str, out: &[u8]) {
    let bad = unsafe_bytes(out);
    assert!(
        bad.is_empty(),
        "{what}: {bad:?}\n{}",
        String::from_utf8_lossy(out)
    );
}

const INJECT: &str = "\x1b]0;pwned\x07\x1b[2J\nOK    no findings\u{202e}";
/// What survives in a resolv.conf search entry: no `;` or `#` (comments), no whitespace.
const INJECT_DNS: &str = "\x1b[2J\x1b[H\x07\u{202e}";

/// A copy of disk-bloat-v2-containerd whose orphaned pod log directory's pod name, and a copy
/// of dns-conntrack-v1-crio whose resolv.conf search entries, hold terminal escapes and a
/// forged report line.
fn crafted() -> (Copy, String, Copy) {
    let disk = Copy::of("disk-bloat-v2-containerd");
    let old = "/var/log/pods/shop_cart-7b9c5d4f8-zx9qw_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let new = format!(
        "/var/log/pods/shop_cart{INJECT}-7b9c5d4f8-zx9qw_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    );
    std::fs::rename(disk.path(old), disk.path(&new)).unwrap();
    let dns = Copy::of("dns-v2-containerd");
    // Every resolv.conf of the bundle: the node's, and each pod sandbox's.
    let mut n = 0;
    for e in walk(&dns.root) {
        if e.file_name().is_some_and(|f| f == "resolv.conf") {
            let t = std::fs::read_to_string(&e).unwrap();
            let t = t.replace("search ", &format!("search evil{INJECT_DNS}.example "));
            std::fs::write(&e, t).unwrap();
            n += 1;
        }
    }
    assert!(n >= 2, "{n} resolv.conf files");
    (disk, new, dns)
}

/// Every file under `dir` (symbolic links not followed).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(walk(&e.path()));
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn crafted_names_reach_no_text_output_raw() {
    let (disk, dir, dns) = crafted();
    let d = disk.root.to_str().unwrap();
    let n = dns.root.to_str().unwrap();
    let mut outputs = Vec::new();
    for (root, args) in [
        (d, vec!["check"]),
        (d, vec!["check", "--format", "junit"]),
        (d, vec!["check", "--format", "prometheus"]),
        (d, vec!["check", "--format", "npd"]),
        (d, vec!["check", "--format", "json"]),
        (d, vec!["snapshot"]),
        (d, vec!["disk"]),
        (d, vec!["disk", "--format", "json"]),
        (d, vec!["gpu"]),
        (n, vec!["check"]),
        (n, vec!["dns"]),
        (n, vec!["dns", "--format", "json"]),
        (n, vec!["check", "--format", "prometheus"]),
    ] {
        let mut a = vec!["--bundle", root];
        a.extend(args.iter());
        let o = run(&a);
        assert!(o.status.code().is_some_and(|c| c < 3), "{a:?}: {o:?}");
        assert_printable(&format!("{args:?} stdout"), &o.stdout);
        assert_printable(&format!("{args:?} stderr"), &o.stderr);
        outputs.push((args, String::from_utf8(o.stdout).unwrap()));
    }
    let text = |want: &[&str]| {
        outputs
            .iter()
            .find(|(a, _)| a == want)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    // The names are shown, escaped, not dropped.
    let check = text(&["check"]);
    assert!(
        check.contains(
            "shop/cart\\e]0;pwned\\x07\\e[2J\\nOK    no findings\\u{202e}-7b9c5d4f8-zx9qw"
        ),
        "{check}"
    );
    assert!(text(&["disk"]).contains("cart\\e]0;pwned\\x07\\e[2J\\nOK"));
    let shown = "evil\\e[2J\\e[H\\x07\\u{202e}.example";
    let dns_text = text(&["dns"]);
    assert!(dns_text.contains(shown), "{dns_text}");
    // No line of the report is the forged one.
    assert!(!check.lines().any(|l| l.starts_with("OK    no findings")));
    // The suggested command, pasted into bash, names exactly that directory and runs nothing else.
    let line = check
        .lines()
        .find(|l| l.contains("fix: rm -rf "))
        .expect("the orphaned logs' fix");
    let word = line
        .split("fix: rm -rf ")
        .nth(1)
        .unwrap()
        .split(" (copy")
        .next()
        .unwrap();
    assert!(word.starts_with("$'"), "{word}");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("printf %s {word}"))
        .watched_output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), dir);
}

#[test]
fn every_fixture_has_unique_prometheus_series() {
    let mut checked = 0;
    for e in std::fs::read_dir(fixture("")).unwrap().flatten() {
        if !e.path().join("nodescope-bundle.json").exists() {
            continue;
        }
        let o = run(&[
            "--bundle",
            e.path().to_str().unwrap(),
            "check",
            "--format",
            "prometheus",
        ]);
        let text = String::from_utf8(o.stdout).unwrap();
        let mut seen = HashSet::new();
        for l in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = l.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
            assert!(
                seen.insert(series.to_string()),
                "{}: {series} twice",
                e.path().display()
            );
        }
        // And the official parser reads it.
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        assert_eq!(scrape.samples.len(), seen.len());
        checked += 1;
    }
    assert!(checked >= 10, "{checked} fixtures");
}

/// Two OOM kills in kubepods cgroups of pods the node no longer lists: each is named by the UID
/// its cgroup path carries, `pod <uid> (deleted)` (src/model/pod_facts.rs), never by an empty
/// subject. Two pods, two series of value 1; the pid is no label.
#[test]
fn two_kills_of_gone_pods_are_two_series_named_by_their_uids() {
    let c = Copy::of("oom-memcg-v2-systemd");
    let mut kmsg = c.read("/dev/kmsg");
    // The kernel's two records per kill (mm/oom_kill.c dump_oom_victim / __oom_kill_process),
    // as in this fixture's own kill, for two pods that are gone.
    for (seq, pid, pod) in [
        (1700, 51001, "pod11111111_2222_4333_8444_555555555555"),
        (1702, 51002, "pod66666666_7777_4888_9999_000000000000"),
    ] {
        let scope = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-{pod}.slice/cri-containerd-{:064x}.scope",
            pid
        );
        kmsg.push_str(&format!(
            "6,{seq},863800000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,mems_allowed=0,oom_memcg={scope},task_memcg={scope},task=worker,pid={pid},uid=0\n\
             3,{},863800000030,-;Memory cgroup out of memory: Killed process {pid} (worker) total-vm:10240kB, anon-rss:8192kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:64kB oom_score_adj:1000\n",
            seq + 1
        ));
    }
    c.write("/dev/kmsg", &kmsg);
    let (_, report) = common::check_json(&c.root, &[]);
    let gone: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "memory.kernel-oom-kill" && f["subject"]["namespace"].is_null())
        .map(|f| f["subject"]["pod"].as_str().unwrap())
        .collect();
    assert_eq!(
        gone,
        [
            "pod 11111111-2222-4333-8444-555555555555 (deleted)",
            "pod 66666666-7777-4888-9999-000000000000 (deleted)"
        ],
        "{report:#}"
    );
    let o = run(&[
        "--bundle",
        c.root.to_str().unwrap(),
        "check",
        "--format",
        "prometheus",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("nodescope_finding{id=\"memory.kernel-oom-kill\"")
                && l.contains("(deleted)")
        })
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines.iter().all(|l| l.ends_with("} 1")), "{lines:?}");
    assert!(
        !text
            .lines()
            .any(|l| l.contains("kernel-oom-kill") && l.contains("pod=\"\"")),
        "{text}"
    );
}

/// Every command that prints, and the status it exits with on a full run.
fn printing_commands() -> Vec<Vec<String>> {
    let oom = fixture("oom-memcg-v2-systemd")
        .to_str()
        .unwrap()
        .to_string();
    let dns = fixture("dns-conntrack-v1-crio")
        .to_str()
        .unwrap()
        .to_string();
    let disk = fixture("disk-bloat-v2-containerd")
        .to_str()
        .unwrap()
        .to_string();
    let gpu = fixture("gpu-driver-missing").to_str().unwrap().to_string();
    let b = |root: &str, rest: &[&str]| {
        let mut v = vec!["--bundle".to_string(), root.to_string()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    vec![
        b(&oom, &["check"]),
        b(&oom, &["check", "--format", "json"]),
        b(&oom, &["check", "--format", "prometheus"]),
        b(&oom, &["check", "--format", "npd"]),
        b(&oom, &["check", "--format", "junit"]),
        b(&oom, &[]),
        b(&oom, &["snapshot"]),
        b(&disk, &["disk"]),
        b(&disk, &["disk", "--format", "json"]),
        b(&dns, &["dns"]),
        b(&dns, &["dns", "--format", "json"]),
        b(&gpu, &["gpu"]),
        b(&gpu, &["gpu", "--format", "json"]),
        vec!["rules".into()],
        vec!["explain".into(), "memory.kernel-oom-kill".into()],
        vec!["completions".into(), "bash".into()],
    ]
}

/// Runs `args` with a standard output whose reader is already gone: the first write fails
/// with EPIPE, every time.
fn run_into_closed_pipe(args: &[String]) -> (ExitStatus, Vec<u8>) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // watchdog: wait_bounded kills it past its limit
    let t = drain(child.stderr.take().unwrap());
    let st = wait_bounded(child, Duration::from_secs(60));
    (st, t.join().unwrap())
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_its_status() {
    for args in printing_commands() {
        let full = run(&args);
        let want = full.status.code();
        assert!(want.is_some_and(|c| c < 3), "{args:?}: {full:?}");
        for _ in 0..3 {
            let (st, err) = run_into_closed_pipe(&args);
            assert_eq!(
                st.code(),
                want,
                "{args:?}: {}",
                String::from_utf8_lossy(&err)
            );
            assert!(
                err.is_empty(),
                "{args:?}: {}",
                String::from_utf8_lossy(&err)
            );
        }
    }
}

/// The pipeline an SRE types: `nodescope ... | head -c1`, its status from bash's PIPESTATUS.
#[test]
fn head_c1_sees_one_byte_and_nodescope_its_own_status() {
    for args in printing_commands() {
        let want = run(&args).status.code().unwrap();
        let quoted: Vec<String> = args
            .iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect();
        for _ in 0..3 {
            let script = format!(
                "{} {} | head -c1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_nodescope"),
                quoted.join(" ")
            );
            // timeout(1) is the watchdog of the whole pipeline.
            let o = Command::new("timeout")
                .args(["60", "bash", "-c", &script])
                .watched_output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                want.to_string(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.stderr.is_empty(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
