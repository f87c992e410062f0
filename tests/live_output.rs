//! What nodescope prints about a real host, when the host's processes and files are hostile:
//! a process whose name and arguments hold terminal escapes holding open a deleted file whose
//! name holds them too, and processes whose command lines hold the secrets of the redaction
//! corpus (tests/data/redaction-corpus.txt). Every process is a child of the test, killed by a
//! Drop guard; every file lives in a directory of its own, removed the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{Cleanup, Kill, nodescope_within, random_hex, skip_or_fail};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// nodescope on the live root, under a watchdog.
fn nodescope(args: &[&str]) -> Output {
    let mut all = vec!["--root", "/", "--no-cluster"];
    all.extend_from_slice(args);
    nodescope_within(&all, &[], Duration::from_secs(300))
}

/// Bytes a terminal acts on: C0 but the newline, DEL, and (as UTF-8) C1 and bidi overrides.
fn unsafe_bytes(out: &[u8]) -> Vec<String> {
    let mut bad: Vec<String> = out
        .iter()
        .enumerate()
        .filter(|(_, b)| (**b < 0x20 && **b != b'\n') || **b == 0x7f)
        .map(|(i, b)| format!("byte {b:#04x} at {i}"))
        .collect();
    bad.extend(
        String::from_utf8_lossy(out)
            .chars()
            .filter(|c| matches!(*c, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}'))
            .map(|c| format!("char {c:?}")),
    );
    bad
}

fn wait_for(what: &str, ok: impl Fn() -> bool) {
    for _ in 0..500 {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

fn why_not_root() -> Option<String> {
    (!nix::unistd::geteuid().is_root()).then(|| "needs root to read other processes' fds".into())
}

#[test]
fn live_hostile_process_and_file_names_reach_no_text_output_raw() {
    if let Some(why) = why_not_root() {
        return skip_or_fail(&why);
    }
    let Some(sleep) = ["/usr/bin/sleep", "/bin/sleep"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        return skip_or_fail("no sleep binary to copy");
    };
    let mut c = Cleanup::default();
    let dir = PathBuf::from(format!("/var/tmp/nodescope-inject-{}", random_hex(6)));
    c.mkdir(&dir);
    // The comm the kernel shows is the executable's file name, up to 15 bytes.
    let comm = "\x1b]0;pwned\x07";
    let exe = dir.join(comm);
    std::fs::copy(&sleep, &exe).unwrap();
    let file = dir.join("app\x1b]0;pwned\x07\x1b[2J\nOK    no findings\u{202e}.log");
    // 150 MiB apparent size, sparse: the deleted-open-files rule counts what the fd's size says.
    std::fs::File::create(&file)
        .unwrap()
        .set_len(150 << 20)
        .unwrap();
    // bash opens the file on fd 3 and becomes the renamed sleep, argv[0] holding escapes too.
    let holder = Kill(
        Command::new("bash")
            .arg("-c")
            .arg(r#"exec 3<"$F"; exec -a "$A0" "$EXE" 600"#)
            .env("F", &file)
            .env("A0", "\x1b[2Jsleepy\nforged line")
            .env("EXE", &exe)
            .stdin(Stdio::null())
            .spawn_killed_after(Duration::from_secs(300))
            .unwrap(),
    );
    let pid = holder.0.id();
    let fd3 = PathBuf::from(format!("/proc/{pid}/fd/3"));
    wait_for("the holder to open the file as the copy of sleep", || {
        fd3.exists()
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|s| s.trim_end() == comm)
    });
    std::fs::remove_file(&file).unwrap();

    let mut texts = Vec::new();
    for args in [
        vec!["check"],
        vec!["check", "--format", "prometheus"],
        vec!["check", "--format", "junit"],
        vec!["check", "--format", "npd"],
        vec!["check", "--format", "json"],
        vec!["disk"],
        vec!["disk", "--format", "json"],
        vec!["dns"],
        vec!["gpu"],
        vec!["snapshot"],
    ] {
        let o = nodescope(&args);
        assert!(o.status.code().is_some_and(|c| c < 3), "{args:?}: {o:?}");
        for (what, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let bad = unsafe_bytes(bytes);
            assert!(
                bad.is_empty(),
                "{args:?} {what}: {bad:?}\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
        texts.push((args, String::from_utf8(o.stdout).unwrap()));
    }
    let get = |a: &[&str]| texts.iter().find(|(x, _)| x == a).unwrap().1.clone();
    // The finding names the holder and its file, escaped, and says nothing raw.
    let check = get(&["check"]);
    let shown_file = "app\\e]0;pwned\\x07\\e[2J\\nOK    no findings\\u{202e}.log by ";
    assert!(check.contains(shown_file), "{check}");
    assert!(
        check.contains(&format!("\\e]0;pwned\\x07[{pid}]")),
        "{check}"
    );
    assert!(!check.lines().any(|l| l.starts_with("OK    no findings")));
    let disk = get(&["disk"]);
    assert!(disk.contains("\\e]0;pwned\\x07"), "{disk}");
    // JSON keeps the real bytes, escaped the JSON way.
    let snap: serde_json::Value = serde_json::from_str(&get(&["snapshot"])).unwrap();
    let me = snap["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .expect("the holder in the snapshot");
    assert_eq!(me["comm"], comm);
    assert_eq!(me["cmdline"][0], "\x1b[2Jsleepy\nforged line");
    drop(holder);
    drop(c);
}

/// The corpus, as tests/data/redaction-corpus.txt writes it (see src/source/redact/corpus.rs).
fn corpus() -> Vec<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/redaction-corpus.txt"),
    )
    .unwrap();
    text.lines()
        .filter_map(|l| {
            let (kind, rest) = l.split_once(' ')?;
            let (argv, secrets) = match kind {
                "S" => {
                    let (a, s) = rest.rsplit_once(" => ")?;
                    (a, s.split_whitespace().map(String::from).collect())
                }
                "K" => (rest, Vec::new()),
                _ => return None,
            };
            Some((shlex::split(argv)?, secrets))
        })
        .collect()
}

/// A process whose /proc/<pid>/cmdline is `marker -c 'read -r _' ARGV...`: bash blocks in its
/// `read` builtin (no child to leak) until the test drops its stdin.
fn holder(marker: &str, argv: &[String]) -> Kill {
    Kill(
        Command::new("bash")
            .arg0(marker)
            .arg("-c")
            .arg("read -r _")
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn_killed_after(Duration::from_secs(300))
            .unwrap(),
    )
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.strip_suffix(&[0])
                .unwrap_or(&raw)
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn live_corpus_secrets_leave_no_trace_in_snapshot_check_or_capture() {
    if let Some(why) = why_not_root() {
        return skip_or_fail(&why);
    }
    let marker = format!("nodescope-redact-{}", random_hex(6));
    let all = corpus();
    let secret: Vec<_> = all
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .step_by(4)
        .collect();
    let plain: Vec<_> = all
        .iter()
        .filter(|(_, s)| s.is_empty())
        .step_by(4)
        .collect();
    assert!(
        secret.len() >= 15 && plain.len() >= 8,
        "{} {}",
        secret.len(),
        plain.len()
    );
    let mut procs = Vec::new();
    for (argv, secrets) in secret.iter().chain(plain.iter()) {
        let k = holder(&marker, argv);
        let pid = k.0.id();
        let mut want = vec![marker.clone(), "-c".into(), "read -r _".into()];
        want.extend(argv.iter().cloned());
        wait_for("the holder's command line", || cmdline(pid) == want);
        procs.push((k, want, secrets.clone()));
    }
    let secrets: Vec<String> = procs.iter().flat_map(|(_, _, s)| s.clone()).collect();
    // Every secret is really on this host's process list, as `ps` would show it.
    for s in &secrets {
        assert!(
            procs
                .iter()
                .any(|(k, _, _)| cmdline(k.0.id()).join(" ").contains(s.as_str())),
            "{s} not live"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("capture.tar.gz");
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    for args in [
        vec!["snapshot"],
        vec!["check", "--format", "json"],
        vec!["check"],
        vec!["capture", "-o", bundle.to_str().unwrap()],
    ] {
        let o = nodescope(&args);
        assert!(o.status.code().is_some_and(|c| c < 3), "{args:?}: {o:?}");
        outputs.push((format!("{args:?} stdout"), o.stdout));
        outputs.push((format!("{args:?} stderr"), o.stderr));
    }
    // Every file of the bundle, its metadata included.
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&bundle).unwrap(),
    ));
    let mut bundle_cmdlines = std::collections::HashMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if path.ends_with("/cmdline") {
            bundle_cmdlines.insert(path.clone(), data.clone());
        }
        outputs.push((format!("bundle {path}"), data));
    }
    for s in &secrets {
        for (what, bytes) in &outputs {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {what}"
            );
        }
    }
    // The untouched command lines are there intact: in the snapshot and in the bundle.
    let snap: serde_json::Value = serde_json::from_slice(&outputs[0].1).unwrap();
    for (k, want, secrets) in &procs {
        let pid = k.0.id();
        let got = snap["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == pid)
            .unwrap_or_else(|| panic!("pid {pid} not in the snapshot"));
        let got: Vec<String> = serde_json::from_value(got["cmdline"].clone()).unwrap();
        if secrets.is_empty() {
            assert_eq!(&got, want);
            let raw = bundle_cmdlines
                .iter()
                .find(|(p, _)| p.ends_with(&format!("/proc/{pid}/cmdline")))
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| panic!("no cmdline of {pid} in the bundle"));
            let mut joined = want.join("\0").into_bytes();
            joined.push(0);
            assert_eq!(raw, joined);
        } else {
            assert_eq!(got.len(), want.len(), "{got:?}");
            assert!(got.iter().any(|a| a.contains("<redacted>")), "{got:?}");
        }
    }
    drop(procs);
}
