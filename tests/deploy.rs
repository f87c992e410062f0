//! The deployment files parse and say what they claim: the DaemonSet (structure, least
//! privilege, read-only host mount, the serve command line the binary accepts), the
//! node-problem-detector config (every rule names a real nodescope rule and a listed
//! condition) and the krew manifest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn rule_ids() -> Vec<String> {
    String::from_utf8(run(&["rules"]).stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn daemonset_is_least_privilege_and_runs_serve() {
    let ds = yaml("deploy/daemonset.yaml");
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(spec["hostPID"], true);
    assert!(spec["hostNetwork"].is_null(), "no host network");
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert!(sc["privileged"].is_null() || sc["privileged"] == false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(c["resources"]["limits"]["memory"].is_string());
    let host = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/host")
        .unwrap();
    assert_eq!(host["readOnly"], true);
    // The args are a command line this binary accepts.
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[0], "serve");
    let mut help = vec!["serve".to_string(), "--help".to_string()];
    help.splice(0..1, args.iter().cloned());
    let help: Vec<&str> = help.iter().map(String::as_str).collect();
    assert!(run(&help).status.success(), "{args:?} parses");
    // Readiness is serve's /healthz on the port named `metrics`, the port serve listens on.
    let probe = &c["readinessProbe"]["httpGet"];
    assert_eq!(probe["path"], "/healthz");
    assert_eq!(probe["port"], "metrics");
    let port = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .unwrap()["containerPort"]
        .as_u64()
        .unwrap();
    let listen = args.iter().position(|a| a == "--listen").unwrap() + 1;
    assert!(args[listen].ends_with(&format!(":{port}")), "{args:?}");
}

#[test]
fn npd_config_maps_real_rules_to_listed_conditions() {
    let cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy/npd/nodescope-monitor.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cfg["plugin"], "custom");
    assert_eq!(cfg["pluginConfig"]["max_output_length"], 80);
    let conditions: Vec<&str> = cfg["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    let known = rule_ids();
    for r in cfg["rules"].as_array().unwrap() {
        if r["type"] == "permanent" {
            assert!(
                conditions.contains(&r["condition"].as_str().unwrap()),
                "{r}"
            );
        }
        let args: Vec<&str> = r["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(args.windows(2).any(|w| w == ["--format", "npd"]));
        for w in args.windows(2).filter(|w| w[0] == "--rule") {
            assert!(known.iter().any(|k| k == w[1]), "unknown rule {}", w[1]);
        }
        // Each invocation works on a fixture and follows the protocol.
        let mut a = vec!["--bundle", "fixtures/oom-memcg-v2-systemd"];
        a.extend_from_slice(&args);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&a)
            .watched_output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{a:?}: {:?}",
            o.status
        );
        assert!(o.stdout.len() <= 81);
    }
}

#[test]
fn krew_manifest_names_the_plugin_binary() {
    let k = yaml("deploy/krew/nodescope.yaml");
    assert_eq!(k["kind"], "Plugin");
    assert_eq!(k["metadata"]["name"], "nodescope");
    assert!(k["spec"]["version"].as_str().unwrap().starts_with('v'));
    assert_eq!(k["spec"]["platforms"][0]["bin"], "kubectl-nodescope");
}
