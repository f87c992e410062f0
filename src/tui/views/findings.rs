//! Findings: the list, and beside it (or below, when narrow) the selected one's evidence, fix
//! and, with `e`, its rule's explanation.

use super::ViewState;
use super::{Ctx, View, fit, passes, window};
use crate::analyze::report::group::{Group, group};
use crate::render::text::subject;
use crate::tui::sampler::Sample;
use crate::tui::theme::tag;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub struct Findings;

/// One row per rule and cause ([`group`]): a hundred pods with one mistake are one row, their
/// subjects listed in the detail pane. A group stays when any member passes the filter.
fn visible<'a>(s: &'a Sample, st: &ViewState) -> Vec<Group<'a>> {
    group(&s.findings)
        .into_iter()
        .filter(|g| {
            g.findings.iter().any(|f| {
                passes(
                    &st.filter,
                    &format!("{} {} {}", f.id, f.title, subject(&f.subject)),
                )
            })
        })
        .collect()
}

/// What a row says: a lone finding's title, or the group's count and shared title (the rule's
/// summary when the titles differ).
fn row_text(g: &Group<'_>) -> String {
    if g.len() == 1 {
        return g.first().title.clone();
    }
    let what = g.common_title.clone().unwrap_or_else(|| {
        crate::analyze::rule(g.id()).map_or_else(|| g.first().title.clone(), |r| r.summary().into())
    });
    format!("{} {}: {what}", g.len(), g.noun())
}

impl View for Findings {
    fn name(&self) -> &'static str {
        "Findings"
    }
    fn scrolls_detail(&self) -> bool {
        true
    }
    /// A finding about a pod opens the Pods view filtered to it (to its container when the
    /// finding names one): its working set, limit, OOM kills and restarts in the row.
    fn drill(&self, sample: &Sample, state: &ViewState) -> Option<(&'static str, String)> {
        let fs = visible(sample, state);
        let g = fs.get(state.selected.min(fs.len().saturating_sub(1)))?;
        let s = &g.first().subject;
        let pod = format!("{}/{}", s.namespace.as_deref()?, s.pod.as_deref()?);
        Some((
            "Pods",
            match &s.container {
                Some(c) => format!("{pod}/{c}"),
                None => pod,
            },
        ))
    }
    fn rows(&self, sample: &Sample, state: &ViewState) -> usize {
        visible(sample, state).len()
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let fs = visible(cx.sample, cx.state);
        let [list, detail] = if area.width >= 100 {
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
        } else {
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
        };
        let lw = list.width as usize;
        let mut lines = Vec::new();
        for i in window(cx.state.selected, fs.len(), list.height as usize) {
            let g = &fs[i];
            let sev = g.severity();
            let line = Line::from(vec![
                Span::styled(format!("{:<8} ", tag(sev)), t.severity(sev)),
                Span::raw(fit(
                    &format!("{:<27} {}", g.id(), row_text(g)),
                    lw.saturating_sub(9),
                )),
            ]);
            lines.push(if i == cx.state.selected {
                line.style(t.selected())
            } else {
                line
            });
        }
        if fs.is_empty() {
            lines.push(Line::styled("no findings", t.dim()));
        }
        f.render_widget(Paragraph::new(lines), list);
        let Some(g) = fs.get(cx.state.selected.min(fs.len().saturating_sub(1))) else {
            return;
        };
        let sel = g.first();
        let text: Vec<Line> = if cx.state.explain {
            crate::analyze::rule(&sel.id)
                .map(|r| r.explain())
                .unwrap_or("")
                .lines()
                .map(|l| Line::raw(l.to_string()))
                .collect()
        } else {
            let esc = crate::render::escape::esc;
            let mut v = vec![
                Line::styled(esc(&row_text(g)).into_owned(), t.bold()),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("fix: ", t.bold()),
                    Span::raw(esc(&sel.remedy).into_owned()),
                ]),
                Line::raw(""),
            ];
            // A group: every subject (and its own title when the titles differ), then the
            // first one's evidence.
            if g.len() > 1 {
                for f in &g.findings {
                    let who = subject(&f.subject);
                    v.push(Line::raw(match g.common_title {
                        Some(_) => format!("- {who}"),
                        None => format!("- {who}: {}", esc(&f.title)),
                    }));
                }
                v.push(Line::raw(""));
                v.push(Line::styled(
                    format!("evidence of {}:", subject(&sel.subject)),
                    t.bold(),
                ));
            }
            let ev = serde_json::to_string_pretty(&sel.evidence).unwrap_or_default();
            v.extend(ev.lines().map(|l| Line::raw(esc(l).into_owned())));
            v
        };
        // Never past the last line: PgDn on a short text leaves it in view.
        let scroll = cx
            .state
            .detail_scroll
            .min(u16::try_from(text.len().saturating_sub(1)).unwrap_or(u16::MAX));
        let more = if scroll > 0 {
            format!(" [line {}]", scroll + 1)
        } else {
            String::new()
        };
        let title = if cx.state.explain {
            format!(" explain {}{more} (e: evidence, PgDn/PgUp scroll) ", sel.id)
        } else {
            format!(" {}{more} (e: explain, PgDn/PgUp scroll) ", sel.id)
        };
        f.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .scroll((scroll, 0))
                .block(Block::default().borders(Borders::TOP).title(title)),
            detail,
        );
    }
}
