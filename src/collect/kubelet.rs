//! The kubelet's effective configuration, rebuilt the way the kubelet builds it:
//! built-in defaults, then the `--config` file, then `--config-dir` drop-ins (`*.conf`, in
//! lexical order), then command-line flags, which win (kubernetes/kubernetes
//! `cmd/kubelet/app/server.go`, `loadConfigFile` and `mergeKubeletConfigurations`; fields and
//! defaults from `staging/src/k8s.io/kubelet/config/v1beta1/types.go` and
//! `pkg/kubelet/apis/config/v1beta1/defaults.go`). Only the fields nodescope judges are
//! resolved; the rest of the file is not kept.
//!
//! The kubelet is the process that calls itself so and passes [`super::trust::trusted_daemon`];
//! the files its flags name are read only when root alone can write them
//! ([`super::trust::read_named`]).

use super::Errors;
use super::distro;
use super::trust;
use crate::model::kubelet::{KubeletConfig, KubeletInfo, Provenance, ThresholdValue};
use crate::model::{Process, UntrustedDaemon};
use crate::source::Host;
use crate::source::vet::Want;
use serde_json::Value;
use std::collections::BTreeMap;

const C: &str = "kubelet";

use crate::model::kubelet::DEFAULT_EVICTION_HARD;

/// Flags that take no value (pflag booleans): `--flag` alone means true.
const BOOL_FLAGS: &[&str] = &[
    "cgroups-per-qos",
    "kernel-memcg-notification",
    "fail-swap-on",
    "register-node",
    "rotate-certificates",
    "rotate-server-certificates",
    "anonymous-auth",
    "authentication-token-webhook",
    "protect-kernel-defaults",
    "serialize-image-pulls",
    "enable-controller-attach-detach",
    "make-iptables-util-chains",
    "exit-on-lock-contention",
    "local-storage-capacity-isolation",
    "enable-server",
    "enable-debugging-handlers",
    "v",
    "version",
    "help",
];

/// The kubelet and its configuration: the first process calling itself `kubelet` that the
/// trust rules believe (impostors go to `untrusted` and `errors`), its flags, and the files they
/// name that root alone can write.
pub(super) fn collect(
    host: &dyn Host,
    processes: &[Process],
    errs: &mut Errors,
    untrusted: &mut Vec<UntrustedDaemon>,
) -> Option<KubeletInfo> {
    let (proc_, embedded) = match trust::find_daemon(host, processes, "kubelet", errs, untrusted) {
        Some(p) => (p, None),
        None => find_embedding(host, processes, errs, untrusted)?,
    };
    let (flags, config_sources) = match embedded {
        None => (
            parse_flags(proc_.cmdline.get(1..).unwrap_or_default()),
            Vec::new(),
        ),
        Some(profile) => embedded_flags(host, profile, errs),
    };
    let mut merged = Value::Object(Default::default());
    let config_file = flags.get("config").map(|p| absolute(p));
    if let Some(path) = &config_file
        && let Some(text) = trust::read_named(host, path, "the kubelet's --config", C, errs)
    {
        match parse_config(&text) {
            Ok(v) => merge(&mut merged, v),
            Err(e) => errs.unparsed(host, C, path, None, e),
        }
    }
    let mut drop_ins = Vec::new();
    if let Some(named) = flags.get("config-dir").map(|p| absolute(p)) {
        for (p, v) in drop_in_files(host, &named, errs) {
            merge(&mut merged, v);
            drop_ins.push(p);
        }
    }
    let origin = config_file
        .clone()
        .unwrap_or_else(|| "kubelet flags".into());
    let config = resolve(&merged, &flags, &origin, errs);
    Some(KubeletInfo {
        pid: proc_.pid,
        embedded_in: embedded.map(|_| proc_.comm.clone()),
        config_sources,
        config_file,
        drop_ins,
        flags,
        config,
        files_config: None,
    })
}

/// A process the kubelet runs inside, when no process of its own is believed: the first
/// trusted daemon of a distribution that embeds it (k3s, MicroK8s's kubelite).
fn find_embedding<'a>(
    host: &dyn Host,
    processes: &'a [Process],
    errs: &mut Errors,
    untrusted: &mut Vec<UntrustedDaemon>,
) -> Option<(&'a Process, Option<&'static distro::Profile>)> {
    distro::PROFILES.iter().find_map(|profile| {
        profile.embeds_kubelet.iter().find_map(|name| {
            trust::find_daemon(host, processes, name, errs, untrusted).map(|p| (p, Some(profile)))
        })
    })
}

