//! Styles, all in one place; with colour off (NO_COLOR, --color never) only bold and reverse
//! remain, so selection and emphasis still read on a monochrome terminal.

use crate::analyze::Severity;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn severity(&self, s: Severity) -> Style {
        let c = match s {
            Severity::Critical => Color::Red,
            Severity::Warning => Color::Yellow,
            Severity::Info => Color::Cyan,
        };
        let st = Style::default().add_modifier(Modifier::BOLD);
        if self.color { st.fg(c) } else { st }
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    /// A gauge's fill: green, yellow past `warn`, red past `crit` (shares of 1).
    pub fn level(&self, share: f64, warn: f64, crit: f64) -> Style {
        if !self.color {
            return Style::default();
        }
        Style::default().fg(if share >= crit {
            Color::Red
        } else if share >= warn {
            Color::Yellow
        } else {
            Color::Green
        })
    }
}

/// The tag of a severity, spelled as the text report spells it ([`Severity::label`]).
pub fn tag(s: Severity) -> &'static str {
    s.label()
}
