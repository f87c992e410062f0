//! The real binary on fixture bundles: exit codes, formats, bad input, and each foundation rule
//! firing on a minimal edit of a healthy node (and staying silent on the healthy one).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use serde_json::Value;
use std::process::Command;

use crate::common;
use common::*;

// ---------------------------------------------------------------- healthy fixtures

#[test]
fn healthy_fixtures_exit_0_with_only_the_eviction_order() {
    // FIXTURE.md: "Must fire: only the info memory.eviction-order", on both healthy nodes.
    for (name, node) in [(V2, "node-a"), (V1, "node-b")] {
        let (code, r) = check_json(&fixture(name), &[]);
        assert_eq!(r["schema"], "nodescope-check/1");
        assert_eq!(r["node"], node);
        assert_eq!(
            ids(&r),
            ["memory.eviction-order"],
            "{name}: {:#}",
            r["findings"]
        );
        assert_eq!(finding(&r, "memory.eviction-order")["severity"], "info");
        assert_eq!(code, Some(0), "{name}");
        assert_eq!(
            r["errors"],
            serde_json::json!([]),
            "{name}: a healthy fixture reads cleanly"
        );
    }
}

#[test]
fn v2_systemd_containerd_pods_are_named_without_the_api() {
    let o = run(&[
        "--bundle",
        fixture(V2).to_str().unwrap(),
        "snapshot",
        "--format",
        "json",
    ]);
    assert!(o.status.success());
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["schema"], "nodescope-snapshot/1");
    assert_eq!(s["cgroup"]["version"], "v2");
    assert_eq!(s["cgroup"]["driver"], "systemd");
    assert_eq!(s["cgroup"]["kubepods_path"], "/kubepods.slice");
    let pods = s["pods"].as_array().unwrap();
    let web = pods
        .iter()
        .find(|p| p["name"] == "web-6d9f8c7b5-h2j4k")
        .expect("web pod");
    assert_eq!(web["namespace"], "shop");
    assert_eq!(web["qos"], "Burstable");
    let names: Vec<&str> = web["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["nginx"]);
    assert!(
        web["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["sandbox"] == true),
        "sandbox identified"
    );
    assert!(
        web["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["runtime"] == "containerd")
    );
    let checkout = pods
        .iter()
        .find(|p| p["name"] == "checkout-5f7c9d8b6-m4kq2")
        .unwrap();
    assert_eq!(checkout["qos"], "Guaranteed");
    // Every container process is joined to its container.
    let attributed = s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["container_id"].is_null())
        .count();
    assert!(attributed >= 5, "{attributed} processes attributed");
    let k = &s["kubelet"]["config"];
    assert_eq!(
        k["eviction_hard"]["memory.available"],
        serde_json::json!({"quantity": "500Mi"})
    );
    assert_eq!(k["sources"]["evictionHard"], "config");
}

#[test]
fn v1_cgroupfs_crio_flags_win_over_the_config_file() {
    let o = run(&["--bundle", fixture(V1).to_str().unwrap(), "snapshot"]);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["cgroup"]["version"], "v1");
    assert_eq!(s["cgroup"]["driver"], "cgroupfs");
    assert_eq!(s["cgroup"]["kubepods_path"], "/kubepods");
    let k = &s["kubelet"]["config"];
    assert_eq!(
        k["eviction_hard"]["memory.available"],
        serde_json::json!({"quantity": "500Mi"}),
        "the flag, not the file's 100Mi"
    );
    assert_eq!(k["sources"]["evictionHard"], "flag");
    assert_eq!(k["system_reserved"]["memory"], "512Mi");
    let pods = s["pods"].as_array().unwrap();
    let ledger = pods.iter().find(|p| p["name"] == "ledger-0").unwrap();
    assert_eq!(ledger["namespace"], "payments");
    assert_eq!(ledger["qos"], "Guaranteed");
    assert!(
        ledger["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["runtime"] == "cri-o")
    );
    assert!(
        ledger["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "ledger")
    );
}

#[test]
fn a_tar_gz_of_a_fixture_analyzes_like_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("v2.tar.gz");
    let st = Command::new("tar")
        .arg("czf")
        .arg(&tgz)
        .arg("-C")
        .arg(fixture(""))
        .arg(V2)
        .watched_status()
        .unwrap();
    assert!(st.success());
    let (_, a) = check_json(&fixture(V2), &[]);
    let (_, b) = check_json(&tgz, &[]);
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(a["taken_at"], b["taken_at"]);
}

// ---------------------------------------------------------------- each rule fires on an edit

#[test]
fn eviction_hard_only_fires_without_soft_thresholds() {
    let c = Copy::of(V2);
    let cfg = drop_yaml_block(
        &drop_yaml_block(&kubelet_config(&c), "evictionSoft"),
        "evictionSoftGracePeriod",
    );
    c.write("/var/lib/kubelet/config.yaml", &cfg);
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "eviction.hard-only");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["node"], "node-a");
    assert_eq!(f["evidence"]["eviction_hard"]["memory.available"], "500Mi");
    assert_eq!(code, Some(1));
    let (code, _) = check_json(&c.root, &["--fail-on", "critical"]);
    assert_eq!(code, Some(0), "--fail-on critical ignores warnings");
}

