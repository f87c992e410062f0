//! The live TUI (`nodescope top`, or `nodescope` alone on a terminal): what an SRE looks at
//! while the node burns. ratatui on crossterm.
//!
//! - [`sampler`] builds snapshots on its own thread at `--interval` into a ring of history;
//!   the input loop never waits on I/O, and a slow collection shows as `stale`.
//! - [`app`] holds the view state and maps keys to changes of it.
//! - [`views`]: each view is a pure function of (sample, history, view state) drawing into a
//!   frame; adding one is one file and one line in [`views::VIEWS`].
//! - [`screen`] draws the frame: header, the current view, the tab bar, overlays.
//! - [`terminal`] holds the terminal and gives it back on quit, panic and SIGTERM/SIGHUP/SIGINT.

pub mod app;
pub mod sampler;
pub mod screen;
pub mod terminal;
pub mod theme;
pub mod views;

use crate::source::Host;
use app::App;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use sampler::{History, Sample};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

/// Opens a fresh view of the host for each sample (a live host, or a bundle once).
pub type OpenHost = Box<dyn Fn() -> anyhow::Result<Box<dyn Host>> + Send>;

/// Adds to a snapshot what the node itself cannot say (a bundle's cluster/*.json).
pub type Enrich = Box<dyn FnOnce(&mut crate::model::Snapshot)>;

/// One frame of the first view, `width` x `height`, as plain text lines (trailing blanks
/// trimmed): what `top --once` prints for a ticket. No terminal is touched.
pub fn once(
    open: OpenHost,
    enrich: Option<Enrich>,
    width: u16,
    height: u16,
) -> anyhow::Result<String> {
    let mut first = sampler::sample(open()?.as_ref());
    if let Some(e) = enrich {
        e(&mut first.snap);
        first.findings = crate::analyze::analyze(&first.snap);
    }
    let mut history = History::default();
    history.push(&first);
    let mut app = App::new(Duration::from_secs(2), false, false);
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut term = ratatui::Terminal::new(backend)?;
    term.draw(|f| screen::draw(f, &first, &history, &mut app))?;
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// Runs the TUI until the user quits. `live` false: the host is a bundle, sampled once.
/// `enrich` is applied to the first sample (a bundle's API objects: restarts, Pending pods).
pub fn run(
    open: OpenHost,
    interval: Duration,
    live: bool,
    color: bool,
    enrich: Option<Enrich>,
    debug_timings: bool,
) -> anyhow::Result<ExitCode> {
    // Collect the first sample before touching the terminal: an unreadable host is an error
    // on a normal screen, and the first frame is never empty.
    let mut carry = crate::collect::Carry::new();
    let timings = crate::collect::Timings::when(debug_timings);
    let mut first = sampler::sample_with(open()?.as_ref(), &mut carry, timings);
    if let Some(e) = enrich {
        e(&mut first.snap);
        first.findings = crate::analyze::analyze(&first.snap);
    }
    let mut summary = crate::collect::timings::Summary::default();
    summary.add(&first.timings);
    let mut history = History::default();
    history.push(&first);
    let (tx, rx) = mpsc::channel::<Sample>();
    if live {
        sampler::spawn(open, interval, tx, carry, debug_timings);
    }
    let mut app = App::new(interval, live, color);
    let mut current = first;
    // Draw only when something changed: a sample, a key, a resize, or (once a second) the
    // staleness check; an idle TUI costs nothing between samples.
    let mut dirty = true;
    let mut last_draw = std::time::Instant::now();
    let mut session = terminal::Session::enter()?;
    let result = (|| -> anyhow::Result<()> {
        loop {
            // A signal or a hung-up terminal ends the loop within one poll; `leave` restores,
            // then dies of it.
            if session.should_end() {
                return Ok(());
            }
            while let Ok(s) = rx.try_recv() {
                summary.add(&s.timings);
                history.push(&s);
                current = s;
                dirty = true;
            }
            let stale = live && current.at.elapsed() > interval * 2 + Duration::from_secs(1);
            if stale != app.stale {
                app.stale = stale;
                dirty = true;
            }
            if dirty || last_draw.elapsed() > Duration::from_secs(1) {
                let drawing = std::time::Instant::now();
                session
                    .terminal
                    .draw(|f| screen::draw(f, &current, &history, &mut app))?;
                if debug_timings {
                    summary.add_phase("render", drawing.elapsed());
                }
                dirty = false;
                last_draw = std::time::Instant::now();
            }
            // A signal interrupts the poll (EINTR): that is the signal's path, not an error.
            let ready = event::poll(Duration::from_millis(100));
            if session.should_end() {
                return Ok(());
            }
            if ready? {
                match event::read()? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        if app.key(k, &current) {
                            return Ok(());
                        }
                        dirty = true;
                    }
                    Event::Mouse(m) => {
                        app.mouse(m, &current);
                        dirty = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
        }
    })();
    // After a signal the terminal may be gone (SIGHUP): its errors are not the run's.
    let left = session.leave();
    if debug_timings {
        eprint!("{}", summary.lines());
    }
    if let Some(sig) = left {
        return Ok(ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)));
    }
    result?;
    Ok(ExitCode::SUCCESS)
}
