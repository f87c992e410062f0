//! Node-health facts (the model's `health`): kernel events, the clock, swap, the network
//! plugin's configuration, the kubelet's certificates, CPUs and load, and restarts of the
//! kubelet and the runtime. Gathered only; `analyze/rules/` judges them.

use super::Errors;
use crate::model::disk::RuntimeStorage;
use crate::model::health::{
    Cni, CniConfFile, Health, KubeletCert, LoadAvg, ServiceRestart, SwapArea,
};
use crate::model::{KmsgRecord, KubeletInfo};
use crate::source::journal::JournalQuery;
use crate::source::{EntryKind, ErrorKind, Host, join};

const C: &str = "health";

/// How far back restarts of the node's services are looked for (`node.service-flapping`
/// judges the last hour; a little more shows the trend).
pub const RESTART_LOOKBACK_HOURS: i64 = 2;
/// The most bytes of a syslog file read for restarts.
const SYSLOG_TAIL: u64 = 16 * 1024 * 1024;
/// What systemd logs when `Restart=` fires: `kubelet.service: Scheduled restart job, restart
/// counter is at 3.` (systemd ≥ 236, src/core/service.c), `kubelet.service holdoff time over,
/// scheduling restart.` (older).
const RESTART_MARKERS: &[&str] = &[
    "Scheduled restart job",
    "holdoff time over, scheduling restart",
];

/// The facts this collector needs from the others.
pub(super) struct Inputs<'a> {
    pub kernel_log: &'a [KmsgRecord],
    pub kubelet: Option<&'a KubeletInfo>,
    pub runtime: Option<&'a RuntimeStorage>,
    /// `/proc/loadavg`, as the node collector read it.
    pub loadavg: Option<LoadAvg>,
}

pub(super) fn collect(host: &dyn Host, inp: &Inputs<'_>, errs: &mut Errors) -> Health {
    let (restarts, restart_sources) = service_restarts(host, inp.runtime, errs);
    Health {
        kernel_events: super::kernel_events::parse_kernel_events(inp.kernel_log),
        clock: host.clock(),
        timesyncd_synchronized: host
            .read_dir("/run/systemd/timesync")
            .ok()
            .map(|e| e.iter().any(|e| e.name == "synchronized")),
        swaps: swaps(host, errs),
        cni: Some(cni(host, inp.runtime, errs)),
        kubelet_certs: kubelet_certs(host, inp.kubelet, errs),
        service_restarts: restarts,
        restart_sources,
        cpus_online: host
            .read_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| parse_cpu_list(&s)),
        loadavg: inp.loadavg,
    }
}

/// `/proc/swaps` (mm/swapfile.c `swap_show`): a header, then `Filename Type Size Used
/// Priority` with sizes in KiB. A missing file (no CONFIG_SWAP) means no swap.
fn swaps(host: &dyn Host, errs: &mut Errors) -> Option<Vec<SwapArea>> {
    match host.read_string("/proc/swaps") {
        Ok(text) => Some(parse_swaps(&text)),
        Err(e) => {
            errs.unless_missing(C, &e);
            None
        }
    }
}

pub fn parse_swaps(text: &str) -> Vec<SwapArea> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(SwapArea {
                filename: f.first()?.to_string(),
                kind: f.get(1)?.to_string(),
                size_kb: f.get(2)?.parse().ok()?,
                used_kb: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

/// `0-3,6,8-9` (Documentation/ABI/testing/sysfs-devices-system-cpu) → 7.
pub fn parse_cpu_list(s: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<u32>().ok()?.checked_sub(a.parse().ok()?)? + 1,
            None => part.parse::<u32>().map(|_| 1).ok()?,
        };
    }
    (n > 0).then_some(n)
}

/// `/proc/loadavg`: `7.64 7.85 7.94 10/196 7935` (proc(5)).
pub fn parse_loadavg(s: &str) -> Option<LoadAvg> {
    let f: Vec<&str> = s.split_whitespace().collect();
    Some(LoadAvg {
        one: f.first()?.parse().ok()?,
        five: f.get(1)?.parse().ok()?,
        fifteen: f.get(2)?.parse().ok()?,
        runnable: f.get(3)?.split_once('/')?.0.parse().ok()?,
    })
}