#[test]
fn eviction_no_reserved_and_no_minimum_reclaim_fire_when_unset() {
    let c = Copy::of(V2);
    let mut cfg = kubelet_config(&c);
    for k in ["systemReserved", "kubeReserved", "evictionMinimumReclaim"] {
        cfg = drop_yaml_block(&cfg, k);
    }
    c.write("/var/lib/kubelet/config.yaml", &cfg);
    let (code, r) = check_json(&c.root, &[]);
    assert_eq!(finding(&r, "eviction.no-reserved")["severity"], "warning");
    assert_eq!(
        finding(&r, "eviction.no-minimum-reclaim")["severity"],
        "info"
    );
    assert_eq!(code, Some(1));
}

#[test]
fn no_minimum_reclaim_alone_is_info_and_exits_by_fail_on() {
    let c = Copy::of(V2);
    c.write(
        "/var/lib/kubelet/config.yaml",
        &drop_yaml_block(&kubelet_config(&c), "evictionMinimumReclaim"),
    );
    let (code, r) = check_json(&c.root, &[]);
    assert_eq!(ids_but_order(&r), ["eviction.no-minimum-reclaim"]);
    assert_eq!(code, Some(0));
    let (code, _) = check_json(&c.root, &["--fail-on", "info"]);
    assert_eq!(code, Some(1));
}

#[test]
fn memory_pressure_is_computed_as_the_kubelet_does_v2() {
    // v2: usage = anon + file of the root memory.stat; working set = usage - inactive_file.
    let c = Copy::of(V2);
    let total = mem_total_bytes(&c);
    let p = "/sys/fs/cgroup/memory.stat";
    // available = 300Mi < hard 500Mi → critical.
    c.set_key(p, "anon", total - 300 * 1024 * 1024)
        .set_key(p, "file", 1 << 30)
        .set_key(p, "inactive_file", 1 << 30);
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.pressure");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["memory_available_bytes"], 300 * 1024 * 1024);
    assert_eq!(f["evidence"]["hard_threshold_bytes"], 500 * 1024 * 1024);
    assert_eq!(code, Some(2));
    // available = 520Mi: above hard, within 10 %, and below soft 1Gi → warning.
    c.set_key(p, "anon", total - 520 * 1024 * 1024);
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.pressure");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        f["evidence"]["reasons"].as_array().unwrap().len(),
        2,
        "{f:#}"
    );
    assert_eq!(code, Some(1));
    // Exactly at the threshold is not met (strict >), but the soft one still is.
    c.set_key(p, "anon", total - 500 * 1024 * 1024);
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(finding(&r, "memory.pressure")["severity"], "warning");
}

#[test]
fn memory_pressure_v1_uses_usage_in_bytes_and_total_inactive_file() {
    let c = Copy::of(V1);
    let total = mem_total_bytes(&c);
    c.write(
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        &format!("{}\n", total - 100 * 1024 * 1024 + (2 << 30)),
    );
    c.set_key(
        "/sys/fs/cgroup/memory/memory.stat",
        "total_inactive_file",
        2 << 30,
    );
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.pressure");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["memory_available_bytes"], 100 * 1024 * 1024);
}

#[test]
fn memory_pressure_fires_on_psi_stalls() {
    let c = Copy::of(V2);
    c.write(
        "/proc/pressure/memory",
        "some avg10=40.00 avg60=20.00 avg300=5.00 total=99999999\nfull avg10=15.50 avg60=9.00 avg300=2.00 total=55555555\n",
    );
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.pressure");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["evidence"]["psi_memory_full_avg10"], 15.5);
}

