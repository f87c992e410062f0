//! Every TUI view on two fixtures at 100x30 and 80x24, drawn on ratatui's TestBackend and
//! compared with the committed snapshots (tests/snapshots). A layout change shows up as a
//! reviewable diff; `INSTA_UPDATE=always cargo test --test tests tui::` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use nodescope::source::bundle::BundleHost;
use nodescope::tui::app::App;
use nodescope::tui::sampler::{History, sample};
use nodescope::tui::screen::draw;
use nodescope::tui::views::VIEWS;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

/// The text `app` draws of sample `s` (its only history) on a `w`x`h` test terminal, one line
/// per row with trailing blanks trimmed.
pub(crate) fn drawn(s: &nodescope::tui::sampler::Sample, app: &mut App, w: u16, h: u16) -> String {
    let mut history = History::default();
    history.push(s);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, s, &history, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(fixture: &str, view: usize, w: u16, h: u16, keys: &str) -> String {
    let host = BundleHost::open(&common::fixture(fixture)).unwrap();
    let s = sample(&host);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = view;
    for c in keys.chars() {
        let k =
            ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Char(c));
        assert!(!app.key(k, &s));
    }
    drawn(&s, &mut app, w, h)
}

#[test]
fn every_view_on_two_fixtures_at_two_sizes() {
    for fixture in ["oom-memcg-v2-systemd", "dns-conntrack-v1-crio"] {
        for (w, h) in [(100, 30), (80, 24)] {
            for (i, v) in VIEWS.iter().enumerate() {
                let text = screen(fixture, i, w, h, "");
                insta::assert_snapshot!(
                    format!("{fixture}-{}-{w}x{h}", v.name().to_lowercase()),
                    text
                );
            }
        }
    }
}

#[test]
fn the_first_screen_answers_first_and_fits_80x24() {
    let s = screen("oom-memcg-v2-systemd", 0, 80, 24, "");
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[1].starts_with("CRITICAL memory.kernel-oom-kill"),
        "{s}"
    );
    let verdict = format!("{} {}", lines[2].trim(), lines[3].trim());
    assert!(verdict.contains("killed by its 256Mi limit 5m ago"), "{s}");
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    assert!(lines[23].contains("[1 Overview]"));
}

#[test]
fn filter_sort_help_and_explain_change_what_is_drawn() {
    // Pods filtered to nginx: one row.
    let s = screen("oom-memcg-v2-systemd", 1, 100, 30, "/nginx");
    assert!(s.contains("shop/web-6d9f8c7b5-h2j4k/nginx"));
    assert!(!s.contains("coredns"), "{s}");
    assert!(
        s.contains("/nginx_"),
        "the filter being typed shows in the tab bar"
    );
    // Sort by name: coredns before kube-proxy before shop.
    let s = screen("oom-memcg-v2-systemd", 1, 100, 30, "sss");
    let pos = |n: &str| s.find(n).unwrap();
    assert!(pos("kube-system/coredns") < pos("kube-system/kube-proxy"));
    assert!(pos("kube-system/kube-proxy") < pos("shop/checkout"));
    assert!(s.contains("sorted by name"));
    // Help overlay lists every binding.
    let s = screen("oom-memcg-v2-systemd", 0, 100, 30, "?");
    for (k, _) in nodescope::tui::app::BINDINGS {
        assert!(s.contains(k), "{k} missing from help:\n{s}");
    }
    // Explain the selected finding.
    let s = screen("oom-memcg-v2-systemd", 2, 100, 30, "e");
    assert!(s.contains("WHAT IT MEANS"), "{s}");
}

#[test]
fn restarts_show_when_the_api_knows_them() {
    let host = BundleHost::open(&common::fixture("healthy-v2-systemd-containerd")).unwrap();
    let mut s = sample(&host);
    let dump = common::fixture("cluster-node-a");
    let data = nodescope::source::cluster::from_files("dump".into(), Some("node-a"), &|n| {
        let f = std::fs::File::open(dump.join(n)).ok()?;
        Some(Ok(Box::new(f) as Box<dyn std::io::Read>))
    });
    nodescope::collect::cluster::attach(&mut s.snap, &data);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = 1;
    let text = drawn(&s, &mut app, 100, 30);
    let nginx = text
        .lines()
        .find(|l| l.contains("web-6d9f8c7b5-h2j4k/nginx"))
        .unwrap();
    // Restarted once (the API's restartCount), the last run ended by its limit (the kernel's
    // kill record).
    assert!(
        nginx.trim_end().ends_with(" 1 oom"),
        "nginx restarted once: {nginx}"
    );
}

