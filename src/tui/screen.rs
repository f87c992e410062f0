//! One frame: the header line, the current view, the tab bar; the help overlay on top.

use super::app::{App, BINDINGS};
use super::sampler::{History, Sample};
use super::theme::Theme;
use super::views::{Ctx, VIEWS};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(f: &mut Frame, sample: &Sample, history: &History, app: &mut App) {
    let theme = Theme { color: app.color };
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(Paragraph::new(header(sample, app, theme)), head);
    let cx = Ctx {
        sample,
        history,
        state: app.state(),
        theme,
    };
    VIEWS[app.view].draw(f, body, &cx);
    f.render_widget(Paragraph::new(tabs(app, theme, foot.width)), foot);
    if app.help {
        help(f, body, theme);
    }
}

fn header(s: &Sample, app: &App, theme: Theme) -> Line<'static> {
    let snap = &s.snap;
    let cg = match (snap.cgroup.version, snap.cgroup.driver) {
        (Some(v), d) => format!(
            "cgroup {}{}",
            if v == crate::model::CgroupVersion::V2 {
                "v2"
            } else {
                "v1"
            },
            match d {
                Some(crate::model::CgroupDriver::Systemd) => "/systemd",
                Some(crate::model::CgroupDriver::Cgroupfs) => "/cgroupfs",
                None => "",
            }
        ),
        (None, _) => "cgroup ?".into(),
    };
    let runtime = snap
        .disk
        .runtime
        .as_ref()
        .map_or(String::new(), |r| format!("  {}", r.name));
    let up = snap.node.uptime_seconds.map_or(String::new(), |u| {
        let d = (u / 86400.0) as u64;
        let h = ((u % 86400.0) / 3600.0) as u64;
        if d > 0 {
            format!("  up {d}d{h}h")
        } else {
            format!("  up {h}h{}m", ((u % 3600.0) / 60.0) as u64)
        }
    });
    let when = snap.taken_at.strftime("%H:%M:%S").to_string();
    let mode = if app.live {
        format!("every {}s", app.interval.as_secs_f64())
    } else {
        "bundle".to_string()
    };
    let mut spans = vec![
        Span::styled("nodescope  ", theme.bold()),
        Span::styled(snap.hostname().to_string(), theme.bold()),
        Span::raw(format!("  {cg}{runtime}{up}   {when}  {mode}")),
    ];
    if app.stale {
        spans.push(Span::styled(
            "  STALE",
            theme.severity(crate::analyze::Severity::Warning),
        ));
    }
    Line::from(spans)
}

fn tabs(app: &App, theme: Theme, width: u16) -> Line<'static> {
    let mut spans = Vec::new();
    let narrow = width < 90;
    for (i, v) in VIEWS.iter().enumerate() {
        let name = if narrow && i != app.view {
            v.name().chars().take(4).collect::<String>()
        } else {
            v.name().to_string()
        };
        let label = format!("{} {}", i + 1, name);
        if i == app.view {
            spans.push(Span::styled(format!("[{label}]"), theme.selected()));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
        spans.push(Span::raw(" "));
    }
    let st = app.state();
    if app.filtering || !st.filter.is_empty() {
        spans.push(Span::styled(
            format!("/{}{}", st.filter, if app.filtering { "_" } else { "" }),
            theme.bold(),
        ));
    } else {
        spans.push(Span::styled("? help  q quit", theme.dim()));
    }
    Line::from(spans)
}

fn help(f: &mut Frame, body: Rect, theme: Theme) {
    let h = (BINDINGS.len() as u16 + 4).min(body.height);
    let w = 66.min(body.width);
    let area = Rect {
        x: body.x + (body.width - w) / 2,
        y: body.y + (body.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<22}"), theme.bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled("any key closes this help", theme.dim()));
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        area,
    );
}
