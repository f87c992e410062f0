//! `capture`: record a live snapshot into a bundle that analyzes to the same findings.

use crate::cli::CaptureArgs;
use crate::source::Host;
use crate::source::live::LiveHost;
use crate::source::record::RecordingHost;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub(super) fn run(
    root: &Path,
    args: &CaptureArgs,
    cluster: super::cluster::Job,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let live = LiveHost::new(root)?;
    let rec = RecordingHost::new(live, root);
    super::pipe::note(&format!("capturing {} ...", rec.describe()));
    let mut snap = crate::collect::snapshot(&rec);
    let api = super::cluster::finish_keeping(cluster, &mut snap);
    let findings = crate::analyze::analyze(&snap);
    // What the API server said goes into the bundle as the List documents `--bundle` reads.
    if let Some(data) = &api {
        for (name, bytes) in crate::source::cluster::to_files(data) {
            rec.add_file(&format!("/cluster/{name}"), bytes);
        }
    }
    let out = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "nodescope-{}-{}.tar.gz",
            snap.hostname(),
            snap.taken_at.strftime("%Y%m%dT%H%M%SZ")
        ))
    });
    let (entries, bytes) = rec.write_bundle(&out, Some(serde_json::to_value(&findings)?))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    super::pipe::note(&format!(
        "wrote {} ({} entries, {} KiB of file content, {} KiB compressed; {} finding(s), {} collection error(s)) in {} ms",
        out.display(),
        entries,
        bytes / 1024,
        size / 1024,
        findings.len(),
        snap.errors.len(),
        started.elapsed().as_millis()
    ));
    super::pipe::note(&format!(
        "analyze it anywhere with: nodescope --bundle {} check",
        crate::render::escape::shell_word(&out.to_string_lossy())
    ));
    Ok(ExitCode::SUCCESS)
}