#[test]
fn pid_pressure_fires_under_ten_percent_of_the_pid_space() {
    let c = Copy::of(V2);
    let pid_max: u64 = c.read("/proc/sys/kernel/pid_max").trim().parse().unwrap();
    let threads_max: u64 = c
        .read("/proc/sys/kernel/threads-max")
        .trim()
        .parse()
        .unwrap();
    let cap = pid_max.min(threads_max);
    c.write(
        "/proc/loadavg",
        &format!("3.10 2.50 2.00 5/{} 402311\n", cap - cap / 20),
    );
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "pid.pressure");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["evidence"]["pid_capacity"], cap);
    assert_eq!(f["evidence"]["pid_available"], cap / 20);
}

#[test]
fn kubelet_not_running_is_critical() {
    let c = Copy::of(V1);
    let s: Value =
        serde_json::from_slice(&run(&["--bundle", c.root.to_str().unwrap(), "snapshot"]).stdout)
            .unwrap();
    let pid = s["kubelet"]["pid"].as_u64().unwrap();
    c.remove_dir(&format!("/proc/{pid}"));
    let (code, r) = check_json(&c.root, &[]);
    assert_eq!(
        finding(&r, "node.kubelet-not-running")["severity"],
        "critical"
    );
    assert_eq!(code, Some(2));
    // Without a kubelet its configuration is unknown, so no eviction.* rule can judge it.
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("eviction.")),
        "{:?}",
        ids(&r)
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn a_root_or_bundle_that_is_not_a_host_exits_3_with_one_line() {
    let empty = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "--root".into(),
            "/nonexistent-nodescope".into(),
            "check".into(),
        ],
        vec![
            "--bundle".into(),
            "/nonexistent-nodescope.tar.gz".into(),
            "check".into(),
        ],
        vec![
            "--root".into(),
            empty.path().display().to_string(),
            "check".into(),
        ],
        vec![
            "--bundle".into(),
            empty.path().display().to_string(),
            "check".into(),
        ],
        vec!["--bundle".into(), "Cargo.toml".into(), "check".into()],
        vec!["check".into(), "--format".into(), "yaml".into()],
        vec!["explain".into(), "memory.nope".into()],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(
            !err.trim().is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["check"])
        .env("NODESCOPE_ROOT", "/nonexistent-x")
        .watched_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn a_malformed_file_is_an_error_entry_not_a_failure() {
    let c = Copy::of(V2);
    c.write(
        "/proc/meminfo",
        "MemTotal:       16393256 kB\nMemFree: lots kB\n",
    );
    c.write("/var/lib/kubelet/config.yaml", "evictionHard: [unclosed\n");
    let (code, r) = check_json(&c.root, &[]);
    assert_ne!(code, Some(3));
    let errors = r["errors"].as_array().unwrap();
    let mem = errors
        .iter()
        .find(|e| e["path"] == "/proc/meminfo")
        .expect("meminfo error");
    assert_eq!(mem["kind"], "invalid");
    assert_eq!(mem["line"], 2);
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == "/var/lib/kubelet/config.yaml" && e["kind"] == "invalid"),
        "{errors:#?}"
    );
}

