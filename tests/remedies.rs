//! Remedies never tell to add what is already set: every fixture's findings are checked against
//! the effective kubelet configuration of the same bundle (`nodescope snapshot`). The remedies
//! word a change to the kubelet's settings in one of four forms (src/analyze/remedy.rs):
//! `add \`field: {key: value, ...}\``, `add \`field: value\``, `add \`key<value,...\` to
//! \`--flag\`` and `add \`--flag=value\``. Each is read back here into (field, key) pairs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

/// A KubeletConfiguration field from its flag (cmd/kubelet/app/options/options.go).
fn field_of_flag(flag: &str) -> String {
    match flag {
        "pod-max-pids" => "podPidsLimit".into(),
        "image-gc-high-threshold" => "imageGCHighThresholdPercent".into(),
        "image-gc-low-threshold" => "imageGCLowThresholdPercent".into(),
        _ => {
            let mut out = String::new();
            let mut up = false;
            for c in flag.chars() {
                match (c, up) {
                    ('-', _) => up = true,
                    (c, true) => {
                        out.push(c.to_ascii_uppercase());
                        up = false
                    }
                    (c, false) => out.push(c),
                }
            }
            out
        }
    }
}

/// `evictionSoftGracePeriod` → `eviction_soft_grace_period`, the snapshot's name for it.
fn snake(field: &str) -> String {
    let chars: Vec<char> = field.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
            let acronym_end = i > 0
                && chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_end {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a remedy tells to add: (field, Some(map key)) or (field, None) for a scalar.
fn additions(remedy: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = remedy;
    while let Some(i) = rest.find("add `") {
        rest = &rest[i + 5..];
        let Some(end) = rest.find('`') else { break };
        let quoted = &rest[..end];
        let after = &rest[end + 1..];
        if let Some(flag) = after
            .strip_prefix(" to `--")
            .and_then(|a| a.split('`').next())
        {
            let field = field_of_flag(flag);
            for entry in quoted.split(',') {
                let key = entry.split(['<', '=']).next().unwrap_or("").trim();
                out.push((field.clone(), Some(key.to_string())));
            }
        } else if let Some(flag) = quoted.strip_prefix("--") {
            let name = flag.split('=').next().unwrap_or("");
            out.push((field_of_flag(name), None));
        } else if let Some((field, value)) = quoted.split_once(": ") {
            match value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                Some(map) => {
                    for entry in map.split(", ") {
                        let key = entry.split(": ").next().unwrap_or("").trim();
                        out.push((field.to_string(), Some(key.to_string())));
                    }
                }
                None => out.push((field.to_string(), None)),
            }
        }
        rest = after;
    }
    out
}

/// Whether the effective config (`kubelet.config` of a snapshot) already sets it.
fn already_set(config: &Value, field: &str, key: Option<&str>) -> bool {
    match key {
        Some(k) => config[snake(field)]
            .as_object()
            .is_some_and(|m| m.contains_key(k)),
        None => config["sources"].get(field).is_some(),
    }
}

#[test]
fn the_parser_reads_every_form_and_catches_what_is_set() {
    let r = "add `memory.available<768Mi,nodefs.available<15%` to `--eviction-soft`; add `systemReserved: {memory: 960Mi}`; add `--pod-max-pids=4096`; add `podPidsLimit: 4096`";
    assert_eq!(
        additions(r),
        [
            ("evictionSoft".into(), Some("memory.available".into())),
            ("evictionSoft".into(), Some("nodefs.available".into())),
            ("systemReserved".into(), Some("memory".into())),
            ("podPidsLimit".into(), None),
            ("podPidsLimit".into(), None),
        ]
    );
    assert_eq!(
        snake("evictionSoftGracePeriod"),
        "eviction_soft_grace_period"
    );
    assert_eq!(
        snake("imageGCHighThresholdPercent"),
        "image_gc_high_threshold_percent"
    );
    let config = serde_json::json!({
        "eviction_soft": {"memory.available": {"quantity": "1Gi"}},
        "sources": {"podPidsLimit": "config"}
    });
    assert!(already_set(
        &config,
        "evictionSoft",
        Some("memory.available")
    ));
    assert!(!already_set(
        &config,
        "evictionSoft",
        Some("nodefs.available")
    ));
    assert!(already_set(&config, "podPidsLimit", None));
}

/// Every fixture bundle: no finding's remedy tells to add a kubelet setting (flag or config
/// key, or an entry of a map-valued one) that the bundle's effective configuration already has.
#[test]
fn no_fixture_remedy_adds_what_the_kubelet_already_sets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let dump = fixture("cluster-node-a");
    let dump = dump.to_str().unwrap();
    let mut runs: Vec<(std::path::PathBuf, Vec<&str>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("nodescope-bundle.json").exists())
        .map(|p| (p, vec![]))
        .collect();
    // And with the API's word (priorities and requests) for the node the dump describes.
    runs.push((
        fixture("healthy-v2-systemd-containerd"),
        vec!["--cluster-dump", dump],
    ));
    let mut checked = 0;
    let mut bundles = 0;
    for (path, extra) in &runs {
        bundles += 1;
        let (_, report) = check_json(path, extra);
        let snap = snapshot(path);
        let config = &snap["kubelet"]["config"];
        for f in report["findings"].as_array().unwrap() {
            let remedy = f["remedy"].as_str().unwrap();
            for (field, key) in additions(remedy) {
                checked += 1;
                assert!(
                    !already_set(config, &field, key.as_deref()),
                    "{}: {} tells to add {field} {key:?}, already set: {remedy}",
                    path.display(),
                    f["id"]
                );
            }
        }
    }
    assert!(bundles >= 10, "{bundles} fixture bundles");
    assert!(
        checked >= 5,
        "only {checked} additions found: the parser reads nothing"
    );
}

