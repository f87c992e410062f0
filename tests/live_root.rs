//! Paths resolve inside the root they belong to, and nothing but a regular file is read. Live
//! tests: a real chrooted process in a kubepods-shaped v1 memory cgroup (so nodescope takes it
//! for a pod's container and reads its /etc/resolv.conf through `/proc/<pid>/root`), a
//! root-owned fake kubelet, FIFOs where files are expected; every command of nodescope runs on
//! the live root under a watchdog, with openat2 and with the fallback walk of older kernels.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{
    Cleanup, FakePod, Kill, free_port, http_get, memcg_unavailable, nodescope_within, random_hex,
    skip_or_fail,
};
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every command gets this long before its watchdog kills it and fails the test.
const WATCHDOG: Duration = Duration::from_secs(30);

/// The resolvers to run each command with: openat2, and the component walk nodescope uses on
/// kernels before 5.6.
const RESOLVERS: [(&str, &[(&str, &str)]); 2] = [
    ("openat2", &[]),
    ("fallback walk", &[("NODESCOPE_NO_OPENAT2", "1")]),
];

/// Why this machine cannot run these tests, if it cannot.
fn cannot_run() -> Option<String> {
    if let Some(why) = memcg_unavailable() {
        return Some(why);
    }
    for tool in ["chroot", "ldd"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .watched_status()
            .map_or(true, |s| !s.success())
        {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// A directory to chroot into holding `/bin/sleep` and the shared libraries it needs (as
/// `ldd` lists them), nothing else.
fn chroot_dir(c: &mut Cleanup) -> PathBuf {
    let dir = PathBuf::from(format!("/var/tmp/nodescope-chroot-{}", random_hex(6)));
    c.mkdir(&dir.join("bin"));
    c.mkdir(&dir.join("etc"));
    let sleep = fs::canonicalize("/bin/sleep").unwrap();
    fs::copy(&sleep, dir.join("bin/sleep")).unwrap();
    let ldd = Command::new("ldd").arg(&sleep).watched_output().unwrap();
    // "	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "	/lib64/ld-linux-x86-64.so.2 (0x...)"
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = line
            .split("=>")
            .last()
            .and_then(|r| r.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        if let Some(lib) = lib {
            let dst = dir.join(lib.trim_start_matches('/'));
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            fs::copy(lib, &dst).unwrap();
        }
    }
    dir
}

/// `chroot DIR /bin/sleep 300`, started in the pod's container cgroup; returns once the
/// kernel shows it there with DIR as its root.
fn chrooted_sleeper(fake: &FakePod, dir: &Path) -> Kill {
    let procs = fake.cgroup.join("cgroup.procs");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}; exec chroot {} /bin/sleep 300",
            procs.display(),
            dir.display()
        ))
        .stdin(Stdio::null())
        .spawn_killed_after(Duration::from_secs(300))
        .unwrap();
    let pid = child.id();
    let k = Kill(child);
    let started = Instant::now();
    loop {
        let root = fs::read_link(format!("/proc/{pid}/root")).ok();
        let placed = fs::read_to_string(&procs).is_ok_and(|p| p.contains(&pid.to_string()));
        if root.as_deref() == Some(dir) && placed {
            return k;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the chrooted process never settled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pod DNS entry of process `pid` in a snapshot, if nodescope read its resolv.conf.
fn pod_dns(snap: &Value, pid: u32) -> Option<&Value> {
    snap["dns"]["pods"]
        .as_array()?
        .iter()
        .find(|p| p["pid"] == pid)
}

fn json(out: &std::process::Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The file contents of a `.tar.gz` bundle, by path.
fn bundle_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(fs::File::open(path).unwrap());
    let mut a = tar::Archive::new(gz);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name, data));
    }
    out
}

