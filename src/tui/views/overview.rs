//! Overview: the 3am answer first (one verdict per critical or warning finding: what, to whom,
//! the number that proves it), then the gauges against the kubelet's thresholds, then trends.

use super::{Ctx, View, fit};
use crate::analyze::Severity;
use crate::analyze::disk::{bytes_observation, inodes_observation, stat_of};
use crate::analyze::eviction_signals::{human_bytes, memory_available, pid_available, resolve};
use crate::model::Snapshot;
use crate::tui::theme::tag;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

pub struct Overview;

impl View for Overview {
    fn name(&self) -> &'static str {
        "Overview"
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let snap = &cx.sample.snap;
        let t = cx.theme;
        let w = area.width as usize;
        let gauges = gauges(snap, w, cx);
        let spark_h = if area.height as usize > gauges.len() + 8 {
            3
        } else {
            0
        };
        let verdict_h = (area.height as usize).saturating_sub(gauges.len() + spark_h + 1);
        let mut verdicts: Vec<Line> = Vec::new();
        let serious: Vec<_> = cx
            .sample
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .collect();
        // A head line per finding and its title wrapped under it (up to two lines) while they
        // fit; else head + truncated title; else one line each.
        let tw = w.saturating_sub(5).max(10);
        let wrapped = |s: &str| -> Vec<String> { wrap_words(s, tw, 2) };
        let full: usize = serious.iter().map(|f| 1 + wrapped(&f.title).len()).sum();
        let two = full <= verdict_h || serious.len() * 2 <= verdict_h;
        let wrap = full <= verdict_h;
        for fnd in &serious {
            let need = if wrap {
                1 + wrapped(&fnd.title).len()
            } else if two {
                2
            } else {
                1
            };
            if verdicts.len() + need > verdict_h {
                break;
            }
            let head = format!("{:<28} ", fnd.id);
            if two {
                verdicts.push(Line::from(vec![
                    Span::styled(
                        format!("{:<8} ", tag(fnd.severity)),
                        t.severity(fnd.severity),
                    ),
                    Span::styled(head, t.bold()),
                    Span::raw(fit(&subject(fnd), w.saturating_sub(34))),
                ]));
                if wrap {
                    for part in wrapped(&fnd.title) {
                        verdicts.push(Line::raw(format!("     {part}")));
                    }
                } else {
                    verdicts.push(Line::raw(format!("     {}", fit(&fnd.title, tw))));
                }
            } else {
                verdicts.push(Line::from(vec![
                    Span::styled(
                        format!("{:<8} ", tag(fnd.severity)),
                        t.severity(fnd.severity),
                    ),
                    Span::styled(head, t.bold()),
                    Span::raw(fit(&fnd.title, w.saturating_sub(34))),
                ]));
            }
        }
        let shown = verdicts
            .iter()
            .filter(|l| !l.spans.is_empty() && l.spans.len() > 1)
            .count();
        if serious.len() > shown
            && let Some(last) = verdicts.last_mut()
        {
            *last = Line::styled(
                format!("     ... {} more in 3 Findings", serious.len() - shown + 1),
                t.dim(),
            );
        }
        if serious.is_empty() {
            let info = cx.sample.findings.len();
            verdicts.push(Line::from(vec![
                Span::styled("OK   ", t.bold()),
                Span::raw(format!(
                    "no critical or warning finding ({info} info); {} pods, {} processes",
                    snap.pods.iter().filter(|p| p.cgroup.is_some()).count(),
                    snap.processes.len()
                )),
            ]));
        }
        let [v, g, s, _] = Layout::vertical([
            Constraint::Length(verdicts.len() as u16),
            Constraint::Length(gauges.len() as u16 + 1),
            Constraint::Length(spark_h as u16 + 1),
            Constraint::Min(0),
        ])
        .areas(area);
        f.render_widget(Paragraph::new(verdicts), v);
        let mut glines = vec![Line::raw("")];
        glines.extend(gauges);
        f.render_widget(Paragraph::new(glines), g);
        if spark_h > 0 {
            let data: Vec<u64> = cx.history.mem_available_mib.iter().copied().collect();
            let [_, s] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(s);
            let [label, spark] =
                Layout::horizontal([Constraint::Length(22), Constraint::Min(1)]).areas(s);
            f.render_widget(
                Paragraph::new(vec![
                    Line::raw("memory.available"),
                    Line::styled(format!("last {} samples", data.len()), t.dim()),
                ]),
                label,
            );
            let start = data.len().saturating_sub(spark.width as usize);
            f.render_widget(Sparkline::default().data(&data[start..]), spark);
        }
    }
}

fn subject(f: &crate::analyze::Finding) -> String {
    let s = &f.subject;
    let mut parts = Vec::new();
    if let (Some(ns), Some(p)) = (&s.namespace, &s.pod) {
        let mut who = format!("{ns}/{p}");
        if let Some(c) = &s.container {
            who.push('/');
            who.push_str(c);
        }
        parts.push(who);
    } else if let Some(p) = &s.pod {
        parts.push(p.clone());
    }
    if let Some(pid) = s.pid {
        parts.push(format!("pid {pid}"));
    }
    if let Some(p) = &s.path {
        parts.push(p.clone());
    }
    if parts.is_empty() {
        parts.push(match &s.node {
            Some(n) => format!("node {n}"),
            None => "this node".into(),
        });
    }
    parts.join(" ")
}

