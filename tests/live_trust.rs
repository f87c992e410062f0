//! Live: processes an unprivileged user starts under the name `kubelet` steer nothing that
//! root's nodescope does (docs/security.md, "Who is trusted"). As uid 65534 they carry a
//! kubeconfig whose `exec` plugin would record who ran it, a kubeconfig whose `tokenFile` is a
//! root-only token and whose server is a plain-HTTP listener of this test, and
//! `--config=/etc/shadow`; root runs one more from a binary 65534 owns. `check`, `snapshot` and
//! `capture` run in a PID namespace of their own (so no other process on this machine, nor
//! another test's, can be taken for the kubelet), with these impostors and then with a real
//! stand-in: a root process of a root-owned binary whose root-owned config IS read, which shows
//! the same runs would have read what the impostors named. Outside the namespace the user then
//! names the impostors' kubeconfigs with --kubeconfig, which shows the plugin and the listener
//! would have noticed a use.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use common::live::{Cleanup, random_hex, skip_or_fail};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

/// A plain-HTTP listener on loopback that records every connection's first bytes and answers
/// nothing useful; stopped (and its thread joined) on drop.
struct Listener {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start() -> Listener {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Watchdog: the listener ends by itself after 10 minutes whatever happens.
            let until = Instant::now() + Duration::from_secs(600);
            while !st2.load(Ordering::Relaxed) && Instant::now() < until {
                match l.accept() {
                    Ok((mut c, _)) => {
                        // One thread per connection, each bounded by its read timeout.
                        let s3 = s2.clone();
                        std::thread::spawn(move || {
                            c.set_nonblocking(false).unwrap();
                            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                            let mut buf = vec![0u8; 8192];
                            let n = c.read(&mut buf).unwrap_or(0);
                            s3.lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                            let _ = c.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Listener {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Whether a request holding `needle` arrives within 10 s.
    fn saw(&self, needle: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.seen().iter().any(|r| r.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `cmd` to its end, killed after `limit`; returns its exit status code.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Option<i32> {
    let mut child = cmd.spawn().unwrap();
    // watchdog: the loop below kills it past its limit
    let until = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn chown(p: &Path, uid: u32) {
    nix::unistd::chown(
        p,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(uid)),
    )
    .unwrap();
}

fn write(p: &Path, content: &str, mode: u32, uid: u32) {
    std::fs::write(p, content).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    chown(p, uid);
}

fn kubeconfig(server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}"
    )
}

fn why_not() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (to run processes as uid 65534 and to read /etc/shadow)".into());
    }
    for tool in ["setpriv", "unshare", "bash", "timeout"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .watched_status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!(
                "{tool} is not installed (util-linux, bash, coreutils)"
            ));
        }
    }
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .watched_status();
    if !probe.is_ok_and(|s| s.success()) {
        return Some(
            "cannot create a PID namespace here (unshare --pid --fork --mount-proc)".into(),
        );
    }
    None
}

/// The JSON `errors` of collector `trust`, as "kind: message".
fn trust_errors(v: &serde_json::Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "trust")
        .map(|e| {
            format!(
                "{}: {}",
                e["kind"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn read_json(p: &Path) -> serde_json::Value {
    let raw = std::fs::read(p).unwrap();
    serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}): {}",
            p.display(),
            String::from_utf8_lossy(&raw)
        )
    })
}

/// Every file under `dir`, as (path, bytes).
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// Every regular file of a bundle archive, as (path in the archive, bytes).
fn bundle_entries(archive: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap());
    let mut t = tar::Archive::new(gz);
    let mut out = Vec::new();
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let p = e.path().unwrap().into_owned();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            out.push((p, b));
        }
    }
    assert!(out.len() > 10, "{} holds files", archive.display());
    out
}

