//! GPU: the devices on the PCI bus, their driver, device nodes, device-plugin sockets, each
//! GPU's (and MIG instance's) memory with the processes and pods holding it, who holds each
//! device the kubelet handed out, why each Pending GPU pod does not schedule, and the Xid
//! errors the driver logged. The memory, the allocation and the Pending pods come from the
//! same report `nodescope gpu` prints (`analyze/report/gpu.rs`).

use super::{Ctx, View, fit};
use crate::analyze::oom;
use crate::analyze::report::gpu::{self as gpu_report, GpuReport};
use crate::model::units::bytes;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub struct Gpu;

impl View for Gpu {
    fn name(&self) -> &'static str {
        "GPU"
    }
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let snap = &cx.sample.snap;
        let g = &snap.gpu;
        let w = area.width as usize;
        let mut lines = Vec::new();
        if g.devices.is_empty() {
            lines.push(Line::raw(
                "no NVIDIA GPU on the PCI bus (vendor 0x10de in /sys/bus/pci/devices)",
            ));
        } else {
            lines.push(Line::styled(
                format!(
                    "{:<14} {:<8} {:<10} DRIVER",
                    "PCI ADDRESS", "DEVICE", "CLASS"
                ),
                t.bold(),
            ));
            for d in &g.devices {
                lines.push(Line::raw(format!(
                    "{:<14} {:<8} {:<10} {}",
                    d.address,
                    d.device,
                    d.class,
                    d.driver.as_deref().unwrap_or("none bound")
                )));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::raw(fit(
            &format!(
                "driver: {}",
                g.driver_version
                    .as_deref()
                    .unwrap_or("not loaded (/proc/driver/nvidia/version absent)")
            ),
            w,
        )));
        if g.nouveau_loaded {
            lines.push(Line::styled(
                "nouveau is loaded: it keeps the NVIDIA driver from binding",
                t.severity(crate::analyze::Severity::Warning),
            ));
        }
        lines.push(Line::raw(fit(
            &format!(
                "device nodes: {}",
                if g.dev_nodes.is_empty() {
                    "none".into()
                } else {
                    g.dev_nodes.join(" ")
                }
            ),
            w,
        )));
        lines.push(Line::raw(fit(
            &format!(
                "device plugins registered with the kubelet: {}",
                if g.device_plugin_sockets.is_empty() {
                    "none".into()
                } else {
                    g.device_plugin_sockets.join(" ")
                }
            ),
            w,
        )));
        let report = gpu_report::build(snap, &cx.sample.findings);
        lines.extend(memory(&report, cx, w));
        lines.extend(allocation(&report, cx, w));
        lines.extend(pending(&report, cx, w));
        lines.push(Line::raw(""));
        if g.xids.is_empty() {
            lines.push(Line::styled("no Xid errors in the kernel log", t.dim()));
        } else {
            lines.push(Line::styled("XID ERRORS (newest first)", t.bold()));
            for x in g.xids.iter().rev() {
                let ago = oom::kernel_time(snap, x.usec).map_or("?".into(), |at| {
                    oom::human_age(snap.taken_at.as_second() - at.as_second())
                });
                lines.push(Line::raw(fit(
                    &format!("{ago:>6} ago  Xid {:<3} {}  {}", x.xid, x.device, x.message),
                    w,
                )));
            }
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}

/// Each GPU and MIG instance NVML answered for: used of total memory (95 % and more in the
/// warning style, as gpu.memory-near-full judges it) and the processes holding it, with
/// their pods; nothing without NVML.
fn memory(r: &GpuReport, cx: &Ctx, w: usize) -> Vec<Line<'static>> {
    if r.memory.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        Line::raw(""),
        Line::styled("GPU MEMORY (NVML)", cx.theme.bold()),
    ];
    for m in &r.memory {
        let figures = match (m.used_bytes, m.total_bytes, m.used_percent) {
            (Some(u), Some(t), Some(p)) => format!("{} of {} ({p:.1}%)", bytes(u), bytes(t)),
            _ => "memory unknown".to_string(),
        };
        let text = fit(
            &format!(
                "{:<12} {:<28} {}",
                m.label(),
                figures,
                m.name.as_deref().unwrap_or("")
            ),
            w,
        );
        lines.push(if m.near_full() {
            Line::styled(text, cx.theme.severity(crate::analyze::Severity::Warning))
        } else {
            Line::raw(text)
        });
        for h in &m.holders {
            lines.push(Line::raw(fit(
                &format!(
                    "  {:>8}  {}",
                    h.used_bytes.map_or("?".into(), bytes),
                    h.label()
                ),
                w,
            )));
        }
    }
    lines
}

