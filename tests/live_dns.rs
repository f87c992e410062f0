//! `nodescope dns probe` against a real resolver, checked against the real C library: two
//! network namespaces joined by a veth pair, dnsmasq in one serving a small zone (cluster names
//! resolve, everything else is NXDOMAIN, `blackhole.test` is forwarded to an address that never
//! answers) and logging every query it receives (`--log-queries`), and in the other a process
//! whose /etc/resolv.conf is a Kubernetes pod's (5 search domains, ndots:5; /etc/nsswitch.conf
//! `hosts: dns`). The oracle is glibc itself: `getent ahosts NAME` run in that process's network
//! and mount namespaces (nsenter), whose queries dnsmasq logs. For each name, the queries the
//! probe sends (as dnsmasq saw them, and as the probe reports them) must be exactly glibc's.
//! The probe must also show NXDOMAIN for the search expansions, the answer, and a timeout (not
//! a hang) for the blackholed name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
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
    children: Vec<(Child, common::watchdog::Dog)>,
}

impl Lab {
    /// dnsmasq's query log: one line per query received.
    fn log(&self) -> PathBuf {
        self.dir.join("queries.log")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (c, _) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .watched_status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .watched_status()
        .unwrap();
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
    for c in ["ip", "dnsmasq", "unshare", "nsenter", "getent"] {
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
    // IPv6 too: glibc's getaddrinfo asks AAAA only with a global IPv6 address configured
    // (AI_ADDRCONFIG), and a pod has one on a dual-stack cluster.
    let v6 = format!("fd53:{:x}", id % 0xffff);
    sh(&[
        "ip",
        "-n",
        &s,
        "addr",
        "add",
        &format!("{v6}::1/64"),
        "dev",
        &vs,
        "nodad",
    ]);
    sh(&[
        "ip",
        "-n",
        &c,
        "addr",
        "add",
        &format!("{v6}::2/64"),
        "dev",
        &vc,
        "nodad",
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
            "--log-queries",
        ])
        .arg(format!("--log-facility={}", lab.log().display()))
        .arg(format!("--server=/blackhole.test/{net}.99"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .watched_spawn(Duration::from_secs(300))
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
    // Only DNS answers host lookups in the pod: no /etc/hosts, no nss-resolve, no nscd.
    let nsswitch = lab.dir.join("nsswitch.conf");
    std::fs::write(&nsswitch, "hosts: dns\n").unwrap();
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
            "mount --bind {} /etc/resolv.conf && mount --bind {} /etc/nsswitch.conf && \
             {{ [ ! -d /run/nscd ] || mount -t tmpfs tmpfs /run/nscd; }} && exec sleep 280",
            resolv.display(),
            nsswitch.display()
        ))
        .stdout(Stdio::null())
        .watched_spawn(Duration::from_secs(300))
        .unwrap();
    let pid = client.0.id();
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
    // The watchdog: a hang fails the test instead of blocking CI.
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
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
        .output_within(Duration::from_secs(60))
        .unwrap();
    let took = started.elapsed();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    (o.status.code(), v, took)
}

/// The queries dnsmasq logged while `act` ran, as `TYPE name.`: what really went on the wire.
fn on_the_wire(lab: &Lab, act: impl FnOnce()) -> Vec<String> {
    let before = std::fs::metadata(lab.log()).map_or(0, |m| m.len() as usize);
    act();
    // dnsmasq writes its log line before it answers; give the last one a moment to land.
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(lab.log()).unwrap();
    text[before..]
        .lines()
        .filter_map(|l| {
            // `dnsmasq[123]: query[AAAA] api.example.com.svc.cluster.local from 10.253.7.2`
            let q = l.split_once(": query[")?.1;
            let (qtype, rest) = q.split_once("] ")?;
            let name = rest.split_once(" from ")?.0;
            Some(format!("{qtype} {}.", name.trim_end_matches('.')))
        })
        .collect()
}

/// What glibc sends for `name`: `getent ahosts` (getaddrinfo, AF_UNSPEC) inside the pod-like
/// process's network and mount namespaces, where /etc/resolv.conf is the pod's.
fn glibc(lab: &Lab, pid: u32, name: &str) -> Vec<String> {
    on_the_wire(lab, || {
        let o = Command::new("nsenter")
            .args([
                "--target",
                &pid.to_string(),
                "--net",
                "--mount",
                "getent",
                "ahosts",
                name,
            ])
            .output_within(Duration::from_secs(60))
            .unwrap();
        // 0 resolved, 2 not found; both are answers, not failures of the oracle.
        assert!(
            matches!(o.status.code(), Some(0 | 2)),
            "getent {name}: {o:?}"
        );
    })
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

/// The sequence for a name no server answers, as resolv.conf(5) describes it (every search
/// domain, then the name): used only for the blackholed name, where glibc's own retries after a
/// timeout make it no oracle for the order of later queries.
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
fn live_probe_sends_what_glibc_sends_with_nxdomains_the_answer_and_a_timeout() {
    if let Some(why) = unavailable() {
        return common::live::skip_or_fail(&why);
    }
    let (lab, pid) = lab();
    let server = format!("10.253.{}.1:53", std::process::id() % 250);

    // The oracle: for names that stop at a search domain, at the name itself, nowhere, with
    // ndots dots or more, and absolute, the probe sends exactly what glibc sends.
    for name in [
        "kubernetes.default",
        "api.example.com",
        "nothing.example.org",
        "a.b.c.d.e.example.com",
        "api.example.com.",
    ] {
        let want = glibc(&lab, pid, name);
        assert!(!want.is_empty(), "glibc sent nothing for {name}");
        let mut reported = Vec::new();
        let sent = on_the_wire(&lab, || reported = sequence(&probe(pid, name).1));
        assert_eq!(sent, want, "{name}: the probe's queries are not glibc's");
        assert_eq!(
            reported, want,
            "{name}: the probe reports other queries than it sent"
        );
    }

    let (code, v, _) = probe(pid, "api.example.com");
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    assert_eq!(sequence(&v), glibc(&lab, pid, "api.example.com"));
    assert_eq!(
        sequence(&v).len(),
        12,
        "5 search domains and the name, A and AAAA each"
    );
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

// ------------------------------------------------------- how A and AAAA leave (issue 22)

/// What a UDP listener we control saw of one query: when it arrived, its type, its source port.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    qtype: u16,
    port: u16,
}

/// The QTYPE of a DNS query (RFC 1035 §4.1.2): after the 12-byte header and the QNAME labels.
fn qtype(pkt: &[u8]) -> u16 {
    let mut i = 12;
    while i < pkt.len() && pkt[i] != 0 {
        i += 1 + pkt[i] as usize;
    }
    u16::from_be_bytes([pkt[i + 1], pkt[i + 2]])
}

/// A nameserver on `addr`:53 that notes each query's arrival time (the probe's send time plus
/// loopback's microseconds, the same for both queries) and answers NXDOMAIN after `delay`, so
/// that a query sent only after the previous reply arrives `delay` later.
struct Listener {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start(addr: std::net::Ipv4Addr, delay: Duration) -> Self {
        let sock = std::net::UdpSocket::bind((addr, 53)).unwrap();
        // The watchdog of the listener: it never blocks more than 100 ms between stop checks.
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !st2.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let at = Instant::now();
                let pkt = buf[..n].to_vec();
                s2.lock().unwrap().push(Seen {
                    at,
                    qtype: qtype(&pkt),
                    port: from.port(),
                });
                let reply_sock = sock.try_clone().unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let mut r = pkt;
                    r[2] |= 0x80; // QR: a response
                    r[3] = (r[3] & 0xf0) | 0x80 | 3; // RA, RCODE NXDOMAIN
                    let _ = reply_sock.send_to(&r, from);
                });
            }
        });
        Listener {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A host root holding only proc/ and this etc/resolv.conf: `dns probe` without --pod plays
/// the node's resolver from our own network namespace.
fn root_with_resolver(conf: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("proc")).unwrap();
    std::fs::create_dir_all(d.path().join("etc")).unwrap();
    std::fs::write(d.path().join("etc/resolv.conf"), conf).unwrap();
    d
}

