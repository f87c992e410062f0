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
            reflow(crate::analyze::rule(&sel.id).map_or("", |r| r.explain()))
                .into_iter()
                .map(Line::raw)
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

/// The commands an explain text quotes: a line starting with one is never joined to another.
const COMMANDS: &[&str] = &[
    "kubectl",
    "crictl",
    "cat",
    "grep",
    "journalctl",
    "systemctl",
    "ls",
    "find",
    "du",
    "df",
    "ps",
    "tr",
    "stat",
    "dmesg",
    "nvidia-smi",
    "ip",
    "conntrack",
    "sysctl",
    "echo",
    "awk",
    "sed",
    "sort",
    "head",
    "tail",
    "curl",
    "dig",
    "nslookup",
    "chronyc",
    "timedatectl",
    "openssl",
    "mount",
    "findmnt",
    "lsof",
    "swapoff",
    "free",
    "top",
    "docker",
    "ctr",
    "nerdctl",
    "crio",
    "containerd",
    "k3s",
    "microk8s",
    "talosctl",
    "cd",
    "rm",
    "for",
    "while",
    "watch",
];

/// Whether an explain line is prose that may flow into the line before it: indented by
/// exactly two spaces, starting with a word that is no command, and no shell syntax in it.
fn prose(line: &str) -> bool {
    let Some(body) = line.strip_prefix("  ") else {
        return false;
    };
    let mut words = body.split_whitespace();
    let first = words.next().unwrap_or("");
    // "nodescope compares ..." is prose; "nodescope check --rule ..." is a command.
    let our_command = first == "nodescope"
        && words.next().is_some_and(|w| {
            w.starts_with('-')
                || [
                    "check", "disk", "dns", "gpu", "top", "snapshot", "capture", "explain",
                    "rules", "serve", "fleet", "debug",
                ]
                .contains(&w)
        });
    // `-XX:MaxRAMPercentage` in a sentence is prose; `- item` is a list entry.
    let flag_word = body.starts_with('-') && !body.starts_with("- ");
    (body.starts_with(|c: char| c.is_alphabetic() || c == '(' || c == '"') || flag_word)
        && !COMMANDS.contains(&first)
        && !our_command
        && !body.contains(" | ")
        && !body.contains("$(")
        && !body.trim_end().ends_with(':')
}

/// An explain text as the detail pane shows it: its source is wrapped at about 95 columns for
/// `nodescope explain`; prose lines of one paragraph are joined so the pane wraps them once at
/// its own width, while headings, blank lines, commands and configuration stay line by line
/// (a command cut in two by a second wrap is a command that no longer pastes).
pub(crate) fn reflow(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut section = "";
    let mut last_prose = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            section = line;
        }
        let is_prose = prose(line) && section != "HOW TO CONFIRM";
        match out.last_mut() {
            Some(prev) if is_prose && last_prose => {
                prev.push(' ');
                prev.push_str(line.trim_start());
            }
            _ => out.push(line.to_string()),
        }
        last_prose = is_prose;
    }
    out
}

#[cfg(test)]
mod reflow_tests {
    use super::*;

    #[test]
    fn prose_flows_once_and_commands_stay_whole() {
        let text = "WHAT IT MEANS\n  The kubelet reports the configuration it runs with at /configz, and\n  nodescope compares it.\n\nHOW TO CONFIRM\n  kubectl get --raw /api/v1/nodes/NODE/proxy/configz | jq .kubeletconfig\n  ps -o lstart= -p $(pidof kubelet)\n\nWHAT TO CHANGE\n  Set a soft threshold:\n    evictionSoft:\n      memory.available: 1Gi\n  then restart the kubelet\n  systemctl restart kubelet\n";
        assert_eq!(
            reflow(text),
            [
                "WHAT IT MEANS",
                "  The kubelet reports the configuration it runs with at /configz, and nodescope compares it.",
                "",
                "HOW TO CONFIRM",
                "  kubectl get --raw /api/v1/nodes/NODE/proxy/configz | jq .kubeletconfig",
                "  ps -o lstart= -p $(pidof kubelet)",
                "",
                "WHAT TO CHANGE",
                "  Set a soft threshold:",
                "    evictionSoft:",
                "      memory.available: 1Gi",
                "  then restart the kubelet",
                "  systemctl restart kubelet",
            ]
        );
    }

    /// Every rule's explain text keeps its words: reflowing only moves line breaks.
    #[test]
    fn every_explain_text_keeps_its_words() {
        for r in crate::analyze::rules::RULES {
            let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            assert_eq!(
                words(&reflow(r.explain()).join("\n")),
                words(r.explain()),
                "{}",
                r.id()
            );
        }
    }
}
