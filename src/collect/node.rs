//! Node identity, /proc/meminfo, PSI and the inputs of `pid.available`.

use super::{Errors, read_u64};
use crate::model::{Meminfo, NodeIdentity, PidLimits, Pressure, Psi, PsiLine};
use crate::source::Host;
use procfs_core::FromRead;

const C: &str = "node";

pub(super) fn identity(
    host: &dyn Host,
    taken_at: jiff::Timestamp,
    errs: &mut Errors,
) -> NodeIdentity {
    let mut id = NodeIdentity {
        euid: host.euid(),
        ..Default::default()
    };
    match host.read_string("/proc/sys/kernel/hostname") {
        Ok(s) => id.hostname = Some(s.trim().to_string()),
        Err(e) => {
            // Some sandboxes hide the sysctl; /etc/hostname is the next best witness.
            match host.read_string("/etc/hostname") {
                Ok(s) if !s.trim().is_empty() => id.hostname = Some(s.trim().to_string()),
                _ => errs.host(C, &e),
            }
        }
    }
    match host.read_string("/proc/sys/kernel/osrelease") {
        Ok(s) => id.kernel = Some(s.trim().to_string()),
        Err(e) => errs.host(C, &e),
    }
    // /proc/uptime: "350735.47 234388.90" — seconds since boot, then idle seconds (proc(5)).
    match host.read("/proc/uptime") {
        Ok(raw) => match procfs_core::Uptime::from_read(&raw[..]) {
            Ok(u) => {
                id.uptime_seconds = Some(u.uptime);
                let micros = (u.uptime * 1e6) as i64;
                id.boot_time = taken_at
                    .checked_sub(jiff::SignedDuration::from_micros(micros))
                    .ok();
            }
            Err(e) => errs.unparsed(host, C, "/proc/uptime", Some(1), e.to_string()),
        },
        Err(e) => errs.host(C, &e),
    }
    id
}

pub(super) fn meminfo(host: &dyn Host, errs: &mut Errors) -> Option<Meminfo> {
    let p = "/proc/meminfo";
    let raw = host.read(p).map_err(|e| errs.host(C, &e)).ok()?;
    match parse_meminfo(&raw) {
        Ok(m) => Some(m),
        Err((line, e)) => {
            errs.unparsed(host, C, p, line, e);
            None
        }
    }
}

/// `oom_kill` of /proc/vmstat, the node's OOM kills since boot. Absent before Linux 4.13 and
/// in bundles captured before it was read: `None`, not an error.
pub(super) fn vmstat_oom_kill(host: &dyn Host, errs: &mut Errors) -> Option<u64> {
    let raw = host
        .read_string("/proc/vmstat")
        .map_err(|e| errs.unless_missing(C, &e))
        .ok()?;
    parse_vmstat_oom_kill(&raw)
}

/// The value of the `oom_kill` line of /proc/vmstat (`name value` per line, proc(5)).
pub fn parse_vmstat_oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// Parses /proc/meminfo (proc(5)) with procfs-core, values in bytes. An error names the first
/// line not in `Name: value [kB]` form, when there is one.
///
/// Every line is checked before procfs-core sees the file: it cuts the last byte off each name
/// unchecked, and multiplies each value by its unit unchecked, so a name ending in a multi-byte
/// character panicked and a value over 2^54 kB overflowed. The kernel writes neither; a corrupt
/// bundle may.
pub fn parse_meminfo(raw: &[u8]) -> Result<Meminfo, (Option<usize>, String)> {
    let text = String::from_utf8_lossy(raw);
    if let Some(i) = text
        .lines()
        .position(|l| !l.is_empty() && !meminfo_line_ok(l))
    {
        return Err((
            Some(i + 1),
            format!(
                "line {} is not `Name: value [kB]` with a value that fits in 64 bits of bytes",
                i + 1
            ),
        ));
    }
    match procfs_core::Meminfo::from_read(raw) {
        Ok(m) => Ok(Meminfo {
            mem_total_bytes: m.mem_total,
            mem_free_bytes: m.mem_free,
            mem_available_bytes: m.mem_available,
            buffers_bytes: m.buffers,
            cached_bytes: m.cached,
            swap_total_bytes: m.swap_total,
            swap_free_bytes: m.swap_free,
        }),
        // Every line has the right form: a field is missing.
        Err(e) => Err((None, e.to_string())),
    }
}

