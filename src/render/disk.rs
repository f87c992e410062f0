//! `nodescope disk` as text: filesystems, then top consumers, then the fixes.

use super::escape::esc;
use crate::analyze::report::disk::DiskReport;
use crate::model::units::bytes_or_dash;
use std::io::Write;

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

/// An image id as `crictl images` shows it: 13 characters, without `sha256:`.
fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..13).unwrap_or(id)
}

/// Writes the view; mount points, paths, owners, image names and fixes come from the node and
/// are escaped ([`esc`]). `header` is [`super::text::header`], escaped already.
pub fn write(w: &mut dyn Write, r: &DiskReport, header: &str) -> std::io::Result<()> {
    writeln!(w, "{header}\n")?;
    writeln!(w, "FILESYSTEMS")?;
    writeln!(
        w,
        "  {:<28} {:<6} {:>7} {:>7} {:>7} {:>5} {:>7} {:>6}  ROLE / EVICTION THRESHOLDS",
        "MOUNT", "TYPE", "SIZE", "USED", "AVAIL", "USE%", "INODES", "IUSE%"
    )?;
    let mut df_differs = false;
    for f in &r.filesystems {
        let mut notes: Vec<String> = f.roles.iter().map(|s| s.to_string()).collect();
        // USE% is the kubelet's figure; df's, lower by the reserved blocks, beside it.
        if let (Some(u), Some(d)) = (f.used_percent, f.df_used_percent)
            && u != d
        {
            df_differs = true;
            notes.insert(0, format!("df {d:.0}%"));
        }
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
            notes.push(esc(e).into_owned());
        }
        writeln!(
            w,
            "  {:<28} {:<6} {:>7} {:>7} {:>7} {:>5} {:>7} {:>6}  {}",
            esc(&f.mount_point),
            esc(&f.fs_type),
            bytes_or_dash(f.size_bytes),
            bytes_or_dash(f.used_bytes),
            bytes_or_dash(f.available_bytes),
            pct(f.used_percent),
            count(f.inodes),
            pct(f.inodes_used_percent),
            notes.join("  ")
        )?;
    }
    if df_differs {
        writeln!(
            w,
            "  USE% = 1 - AVAIL/SIZE, as the kubelet's thresholds compare; df N% = df's Use%, without the root-reserved blocks"
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
            bytes_or_dash(Some(c.bytes)),
            if c.at_least { "+" } else { " " },
            c.kind,
            esc(&c.owner),
            esc(&c.path),
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
    if let Some(s) = &r.images {
        writeln!(w, "\nIMAGES (from {})", esc(&s.source))?;
        writeln!(
            w,
            "  {} image{} ({}), {} unused{}, {} reclaimable by `crictl rmi --prune`",
            s.count,
            if s.count == 1 { "" } else { "s" },
            bytes_or_dash(Some(s.bytes)),
            s.unused,
            if s.unused_pinned > 0 {
                format!(" ({} of them pinned, which prune keeps)", s.unused_pinned)
            } else {
                String::new()
            },
            bytes_or_dash(Some(s.reclaimable_bytes))
        )?;
        for f in &s.filesystems {
            writeln!(
                w,
                "  image filesystem {}: {} used by images, {} inodes",
                esc(&f.mountpoint),
                bytes_or_dash(f.used_bytes),
                count(f.inodes_used)
            )?;
        }
    }
    match (&r.unused_images, &r.unused_images_note) {
        (Some(v), _) if !v.is_empty() => {
            writeln!(
                w,
                "\nUNUSED IMAGES (largest first; shared layers count in each)"
            )?;
            for i in v.iter().take(15) {
                writeln!(
                    w,
                    "  {:>8}  {}  {}",
                    bytes_or_dash(i.bytes),
                    esc(short_id(&i.id)),
                    esc(&i.names.join(", "))
                )?;
            }
            if v.len() > 15 {
                writeln!(w, "  ... {} more (--format json lists all)", v.len() - 15)?;
            }
        }
        (Some(_), _) => writeln!(
            w,
            "\nUNUSED IMAGES\n  none: every image is used by a container or pinned"
        )?,
        (None, Some(note)) => writeln!(w, "\nUNUSED IMAGES\n  {}", esc(note))?,
        (None, None) => {}
    }
    writeln!(w, "\nFIXES")?;
    for f in &r.fixes {
        writeln!(w, "  - {}", esc(f))?;
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
