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
        .skip(1) // the header row
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

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `promtool`, from Debian's prometheus package (.ci/run installs it); `None` after saying why
/// (or failing, under NODESCOPE_LIVE=required).
fn promtool() -> Option<&'static str> {
    let here = std::process::Command::new("promtool")
        .arg("--version")
        .watched_output()
        .is_ok_and(|o| o.status.success());
    if !here {
        common::live::skip_or_fail(
            "needs promtool (Debian's prometheus package; .ci/run installs it)",
        );
        return None;
    }
    Some("promtool")
}

fn promtool_run(args: &[&str]) -> (bool, String) {
    let o = std::process::Command::new("promtool")
        .args(args)
        .current_dir(repo("deploy/prometheus"))
        .watched_output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// The alerting rules as Prometheus' own checker and unit-test runner see them.
#[test]
fn prometheus_rules_pass_promtool_check_and_their_unit_tests() {
    if promtool().is_none() {
        return;
    }
    let (ok, out) = promtool_run(&["check", "rules", "nodescope.rules.yml"]);
    assert!(ok, "{out}");
    assert!(out.contains("SUCCESS: 5 rules found"), "{out}");
    let (ok, out) = promtool_run(&["test", "rules", "nodescope.rules.test.yml"]);
    assert!(ok, "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

/// The unit tests can fail: with the critical alert's hold cut from 5 m to 1 m, the test that
/// expects silence at 4 m fails.
#[test]
fn the_promtool_unit_tests_catch_a_changed_hold() {
    if promtool().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let rules = std::fs::read_to_string(repo("deploy/prometheus/nodescope.rules.yml")).unwrap();
    let broken = rules.replacen("for: 5m", "for: 1m", 1);
    assert_ne!(rules, broken);
    std::fs::write(d.path().join("nodescope.rules.yml"), broken).unwrap();
    std::fs::copy(
        repo("deploy/prometheus/nodescope.rules.test.yml"),
        d.path().join("nodescope.rules.test.yml"),
    )
    .unwrap();
    let o = std::process::Command::new("promtool")
        .args(["test", "rules", "nodescope.rules.test.yml"])
        .current_dir(d.path())
        .watched_output()
        .unwrap();
    assert!(!o.status.success());
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("alertname: NodescopeCriticalFinding, time: 4m"),
        "{out}"
    );
}

#[test]
fn the_prometheusrule_holds_the_rules_file_groups() {
    let plain = yaml("deploy/prometheus/nodescope.rules.yml");
    let crd = yaml("deploy/prometheus/prometheusrule.yaml");
    assert_eq!(crd["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(crd["kind"], "PrometheusRule");
    assert_eq!(crd["spec"]["groups"], plain["groups"]);
}

fn alerts() -> Vec<Value> {
    yaml("deploy/prometheus/nodescope.rules.yml")["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

/// The `## heading` anchors of a markdown file as GitHub makes them (lower case, punctuation
/// other than `-` dropped, spaces to `-`).
fn anchors(path: &str) -> Vec<String> {
    std::fs::read_to_string(repo(path))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// Every alert's runbook is a section that exists in the repository; the finding alert's
/// anchor, made from the rule id by its template, exists for every rule.
#[test]
fn every_alert_runbook_is_a_section_of_the_repository() {
    const BASE: &str = "https://example.invalid/nodescope/blob/main/";
    let rules_md = anchors("docs/rules.md");
    for a in alerts() {
        let url = a["annotations"]["runbook_url"].as_str().unwrap();
        let (file, anchor) = url
            .strip_prefix(BASE)
            .and_then(|r| r.split_once('#'))
            .unwrap_or_else(|| panic!("{url}"));
        assert!(repo(file).is_file(), "{url}");
        if anchor.contains("{{") {
            // `{{ $labels.id | reReplaceAll "\\." "" }}`: the id without its dots.
            assert_eq!(anchor, r#"{{ $labels.id | reReplaceAll "\\." "" }}"#);
            for id in rule_ids() {
                assert!(rules_md.contains(&id.replace('.', "")), "{id}");
            }
        } else {
            assert!(anchors(file).iter().any(|h| h == anchor), "{url}");
        }
    }
}

/// The metric names a PromQL expression reads (`nodescope_...`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("nodescope_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The dashboard's queries, with its `$instance` variable expanded to match every node.
fn dashboard_exprs() -> Vec<String> {
    let d: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/grafana/nodescope.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(d["uid"], "nodescope");
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().unwrap().replace("$instance", ".*"));
        }
    }
    assert!(out.len() >= 15, "{out:?}");
    out
}

/// Every series the alerts and the dashboard query is one nodescope exports: the `# TYPE` names
/// of `check --format prometheus` on every fixture, and the agent's sample time
/// (tests/serve.rs checks `serve` prints it).
#[test]
fn alerts_and_dashboard_query_only_series_nodescope_exports() {
    let mut exported = vec!["nodescope_last_sample_timestamp_seconds".to_string()];
    for e in std::fs::read_dir(repo("fixtures")).unwrap().flatten() {
        if !e.path().join("nodescope-bundle.json").is_file() {
            continue;
        }
        let o = run(&[
            "--bundle",
            e.path().to_str().unwrap(),
            "check",
            "--format",
            "prometheus",
        ]);
        for l in String::from_utf8(o.stdout).unwrap().lines() {
            if let Some(name) = l.strip_prefix("# TYPE ").and_then(|t| t.split(' ').next()) {
                exported.push(name.to_string());
            }
        }
    }
    let mut queried: Vec<String> = dashboard_exprs();
    queried.extend(
        alerts()
            .iter()
            .map(|a| a["expr"].as_str().unwrap().to_string()),
    );
    let mut seen = 0;
    for q in &queried {
        for name in metric_names(q) {
            assert!(exported.contains(&name), "{name} (in {q}) is not exported");
            seen += 1;
        }
    }
    assert!(seen >= 25, "{seen}");
    // One of each kind the dashboard needs exists somewhere in the fixtures.
    for need in [
        "nodescope_oom_kills_total",
        "nodescope_conntrack_entries",
        "nodescope_conntrack_max_entries",
        "nodescope_memory_eviction_threshold_bytes",
    ] {
        assert!(exported.iter().any(|e| e == need), "{need}");
    }
}

/// The dashboard's queries are valid PromQL: promtool checks them as recording rules.
#[test]
fn dashboard_queries_parse_as_promql() {
    if promtool().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in dashboard_exprs().iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        ));
    }
    std::fs::write(d.path().join("d.yml"), &rules).unwrap();
    let o = std::process::Command::new("promtool")
        .args(["check", "rules", "d.yml"])
        .current_dir(d.path())
        .watched_output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The manifests are what the Kubernetes types say they are: each parses into its k8s-openapi
/// type and serializes back to the same document (a misspelt field would be dropped), and the
/// DaemonSet runs as the ServiceAccount the binding grants.
#[test]
fn daemonset_and_rbac_parse_as_kubernetes_types() {
    use k8s_openapi::api::apps::v1::DaemonSet;
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let raw = yaml("deploy/daemonset.yaml");
    let ds: DaemonSet = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&ds).unwrap(), raw);
    let list = yaml("deploy/rbac.yaml");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let sa: ServiceAccount = serde_json::from_value(items[0].clone()).unwrap();
    let role: ClusterRole = serde_json::from_value(items[1].clone()).unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(items[2].clone()).unwrap();
    for (typed, raw) in [
        (serde_json::to_value(&sa).unwrap(), &items[0]),
        (serde_json::to_value(&role).unwrap(), &items[1]),
        (serde_json::to_value(&binding).unwrap(), &items[2]),
    ] {
        assert_eq!(&typed, raw);
    }
    let pod = ds.spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name, sa.metadata.name);
    assert_eq!(ds.metadata.namespace, sa.metadata.namespace);
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (Some(subject.name.clone()), subject.namespace.clone()),
        (sa.metadata.name, sa.metadata.namespace)
    );
}
