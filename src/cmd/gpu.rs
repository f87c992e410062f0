//! `gpu`: the node's GPUs (model, driver, MIG, health), which pod holds each device, and the
//! Pending GPU pods with every reason and the one change that would schedule each.

use crate::analyze::{self, gpu};
use crate::cli::{GpuArgs, GpuFormat};
use crate::render::escape::esc;
use crate::source::Host;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn run(
    out: &mut dyn Write,
    host: &dyn Host,
    args: &GpuArgs,
    cluster: super::cluster::Plan,
) -> anyhow::Result<ExitCode> {
    let (snap, _) = super::cluster::collect(&cluster, host, Default::default());
    let findings: Vec<analyze::Finding> = analyze::analyze(&snap)
        .into_iter()
        .filter(|f| f.id.starts_with("gpu."))
        .collect();
    let pending = gpu::pending(&snap);
    let g = &snap.gpu;
    // Device -> holder, from the kubelet's checkpoint; names from the node or the API.
    let name_of = |uid: &str| -> String {
        snap.pods
            .iter()
            .find(|p| p.uid == uid)
            .and_then(|p| Some(format!("{}/{}", p.namespace.as_ref()?, p.name.as_ref()?)))
            .or_else(|| {
                snap.cluster
                    .as_ref()?
                    .pods
                    .iter()
                    .find(|p| p.uid == uid)
                    .map(|p| format!("{}/{}", p.namespace, p.name))
            })
            .unwrap_or_else(|| format!("pod {uid}"))
    };
    let mut allocation: Vec<(String, String, String)> = Vec::new();
    if let Some(cp) = &g.checkpoint {
        for (res, ids) in &cp.registered {
            for id in ids {
                let holder = cp
                    .allocations
                    .iter()
                    .find(|a| &a.resource == res && a.device_ids.contains(id))
                    .map(|a| format!("{} ({})", name_of(&a.pod_uid), a.container))
                    .unwrap_or_else(|| "free".into());
                allocation.push((res.clone(), id.clone(), holder));
            }
        }
    }
    let components = gpu::operator_components(&snap);
    match args.format {
        GpuFormat::Json => {
            let v = serde_json::json!({
                "schema": "nodescope-gpu/1",
                "node": snap.hostname(),
                "taken_at": snap.taken_at,
                "devices": g.devices,
                "driver_version": g.driver_version,
                "driver_gpus": g.driver_gpus,
                "nvml": g.nvml,
                "xids": g.xids,
                "device_plugin_sockets": g.device_plugin_sockets,
                "allocation": allocation.iter().map(|(r, d, h)| serde_json::json!({"resource": r, "device": d, "holder": h})).collect::<Vec<_>>(),
                "operator": components,
                "validations": g.validations,
                "pending": pending,
                "findings": findings,
                "errors": snap.errors,
            });
            crate::render::json::write_pretty(out, &v)?;
        }
        GpuFormat::Text => {
            writeln!(out, "{}\n", crate::render::text::header(&snap))?;
            writeln!(out, "DEVICES")?;
            if g.devices.is_empty() {
                writeln!(out, "  no NVIDIA GPU on the PCI bus")?;
            }
            for d in &g.devices {
                let info = g.driver_gpus.iter().find(|i| {
                    i.bus_location
                        .as_deref()
                        .is_some_and(|b| b.eq_ignore_ascii_case(&d.address))
                });
                writeln!(
                    out,
                    "  {}  {:<14} {:<44} driver {}",
                    esc(&d.address),
                    esc(info.and_then(|i| i.model.as_deref()).unwrap_or(&d.device)),
                    esc(info.and_then(|i| i.uuid.as_deref()).unwrap_or("-")),
                    esc(d.driver.as_deref().unwrap_or("none"))
                )?;
            }
            writeln!(
                out,
                "  driver: {}; NVML: {}",
                esc(&g
                    .driver_version
                    .as_deref()
                    .map_or("not loaded".to_string(), gpu::driver_release)),
                esc(&g.nvml.as_ref().map_or("not asked".to_string(), |n| n
                    .unavailable
                    .clone()
                    .unwrap_or_else(|| format!("{} device(s)", n.devices.len()))))
            )?;
            for d in g.nvml.iter().flat_map(|n| &n.devices) {
                writeln!(
                    out,
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
            }
            if !g.xids.is_empty() {
                writeln!(
                    out,
                    "  Xid errors: {}",
                    esc(&g
                        .xids
                        .iter()
                        .map(|x| format!("{} on {}", x.xid, x.device))
                        .collect::<Vec<_>>()
                        .join(", "))
                )?;
            }
            writeln!(out, "\nALLOCATION (kubelet device checkpoint)")?;
            if allocation.is_empty() {
                writeln!(out, "  nothing registered by a device plugin")?;
            }
            for (res, id, holder) in &allocation {
                writeln!(out, "  {:<24} {:<48} {}", esc(res), esc(id), esc(holder))?;
            }
            if !components.is_empty() {
                writeln!(out, "\nGPU OPERATOR (dependency order)")?;
                for c in &components {
                    writeln!(
                        out,
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
            }
            writeln!(out, "\nPENDING GPU PODS")?;
            if snap.cluster.is_none() {
                writeln!(
                    out,
                    "  (no cluster data: Pending pods need the API server, --cluster-dump or a bundle's cluster/)"
                )?;
            } else if pending.is_empty() {
                writeln!(out, "  none")?;
            }
            for p in &pending {
                writeln!(
                    out,
                    "  {}/{} asks for {}",
                    esc(&p.namespace),
                    esc(&p.pod),
                    esc(&p
                        .requests
                        .iter()
                        .map(|(k, v)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", "))
                )?;
                for r in &p.reasons {
                    writeln!(
                        out,
                        "    {:<22} {} [{}]",
                        r.reason,
                        esc(&r.detail),
                        esc(&r.nodes.join(", "))
                    )?;
                }
                if let Some(m) = &p.scheduler_message {
                    writeln!(out, "    scheduler said: {}", esc(m))?;
                }
                writeln!(out, "    fix: {}", esc(&p.fix))?;
            }
            if !findings.is_empty() {
                writeln!(out)?;
                for f in &findings {
                    writeln!(
                        out,
                        "{:<8} {:<26} {}",
                        f.severity.as_str().to_uppercase(),
                        f.id,
                        esc(&f.title)
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::from(super::check::exit_code(
        &findings,
        args.fail_on,
    )))
}
