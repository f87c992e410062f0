//! Timeline: what happened, newest first: kernel OOM kills, the kubelet's evictions and
//! pressure transitions, conntrack drops.

use super::ViewState;
use super::{Ctx, View, fit, passes, window};
use crate::analyze::oom;
use crate::model::Snapshot;
use crate::model::kubelet_log::EvictionStep;
use crate::tui::sampler::Sample;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub struct Timeline;

pub struct Event {
    pub time: Option<jiff::Timestamp>,
    pub kind: &'static str,
    pub text: String,
}

pub fn events(snap: &Snapshot, st: &ViewState) -> Vec<Event> {
    let mut out = Vec::new();
    for k in oom::kills(snap) {
        let who = match (&k.namespace, &k.pod, &k.container) {
            (Some(ns), Some(p), c) => format!(
                "{ns}/{p}{}",
                c.as_ref().map_or(String::new(), |c| format!("/{c}"))
            ),
            _ => k.label(),
        };
        out.push(Event {
            time: k.time,
            kind: if k.kill.global {
                "global OOM"
            } else {
                "OOM kill"
            },
            text: format!("{} (pid {}) in {who}", k.kill.comm, k.kill.pid),
        });
    }
    for e in &snap.kubelet_log {
        let kind = match e.step {
            EvictionStep::Evicted | EvictionStep::Evicting => "eviction",
            EvictionStep::NodeCondition => "condition",
            EvictionStep::AttemptingToReclaim | EvictionStep::MustEvict => "pressure",
            _ => "kubelet",
        };
        let text = match (e.step, e.pods.is_empty(), &e.condition) {
            (_, _, Some(c)) => c.clone(),
            (_, false, _) => format!("{:?} {}", e.step, e.pods.join(" ")),
            _ => e.message.clone(),
        };
        out.push(Event {
            time: e.time,
            kind,
            text,
        });
    }
    for r in snap
        .kernel_log
        .iter()
        .filter(|r| crate::model::dns::is_table_full(&r.message))
    {
        out.push(Event {
            time: oom::kernel_time(snap, r.usec),
            kind: "conntrack",
            text: r.message.clone(),
        });
    }
    for x in &snap.gpu.xids {
        out.push(Event {
            time: oom::kernel_time(snap, x.usec),
            kind: "GPU Xid",
            text: format!("Xid {} on {}: {}", x.xid, x.device, x.message),
        });
    }
    out.retain(|e| passes(&st.filter, &format!("{} {}", e.kind, e.text)));
    out.sort_by_key(|e| std::cmp::Reverse(e.time));
    out
}

impl View for Timeline {
    fn name(&self) -> &'static str {
        "Timeline"
    }
    fn rows(&self, sample: &Sample, state: &ViewState) -> usize {
        events(&sample.snap, state).len()
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let snap = &cx.sample.snap;
        let evs = events(snap, cx.state);
        let w = area.width as usize;
        let mut lines = vec![Line::styled(
            format!("{:<20} {:<8} {:<11} WHAT", "TIME (UTC)", "AGO", "KIND"),
            t.bold(),
        )];
        for i in window(
            cx.state.selected,
            evs.len(),
            (area.height as usize).saturating_sub(1),
        ) {
            let e = &evs[i];
            let when = e
                .time
                .map_or("?".into(), |x| x.strftime("%Y-%m-%d %H:%M:%S").to_string());
            let ago = e.time.map_or("?".into(), |x| {
                oom::human_age(snap.taken_at.as_second() - x.as_second())
            });
            let line = Line::raw(fit(
                &format!("{when:<20} {ago:<8} {:<11} {}", e.kind, e.text),
                w,
            ));
            lines.push(if i == cx.state.selected {
                line.style(t.selected())
            } else {
                line
            });
        }
        if evs.is_empty() {
            lines.push(Line::styled(
                "nothing happened: no OOM kill, eviction, pressure transition or conntrack drop on record",
                t.dim(),
            ));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}