/// The flags of an embedded kubelet, which has no command line of its own, and the files
/// they came from.
fn embedded_flags(
    host: &dyn Host,
    profile: &distro::Profile,
    errs: &mut Errors,
) -> (BTreeMap<String, String>, Vec<String>) {
    match profile.embedded_args {
        distro::EmbeddedArgs::K3s => k3s_flags(host, errs),
        distro::EmbeddedArgs::MicroK8s => microk8s_flags(host, errs),
        distro::EmbeddedArgs::None => (BTreeMap::new(), Vec::new()),
    }
}

/// k3s's kubelet drop-in directory, which k3s rewrites on every start since v1.32.1
/// (k3s-io/k3s pkg/agent/config/config.go `kubeletConfigDir`: `<data-dir>/agent/etc/kubelet.conf.d`,
/// `00-k3s-defaults.conf` from `defaultKubeletConfig` in pkg/daemons/agent/agent.go).
pub const K3S_KUBELET_DROP_INS: &str = "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d";
/// k3s's own configuration and its drop-ins (docs.k3s.io/installation/configuration).
pub const K3S_CONFIG: &str = "/etc/rancher/k3s/config.yaml";
const K3S_CONFIG_D: &str = "/etc/rancher/k3s/config.yaml.d";

/// k3s: the flags k3s always passes (k3s-io/k3s pkg/daemons/agent/agent_linux.go
/// `kubeletArgsAndConfig`: `--kubeconfig`, the runtime endpoint of pkg/agent/config/
/// config_linux.go, `--config-dir` when the drop-in directory exists), then the user's
/// `kubelet-arg` (and `kubelet-arg+`) lists of config.yaml and config.yaml.d/*.yaml in lexical
/// order, each `name=value`. k3s wipes its own argv (pkg/cli/agent: `SetProcTitle`), so the
/// command line says nothing. Releases before the drop-in directory passed their eviction
/// defaults as flags (`imagefs.available<5%,nodefs.available<5%`, reclaim 10 %).
fn k3s_flags(host: &dyn Host, errs: &mut Errors) -> (BTreeMap<String, String>, Vec<String>) {
    let mut flags = BTreeMap::new();
    flags.insert(
        "kubeconfig".to_string(),
        "/var/lib/rancher/k3s/agent/kubelet.kubeconfig".to_string(),
    );
    flags.insert(
        "container-runtime-endpoint".to_string(),
        "unix:///run/k3s/containerd/containerd.sock".to_string(),
    );
    if host.exists(K3S_KUBELET_DROP_INS) {
        flags.insert("config-dir".into(), K3S_KUBELET_DROP_INS.into());
    } else {
        flags.insert(
            "eviction-hard".into(),
            "imagefs.available<5%,nodefs.available<5%".into(),
        );
        flags.insert(
            "eviction-minimum-reclaim".into(),
            "imagefs.available=10%,nodefs.available=10%".into(),
        );
        flags.insert("fail-swap-on".into(), "false".into());
    }
    let mut files = vec![K3S_CONFIG.to_string()];
    if let Ok(entries) = host.read_dir(K3S_CONFIG_D) {
        let mut names: Vec<String> = entries
            .iter()
            .filter(|e| e.name.ends_with(".yaml") || e.name.ends_with(".yml"))
            .map(|e| crate::source::join(K3S_CONFIG_D, &e.name))
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut sources = Vec::new();
    for f in files {
        if !host.exists(&f) {
            continue;
        }
        let Some(text) = trust::read_named(host, &f, "k3s", C, errs) else {
            continue;
        };
        let v: Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                errs.unparsed(host, C, &f, None, format!("not valid YAML: {e}"));
                continue;
            }
        };
        for key in ["kubelet-arg", "kubelet-arg+"] {
            let args: Vec<String> = match v.get(key) {
                Some(Value::Array(a)) => a.iter().filter_map(value_str).collect(),
                Some(other) => value_str(other).into_iter().collect(),
                None => continue,
            };
            for a in args {
                let a = a.trim_start_matches('-');
                let (k, val) = a.split_once('=').unwrap_or((a, "true"));
                flags.insert(k.to_string(), val.to_string());
            }
        }
        sources.push(f);
    }
    (flags, sources)
}

/// MicroK8s's kubelet arguments, one or more per line, read by kubelite's
/// `--kubelet-args-file` (canonical/microk8s microk8s-resources/default-args/kubelet).
pub const MICROK8S_KUBELET_ARGS: &str = "/var/snap/microk8s/current/args/kubelet";

