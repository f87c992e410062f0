//! `disk`: the disk view. Walks more than `check` does (the image store too), with a time
//! budget and a progress line on a terminal.

use crate::analyze::{self, report::disk as disk_report};
use crate::cli::{DiskArgs, DiskFormat};
use crate::collect::disk::DiskOptions;
use crate::render::escape::esc;
use crate::source::Host;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

pub(super) fn run(
    out: &mut dyn Write,
    host: &dyn Host,
    args: &DiskArgs,
) -> anyhow::Result<ExitCode> {
    let tty = std::io::stderr().is_terminal();
    let progress = |what: &str| {
        // One rewritten line on stderr: the walk's progress, never mixed into the report.
        let line = format!("\r\x1b[2Knodescope: walking {}...", esc(what));
        let _ = std::io::stderr().write_all(line.as_bytes());
    };
    let opts = DiskOptions {
        deep: true,
        budget: Duration::from_secs_f64(args.budget.max(0.1)),
        progress: if tty { Some(&progress) } else { None },
    };
    let snap = crate::collect::snapshot_with(host, opts);
    if tty {
        let _ = std::io::stderr().write_all(b"\r\x1b[2K");
    }
    let findings = analyze::analyze(&snap);
    let report = disk_report::build(&snap, &findings);
    match args.format {
        DiskFormat::Text => {
            crate::render::disk::write(out, &report, &crate::render::text::header(&snap))?;
            crate::render::text::write_not_collected(out, &snap.errors)?;
        }
        DiskFormat::Json => {
            let v = disk_report::DiskJson {
                report: &report,
                errors: &snap.errors,
                disk: &snap.disk,
            };
            crate::render::json::write_pretty(out, &v)?;
        }
    }
    Ok(ExitCode::from(super::check::exit_code(
        &report.findings,
        args.fail_on.threshold(),
    )))
}
