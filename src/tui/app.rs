//! View state and key handling, in the habits of htop and k9s: Tab/Shift-Tab and 1-7 switch
//! views, arrows and j/k move, `/` filters, `s` sorts, Enter opens details, `e` explains,
//! `?` shows every binding, `q` or Ctrl-C quits.

use super::sampler::Sample;
use super::views::{VIEWS, ViewState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use std::time::Duration;

pub struct App {
    pub view: usize,
    /// One state per view, so switching back keeps the place.
    pub states: Vec<ViewState>,
    /// Typing a filter after `/`.
    pub filtering: bool,
    pub help: bool,
    pub interval: Duration,
    pub live: bool,
    pub color: bool,
    /// The last sample is older than two intervals: the collector is slow or stuck.
    pub stale: bool,
}

impl App {
    pub fn new(interval: Duration, live: bool, color: bool) -> Self {
        App {
            view: 0,
            states: vec![ViewState::default(); VIEWS.len()],
            filtering: false,
            help: false,
            interval,
            live,
            color,
            stale: false,
        }
    }

    pub fn state(&self) -> &ViewState {
        &self.states[self.view]
    }

    fn state_mut(&mut self) -> &mut ViewState {
        &mut self.states[self.view]
    }

    /// Applies a mouse event: the wheel scrolls the detail pane where there is one (three
    /// lines a notch, as terminals scroll), else moves the selection; the rest is ignored.
    pub fn mouse(&mut self, m: MouseEvent, sample: &Sample) {
        let detail = VIEWS[self.view].scrolls_detail();
        match m.kind {
            MouseEventKind::ScrollDown if detail => {
                let st = self.state_mut();
                st.detail_scroll = st.detail_scroll.saturating_add(3);
            }
            MouseEventKind::ScrollUp if detail => {
                let st = self.state_mut();
                st.detail_scroll = st.detail_scroll.saturating_sub(3);
            }
            MouseEventKind::ScrollDown => {
                self.key(KeyEvent::from(KeyCode::Down), sample);
            }
            MouseEventKind::ScrollUp => {
                self.key(KeyEvent::from(KeyCode::Up), sample);
            }
            _ => {}
        }
    }

    /// Applies a key; returns true to quit.
    pub fn key(&mut self, k: KeyEvent, sample: &Sample) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            return true;
        }
        if self.filtering {
            match k.code {
                KeyCode::Enter => self.filtering = false,
                KeyCode::Esc => {
                    self.filtering = false;
                    self.state_mut().filter.clear();
                }
                KeyCode::Backspace => {
                    self.state_mut().filter.pop();
                }
                KeyCode::Char(c) => {
                    let st = self.state_mut();
                    st.filter.push(c);
                    st.selected = 0;
                }
                _ => {}
            }
            return false;
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            return matches!(k.code, KeyCode::Char('q'));
        }
        let rows = VIEWS[self.view].rows(sample, self.state());
        let sorts = VIEWS[self.view].sorts().len();
        match k.code {
            KeyCode::Char('q') => return true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => self.view = (self.view + 1) % VIEWS.len(),
            KeyCode::BackTab => self.view = (self.view + VIEWS.len() - 1) % VIEWS.len(),
            KeyCode::Char(c @ '1'..='9') => {
                let i = c as usize - '1' as usize;
                if i < VIEWS.len() {
                    self.view = i;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let st = self.state_mut();
                st.selected = (st.selected + 1).min(rows.saturating_sub(1));
                st.detail_scroll = 0;
            }
            KeyCode::Up | KeyCode::Char('k') => {
                let st = self.state_mut();
                st.selected = st.selected.saturating_sub(1);
                st.detail_scroll = 0;
            }
            // Where a detail pane is shown, PgDn/PgUp scroll it (explain's WHAT TO CHANGE is at
            // the bottom); elsewhere they page the list.
            KeyCode::PageDown if VIEWS[self.view].scrolls_detail() => {
                let st = self.state_mut();
                st.detail_scroll = st.detail_scroll.saturating_add(10);
            }
            KeyCode::PageUp if VIEWS[self.view].scrolls_detail() => {
                let st = self.state_mut();
                st.detail_scroll = st.detail_scroll.saturating_sub(10);
            }
            KeyCode::PageDown => {
                let st = self.state_mut();
                st.selected = (st.selected + 10).min(rows.saturating_sub(1));
            }
            KeyCode::PageUp => {
                let st = self.state_mut();
                st.selected = st.selected.saturating_sub(10);
            }
            KeyCode::Home | KeyCode::Char('g') => self.state_mut().selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.state_mut().selected = rows.saturating_sub(1),
            KeyCode::Char('/') => self.filtering = true,
            KeyCode::Char('s') if sorts > 0 => {
                let st = self.state_mut();
                st.sort = (st.sort + 1) % sorts;
            }
            KeyCode::Enter => {
                if let Some((to, filter)) = VIEWS[self.view].drill(sample, self.state())
                    && let Some(i) = VIEWS.iter().position(|v| v.name() == to)
                {
                    self.view = i;
                    let st = self.state_mut();
                    st.filter = filter;
                    st.selected = 0;
                } else {
                    let st = self.state_mut();
                    st.detail = !st.detail;
                }
            }
            KeyCode::Char('e') => {
                let st = self.state_mut();
                st.explain = !st.explain;
                st.detail_scroll = 0;
            }
            KeyCode::Esc => {
                let st = self.state_mut();
                st.detail = false;
                st.explain = false;
                st.filter.clear();
            }
            _ => {}
        }
        false
    }
}

/// Every binding, for the help overlay (and the man page).
pub const BINDINGS: &[(&str, &str)] = &[
    ("1-7, Tab, Shift-Tab", "switch view"),
    ("Up/Down, j/k", "move the selection"),
    ("PgUp/PgDn, g/G", "page, first, last"),
    ("/", "filter rows (Enter keeps, Esc clears)"),
    ("s", "cycle the sort key"),
    (
        "Enter",
        "details of the selected row; a finding opens its pod in Pods, a pod its findings",
    ),
    (
        "PgDn PgUp",
        "scroll the detail pane (Findings), else page the list",
    ),
    (
        "mouse wheel",
        "scroll the detail pane (Findings), else move the selection",
    ),
    ("e", "explain the selected finding's rule"),
    ("Esc", "close details, clear the filter"),
    ("?", "this help (any key closes it)"),
    ("q, Ctrl-C", "quit"),
];