/// `MemTotal:       16393256 kB`: a name ending in `:`, a number, an optional unit (`kB` in
/// every kernel; the others procfs-core knows), the number of bytes within 64 bits.
fn meminfo_line_ok(l: &str) -> bool {
    let mut it = l.split_whitespace();
    let (Some(name), Some(value)) = (it.next(), it.next()) else {
        return false;
    };
    let Ok(value) = value.parse::<u64>() else {
        return false;
    };
    let unit: u64 = match it.next() {
        None | Some("B") => 1,
        Some("KiB" | "kiB" | "kB" | "KB") => 1 << 10,
        Some("MiB" | "miB" | "MB" | "mB") => 1 << 20,
        Some("GiB" | "giB" | "GB" | "gB") => 1 << 30,
        Some(_) => return false,
    };
    name.ends_with(':') && value.checked_mul(unit).is_some()
}

pub(super) fn psi(host: &dyn Host, errs: &mut Errors) -> Psi {
    let mut out = Psi::default();
    for (res, slot) in [
        ("cpu", &mut out.cpu),
        ("memory", &mut out.memory),
        ("io", &mut out.io),
    ] {
        let p = format!("/proc/pressure/{res}");
        match host.read_string(&p) {
            Ok(text) => match parse_pressure(&text) {
                Some(pr) => *slot = Some(pr),
                None => errs.unparsed(
                    host,
                    C,
                    &p,
                    Some(1),
                    "expected `some avg10=.. avg60=.. avg300=.. total=..`",
                ),
            },
            Err(e) => errs.host(C, &e),
        }
    }
    out
}

/// Parses a PSI file (`some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and an optional `full`
/// line; Documentation/accounting/psi.rst). procfs-core requires both lines, but cpu has only
/// `some` before Linux 5.13, so this reads them with procfs-core's line parser one by one.
pub fn parse_pressure(text: &str) -> Option<Pressure> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        // procfs-core slices the record at byte 5 unchecked: a bare `some`, or a character
        // other than the kernel's space after the name, panicked in it.
        if !(line.starts_with("some ") || line.starts_with("full ")) {
            return None;
        }
        let rec = procfs_core::parse_pressure_record(line).ok()?;
        let l = PsiLine {
            avg10: round2(rec.avg10),
            avg60: round2(rec.avg60),
            avg300: round2(rec.avg300),
            total_usec: rec.total,
        };
        if line.starts_with("some") {
            some = Some(l);
        } else {
            full = Some(l);
        }
    }
    Some(Pressure { some: some?, full })
}

/// The kernel prints these with two decimals; procfs-core hands them over as f32, so round the
/// f64 back to what the file said (0.52, not 0.519999980926).
fn round2(v: f32) -> f64 {
    (f64::from(v) * 100.0).round() / 100.0
}

