//! The TUI in a real terminal: tmux runs a shell, the shell runs `nodescope top` on a fixture
//! bundle, keys are sent as a user would type them, and the pane is captured after each step.
//! After `q` the shell must be back, its prompt working, the TUI gone from the screen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::Watched;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A tmux session running `sh` at 100x30, killed on drop or by its watchdog after 90 s (which
/// also ends every process in it: they lose their terminal).
struct Session {
    name: String,
    stop_watchdog: mpsc::Sender<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.stop_watchdog.send(());
        kill_session(&self.name);
    }
}

fn kill_session(name: &str) {
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", name])
        .watched_status();
}

impl Session {
    /// A new session whose shell prompt is `prompt$ `; `None` (skip or fail) without tmux.
    fn start(tag: &str) -> Option<Session> {
        if Command::new("tmux").arg("-V").watched_output().is_err() {
            common::live::skip_or_fail("tmux is not installed (.ci/run installs it)");
            return None;
        }
        let name = format!(
            "nodescope-{tag}-{}-{}",
            std::process::id(),
            common::live::random_hex(4)
        );
        let st = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "100", "-y", "30"])
            .arg("PS1='prompt$ ' exec sh")
            .watched_status()
            .unwrap();
        assert!(st.success());
        let (stop_watchdog, stopped) = mpsc::channel::<()>();
        let watched = name.clone();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(90))
            {
                eprintln!("watchdog: killing tmux session {watched} after 90 s");
                kill_session(&watched);
            }
        });
        let s = Session {
            name,
            stop_watchdog,
        };
        s.wait_for("prompt$");
        Some(s)
    }

    /// A tmux format of the pane, e.g. `#{pane_pid}`, `#{alternate_on}`, `#{pane_tty}`.
    fn show(&self, format: &str) -> String {
        let o = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, format])
            .watched_output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .watched_status()
            .unwrap();
        assert!(st.success());
    }

    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .watched_output()
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
    let Some(s) = Session::start("tui") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[&format!("{bin} --bundle {} top", bundle.display()), "Enter"]);

    let pane = s.wait_for("[1 Overview]");
    assert!(pane.contains("CRITICAL memory.kernel-oom-kill"), "{pane}");
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
    assert!(pane.contains("(e: explain, PgDn/PgUp scroll)"), "{pane}");
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

/// The pid of the pane shell's one child (the command it runs in the foreground).
fn foreground_child(s: &Session) -> u32 {
    let shell = s.show("#{pane_pid}");
    let started = Instant::now();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the shell {shell} runs nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The local modes `stty -a` prints, as words: `icanon`, `-echo`, ...
fn stty_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Starts `top` on a fixture in a fresh shell, sends `signal` to the nodescope process, and
/// asserts that the shell got its terminal back: the alternate screen left, canonical mode
/// and echo on (as `stty -a` in the pane and from outside show), the prompt working.
fn top_gives_the_terminal_back_after(signal: &str) {
    let Some(s) = Session::start(&format!("sig{}", signal.to_lowercase())) else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[&format!("{bin} --bundle {} top", bundle.display()), "Enter"]);
    s.wait_for("[1 Overview]");
    assert_eq!(
        s.show("#{alternate_on}"),
        "1",
        "the TUI is on the alternate screen"
    );
    let pid = foreground_child(&s);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "nodescope");
    // The shell's own `kill` (procps' /bin/kill may not be installed).
    let st = Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .watched_status()
        .unwrap();
    assert!(st.success());

    // It leaves the alternate screen, then dies of the signal: the shell reports 128 + its
    // number. (A shell abandons the rest of a command list after SIGINT, so `$?` is asked in
    // a command of its own.)
    let started = Instant::now();
    while s.show("#{alternate_on}") != "0" {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still on the alternate screen:\n{}",
            s.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let number = match signal {
        "TERM" => 15,
        "HUP" => 1,
        "INT" => 2,
        _ => unreachable!(),
    };
    s.wait_for("prompt$");
    s.keys(&["echo top-exit=$?", "Enter"]);
    let pane = s.wait_for(&format!("top-exit={}", 128 + number));
    assert!(
        !pane.contains("[1 Overview]"),
        "the TUI left the screen:\n{pane}"
    );

    let tty = s.show("#{pane_tty}");
    let outside = Command::new("stty")
        .args(["-a", "-F", &tty])
        .watched_output()
        .unwrap();
    let outside = stty_words(&String::from_utf8_lossy(&outside.stdout));
    for mode in ["icanon", "echo", "icrnl", "isig"] {
        assert!(
            outside.iter().any(|w| w == mode),
            "{mode} is off on {tty}: {outside:?}"
        );
    }
    s.keys(&["stty -a; echo stty-done-$((6*7))", "Enter"]);
    let pane = s.wait_for("stty-done-42");
    let words = stty_words(&pane);
    assert!(words.iter().any(|w| w == "icanon"), "{pane}");
    assert!(words.iter().any(|w| w == "echo"), "{pane}");
    assert!(
        !words.iter().any(|w| w == "-icanon" || w == "-echo"),
        "{pane}"
    );
}

