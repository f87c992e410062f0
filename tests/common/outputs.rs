//! Everything a node's operator sees from nodescope beyond a command's stdout: the answers of
//! `serve` and the screens of `top`, so the no-secrets and no-writes proofs can cover them too.

use super::watchdog::Watched;
use std::io::Read;
use std::process::{Command, Stdio};

/// The body of `GET path` from a server at `addr` (HTTP/1.1, one request per connection).
pub fn http_get(addr: &str, path: &str) -> Vec<u8> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    raw
}

/// `nodescope ROOT_ARGS serve` (under `wrapper`, e.g. strace), asked for /metrics, /findings
/// and /healthz once a sample has completed; then stopped. Returns each path's whole response.
pub fn serve_responses(wrapper: &[String], root_args: &[&str]) -> Vec<(String, Vec<u8>)> {
    use std::io::BufRead;
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(env!("CARGO_BIN_EXE_nodescope"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_nodescope")),
    };
    let (mut child, _dog) = cmd
        .args(root_args)
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", "1"])
        .env_remove("NODESCOPE_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .watched_spawn(std::time::Duration::from_secs(90))
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("serving"), "{line:?}");
    // Two intervals: a sample has completed, so /healthz and /findings have something to say.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let out = ["/metrics", "/findings", "/healthz"]
        .iter()
        .map(|p| (format!("serve {p}"), http_get(&addr, p)))
        .collect();
    // The whole group (a wrapper and nodescope under it), as a SIGTERM from systemd would.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    out
}

/// `nodescope ROOT_ARGS top` in a real terminal (tmux): every view drawn in turn, each screen
/// as the terminal showed it, then q. `wrapper` is put before the binary (e.g. strace).
pub fn top_screens(
    wrapper: &str,
    root_args: &str,
    session: &str,
    done: &std::path::Path,
) -> Vec<(String, Vec<u8>)> {
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let shell = format!(
        "{wrapper} {bin} {root_args} top --interval 1; echo $? > {}",
        done.display()
    );
    let tmux = |args: &[&str]| Command::new("tmux").args(args).watched_status().unwrap();
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .stderr(std::process::Stdio::null())
                .watched_status();
        }
    }
    assert!(
        tmux(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "120",
            "-y",
            "40",
            &shell
        ])
        .success()
    );
    let _session = Kill(session.to_string());
    let pane = || {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", session])
            .watched_output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let started = std::time::Instant::now();
    while !pane().contains("[1 Overview]") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the TUI never drew:\n{}",
            pane()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut screens = Vec::new();
    for key in ["2", "3", "4", "5", "6", "7", "1"] {
        tmux(&["send-keys", "-t", session, key]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        screens.push((format!("top view {key}"), pane().into_bytes()));
    }
    // Two more samples at --interval 1, then quit.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    tmux(&["send-keys", "-t", session, "q"]);
    while !done.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the TUI did not quit"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(done).unwrap().trim(), "0");
    screens
}

pub fn tmux_missing() -> bool {
    Command::new("tmux").arg("-V").watched_output().is_err()
}
