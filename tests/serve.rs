//! `serve` over loopback, on fixture bundles (never the live host): the endpoints and their
//! bytes, scrapes answered from the last sample while the next one is stalled, `/healthz`
//! turning 503 when samples stop completing, and the server staying small and reachable while
//! hostile clients send a 10 MB request line and hold 200 half-sent requests. Every server runs
//! under a watchdog that kills it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A `nodescope serve` child: killed on drop, or by its watchdog after `limit`.
struct Server {
    child: Arc<Mutex<Child>>,
    pid: u32,
    addr: String,
    stop_watchdog: mpsc::Sender<()>,
}

impl Server {
    /// `nodescope --bundle FIXTURE serve --listen 127.0.0.1:0 --interval SECS`, with the sample
    /// delay hook set to `delays` (see src/cmd/serve/mod.rs), under a file descriptor limit
    /// of `nofile`.
    fn start(fixture_name: &str, interval: u64, delays: &str, nofile: u32) -> Server {
        let script = format!(
            "ulimit -n {nofile} && exec \"$0\" --bundle \"$1\" serve --listen 127.0.0.1:0 --interval {interval}"
        );
        let child = Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_nodescope")])
            .arg(fixture(fixture_name))
            .env("NODESCOPE_SERVE_SAMPLE_DELAY_MS", delays)
            .env_remove("NODESCOPE_ROOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        let (stop_watchdog, stopped) = mpsc::channel::<()>();
        let watched = Arc::clone(&child);
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(90))
            {
                eprintln!("watchdog: killing serve (pid {pid}) after 90 s");
                let _ = watched.lock().unwrap().kill();
            }
        });
        let stderr = child.lock().unwrap().stderr.take().unwrap();
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        // Keep draining stderr so the server can never block on it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
        assert!(
            line.starts_with("nodescope: serving /metrics, /findings and /healthz on http://"),
            "{line:?}"
        );
        let addr = line.trim().rsplit("http://").next().unwrap().to_string();
        Server {
            child,
            pid,
            addr,
            stop_watchdog,
        }
    }

    /// How many sockets the server holds open (the listener and its connections).
    fn sockets(&self) -> usize {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.pid)) else {
            return 0;
        };
        fds.flatten()
            .filter(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
            })
            .count()
    }

    /// The server's resident set, in KiB (VmRSS of /proc/<pid>/status).
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn get(&self, path: &str) -> Response {
        request(&self.addr, "GET", path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_watchdog.send(());
        let mut c = self.child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: String,
    headers: Vec<String>,
    body: Vec<u8>,
    took: Duration,
}

impl Response {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers.iter().find_map(|h| {
            h.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| &h[prefix.len()..])
        })
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end within 10 s.
fn request(addr: &str, method: &str, path: &str) -> Response {
    try_request(addr, method, path).unwrap()
}

/// [`request`], with a refused, reset or malformed answer as `Err`.
fn try_request(addr: &str, method: &str, path: &str) -> Result<Response, String> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| format!("receive after {:?}: {e}", started.elapsed()))?;
    let took = started.elapsed();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no head in {:?}", String::from_utf8_lossy(&resp)))?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let mut lines = head.split("\r\n").map(String::from);
    Ok(Response {
        status: lines.next().unwrap_or_default(),
        headers: lines.collect(),
        body: resp[split + 4..].to_vec(),
        took,
    })
}

/// Polls `path` every 50 ms until its status line contains `want` (at most `limit`).
fn wait_for(server: &Server, path: &str, want: &str, limit: Duration) -> Response {
    let started = Instant::now();
    loop {
        let r = server.get(path);
        if r.status.contains(want) {
            return r;
        }
        assert!(
            started.elapsed() < limit,
            "{path} never answered {want}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_json_bytes(fixture_name: &str) -> Vec<u8> {
    let o = run(&[
        "--bundle",
        fixture(fixture_name).to_str().unwrap(),
        "check",
        "--format",
        "json",
    ]);
    assert!(!o.stdout.is_empty());
    o.stdout
}

#[test]
fn serve_answers_from_the_last_sample_within_half_a_second_while_the_next_is_stalled() {
    // The first sample takes 1.5 s, every later one 60 s: after the first, the sampler is stuck.
    let server = Server::start("oom-memcg-v2-systemd", 1, "1500,60000", 1024);

    // Before the first sample: healthy (grace), but nothing to serve yet.
    let r = server.get("/healthz");
    assert_eq!((r.status.as_str(), r.text()), ("HTTP/1.1 200 OK", "ok\n"));
    let r = server.get("/metrics");
    assert_eq!(
        (r.status.as_str(), r.text()),
        (
            "HTTP/1.1 503 Service Unavailable",
            "no sample has completed yet\n"
        )
    );

    wait_for(&server, "/metrics", "200", Duration::from_secs(20));
    // The second sample starts 1 s after the first completed and stalls: scrape during it.
    std::thread::sleep(Duration::from_millis(1500));
    let mut sample_times = Vec::new();
    for _ in 0..5 {
        let r = server.get("/metrics");
        assert_eq!(r.status, "HTTP/1.1 200 OK");
        assert!(
            r.took < Duration::from_millis(500),
            "a scrape during a stalled sample took {:?}",
            r.took
        );
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let scrape =
            prometheus_parse::Scrape::parse(r.text().lines().map(|l| Ok(l.to_string()))).unwrap();
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric == "nodescope_finding"
                    && s.labels.get("id") == Some("memory.kernel-oom-kill"))
        );
        // The stalled sampler shows as a sample time that stops moving (the NodescopeNoSample
        // alert of deploy/prometheus/nodescope.rules.yml compares it with time()).
        let at = scrape
            .samples
            .iter()
            .find(|s| s.metric == "nodescope_last_sample_timestamp_seconds")
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                ref other => panic!("{other:?}"),
            })
            .unwrap();
        sample_times.push(at);
        let r = server.get("/findings");
        assert_eq!(r.status, "HTTP/1.1 200 OK");
        assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
        assert_eq!(r.body, check_json_bytes("oom-memcg-v2-systemd"));
    }
    assert!(
        sample_times.windows(2).all(|w| w[0] == w[1]),
        "{sample_times:?}"
    );
    let age = jiff::Timestamp::now().as_second() as f64 - sample_times[0];
    assert!((0.0..60.0).contains(&age), "sample {age} s old");
}

