//! Disk: filesystems against the kubelet's thresholds, then the top consumers.

use super::ViewState;
use super::{Ctx, View, fit, passes, window};
use crate::analyze::report::disk::{Consumer, build};
use crate::model::units::bytes_or_dash;
use crate::tui::sampler::Sample;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub struct Disk;

fn consumers(s: &Sample, st: &ViewState) -> Vec<Consumer> {
    build(&s.snap, &s.findings)
        .consumers
        .into_iter()
        .filter(|c| passes(&st.filter, &format!("{} {} {}", c.kind, c.owner, c.path)))
        .collect()
}

impl View for Disk {
    fn name(&self) -> &'static str {
        "Disk"
    }
    fn rows(&self, sample: &Sample, state: &ViewState) -> usize {
        consumers(sample, state).len()
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let report = build(&cx.sample.snap, &cx.sample.findings);
        let w = area.width as usize;
        let mpw = w.saturating_sub(8 + 8 + 6 + 7 + 10).clamp(10, 30);
        let mut lines = vec![Line::styled(
            format!(
                "{:<mpw$} {:>7} {:>7} {:>5} {:>6}  ROLE",
                "MOUNT", "SIZE", "AVAIL", "USE%", "IUSE%"
            ),
            t.bold(),
        )];
        for fs in &report.filesystems {
            let met = fs.signals.iter().any(|s| s.met);
            let role = if fs.stuck {
                "STUCK".to_string()
            } else {
                let mut r = fs.roles.join("+");
                if met {
                    r.push_str(" PAST THRESHOLD");
                }
                r
            };
            lines.push(Line::raw(fit(
                &format!(
                    "{:<mpw$} {:>7} {:>7} {:>5} {:>6}  {}",
                    fit(&fs.mount_point, mpw),
                    bytes_or_dash(fs.size_bytes),
                    bytes_or_dash(fs.available_bytes),
                    fs.used_percent.map_or("-".into(), |p| format!("{p:.0}%")),
                    fs.inodes_used_percent
                        .map_or("-".into(), |p| format!("{p:.0}%")),
                    role
                ),
                w,
            )));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("{:>9} {:<22} {}", "BYTES", "WHAT", "OWNER / PATH"),
            t.bold(),
        ));
        let cs = consumers(cx.sample, cx.state);
        let height = (area.height as usize).saturating_sub(lines.len());
        for i in window(cx.state.selected, cs.len(), height) {
            let c = &cs[i];
            let line = Line::raw(fit(
                &format!(
                    "{:>8}{} {:<22} {}  {}",
                    crate::model::units::bytes(c.bytes),
                    if c.at_least { "+" } else { " " },
                    c.kind,
                    c.owner,
                    c.path
                ),
                w,
            ));
            lines.push(if i == cx.state.selected {
                line.style(t.selected())
            } else {
                line
            });
        }
        if cs.is_empty() {
            lines.push(Line::styled(
                "no pod logs, volumes or deleted-but-open files found",
                t.dim(),
            ));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}
