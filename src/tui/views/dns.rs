//! DNS: the `nodescope dns` table, per pod.

use super::ViewState;
use super::{Ctx, View, fit, passes, window};
use crate::analyze::report::dns::{PodRow, rows};
use crate::tui::sampler::Sample;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub struct Dns;

fn visible(s: &Sample, st: &ViewState) -> Vec<PodRow> {
    rows(&s.snap, None)
        .into_iter()
        .filter(|r| {
            passes(
                &st.filter,
                &format!(
                    "{}/{}",
                    r.namespace.as_deref().unwrap_or(""),
                    r.pod.as_deref().unwrap_or("")
                ),
            )
        })
        .collect()
}

impl View for Dns {
    fn name(&self) -> &'static str {
        "DNS"
    }
    fn rows(&self, sample: &Sample, state: &ViewState) -> usize {
        visible(sample, state).len()
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let snap = &cx.sample.snap;
        let w = area.width as usize;
        let mut lines = Vec::new();
        if let Some(n) = &snap.dns.node {
            lines.push(Line::raw(fit(
                &format!(
                    "node {}: {} | search {} | ndots {}",
                    n.path,
                    n.conf.nameservers_listed.join(" "),
                    n.conf.search.len(),
                    n.conf.ndots
                ),
                w,
            )));
        }
        lines.push(Line::raw(crate::render::dns::conntrack_line(
            snap.dns.conntrack.as_ref(),
            snap.dns.nodelocal.is_some(),
        )));
        let rs = visible(cx.sample, cx.state);
        let podw = w.saturating_sub(2 + 24 + 7 + 6 + 8 + 13).max(16);
        lines.push(Line::styled(
            format!(
                "{:<podw$} {:<24} {:>6} {:>5} {:>7}  POLICY",
                "NAMESPACE/POD", "NAMESERVERS", "SEARCH", "NDOTS", "QUERIES"
            ),
            t.bold(),
        ));
        let height = (area.height as usize).saturating_sub(lines.len() + 1);
        for i in window(cx.state.selected, rs.len(), height) {
            let r = &rs[i];
            let who = match (&r.namespace, &r.pod) {
                (Some(ns), Some(p)) => format!("{ns}/{p}"),
                _ => format!("pod {}", r.uid),
            };
            let line = Line::raw(format!(
                "{:<podw$} {:<24} {:>6} {:>5} {:>7}  {}",
                fit(&who, podw),
                fit(&r.nameservers.join(","), 24),
                r.search_domains,
                r.ndots,
                r.queries,
                r.policy_guess
            ));
            lines.push(if i == cx.state.selected {
                line.style(t.selected())
            } else {
                line
            });
        }
        if rs.is_empty() {
            lines.push(Line::styled("no pod with a readable resolv.conf", t.dim()));
        }
        lines.push(Line::styled(
            format!(
                "QUERIES: one lookup of {} (A+AAAA); `nodescope dns probe` measures it live",
                crate::analyze::dns::EXAMPLE_NAME
            ),
            t.dim(),
        ));
        f.render_widget(Paragraph::new(lines), area);
    }
}
