//! GPU: the devices on the PCI bus, their driver, device nodes, device-plugin sockets and the
//! Xid errors the driver logged.

use super::{Ctx, View, fit};
use crate::analyze::oom;
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
