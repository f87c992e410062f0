//! The kubelet as found on the node: its process, the files it was configured from, and its
//! effective configuration after the kubelet's own precedence — defaults, then the config file,
//! then drop-ins (`--config-dir`), then command-line flags — for the fields nodescope judges.
//! Field names and defaults follow `KubeletConfiguration` v1beta1 (docs/kubelet-semantics.md §1.3, §4.3).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kubelet's Linux default `evictionHard` (`pkg/kubelet/eviction/defaults_linux.go`;
/// `imagefs.inodesFree` since v1.30).
pub const DEFAULT_EVICTION_HARD: &[(&str, &str)] = &[
    ("imagefs.available", "15%"),
    ("imagefs.inodesFree", "5%"),
    ("memory.available", "100Mi"),
    ("nodefs.available", "10%"),
    ("nodefs.inodesFree", "5%"),
];

/// [`DEFAULT_EVICTION_HARD`] parsed: what a node without a readable kubelet config runs with.
pub fn default_eviction_hard() -> Vec<(String, ThresholdValue)> {
    DEFAULT_EVICTION_HARD
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), ThresholdValue::parse(k, v).ok()??)))
        .collect()
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// The kubelet's built-in default.
    Default,
    /// The `--config` file or a drop-in.
    Config,
    /// A command-line flag (flags win).
    Flag,
}

/// An eviction threshold value as configured: a quantity (`100Mi`, `1000` pids) or a percent
/// of the signal's capacity (`10%`). Resolution against capacity happens in the analysis,
/// exactly as `GetThresholdQuantity` does it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdValue {
    Quantity(String),
    /// Percent as written (`10` for `10%`).
    Percent(f64),
}

impl ThresholdValue {
    /// Parses a threshold as `parseThresholdStatement` does. `Ok(None)` means the kubelet ignores
    /// it (`0%` and `100%`); `Err` carries the kubelet's own complaint.
    pub fn parse(signal: &str, raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if let Some(p) = raw.strip_suffix('%') {
            if raw == "0%" || raw == "100%" {
                return Ok(None);
            }
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("invalid percentage {raw:?} for {signal}"))?;
            if v < 0.0 {
                return Err(format!(
                    "eviction percentage threshold {signal} must be >= 0%: {raw}"
                ));
            }
            if v > 100.0 {
                return Err(format!(
                    "eviction percentage threshold {signal} must be <= 100%: {raw}"
                ));
            }
            return Ok(Some(ThresholdValue::Percent(v)));
        }
        match super::quantity::parse_quantity(raw) {
            Some(q) if q > 0.0 => Ok(Some(ThresholdValue::Quantity(raw.to_string()))),
            Some(_) => Err(format!(
                "eviction threshold {signal} must be positive: {raw}"
            )),
            None => Err(format!("invalid quantity {raw:?} for {signal}")),
        }
    }

    /// The threshold in the signal's units for a given capacity (`api/types.go:GetThresholdQuantity`):
    /// a quantity as is; a percent as `int64(float64(capacity) * float64(float32(pct)/100))`.
    pub fn resolve(&self, capacity: u64) -> i64 {
        match self {
            ThresholdValue::Quantity(q) => super::quantity::quantity_value(q).unwrap_or(0),
            ThresholdValue::Percent(p) => {
                let frac = (*p as f32) / 100f32;
                (capacity as f64 * frac as f64) as i64
            }
        }
    }
}

