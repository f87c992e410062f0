//! `nodescope gpu` as text: devices, the allocation, the operator's chain, the Pending GPU pods
//! and the `gpu.*` findings. Every string from the node or the API is escaped ([`esc`]).

use super::escape::esc;
use crate::analyze::gpu::driver_release;
use crate::analyze::report::gpu::GpuReport;
use std::io::Write;

/// Writes the report. `header` is [`super::text::header`], escaped already; `cluster` says
/// whether cluster data was available (without it no Pending pod can be known).
pub fn write(w: &mut dyn Write, r: &GpuReport, header: &str, cluster: bool) -> std::io::Result<()> {
    writeln!(w, "{header}\n")?;
    devices(w, r)?;
    allocation(w, r)?;
    operator(w, r)?;
    pending(w, r, cluster)?;
    super::text::write_finding_lines(w, &r.findings)
}

fn devices(w: &mut dyn Write, r: &GpuReport) -> std::io::Result<()> {
    writeln!(w, "DEVICES")?;
    if r.devices.is_empty() {
        writeln!(w, "  no NVIDIA GPU on the PCI bus")?;
    }
    for d in &r.devices {
        let info = r.driver_gpus.iter().find(|i| {
            i.bus_location
                .as_deref()
                .is_some_and(|b| b.eq_ignore_ascii_case(&d.address))
        });
        writeln!(
            w,
            "  {}  {:<14} {:<44} driver {}",
            esc(&d.address),
            esc(info.and_then(|i| i.model.as_deref()).unwrap_or(&d.device)),
            esc(info.and_then(|i| i.uuid.as_deref()).unwrap_or("-")),
            esc(d.driver.as_deref().unwrap_or("none"))
        )?;
    }
    writeln!(
        w,
        "  driver: {}; NVML: {}",
        esc(&r
            .driver_version
            .as_deref()
            .map_or("not loaded".to_string(), driver_release)),
        esc(&r.nvml.as_ref().map_or("not asked".to_string(), |n| n
            .unavailable
            .clone()
            .unwrap_or_else(|| format!("{} device(s)", n.devices.len()))))
    )?;
    for d in r.nvml.iter().flat_map(|n| &n.devices) {
        writeln!(
            w,
            "  nvml {}: {} {}  memory {}/{} MiB  util {}%  MIG {}  uncorrected ECC {}",
            d.index,
            esc(d.name.as_deref().unwrap_or("?")),
            esc(d.uuid.as_deref().unwrap_or("?")),
            d.memory_used_bytes
                .map_or("?".into(), |b| (b >> 20).to_string()),
            d.memory_total_bytes
                .map_or("?".into(), |b| (b >> 20).to_string()),
            d.utilization_percent.map_or("?".into(), |u| u.to_string()),
            d.mig_enabled.map_or("?", |m| if m { "on" } else { "off" }),
            d.ecc_uncorrected.map_or("n/a".into(), |e| e.to_string()),
        )?;
        memory(w, r, d.index)?;
    }
    if !r.xids.is_empty() {
        let xids: Vec<String> = r
            .xids
            .iter()
            .map(|x| format!("{} on {}", x.xid, x.device))
            .collect();
        writeln!(w, "  Xid errors: {}", esc(&xids.join(", ")))?;
    }
    Ok(())
}

/// GPU `index`'s MIG instances and the processes holding its (or an instance's) memory, with
/// their pods, under its `nvml` line; nothing when NVML lists no instance or process.
fn memory(w: &mut dyn Write, r: &GpuReport, index: u32) -> std::io::Result<()> {
    for m in r.memory.iter().filter(|m| m.index == index) {
        if let Some(mig) = m.mig_index {
            writeln!(
                w,
                "  nvml {} MIG {mig}: {} {}  memory {}/{} MiB",
                m.index,
                esc(m.name.as_deref().unwrap_or("?")),
                esc(m.uuid.as_deref().unwrap_or("?")),
                m.used_bytes.map_or("?".into(), |b| (b >> 20).to_string()),
                m.total_bytes.map_or("?".into(), |b| (b >> 20).to_string()),
            )?;
        }
        for h in &m.holders {
            writeln!(
                w,
                "    {:>7} MiB  {}",
                h.used_bytes.map_or("?".into(), |b| (b >> 20).to_string()),
                esc(&h.label())
            )?;
        }
    }
    Ok(())
}

fn allocation(w: &mut dyn Write, r: &GpuReport) -> std::io::Result<()> {
    writeln!(w, "\nALLOCATION (kubelet device checkpoint)")?;
    if r.allocation.is_empty() {
        writeln!(w, "  nothing registered by a device plugin")?;
    }
    for a in &r.allocation {
        writeln!(
            w,
            "  {:<24} {:<48} {}",
            esc(&a.resource),
            esc(&a.device),
            esc(&a.holder)
        )?;
    }
    Ok(())
}

fn operator(w: &mut dyn Write, r: &GpuReport) -> std::io::Result<()> {
    if r.operator.is_empty() {
        return Ok(());
    }
    writeln!(w, "\nGPU OPERATOR (dependency order)")?;
    for c in &r.operator {
        writeln!(
            w,
            "  {:<14} {:<50} {}{}",
            c.link,
            esc(&c.pod),
            if c.running { "running" } else { "NOT RUNNING" },
            if c.detail.is_empty() {
                String::new()
            } else {
                format!("  {}", esc(&c.detail))
            }
        )?;
    }
    Ok(())
}

fn pending(w: &mut dyn Write, r: &GpuReport, cluster: bool) -> std::io::Result<()> {
    writeln!(w, "\nPENDING GPU PODS")?;
    if !cluster {
        writeln!(w, "  ({NO_CLUSTER})")?;
    } else if r.pending.is_empty() {
        writeln!(w, "  none")?;
    }
    for p in &r.pending {
        let asks: Vec<String> = p.requests.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(
            w,
            "  {}/{} asks for {}",
            esc(&p.namespace),
            esc(&p.pod),
            esc(&asks.join(", "))
        )?;
        for reason in &p.reasons {
            writeln!(
                w,
                "    {:<22} {} [{}]",
                reason.reason,
                esc(&reason.detail),
                esc(&reason.nodes.join(", "))
            )?;
        }
        if let Some(m) = &p.scheduler_message {
            writeln!(w, "    scheduler said: {}", esc(m))?;
        }
        writeln!(w, "    fix: {}", esc(&p.fix))?;
    }
    Ok(())
}

/// Why the Pending GPU pods are not listed when no cluster data was available.
pub const NO_CLUSTER: &str =
    "no cluster data: Pending pods need the API server, --cluster-dump or a bundle's cluster/";
