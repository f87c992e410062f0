//! Pods: every container with its QoS, working set against its limit (the bar), peak and OOM
//! kills; sortable and filterable.

use super::ViewState;
use super::{Ctx, View, fit, passes, window};
use crate::model::units::bytes_or_dash;
use crate::model::{Qos, Snapshot};
use crate::tui::sampler::Sample;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub struct Pods;

/// One container row.
pub struct Row {
    pub who: String,
    /// The pod's label (`namespace/name`), what Enter filters the Findings view by.
    pub pod: String,
    pub qos: &'static str,
    pub ws: Option<u64>,
    pub limit: Option<u64>,
    pub peak: Option<u64>,
    pub ooms: Option<u64>,
    /// Restarts, when the API server said (`restartCount`).
    pub restarts: Option<i32>,
    /// What ended the last run (analyze/restarts.rs): kernel OOM, GPU OOM, signal, exit.
    pub last_end: Option<crate::analyze::restarts::RestartCause>,
}

impl Row {
    /// The RST cell: the count and what ended the last run (`2 gpu`, `1 oom`).
    pub fn restarts_cell(&self) -> String {
        match (self.restarts, self.last_end) {
            (Some(0), _) => "0".into(),
            (Some(n), Some(c)) => format!("{n} {}", c.short()),
            (Some(n), None) => n.to_string(),
            (None, Some(c)) => c.short(),
            (None, None) => "-".into(),
        }
    }
}

impl Row {
    fn share(&self) -> Option<f64> {
        Some(self.ws? as f64 / self.limit? as f64)
    }
}

const SORTS: &[&str] = &["working set", "% of limit", "OOM kills", "name"];

pub fn rows(snap: &Snapshot, st: &ViewState) -> Vec<Row> {
    let mut out = Vec::new();
    // Kernel-log kills by container id: v1's memory.oom_control counts only the kills of the
    // cgroup's own limit, so a global OOM's victim would show 0 from the counter alone.
    let logged = crate::analyze::oom::kills(snap);
    // By container id, or by pod and container name: the restarted container has a new id.
    let logged_for = |p: &crate::model::Pod, c: &crate::model::Container| {
        logged
            .iter()
            .filter(|k| {
                k.container_id.as_deref() == Some(c.id.as_str())
                    || (k.namespace.is_some()
                        && k.namespace == p.namespace
                        && k.pod.is_some()
                        && k.pod == p.name
                        && k.container.is_some()
                        && k.container == c.name)
            })
            .count() as u64
    };
    for p in snap.pods.iter().filter(|p| p.cgroup.is_some()) {
        for c in p.containers.iter().filter(|c| !c.sandbox) {
            let who = crate::model::pod_facts::container_label(p, c);
            if !passes(&st.filter, &who) {
                continue;
            }
            let cg = c.cgroup.as_ref();
            let restarts = p
                .api
                .as_ref()
                .and_then(|a| {
                    a.containers
                        .iter()
                        .find(|x| Some(&x.name) == c.name.as_ref())
                })
                .and_then(|x| x.restart_count);
            out.push(Row {
                last_end: crate::analyze::restarts::last_end(snap, p, c),
                restarts,
                pod: p.label(),
                who,
                qos: match p.qos {
                    Some(Qos::Guaranteed) => "Guaranteed",
                    Some(Qos::Burstable) => "Burstable",
                    Some(Qos::BestEffort) => "BestEffort",
                    None => "-",
                },
                ws: cg.and_then(|g| g.working_set_bytes()),
                limit: cg.and_then(|g| g.limit_bytes),
                peak: cg.and_then(|g| g.peak_bytes),
                ooms: {
                    let counted = cg.and_then(|g| {
                        g.events
                            .map(|e| e.oom_kill)
                            .or_else(|| g.oom_control.and_then(|o| o.oom_kill))
                    });
                    match (counted, logged_for(p, c)) {
                        (n, 0) => n,
                        (n, k) => Some(n.unwrap_or(0).max(k)),
                    }
                },
            });
        }
    }
    match st.sort {
        0 => out.sort_by(|a, b| b.ws.cmp(&a.ws).then_with(|| a.who.cmp(&b.who))),
        1 => out.sort_by(|a, b| {
            b.share()
                .unwrap_or(-1.0)
                .total_cmp(&a.share().unwrap_or(-1.0))
                .then_with(|| a.who.cmp(&b.who))
        }),
        2 => out.sort_by(|a, b| b.ooms.cmp(&a.ooms).then_with(|| a.who.cmp(&b.who))),
        _ => out.sort_by(|a, b| a.who.cmp(&b.who)),
    }
    out
}