/// Where the runtime reads CNI configurations and finds plugins:
/// containerd's CRI plugin `cni` table (`conf_dir`, `bin_dir`, 2.x `bin_dirs`; config v2
/// `plugins."io.containerd.grpc.v1.cri".cni`, v3 `plugins."io.containerd.cri.v1.runtime".cni`),
/// CRI-O's `[crio.network]` (`network_dir`, `plugin_dirs`), else the defaults
/// `/etc/cni/net.d` and `/opt/cni/bin`.
fn cni_dirs(
    host: &dyn Host,
    runtime: Option<&RuntimeStorage>,
    errs: &mut Errors,
) -> (String, Vec<String>) {
    let mut conf = "/etc/cni/net.d".to_string();
    let mut bins = vec!["/opt/cni/bin".to_string()];
    let Some(rt) = runtime else {
        return (conf, bins);
    };
    for f in &rt.config_files {
        let Some(t) = super::runtime::read_toml(host, f, errs) else {
            continue;
        };
        let table = if rt.name == "containerd" {
            ["io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri"]
                .iter()
                .find_map(|p| t.get("plugins")?.get(*p)?.get("cni")?.as_table().cloned())
        } else {
            t.get("crio")
                .and_then(|c| c.get("network"))
                .and_then(|n| n.as_table().cloned())
        };
        let Some(table) = table else { continue };
        let (dir_key, bin_key, bins_key) = if rt.name == "containerd" {
            ("conf_dir", "bin_dir", "bin_dirs")
        } else {
            ("network_dir", "plugin_dir", "plugin_dirs")
        };
        if let Some(d) = table.get(dir_key).and_then(|v| v.as_str()) {
            conf = d.to_string();
        }
        if let Some(list) = table.get(bins_key).and_then(|v| v.as_array()) {
            bins = list
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        } else if let Some(d) = table.get(bin_key).and_then(|v| v.as_str()) {
            bins = vec![d.to_string()];
        }
    }
    let trim = |s: &str| {
        let t = s.trim_end_matches('/');
        if t.is_empty() {
            "/".into()
        } else {
            t.to_string()
        }
    };
    (trim(&conf), bins.iter().map(|b| trim(b)).collect())
}

/// The CNI configuration files (libcni `ConfFiles`: `*.conf`, `*.conflist`, `*.json` in
/// lexical order) and, for each, which plugin binaries are missing from every bin dir.
fn cni(host: &dyn Host, runtime: Option<&RuntimeStorage>, errs: &mut Errors) -> Cni {
    let (conf_dir, bin_dirs) = cni_dirs(host, runtime, errs);
    let mut out = Cni {
        conf_dir: conf_dir.clone(),
        bin_dirs: bin_dirs.clone(),
        ..Cni::default()
    };
    let entries = match host.read_dir(&conf_dir) {
        Ok(e) => e,
        Err(e) => {
            errs.unless_missing(C, &e);
            return out;
        }
    };
    out.conf_dir_exists = true;
    let installed: Vec<String> = bin_dirs
        .iter()
        .filter_map(|d| host.read_dir(d).ok())
        .flatten()
        .filter(|e| e.kind != EntryKind::Dir)
        .map(|e| e.name)
        .collect();
    for e in entries.iter().filter(|e| e.kind != EntryKind::Dir) {
        let is_conf = [".conf", ".conflist", ".json"]
            .iter()
            .any(|x| e.name.ends_with(x));
        if !is_conf {
            continue;
        }
        let path = join(&conf_dir, &e.name);
        let mut f = match host.read(&path) {
            Ok(raw) => parse_cni_conf(&path, &raw),
            Err(err) => {
                errs.host(C, &err);
                continue;
            }
        };
        f.missing_binaries = f
            .plugins
            .iter()
            .filter(|p| !installed.contains(p))
            .cloned()
            .collect();
        out.files.push(f);
    }
    out
}

/// One CNI network configuration: a `.conflist` (`{"name", "plugins": [{"type"}...]}`) or a
/// single-plugin `.conf` (`{"name", "type"}`) (containernetworking/cni SPEC.md).
pub fn parse_cni_conf(path: &str, raw: &[u8]) -> CniConfFile {
    let mut f = CniConfFile {
        path: path.to_string(),
        network: None,
        plugins: Vec::new(),
        missing_binaries: Vec::new(),
        invalid: None,
    };
    let v: serde_json::Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        Err(e) => {
            f.invalid = Some(format!("not JSON: {e}"));
            return f;
        }
    };
    f.network = v.get("name").and_then(|n| n.as_str()).map(String::from);
    if let Some(list) = v.get("plugins").and_then(|p| p.as_array()) {
        f.plugins = list
            .iter()
            .filter_map(|p| p.get("type")?.as_str().map(String::from))
            .collect();
    } else if let Some(t) = v.get("type").and_then(|t| t.as_str()) {
        f.plugins = vec![t.to_string()];
    }
    if f.plugins.is_empty() {
        f.invalid = Some("no plugin type (neither `type` nor `plugins[].type`)".into());
    }
    f
}