/// The known bad case: oom-global-v1-cgroupfs's kubelet has a soft threshold and reserved
/// memory from its flags, so the node-level OOM fixes say the config is sound and name the pod
/// that grew, with its anon-rss at the kill.
#[test]
fn a_sound_config_is_said_so_and_the_pod_that_grew_is_named() {
    let (_, r) = check_json(&fixture("oom-global-v1-cgroupfs"), &[]);
    for id in ["memory.global-oom", "memory.oom-race"] {
        assert_eq!(
            finding(&r, id)["remedy"],
            "config is sound (evictionHard memory.available 500Mi, evictionSoft memory.available 1Gi, 1Gi reserved): payments/api-7c8d9f6b5-r2t4y grew to 12.6Gi anon-rss (81% of 15.6Gi); now: working set 185Mi, limit 512Mi; size payments/api-7c8d9f6b5-r2t4y's memory limit from its real need; largest working sets now: payments/ledger-0 371Mi, payments/api-7c8d9f6b5-r2t4y 186Mi, kube-system/kube-proxy-q8w7e 93.1Mi",
            "{id}"
        );
    }
}

/// The same node with the soft threshold and the reservations taken off its command line: the
/// fix now tells to add exactly those, the soft tier beside the hard one in the kubelet's flags,
/// the reservation (none left among the flags) in its configuration file.
#[test]
fn without_them_the_fix_adds_the_soft_threshold_and_reserved_memory() {
    let c = Copy::of("oom-global-v1-cgroupfs");
    let path = "/proc/988/cmdline";
    let cmdline = c.read(path);
    let kept: Vec<&str> = cmdline
        .split('\0')
        .filter(|a| {
            !["--eviction-soft", "--system-reserved", "--kube-reserved"]
                .iter()
                .any(|f| a.starts_with(&format!("{f}=")) || a.starts_with(&format!("{f}-")))
        })
        .collect();
    assert!(kept.len() < cmdline.split('\0').count(), "{cmdline:?}");
    c.write(path, &kept.join("\0"));
    let (_, r) = check_json(&c.root, &[]);
    let remedy = finding(&r, "memory.global-oom")["remedy"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        remedy.starts_with("add `memory.available<1Gi` to `--eviction-soft`; add `memory.available=1m30s` to `--eviction-soft-grace-period`; add `systemReserved: {memory: 960Mi}`; payments/api-7c8d9f6b5-r2t4y grew to 12.6Gi anon-rss (81% of 15.6Gi)"),
        "{remedy}"
    );
}

/// Disk pressure names what fills the filesystem, largest first, as `nodescope disk` finds it.
#[test]
fn nodefs_pressure_names_the_largest_consumers() {
    let (_, r) = check_json(&fixture("disk-bloat-v2-containerd"), &[]);
    assert_eq!(
        finding(&r, "disk.nodefs-pressure")["remedy"],
        "free what `nodescope disk` lists (orphaned pod logs and volumes, oversized logs, deleted-but-open files); largest on it: shop/checkout-5f7c9d8b6-m4kq2 (sessions) emptyDir 3.4Gi, shop/web-6d9f8c7b5-h2j4k pod logs 2.3Gi, shop/web-6d9f8c7b5-h2j4k/nginx deleted but open 1.8Gi; set ephemeral-storage limits on the pods that write to their rootfs or emptyDirs"
    );
}