#[test]
fn tmux_sigterm_to_top_restores_the_terminal() {
    top_gives_the_terminal_back_after("TERM");
}

#[test]
fn tmux_sighup_to_top_restores_the_terminal() {
    top_gives_the_terminal_back_after("HUP");
}

/// On a terminal, but reading keys from /dev/null: `top` refuses with one line and exit 3,
/// and the screen is untouched (no alternate screen, no raw mode).
#[test]
fn tmux_top_with_stdin_not_a_terminal_exits_3_with_one_line() {
    let Some(s) = Session::start("nostdin") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[
        &format!(
            "{bin} --bundle {} top </dev/null; echo top-exit=$?",
            bundle.display()
        ),
        "Enter",
    ]);
    // The typed line holds `top-exit=$?`; only the shell's output holds the number.
    let pane = s.wait_for("top-exit=3");
    assert!(
        pane.contains("nodescope: top needs a terminal; `nodescope check` prints the report"),
        "{pane}"
    );
    assert_eq!(s.show("#{alternate_on}"), "0");
}

#[test]
fn tmux_sigint_to_top_restores_the_terminal() {
    // Ctrl-C is a key in raw mode; `kill -INT` (a supervisor, a script) is the signal.
    top_gives_the_terminal_back_after("INT");
}

/// The terminal goes away under `top` (the tmux pane killed, as an SSH session drops): the
/// kernel signals only the pane's shell, and a hung-up terminal reads as endless end-of-file.
/// `top` must notice and end, not spin on that end-of-file for ever (it once did, at half a
/// core, orphaned).
#[test]
fn tmux_top_ends_when_its_terminal_hangs_up() {
    let Some(s) = Session::start("hangup") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[&format!("{bin} --bundle {} top", bundle.display()), "Enter"]);
    s.wait_for("[1 Overview]");
    let pid = foreground_child(&s);
    kill_session(&s.name);
    let started = Instant::now();
    loop {
        // Gone, or a zombie waiting for its new parent to reap it.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|st| {
                st.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').next().map(String::from))
            });
        if state.as_deref().is_none_or(|st| st == "Z" || st == "X") {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .watched_status();
            panic!("top (pid {pid}) still runs 10 s after its terminal hung up: state {state:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tmux_top_debug_timings_prints_one_line_per_phase_when_it_exits() {
    let Some(s) = Session::start("timings") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let bin = env!("CARGO_BIN_EXE_nodescope");
    let bundle = common::fixture("oom-memcg-v2-systemd");
    s.keys(&[
        &format!(
            "{bin} --bundle {} top --debug-timings 2>{}",
            bundle.display(),
            err.display()
        ),
        "Enter",
    ]);
    s.wait_for("[1 Overview]");
    s.keys(&["q"]);
    s.wait_for("prompt$");
    s.keys(&["echo top-done", "Enter"]);
    s.wait_for("top-done");
    let text = std::fs::read_to_string(&err).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        // `top` adds the cluster once, before its samples (tui::Enrich): no cluster phase.
        common::DEBUG_PHASES
            .iter()
            .filter(|p| **p != "cluster")
            .copied()
            .collect::<Vec<_>>(),
        "{text}"
    );
    // A bundle is sampled once: the collectors have a first sample and no later one; frames
    // are drawn after it.
    let node = text.lines().next().unwrap();
    assert!(
        node.starts_with("timing node first ") && node.ends_with(" ms, no later sample"),
        "{node}"
    );
    let render = text.lines().last().unwrap();
    assert!(
        render.starts_with("timing render first -, mean "),
        "{render}"
    );
}
