//! `nodescope dns probe` against a real resolver: two network namespaces joined by a veth pair,
//! dnsmasq in one serving a small zone (cluster names resolve, everything else is NXDOMAIN, and
//! `blackhole.test` is forwarded to an address that never answers), and in the other a process
//! whose /etc/resolv.conf is a Kubernetes pod's (5 search domains, ndots:5). The probe, run
//! from the host against that process, must show the resolver's exact query sequence, NXDOMAIN
//! for the search expansions, the answer, and a timeout (not a hang) for the blackholed name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEARCH: [&str; 5] = [
    "ns1.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "example.internal",
    "corp.test",
];

struct Lab {
    server_ns: String,
    client_ns: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?}");
}

fn which(cmd: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(cmd).exists())
}

fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root for network namespaces".into());
    }
    for c in ["ip", "dnsmasq", "unshare"] {
        if !which(c) {
            return Some(format!("{c} is not installed (.ci/run installs it)"));
        }
    }
    None
}

/// Sets up the two namespaces, dnsmasq and the client; returns the lab and the client's pid.
fn lab() -> (Lab, u32) {
    let id = std::process::id();
    let net = format!("10.253.{}", id % 250);
    let mut lab = Lab {
        server_ns: format!("nsdns-s-{id}"),
        client_ns: format!("nsdns-c-{id}"),
        dir: std::env::temp_dir().join(format!("nodescope-dns-{id}")),
        children: Vec::new(),
    };
    std::fs::create_dir_all(&lab.dir).unwrap();
    let (s, c) = (lab.server_ns.clone(), lab.client_ns.clone());
    let (vs, vc) = (
        format!("vds{}", id % 100_000),
        format!("vdc{}", id % 100_000),
    );
    sh(&["ip", "netns", "add", &s]);
    sh(&["ip", "netns", "add", &c]);
    sh(&[
        "ip", "link", "add", &vs, "type", "veth", "peer", "name", &vc,
    ]);
    sh(&["ip", "link", "set", &vs, "netns", &s]);
    sh(&["ip", "link", "set", &vc, "netns", &c]);
    sh(&[
        "ip",
        "-n",
        &s,
        "addr",
        "add",
        &format!("{net}.1/24"),
        "dev",
        &vs,
    ]);
    sh(&[
        "ip",
        "-n",
        &c,
        "addr",
        "add",
        &format!("{net}.2/24"),
        "dev",
        &vc,
    ]);
    for (ns, dev) in [(&s, &vs), (&c, &vc)] {
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    let dnsmasq = Command::new("ip")
        .args([
            "netns",
            "exec",
            &s,
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
        ])
        .args([
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
        ])
        .arg(format!("--listen-address={net}.1"))
        .args([
            "--host-record=kubernetes.default.svc.cluster.local,10.96.0.1",
            "--host-record=api.example.com,192.0.2.10",
            // Everything else is NXDOMAIN, but blackhole.test goes to a server that never answers.
            "--address=/#/",
        ])
        .arg(format!("--server=/blackhole.test/{net}.99"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.children.push(dnsmasq);
    let resolv = lab.dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        format!(
            "search {}\nnameserver {net}.1\noptions ndots:5 timeout:1 attempts:1\n",
            SEARCH.join(" ")
        ),
    )
    .unwrap();
    // The client: its own mount namespace with the pod's resolv.conf over /etc/resolv.conf.
    let client = Command::new("ip")
        .args([
            "netns",
            "exec",
            &c,
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(format!(
            "mount --bind {} /etc/resolv.conf && exec sleep 120",
            resolv.display()
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = client.id();
    lab.children.push(client);
    // Ready when the client sees the pod's file and dnsmasq listens.
    let seen = PathBuf::from(format!("/proc/{pid}/root/etc/resolv.conf"));
    let started = Instant::now();
    while !std::fs::read_to_string(&seen).is_ok_and(|t| t.contains("ndots:5")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "client never got its resolv.conf"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    (lab, pid)
}

fn probe(pid: u32, name: &str) -> (Option<i32>, Value, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args([
            "--root",
            "/",
            "dns",
            "probe",
            name,
            "--pid",
            &pid.to_string(),
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog: a hang fails the test instead of blocking CI.
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("dns probe hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    (o.status.code(), v, took)
}

fn sequence(v: &Value) -> Vec<String> {
    v["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            format!(
                "{} {}",
                q["type"].as_str().unwrap(),
                q["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn expected(name: &str) -> Vec<String> {
    let mut want = Vec::new();
    for d in SEARCH {
        want.push(format!("A {name}.{d}."));
        want.push(format!("AAAA {name}.{d}."));
    }
    want.push(format!("A {name}."));
    want.push(format!("AAAA {name}."));
    want
}

#[test]
fn live_probe_shows_the_resolver_sequence_nxdomains_the_answer_and_a_timeout() {
    if let Some(why) = unavailable() {
        return common::live::skip_or_fail(&why);
    }
    let (lab, pid) = lab();
    let server = format!("10.253.{}.1:53", std::process::id() % 250);

    let (code, v, _) = probe(pid, "api.example.com");
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    assert_eq!(sequence(&v), expected("api.example.com"));
    let qs = v["queries"].as_array().unwrap();
    for q in &qs[..10] {
        assert_eq!(q["rcode"], "NXDOMAIN", "{q}");
        assert_eq!(q["server"], server.as_str());
        assert_eq!(q["timed_out"], false);
    }
    assert_eq!(qs[10]["rcode"], "NOERROR");
    assert_eq!(qs[10]["answers"], 1, "api.example.com A 192.0.2.10");
    assert_eq!(v["resolved"], true);
    assert_eq!(code, Some(0), "a resolved name with no failure");
    for q in qs {
        for k in ["name", "type", "server", "rcode", "ms", "timed_out"] {
            assert!(q.get(k).is_some(), "{k} missing in {q}");
        }
    }

    let (code, v, took) = probe(pid, "api.blackhole.test");
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    assert_eq!(sequence(&v), expected("api.blackhole.test"));
    let qs = v["queries"].as_array().unwrap();
    assert!(qs[..10].iter().all(|q| q["rcode"] == "NXDOMAIN"));
    for q in &qs[10..] {
        assert_eq!(q["timed_out"], true, "{q}");
        assert!(q["rcode"].is_null());
        let ms = q["ms"].as_f64().unwrap();
        assert!(
            (900.0..5000.0).contains(&ms),
            "timeout:1 waits about a second, got {ms}"
        );
    }
    assert_eq!(v["resolved"], false);
    assert_eq!(code, Some(2), "dns.probe-failed is critical");
    assert_eq!(v["findings"][0]["id"], "dns.probe-failed");
    assert!(
        took < Duration::from_secs(30),
        "bounded by timeout x attempts, took {took:?}"
    );
    drop(lab);
}