/// The kubelet's client certificate (its kubeconfig's `client-certificate` file or
/// `client-certificate-data`, else `<cert dir>/kubelet-client-current.pem`) and its serving
/// certificate (`tlsCertFile`; with `serverTLSBootstrap` `kubelet-server-current.pem`; else the
/// self-signed `kubelet.crt` the kubelet generates). Absent files are not errors.
fn kubelet_certs(
    host: &dyn Host,
    kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> Vec<KubeletCert> {
    let cfg = kubelet.map(|k| &k.config);
    let cert_dir = cfg.map_or("/var/lib/kubelet/pki", |c| c.cert_dir.as_str());
    let mut out = Vec::new();
    let client = cfg
        .and_then(|c| c.kubeconfig.as_deref())
        .and_then(|kc| kubeconfig_client_cert(host, kc));
    match client {
        Some((path, Some(pem))) => out.push(cert_from_pem("client", &path, &pem)),
        Some((path, None)) => push_file_cert(host, "client", &path, &mut out, errs),
        None => push_file_cert(
            host,
            "client",
            &join(cert_dir, "kubelet-client-current.pem"),
            &mut out,
            errs,
        ),
    }
    let serving = match cfg {
        Some(c) if c.tls_cert_file.is_some() => c.tls_cert_file.clone().unwrap_or_default(),
        Some(c) if c.server_tls_bootstrap => join(cert_dir, "kubelet-server-current.pem"),
        _ => join(cert_dir, "kubelet.crt"),
    };
    push_file_cert(host, "serving", &serving, &mut out, errs);
    out
}

fn push_file_cert(
    host: &dyn Host,
    role: &str,
    path: &str,
    out: &mut Vec<KubeletCert>,
    errs: &mut Errors,
) {
    match host.read(path) {
        Ok(raw) => out.push(cert_from_pem(role, path, &raw)),
        Err(e) if e.kind == ErrorKind::Missing => {}
        Err(e) => {
            errs.host(C, &e);
            out.push(KubeletCert {
                role: role.into(),
                path: path.into(),
                subject: None,
                not_before: None,
                not_after: None,
                self_signed: false,
                error: Some(e.to_string()),
            });
        }
    }
}

/// Where the kubelet's kubeconfig says its client certificate is: `(path, None)` for a
/// `client-certificate` file (relative to the kubeconfig's directory), `(label, Some(pem))`
/// for inline `client-certificate-data`. Keys and tokens in the same file are never looked at.
fn kubeconfig_client_cert(host: &dyn Host, kubeconfig: &str) -> Option<(String, Option<Vec<u8>>)> {
    use base64::Engine;
    let text = host.read_string(kubeconfig).ok()?;
    let v: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    let user = v.get("users")?.as_array()?.first()?.get("user")?;
    if let Some(p) = user.get("client-certificate").and_then(|p| p.as_str()) {
        let path = if p.starts_with('/') {
            p.to_string()
        } else {
            let dir = kubeconfig.rsplit_once('/').map_or("/", |(d, _)| d);
            join(dir, p)
        };
        return Some((path, None));
    }
    let data = user.get("client-certificate-data")?.as_str()?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    Some((format!("{kubeconfig} (client-certificate-data)"), Some(pem)))
}

/// The first CERTIFICATE block of a PEM file, parsed. Only text between `-----BEGIN
/// CERTIFICATE-----` and its END line is ever decoded: `kubelet-client-current.pem` also holds
/// the private key, which stays untouched.
pub fn cert_from_pem(role: &str, path: &str, raw: &[u8]) -> KubeletCert {
    let mut c = KubeletCert {
        role: role.into(),
        path: path.into(),
        subject: None,
        not_before: None,
        not_after: None,
        self_signed: false,
        error: None,
    };
    let text = String::from_utf8_lossy(raw);
    let Some(block) = certificate_blocks(&text).into_iter().next() else {
        c.error = Some("no CERTIFICATE block".into());
        return c;
    };
    let pem = match x509_parser::pem::parse_x509_pem(block.as_bytes()) {
        Ok((_, p)) => p,
        Err(e) => {
            c.error = Some(format!("bad PEM: {e}"));
            return c;
        }
    };
    match pem.parse_x509() {
        Ok(x) => {
            let ts =
                |t: x509_parser::time::ASN1Time| jiff::Timestamp::from_second(t.timestamp()).ok();
            c.subject = Some(x.subject().to_string());
            c.not_before = ts(x.validity().not_before);
            c.not_after = ts(x.validity().not_after);
            c.self_signed = x.subject() == x.issuer();
        }
        Err(e) => c.error = Some(format!("not an X.509 certificate: {e}")),
    }
    c
}

/// The `-----BEGIN CERTIFICATE-----` ... `-----END CERTIFICATE-----` blocks of a PEM text.
fn certificate_blocks(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(b) = rest.find(BEGIN) {
        let Some(e) = rest[b..].find(END) else { break };
        out.push(format!("{}\n", &rest[b..b + e + END.len()]));
        rest = &rest[b + e + END.len()..];
    }
    out
}

/// The units whose restarts matter: the kubelet and the runtime.
fn units(runtime: Option<&RuntimeStorage>) -> Vec<&'static str> {
    let mut v = vec!["kubelet.service"];
    v.push(match runtime.map(|r| r.name.as_str()) {
        Some("cri-o") => "crio.service",
        _ => "containerd.service",
    });
    v
}