/// The RST column on the GPU fixtures, without the API: the vLLM run that ended in a CUDA OOM
/// is `gpu`, the worker its limit killed is `oom` (never both), and the trainer whose log ends
/// in NCCL's full-/dev/shm error is `err` (an error, not GPU memory).
#[test]
fn the_restart_column_tells_gpu_oom_from_kernel_oom_and_log_errors() {
    let cell = |fixture: &str, who: &str| {
        let host = BundleHost::open(&common::fixture(fixture)).unwrap();
        let s = sample(&host);
        let mut app = App::new(Duration::from_secs(2), false, false);
        app.view = 1;
        let text = drawn(&s, &mut app, 120, 30);
        let row = text
            .lines()
            .find(|l| l.contains(who))
            .unwrap_or_else(|| panic!("{who}:\n{text}"));
        row.split_whitespace().last().unwrap().to_string()
    };
    assert_eq!(cell("gpu-cuda-oom", "llm/vllm-7b-0/vllm"), "gpu");
    assert_eq!(
        cell("gpu-cuda-oom", "embed-worker-5c9d7f6b8-q4m2x/worker"),
        "oom"
    );
    assert_eq!(cell("gpu-shm-small", "ml/ddp-train-0/trainer"), "err");
    assert_eq!(
        cell("gpu-memory-near-full", "llm/vllm-llama3-8b-0/vllm"),
        "-"
    );
}

/// The findings view at 120x35 after `e` (explain) and PgDn: the detail pane scrolled down to
/// WHAT TO CHANGE, which the pane cut off before it could scroll (issue 22).
#[test]
fn the_detail_pane_scrolls_with_page_down() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent};
    let host = BundleHost::open(&common::fixture("oom-memcg-v2-systemd")).unwrap();
    let s = sample(&host);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = VIEWS.iter().position(|v| v.name() == "Findings").unwrap();
    let draw_text = |app: &mut App| drawn(&s, app, 120, 35);
    assert!(!app.key(KeyEvent::from(KeyCode::Char('e')), &s));
    let top = draw_text(&mut app);
    // The heading fits; the end of what to change, under it, does not.
    assert!(!top.contains("overpack the node."), "{top}");
    assert!(!app.key(KeyEvent::from(KeyCode::PageDown), &s));
    assert!(!app.key(KeyEvent::from(KeyCode::PageDown), &s));
    let down = draw_text(&mut app);
    assert!(down.contains("overpack the node."), "{down}");
    assert!(
        down.contains("explain memory.kernel-oom-kill [line "),
        "{down}"
    );
    insta::assert_snapshot!("findings-explain-after-pgdn-120x35", down);
    // PgUp twice: back at the top, the same screen as before.
    assert!(!app.key(KeyEvent::from(KeyCode::PageUp), &s));
    assert!(!app.key(KeyEvent::from(KeyCode::PageUp), &s));
    assert_eq!(draw_text(&mut app), top);
}

/// Pods view: the container the kernel OOM-killed is drawn in the critical colour (red), the
/// others are not; at 80 columns the footer says which columns were dropped.
#[test]
fn oom_killed_containers_are_red_and_dropped_columns_are_said() {
    let host = BundleHost::open(&common::fixture("oom-memcg-v2-systemd")).unwrap();
    let s = sample(&host);
    let mut history = History::default();
    history.push(&s);
    let mut app = App::new(Duration::from_secs(2), false, true);
    app.view = VIEWS.iter().position(|v| v.name() == "Pods").unwrap();
    let (w, h) = (100u16, 30u16);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, &s, &history, &mut app)).unwrap();
    let buf = term.backend().buffer().clone();
    let row = |needle: &str| {
        (0..h)
            .find(|&y| {
                let l: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
                l.contains(needle)
            })
            .unwrap_or_else(|| panic!("no row {needle}"))
    };
    let red = ratatui::style::Color::Red;
    // Sorted by working set, the selected (reversed) row is checkout's, the first; nginx, the
    // OOM-killed one, is third.
    assert_eq!(app.state().selected, 0);
    let nginx = row("shop/web-6d9f8c7b5-h2j4k/nginx");
    let coredns = row("kube-system/coredns");
    let fg = |y: u16| buf[(0, y)].fg;
    assert_eq!(fg(nginx), red, "nginx row");
    assert_ne!(fg(coredns), red, "coredns row");
    let narrow = screen("oom-memcg-v2-systemd", app.view, 80, 24, "");
    assert!(
        narrow.contains("sorted by working set (s); QOS and PEAK hidden below 96 columns"),
        "{narrow}"
    );
}