/// MicroK8s: the args file, split as the wrapper's shell splits it (quotes removed), with the
/// snap's variables expanded (`${SNAP_DATA}` = /var/snap/microk8s/current, `${SNAP_COMMON}`
/// = /var/snap/microk8s/common, `${SNAP}` = /snap/microk8s/current; snapd's environment).
fn microk8s_flags(host: &dyn Host, errs: &mut Errors) -> (BTreeMap<String, String>, Vec<String>) {
    let Some(text) = trust::read_named(host, MICROK8S_KUBELET_ARGS, "MicroK8s", C, errs) else {
        return (BTreeMap::new(), Vec::new());
    };
    let mut args = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let expanded = line
            .replace("${SNAP_DATA}", "/var/snap/microk8s/current")
            .replace("$SNAP_DATA", "/var/snap/microk8s/current")
            .replace("${SNAP_COMMON}", "/var/snap/microk8s/common")
            .replace("$SNAP_COMMON", "/var/snap/microk8s/common")
            .replace("${SNAP}", "/snap/microk8s/current")
            .replace("$SNAP", "/snap/microk8s/current");
        match shlex::split(&expanded) {
            Some(words) => args.extend(words),
            None => errs.invalid(
                C,
                MICROK8S_KUBELET_ARGS,
                None,
                format!("unbalanced quotes: {line}"),
            ),
        }
    }
    (parse_flags(&args), vec![MICROK8S_KUBELET_ARGS.to_string()])
}

/// The parsed `*.conf` drop-ins of `--config-dir`, in lexical order, each one vetted.
fn drop_in_files(host: &dyn Host, named: &str, errs: &mut Errors) -> Vec<(String, Value)> {
    const BY: &str = "the kubelet's --config-dir";
    let dir_named = trust::Named {
        path: named,
        by: BY,
        want: Want::Dir,
        report_missing: true,
    };
    let Some(dir) = trust::vetted(host, &dir_named, C, errs) else {
        return Vec::new();
    };
    let entries = match host.read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            errs.host(C, &e);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e.name.ends_with(".conf")) {
        let p = crate::source::join(&dir, &e.name);
        if let Some(text) = trust::read_named(host, &p, BY, C, errs) {
            match parse_config(&text) {
                Ok(v) => out.push((p, v)),
                Err(e) => errs.unparsed(host, C, &p, None, e),
            }
        }
    }
    out
}

fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Parses `--name=value`, `--name value` and boolean `--name` the way pflag does.
pub(crate) fn parse_flags(args: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        if let Some((k, v)) = name.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        } else if BOOL_FLAGS.contains(&name) {
            out.insert(name.to_string(), "true".into());
        } else if i < args.len() && !args[i].starts_with('-') {
            out.insert(name.to_string(), args[i].clone());
            i += 1;
        } else {
            out.insert(name.to_string(), "true".into());
        }
    }
    out
}

/// Parses a KubeletConfiguration file (YAML, of which JSON is a subset).
fn parse_config(text: &str) -> Result<Value, String> {
    let v: Value = serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    match &v {
        Value::Object(_) => Ok(v),
        Value::Null => Ok(Value::Object(Default::default())),
        _ => Err("not a KubeletConfiguration object".into()),
    }
}