/// The rule ids nodescope promises (the first-round catalog and the node-health rules after
/// it): every one must be listed by `rules` and explained.
const CATALOG: &[&str] = &[
    "cpu.pressure",
    "cpu.throttling",
    "disk.container-log-oversize",
    "disk.deleted-open-files",
    "disk.emptydir-large",
    "disk.filesystem-full",
    "disk.imagefs-pressure",
    "disk.inode-exhaustion",
    "disk.nodefs-pressure",
    "disk.orphaned-pod-logs",
    "disk.orphaned-pod-volumes",
    "dns.conntrack-race",
    "dns.nameserver-limit",
    "dns.ndots-amplification",
    "dns.no-cluster-dns",
    "dns.policy-default",
    "dns.probe-failed",
    "dns.search-limit",
    "eviction.besteffort-critical",
    "eviction.hard-only",
    "eviction.no-memory-threshold",
    "eviction.no-minimum-reclaim",
    "eviction.no-reserved",
    "fs.io-error",
    "fs.read-only",
    "gpu.all-allocated",
    "gpu.cuda-oom",
    "gpu.device-plugin-missing",
    "gpu.driver-not-loaded",
    "gpu.memory-near-full",
    "gpu.mig-resource-mismatch",
    "gpu.operator-unhealthy",
    "gpu.pending-pod",
    "gpu.xid",
    "kernel.hung-task",
    "kernel.soft-lockup",
    "kubelet.cert-expiry",
    "memory.eviction-order",
    "memory.global-oom",
    "memory.kernel-oom-kill",
    "memory.limit-near-peak",
    "memory.oom-race",
    "memory.pressure",
    "net.cni-missing",
    "net.conntrack-table-full",
    "node.clock-unsynced",
    "node.condition",
    "node.kubelet-config-drift",
    "node.kubelet-not-running",
    "node.kubelet-stats-mismatch",
    "node.service-flapping",
    "node.swap-on",
    "pid.pressure",
    "pid.unbounded-pods",
    "pod.shm-small",
    "runtime.not-ready",
];

#[test]
fn rules_and_explain_cover_every_rule() {
    let o = run(&["rules"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{:<30} {:<9} SUMMARY", "ID", "SEVERITY")
    );
    let listed: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // Exactly the registry, in its order, and every catalog id among them.
    let registry: Vec<&str> = nodescope::analyze::rules::RULES
        .iter()
        .map(|r| r.id())
        .collect();
    assert_eq!(listed, registry);
    let missing: Vec<&&str> = CATALOG.iter().filter(|id| !listed.contains(id)).collect();
    assert!(missing.is_empty(), "not listed: {missing:?}");
    assert_eq!(
        listed.len(),
        CATALOG.len(),
        "a rule was added or removed: update CATALOG and the catalog users read"
    );
    for &id in &listed {
        let o = run(&["explain", id]);
        assert!(o.status.success());
        let e = String::from_utf8(o.stdout).unwrap();
        for h in [
            "WHAT IT MEANS",
            "WHY IT MATTERS",
            "HOW TO CONFIRM",
            "WHAT TO CHANGE",
        ] {
            assert!(e.contains(h), "{id}: {h}");
        }
    }
}

/// A rule id copied in capitals (from a ticket, a dashboard) is the same rule.
#[test]
fn explain_takes_a_rule_id_in_any_case() {
    let lower = run(&["explain", "memory.oom-race"]);
    let upper = run(&["explain", "MEMORY.OOM-RACE"]);
    assert!(
        upper.status.success(),
        "{}",
        String::from_utf8_lossy(&upper.stderr)
    );
    assert_eq!(upper.stdout, lower.stdout);
    assert!(String::from_utf8_lossy(&upper.stdout).starts_with("memory.oom-race (critical)"));
}

#[test]
fn text_report_names_the_node_and_the_finding() {
    let c = Copy::of(V2);
    c.write(
        "/var/lib/kubelet/config.yaml",
        &drop_yaml_block(
            &drop_yaml_block(&kubelet_config(&c), "evictionSoft"),
            "evictionSoftGracePeriod",
        ),
    );
    let o = run(&[
        "--bundle",
        c.root.to_str().unwrap(),
        "--color",
        "never",
        "check",
    ]);
    let t = String::from_utf8(o.stdout).unwrap();
    // The verdict first, then the node.
    assert!(t.starts_with("1 warning \u{2014} "), "{t}");
    assert!(
        t.lines()
            .nth(1)
            .unwrap()
            .starts_with("nodescope  node-a  cgroup v2/systemd  kernel 6.1.0-28-amd64"),
        "{t}"
    );
    assert!(t.contains("WARNING   eviction.hard-only"), "{t}");
    assert!(!t.contains('\x1b'), "no colour when asked for none");
    assert_eq!(o.status.code(), Some(1));
}

// ---------------------------------------------------------------- container and pod rules

#[test]
fn memory_limit_near_peak_names_the_container_v2_and_v1() {
    for (fx, pod_name, ctr, peak_file, root) in [
        (
            V2,
            "web-6d9f8c7b5-h2j4k",
            "nginx",
            "memory.peak",
            "/sys/fs/cgroup",
        ),
        (
            V1,
            "api-7c8d9f6b5-r2t4y",
            "api",
            "memory.max_usage_in_bytes",
            "/sys/fs/cgroup/memory",
        ),
    ] {
        let c = Copy::of(fx);
        let s = snapshot(&c.root);
        let p = pod(&s, pod_name);
        let cg = &container(p, ctr)["cgroup"];
        let limit = cg["limit_bytes"].as_u64().unwrap();
        let dir = format!("{root}{}", cg["path"].as_str().unwrap());
        c.write(
            &format!("{dir}/{peak_file}"),
            &format!("{}\n", limit / 100 * 95),
        );
        let (code, r) = check_json(&c.root, &[]);
        let f = finding(&r, "memory.limit-near-peak");
        assert_eq!(f["subject"]["namespace"], p["namespace"], "{fx}");
        assert_eq!(f["subject"]["pod"], pod_name);
        assert_eq!(f["subject"]["container"], ctr);
        assert_eq!(f["evidence"]["limit_bytes"], limit);
        assert!(f["title"].as_str().unwrap().starts_with("peak "), "{f:#}");
        assert_eq!(code, Some(1));
    }
}

#[test]
fn pid_unbounded_pods_needs_both_no_limit_and_no_pod_pids_limit() {
    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let p = pod(&s, "web-6d9f8c7b5-h2j4k");
    let dir = format!("/sys/fs/cgroup{}", p["cgroup"]["path"].as_str().unwrap());
    c.write(&format!("{dir}/pids.max"), "max\n");
    let (_, r) = check_json(&c.root, &[]);
    assert!(
        !ids(&r).contains(&"pid.unbounded-pods".to_string()),
        "podPidsLimit 4096 still applies to new pods"
    );
    let cfg: String = kubelet_config(&c)
        .lines()
        .filter(|l| !l.starts_with("podPidsLimit"))
        .map(|l| format!("{l}\n"))
        .collect();
    c.write("/var/lib/kubelet/config.yaml", &cfg);
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "pid.unbounded-pods");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    assert_eq!(
        ids(&r)
            .iter()
            .filter(|i| *i == "pid.unbounded-pods")
            .count(),
        1
    );
    assert_eq!(code, Some(0));
}

