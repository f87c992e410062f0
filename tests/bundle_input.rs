//! Bundles are untrusted input (a file attached to a ticket): truncated, binary, huge, escaping
//! or explosive ones are refused with one line and exit 3, or bounded (the entry ignored and
//! recorded), never a panic, a hang, a read outside the bundle or unbounded memory. Each test
//! builds its bundle in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use nodescope::source::Host;
use nodescope::source::bundle::{BundleHost, Limits};
use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the binary with a watchdog: a hang fails the test instead of blocking CI. (Polling
/// `try_wait` with piped, unread output could itself hang a child on a full pipe.)
fn run_bounded(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .output_within(Duration::from_secs(60))
        .unwrap();
    (o, started.elapsed())
}

/// `nodescope --bundle PATH check` must refuse the bundle: exit 3, nothing on stdout, one line
/// on stderr that contains `why`. Returns that line.
fn refused(bundle: &Path, why: &str) -> String {
    let (o, _) = run_bounded(&["--bundle", bundle.to_str().unwrap(), "check"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(3), "{}: {err}", bundle.display());
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("nodescope: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(why), "expected {why:?} in: {err}");
    err
}

/// `nodescope --bundle PATH check --format json` must run (exit 0, 1 or 2) and return its report.
fn analyzed(bundle: &Path) -> Value {
    let (o, _) = run_bounded(&[
        "--bundle",
        bundle.to_str().unwrap(),
        "check",
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{}: {:?} {err}",
        bundle.display(),
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn snapshot_of(bundle: &Path) -> (Value, String) {
    let (o, _) = run_bounded(&["--bundle", bundle.to_str().unwrap(), "snapshot"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

const META: &str = r#"{"format":"nodescope-bundle/1","captured_at":"2026-11-22T03:00:00Z"}"#;

/// A `.tar.gz` written entry by entry, with headers set by hand where `tar::Builder` would
/// refuse them (`..`, absolute paths, sizes the data does not back).
struct Archive {
    builder: tar::Builder<flate2::write::GzEncoder<fs::File>>,
    path: PathBuf,
}

impl Archive {
    fn new(path: PathBuf) -> Self {
        let f = fs::File::create(&path).unwrap();
        Archive {
            builder: tar::Builder::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            )),
            path,
        }
    }

    fn header(name: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        assert!(name.len() < 100, "use a GNU long name for longer ones");
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut h = Self::header(name.as_bytes(), tar::EntryType::Regular, data.len() as u64);
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(name.as_bytes(), tar::EntryType::Symlink, 0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        self.builder.append(&h, &[][..]).unwrap();
        self
    }

    /// An entry whose header claims `size` bytes but is followed by `data` only.
    fn lying(&mut self, name: &str, size: u64, data: &[u8]) -> &mut Self {
        let mut h = Self::header(name.as_bytes(), tar::EntryType::Regular, size);
        h.set_cksum();
        self.builder.get_mut().write_all(h.as_bytes()).unwrap();
        self.builder.get_mut().write_all(data).unwrap();
        self
    }

    fn finish(self) -> PathBuf {
        self.builder.into_inner().unwrap().finish().unwrap();
        self.path
    }
}

/// A valid `.tar.gz` bundle of a whole fixture, under one top directory as capture writes it.
fn fixture_targz(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.tar.gz"));
    let f = fs::File::create(&path).unwrap();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        f,
        flate2::Compression::fast(),
    ));
    b.follow_symlinks(false);
    b.append_dir_all(name, fixture(name)).unwrap();
    b.into_inner().unwrap().finish().unwrap();
    path
}

// ---------------------------------------------------------------- archives that are not bundles

#[test]
fn truncated_tar_gz_is_refused_at_every_cut() {
    let dir = tempfile::tempdir().unwrap();
    let whole = fs::read(fixture_targz(dir.path(), V2)).unwrap();
    // The whole archive is a bundle.
    analyzed(&dir.path().join(format!("{V2}.tar.gz")));
    for (i, cut) in [
        1,
        whole.len() / 4,
        whole.len() / 2,
        whole.len() * 3 / 4,
        whole.len() - 12,
    ]
    .into_iter()
    .enumerate()
    {
        let p = dir.path().join(format!("cut{i}.tar.gz"));
        fs::write(&p, &whole[..cut]).unwrap();
        let err = refused(&p, "reading bundle archive");
        assert!(
            err.contains("unexpected end of file")
                || err.contains("incomplete deflate stream")
                || err.contains("truncated")
                || err.contains("no gzip header")
                || err.contains("corrupt archive"),
            "cut at {cut} of {}: {err}",
            whole.len()
        );
    }
}

#[test]
fn garbage_and_empty_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.tar.gz", Vec::new(), "no gzip header"),
        ("garbage.tar.gz", garbage.clone(), "no gzip header"),
        // Valid gzip, not a tar inside.
        ("gzip-of-garbage.tar.gz", gzip(&garbage), "corrupt archive"),
        // A valid gzip header and then garbage.
        (
            "bad-deflate.tar.gz",
            [&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3][..], &garbage[..]].concat(),
            "corrupt archive",
        ),
        // A valid, empty tar: no metadata file.
        (
            "empty-tar.tar.gz",
            gzip(&[0u8; 1024]),
            "no nodescope-bundle.json",
        ),
    ];
    for (name, bytes, why) in cases {
        let p = dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        refused(&p, why);
    }
    // Neither a directory nor a regular file.
    refused(
        Path::new("/dev/null"),
        "neither a directory nor a .tar.gz file",
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_corrupt_metadata_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, meta) in [
        &b"\x00\xff\xfe binary"[..],
        br#"{"format":"nodescope-bundle/1""#,
        br#"{"format":"nodescope-bundle/1","captured_at":"yesterday"}"#,
        br#"{"format":"nodescope-bundle/1","captured_at":"2026-11-22T03:00:00Z","euid":-1}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let root = dir.path().join(format!("b{i}"));
        fs::create_dir(&root).unwrap();
        fs::write(root.join("nodescope-bundle.json"), meta).unwrap();
        refused(&root, "is not valid bundle metadata");
    }
}

// ---------------------------------------------------------------- bad files inside a bundle

#[test]
fn binary_and_truncated_files_in_a_bundle_are_reported_not_fatal() {
    let c = Copy::of(V2);
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect();
    for p in [
        "proc/meminfo",
        "proc/1/mountinfo",
        "dev/kmsg",
        "var/lib/kubelet/config.yaml",
        "sys/fs/cgroup/memory.stat",
        "proc/uptime",
    ] {
        fs::write(c.path(p), &noise).unwrap();
    }
    // Files cut mid-line, as a copy interrupted by a full disk leaves them.
    for p in ["proc/loadavg", "proc/pressure/memory", "proc/1/cgroup"] {
        let text = fs::read(c.path(p)).unwrap();
        fs::write(c.path(p), &text[..text.len() / 2]).unwrap();
    }
    let r = analyzed(&c.root);
    let errors = r["errors"].as_array().unwrap();
    let paths: Vec<&str> = errors.iter().filter_map(|e| e["path"].as_str()).collect();
    for p in [
        "/proc/meminfo",
        "/proc/1/mountinfo",
        "/var/lib/kubelet/config.yaml",
    ] {
        assert!(paths.contains(&p), "{p} not in errors: {paths:?}");
    }
}

#[test]
fn sockets_fifos_and_devices_in_a_directory_bundle_read_as_empty_files() {
    let c = Copy::of(V2);
    // A FIFO where a file was: opening it for reading would wait for a writer forever.
    fs::remove_file(c.path("proc/meminfo")).unwrap();
    nix::unistd::mkfifo(&c.path("proc/meminfo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    // A copy of /dev/zero: reading it would never end.
    if nix::unistd::geteuid().is_root() {
        fs::remove_file(c.path("proc/loadavg")).unwrap();
        nix::sys::stat::mknod(
            &c.path("proc/loadavg"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::S_IRUSR,
            nix::sys::stat::makedev(1, 5),
        )
        .unwrap();
    }
    let (o, took) = run_bounded(&["--bundle", c.root.to_str().unwrap(), "snapshot"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(took < Duration::from_secs(30), "{took:?}");
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s["memory"].is_null(), "{}", s["memory"]);
}

// ---------------------------------------------------------------- huge files and tar bombs

#[test]
fn a_sparse_file_over_the_per_file_cap_is_refused_without_reading_it() {
    let c = Copy::of(V2);
    let cap = Limits::default().file_bytes;
    fs::File::create(c.path("var/log/huge.log"))
        .unwrap()
        .set_len(cap + 1)
        .unwrap();
    let err = refused(&c.root, "over the 268435456-byte limit of one file");
    assert!(err.contains("huge.log"), "{err}");
}

#[test]
fn sparse_files_adding_up_over_the_total_cap_are_refused_before_any_is_read() {
    let c = Copy::of(V2);
    let limits = Limits::default();
    let n = limits.total_bytes / limits.file_bytes + 1;
    fs::create_dir(c.path("var/log/bomb")).unwrap();
    for i in 0..n {
        fs::File::create(c.path(&format!("var/log/bomb/{i}.log")))
            .unwrap()
            .set_len(limits.file_bytes)
            .unwrap();
    }
    let started = Instant::now();
    refused(&c.root, "bundle is larger than 4294967296 bytes");
    // Reading 4 GiB of zeros would take far longer than a listing.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_archive_entry_claiming_a_huge_size_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::new(dir.path().join("huge.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes())
        // 1 TiB claimed, 512 bytes present: refused before a byte of it is read.
        .lying("var/log/huge.log", 1 << 40, &[0u8; 512]);
    let p = a.finish();
    refused(
        &p,
        "is 1099511627776 bytes, over the 268435456-byte limit of one file",
    );
}

#[test]
fn an_archive_entry_shorter_than_its_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::new(dir.path().join("short.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes()).lying(
        "proc/meminfo",
        4096,
        b"MemTotal: 1 kB\n",
    );
    let p = a.finish();
    refused(&p, "proc/meminfo");
}

#[test]
fn tar_bombs_stop_at_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        entries: 100,
        file_bytes: 1 << 20,
        total_bytes: 4 << 20,
        ..Limits::default()
    };
    let err = |p: &Path| format!("{:#}", BundleHost::open_with_limits(p, small).unwrap_err());

    // Many files, each within the per-file limit, adding up over the total.
    let mut a = Archive::new(dir.path().join("total.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes());
    let mib = vec![0u8; 1 << 20];
    for i in 0..8 {
        a.file(&format!("var/log/{i}.log"), &mib);
    }
    let e = err(&a.finish());
    assert!(
        e.contains("archive unpacks to more than 4194304 bytes"),
        "{e}"
    );

    // More entries than allowed.
    let mut a = Archive::new(dir.path().join("entries.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes());
    for i in 0..200 {
        a.file(&format!("proc/{i}"), b"");
    }
    let e = err(&a.finish());
    assert!(e.contains("more than 100 entries"), "{e}");

    // One deep path implying more directories than entries allowed.
    let mut a = Archive::new(dir.path().join("deep.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes());
    let deep = "d/".repeat(150) + "f";
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    a.builder.append_data(&mut h, &deep, &[][..]).unwrap();
    let e = err(&a.finish());
    assert!(e.contains("more than 100 entries"), "{e}");

    // A GNU long name of 64 MiB (64 KiB compressed): the tar reader holds a long name in
    // memory whole, so the decompressed stream itself is capped.
    let p = dir.path().join("longname.tar.gz");
    {
        let f = fs::File::create(&p).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let size = 64u64 << 20;
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&chunk).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        gz.write_all(&[0u8; 1024]).unwrap();
        gz.finish().unwrap();
    }
    let e = err(&p);
    assert!(
        e.contains("archive unpacks to more than 4194304 bytes"),
        "{e}"
    );

    // With the default limits, the same long name is refused as a path over PATH_MAX.
    let e = format!("{:#}", BundleHost::open(&p).unwrap_err());
    assert!(e.contains("over PATH_MAX (4096)"), "{e}");
}

#[test]
fn a_directory_bundle_stops_at_the_entry_limit() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("nodescope-bundle.json"), META).unwrap();
    fs::create_dir(dir.path().join("proc")).unwrap();
    for i in 0..200 {
        fs::write(dir.path().join(format!("proc/{i}")), "").unwrap();
    }
    let small = Limits {
        entries: 100,
        ..Limits::default()
    };
    let e = format!(
        "{:#}",
        BundleHost::open_with_limits(dir.path(), small).unwrap_err()
    );
    assert!(e.contains("more than 100 entries"), "{e}");
    assert!(BundleHost::open(dir.path()).is_ok());
}

// ---------------------------------------------------------------- escaping the bundle

#[test]
fn archive_entries_escaping_the_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in [
        "../escape.txt",
        "a/../../escape.txt",
        "/etc/nodescope-escape",
        "./../escape.txt",
    ]
    .into_iter()
    .enumerate()
    {
        let mut a = Archive::new(dir.path().join(format!("escape{i}.tar.gz")));
        a.file("nodescope-bundle.json", META.as_bytes())
            .file(name, b"x");
        let p = a.finish();
        refused(&p, "escapes the bundle root");
    }
    assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
    assert!(!Path::new("/etc/nodescope-escape").exists());
}

/// A file outside the bundle holding a meminfo no bundle has: if it ever shows up in a
/// snapshot, a link was followed out of the bundle.
fn outside_meminfo(dir: &Path) -> PathBuf {
    let outside = dir.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let p = outside.join("meminfo");
    fs::write(
        &p,
        "MemTotal:       987654321 kB\nMemFree:        1 kB\nMemAvailable:   1 kB\n",
    )
    .unwrap();
    p
}

fn assert_not_followed(snapshot: &Value, text: &str) {
    assert!(snapshot["memory"].is_null(), "{}", snapshot["memory"]);
    assert!(!text.contains("987654321"), "outside file read");
    assert!(!text.contains("1011358024704"), "outside file read");
}

#[test]
fn symlinks_out_of_a_directory_bundle_resolve_inside_it() {
    let c = Copy::of(V2);
    let outside = outside_meminfo(c.root.parent().unwrap());
    let depth = c.root.components().count();
    for link in [
        outside.display().to_string(),
        format!("{}{}", "../".repeat(depth + 2), outside.display()),
    ] {
        fs::remove_file(c.path("proc/meminfo")).unwrap();
        std::os::unix::fs::symlink(&link, c.path("proc/meminfo")).unwrap();
        let (s, text) = snapshot_of(&c.root);
        assert_not_followed(&s, &text);
    }
    // A whole directory linked to the host's: resolves inside, to itself, and stops.
    fs::rename(c.path("proc"), c.path("proc.real")).unwrap();
    std::os::unix::fs::symlink("/proc", c.path("proc")).unwrap();
    let (s, _) = snapshot_of(&c.root);
    assert!(s["memory"].is_null());
    assert!(s["processes"].as_array().unwrap().is_empty());
}

#[test]
fn symlinks_out_of_an_archive_resolve_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let outside = outside_meminfo(dir.path());
    let victim = dir.path().join("outside/planted");
    let mut a = Archive::new(dir.path().join("links.tar.gz"));
    a.file("b/nodescope-bundle.json", META.as_bytes())
        .symlink("b/proc/meminfo", &outside.display().to_string())
        .symlink("b/proc/self", "../../../../../../../../../")
        // tar-slip: a link to a directory outside, then a file written "through" it.
        .symlink("b/out", &dir.path().join("outside").display().to_string())
        .file("b/out/planted", b"planted");
    let p = a.finish();
    let (s, text) = snapshot_of(&p);
    assert_not_followed(&s, &text);
    assert!(!victim.exists(), "a bundle wrote outside itself");
    let b = BundleHost::open(&p).unwrap();
    // Reads through the links stay inside: `/out/planted` is the archive's own entry.
    assert_eq!(b.read("/out/planted").unwrap(), b"planted");
    assert!(b.read("/proc/self/etc/passwd").is_err());
}

#[test]
fn hard_links_in_an_archive_are_recorded_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::new(dir.path().join("hard.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes());
    let mut h = Archive::header(b"proc/meminfo", tar::EntryType::Link, 0);
    h.set_link_name("/etc/passwd").unwrap();
    h.set_cksum();
    a.builder.append(&h, &[][..]).unwrap();
    let p = a.finish();
    let r = analyzed(&p);
    let e = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/proc/meminfo")
        .expect("the hard link recorded in errors");
    assert_eq!(e["kind"], "invalid");
    assert!(e["message"].as_str().unwrap().contains("hard link"), "{e}");
}

// ---------------------------------------------------------------- swapped while read

/// What a host file holds that must never show up as evidence (a stand-in for /etc/shadow).
const MARKER: &str = "root:$6$MARKER-5e1e-never-in-a-report$:19000:0:99999:7:::\n";

/// A directory bundle is listed when opened and its files read when asked for: everything
/// swapped in between (a link to a host file, a link for a directory on the way, another
/// regular file renamed over the listed one, a FIFO) is refused, and the marker the swapped-in
/// links lead to never comes back.
#[test]
fn a_directory_bundle_swapped_between_listing_and_reading_never_reads_outside_it() {
    let c = Copy::of(V2);
    let outside = c.root.parent().unwrap().join("outside");
    fs::create_dir_all(outside.join("proc")).unwrap();
    let secret = outside.join("shadow");
    fs::write(&secret, MARKER).unwrap();
    fs::write(outside.join("proc/uptime"), MARKER).unwrap();
    let b = BundleHost::open(&c.root).unwrap();
    // Listed as regular files; read before the swap, they are the bundle's.
    assert!(b.read_string("/proc/meminfo").unwrap().contains("MemTotal"));

    let swap_for_link = |p: &str, to: &Path| {
        fs::remove_file(c.path(p)).unwrap();
        std::os::unix::fs::symlink(to, c.path(p)).unwrap();
    };
    swap_for_link("proc/meminfo", &secret);
    swap_for_link("proc/1/cmdline", &secret);
    // A directory on the way becomes a link to one holding a file of the same name.
    fs::rename(c.path("var/lib/kubelet"), c.path("var/lib/kubelet.real")).unwrap();
    std::os::unix::fs::symlink(&outside, c.path("var/lib/kubelet")).unwrap();
    fs::rename(c.path("proc"), c.path("proc.real")).unwrap();
    std::os::unix::fs::symlink(&outside, c.path("proc")).unwrap();
    let e = b.read("/proc/uptime").unwrap_err();
    assert_eq!(e.kind, nodescope::source::ErrorKind::Invalid, "{e}");
    assert!(e.detail.contains("symbolic link"), "{e}");
    fs::remove_file(c.path("proc")).unwrap();
    fs::rename(c.path("proc.real"), c.path("proc")).unwrap();
    let e = b.read("/proc/meminfo").unwrap_err();
    assert_eq!(e.kind, nodescope::source::ErrorKind::Invalid, "{e}");
    assert!(e.detail.contains("a symbolic link (not followed)"), "{e}");
    // Another regular file, holding the marker, renamed over a listed one.
    let other = c.path("proc/other");
    fs::write(&other, MARKER).unwrap();
    fs::rename(&other, c.path("proc/loadavg")).unwrap();
    let e = b.read("/proc/loadavg").unwrap_err();
    assert!(e.detail.contains("replaced by another file"), "{e}");
    // A FIFO in place of a file: refused at once, no writer awaited.
    fs::remove_file(c.path("proc/1/mountinfo")).unwrap();
    nix::unistd::mkfifo(&c.path("proc/1/mountinfo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let e = b.read("/proc/1/mountinfo").unwrap_err();
    assert!(e.detail.contains("a FIFO, not a regular file"), "{e}");

    // Every collector over the swapped bundle: the marker is nowhere.
    let snap = nodescope::collect::snapshot(&b);
    let text = serde_json::to_string(&snap).unwrap();
    assert!(
        !text.contains("MARKER-5e1e"),
        "a swapped-in link was followed"
    );
    let paths: Vec<&str> = snap
        .errors
        .iter()
        .filter_map(|e| e.path.as_deref())
        .collect();
    for p in ["/proc/meminfo", "/proc/loadavg", "/proc/1/mountinfo"] {
        assert!(paths.contains(&p), "{p} not in errors: {paths:?}");
    }
}

/// The same race with the binary, as it happens: a thread swaps `proc/meminfo` between the
/// bundle's file and a link to the marker (each swap one atomic rename) while `--bundle
/// snapshot` runs again and again. Whatever each run lists or reads, the marker never appears.
#[test]
fn a_directory_bundle_swapped_in_a_loop_while_the_binary_reads_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let c = Copy::of(V2);
    let secret = c.root.parent().unwrap().join("shadow");
    fs::write(&secret, MARKER).unwrap();
    let real = fs::read(c.path("proc/meminfo")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root, secret) = (Arc::clone(&stop), c.root.clone(), secret.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tmp = root.join("proc/.swap");
                let _ = fs::remove_file(&tmp);
                if swaps.is_multiple_of(2) {
                    std::os::unix::fs::symlink(&secret, &tmp).unwrap();
                } else {
                    fs::write(&tmp, &real).unwrap();
                }
                fs::rename(&tmp, root.join("proc/meminfo")).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let mut outcomes = std::collections::BTreeMap::<&str, u32>::new();
    for _ in 0..25 {
        let (o, _) = run_bounded(&["--bundle", c.root.to_str().unwrap(), "snapshot"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("MARKER-5e1e"), "marker read through a link");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: Value = serde_json::from_str(&out).unwrap();
        let key = if s["memory"].is_null() {
            "refused or a link"
        } else {
            "the bundle's own file"
        };
        *outcomes.entry(key).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("{swaps} swaps during 25 runs: {outcomes:?}");
    assert!(swaps > 25, "the race was not exercised ({swaps} swaps)");
}

/// An archive's files are held in memory only up to `held_bytes`, checked from each header.
#[test]
fn an_archive_holding_more_than_the_memory_cap_is_refused_from_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::new(dir.path().join("held.tar.gz"));
    a.file("nodescope-bundle.json", META.as_bytes());
    let data = vec![0u8; 700 << 10];
    a.file("var/log/a.log", &data).file("var/log/b.log", &data);
    let p = a.finish();
    let small = Limits {
        held_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = format!("{:#}", BundleHost::open_with_limits(&p, small).unwrap_err());
    assert!(
        e.contains("\"var/log/b.log\" brings its files over the 1048576-byte limit held in memory"),
        "{e}"
    );
    assert!(
        e.contains("extract the archive and pass the directory"),
        "{e}"
    );
    // Extracted, the same bundle is read from disk, file by file.
    let out = dir.path().join("x");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("nodescope-bundle.json"), META).unwrap();
    fs::create_dir_all(out.join("var/log")).unwrap();
    fs::write(out.join("var/log/a.log"), &data).unwrap();
    fs::write(out.join("var/log/b.log"), &data).unwrap();
    let b = BundleHost::open_with_limits(&out, small).unwrap();
    assert_eq!(b.read("/var/log/b.log").unwrap().len(), 700 << 10);
}
