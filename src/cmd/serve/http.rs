//! The HTTP side of `serve`: hyper's HTTP/1 server on the current thread, answering from
//! [`Status`] only (never from the host).
//!
//! What a client controls is bounded:
//! - the request head: at most [`MAX_HEAD`] bytes (hyper's `max_buf_size`; a longer head is
//!   answered 431 and the connection closed), read within [`HEADER_TIMEOUT`] (hyper's
//!   `header_read_timeout`, which also runs while a keep-alive connection waits for its next
//!   request, so it is the idle timeout too);
//! - the number of connections: [`conns::MAX_CONNECTIONS`], the quietest shed first;
//! - a connection's life: [`MAX_LIFETIME`], then a graceful close with [`SHUTDOWN_GRACE`] to
//!   finish (a client that never reads its response cannot hold a place for longer).
//!
//! Requests have no body worth reading: GET and HEAD only (405 with `Allow` otherwise).

use super::Status;
use super::conns::{self, Slot, Table};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, LAST_MODIFIED};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The largest request head (request line and headers) read, in bytes. hyper's minimum.
pub(super) const MAX_HEAD: usize = 8 * 1024;
/// A request head must arrive within this time (also the keep-alive idle timeout).
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed gracefully after this long, whatever it does.
pub(super) const MAX_LIFETIME: Duration = Duration::from_secs(30);
/// How long a connection closing gracefully may take to finish its response.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The pause after a failed accept (out of file descriptors): no busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

const TEXT: &str = "text/plain; charset=utf-8";
/// The Prometheus text exposition format, version 0.0.4
/// (prometheus.io/docs/instrumenting/exposition_formats).
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON: &str = "application/json";

/// Accepts and serves connections forever: a failed accept (out of file descriptors) is
/// retried after a pause, never the end of the server.
pub(super) async fn serve(listener: tokio::net::TcpListener, status: Arc<RwLock<Status>>) {
    let table = Arc::new(Table::new(conns::MAX_CONNECTIONS));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // EMFILE, ECONNABORTED...: the next accept may succeed once places free up.
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // At the cap with nothing to shed: dropping the stream closes it at once.
        let Some(slot) = table.admit(Instant::now()) else {
            continue;
        };
        let id = slot.id();
        let task = tokio::spawn(connection(
            stream,
            slot,
            builder.clone(),
            Arc::clone(&status),
        ));
        table.started(id, task.abort_handle());
        // Let the new connection read its head before the next accept: under a flood of
        // connections, a scraper's request is parsed (and it stops being the quietest) at once.
        tokio::task::yield_now().await;
    }
}

/// Serves one connection within its lifetime; its place in the table goes with it.
async fn connection(
    stream: tokio::net::TcpStream,
    slot: Slot,
    builder: http1::Builder,
    status: Arc<RwLock<Status>>,
) {
    let activity = slot.activity();
    let service = service_fn(move |req: Request<Incoming>| {
        let now = Instant::now();
        activity.touch(now);
        let status = status.read().unwrap_or_else(PoisonError::into_inner);
        let response = respond(req.method(), req.uri().path(), &status, now);
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = tokio::time::sleep(MAX_LIFETIME) => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
    drop(slot);
}

/// The response to `method path`, from what the sampler has produced by `now`.
pub(super) fn respond(
    method: &Method,
    path: &str,
    status: &Status,
    now: Instant,
) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/findings" | "/healthz");
    if !known {
        return reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found; try /metrics, /findings or /healthz\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET or HEAD only\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => sampled(status, PROMETHEUS, |s| s.metrics.clone()),
        "/findings" => sampled(status, JSON, |s| s.findings.clone()),
        _ => match status.health(now) {
            Ok(()) => reply(StatusCode::OK, TEXT, "ok\n"),
            Err(reason) => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{reason}\n")),
        },
    }
}

/// The last sample's body with its completion time as `Last-Modified`; 503 with the reason
/// before the first sample, and while the last attempt failed.
fn sampled(
    status: &Status,
    content_type: &'static str,
    body: impl Fn(&super::Sample) -> Bytes,
) -> Response<Full<Bytes>> {
    if let Some(f) = &status.failure {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!("the last sample failed: {f}\n"),
        );
    }
    let Some(sample) = &status.last else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "no sample has completed yet\n",
        );
    };
    let mut r = reply(StatusCode::OK, content_type, body(sample));
    let printer = jiff::fmt::rfc2822::DateTimePrinter::new();
    if let Ok(date) = printer.timestamp_to_rfc9110_string(&sample.completed_at)
        && let Ok(v) = HeaderValue::from_str(&date)
    {
        r.headers_mut().insert(LAST_MODIFIED, v);
    }
    r
}