#[test]
fn besteffort_in_kube_system_fires_unless_node_critical() {
    let c = Copy::of(V1);
    let (_, r) = check_json(&c.root, &[]);
    assert!(
        !ids(&r).contains(&"eviction.besteffort-critical".to_string()),
        "kube-proxy is system-node-critical (-997)"
    );
    let s = snapshot(&c.root);
    let p = pod(&s, "kube-proxy-q8w7e");
    let id = container(p, "kube-proxy")["id"].as_str().unwrap();
    let proc_ = s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["container_id"] == id)
        .unwrap();
    c.write(&format!("/proc/{}/oom_score_adj", proc_["pid"]), "1000\n");
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "eviction.besteffort-critical");
    assert_eq!(f["subject"]["namespace"], "kube-system");
    assert_eq!(f["subject"]["pod"], "kube-proxy-q8w7e");
    assert_eq!(f["evidence"]["oom_score_adj"], serde_json::json!([1000]));
    assert_eq!(code, Some(1));
}

// ---------------------------------------------------------------- top without a terminal

/// `sh -c SCRIPT nodescope BUNDLE`, killed by `timeout` after 30 s (the watchdog); stdin as
/// given, stdout and stderr captured.
fn sh_bounded(script: &str, stdin: std::process::Stdio) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_nodescope"))
        .arg(fixture("oom-memcg-v2-systemd"))
        .env_remove("NODESCOPE_ROOT")
        .stdin(stdin)
        .watched_output()
        .unwrap()
}

const NEEDS_A_TERMINAL: &str =
    "nodescope: top needs a terminal; `nodescope check` prints the report\n";

#[test]
fn top_with_stdin_from_dev_null_exits_3_with_one_line_and_nothing_on_stdout() {
    let o = sh_bounded(
        r#"exec timeout -s KILL 30 "$0" --bundle "$1" top"#,
        std::process::Stdio::null(),
    );
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stderr), NEEDS_A_TERMINAL);
    assert_eq!(o.stdout, b"", "not one byte, no escape sequence");
}

