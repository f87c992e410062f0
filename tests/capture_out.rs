//! `capture` writes only the file it was told, and only when that is a regular file or
//! nothing: a planted symbolic link, a directory or a leftover temporary-file link is never
//! written through; `-o -` is standard output. Each capture reads a copy of a fixture through
//! `--root` (never the live host), under a watchdog.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `nodescope --root ROOT --no-cluster capture -o OUT` in `cwd`, killed after 120 s.
fn capture(root: &Path, out: &str, cwd: &Path) -> Output {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args([
            "--root",
            root.to_str().unwrap(),
            "--no-cluster",
            "capture",
            "-o",
            out,
        ])
        .current_dir(cwd)
        .env_remove("NODESCOPE_ROOT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // watchdog: the loop below kills it past its limit
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).unwrap();
            buf
        })
    };
    let (o, e) = (
        drain(Box::new(child.stdout.take().unwrap())),
        drain(Box::new(child.stderr.take().unwrap())),
    );
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("capture -o {out} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

/// Refused: exit 3, one line, naming what is there.
fn refused(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("refusing to write the bundle to ") && err.contains(what),
        "expected {what:?}: {err}"
    );
    assert!(o.stdout.is_empty());
}

/// Bytes, modification time and inode of a file: what "nothing changed" means.
fn fingerprint(p: &Path) -> (Vec<u8>, i64, i64, u64) {
    let m = fs::metadata(p).unwrap();
    (fs::read(p).unwrap(), m.mtime(), m.mtime_nsec(), m.ino())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_planted_symlink_or_a_directory_as_destination_is_refused_and_nothing_changes() {
    let c = Copy::of(V2);
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "root:$6$not-to-be-overwritten:19000::::::\n").unwrap();
    let before = fingerprint(&victim);
    let link = d.path().join("bundle.tar.gz");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = capture(&c.root, link.to_str().unwrap(), d.path());
    refused(&o, "it is a symbolic link");
    assert_eq!(fingerprint(&victim), before, "the link's target changed");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(names(d.path()), ["bundle.tar.gz", "victim"]);

    let sub = d.path().join("out");
    fs::create_dir(&sub).unwrap();
    let o = capture(&c.root, sub.to_str().unwrap(), d.path());
    refused(&o, "it is a directory");
    assert!(names(&sub).is_empty());
}

/// The temporary file used to be `<out>.partial`, opened following links: a link planted
/// there made root overwrite its target. Now its name is random and it is created
/// `O_EXCL|O_NOFOLLOW`: the planted link is never opened, the bundle lands, mode 0600.
#[test]
fn a_link_planted_at_the_old_temporary_name_is_never_written_through() {
    let c = Copy::of(V2);
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "keep me\n").unwrap();
    let before = fingerprint(&victim);
    for planted in ["b.partial", "b.tar.partial", "b.tar.gz.partial"] {
        std::os::unix::fs::symlink(&victim, d.path().join(planted)).unwrap();
    }
    // An existing regular file is replaced.
    fs::write(d.path().join("b.tar.gz"), "old").unwrap();
    let o = capture(&c.root, "b.tar.gz", d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fingerprint(&victim), before);
    assert_eq!(
        names(d.path()),
        [
            "b.partial",
            "b.tar.gz",
            "b.tar.gz.partial",
            "b.tar.partial",
            "victim"
        ],
        "no temporary file left behind"
    );
    let out = d.path().join("b.tar.gz");
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let b = nodescope::source::bundle::BundleHost::open(&out).unwrap();
    assert!(b.meta().findings.is_some());
}

/// `-o -`: the bundle on standard output, a valid gzip-compressed tar; no file anywhere.
#[test]
fn dash_writes_the_bundle_to_stdout_and_no_file() {
    let c = Copy::of(V2);
    let d = tempfile::tempdir().unwrap();
    let o = capture(&c.root, "-", d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(names(d.path()).is_empty(), "{:?}", names(d.path()));
    assert_eq!(&o.stdout[..2], &[0x1f, 0x8b], "gzip magic");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&o.stdout[..]));
    let paths: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        paths[0].starts_with("nodescope-") && paths[0].ends_with("/nodescope-bundle.json"),
        "{:?}",
        &paths[..3]
    );
    assert!(paths.iter().any(|p| p.ends_with("/proc/meminfo")));
    // The same bytes read back as a bundle, with the capture's findings.
    let b = nodescope::source::bundle::BundleHost::from_archive(
        &o.stdout[..],
        "stdout",
        Default::default(),
    )
    .unwrap();
    let snap = nodescope::collect::snapshot(&b);
    // docs/bundle-format.md: the `findings` list of `check --format json`, group keys included.
    let findings = nodescope::analyze::analyze(&snap);
    assert_eq!(
        serde_json::to_value(nodescope::analyze::report::check::build(&snap, &findings).findings)
            .unwrap(),
        b.meta().findings.clone().unwrap()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wrote standard output"), "{err}");
}

/// A file that a collector read and could not parse is withheld from the bundle: its bytes
/// are not in it, its failure is, and the replay reports exactly the capture-time error.
#[test]
fn files_that_did_not_parse_are_withheld_and_replay_the_same_error() {
    let c = Copy::of(V2);
    let garbage = "SECRET-not-meminfo: \u{1}\u{2} password=hunter2\nnot a meminfo line\n";
    c.write("/proc/meminfo", garbage);
    let mountinfo_junk = "this is not a mountinfo line MOUNT-JUNK\n";
    c.write("/proc/1/mountinfo", mountinfo_junk);
    let d = tempfile::tempdir().unwrap();
    let o = capture(&c.root, "b.tar.gz", d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 unparsable file(s) withheld"), "{err}");
    let out = d.path().join("b.tar.gz");
    // Not one byte of either file in the archive.
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(&out).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("hunter2") && !text.contains("MOUNT-JUNK"));
    // The live run's errors for those files, and the replay's: the same, line included.
    let live = run(&[
        "--root",
        c.root.to_str().unwrap(),
        "--no-cluster",
        "snapshot",
    ]);
    let replay = run(&["--bundle", out.to_str().unwrap(), "snapshot"]);
    let errors_for = |o: &Output| -> Vec<serde_json::Value> {
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        s["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["path"] == "/proc/meminfo" || e["path"] == "/proc/1/mountinfo")
            .cloned()
            .collect()
    };
    let (l, r) = (errors_for(&live), errors_for(&replay));
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!(l, r);
    assert!(
        l.iter().any(|e| e["kind"] == "invalid" && e["line"] == 1),
        "{l:?}"
    );
}