fn reply(
    code: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests {
    use super::super::Sample;
    use super::*;
    use http_body_util::BodyExt;

    fn body(r: Response<Full<Bytes>>) -> (u16, String, Vec<(String, String)>) {
        let code = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        // `Full` is ready at once; a bare runtime collects it.
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(r.into_body().collect())
            .unwrap();
        let text = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
        (code, text, headers)
    }

    fn with_sample() -> Status {
        let t0 = Instant::now();
        let mut s = Status::new(t0, Duration::from_secs(30));
        s.last = Some(Sample {
            metrics: Bytes::from_static(b"nodescope_build_info 1\n"),
            findings: Bytes::from_static(b"{\"schema\":\"nodescope-check/1\"}\n"),
            completed: t0,
            completed_at: "2026-11-22T03:00:00Z".parse().unwrap(),
        });
        s
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405_with_allow() {
        let s = with_sample();
        let now = s.started;
        let (code, text, _) = body(respond(&Method::GET, "/", &s, now));
        assert_eq!(
            (code, text.as_str()),
            (404, "not found; try /metrics, /findings or /healthz\n")
        );
        let (code, text, headers) = body(respond(&Method::POST, "/metrics", &s, now));
        assert_eq!((code, text.as_str()), (405, "GET or HEAD only\n"));
        assert!(headers.contains(&("allow".into(), "GET, HEAD".into())));
    }

    #[test]
    fn samples_are_served_with_their_time_and_503_before_the_first_or_after_a_failure() {
        let mut s = with_sample();
        let now = s.started;
        let (code, text, headers) = body(respond(&Method::GET, "/findings", &s, now));
        assert_eq!(
            (code, text.as_str()),
            (200, "{\"schema\":\"nodescope-check/1\"}\n")
        );
        assert!(headers.contains(&("content-type".into(), JSON.into())));
        assert!(headers.contains(&(
            "last-modified".into(),
            "Sun, 22 Nov 2026 03:00:00 GMT".into()
        )));
        let (code, _, headers) = body(respond(&Method::HEAD, "/metrics", &s, now));
        assert_eq!(code, 200);
        assert!(headers.contains(&("content-type".into(), PROMETHEUS.into())));
        s.failure = Some("could not open the host: gone".into());
        let (code, text, _) = body(respond(&Method::GET, "/metrics", &s, now));
        assert_eq!(
            (code, text.as_str()),
            (
                503,
                "the last sample failed: could not open the host: gone\n"
            )
        );
        s.failure = None;
        s.last = None;
        let (code, text, _) = body(respond(&Method::GET, "/findings", &s, now));
        assert_eq!(
            (code, text.as_str()),
            (503, "no sample has completed yet\n")
        );
    }

    #[test]
    fn healthz_is_ok_then_503_with_the_reason() {
        let s = with_sample();
        let (code, text, _) = body(respond(&Method::GET, "/healthz", &s, s.started));
        assert_eq!((code, text.as_str()), (200, "ok\n"));
        let later = s.started + Duration::from_secs(91);
        let (code, text, _) = body(respond(&Method::GET, "/healthz", &s, later));
        assert_eq!(code, 503);
        assert!(
            text.starts_with("no sample has completed for 91 s (interval 30 s)"),
            "{text}"
        );
    }
}