/// `s` broken at spaces into at most `max` lines of `width` characters; a word longer than a
/// line is cut, and text past the last line ends in `…`.
pub fn wrap_words(s: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let wl = word.chars().count();
        let cl = cur.chars().count();
        if cl > 0 && cl + 1 + wl > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    let over = lines.len() > max;
    lines.truncate(max);
    for l in lines.iter_mut() {
        *l = fit(l, width);
    }
    if over && let Some(last) = lines.last_mut() {
        *last = fit(&format!("{last} …"), width);
        if !last.ends_with('…') {
            last.push('…');
        }
    }
    lines
}

/// A text bar of `width` cells, `share` of them filled.
pub fn bar(share: f64, width: usize) -> String {
    let n = ((share.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("[{}{}]", "#".repeat(n), ".".repeat(width - n))
}

fn gauges(snap: &Snapshot, w: usize, cx: &Ctx) -> Vec<Line<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    let cfg = snap.kubelet.as_ref().map(|k| &k.config);
    let barw = if w >= 100 { 20 } else { 12 };
    if let Some(o) = memory_available(snap) {
        let used = 1.0 - o.available as f64 / o.capacity.max(1) as f64;
        let hard = cfg
            .and_then(|c| c.eviction_hard.get("memory.available"))
            .map_or("-".into(), |v| human_bytes(resolve(v, o.capacity)));
        let soft = cfg
            .and_then(|c| c.eviction_soft.get("memory.available"))
            .map_or("-".into(), |v| human_bytes(resolve(v, o.capacity)));
        let psi = snap.psi.memory.map_or("-".into(), |p| {
            format!(
                "some {:.1} full {:.1}",
                p.some.avg10,
                p.full.map_or(0.0, |f| f.avg10)
            )
        });
        out.push(Line::from(vec![
            // The bar fills with what is used (1 - available/capacity, the kubelet's
            // signal turned round), and says so.
            Span::raw(format!(
                "memory.available {:>7}  used ",
                human_bytes(o.available)
            )),
            Span::styled(bar(used, barw), t.level(used, 0.8, 0.9)),
            Span::raw(fit(
                &format!(" {:.0}%  hard {hard}  soft {soft}  PSI {psi}", used * 100.0),
                w.saturating_sub(barw + 33),
            )),
        ]));
    }
    let mut fs_line = Vec::new();
    for (name, role, evict) in [
        ("nodefs", snap.disk.nodefs.as_ref(), "nodefs"),
        ("imagefs", snap.disk.imagefs.as_ref(), "imagefs"),
    ] {
        let Some(mp) = role.and_then(|r| r.mount_point.as_deref()) else {
            continue;
        };
        let Some(st) = stat_of(snap, mp) else {
            continue;
        };
        let b = bytes_observation(st);
        let i = inodes_observation(st);
        let bused = 1.0 - b.available as f64 / b.capacity.max(1) as f64;
        let iused = 1.0 - i.available as f64 / i.capacity.max(1) as f64;
        let thr = |sig: &str| {
            cfg.and_then(|c| c.eviction_hard.get(&format!("{evict}.{sig}")))
                .map_or("-".to_string(), |v| v.to_string())
        };
        if name == "imagefs"
            && snap
                .disk
                .nodefs
                .as_ref()
                .and_then(|n| n.mount_point.as_deref())
                == Some(mp)
        {
            fs_line.push(format!(
                "imagefs same fs, GC at {}%",
                cfg.map_or(85, |c| c.image_gc_high_threshold_percent)
            ));
            continue;
        }
        fs_line.push(format!(
            "{name} {mp} {:.0}% bytes {:.0}% inodes used (evict <{} / <{} free)",
            bused * 100.0,
            iused * 100.0,
            thr("available"),
            thr("inodesFree")
        ));
    }
    if !fs_line.is_empty() {
        out.push(Line::raw(fit(&fs_line.join("   "), w)));
    }
    let pids = pid_available(snap).map_or("-".into(), |o| {
        format!("{}/{}", short(o.capacity - o.available), short(o.capacity))
    });
    let ct = snap
        .dns
        .conntrack
        .as_ref()
        .map_or("-".into(), |c| match (c.count, c.max) {
            (Some(n), Some(m)) if m > 0 => format!("{:.0}%", n as f64 * 100.0 / m as f64),
            _ => "?".into(),
        });
    let hour_ago = snap.taken_at.as_second() - 3600;
    let kills = crate::analyze::oom::kills(snap)
        .iter()
        .filter(|k| {
            crate::analyze::oom::kernel_time(snap, k.kill.usec)
                .is_some_and(|t| t.as_second() >= hour_ago)
        })
        .count();
    let evictions = snap
        .kubelet_log
        .iter()
        .filter(|e| {
            matches!(
                e.step,
                crate::model::kubelet_log::EvictionStep::Evicted
                    | crate::model::kubelet_log::EvictionStep::Evicting
            ) && e.time.is_some_and(|t| t.as_second() >= hour_ago)
        })
        .count();
    out.push(Line::raw(fit(
        &format!(
            "pids {pids}   conntrack {ct}   OOM kills 1h: {kills}   evictions 1h: {evictions}"
        ),
        w,
    )));
    out
}

/// 1.9k, 4.2M.
fn short(n: i64) -> String {
    let f = n as f64;
    if f >= 1e6 {
        format!("{:.1}M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1}k", f / 1e3)
    } else {
        n.to_string()
    }
}
