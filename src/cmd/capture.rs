//! `capture`: record a live snapshot into a bundle that analyzes to the same findings.
//!
//! The destination is checked before anything is collected (a directory, device, FIFO,
//! socket or link is refused at once, exit 3) and written as [`out_file`] writes: a temporary
//! file beside it, renamed into place. `-o -` writes the bundle to standard output.

use crate::cli::CaptureArgs;
use crate::source::Host;
use crate::source::live::LiveHost;
use crate::source::out_file;
use crate::source::record::RecordingHost;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Where the bundle goes.
enum Out {
    Stdout,
    File(out_file::Destination),
}

pub(super) fn run(
    root: &Path,
    args: &CaptureArgs,
    cluster: super::cluster::Plan,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let named = match args.output.as_deref() {
        Some(p) if p == Path::new("-") => Some(Out::Stdout),
        Some(p) => Some(Out::File(out_file::Destination::check(p)?)),
        None => None,
    };
    let live = LiveHost::new(root)?;
    let rec = RecordingHost::new(live, root);
    super::pipe::note(&format!("capturing {} ...", rec.describe()));
    let (snap, api) = super::cluster::collect(&cluster, &rec, Default::default());
    let findings = crate::analyze::analyze(&snap);
    // What the API server said goes into the bundle as the List documents `--bundle` reads.
    if let Some(data) = &api {
        for (name, bytes) in crate::source::cluster::to_files(data) {
            rec.add_file(&format!("/cluster/{name}"), bytes);
        }
    }
    let default_name = || {
        PathBuf::from(format!(
            "nodescope-{}-{}.tar.gz",
            snap.hostname(),
            snap.taken_at.strftime("%Y%m%dT%H%M%SZ")
        ))
    };
    let out = match named {
        Some(o) => o,
        None => Out::File(out_file::Destination::check(&default_name())?),
    };
    // docs/bundle-format.md: the `findings` list of `check --format json`, group keys included.
    let recorded = Some(serde_json::to_value(
        crate::analyze::report::check::build(&snap, &findings).findings,
    )?);
    let (entries, bytes, shown) = match &out {
        Out::Stdout => {
            let top = default_name()
                .to_string_lossy()
                .trim_end_matches(".tar.gz")
                .to_string();
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let (e, b) = rec.write_bundle_to(&mut lock, &top, recorded)?;
            lock.flush()?;
            (e, b, "standard output".to_string())
        }
        Out::File(dest) => {
            let (e, b) = rec.write_bundle(dest.path(), recorded)?;
            (e, b, dest.path().display().to_string())
        }
    };
    let size = match &out {
        Out::File(d) => std::fs::metadata(d.path()).map(|m| m.len()).unwrap_or(0),
        Out::Stdout => 0,
    };
    super::pipe::note(&format!(
        "wrote {shown} ({} entries, {} KiB of file content, {} KiB compressed; {} finding(s), {} collection error(s), {} unparsable file(s) withheld) in {} ms",
        entries,
        bytes / 1024,
        size / 1024,
        findings.len(),
        snap.errors.len(),
        rec.withheld(),
        started.elapsed().as_millis()
    ));
    if let Out::File(d) = &out {
        super::pipe::note(&format!(
            "analyze it anywhere with: nodescope --bundle {} check",
            crate::render::escape::shell_word(&d.path().to_string_lossy())
        ));
    }
    Ok(ExitCode::SUCCESS)
}