/// systemd's `Scheduled restart job` records of the kubelet's and the runtime's units, from the
/// journal (systemd logs them with `UNIT=<unit>`), else from syslog files.
fn service_restarts(
    host: &dyn Host,
    runtime: Option<&RuntimeStorage>,
    errs: &mut Errors,
) -> (Vec<ServiceRestart>, Vec<String>) {
    let now = host.now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(RESTART_LOOKBACK_HOURS))
        .unwrap_or(now);
    let mut out = Vec::new();
    let mut sources = Vec::new();
    let mut journal_ok = false;
    for unit in units(runtime) {
        let q = JournalQuery {
            unit: unit.into(),
            since_usec: u64::try_from(since.as_microsecond()).unwrap_or(0),
            contains: RESTART_MARKERS.iter().map(|s| s.to_string()).collect(),
            limit: 1000,
        };
        match host.journal(&q) {
            Ok(entries) => {
                journal_ok = true;
                sources.push(format!("{unit} (journal)"));
                for e in entries {
                    let Some(t) = i64::try_from(e.realtime_usec)
                        .ok()
                        .and_then(|u| jiff::Timestamp::from_microsecond(u).ok())
                    else {
                        continue;
                    };
                    if let Some(r) = parse_restart(&e.message, unit, t) {
                        out.push(r);
                    }
                }
            }
            Err(e) if e.kind != ErrorKind::Missing => errs.host(C, &e),
            Err(_) => {}
        }
    }
    if !journal_ok {
        for path in ["/var/log/syslog", "/var/log/messages"] {
            let Ok(lines) = host.tail_lines(path, SYSLOG_TAIL, RESTART_MARKERS) else {
                continue;
            };
            for unit in units(runtime) {
                sources.push(format!("{unit} ({path})"));
            }
            for l in &lines {
                let Some(t) = syslog_time(l, now) else {
                    continue;
                };
                if t < since {
                    continue;
                }
                for unit in units(runtime) {
                    if let Some(r) = parse_restart(l, unit, t) {
                        out.push(r);
                    }
                }
            }
            break;
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.unit.cmp(&b.unit)));
    (out, sources)
}

/// `kubelet.service: Scheduled restart job, restart counter is at 3.` (or the older `holdoff
/// time over, scheduling restart.`) for `unit`, at `time`.
pub fn parse_restart(line: &str, unit: &str, time: jiff::Timestamp) -> Option<ServiceRestart> {
    let at = line.find(unit)?;
    let rest = &line[at + unit.len()..];
    if !RESTART_MARKERS.iter().any(|m| rest.contains(m)) {
        return None;
    }
    let counter = rest
        .split_once("restart counter is at ")
        .and_then(|(_, n)| n.trim_end_matches('.').trim().parse().ok());
    Some(ServiceRestart {
        unit: unit.into(),
        time,
        counter,
    })
}

