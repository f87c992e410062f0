//! `check --format prometheus`: the node_exporter textfile-collector format. One
//! `nodescope_finding` series per distinct finding, and the key signals as gauges with
//! unit-suffixed names (prometheus.io/docs/practices/naming). No timestamps: the textfile
//! collector rejects a whole file that has any. Write it to `DIR/nodescope.prom.tmp` and
//! rename it into place.
//!
//! Every series is unique, or node_exporter rejects the whole file ("collected metric ... was
//! collected before with the same name and label values"): a finding's labels are its rule, its
//! severity and its subject (namespace, pod, container, device, path); findings that still share
//! all of them (two OOM kills outside known pods, two GPUs without an Xid) are one series whose
//! value is their number. A pid is no label: pids change with every restart, and a label per pid
//! would grow the series without bound.

use crate::analyze::eviction_signals::{memory_available, pid_available, resolve};
use crate::analyze::{Finding, Severity};
use crate::model::Snapshot;
use std::fmt::Write as _;
use std::io::Write;

/// A label value as the exposition format wants it (backslash, double quote and newline
/// escaped), after the terminal escaping of every text output ([`super::escape::esc`]): a
/// `.prom` file is read by people with `cat` too.
fn esc(v: &str) -> String {
    super::escape::esc(v)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The labels of a finding's series.
fn finding_labels(f: &Finding) -> [(&'static str, String); 7] {
    let s = &f.subject;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        ("id", f.id.clone()),
        ("severity", f.severity.as_str().to_string()),
        ("namespace", v(&s.namespace)),
        ("pod", v(&s.pod)),
        ("container", v(&s.container)),
        ("device", v(&s.device)),
        ("path", v(&s.path)),
    ]
}

/// The `nodescope_finding` series: one per distinct label set, in the findings' order, with
/// the number of findings that have it.
fn finding_series(findings: &[Finding]) -> Vec<([(&'static str, String); 7], usize)> {
    let mut out: Vec<([(&'static str, String); 7], usize)> = Vec::new();
    for f in findings {
        let labels = finding_labels(f);
        match out.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, n)) => *n += 1,
            None => out.push((labels, 1)),
        }
    }
    out
}

/// The JSON name of an error kind (`timeout`), stable for label values: the same as in
/// `check --format json`, whatever kinds are added.
fn error_kind(k: crate::model::ErrorKind) -> String {
    match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => s,
        _ => k.to_string(),
    }
}

/// Node text in a comment line: control characters shown, never sent to a terminal.
fn esc_text(v: &str) -> String {
    crate::render::escape::esc(v).into_owned()
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, help: &str) {
        self.typed(name, help, "gauge");
    }
    fn typed(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
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
        "Findings that hold, by rule id and subject: how many share these labels.",
    );
    for (labels, n) in finding_series(findings) {
        let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        o.sample("nodescope_finding", &l, n as f64);
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
            "Sources nodescope could not read, by collector, kind and path (the count of errors \
             sharing them); the comment lines before them say why.",
        );
    }
    // One series per (collector, kind, path), with how many errors share it: two failures of
    // one source must not print two identical series (the textfile collector rejects that).
    let mut series: Vec<((&str, String, &str), usize)> = Vec::new();
    for e in &snap.errors {
        let path = e.path.as_deref().unwrap_or("");
        // A comment for the human who curls /metrics: "stuck since 02:58:13 UTC, 41 samples";
        // escaped like every text a terminal shows.
        let _ = writeln!(
            o.0,
            "# {} {} {}: {}",
            esc_text(&e.collector),
            e.kind,
            esc_text(path),
            esc_text(&e.message)
        );
        let key = (e.collector.as_str(), error_kind(e.kind), path);
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => series.push((key, 1)),
        }
    }
    for ((collector, kind, path), n) in &series {
        o.sample(
            "nodescope_collection_error",
            &[("collector", collector), ("kind", kind), ("path", path)],
            *n as f64,
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
    if let Some(n) = snap.oom_kills_since_boot {
        // A counter: the alert on rising OOM kills takes its increase(), which a ring-buffer
        // count cannot give (old records are overwritten, and the count falls).
        o.typed(
            "nodescope_oom_kills_total",
            "OOM kills since boot, node-wide (/proc/vmstat oom_kill).",
            "counter",
        );
        o.sample("nodescope_oom_kills_total", &[], n as f64);
    }
    gpu_memory(&mut o, snap);
    if let Some(ct) = &snap.dns.conntrack {
        if let (Some(count), Some(max)) = (ct.count, ct.max) {
            o.family(
                "nodescope_conntrack_entries",
                "nf_conntrack_count: entries in the conntrack table.",
            );
            o.sample("nodescope_conntrack_entries", &[], count as f64);
            o.family(
                "nodescope_conntrack_max_entries",
                "nf_conntrack_max: the table's size; at it, new flows are dropped.",
            );
            o.sample("nodescope_conntrack_max_entries", &[], max as f64);
        }
        if let Some(n) = ct.insert_failed {
            o.typed(
                "nodescope_conntrack_insert_failed_total",
                "insert_failed summed over CPUs (/proc/net/stat/nf_conntrack): lost races, \
                 the DNS 5-second timeout.",
                "counter",
            );
            o.sample("nodescope_conntrack_insert_failed_total", &[], n as f64);
        }
    }
    o.0
}

/// GPU memory by device (and MIG instance) as NVML reported it: used and total bytes labelled
/// by NVML index and uuid, with `mig` for an instance. Nothing when no figure is known.
fn gpu_memory(o: &mut Out, snap: &Snapshot) {
    let devices = crate::analyze::gpu_memory::devices(snap);
    type Figure = fn(&crate::analyze::gpu_memory::GpuMemory) -> Option<u64>;
    let families: [(&str, &str, Figure); 2] = [
        (
            "nodescope_gpu_memory_used_bytes",
            "GPU memory in use (NVML), by GPU or MIG instance.",
            |m| m.used_bytes,
        ),
        (
            "nodescope_gpu_memory_total_bytes",
            "GPU memory in total (NVML), by GPU or MIG instance.",
            |m| m.total_bytes,
        ),
    ];
    for (name, help, figure) in families {
        let known: Vec<_> = devices
            .iter()
            .filter_map(|m| figure(m).map(|v| (m, v)))
            .collect();
        if known.is_empty() {
            continue;
        }
        o.family(name, help);
        for (m, v) in known {
            let index = m.index.to_string();
            let mig = m.mig_index.map(|i| i.to_string());
            let uuid = m.uuid.clone().unwrap_or_default();
            let mut labels = vec![("index", index.as_str())];
            if let Some(mig) = &mig {
                labels.push(("mig", mig.as_str()));
            }
            labels.push(("uuid", uuid.as_str()));
            o.sample(name, &labels, v as f64);
        }
    }
}

/// Writes the exposition text.
pub fn write(w: &mut dyn Write, snap: &Snapshot, findings: &[Finding]) -> std::io::Result<()> {
    w.write_all(render(snap, findings).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Subject;

    fn f(id: &str, subject: Subject) -> Finding {
        Finding {
            id: id.into(),
            severity: Severity::Warning,
            title: String::new(),
            subject,
            evidence: serde_json::Value::Null,
            remedy: String::new(),
        }
    }

    #[test]
    fn findings_that_share_every_label_are_one_series_with_their_count() {
        let gpu = |d: &str| Subject::default().with_device(d.to_string());
        let oom = |pid: u32| Subject::default().with_pid(pid);
        let fs = [
            f("gpu.xid", gpu("0000:3b:00.0")),
            f("gpu.xid", gpu("0000:86:00.0")),
            f("memory.kernel-oom-kill", oom(101)),
            f("memory.kernel-oom-kill", oom(202)),
            f("memory.kernel-oom-kill", oom(303)),
        ];
        let series = finding_series(&fs);
        let got: Vec<(String, String, usize)> = series
            .iter()
            .map(|(l, n)| (l[0].1.clone(), l[5].1.clone(), *n))
            .collect();
        assert_eq!(
            got,
            [
                ("gpu.xid".into(), "0000:3b:00.0".into(), 1),
                ("gpu.xid".into(), "0000:86:00.0".into(), 1),
                ("memory.kernel-oom-kill".into(), String::new(), 3),
            ]
        );
    }

    #[test]
    fn label_values_are_escaped_for_the_format_and_the_terminal() {
        assert_eq!(
            esc("a\"b\\c\nd\x1b[2J"),
            "a\\\"b\\\\c\\\\nd\\\\e[2J",
            "ESC and the newline become visible text, then backslashes double"
        );
    }
}