/// The pid limits, and `/proc/loadavg` whole (read once: a capture must replay what every
/// consumer of this snapshot saw).
pub(super) fn pid_limits(
    host: &dyn Host,
    errs: &mut Errors,
) -> (PidLimits, Option<crate::model::health::LoadAvg>) {
    let mut out = PidLimits::default();
    for (p, slot) in [
        ("/proc/sys/kernel/pid_max", &mut out.pid_max),
        ("/proc/sys/kernel/threads-max", &mut out.threads_max),
    ] {
        match read_u64(host, p) {
            Ok(v) => *slot = Some(v),
            Err(e) => errs.host(C, &e),
        }
    }
    // /proc/loadavg: "0.52 0.61 0.58 3/1874 402311"; after the '/' is every thread on the node.
    let mut whole = None;
    match host.read("/proc/loadavg") {
        Ok(raw) => match procfs_core::LoadAverage::from_read(&raw[..]) {
            Ok(l) => {
                out.threads = Some(u64::from(l.max));
                out.load1 = Some(round2(l.one));
                whole = super::health::parse_loadavg(&String::from_utf8_lossy(&raw));
            }
            Err(e) => errs.unparsed(host, C, "/proc/loadavg", Some(1), e.to_string()),
        },
        Err(e) => errs.host(C, &e),
    }
    (out, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmstat_oom_kill_is_the_oom_kill_line_only() {
        // Lines of a 6.18 kernel's /proc/vmstat around the counter (mm/vmstat.c order).
        let text = "drop_pagecache 1\ndrop_slab 2\noom_kill 29\nnuma_pte_updates 0\n";
        assert_eq!(parse_vmstat_oom_kill(text), Some(29));
        // Before 4.13 there is no such line; a prefix of another name is not it.
        assert_eq!(parse_vmstat_oom_kill("drop_slab 2\noom_kill_x 3\n"), None);
        assert_eq!(parse_vmstat_oom_kill("oom_kill many\n"), None);
    }

    #[test]
    fn pressure_with_and_without_full() {
        let p = parse_pressure("some avg10=1.50 avg60=0.20 avg300=0.00 total=12345\n").unwrap();
        assert_eq!(p.some.avg10, 1.5);
        assert_eq!(p.some.total_usec, 12345);
        assert!(p.full.is_none());
        let p = parse_pressure(
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=12.25 avg60=3.00 avg300=1.00 total=99\n",
        )
        .unwrap();
        assert_eq!(p.full.unwrap().avg10, 12.25);
        assert!(parse_pressure("garbage\n").is_none());
        assert!(parse_pressure("").is_none());
        // Regression (found by the meminfo fuzz target): procfs-core panicked on each of these.
        for bad in [
            "some",
            "full",
            "some\u{fffd}avg10=0.31 avg60=0.12 avg300=0.04 total=1",
        ] {
            assert!(parse_pressure(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn meminfo_line_shape() {
        assert!(meminfo_line_ok("MemTotal:       16393256 kB"));
        assert!(meminfo_line_ok("HugePages_Total:       0"));
        assert!(!meminfo_line_ok("MemTotal 12 kB"));
        assert!(!meminfo_line_ok("MemTotal: x kB"));
    }

    #[test]
    fn meminfo_the_kernel_never_writes_is_an_error_not_a_panic() {
        let good = b"MemTotal: 16393256 kB\nMemFree: 1 kB\nBuffers: 1 kB\nCached: 1 kB\nSwapCached: 0 kB\nActive: 1 kB\nInactive: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nDirty: 0 kB\nWriteback: 0 kB\nMapped: 0 kB\nSlab: 0 kB\nCommitLimit: 0 kB\nCommitted_AS: 0 kB\nVmallocTotal: 0 kB\nVmallocUsed: 0 kB\nVmallocChunk: 0 kB\n";
        assert_eq!(
            parse_meminfo(good).expect("parse").mem_total_bytes,
            16393256 * 1024
        );
        // Regression (found by the meminfo fuzz target): procfs-core sliced the name's last
        // byte off inside a multi-byte character and panicked; and multiplied 2^60 kB by 1024.
        for (bad, line) in [
            ("MemTotal: 1 kB\nFoo\u{fffd}\u{fffd} 0\n", 2),
            ("MemTotal: 1152921504606846976 kB\n", 1),
            ("MemTotal: 1 TB\n", 1),
        ] {
            let e = parse_meminfo(bad.as_bytes()).unwrap_err();
            assert_eq!(e.0, Some(line), "{bad:?}: {e:?}");
        }
    }
}