impl std::fmt::Display for ThresholdValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdValue::Quantity(q) => f.write_str(q),
            ThresholdValue::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The effective kubelet configuration, for the fields nodescope uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KubeletConfig {
    /// Signal → threshold (`memory.available` → `100Mi`).
    pub eviction_hard: BTreeMap<String, ThresholdValue>,
    pub eviction_soft: BTreeMap<String, ThresholdValue>,
    /// Signal → Go duration.
    pub eviction_soft_grace_period: BTreeMap<String, String>,
    pub eviction_minimum_reclaim: BTreeMap<String, ThresholdValue>,
    pub eviction_pressure_transition_period: String,
    pub eviction_max_pod_grace_period: i64,
    pub merge_default_eviction_settings: bool,
    /// Resource → quantity (`memory` → `500Mi`).
    pub system_reserved: BTreeMap<String, String>,
    pub kube_reserved: BTreeMap<String, String>,
    pub enforce_node_allocatable: Vec<String>,
    pub cgroup_driver: String,
    pub cgroup_root: String,
    pub cgroups_per_qos: bool,
    pub root_dir: String,
    /// -1 = unlimited.
    pub pod_pids_limit: i64,
    pub container_log_max_size: String,
    pub container_log_max_files: i64,
    pub resolv_conf: String,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    pub image_gc_high_threshold_percent: i64,
    pub image_gc_low_threshold_percent: i64,
    pub max_pods: i64,
    pub container_runtime_endpoint: String,
    pub kernel_memcg_notification: bool,
    pub kubeconfig: Option<String>,
    pub hostname_override: Option<String>,
    /// `failSwapOn` (default true): the kubelet refuses to start while swap is on.
    #[serde(default = "yes")]
    pub fail_swap_on: bool,
    /// `memorySwap.swapBehavior` (`NoSwap`, `LimitedSwap`); empty when not configured.
    #[serde(default)]
    pub memory_swap_behavior: String,
    /// `rotateCertificates` / `--rotate-certificates` (default false): the client certificate
    /// is renewed through the API before it expires.
    #[serde(default)]
    pub rotate_certificates: bool,
    /// `serverTLSBootstrap` / `--rotate-server-certificates` (default false).
    #[serde(default)]
    pub server_tls_bootstrap: bool,
    /// `tlsCertFile` / `--tls-cert-file`: a serving certificate given explicitly.
    #[serde(default)]
    pub tls_cert_file: Option<String>,
    /// `--cert-dir` (default `/var/lib/kubelet/pki`): where rotated certificates live.
    #[serde(default = "default_cert_dir")]
    pub cert_dir: String,
    /// Field (camelCase config name) → where its value came from; fields absent here are defaults.
    pub sources: BTreeMap<String, Provenance>,
}

fn yes() -> bool {
    true
}

fn default_cert_dir() -> String {
    "/var/lib/kubelet/pki".into()
}

/// The kubelet process and its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KubeletInfo {
    pub pid: u32,
    /// The process the kubelet runs inside, when it has none of its own: `k3s-agent`,
    /// `k3s-server`, `kubelite` (MicroK8s). Its flags then come from the distribution's files,
    /// named in `config_sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded_in: Option<String>,
    /// Files other than `--config` and its drop-ins that supplied settings (a distribution's
    /// `kubelet-arg` list, its args file), in the order applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_sources: Vec<String>,
    /// The `--config` file, when given.
    pub config_file: Option<String>,
    /// Drop-in files read from `--config-dir`, in the order applied.
    pub drop_ins: Vec<String>,
    /// Flags from the command line (`--name` → value; secrets redacted).
    pub flags: BTreeMap<String, String>,
    /// The configuration in force: resolved from the files and flags, then, when the running
    /// kubelet's `/configz` was read, every field it reported as it runs ([`KubeletInfo::apply_running`]).
    pub config: KubeletConfig,
    /// The configuration the files and flags give, kept when `config` took the running
    /// kubelet's values: what `node.kubelet-config-drift` compares, and where a change is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_config: Option<KubeletConfig>,
}

