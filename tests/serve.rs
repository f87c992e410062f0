//! `serve` over loopback: /healthz, /metrics parsed as Prometheus text, 404s, and scrapes that
//! are answered from the last sample while a slow collection is still running.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_metrics_and_healthz_without_waiting_for_a_slow_sample() {
    let child = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .arg("--bundle")
        .arg(fixture("oom-memcg-v2-systemd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", "1"])
        // Every sample takes 1.5 s: the sampler is busy most of the time.
        .env("NODESCOPE_SERVE_SAMPLE_DELAY_MS", "1500")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let mut line = String::new();
    BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();

    let (status, body) = get(&addr, "/healthz");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.0 200 OK", "ok\n")
    );
    let (status, _) = get(&addr, "/metrics");
    assert!(status.contains("503"), "before the first sample: {status}");
    let (status, _) = get(&addr, "/nope");
    assert!(status.contains("404"), "{status}");

    // Wait for the first sample (bounded), then scrape while the next one is being collected.
    let mut metrics = String::new();
    for _ in 0..100 {
        let (status, body) = get(&addr, "/metrics");
        if status.contains("200") {
            metrics = body;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let scrape =
        prometheus_parse::Scrape::parse(metrics.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "nodescope_finding"
                && s.labels.get("id") == Some("memory.kernel-oom-kill"))
    );
    for _ in 0..5 {
        let (status, body) = get(&addr, "/metrics");
        assert!(
            status.contains("200") && body.contains("nodescope_memory_available_bytes"),
            "{status}"
        );
    }
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