/// Enter on a finding about a container opens the Pods view filtered to that container: its
/// working set against its limit, peak, OOM kills and restarts, in one row.
#[test]
fn enter_on_a_finding_drills_to_its_pod() {
    let findings = VIEWS.iter().position(|v| v.name() == "Findings").unwrap();
    let host = BundleHost::open(&common::fixture("oom-memcg-v2-systemd")).unwrap();
    let s = sample(&host);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = findings;
    let enter =
        ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Enter);
    assert!(!app.key(enter, &s));
    assert_eq!(VIEWS[app.view].name(), "Pods");
    assert_eq!(app.state().filter, "shop/web-6d9f8c7b5-h2j4k/nginx");
    let text = drawn(&s, &mut app, 100, 30);
    assert!(
        text.contains("1 containers, sorted by working set (s)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("shop/web-6d9f8c7b5-h2j4k/nginx"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.ends_with("255Mi    1    oom"), "{row}");
    insta::assert_snapshot!("findings-enter-drills-to-pod-100x30", text);
}

/// Enter on a pod in the Pods view opens the Findings view filtered to that pod: both of
/// nginx's findings (the kill and the limit near its peak) and nothing about other pods.
#[test]
fn enter_on_a_pod_drills_to_its_findings() {
    let pods = VIEWS.iter().position(|v| v.name() == "Pods").unwrap();
    let host = BundleHost::open(&common::fixture("oom-memcg-v2-systemd")).unwrap();
    let s = sample(&host);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = pods;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};
    let enter = KeyEvent::from(KeyCode::Enter);
    // `/shop/web` Enter keeps the filter; the next Enter drills.
    for c in "/shop/web".chars() {
        assert!(!app.key(KeyEvent::from(KeyCode::Char(c)), &s));
    }
    assert!(!app.key(enter, &s));
    assert_eq!(app.state().filter, "shop/web");
    assert!(!app.key(enter, &s));
    assert_eq!(VIEWS[app.view].name(), "Findings");
    assert_eq!(app.state().filter, "shop/web-6d9f8c7b5-h2j4k");
    let text = drawn(&s, &mut app, 120, 30);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("CRITICAL") || l.starts_with("WARNING") || l.starts_with("INFO"))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].contains("memory.kernel-oom-kill"), "{text}");
    assert!(rows[1].contains("memory.limit-near-peak"), "{text}");
}

/// The mouse wheel scrolls the Findings detail pane three lines a notch, and moves the
/// selection in a list view.
#[test]
fn the_mouse_wheel_scrolls_the_detail_pane_and_moves_through_lists() {
    use ratatui::crossterm::event::{KeyModifiers, MouseEvent, MouseEventKind};
    let host = BundleHost::open(&common::fixture("oom-memcg-v2-systemd")).unwrap();
    let s = sample(&host);
    let wheel = |kind| MouseEvent {
        kind,
        column: 60,
        row: 10,
        modifiers: KeyModifiers::NONE,
    };
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = VIEWS.iter().position(|v| v.name() == "Findings").unwrap();
    app.mouse(wheel(MouseEventKind::ScrollDown), &s);
    app.mouse(wheel(MouseEventKind::ScrollDown), &s);
    assert_eq!(app.state().detail_scroll, 6);
    app.mouse(wheel(MouseEventKind::ScrollUp), &s);
    assert_eq!(app.state().detail_scroll, 3);
    assert_eq!(app.state().selected, 0);
    app.view = VIEWS.iter().position(|v| v.name() == "Pods").unwrap();
    app.mouse(wheel(MouseEventKind::ScrollDown), &s);
    assert_eq!(app.state().selected, 1);
    app.mouse(wheel(MouseEventKind::ScrollUp), &s);
    assert_eq!(app.state().selected, 0);
}

/// A global OOM's victim on cgroup v1 (whose memory.oom_control counts only its own limit's
/// kills) shows the kernel log's kill in the Pods view's OOM column, not 0.
#[test]
fn a_global_oom_victim_counts_its_kill() {
    let host = BundleHost::open(&common::fixture("oom-global-v1-cgroupfs")).unwrap();
    let s = sample(&host);
    let mut app = App::new(Duration::from_secs(2), false, false);
    app.view = VIEWS.iter().position(|v| v.name() == "Findings").unwrap();
    let enter =
        ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Enter);
    assert!(!app.key(enter, &s));
    assert_eq!(app.state().filter, "payments/api-7c8d9f6b5-r2t4y/api");
    let text = drawn(&s, &mut app, 100, 30);
    let row = text
        .lines()
        .find(|l| l.starts_with("payments/api-7c8d9f6b5-r2t4y/"))
        .expect("the victim's row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    // ... PEAK OOM RST: the OOM column is the second to last; RST says what ended the run
    // (a node OOM; no API here, so no restart count).
    assert_eq!(cols[cols.len() - 2], "1", "{row}");
    assert_eq!(cols[cols.len() - 1], "node", "{row}");
}