/// Drop-ins override the file field by field: objects merge recursively, everything else is
/// replaced (KEP-3983's merge of `--config-dir`).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Splits a map flag: `memory.available<100Mi,nodefs.available<10%` with `sep` `<`, or
/// `cpu=200m,memory=500Mi` with `=`.
fn split_map(s: &str, sep: char) -> Vec<(String, String)> {
    s.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .filter_map(|kv| {
            kv.split_once(sep)
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Resolver<'a> {
    cfg: &'a Value,
    flags: &'a BTreeMap<String, String>,
    sources: BTreeMap<String, Provenance>,
}

impl Resolver<'_> {
    /// A map field: from its flag (parsed with `sep`), else the config object, else `None`.
    fn map(
        &mut self,
        field: &str,
        flag: &str,
        sep: char,
    ) -> Option<(Vec<(String, String)>, Provenance)> {
        if let Some(f) = self.flags.get(flag) {
            self.sources.insert(field.into(), Provenance::Flag);
            return Some((split_map(f, sep), Provenance::Flag));
        }
        match self.cfg.get(field) {
            Some(Value::Object(o)) => {
                self.sources.insert(field.into(), Provenance::Config);
                Some((
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), value_str(v)?)))
                        .collect(),
                    Provenance::Config,
                ))
            }
            _ => None,
        }
    }

    fn string(&mut self, field: &str, flag: &str, default: &str) -> String {
        if let Some(f) = self.flags.get(flag) {
            self.sources.insert(field.into(), Provenance::Flag);
            return f.clone();
        }
        match self.cfg.get(field).and_then(value_str) {
            Some(s) => {
                self.sources.insert(field.into(), Provenance::Config);
                s
            }
            None => default.to_string(),
        }
    }

    fn opt_string(&mut self, field: &str, flag: &str) -> Option<String> {
        let s = self.string(field, flag, "");
        (!s.is_empty()).then_some(s)
    }

    fn int(&mut self, field: &str, flag: &str, default: i64) -> i64 {
        self.string(field, flag, &default.to_string())
            .trim()
            .parse()
            .unwrap_or(default)
    }

    fn boolean(&mut self, field: &str, flag: &str, default: bool) -> bool {
        self.string(field, flag, &default.to_string())
            .trim()
            .parse()
            .unwrap_or(default)
    }

    fn list(&mut self, field: &str, flag: &str, default: &[&str]) -> Vec<String> {
        if let Some(f) = self.flags.get(flag) {
            self.sources.insert(field.into(), Provenance::Flag);
            return f
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        match self.cfg.get(field) {
            Some(Value::Array(a)) => {
                self.sources.insert(field.into(), Provenance::Config);
                a.iter().filter_map(value_str).collect()
            }
            _ => default.iter().map(|s| s.to_string()).collect(),
        }
    }
}

fn thresholds(
    pairs: Vec<(String, String)>,
    origin: &str,
    field: &str,
    errs: &mut Errors,
) -> BTreeMap<String, ThresholdValue> {
    let mut out = BTreeMap::new();
    for (sig, raw) in pairs {
        match ThresholdValue::parse(&sig, &raw) {
            Ok(Some(v)) => {
                out.insert(sig, v);
            }
            Ok(None) => {}
            Err(e) => errs.invalid(C, origin, None, format!("{field}: {e}")),
        }
    }
    out
}

