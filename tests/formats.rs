//! The machine formats of `check` on fixtures, each read back by a consumer of the format:
//! Prometheus exposition (a parser crate), node-problem-detector's plugin protocol, JUnit XML.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;

fn out(bundle: &str, args: &[&str]) -> (Option<i32>, String) {
    let b = fixture(bundle);
    let mut a = vec!["--bundle", b.to_str().unwrap(), "check"];
    a.extend_from_slice(args);
    let o = run(&a);
    (o.status.code(), String::from_utf8(o.stdout).unwrap())
}

#[test]
fn prometheus_textfile_parses_and_carries_findings_and_signals() {
    let (code, text) = out("oom-memcg-v2-systemd", &["--format", "prometheus"]);
    assert_eq!(
        code,
        Some(2),
        "exit codes follow the findings as for text and json"
    );
    assert!(text.ends_with('\n'));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let find = |name: &'static str| scrape.samples.iter().filter(move |s| s.metric == name);
    let kill = find("nodescope_finding")
        .find(|s| s.labels.get("id") == Some("memory.kernel-oom-kill"))
        .unwrap();
    assert_eq!(kill.labels.get("severity"), Some("critical"));
    assert_eq!(kill.labels.get("pod"), Some("web-6d9f8c7b5-h2j4k"));
    assert_eq!(kill.labels.get("container"), Some("nginx"));
    assert!(
        scrape
            .samples
            .iter()
            .all(|s| s.timestamp.timestamp() == scrape.samples[0].timestamp.timestamp()),
        "no client-side timestamps"
    );
    let value = |name: &'static str| match find(name).next().unwrap().value {
        prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        value("nodescope_memory_capacity_bytes"),
        16_393_256.0 * 1024.0
    );
    assert!(value("nodescope_memory_available_bytes") > 11e9);
    assert_eq!(value("nodescope_kernel_oom_kills"), 1.0);
    assert!(
        !text.contains(" # ")
            && !text
                .lines()
                .any(|l| !l.starts_with('#') && l.split_whitespace().count() > 2),
        "no timestamps:\n{text}"
    );
    let ratio = find("nodescope_filesystem_inodes_free_ratio")
        .find(|s| s.labels.get("mountpoint") == Some("/"))
        .unwrap();
    assert!(matches!(ratio.value, prometheus_parse::Value::Gauge(v) if v > 0.8 && v <= 1.0));
}

/// What could not be collected reaches a scrape: one series per error, labelled by collector,
/// kind and path, after a comment that says why (a stuck mount's "stuck since ..., N samples").
#[test]
fn prometheus_names_each_collection_error_and_says_why() {
    let c = Copy::of(V2);
    let meta_path = c.path("nodescope-bundle.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let why = "stuck since 02:58:13 UTC, 41 samples: statvfs on /boot did not return within \
               1500 ms and has not returned since; not asked again until it does";
    // The key as a capture records it (source/record.rs: normalize("statvfs:<path>")).
    meta["errors"]["/statvfs:/boot"] = serde_json::json!({"kind": "timeout", "detail": why});
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let o = run(&[
        "--bundle",
        c.root.to_str().unwrap(),
        "check",
        "--format",
        "prometheus",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let errors: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "nodescope_collection_error")
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(errors[0].labels.get("collector"), Some("mounts"));
    assert_eq!(errors[0].labels.get("kind"), Some("timeout"));
    assert_eq!(errors[0].labels.get("path"), Some("/boot"));
    assert!(
        text.contains(&format!(
            "\n# mounts timed out /boot: {why}\nnodescope_collection_error{{"
        )),
        "{text}"
    );
}

#[test]
fn npd_plugin_protocol() {
    let (code, line) = out("healthy-v2-systemd-containerd", &["--format", "npd"]);
    assert_eq!((code, line.as_str()), (Some(0), "OK: no finding\n"));
    let (code, line) = out("oom-memcg-v2-systemd", &["--format", "npd"]);
    assert_eq!(code, Some(1), "a problem is exit 1, whatever its severity");
    assert_eq!(line.lines().count(), 1);
    let l = line.trim_end();
    assert!(l.len() <= 80 && l.is_ascii(), "{l:?}");
    assert!(
        l.starts_with("memory.kernel-oom-kill: nginx (pid 48213)"),
        "{l}"
    );
    // One NPD condition per rule.
    let (code, line) = out(
        "oom-memcg-v2-systemd",
        &["--format", "npd", "--rule", "memory.global-oom"],
    );
    assert_eq!((code, line.as_str()), (Some(0), "OK: no finding\n"));
    let (code, _) = out(
        "oom-memcg-v2-systemd",
        &["--format", "npd", "--rule", "memory.limit-near-peak"],
    );
    assert_eq!(code, Some(1));
    let (code, _) = out(
        "oom-memcg-v2-systemd",
        &["--format", "npd", "--rule", "memory.nope"],
    );
    assert_eq!(code, Some(3), "a bad argument is 'unknown' to NPD");
}

#[test]
fn junit_has_one_case_per_rule_and_fails_by_fail_on() {
    let (code, xml) = out("oom-memcg-v2-systemd", &["--format", "junit"]);
    assert_eq!(code, Some(2));
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &report.test_suites[0];
    let rules = run(&["rules"])
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
        - 1; // the header row
    assert_eq!(suite.test_cases.len(), rules);
    let failed: Vec<&str> = suite
        .test_cases
        .iter()
        .filter(|c| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["memory.kernel-oom-kill", "memory.limit-near-peak"]);
    let (_, xml) = out(
        "oom-memcg-v2-systemd",
        &["--format", "junit", "--fail-on", "critical"],
    );
    assert_eq!(
        quick_junit::Report::deserialize_from_str(&xml)
            .unwrap()
            .failures,
        1
    );
}
