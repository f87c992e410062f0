//! `nodescope disk` as text: filesystems, then top consumers, then the fixes.

use crate::analyze::disk_report::DiskReport;
use crate::analyze::signals::human_bytes;
use std::io::Write;

fn hb(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| {
        human_bytes(i64::try_from(b).unwrap_or(i64::MAX))
    })
}

fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{p:.0}%"))
}

/// Large counts the way df -hi prints them: 6.6M, 412k.
fn count(n: Option<u64>) -> String {
    match n {
        None => "-".into(),
        Some(n) if n >= 10_000_000 => format!("{}M", n / 1_000_000),
        Some(n) if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        Some(n) if n >= 10_000 => format!("{}k", n / 1000),
        Some(n) => n.to_string(),
    }
}

pub fn write(w: &mut dyn Write, r: &DiskReport, header: &str) -> std::io::Result<()> {
    writeln!(w, "{header}\n")?;
    writeln!(w, "FILESYSTEMS")?;
    writeln!(
        w,
        "  {:<28} {:<6} {:>7} {:>7} {:>7} {:>5} {:>7} {:>6}  ROLE / EVICTION THRESHOLDS",
        "MOUNT", "TYPE", "SIZE", "USED", "AVAIL", "USE%", "INODES", "IUSE%"
    )?;
    for f in &r.filesystems {
        let mut notes: Vec<String> = f.roles.iter().map(|s| s.to_string()).collect();
        for s in &f.signals {
            notes.push(format!(
                "{}{}{} {}",
                s.signal,
                "<",
                s.threshold,
                if s.met {
                    format!("({}, MET)", s.kind)
                } else {
                    format!("({})", s.kind)
                }
            ));
        }
        if f.stuck {
            notes.push("STUCK: statvfs did not answer".into());
        } else if let Some(e) = &f.error {
            notes.push(e.clone());
        }
        writeln!(
            w,
            "  {:<28} {:<6} {:>7} {:>7} {:>7} {:>5} {:>7} {:>6}  {}",
            f.mount_point,
            f.fs_type,
            hb(f.size_bytes),
            hb(f.used_bytes),
            hb(f.available_bytes),
            pct(f.used_percent),
            count(f.inodes),
            pct(f.inodes_used_percent),
            notes.join("  ")
        )?;
    }
    writeln!(w, "\nTOP CONSUMERS")?;
    if r.consumers.is_empty() {
        writeln!(
            w,
            "  none found (no pod logs, volumes or deleted-but-open files)"
        )?;
    }
    for c in r.consumers.iter().take(20) {
        writeln!(
            w,
            "  {:>8}{} {:<22} {:<36} {}{}",
            hb(Some(c.bytes)),
            if c.at_least { "+" } else { " " },
            c.kind,
            c.owner,
            c.path,
            c.files
                .filter(|n| *n > 1)
                .map_or(String::new(), |n| format!("  ({} files)", count(Some(n))))
        )?;
    }
    if r.consumers.len() > 20 {
        writeln!(
            w,
            "  ... {} more (--format json lists all)",
            r.consumers.len() - 20
        )?;
    }
    match (&r.unused_images, &r.unused_images_note) {
        (Some(v), _) if !v.is_empty() => {
            let total: u64 = v.iter().filter_map(|i| i.bytes).sum();
            writeln!(
                w,
                "\nUNUSED IMAGES ({} freed by crictl rmi --prune)",
                hb(Some(total))
            )?;
            for i in v {
                writeln!(
                    w,
                    "  {:>8}  {}  {}",
                    hb(i.bytes),
                    &i.id[..i.id.len().min(12)],
                    i.names.join(", ")
                )?;
            }
        }
        (Some(_), _) => writeln!(
            w,
            "\nUNUSED IMAGES\n  none: every image is used by a container"
        )?,
        (None, Some(note)) => writeln!(w, "\nUNUSED IMAGES\n  {note}")?,
        (None, None) => {}
    }
    writeln!(w, "\nFIXES")?;
    for f in &r.fixes {
        writeln!(w, "  - {f}")?;
    }
    let worst = r.findings.iter().map(|f| f.severity).max();
    writeln!(
        w,
        "\n{} disk finding(s){}; `nodescope check --rule ID` for details, `nodescope explain ID` for what each means.",
        r.findings.len(),
        worst.map_or(String::new(), |s| format!(", worst {}", s.as_str()))
    )?;
    Ok(())
}