/// Probes `name` under a root whose resolver is `options` against a delayed listener on a
/// loopback address of our own (127.83.x.y: all of 127/8 is local, so no other test's
/// nameserver shares it); returns what the listener saw and the probe's text.
fn sends(options: &str, extra: &[&str]) -> (Vec<Seen>, String) {
    let id = std::process::id();
    let r: u32 = rand_suffix();
    let addr = std::net::Ipv4Addr::new(127, 83, (id % 250) as u8, (r % 250 + 1) as u8);
    let listener = Listener::start(addr, Duration::from_millis(60));
    let root = root_with_resolver(&format!("nameserver {addr}\noptions {options}\n"));
    let mut args = vec![
        "--root",
        root.path().to_str().unwrap(),
        "dns",
        "probe",
        "api.example.com.",
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(&args)
        .output_within(Duration::from_secs(30))
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    std::thread::sleep(Duration::from_millis(100));
    (listener.seen(), text)
}

/// A few random bits from the kernel, so parallel runs pick different addresses.
fn rand_suffix() -> u32 {
    let mut b = [0u8; 4];
    let f = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut &f, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn a_and_aaaa(seen: &[Seen]) -> (&Seen, &Seen) {
    assert_eq!(seen.len(), 2, "{seen:?}");
    let a = seen.iter().find(|s| s.qtype == 1).expect("an A query");
    let aaaa = seen.iter().find(|s| s.qtype == 28).expect("an AAAA query");
    (a, aaaa)
}

fn gap(a: &Seen, b: &Seen) -> Duration {
    if a.at > b.at {
        a.at - b.at
    } else {
        b.at - a.at
    }
}

#[test]
fn live_probe_sends_a_and_aaaa_as_the_resolver_options_say() {
    if !nix::unistd::geteuid().is_root() {
        return common::live::skip_or_fail("needs root to listen on port 53");
    }
    // Default: both at once from one socket (glibc send_dg), within 1 ms of each other.
    let (seen, text) = sends("timeout:5 attempts:1", &["--timeout", "1"]);
    let (a, aaaa) = a_and_aaaa(&seen);
    assert!(
        gap(a, aaaa) < Duration::from_millis(1),
        "{:?}: {text}",
        gap(a, aaaa)
    );
    assert_eq!(a.port, aaaa.port, "one socket");
    // The header says what the probe really did: --timeout 1 wins over the file's 5.
    assert!(
        text.contains("timeout 1 s x 1 attempt(s), A+AAAA in parallel on one socket"),
        "{text}"
    );
    assert!(text.contains("2 NXDOMAIN ("), "{text}");
    assert!(!text.contains("-0 ms"), "{text}");

    // single-request: AAAA only after A's answer, 60 ms later.
    let (seen, text) = sends("timeout:1 attempts:1 single-request", &[]);
    let (a, aaaa) = a_and_aaaa(&seen);
    assert!(
        aaaa.at > a.at && gap(a, aaaa) >= Duration::from_millis(50),
        "{:?}: {text}",
        gap(a, aaaa)
    );
    assert!(text.contains("A then AAAA (single-request)"), "{text}");

    // single-request-reopen: one after the other, each from its own socket.
    let (seen, text) = sends("timeout:1 attempts:1 single-request-reopen", &[]);
    let (a, aaaa) = a_and_aaaa(&seen);
    assert!(
        aaaa.at > a.at && gap(a, aaaa) >= Duration::from_millis(50),
        "{text}"
    );
    assert_ne!(a.port, aaaa.port, "separate sockets: {text}");
}

#[test]
fn dns_probe_refuses_names_no_application_looks_up_in_one_line() {
    let long = "a.".repeat(130);
    for (name, why) in [
        ("", "an empty name (that is the root)"),
        (
            "api example.com",
            "it holds whitespace or a control character",
        ),
        (long.as_str(), "259 characters, more than DNS's 253"),
        ("a..b", "a label is empty or longer than 63 characters"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .args(["dns", "probe", name])
            .output_within(Duration::from_secs(30))
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{name:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.ends_with(&format!(": {why}\n")), "{name:?}: {err}");
        assert!(o.stdout.is_empty());
    }
}