/// The time of a syslog line: RFC 3339 (`2024-05-01T10:00:00.123456+00:00 host ...`, rsyslog's
/// high-precision format) or RFC 3164 (`Mar  3 10:00:00 host ...`, local time read as UTC,
/// the year the one that puts it at or before `now`).
pub fn syslog_time(line: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let first = line.split_whitespace().next()?;
    if let Ok(t) = first.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let mut f = line.split_whitespace();
    let (mon, day, hms) = (f.next()?, f.next()?, f.next()?);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = i8::try_from(MONTHS.iter().position(|x| *x == mon)? + 1).ok()?;
    let d: i8 = day.parse().ok()?;
    let mut parts = hms.split(':').map(|p| p.parse::<i8>().ok());
    let (h, mi, s) = (parts.next()??, parts.next()??, parts.next()??);
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    for y in [year, year - 1] {
        let t = jiff::civil::date(y, m, d)
            .at(h, mi, s, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp();
        if t <= now + jiff::SignedDuration::from_mins(5) {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_cpus_and_load() {
        let s = parse_swaps(
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t2097148\t\t1024\t\t-2\n",
        );
        assert_eq!(
            s,
            [SwapArea {
                filename: "/swapfile".into(),
                kind: "file".into(),
                size_kb: 2_097_148,
                used_kb: 1024
            }]
        );
        assert!(parse_swaps("Filename Type Size Used Priority\n").is_empty());
        assert_eq!(parse_cpu_list("0-3,6,8-9\n"), Some(7));
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("x"), None);
        let l = parse_loadavg("7.64 7.85 7.94 10/196 7935\n").unwrap();
        assert_eq!((l.one, l.five, l.runnable), (7.64, 7.85, 10));
    }

    #[test]
    fn cni_conf_and_conflist() {
        let f = parse_cni_conf(
            "/etc/cni/net.d/10-flannel.conflist",
            br#"{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        );
        assert_eq!(f.network.as_deref(), Some("cbr0"));
        assert_eq!(f.plugins, ["flannel", "portmap"]);
        assert!(f.invalid.is_none());
        let f = parse_cni_conf("/x.conf", br#"{"name":"n","type":"bridge"}"#);
        assert_eq!(f.plugins, ["bridge"]);
        assert!(parse_cni_conf("/x.conf", b"{").invalid.is_some());
        assert!(
            parse_cni_conf("/x.conf", b"{\"name\":\"n\"}")
                .invalid
                .is_some()
        );
    }

    #[test]
    fn restarts_from_journal_and_syslog_lines() {
        let now: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
        let r = parse_restart(
            "kubelet.service: Scheduled restart job, restart counter is at 5.",
            "kubelet.service",
            now,
        )
        .unwrap();
        assert_eq!(r.counter, Some(5));
        assert!(
            parse_restart(
                "kubelet.service: Consumed 1.2s CPU time.",
                "kubelet.service",
                now
            )
            .is_none()
        );
        let l = "Nov 22 02:40:01 node-a systemd[1]: kubelet.service: Scheduled restart job, restart counter is at 2.";
        assert_eq!(
            syslog_time(l, now).unwrap().to_string(),
            "2026-11-22T02:40:01Z"
        );
        // A December line read on New Year's night belongs to the year before.
        let jan: jiff::Timestamp = "2027-01-01T00:10:00Z".parse().unwrap();
        assert_eq!(
            syslog_time("Dec 31 23:59:00 h systemd[1]: x", jan)
                .unwrap()
                .to_string(),
            "2026-12-31T23:59:00Z"
        );
        assert_eq!(
            syslog_time("2026-11-22T02:50:00.5+00:00 h systemd[1]: x", now)
                .unwrap()
                .to_string(),
            "2026-11-22T02:50:00.5Z"
        );
    }

    #[test]
    fn only_certificate_blocks_are_decoded() {
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nSECRET\n-----END EC PRIVATE KEY-----\n";
        let b = certificate_blocks(text);
        assert_eq!(b.len(), 1);
        assert!(!b[0].contains("SECRET"));
        let c = cert_from_pem(
            "client",
            "/p",
            b"-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n",
        );
        assert_eq!(c.error.as_deref(), Some("no CERTIFICATE block"));
    }
}