/// Each registered device and its holder (`free` dimmed); nothing when no plugin registered.
fn allocation(r: &GpuReport, cx: &Ctx, w: usize) -> Vec<Line<'static>> {
    if r.allocation.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        Line::raw(""),
        Line::styled(
            format!("{:<24} {:<40} HOLDER", "RESOURCE", "DEVICE"),
            cx.theme.bold(),
        ),
    ];
    for a in &r.allocation {
        let text = fit(
            &format!("{:<24} {:<40} {}", a.resource, a.device, a.holder),
            w,
        );
        lines.push(if a.holder == gpu_report::FREE {
            Line::styled(text, cx.theme.dim())
        } else {
            Line::raw(text)
        });
    }
    lines
}

/// Each Pending GPU pod, every reason it does not schedule and the fix; nothing when none is
/// known (no cluster data, or none pending).
fn pending(r: &GpuReport, cx: &Ctx, w: usize) -> Vec<Line<'static>> {
    if r.pending.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        Line::raw(""),
        Line::styled("PENDING GPU PODS", cx.theme.bold()),
    ];
    for p in &r.pending {
        let asks: Vec<String> = p.requests.iter().map(|(k, v)| format!("{v} {k}")).collect();
        lines.push(Line::raw(fit(
            &format!("{}/{} asks for {}", p.namespace, p.pod, asks.join(", ")),
            w,
        )));
        for reason in &p.reasons {
            lines.push(Line::styled(
                fit(&format!("  {:<22} {}", reason.reason, reason.detail), w),
                cx.theme.severity(crate::analyze::Severity::Warning),
            ));
        }
        lines.push(Line::raw(fit(&format!("  fix: {}", p.fix), w)));
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::source::bundle::BundleHost;
    use crate::tui::app::App;
    use crate::tui::sampler::{History, sample};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::Duration;

    /// The GPU view of a fixture bundle with its `cluster/` attached (as `nodescope --bundle`
    /// does), drawn on a TestBackend, as text.
    fn gpu_screen(fixture: &str, w: u16, h: u16) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture);
        let mut s = sample(&BundleHost::open(&dir).unwrap());
        let dump = dir.join("cluster");
        let node = s.snap.hostname().to_string();
        let data = crate::source::cluster::from_files("dump".into(), Some(&node), &|n| {
            let f = std::fs::File::open(dump.join(n)).ok()?;
            Some(Ok(Box::new(f) as Box<dyn std::io::Read>))
        });
        crate::collect::cluster::attach(&mut s.snap, &data);
        s.findings = crate::analyze::analyze(&s.snap);
        let mut history = History::default();
        history.push(&s);
        let mut app = App::new(Duration::from_secs(2), false, false);
        app.view = super::super::VIEWS
            .iter()
            .position(|v| v.name() == "GPU")
            .unwrap();
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| crate::tui::screen::draw(f, &s, &history, &mut app))
            .unwrap();
        let buf = term.backend().buffer().clone();
        (0..h)
            .map(|y| {
                let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
                line.trim_end().to_string() + "\n"
            })
            .collect()
    }

    #[test]
    fn the_gpu_view_shows_each_gpus_memory_and_who_holds_it() {
        let text = gpu_screen("gpu-memory-near-full", 120, 40);
        let block: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "GPU MEMORY (NVML)")
            .take(5)
            .collect();
        assert_eq!(
            block,
            [
                "GPU MEMORY (NVML)",
                "GPU 0        76.5Gi of 79.6Gi (96.1%)     NVIDIA H100 80GB HBM3",
                "      76Gi  llm/vllm-llama3-8b-0/vllm (pid 52318)",
                "GPU 1        1Mi of 79.6Gi (0.0%)         NVIDIA H100 80GB HBM3",
                "",
            ],
            "{text}"
        );
    }

    #[test]
    fn the_gpu_view_names_each_devices_holder_and_why_pods_are_pending() {
        let text = gpu_screen("gpu-pending", 140, 60);
        let holders: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("nvidia.com/gpu "))
            .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
            .map(|h| if h == "free" { "free" } else { "held" })
            .collect();
        assert_eq!(holders, ["held", "free", "free", "free"], "{text}");
        assert!(
            text.contains(
                "GPU-3e9d1c2b-7a4f-1e0d-9c8b-5a6f7e8d9c00 ml/infer-5d8f7c6b9-x7k2q (main)"
            ),
            "{text}"
        );
        let pending: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "PENDING GPU PODS")
            .skip(1)
            .take_while(|l| !l.is_empty() && !l.starts_with("no Xid"))
            .collect();
        assert_eq!(
            pending[..3],
            [
                "ml/big-0 asks for 8 nvidia.com/gpu",
                "  exceeds-node-capacity  asks for 8 nvidia.com/gpu; the largest node offers 4",
                "  fix: ask for at most what one node offers, or split the job across pods (asks for 8 nvidia.com/gpu; the largest node offers 4)",
            ],
            "{text}"
        );
        assert_eq!(
            pending.len(),
            9,
            "three pods, one reason and one fix each: {text}"
        );
    }
}