/// A field of [`KubeletConfig`] by its v1beta1 name, and how to take it from another config.
type RunningField = (&'static str, fn(&mut KubeletConfig, &KubeletConfig));

/// The fields `/configz` reports that nodescope resolves from files and flags. Flag-only
/// settings (`--root-dir`, `--kubeconfig`, `--hostname-override`, `--cert-dir`) are not in
/// configz and stay the files' (k8s.io/kubelet config/v1beta1 types.go).
const RUNNING_FIELDS: &[RunningField] = &[
    ("cgroupDriver", |c, r| {
        c.cgroup_driver.clone_from(&r.cgroup_driver)
    }),
    ("cgroupRoot", |c, r| {
        c.cgroup_root.clone_from(&r.cgroup_root)
    }),
    ("cgroupsPerQOS", |c, r| {
        c.cgroups_per_qos = r.cgroups_per_qos
    }),
    ("clusterDNS", |c, r| {
        c.cluster_dns.clone_from(&r.cluster_dns)
    }),
    ("clusterDomain", |c, r| {
        c.cluster_domain.clone_from(&r.cluster_domain)
    }),
    ("containerLogMaxFiles", |c, r| {
        c.container_log_max_files = r.container_log_max_files
    }),
    ("containerLogMaxSize", |c, r| {
        c.container_log_max_size
            .clone_from(&r.container_log_max_size)
    }),
    ("containerRuntimeEndpoint", |c, r| {
        c.container_runtime_endpoint
            .clone_from(&r.container_runtime_endpoint)
    }),
    ("enforceNodeAllocatable", |c, r| {
        c.enforce_node_allocatable
            .clone_from(&r.enforce_node_allocatable)
    }),
    ("evictionHard", |c, r| {
        c.eviction_hard.clone_from(&r.eviction_hard)
    }),
    ("evictionMaxPodGracePeriod", |c, r| {
        c.eviction_max_pod_grace_period = r.eviction_max_pod_grace_period
    }),
    ("evictionMinimumReclaim", |c, r| {
        c.eviction_minimum_reclaim
            .clone_from(&r.eviction_minimum_reclaim)
    }),
    ("evictionPressureTransitionPeriod", |c, r| {
        c.eviction_pressure_transition_period
            .clone_from(&r.eviction_pressure_transition_period)
    }),
    ("evictionSoft", |c, r| {
        c.eviction_soft.clone_from(&r.eviction_soft)
    }),
    ("evictionSoftGracePeriod", |c, r| {
        c.eviction_soft_grace_period
            .clone_from(&r.eviction_soft_grace_period)
    }),
    ("failSwapOn", |c, r| c.fail_swap_on = r.fail_swap_on),
    ("imageGCHighThresholdPercent", |c, r| {
        c.image_gc_high_threshold_percent = r.image_gc_high_threshold_percent
    }),
    ("imageGCLowThresholdPercent", |c, r| {
        c.image_gc_low_threshold_percent = r.image_gc_low_threshold_percent
    }),
    ("kernelMemcgNotification", |c, r| {
        c.kernel_memcg_notification = r.kernel_memcg_notification
    }),
    ("kubeReserved", |c, r| {
        c.kube_reserved.clone_from(&r.kube_reserved)
    }),
    ("maxPods", |c, r| c.max_pods = r.max_pods),
    ("podPidsLimit", |c, r| c.pod_pids_limit = r.pod_pids_limit),
    ("resolvConf", |c, r| {
        c.resolv_conf.clone_from(&r.resolv_conf)
    }),
    ("rotateCertificates", |c, r| {
        c.rotate_certificates = r.rotate_certificates
    }),
    ("serverTLSBootstrap", |c, r| {
        c.server_tls_bootstrap = r.server_tls_bootstrap
    }),
    ("systemReserved", |c, r| {
        c.system_reserved.clone_from(&r.system_reserved)
    }),
    ("tlsCertFile", |c, r| {
        c.tls_cert_file.clone_from(&r.tls_cert_file)
    }),
];

/// The v1beta1 names of the fields a running config (configz) puts in force.
pub fn running_fields() -> impl Iterator<Item = &'static str> {
    RUNNING_FIELDS.iter().map(|(name, _)| *name)
}

impl KubeletInfo {
    /// Puts the running kubelet's settings in force: every field `running` (its `/configz`)
    /// reported replaces the one resolved from files and flags, so every rule judges the
    /// thresholds, reserves and limits the kubelet really applies (one truth: the kubelet's
    /// own word over nodescope's reading of its files). The files' config is kept in
    /// `files_config`; `sources` stay the files' provenance, which is where a remedy tells to
    /// make a change. Applying it twice changes nothing more.
    pub fn apply_running(&mut self, running: &KubeletConfig) {
        let files = self
            .files_config
            .take()
            .unwrap_or_else(|| self.config.clone());
        let mut config = files.clone();
        for (name, take) in RUNNING_FIELDS {
            if running.sources.contains_key(*name) {
                take(&mut config, running);
            }
        }
        self.config = config;
        self.files_config = Some(files);
    }

