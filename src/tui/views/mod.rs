//! The views. Each is a unit struct implementing [`View`]; [`VIEWS`] lists them in tab order
//! (the digit keys follow it).

mod disk;
mod dns;
mod findings;
mod gpu;
mod overview;
mod pods;
mod timeline;

use super::sampler::{History, Sample};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;

/// What a view draws from: the current sample, the history, its own state, the theme.
pub struct Ctx<'a> {
    pub sample: &'a Sample,
    pub history: &'a History,
    pub state: &'a ViewState,
    pub theme: Theme,
}

/// What every view may read of the interaction so far.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// Selected row of the current view's list.
    pub selected: usize,
    /// Case-insensitive substring filter on rows.
    pub filter: String,
    /// Index into the view's sort keys.
    pub sort: usize,
    /// Enter: the selected row's detail pane.
    pub detail: bool,
    /// `e`: the selected finding's explanation.
    pub explain: bool,
    /// Lines the detail pane is scrolled down by (PgDn/PgUp where the view has one); back to
    /// the top when the selection or the pane's content changes.
    pub detail_scroll: u16,
}

pub trait View: Sync {
    /// The tab title.
    fn name(&self) -> &'static str;
    /// Enter on the selected row: the view to go to and the filter to set there (a finding's
    /// pod in the Pods view); `None` keeps Enter's default (the row's details).
    fn drill(&self, _sample: &Sample, _state: &ViewState) -> Option<(&'static str, String)> {
        None
    }
    /// Whether the view shows a detail pane that PgUp/PgDn scroll (else they page the list).
    fn scrolls_detail(&self) -> bool {
        false
    }
    /// Draws the view into `area`. Pure: the same context draws the same cells.
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx);
    /// How many selectable rows it has (after the filter), for the cursor.
    fn rows(&self, _sample: &Sample, _state: &ViewState) -> usize {
        0
    }
    /// The sort keys `s` cycles through.
    fn sorts(&self) -> &'static [&'static str] {
        &[]
    }
}

pub static VIEWS: &[&dyn View] = &[
    &overview::Overview,
    &pods::Pods,
    &findings::Findings,
    &timeline::Timeline,
    &dns::Dns,
    &disk::Disk,
    &gpu::Gpu,
];

/// Whether a row's text passes the view's filter (case-insensitive substring).
pub fn passes(filter: &str, text: &str) -> bool {
    filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
}

/// `s` escaped as every text renderer escapes it ([`crate::render::escape::esc`]: ratatui
/// would drop control characters silently and let bidirectional overrides through), shortened
/// to `n` characters with a trailing `…`.
pub fn fit(s: &str, n: usize) -> String {
    let s = &*crate::render::escape::esc(s);
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The window of rows to show so that `selected` stays visible in `height` lines.
pub fn window(selected: usize, len: usize, height: usize) -> std::ops::Range<usize> {
    if len <= height || height == 0 {
        return 0..len;
    }
    let start = selected.saturating_sub(height - 1).min(len - height);
    start..start + height
}
