//! `serve --listen ADDR`: /metrics (the Prometheus format of `check`) and /healthz for a
//! DaemonSet. A sampler thread collects every `--interval`; a scrape is answered from the last
//! sample at once, so a slow collection (a hung mount, a huge node) never stalls Prometheus.
//! Plain HTTP/1.0 over std's TcpListener: two fixed paths do not need a web framework.

use crate::source::Host;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The last rendered sample and when it was taken.
#[derive(Default)]
struct Latest {
    metrics: Option<String>,
    samples: u64,
}

/// Serves until the process is killed. `open` builds a fresh host for every sample.
pub(super) fn run(
    listen: &str,
    interval: Duration,
    open: impl Fn() -> anyhow::Result<Box<dyn Host>> + Send + 'static,
) -> anyhow::Result<std::process::ExitCode> {
    let listener =
        TcpListener::bind(listen).map_err(|e| anyhow::anyhow!("--listen {listen}: {e}"))?;
    super::pipe::note(&format!(
        "serving /metrics and /healthz on http://{}",
        listener.local_addr()?
    ));
    let latest = Arc::new(RwLock::new(Latest::default()));
    let sampler = Arc::clone(&latest);
    // Test hook: stretch each collection to show that scrapes do not wait for it.
    let delay = std::env::var("NODESCOPE_SERVE_SAMPLE_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    std::thread::Builder::new()
        .name("nodescope-sampler".into())
        .spawn(move || {
            loop {
                let text = match open() {
                    Ok(host) => {
                        let snap = crate::collect::snapshot(host.as_ref());
                        if let Some(d) = delay {
                            std::thread::sleep(d);
                        }
                        let findings = crate::analyze::analyze(&snap);
                        crate::render::prometheus::render(&snap, &findings)
                    }
                    Err(e) => format!(
                        "# nodescope could not open the host: {}\n",
                        e.to_string().replace('\n', " ")
                    ),
                };
                if let Ok(mut l) = sampler.write() {
                    l.metrics = Some(text);
                    l.samples += 1;
                }
                std::thread::sleep(interval);
            }
        })?;
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let latest = Arc::clone(&latest);
        // One short-lived thread per connection; a stuck client cannot block the next scrape.
        let _ = std::thread::Builder::new()
            .name("nodescope-http".into())
            .spawn(move || {
                let _ = answer(stream, &latest);
            });
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn answer(stream: TcpStream, latest: &RwLock<Latest>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Drain the headers (bounded) so the client sees a clean close.
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, ctype, body) = match (request.split_whitespace().next(), path) {
        (Some("GET"), "/metrics") => match latest.read().ok().and_then(|l| l.metrics.clone()) {
            Some(m) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", m),
            None => (
                "503 Service Unavailable",
                "text/plain",
                "first sample not taken yet\n".into(),
            ),
        },
        (Some("GET"), "/healthz") => ("200 OK", "text/plain", "ok\n".into()),
        (Some("GET"), _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /healthz\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let mut w = stream;
    write!(
        w,
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()
}
