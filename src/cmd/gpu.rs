//! `gpu`: the node's GPUs (model, driver, MIG, health), which pod holds each device, and the
//! Pending GPU pods with every reason and the one change that would schedule each. Glue only:
//! the report is `analyze/report/gpu.rs`, its text `render/gpu.rs`.

use crate::analyze::{self, report::gpu as gpu_report};
use crate::cli::{GpuArgs, GpuFormat};
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
    let report = gpu_report::build(&snap, &analyze::analyze(&snap));
    match args.format {
        GpuFormat::Json => crate::render::json::write_pretty(out, &report)?,
        GpuFormat::Text => crate::render::gpu::write(
            out,
            &report,
            &crate::render::text::header(&snap),
            snap.cluster.is_some(),
        )?,
    }
    Ok(ExitCode::from(super::check::exit_code(
        &report.findings,
        args.fail_on.threshold(),
    )))
}