#[test]
fn top_piped_into_cat_exits_3_with_one_line_and_nothing_on_stdout() {
    // stdin is the test's own (a terminal when run by hand): stdout alone is not a terminal.
    let o = sh_bounded(
        r#"{ timeout -s KILL 30 "$0" --bundle "$1" top; echo "top-exit=$?" >&2; } | cat"#,
        std::process::Stdio::inherit(),
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("{NEEDS_A_TERMINAL}top-exit=3\n")
    );
    assert_eq!(o.stdout, b"");
}

#[test]
fn nodescope_alone_without_a_terminal_prints_the_check_report() {
    let alone = sh_bounded(
        r#"exec timeout -s KILL 30 "$0" --bundle "$1""#,
        std::process::Stdio::null(),
    );
    let check = sh_bounded(
        r#"exec timeout -s KILL 30 "$0" --bundle "$1" check"#,
        std::process::Stdio::null(),
    );
    assert_eq!(alone.status.code(), Some(2), "a critical finding");
    assert_eq!(alone.status.code(), check.status.code());
    assert!(String::from_utf8_lossy(&alone.stdout).contains("memory.kernel-oom-kill"));
    assert_eq!(alone.stdout, check.stdout);
}

/// A report leaves in one write(2) per 64 KiB (src/cmd/mod.rs `OUT_BUFFER`), not one per line
/// as a line-buffered stdout makes it (62 writes for this text report before): every format of
/// `check` and every other reporting command. Counted with strace on fixtures: no live host is
/// read.
#[test]
fn a_report_is_written_in_64_kib_writes_not_line_by_line() {
    let strace_here = Command::new("strace")
        .arg("-V")
        .watched_output()
        .is_ok_and(|o| o.status.success());
    if !strace_here {
        return common::live::skip_or_fail("needs strace (.ci/run installs it)");
    }
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("trace");
    let check = |f: &'static str| ("disk-bloat-v2-containerd", vec!["check", "--format", f]);
    let runs = [
        check("text"),
        check("json"),
        check("prometheus"),
        check("npd"),
        check("junit"),
        ("disk-bloat-v2-containerd", vec!["snapshot"]),
        ("disk-bloat-v2-containerd", vec!["disk"]),
        ("dns-v2-containerd", vec!["dns"]),
        ("gpu-mig-mixed", vec!["gpu"]),
        ("gpu-mig-mixed", vec!["gpu", "--format", "json"]),
    ];
    // More than 64 KiB: the fixture with 600 more processes (stat and cmdline as
    // fs/proc/array.c and fs/proc/base.c write them), whose snapshot is ~250 KB.
    let big = common::Copy::of("disk-bloat-v2-containerd");
    for pid in 20_000..20_600 {
        let dir = big.path(&format!("proc/{pid}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("stat"),
            format!("{pid} (worker) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"),
        )
        .unwrap();
        std::fs::write(dir.join("cmdline"), "/usr/bin/worker\0--queue=jobs\0").unwrap();
    }
    let runs = runs
        .into_iter()
        .map(|(fx, args)| (fixture(fx), args))
        .chain([(big.root.clone(), vec!["snapshot"])]);
    for (fx, args) in runs {
        let o = Command::new("strace")
            .args(["-f", "-e", "trace=write", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_nodescope"))
            .arg("--bundle")
            .arg(&fx)
            .args(&args)
            .env_remove("NODESCOPE_ROOT")
            .watched_output()
            .unwrap();
        let what = format!("{} {args:?}: {} bytes", fx.display(), o.stdout.len());
        let sizes: Vec<usize> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains("write(1,"))
            .map(|l| l.rsplit("= ").next().unwrap().trim().parse().unwrap())
            .collect();
        let lines = o.stdout.iter().filter(|b| **b == b'\n').count();
        assert!(lines > 0, "{what}: {lines} lines");
        assert_eq!(sizes.iter().sum::<usize>(), o.stdout.len(), "{what}");
        if o.stdout.len() <= 64 * 1024 {
            assert_eq!(sizes.len(), 1, "{what}: {lines} lines, {sizes:?}");
        }
        // Every write but the last fills most of the buffer: the buffer is flushed when the
        // next piece does not fit, and no piece of a report is 8 KiB long.
        let (last, full) = sizes.split_last().unwrap();
        assert!(*last > 0, "{what}");
        assert!(full.iter().all(|n| *n > 56 * 1024), "{what}: {sizes:?}");
    }
}