#[test]
fn serve_findings_are_the_bytes_of_check_json_cluster_included_with_the_sample_time() {
    // gpu-pending's Pending pods come from the bundle's cluster/pods.json: /findings attaches
    // the cluster exactly as `check` does.
    let server = Server::start("gpu-pending", 30, "0", 1024);
    let r = wait_for(&server, "/findings", "200", Duration::from_secs(20));
    let want = check_json_bytes("gpu-pending");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        String::from_utf8_lossy(&want)
    );
    assert!(r.text().contains("\"id\": \"gpu.pending-pod\""));
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The sample's time: an HTTP-date (RFC 9110), within the last minute.
    let modified = r.header("last-modified").unwrap();
    assert!(modified.ends_with(" GMT"), "{modified}");
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(modified)
        .unwrap();
    let age = jiff::Timestamp::now().duration_since(at);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(60),
        "{modified}"
    );
}

#[test]
fn serve_healthz_turns_503_when_samples_stop_completing() {
    // Interval 1 s: the first sample completes at once, the second stalls for 60 s, so from
    // 3 s after the first, no sample has completed for 3 intervals.
    let server = Server::start("oom-memcg-v2-systemd", 1, "0,60000", 1024);
    let first = wait_for(&server, "/findings", "200", Duration::from_secs(20));
    let seen = Instant::now();
    let r = server.get("/healthz");
    assert_eq!((r.status.as_str(), r.text()), ("HTTP/1.1 200 OK", "ok\n"));
    let r = wait_for(&server, "/healthz", "503", Duration::from_secs(15));
    let after = seen.elapsed();
    assert!(
        after > Duration::from_millis(2500) && after < Duration::from_secs(6),
        "503 came {after:?} after the first sample"
    );
    let text = r.text();
    assert!(
        text.starts_with("no sample has completed for ") && text.ends_with("\n"),
        "{text:?}"
    );
    assert!(
        text.contains(" s (interval 1 s); the last completed at "),
        "{text:?}"
    );
    // The last sample is still served: the stalled one has not replaced it.
    let r = server.get("/findings");
    assert_eq!(r.status, "HTTP/1.1 200 OK");
    assert_eq!(r.body, first.body);
}

#[test]
fn serve_answers_405_with_allow_404_and_head_without_a_body() {
    let server = Server::start(V2, 30, "0", 1024);
    wait_for(&server, "/metrics", "200", Duration::from_secs(20));
    let r = request(&server.addr, "POST", "/metrics");
    assert_eq!(
        (r.status.as_str(), r.text()),
        ("HTTP/1.1 405 Method Not Allowed", "GET or HEAD only\n")
    );
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = request(&server.addr, "DELETE", "/findings");
    assert_eq!(r.status, "HTTP/1.1 405 Method Not Allowed");
    let r = server.get("/nope");
    assert_eq!(
        (r.status.as_str(), r.text()),
        (
            "HTTP/1.1 404 Not Found",
            "not found; try /metrics, /findings or /healthz\n"
        )
    );
    let get = server.get("/metrics");
    let head = request(&server.addr, "HEAD", "/metrics");
    assert_eq!(head.status, "HTTP/1.1 200 OK");
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
}