impl View for Pods {
    fn name(&self) -> &'static str {
        "Pods"
    }
    fn rows(&self, sample: &Sample, state: &ViewState) -> usize {
        rows(&sample.snap, state).len()
    }
    /// Enter on a container opens the Findings view filtered to its pod: from "this pod is
    /// near its limit" to every rule that says something about it.
    fn drill(&self, sample: &Sample, state: &ViewState) -> Option<(&'static str, String)> {
        let rs = rows(&sample.snap, state);
        let r = rs.get(state.selected.min(rs.len().saturating_sub(1)))?;
        Some(("Findings", r.pod.clone()))
    }
    fn sorts(&self) -> &'static [&'static str] {
        SORTS
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let rs = rows(&cx.sample.snap, cx.state);
        let w = area.width as usize;
        // Narrow terminals drop the peak and QoS columns first.
        let wide = w >= 96;
        let barw = if w >= 110 {
            12
        } else if w >= 90 {
            11
        } else {
            6
        };
        // name, " QOS(11)", " WSET(8) LIMIT(8) ", bar, " %(5)", " PEAK(7)", " OOM(4)", " RST(6)":
        // the restart count and what ended the last run (`12 sig9`).
        let fixed =
            1 + if wide { 11 } else { 0 } + 19 + (barw + 2) + 6 + if wide { 8 } else { 0 } + 5 + 7;
        let namew = w.saturating_sub(fixed).max(16);
        let mut lines = vec![Line::styled(
            format!(
                "{:<namew$} {}{:>8} {:>8} {:<bw$} {:>5}{} {:>4} {:>6}",
                "NAMESPACE/POD/CONTAINER",
                if wide {
                    format!("{:<11}", "QOS")
                } else {
                    String::new()
                },
                "WSET",
                "LIMIT",
                "USED",
                "%",
                if wide {
                    format!(" {:>7}", "PEAK")
                } else {
                    String::new()
                },
                "OOM",
                "RST",
                bw = barw + 2
            ),
            t.bold(),
        )];
        let height = (area.height as usize).saturating_sub(2);
        for i in window(cx.state.selected, rs.len(), height) {
            let r = &rs[i];
            let share = r.share();
            let mut spans = vec![Span::raw(format!(
                "{:<namew$} {}{:>8} {:>8} ",
                fit(&r.who, namew),
                if wide {
                    format!("{:<11}", r.qos)
                } else {
                    String::new()
                },
                bytes_or_dash(r.ws),
                bytes_or_dash(r.limit),
            ))];
            spans.push(Span::styled(
                share.map_or(format!("{:<w$}", "no limit", w = barw + 2), |s| {
                    super::overview::bar(s, barw)
                }),
                t.level(share.unwrap_or(0.0), 0.8, 0.9),
            ));
            spans.push(Span::raw(format!(
                " {:>5}{} {:>4} {:>6}",
                share.map_or("-".into(), |s| format!("{:.0}%", s * 100.0)),
                if wide {
                    format!(" {:>7}", bytes_or_dash(r.peak))
                } else {
                    String::new()
                },
                r.ooms.map_or("-".into(), |n| n.to_string()),
                r.restarts_cell(),
            )));
            let line = Line::from(spans);
            // A container the kernel OOM-killed reads in the critical colour.
            let oom_killed = r.ooms.is_some_and(|n| n > 0);
            lines.push(if i == cx.state.selected {
                line.style(t.selected())
            } else if oom_killed {
                line.style(t.severity(crate::analyze::Severity::Critical))
            } else {
                line
            });
        }
        if rs.is_empty() {
            lines.push(Line::styled(
                "no containers (or none match the filter)",
                t.dim(),
            ));
        }
        // Columns dropped for width are said, not silently gone.
        let dropped = if wide {
            ""
        } else {
            "; QOS and PEAK hidden below 96 columns"
        };
        lines.push(Line::styled(
            format!(
                "{} containers, sorted by {} (s){dropped}",
                rs.len(),
                SORTS[cx.state.sort % SORTS.len()]
            ),
            t.dim(),
        ));
        // The RST column's causes, on a line of their own when any row has one.
        if rs.iter().any(|r| r.last_end.is_some()) {
            lines.push(Line::styled(
                "RST: oom=limit node=node OOM gpu=GPU memory sigN=signal eN=exit N err=log error",
                t.dim(),
            ));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}