#[test]
fn live_processes_that_only_call_themselves_kubelet_steer_nothing() {
    if let Some(why) = why_not() {
        return skip_or_fail(&why);
    }
    let mut cleanup = Cleanup::default();
    let s = PathBuf::from(format!("/run/nodescope-trust-{}", random_hex(6)));
    cleanup.mkdir(&s);
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["imp", "root", "out", "pids"] {
        std::fs::create_dir(s.join(d)).unwrap();
    }
    let imp = s.join("imp");
    chown(&imp, NOBODY);
    let listener = Listener::start();
    let token = format!("tok-root-only-{}", random_hex(8));
    let secret = format!("nameserver-secret-{}", random_hex(8));
    let domain = format!("trust-{}.example", random_hex(4));
    let marker = s.join("plugin-ran");
    let http = format!("http://127.0.0.1:{}", listener.port);

    // What nobody writes: a copy of sh called kubelet, an exec plugin, two kubeconfigs.
    std::fs::copy("/bin/sh", imp.join("kubelet")).unwrap();
    std::fs::set_permissions(imp.join("kubelet"), std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&imp.join("kubelet"), NOBODY);
    write(
        &imp.join("plugin.sh"),
        &format!(
            "#!/bin/sh\nid > {}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"tok-from-plugin\"}}}}'\n",
            marker.display()
        ),
        0o755,
        NOBODY,
    );
    write(
        &imp.join("exec.kubeconfig"),
        &kubeconfig(
            &http,
            &format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n",
                imp.join("plugin.sh").display()
            ),
        ),
        0o644,
        NOBODY,
    );
    write(
        &imp.join("token.kubeconfig"),
        &kubeconfig(
            &http,
            &format!("    tokenFile: {}\n", s.join("token").display()),
        ),
        0o644,
        NOBODY,
    );
    // What root alone may read or write: the token, a secret, the stand-in's config.
    // No newline: kube's client sends a token file's bytes as they are (client-go trims).
    write(&s.join("token"), &token, 0o600, 0);
    write(&s.join("secret.conf"), &format!("{secret}\n"), 0o600, 0);
    write(
        &s.join("root/config.yaml"),
        &format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: {domain}\n"
        ),
        0o644,
        0,
    );

    let ns = env!("CARGO_BIN_EXE_nodescope");
    let sd = s.display();
    let runs = |n: u32| {
        format!(
            "{ns} --root / check --format json > {sd}/out/check{n}.json 2> {sd}/out/check{n}.err\n\
             {ns} --root / snapshot > {sd}/out/snapshot{n}.json 2> {sd}/out/snapshot{n}.err\n\
             {ns} --root / capture -o {sd}/out/b{n}.tar.gz > {sd}/out/capture{n}.out 2> {sd}/out/capture{n}.err\n"
        )
    };
    let nobody = format!("setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups");
    let sleeper = "-c 'sleep 300; :'";
    let script = format!(
        "set -u\n\
         {nobody} {sd}/imp/kubelet {sleeper} --kubeconfig={sd}/imp/exec.kubeconfig &\n\
         echo $! > {sd}/pids/exec\n\
         {nobody} bash -c \"exec -a kubelet /bin/sh {sleeper} --kubeconfig={sd}/imp/token.kubeconfig\" &\n\
         echo $! > {sd}/pids/token\n\
         {nobody} {sd}/imp/kubelet {sleeper} --config=/etc/shadow --config-dir=/etc --resolv-conf={sd}/secret.conf &\n\
         echo $! > {sd}/pids/shadow\n\
         {sd}/imp/kubelet {sleeper} --config=/etc/shadow --resolv-conf={sd}/secret.conf --kubeconfig={sd}/imp/token.kubeconfig &\n\
         echo $! > {sd}/pids/rootrun\n\
         sleep 0.5\n\
         {}\
         bash -c \"exec -a /usr/bin/kubelet /bin/sh {sleeper} --config={sd}/root/config.yaml\" &\n\
         echo $! > {sd}/pids/real\n\
         sleep 0.5\n\
         {}",
        runs(1),
        runs(2)
    );
    std::fs::write(s.join("run.sh"), &script).unwrap();
    // The namespace's first process is the script: when it ends, the kernel kills every
    // process left in the namespace (pid_namespaces(7)), the impostors included.
    let code = run_bounded(
        Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "240",
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                "sh",
            ])
            .arg(s.join("run.sh"))
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("NODESCOPE_ROOT")
            .stderr(std::fs::File::create(s.join("run.err")).unwrap()),
        Duration::from_secs(250),
    );
    assert_eq!(
        code,
        Some(0),
        "the namespace's script failed: {}\n{script}",
        std::fs::read_to_string(s.join("run.err")).unwrap_or_default()
    );
    let pid = |name: &str| -> u64 {
        std::fs::read_to_string(s.join("pids").join(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (p_exec, p_token, p_shadow, p_rootrun, p_real) = (
        pid("exec"),
        pid("token"),
        pid("shadow"),
        pid("rootrun"),
        pid("real"),
    );
    let out = s.join("out");
    let impostor_lines: Vec<String> = vec![
        format!(
            "untrusted: process {p_exec} calls itself kubelet but runs as uid 65534; its flags are ignored"
        ),
        format!(
            "untrusted: process {p_token} calls itself kubelet but runs as uid 65534; its flags are ignored"
        ),
        format!(
            "untrusted: process {p_shadow} calls itself kubelet but runs as uid 65534; its flags are ignored"
        ),
        format!(
            "untrusted: process {p_rootrun} calls itself kubelet but its executable (/proc/{p_rootrun}/exe) \
             is owned by uid 65534, not root; its flags are ignored"
        ),
    ];
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // 1. Impostors only: no kubelet, every impostor named with its rule, the rule not silenced.
    let check1 = read_json(&out.join("check1.json"));
    assert_eq!(
        sorted(trust_errors(&check1)),
        sorted(impostor_lines.clone())
    );
    let f = check1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "node.kubelet-not-running")
        .unwrap_or_else(|| panic!("node.kubelet-not-running did not fire: {check1:#}"));
    let named: Vec<u64> = f["evidence"]["untrusted_kubelets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sorted(named.iter().map(u64::to_string).collect()),
        sorted(
            [p_exec, p_token, p_shadow, p_rootrun]
                .iter()
                .map(u64::to_string)
                .collect()
        )
    );
    let snap1 = read_json(&out.join("snapshot1.json"));
    assert_eq!(snap1["kubelet"], serde_json::Value::Null);
    assert_eq!(snap1["untrusted_daemons"].as_array().unwrap().len(), 4);

    // 2. With root's stand-in: it is the kubelet and its config is read; the impostors are
    // still named and still ignored.
    let snap2 = read_json(&out.join("snapshot2.json"));
    assert_eq!(snap2["kubelet"]["pid"], p_real);
    assert_eq!(
        snap2["kubelet"]["config"]["cluster_domain"],
        domain.as_str()
    );
    let check2 = read_json(&out.join("check2.json"));
    assert_eq!(sorted(trust_errors(&check2)), sorted(impostor_lines));
    assert!(
        !check2["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "node.kubelet-not-running")
    );

    // The plugin never ran, nothing connected, no token left.
    assert!(
        !marker.exists(),
        "the exec plugin ran: {:?}",
        std::fs::read_to_string(&marker)
    );
    assert_eq!(listener.seen(), Vec::<String>::new(), "something connected");

    // No line of /etc/shadow, no root-only secret and no token in any output or bundle.
    // Each bundle's entries, extracted (by the tar crate: `tar -x` itself stops at files a
    // capture records beneath /sys links), and its whole uncompressed stream.
    let mut outputs = files_under(&out);
    for b in ["b1", "b2"] {
        outputs.extend(bundle_entries(&out.join(format!("{b}.tar.gz"))));
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(out.join(format!("{b}.tar.gz"))).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        outputs.push((PathBuf::from(format!("{b}.tar (uncompressed)")), raw));
    }
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let shadow_lines: Vec<&str> = shadow.lines().filter(|l| l.len() >= 8).collect();
    assert!(
        !shadow_lines.is_empty(),
        "/etc/shadow has lines to look for"
    );
    for (what, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for l in &shadow_lines {
            assert!(
                !text.contains(l),
                "{} holds a line of /etc/shadow",
                what.display()
            );
        }
        assert!(
            !text.contains(&secret),
            "{} holds the root-only secret",
            what.display()
        );
        assert!(
            !text.contains(&token),
            "{} holds the root-only token",
            what.display()
        );
    }
    // The search can fail: the stand-in's config, named the same way, is in its bundle.
    let real_config = format!("b2{}/root/config.yaml", s.display());
    assert!(
        outputs
            .iter()
            .any(|(p, b)| p == Path::new(&real_config)
                && String::from_utf8_lossy(b).contains(&domain)),
        "{real_config} holds the trusted kubelet's config"
    );

    // 3. The user names the same kubeconfigs: now they are used (kubectl's semantics), which
    // shows the plugin and the listener were watching.
    let by_user = |kc: &str| {
        run_bounded(
            Command::new(ns)
                .args(["--root", "/", "--kubeconfig"])
                .arg(imp.join(kc))
                .args(["snapshot"])
                .env_remove("KUBECONFIG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            Duration::from_secs(60),
        )
    };
    by_user("exec.kubeconfig");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(ran.starts_with("uid=0(root)"), "{ran:?}");
    assert!(
        listener.saw("Bearer tok-from-plugin"),
        "{:?}",
        listener.seen()
    );
    by_user("token.kubeconfig");
    assert!(
        listener.saw(&format!("Bearer {token}")),
        "{:?}",
        listener.seen()
    );
    drop(listener);
    drop(cleanup);
}