/// Applies flags over the merged file and fills the kubelet's defaults.
pub(crate) fn resolve(
    cfg: &Value,
    flags: &BTreeMap<String, String>,
    origin: &str,
    errs: &mut Errors,
) -> KubeletConfig {
    let mut r = Resolver {
        cfg,
        flags,
        sources: BTreeMap::new(),
    };
    let merge_defaults = r.boolean("mergeDefaultEvictionSettings", "\0", false);
    let eviction_hard = match r.map("evictionHard", "eviction-hard", '<') {
        Some((pairs, prov)) => {
            let mut set = thresholds(pairs, origin, "evictionHard", errs);
            // A configured evictionHard replaces the defaults unless mergeDefaultEvictionSettings
            // (server.go:loadConfigFile; PR 110263). Flags replace them too.
            if merge_defaults && prov == Provenance::Config {
                for (k, v) in DEFAULT_EVICTION_HARD {
                    if let Ok(Some(t)) = ThresholdValue::parse(k, v) {
                        set.entry((*k).to_string()).or_insert(t);
                    }
                }
            }
            set
        }
        None => DEFAULT_EVICTION_HARD
            .iter()
            .filter_map(|(k, v)| Some(((*k).to_string(), ThresholdValue::parse(k, v).ok()??)))
            .collect(),
    };
    let eviction_soft = r
        .map("evictionSoft", "eviction-soft", '<')
        .map(|(p, _)| thresholds(p, origin, "evictionSoft", errs))
        .unwrap_or_default();
    let eviction_soft_grace_period = r
        .map("evictionSoftGracePeriod", "eviction-soft-grace-period", '=')
        .map(|(p, _)| p.into_iter().collect())
        .unwrap_or_default();
    let eviction_minimum_reclaim = r
        .map("evictionMinimumReclaim", "eviction-minimum-reclaim", '=')
        .map(|(p, _)| {
            p.into_iter()
                .filter_map(|(k, v)| {
                    // minReclaim may be 0 (unlike a threshold), so parse it leniently.
                    if let Some(pct) = v.strip_suffix('%') {
                        return Some((k, ThresholdValue::Percent(pct.trim().parse().ok()?)));
                    }
                    crate::model::quantity::parse_quantity(&v)
                        .map(|_| (k, ThresholdValue::Quantity(v)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut transition = r.string(
        "evictionPressureTransitionPeriod",
        "eviction-pressure-transition-period",
        "5m",
    );
    if crate::model::quantity::parse_duration(&transition) == Some(0.0) {
        // v1beta1/defaults.go: a zero period becomes the 5m default.
        transition = "5m".into();
    }
    let system_reserved = r
        .map("systemReserved", "system-reserved", '=')
        .map(|(p, _)| p.into_iter().collect())
        .unwrap_or_default();
    let kube_reserved = r
        .map("kubeReserved", "kube-reserved", '=')
        .map(|(p, _)| p.into_iter().collect())
        .unwrap_or_default();
    KubeletConfig {
        eviction_hard,
        eviction_soft,
        eviction_soft_grace_period,
        eviction_minimum_reclaim,
        eviction_pressure_transition_period: transition,
        eviction_max_pod_grace_period: r.int(
            "evictionMaxPodGracePeriod",
            "eviction-max-pod-grace-period",
            0,
        ),
        merge_default_eviction_settings: merge_defaults,
        system_reserved,
        kube_reserved,
        enforce_node_allocatable: r.list(
            "enforceNodeAllocatable",
            "enforce-node-allocatable",
            &["pods"],
        ),
        cgroup_driver: r.string("cgroupDriver", "cgroup-driver", "cgroupfs"),
        cgroup_root: {
            let s = r.string("cgroupRoot", "cgroup-root", "/");
            if s.is_empty() { "/".into() } else { s }
        },
        cgroups_per_qos: r.boolean("cgroupsPerQOS", "cgroups-per-qos", true),
        // --root-dir exists only as a flag.
        root_dir: r.string("\0rootDir", "root-dir", "/var/lib/kubelet"),
        pod_pids_limit: r.int("podPidsLimit", "pod-max-pids", -1),
        container_log_max_size: r.string("containerLogMaxSize", "container-log-max-size", "10Mi"),
        container_log_max_files: r.int("containerLogMaxFiles", "container-log-max-files", 5),
        resolv_conf: r.string("resolvConf", "resolv-conf", "/etc/resolv.conf"),
        cluster_dns: r.list("clusterDNS", "cluster-dns", &[]),
        cluster_domain: r.string("clusterDomain", "cluster-domain", ""),
        image_gc_high_threshold_percent: r.int(
            "imageGCHighThresholdPercent",
            "image-gc-high-threshold",
            85,
        ),
        image_gc_low_threshold_percent: r.int(
            "imageGCLowThresholdPercent",
            "image-gc-low-threshold",
            80,
        ),
        max_pods: r.int("maxPods", "max-pods", 110),
        container_runtime_endpoint: r.string(
            "containerRuntimeEndpoint",
            "container-runtime-endpoint",
            "unix:///run/containerd/containerd.sock",
        ),
        kernel_memcg_notification: r.boolean(
            "kernelMemcgNotification",
            "kernel-memcg-notification",
            false,
        ),
        kubeconfig: r.opt_string("\0kubeconfig", "kubeconfig"),
        hostname_override: r.opt_string("\0hostnameOverride", "hostname-override"),
        fail_swap_on: r.boolean("failSwapOn", "fail-swap-on", true),
        memory_swap_behavior: cfg
            .get("memorySwap")
            .and_then(|m| m.get("swapBehavior"))
            .and_then(value_str)
            .unwrap_or_default(),
        rotate_certificates: r.boolean("rotateCertificates", "rotate-certificates", false),
        server_tls_bootstrap: r.boolean("serverTLSBootstrap", "rotate-server-certificates", false),
        tls_cert_file: r.opt_string("tlsCertFile", "tls-cert-file"),
        cert_dir: r.string("\0certDir", "cert-dir", "/var/lib/kubelet/pki"),
        sources: r
            .sources
            .into_iter()
            .filter(|(k, _)| !k.starts_with('\0'))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_in_every_pflag_form() {
        let f = parse_flags(&args(
            "--config /var/lib/kubelet/config.yaml --v=2 --cgroups-per-qos --max-pods=200 -x",
        ));
        assert_eq!(f["config"], "/var/lib/kubelet/config.yaml");
        assert_eq!(f["v"], "2");
        assert_eq!(f["cgroups-per-qos"], "true");
        assert_eq!(f["max-pods"], "200");
        assert_eq!(f["x"], "true");
    }

    #[test]
    fn defaults_without_config_or_flags() {
        let mut e = Errors::default();
        let c = resolve(
            &Value::Object(Default::default()),
            &BTreeMap::new(),
            "x",
            &mut e,
        );
        assert_eq!(c.eviction_hard.len(), 5);
        assert_eq!(
            c.eviction_hard["memory.available"],
            ThresholdValue::Quantity("100Mi".into())
        );
        assert!(c.eviction_soft.is_empty() && c.system_reserved.is_empty());
        assert_eq!(c.cgroup_driver, "cgroupfs");
        assert_eq!(c.enforce_node_allocatable, ["pods"]);
        assert_eq!(c.pod_pids_limit, -1);
        assert!(c.sources.is_empty());
        assert!(e.0.is_empty());
    }

    #[test]
    fn configured_eviction_hard_drops_the_other_defaults_unless_merged() {
        let mut e = Errors::default();
        let cfg = parse_config(
            "evictionHard:\n  memory.available: \"200Mi\"\n  nodefs.available: \"0%\"\n",
        )
        .unwrap();
        let c = resolve(&cfg, &BTreeMap::new(), "x", &mut e);
        assert_eq!(
            c.eviction_hard.keys().collect::<Vec<_>>(),
            ["memory.available"],
            "0% is ignored, defaults dropped"
        );
        let cfg = parse_config(
            "mergeDefaultEvictionSettings: true\nevictionHard:\n  memory.available: 200Mi\n",
        )
        .unwrap();
        let c = resolve(&cfg, &BTreeMap::new(), "x", &mut e);
        assert_eq!(c.eviction_hard.len(), 5);
        assert_eq!(
            c.eviction_hard["memory.available"],
            ThresholdValue::Quantity("200Mi".into())
        );
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let mut e = Errors::default();
        let cfg = parse_config(
            "cgroupDriver: systemd\nevictionHard: {memory.available: 100Mi}\nsystemReserved: {memory: 1Gi}\npodPidsLimit: 1024\n",
        )
        .unwrap();
        let flags = parse_flags(&args(
            "--cgroup-driver=cgroupfs --eviction-hard=memory.available<500Mi,nodefs.available<10% --eviction-soft=memory.available<1Gi --eviction-soft-grace-period=memory.available=1m30s",
        ));
        let c = resolve(&cfg, &flags, "x", &mut e);
        assert_eq!(c.cgroup_driver, "cgroupfs");
        assert_eq!(c.sources["cgroupDriver"], Provenance::Flag);
        assert_eq!(
            c.eviction_hard["memory.available"],
            ThresholdValue::Quantity("500Mi".into())
        );
        assert_eq!(
            c.eviction_hard["nodefs.available"],
            ThresholdValue::Percent(10.0)
        );
        assert_eq!(
            c.eviction_soft["memory.available"],
            ThresholdValue::Quantity("1Gi".into())
        );
        assert_eq!(c.eviction_soft_grace_period["memory.available"], "1m30s");
        assert_eq!(c.system_reserved["memory"], "1Gi");
        assert_eq!(c.sources["systemReserved"], Provenance::Config);
        assert_eq!(c.pod_pids_limit, 1024);
    }

    #[test]
    fn invalid_thresholds_are_reported_not_fatal() {
        let mut e = Errors::default();
        let cfg =
            parse_config("evictionHard:\n  memory.available: lots\n  nodefs.available: 150%\n")
                .unwrap();
        let c = resolve(
            &cfg,
            &BTreeMap::new(),
            "/var/lib/kubelet/config.yaml",
            &mut e,
        );
        assert!(c.eviction_hard.is_empty());
        assert_eq!(e.0.len(), 2);
        assert!(
            e.0.iter()
                .all(|x| x.path.as_deref() == Some("/var/lib/kubelet/config.yaml"))
        );
    }

    #[test]
    fn drop_ins_merge_objects_and_replace_scalars() {
        let mut base =
            parse_config("evictionHard: {memory.available: 100Mi}\nmaxPods: 110\n").unwrap();
        merge(
            &mut base,
            parse_config("evictionHard: {nodefs.available: 5%}\nmaxPods: 50\n").unwrap(),
        );
        assert_eq!(base["evictionHard"]["memory.available"], "100Mi");
        assert_eq!(base["evictionHard"]["nodefs.available"], "5%");
        assert_eq!(base["maxPods"], 50);
        assert!(parse_config("- a\n- b\n").is_err());
    }
}
