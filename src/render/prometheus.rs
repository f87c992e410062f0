//! `check --format prometheus`: the node_exporter textfile-collector format. One
//! `nodescope_finding` series per finding, and the key signals as gauges with unit-suffixed
//! names (prometheus.io/docs/practices/naming). No timestamps: the textfile collector rejects a
//! whole file that has any. Write it to `DIR/nodescope.prom.tmp` and rename it into place.

use crate::analyze::signals::{memory_available, pid_available, resolve};
use crate::analyze::{Finding, Severity};
use crate::model::Snapshot;
use std::fmt::Write as _;
use std::io::Write;

/// Escapes a label value: backslash, double quote and newline (exposition format).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The JSON name of an error kind (`timeout`), stable for label values: the same as in
/// `check --format json`, whatever kinds are added.
fn error_kind(k: crate::source::ErrorKind) -> String {
    match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => s,
        _ => k.to_string(),
    }
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} gauge");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        if l.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{}}} {value}", l.join(","));
        }
    }
}

/// Renders the exposition text.
pub fn render(snap: &Snapshot, findings: &[Finding]) -> String {
    let mut o = Out(String::new());
    o.family("nodescope_build_info", "nodescope version, 1.");
    o.sample(
        "nodescope_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    o.family(
        "nodescope_finding",
        "A finding that holds (1), by rule id and subject.",
    );
    for f in findings {
        let s = &f.subject;
        o.sample(
            "nodescope_finding",
            &[
                ("id", &f.id),
                ("severity", f.severity.as_str()),
                ("namespace", s.namespace.as_deref().unwrap_or("")),
                ("pod", s.pod.as_deref().unwrap_or("")),
                ("container", s.container.as_deref().unwrap_or("")),
            ],
            1.0,
        );
    }
    o.family("nodescope_findings", "Number of findings by severity.");
    for sev in [Severity::Critical, Severity::Warning, Severity::Info] {
        o.sample(
            "nodescope_findings",
            &[("severity", sev.as_str())],
            findings.iter().filter(|f| f.severity == sev).count() as f64,
        );
    }
    o.family(
        "nodescope_collection_errors",
        "Sources nodescope could not read on this run.",
    );
    o.sample("nodescope_collection_errors", &[], snap.errors.len() as f64);
    if !snap.errors.is_empty() {
        o.family(
            "nodescope_collection_error",
            "A source nodescope could not read (1), by collector, kind and path; the comment \
             line before it says why.",
        );
    }
    for e in &snap.errors {
        let path = e.path.as_deref().unwrap_or("");
        // A comment for the human who curls /metrics: "stuck since 02:58:13 UTC, 41 samples".
        let _ = writeln!(
            o.0,
            "# {} {} {path}: {}",
            e.collector,
            e.kind,
            e.message.replace('\n', " ")
        );
        o.sample(
            "nodescope_collection_error",
            &[
                ("collector", &e.collector),
                ("kind", &error_kind(e.kind)),
                ("path", path),
            ],
            1.0,
        );
    }
    if let Some(m) = memory_available(snap) {
        o.family(
            "nodescope_memory_available_bytes",
            "memory.available as the kubelet computes it.",
        );
        o.sample("nodescope_memory_available_bytes", &[], m.available as f64);
        o.family(
            "nodescope_memory_capacity_bytes",
            "MemTotal, the capacity memory.available percentages resolve against.",
        );
        o.sample("nodescope_memory_capacity_bytes", &[], m.capacity as f64);
        if let Some(k) = &snap.kubelet {
            let mut any = false;
            for (kind, map) in [
                ("hard", &k.config.eviction_hard),
                ("soft", &k.config.eviction_soft),
            ] {
                if let Some(t) = map.get("memory.available") {
                    if !any {
                        o.family(
                            "nodescope_memory_eviction_threshold_bytes",
                            "The kubelet's memory.available eviction thresholds.",
                        );
                        any = true;
                    }
                    o.sample(
                        "nodescope_memory_eviction_threshold_bytes",
                        &[("kind", kind)],
                        resolve(t, m.capacity) as f64,
                    );
                }
            }
        }
    }
    if let Some(full) = snap.psi.memory.and_then(|p| p.full) {
        o.family(
            "nodescope_memory_psi_full_avg10_ratio",
            "Share of the last 10 s all tasks stalled on memory (0-1).",
        );
        o.sample(
            "nodescope_memory_psi_full_avg10_ratio",
            &[],
            full.avg10 / 100.0,
        );
    }
    if let Some(p) = pid_available(snap) {
        o.family(
            "nodescope_pids_available",
            "pid.available as the kubelet computes it.",
        );
        o.sample("nodescope_pids_available", &[], p.available as f64);
        o.family("nodescope_pids_capacity", "min(pid_max, threads-max).");
        o.sample("nodescope_pids_capacity", &[], p.capacity as f64);
    }
    let stats: Vec<_> = snap
        .filesystems
        .iter()
        .filter_map(|f| f.stat.map(|s| (f, s)))
        .collect();
    if !stats.is_empty() {
        o.family(
            "nodescope_filesystem_available_bytes",
            "statvfs f_bavail * f_frsize.",
        );
        for (f, s) in &stats {
            o.sample(
                "nodescope_filesystem_available_bytes",
                &[("mountpoint", &f.mount_point)],
                (s.bavail * s.frsize) as f64,
            );
        }
        o.family(
            "nodescope_filesystem_inodes_free_ratio",
            "statvfs f_ffree / f_files (0-1); absent for filesystems without an inode count.",
        );
        for (f, s) in stats.iter().filter(|(_, s)| s.files > 0) {
            o.sample(
                "nodescope_filesystem_inodes_free_ratio",
                &[("mountpoint", &f.mount_point)],
                s.ffree as f64 / s.files as f64,
            );
        }
    }
    let stuck = snap.filesystems.iter().filter(|f| f.stuck).count();
    o.family(
        "nodescope_filesystems_stuck",
        "Mounts whose statvfs did not return within its deadline.",
    );
    o.sample("nodescope_filesystems_stuck", &[], stuck as f64);
    o.family(
        "nodescope_kernel_oom_kills",
        "OOM kills in the kernel ring buffer now.",
    );
    o.sample(
        "nodescope_kernel_oom_kills",
        &[],
        snap.oom_kills.len() as f64,
    );
    o.0
}

/// Writes the exposition text.
pub fn write(w: &mut dyn Write, snap: &Snapshot, findings: &[Finding]) -> std::io::Result<()> {
    w.write_all(render(snap, findings).as_bytes())
}