/// A container whose `/etc/resolv.conf` is an absolute link to a file the node also has: the
/// kernel resolves it against the *reader's* root, so a reader that opens
/// `/proc/<pid>/root/etc/resolv.conf` as a path reads the node's file. nodescope must read the
/// container's own file of that name (it has one, with other content) and the node's content
/// must appear in no output and no file of a capture.
#[test]
fn live_a_containers_absolute_link_resolves_inside_the_container() {
    if let Some(why) = cannot_run() {
        return skip_or_fail(&why);
    }
    let mut c = Cleanup::default();
    let fake = FakePod::new("nodescope-test", "chroot", "app");
    let dir = chroot_dir(&mut c);
    let name = format!("nodescope-host-{}", random_hex(6));
    let host_marker = random_hex(16);
    let inner = format!("inner-{}.example", random_hex(6));
    // The node's file: what a naive reader would get.
    let host_file = Path::new("/etc").join(&name);
    fs::write(
        &host_file,
        format!("nameserver 10.254.254.254\nsearch {host_marker}.invalid\n"),
    )
    .unwrap();
    c.files.push(host_file.clone());
    // The container's file of the same name, and its resolv.conf linking to it.
    fs::write(
        dir.join("etc").join(&name),
        format!("nameserver 10.11.12.13\nsearch {inner}\noptions ndots:5\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(format!("/etc/{name}"), dir.join("etc/resolv.conf")).unwrap();
    let sleeper = chrooted_sleeper(&fake, &dir);
    let pid = sleeper.0.id();
    let out = tempfile::tempdir().unwrap();
    for (resolver, env) in RESOLVERS {
        let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
        let snapshot = nodescope_within(&["--root", "/", "snapshot"], env, WATCHDOG);
        let snap = json(&snapshot, "snapshot");
        let dns = pod_dns(&snap, pid).unwrap_or_else(|| {
            panic!(
                "{resolver}: the chrooted pod's resolv.conf was not read: {:#}",
                snap["dns"]["pods"]
            )
        });
        // Read through the container's root, its link resolved inside it.
        assert_eq!(
            dns["resolv"]["path"],
            format!("/proc/{pid}/root/etc/resolv.conf")
        );
        assert_eq!(
            dns["resolv"]["conf"]["search"][0],
            inner.as_str(),
            "{resolver}"
        );
        assert_eq!(
            dns["resolv"]["conf"]["nameservers"][0], "10.11.12.13",
            "{resolver}"
        );
        outputs.push(("snapshot".into(), snapshot.stdout));
        for args in [
            vec!["check", "--format", "json"],
            vec!["check", "--format", "text"],
            vec!["dns"],
            vec!["dns", "--format", "json"],
        ] {
            let mut a = vec!["--root", "/"];
            a.extend(&args);
            let o = nodescope_within(&a, env, WATCHDOG);
            assert!(
                matches!(o.status.code(), Some(0..=2)),
                "{resolver} {args:?}: {:?}",
                o.status
            );
            outputs.push((format!("{args:?}"), [o.stdout, o.stderr].concat()));
        }
        let bundle = out
            .path()
            .join(format!("{}.tar.gz", resolver.replace(' ', "-")));
        let o = nodescope_within(
            &["--root", "/", "capture", "-o", bundle.to_str().unwrap()],
            env,
            WATCHDOG,
        );
        assert!(o.status.success(), "{resolver} capture: {:?}", o.status);
        let files = bundle_files(&bundle);
        let captured = format!("proc/{pid}/root/etc/resolv.conf");
        let (_, resolv) = files
            .iter()
            .find(|(n, _)| n.ends_with(&captured))
            .unwrap_or_else(|| panic!("{resolver}: {captured} not in the bundle"));
        assert!(String::from_utf8_lossy(resolv).contains(&inner));
        outputs.extend(files.into_iter().map(|(n, d)| (format!("bundle {n}"), d)));
        for (what, bytes) in &outputs {
            assert!(
                !String::from_utf8_lossy(bytes).contains(&host_marker),
                "{resolver}: {what} holds the node's file"
            );
        }
        eprintln!(
            "{resolver}: {} outputs and bundle files, none with the node's file",
            outputs.len()
        );
    }
    drop(sleeper);
}

/// Where files are expected, FIFOs: a pod's resolv.conf (through a chrooted process) and the
/// `--config` of a root-owned fake kubelet. Opening a FIFO for reading waits for a writer
/// forever; every command must finish and name each FIFO as not a regular file, and `serve`
/// must keep answering.
#[test]
fn live_fifos_where_files_are_expected_never_block_a_command() {
    if let Some(why) = cannot_run() {
        return skip_or_fail(&why);
    }
    let mut c = Cleanup::default();
    let fake = FakePod::new("nodescope-test", "fifo", "app");
    let dir = chroot_dir(&mut c);
    nix::unistd::mkfifo(&dir.join("etc/resolv.conf"), nix::sys::stat::Mode::S_IRUSR).unwrap();
    let sleeper = chrooted_sleeper(&fake, &dir);
    let pid = sleeper.0.id();
    let resolv_fifo = format!("/proc/{pid}/root/etc/resolv.conf");

    // The fake kubelet: a root-owned copy of sh named `kubelet` (sleep refuses unknown flags),
    // running `sleep` as a child so that its own command line keeps the flags. Its directory
    // is root's alone (under /run, not the world-writable /var/tmp), so the trust rules let
    // nodescope examine the config it names (docs/security.md, "Who is trusted").
    let kdir = PathBuf::from(format!("/run/nodescope-kubelet-{}", random_hex(6)));
    c.mkdir(&kdir);
    let kubelet = kdir.join("kubelet");
    fs::copy(fs::canonicalize("/bin/sh").unwrap(), &kubelet).unwrap();
    fs::set_permissions(&kubelet, fs::Permissions::from_mode(0o755)).unwrap();
    let config = kdir.join("config.yaml");
    nix::unistd::mkfifo(
        &config,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    let config_flag = format!("--config={}", config.display());
    let kubelet_proc = Kill(
        Command::new(&kubelet)
            .args(["-c", "sleep 300; :", "kubelet", &config_flag])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn_killed_after(Duration::from_secs(300))
            .unwrap(),
    );
    let kpid = kubelet_proc.0.id();
    let _group = KillGroup(kpid);
    std::thread::sleep(Duration::from_millis(100));
    let config = config.to_str().unwrap();

    // The paths that errors name as not regular files: the pod's resolv.conf as the safe open
    // refuses it ("not a regular file (FIFO)"); the kubelet's config as the trust rules'
    // examination of a named file refuses it, before any open ("<path> is not a regular file
    // (the kubelet's --config names it)").
    let fifo_errors = |errors: &Value| -> Vec<String> {
        errors
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["kind"] == "invalid"
                    && (e["message"] == "not a regular file (FIFO)"
                        || e["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(" is not a regular file (")))
            })
            .map(|e| e["path"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for (resolver, env) in RESOLVERS {
        let snapshot = nodescope_within(&["--root", "/", "snapshot"], env, WATCHDOG);
        let snap = json(&snapshot, "snapshot");
        if snap["kubelet"]["pid"] != kpid {
            return skip_or_fail(&format!(
                "another kubelet runs on this machine (pid {}), not the fake one",
                snap["kubelet"]["pid"]
            ));
        }
        let named = fifo_errors(&snap["errors"]);
        assert!(named.contains(&config.to_string()), "{resolver}: {named:?}");
        assert!(named.contains(&resolv_fifo), "{resolver}: {named:?}");
        for (cmd, json_args) in [
            ("check", vec!["check", "--format", "json"]),
            ("disk", vec!["disk", "--format", "json"]),
            ("dns", vec!["dns", "--format", "json"]),
            ("gpu", vec!["gpu", "--format", "json"]),
        ] {
            let started = Instant::now();
            let mut a = vec!["--root", "/"];
            a.extend(&json_args);
            let o = nodescope_within(&a, env, WATCHDOG);
            assert!(
                matches!(o.status.code(), Some(0..=2)),
                "{resolver} {cmd}: {:?} {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            let named = fifo_errors(&json(&o, cmd)["errors"]);
            assert!(
                named.contains(&config.to_string()) && named.contains(&resolv_fifo),
                "{resolver} {cmd}: {named:?}"
            );
            eprintln!(
                "{resolver} {cmd}: {:?}, both FIFOs named",
                started.elapsed()
            );
        }
        let out = tempfile::tempdir().unwrap();
        let bundle = out.path().join("fifo.tar.gz");
        let o = nodescope_within(
            &["--root", "/", "capture", "-o", bundle.to_str().unwrap()],
            env,
            WATCHDOG,
        );
        assert!(o.status.success(), "{resolver} capture: {:?}", o.status);
        let files = bundle_files(&bundle);
        let (_, meta) = files
            .iter()
            .find(|(n, _)| n.ends_with("/nodescope-bundle.json"))
            .unwrap();
        let meta: Value = serde_json::from_slice(meta).unwrap();
        // The refused read is recorded; the config was only examined (its stat recorded,
        // a special file), never read into the bundle.
        let e = &meta["errors"][&resolv_fifo];
        assert_eq!(e["kind"], "invalid", "{resolver}: {:#}", meta["errors"]);
        assert_eq!(e["detail"], "not a regular file (FIFO)");
        assert_eq!(meta["metadata"][config]["kind"], "special", "{resolver}");
        assert!(
            !files.iter().any(|(n, _)| n.ends_with(config)),
            "{resolver}: the FIFO config is in the bundle"
        );
    }

    // serve keeps answering /metrics, and its samples name the FIFOs too.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _serve = Kill(
        Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .args([
                "--root",
                "/",
                "serve",
                "--listen",
                &listen,
                "--interval",
                "1",
            ])
            .env_remove("NODESCOPE_ROOT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn_killed_after(Duration::from_secs(120))
            .unwrap(),
    );
    let started = Instant::now();
    let mut answers = 0;
    let mut named = false;
    while started.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(500));
        let asked = Instant::now();
        match http_get(port, "/metrics", Duration::from_secs(2)) {
            Ok(body) => {
                answers += 1;
                assert!(asked.elapsed() < Duration::from_secs(2));
                named |= body.contains(&format!(
                    "nodescope_collection_error{{collector=\"kubelet\",kind=\"invalid\",path=\"{config}\"}} 1"
                ));
            }
            // Not listening yet: the first second.
            Err(e) => assert!(started.elapsed() < Duration::from_secs(3), "{e}"),
        }
    }
    assert!(answers >= 8, "serve answered {answers} times");
    assert!(named, "serve's samples name the kubelet's FIFO config");
    drop(sleeper);
}

/// Kills a process group on drop (the fake kubelet and its `sleep`).
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
