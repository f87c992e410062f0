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
            Err(e) => errs.invalid(C, "/proc/uptime", Some(1), e.to_string()),
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
            errs.invalid(C, p, line, e);
            None
        }
    }
}

/// Parses /proc/meminfo (proc(5)) with procfs-core, values in bytes. An error names the first
/// line not in `Name: value [kB]` form, when there is one.
pub fn parse_meminfo(raw: &[u8]) -> Result<Meminfo, (Option<usize>, String)> {
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
        Err(e) => {
            let line = String::from_utf8_lossy(raw)
                .lines()
                .position(|l| !l.is_empty() && !meminfo_line_ok(l))
                .map(|i| i + 1);
            Err((line, e.to_string()))
        }
    }
}

/// `MemTotal:       16393256 kB`: a name ending in `:`, a number, an optional unit.
fn meminfo_line_ok(l: &str) -> bool {
    let mut it = l.split_whitespace();
    matches!((it.next(), it.next().map(|v| v.parse::<u64>().is_ok())), (Some(k), Some(true)) if k.ends_with(':'))
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
                None => errs.invalid(
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
        let rec = match procfs_core::parse_pressure_record(line) {
            Ok(r) => r,
            Err(_) if line.trim().is_empty() => continue,
            Err(_) => return None,
        };
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

pub(super) fn pid_limits(host: &dyn Host, errs: &mut Errors) -> PidLimits {
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
    match host.read("/proc/loadavg") {
        Ok(raw) => match procfs_core::LoadAverage::from_read(&raw[..]) {
            Ok(l) => {
                out.threads = Some(u64::from(l.max));
                out.load1 = Some(round2(l.one));
            }
            Err(e) => errs.invalid(C, "/proc/loadavg", Some(1), e.to_string()),
        },
        Err(e) => errs.host(C, &e),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn meminfo_line_shape() {
        assert!(meminfo_line_ok("MemTotal:       16393256 kB"));
        assert!(meminfo_line_ok("HugePages_Total:       0"));
        assert!(!meminfo_line_ok("MemTotal 12 kB"));
        assert!(!meminfo_line_ok("MemTotal: x kB"));
    }
}