#[test]
fn serve_closes_an_idle_keep_alive_connection_after_the_5_s_header_timeout() {
    let server = Server::start(V2, 30, "0", 1024);
    wait_for(&server, "/healthz", "200", Duration::from_secs(20));
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // HTTP/1.1 keeps the connection open after the answer.
    write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // Then nothing: the server closes the idle connection after the header timeout.
    assert_eq!(s.read(&mut buf).unwrap(), 0, "closed, not answered");
    let idle = answered.elapsed();
    assert!(
        idle > Duration::from_millis(4500) && idle < Duration::from_secs(8),
        "closed after {idle:?} idle"
    );
}

/// Streams "GET /" and then 10 MB without a newline. Returns whether the server ended the
/// connection (EOF or reset, after a 431 or not), and when, from the first byte.
fn huge_request_line(addr: &str) -> (bool, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let chunk = vec![b'a'; 64 * 1024];
    if s.write_all(b"GET /").is_ok() {
        for _ in 0..160 {
            if s.write_all(&chunk).is_err() {
                break; // reset by the server: it stopped reading
            }
        }
    }
    // Whatever the kernel buffered, the server must end the connection.
    let mut buf = [0u8; 4096];
    let ended = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) => {
                break !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    };
    (ended, started.elapsed())
}

/// 200 clients that connect, send half a request head and hold; a client the server closes
/// connects again at once, until `stop`. Returns how many connections were made.
fn slow_clients(addr: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut conns: Vec<Option<TcpStream>> = (0..200).map(|_| None).collect();
        let mut made = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for c in conns.iter_mut() {
                let closed = match c {
                    None => true,
                    Some(s) => match s.read(&mut [0u8; 512]) {
                        Ok(0) => true,
                        Ok(_) => false,
                        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    },
                };
                if closed {
                    *c = TcpStream::connect(&addr).ok().inspect(|s| {
                        let _ = s.set_nonblocking(true);
                        let _ = (&*s).write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n");
                    });
                    made += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        made
    })
}

#[test]
fn serve_stays_small_and_reachable_under_a_10_mb_request_line_and_200_slow_clients() {
    // The file descriptor limit that made the thread-per-connection server unreachable at ~125
    // slow clients.
    let server = Server::start(V2, 1, "0", 256);
    wait_for(&server, "/metrics", "200", Duration::from_secs(20));
    let before = server.rss_kib();
    // The listener and the runtime's own (a socket pair): what is open without any client
    // (the least of a few looks, once the last probe's connection is gone).
    let idle_sockets = (0..5)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            server.sockets()
        })
        .min()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let huge = {
        let addr = server.addr.clone();
        std::thread::spawn(move || huge_request_line(&addr))
    };
    let slow = slow_clients(server.addr.clone(), Arc::clone(&stop));
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let mut max_rss = 0;
    let mut probes = 0;
    let mut max_sockets = 0;
    let mut failed = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        let probe = Instant::now();
        match try_request(&server.addr, "GET", "/metrics") {
            Ok(r)
                if r.status.ends_with(" 200 OK")
                    && String::from_utf8_lossy(&r.body)
                        .contains("nodescope_memory_available_bytes") => {}
            Ok(r) => failed.push(format!(
                "{} {:?}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            Err(e) => failed.push(e),
        }
        worst = worst.max(probe.elapsed());
        max_rss = max_rss.max(server.rss_kib());
        probes += 1;
        // Between probes, sample the open sockets often: the cap holds at every moment.
        let pause = Instant::now();
        while pause.elapsed() < Duration::from_millis(500) {
            max_sockets = max_sockets.max(server.sockets());
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let made = slow.join().unwrap();
    let (huge_ended, huge_took) = huge.join().unwrap();
    eprintln!(
        "{probes} probes, slowest {worst:?}; RSS {before} KiB before, at most {max_rss} KiB under load; \
         {made} slow connections made, at most {max_sockets} sockets open ({idle_sockets} without \
         clients); the 10 MB line was cut off after {huge_took:?}"
    );
    assert_eq!(failed, Vec::<String>::new(), "/metrics under load");
    assert!(
        worst < Duration::from_secs(1),
        "the slowest /metrics took {worst:?}"
    );
    assert!(
        max_rss < 40 * 1024,
        "RSS reached {max_rss} KiB (before: {before} KiB)"
    );
    // At most 64 connections, and one more for the moment a newcomer's victim is dropped.
    let connections = max_sockets - idle_sockets;
    assert!(
        (60..=65).contains(&connections),
        "{connections} connections at most ({max_sockets} sockets, {idle_sockets} without clients)"
    );
    assert!(
        made > 200,
        "the server closed slow clients, which came back: {made}"
    );
    assert!(huge_ended, "the server ended the 10 MB request line");
    assert!(
        huge_took < Duration::from_secs(4),
        "cut off by the head limit, not the 5 s header timeout: {huge_took:?}"
    );
}

#[test]
fn serve_refuses_a_bad_address_with_exit_3() {
    let o = run(&[
        "--bundle",
        fixture(V2).to_str().unwrap(),
        "serve",
        "--listen",
        "999.1.1.1:80",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--listen 999.1.1.1:80"));
}