    /// The configuration the files and flags give (`config` when no running config was read).
    pub fn files(&self) -> &KubeletConfig {
        self.files_config.as_ref().unwrap_or(&self.config)
    }

    /// Whether the files set `field` (v1beta1 name) otherwise than the running kubelet does:
    /// a remedy must then say to apply the files, not to add what they already have.
    pub fn drifted(&self, field: &str) -> bool {
        let Some(files) = &self.files_config else {
            return false;
        };
        RUNNING_FIELDS
            .iter()
            .find(|(name, _)| *name == field)
            .is_some_and(|(_, take)| {
                let mut running_value = files.clone();
                take(&mut running_value, &self.config);
                running_value != *files
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(config: KubeletConfig) -> KubeletInfo {
        KubeletInfo {
            pid: 1,
            embedded_in: None,
            config_sources: Vec::new(),
            config_file: None,
            drop_ins: Vec::new(),
            flags: BTreeMap::new(),
            config,
            files_config: None,
        }
    }

    #[test]
    fn the_running_config_replaces_only_what_configz_reported() {
        let mut files = crate::collect::kubelet_config_for_tests(&["--max-pods=110"]);
        files.pod_pids_limit = 4096;
        let mut running = files.clone();
        running.sources.clear();
        running.pod_pids_limit = -1;
        running.max_pods = 250;
        running.root_dir = "/elsewhere".into();
        // configz reported podPidsLimit only (maxPods and the flag-only rootDir are not taken).
        running
            .sources
            .insert("podPidsLimit".into(), Provenance::Config);
        let mut k = info(files.clone());
        k.apply_running(&running);
        assert_eq!(k.config.pod_pids_limit, -1);
        assert_eq!(k.config.max_pods, 110);
        assert_eq!(k.config.root_dir, files.root_dir);
        // Provenance stays the files': a remedy still says where to change it.
        assert_eq!(k.config.sources, files.sources);
        assert_eq!(k.files(), &files);
        assert!(k.drifted("podPidsLimit"));
        assert!(!k.drifted("maxPods"));
        assert!(!info(files.clone()).drifted("podPidsLimit"));
        // Twice is once.
        let once = k.clone();
        k.apply_running(&running);
        assert_eq!(k, once);
        // Without a running config, the files are in force.
        assert_eq!(info(files.clone()).files(), &files);
    }

    #[test]
    fn thresholds_parse_like_the_kubelet() {
        assert_eq!(
            ThresholdValue::parse("memory.available", "100Mi"),
            Ok(Some(ThresholdValue::Quantity("100Mi".into())))
        );
        assert_eq!(
            ThresholdValue::parse("nodefs.available", "10%"),
            Ok(Some(ThresholdValue::Percent(10.0)))
        );
        assert_eq!(ThresholdValue::parse("nodefs.available", "0%"), Ok(None));
        assert_eq!(ThresholdValue::parse("nodefs.available", "100%"), Ok(None));
        assert!(
            ThresholdValue::parse("nodefs.available", "101%")
                .unwrap_err()
                .contains("<= 100%")
        );
        assert!(
            ThresholdValue::parse("memory.available", "0")
                .unwrap_err()
                .contains("must be positive")
        );
        assert!(ThresholdValue::parse("memory.available", "lots").is_err());
    }

    #[test]
    fn percent_resolution_truncates_through_float32() {
        // 10% of 16 GiB: float32(0.1) is 0.100000001490116..., so the product is truncated
        // from 1717986943.99... + ... exactly as the kubelet's int64(float64(c)*float64(f32)).
        let cap = 17_179_869_184u64;
        let got = ThresholdValue::Percent(10.0).resolve(cap);
        assert_eq!(got, (cap as f64 * (0.1f32 as f64)) as i64);
        assert_eq!(got, 1_717_986_944);
        assert_eq!(
            ThresholdValue::Quantity("100Mi".into()).resolve(cap),
            104_857_600
        );
    }
}
