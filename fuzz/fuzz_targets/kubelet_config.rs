//! The kubelet's YAML configuration file and a `--config-dir` drop-in, resolved as the kubelet
//! resolves them (defaults, file, drop-ins, flags).
//!
//! Input: the config file, then optionally `nodescope_fuzz::SEP` and a drop-in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::model::kubelet::{KubeletConfig, ThresholdValue};
use nodescope::model::quantity::parse_quantity;
use nodescope_fuzz::{KUBELET_CONFIG, KUBELET_DROP_INS, kubelet_host, split};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn host(config: &[u8], drop_in: &[u8]) -> nodescope::source::bundle::BundleHost {
    let args = format!("--config={KUBELET_CONFIG}\0--config-dir={KUBELET_DROP_INS}");
    let drop_path = format!("{KUBELET_DROP_INS}/10-fuzz.conf");
    let mut files = vec![(KUBELET_CONFIG, config)];
    if !drop_in.is_empty() {
        files.push((drop_path.as_str(), drop_in));
    }
    kubelet_host(args.as_bytes(), &files)
}

/// The judged fields of `c` as a configuration file (JSON, which YAML reads; every character
/// outside printable ASCII escaped, as YAML wants).
fn as_config(c: &KubeletConfig) -> String {
    let th = |m: &BTreeMap<String, ThresholdValue>| -> Value {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect(),
        )
    };
    let v = json!({
        "evictionHard": th(&c.eviction_hard),
        "evictionSoft": th(&c.eviction_soft),
        "evictionSoftGracePeriod": c.eviction_soft_grace_period,
        "evictionMinimumReclaim": th(&c.eviction_minimum_reclaim),
        "evictionPressureTransitionPeriod": c.eviction_pressure_transition_period,
        "evictionMaxPodGracePeriod": c.eviction_max_pod_grace_period,
        "mergeDefaultEvictionSettings": c.merge_default_eviction_settings,
        "systemReserved": c.system_reserved,
        "kubeReserved": c.kube_reserved,
        "enforceNodeAllocatable": c.enforce_node_allocatable,
        "cgroupDriver": c.cgroup_driver,
        "cgroupRoot": c.cgroup_root,
        "cgroupsPerQOS": c.cgroups_per_qos,
        "podPidsLimit": c.pod_pids_limit,
        "containerLogMaxSize": c.container_log_max_size,
        "containerLogMaxFiles": c.container_log_max_files,
        "resolvConf": c.resolv_conf,
        "clusterDNS": c.cluster_dns,
        "clusterDomain": c.cluster_domain,
        "imageGCHighThresholdPercent": c.image_gc_high_threshold_percent,
        "imageGCLowThresholdPercent": c.image_gc_low_threshold_percent,
        "maxPods": c.max_pods,
        "containerRuntimeEndpoint": c.container_runtime_endpoint,
        "kernelMemcgNotification": c.kernel_memcg_notification,
        "failSwapOn": c.fail_swap_on,
        "memorySwap": { "swapBehavior": c.memory_swap_behavior },
        "rotateCertificates": c.rotate_certificates,
        "serverTLSBootstrap": c.server_tls_bootstrap,
    });
    let mut v = v;
    if let Some(t) = &c.tls_cert_file {
        v["tlsCertFile"] = json!(t);
    }
    let mut out = String::new();
    for ch in serde_json::to_string(&v).unwrap().chars() {
        match ch {
            ' '..='~' => out.push(ch),
            c if (c as u32) <= 0xffff => out += &format!("\\u{:04X}", c as u32),
            c => out += &format!("\\U{:08X}", c as u32),
        }
    }
    out
}

/// Strings long enough that YAML's 1024-character limit on implicit keys could apply.
fn has_long_string(c: &KubeletConfig) -> bool {
    let s = serde_json::to_string(c).unwrap();
    serde_json::from_str::<Value>(&s)
        .map(|v| long(&v))
        .unwrap_or(true)
}

fn long(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() > 256,
        Value::Array(a) => a.iter().any(long),
        Value::Object(o) => o.iter().any(|(k, v)| k.len() > 256 || long(v)),
        _ => false,
    }
}

fn without_sources(c: &KubeletConfig) -> String {
    let mut c = c.clone();
    c.sources.clear();
    format!("{c:?}")
}

fuzz_target!(|data: &[u8]| {
    let parts = split(data, 2);
    let snap = nodescope_fuzz::collect_and_analyze(&host(parts[0], parts[1]));
    let c = &snap
        .kubelet
        .as_ref()
        .expect("the kubelet process was found")
        .config;
    for t in c.eviction_hard.values().chain(c.eviction_soft.values()) {
        match t {
            ThresholdValue::Percent(p) => assert!(p.is_nan() || (0.0..=100.0).contains(p), "{p}"),
            ThresholdValue::Quantity(q) => {
                assert!(parse_quantity(q).is_some_and(|v| v > 0.0), "{q}")
            }
        }
    }
    assert!(!c.cgroup_root.is_empty());
    // The resolved configuration, written as a file, resolves to itself.
    if !has_long_string(c) {
        let text = as_config(c);
        let again = nodescope::collect::snapshot(&host(text.as_bytes(), b""));
        let c2 = &again.kubelet.as_ref().unwrap().config;
        assert_eq!(without_sources(c2), without_sources(c), "{text}");
    }
});
