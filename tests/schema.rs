//! The consumer's side of the JSON contract: a script's own mirror of `check --format json`
//! (required fields, no `deny_unknown_fields`, so additions pass and removals or renames fail),
//! parsed from the real binary's output on every fixture; and the published JSON Schema names
//! the same required fields.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // a mirror reads what it needs

use crate::common;
use common::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct CheckV1 {
    schema: String,
    node: String,
    source: String,
    taken_at: String,
    summary: Summary,
    findings: Vec<FindingV1>,
    errors: Vec<ErrorV1>,
}

#[derive(Deserialize)]
struct Summary {
    critical: u64,
    warning: u64,
    info: u64,
}

#[derive(Deserialize)]
struct FindingV1 {
    id: String,
    severity: String,
    title: String,
    subject: SubjectV1,
    evidence: serde_json::Value,
    remedy: String,
    /// Added within nodescope-check/1 (issue 22): rule and cause.
    group: String,
}

#[derive(Deserialize)]
struct SubjectV1 {
    node: Option<String>,
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    pid: Option<u32>,
    path: Option<String>,
    device: Option<String>,
}

#[derive(Deserialize)]
struct ErrorV1 {
    collector: String,
    kind: String,
    path: Option<String>,
    message: String,
}

#[test]
fn every_fixture_parses_through_the_mirror() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if !p.join("nodescope-bundle.json").exists() {
            continue;
        }
        let (_, v) = check_json(&p, &[]);
        let r: CheckV1 = serde_json::from_value(v).unwrap();
        assert_eq!(r.schema, "nodescope-check/1");
        assert_eq!(
            r.summary.critical + r.summary.warning + r.summary.info,
            r.findings.len() as u64
        );
        for f in &r.findings {
            assert!(["info", "warning", "critical"].contains(&f.severity.as_str()));
            assert!(f.id.contains('.') && !f.title.is_empty() && !f.remedy.is_empty());
        }
        n += 1;
    }
    assert!(n >= 4, "{n} fixtures");
}

#[test]
fn the_published_schema_requires_what_the_mirror_requires() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schema/nodescope-check.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in [
        "schema", "node", "source", "taken_at", "summary", "findings", "errors",
    ] {
        assert!(required.contains(&f), "{f} not required in the schema");
    }
    let finding = &schema["$defs"]["Finding"]["required"];
    for f in [
        "id", "severity", "title", "subject", "evidence", "remedy", "group",
    ] {
        assert!(
            finding.as_array().unwrap().iter().any(|v| v == f),
            "Finding.{f}"
        );
    }
}

/// `nodescope disk --format json` on every disk fixture: each top-level key is one the
/// published schema declares, each required one is there, and the images summary has the
/// fields the schema gives it.
#[test]
fn disk_json_matches_its_published_schema() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schema/nodescope-disk.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let declared = keys(&schema["properties"]);
    for name in [
        "disk-bloat-v2-containerd",
        "disk-imagefs-v1-crio",
        "healthy-v2-systemd-containerd",
    ] {
        let o = common::run(&[
            "--bundle",
            common::fixture(name).to_str().unwrap(),
            "disk",
            "--format",
            "json",
        ]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(keys(&r), declared, "{name}");
        for req in schema["required"].as_array().unwrap() {
            assert!(!r[req.as_str().unwrap()].is_null(), "{name}: {req}");
        }
        if r["images"].is_object() {
            assert_eq!(
                keys(&r["images"]),
                keys(&schema["$defs"]["ImagesSummary"]["properties"]),
                "{name}"
            );
        }
    }
}

/// `nodescope gpu --format json` on the GPU fixtures: its top-level keys are exactly those the
/// published schema declares (docs/schema/nodescope-gpu.schema.json), each required one is
/// there, and an allocation row has the schema's fields.
#[test]
fn gpu_json_matches_its_published_schema() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schema/nodescope-gpu.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(schema["properties"]["schema"]["type"], "string");
    for name in [
        "gpu-pending",
        "gpu-mig-mixed",
        "healthy-v2-systemd-containerd",
    ] {
        let o = common::run(&[
            "--bundle",
            common::fixture(name).to_str().unwrap(),
            "gpu",
            "--format",
            "json",
        ]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["schema"], "nodescope-gpu/1", "{name}");
        assert_eq!(keys(&r), keys(&schema["properties"]), "{name}");
        for req in schema["required"].as_array().unwrap() {
            assert!(r.get(req.as_str().unwrap()).is_some(), "{name}: {req}");
        }
        for a in r["allocation"].as_array().unwrap() {
            assert_eq!(
                keys(a),
                keys(&schema["$defs"]["Allocation"]["properties"]),
                "{name}"
            );
        }
    }
}

/// `nodescope dns --format json` on the DNS fixtures: exactly the keys the published schema
/// declares (docs/schema/nodescope-dns.schema.json), and each pod row the `PodRow` fields.
#[test]
fn dns_json_matches_its_published_schema() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schema/nodescope-dns.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for name in ["dns-conntrack-v1-crio", "dns-v2-containerd"] {
        let o = common::run(&[
            "--bundle",
            common::fixture(name).to_str().unwrap(),
            "dns",
            "--format",
            "json",
        ]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["schema"], "nodescope-dns/1", "{name}");
        assert_eq!(keys(&r), keys(&schema["properties"]), "{name}");
        let pods = r["pods"].as_array().unwrap();
        assert!(!pods.is_empty(), "{name}");
        for p in pods {
            assert_eq!(
                keys(p),
                keys(&schema["$defs"]["PodRow"]["properties"]),
                "{name}"
            );
        }
    }
}

/// `nodescope rules -o json`: the keys the published schema declares, every rule of the
/// registry once (the same ids as the table), each entry with exactly the declared fields.
#[test]
fn rules_json_matches_its_published_schema() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schema/nodescope-rules.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let o = common::run(&["rules", "-o", "json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(keys(&r), keys(&schema["properties"]));
    assert_eq!(r["schema"], "nodescope-rules/1");
    let row = keys(&schema["$defs"]["RuleRow"]["properties"]);
    let ids: Vec<&str> = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(keys(e), row, "{e}");
            e["id"].as_str().unwrap()
        })
        .collect();
    let table = String::from_utf8(common::run(&["rules"]).stdout).unwrap();
    let table_ids: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids, table_ids);
    assert!(ids.len() >= 55, "{}", ids.len());
}
