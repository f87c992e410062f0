//! The TUI in a real terminal: tmux runs a shell, the shell runs `nodescope top` on a fixture
//! bundle, keys are sent as a user would type them, and the pane is captured after each step.
//! After `q` the shell must be back, its prompt working, the TUI gone from the screen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;
use std::process::Command;
use std::time::{Duration, Instant};

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

impl Session {
    fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until the pane shows `want` (the TUI redraws asynchronously).
    fn wait_for(&self, want: &str) -> String {
        let started = Instant::now();
        loop {
            let pane = self.capture();
            if pane.contains(want) {
                return pane;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{want:?} never appeared; the pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn tmux_drives_the_tui_and_the_shell_prompt_survives() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let s = Session(format!("nodescope-tui-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "100", "-y", "30"])
        .arg("PS1='prompt$ ' exec sh")
        .status()
        .unwrap();
    assert!(st.success());
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[&format!("{bin} --bundle {} top", bundle.display()), "Enter"]);

    let pane = s.wait_for("[1 Overview]");
    assert!(pane.contains("CRIT memory.kernel-oom-kill"), "{pane}");
    assert!(pane.contains("memory.available"), "{pane}");

    s.keys(&["2"]);
    let pane = s.wait_for("NAMESPACE/POD/CONTAINER");
    assert!(pane.contains("kube-system/coredns"), "{pane}");
    s.keys(&["/", "n", "g", "i", "n", "x", "Enter"]);
    let pane = s.wait_for("1 containers, sorted");
    assert!(pane.contains("shop/web-6d9f8c7b5-h2j4k/nginx"), "{pane}");
    assert!(
        !pane.contains("kube-system/coredns"),
        "filtered out:\n{pane}"
    );

    s.keys(&["Tab"]);
    let pane = s.wait_for("[3 Findings]");
    assert!(pane.contains("(e: explain)"), "{pane}");
    s.keys(&["e"]);
    s.wait_for("WHAT IT MEANS");

    s.keys(&["?"]);
    let pane = s.wait_for(" keys ");
    assert!(pane.contains("cycle the sort key"), "{pane}");
    s.keys(&["Escape"]);
    s.wait_for("? help");

    s.keys(&["q"]);
    s.wait_for("prompt$");
    s.keys(&["echo tui-done-$((6*7))", "Enter"]);
    let pane = s.wait_for("tui-done-42");
    assert!(
        !pane.contains("[1 Overview]"),
        "the TUI left the screen:\n{pane}"
    );
}
