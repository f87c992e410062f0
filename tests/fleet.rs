//! `nodescope fleet` against the stand-in API server (tests/common/fake_apiserver.py) serving a
//! 1,000-node cluster: the nodes and their conditions (`kubectl get nodes -o json` shape), the
//! agent pods of deploy/daemonset.yaml, and each agent's `/findings` through the pod proxy.
//! The findings are the real `check --format json` reports of three fixtures (critical,
//! warning, info), some fresh, some stale, some dated only by Last-Modified; 5 % of agents
//! never answer, 1 % of proxy requests are forbidden, 2 % of nodes have no agent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::cluster::{Api, can_run, certs, kubeconfig};
use crate::common;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// What the stand-in does for node `i`'s agent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Agent {
    None,
    Hang,
    Forbidden,
    /// A report: which fixture's, and how old.
    Report(&'static str, Age),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Age {
    Fresh,
    /// Three hours old: the agent stopped sampling.
    Stale,
    /// No `taken_at` in the body; Last-Modified says when (an older agent's answer).
    LastModified,
}

const CRITICAL: &str = "oom-memcg-v2-systemd";
const WARNING: &str = "dns-v2-containerd";
const INFO: &str = "healthy-v2-systemd-containerd";

fn agent(i: usize) -> Agent {
    if i % 50 == 7 {
        Agent::None
    } else if i % 20 == 3 {
        Agent::Hang
    } else if i % 100 == 11 {
        Agent::Forbidden
    } else {
        match i % 10 {
            1 => Agent::Report(CRITICAL, Age::Fresh),
            2 => Agent::Report(WARNING, Age::Stale),
            4 => Agent::Report(CRITICAL, Age::LastModified),
            0 | 5 => Agent::Report(INFO, Age::Fresh),
            _ => Agent::Report(WARNING, Age::Fresh),
        }
    }
}

fn name(i: usize) -> String {
    format!("node-{i:04}")
}

fn not_ready(i: usize) -> bool {
    i % 97 == 5
}

fn memory_pressure(i: usize) -> bool {
    i % 50 == 9
}

/// A Node as `kubectl get nodes -o json` lists it (the fields the conditions need; k8s.io/api
/// core/v1 NodeCondition: type, status, lastHeartbeatTime, lastTransitionTime, reason, message).
fn node(i: usize) -> Value {
    let cond = |t: &str, on: bool, reason: &str| {
        json!({"type": t, "status": if on { "True" } else { "False" },
               "lastHeartbeatTime": "2026-12-06T09:59:00Z", "lastTransitionTime": "2026-12-01T00:00:00Z",
               "reason": reason, "message": ""})
    };
    let ready = if not_ready(i) {
        json!({"type": "Ready", "status": "Unknown", "lastHeartbeatTime": "2026-12-06T09:40:00Z",
               "lastTransitionTime": "2026-12-06T09:41:00Z", "reason": "NodeStatusUnknown",
               "message": "Kubelet stopped posting node status."})
    } else {
        cond("Ready", true, "KubeletReady")
    };
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name(i), "uid": format!("5f0c-{i}"),
                        "labels": {"kubernetes.io/hostname": name(i), "pool": if i.is_multiple_of(4) { "gpu" } else { "cpu" }}},
           "spec": {},
           "status": {"conditions": [
               cond("MemoryPressure", memory_pressure(i), "KubeletHasSufficientMemory"),
               cond("DiskPressure", false, "KubeletHasNoDiskPressure"),
               cond("PIDPressure", false, "KubeletHasSufficientPID"),
               ready]}})
}

/// The agent pod of deploy/daemonset.yaml on node `i`.
fn pod(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("nodescope-{i:04}x"), "namespace": "nodescope",
                        "labels": {"app.kubernetes.io/name": "nodescope", "controller-revision-hash": "7d9f"}},
           "spec": {"nodeName": name(i), "hostPID": true,
                    "containers": [{"name": "nodescope", "image": "nodescope:0.1.0",
                                    "ports": [{"name": "metrics", "containerPort": 9808, "protocol": "TCP"}]}]},
           "status": {"phase": "Running"}})
}

/// Writes nodes.json, pods.json and proxy.json for `n` nodes.
fn cluster(dir: &Path, n: usize) -> PathBuf {
    let data = dir.join("fleet");
    std::fs::create_dir_all(&data).unwrap();
    let reports: std::collections::HashMap<&str, Value> = [CRITICAL, WARNING, INFO]
        .into_iter()
        .map(|f| (f, check_json(&fixture(f), &["--no-cluster"]).1))
        .collect();
    let now = jiff::Timestamp::now();
    let at = |secs: i64| now - jiff::SignedDuration::from_secs(secs);
    let mut proxy = serde_json::Map::new();
    for i in 0..n {
        let key = format!("nodescope/nodescope-{i:04}x");
        let entry = match agent(i) {
            Agent::None => continue,
            Agent::Hang => json!({"hang": true}),
            Agent::Forbidden => json!({"code": 403}),
            Agent::Report(f, age) => {
                let mut body = reports[f].clone();
                body["node"] = json!(name(i));
                let mut e = json!({"code": 200});
                match age {
                    Age::Fresh => body["taken_at"] = json!(at(10).to_string()),
                    Age::Stale => body["taken_at"] = json!(at(3 * 3600).to_string()),
                    Age::LastModified => {
                        body.as_object_mut().unwrap().remove("taken_at");
                        // An HTTP-date (RFC 9110 section 5.6.7), as the agent writes it.
                        e["last_modified"] = json!(
                            jiff::fmt::rfc2822::DateTimePrinter::new()
                                .timestamp_to_rfc9110_string(&at(2 * 86_400))
                                .unwrap()
                        );
                    }
                }
                e["body"] = body;
                e
            }
        };
        proxy.insert(key, entry);
    }
    let list = |kind: &str, items: Vec<Value>| json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items});
    std::fs::write(
        data.join("nodes.json"),
        list("NodeList", (0..n).map(node).collect()).to_string(),
    )
    .unwrap();
    let pods = (0..n)
        .filter(|&i| agent(i) != Agent::None)
        .map(pod)
        .collect();
    std::fs::write(data.join("pods.json"), list("PodList", pods).to_string()).unwrap();
    std::fs::write(data.join("proxy.json"), Value::Object(proxy).to_string()).unwrap();
    data
}

/// The stand-in over TLS with a bearer token, and a kubeconfig for it.
fn serve(dir: &Path, data: &Path) -> (Api, PathBuf) {
    certs(dir);
    let api = Api::serving(
        data,
        dir,
        "ok",
        &["--tls", "server.crt", "server.key", "--token", "tok-fleet"],
    );
    let kc = dir.join("fleet.kubeconfig");
    std::fs::write(
        &kc,
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            dir.join("ca.crt").to_str().unwrap(),
            "    token: tok-fleet\n",
        ),
    )
    .unwrap();
    (api, kc)
}

fn fleet(bin: &Path, kc: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let o = Command::new(bin)
        .arg("--kubeconfig")
        .arg(kc)
        .arg("fleet")
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output_within(Duration::from_secs(120))
        .unwrap();
    (o, started.elapsed())
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nodescope"))
}

#[test]
fn a_thousand_nodes_within_the_deadline_each_with_its_worst_and_the_silent_ones_named() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = cluster(d.path(), 1000);
    let (api, kc) = serve(d.path(), &data);

    let (o, took) = fleet(&bin(), &kc, &["-o", "json"]);
    eprintln!("fleet over 1,000 nodes: {took:?}");
    assert!(
        took < Duration::from_secs(60),
        "{took:?}: past the 60 s deadline"
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["schema"], "nodescope-fleet/1");
    let rows = r["nodes"].as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["node"], name(i));
        let (status, worst) = match agent(i) {
            Agent::None => ("no agent", Value::Null),
            Agent::Hang => ("timeout", Value::Null),
            Agent::Forbidden => ("forbidden", Value::Null),
            Agent::Report(CRITICAL, _) => ("ok", json!("critical")),
            Agent::Report(WARNING, _) => ("ok", json!("warning")),
            Agent::Report(_, _) => ("ok", json!("info")),
        };
        assert_eq!(
            (row["agent"].as_str().unwrap(), &row["worst"]),
            (status, &worst),
            "{row}"
        );
        assert_eq!(row["ready"], if not_ready(i) { "Unknown" } else { "True" });
        let stale = matches!(agent(i), Agent::Report(_, Age::Stale | Age::LastModified));
        assert_eq!(row["stale"], stale, "{row}");
    }
    // 2 % no agent, 5 % hanging (less those without one), 1 % forbidden: by construction.
    let count = |f: &dyn Fn(Agent) -> bool| (0..1000).filter(|&i| f(agent(i))).count();
    let s = &r["summary"];
    assert_eq!(s["no_agent"], 20);
    assert_eq!(s["timeout"], count(&|a| a == Agent::Hang));
    assert_eq!(s["timeout"], 50);
    assert_eq!(s["forbidden"], 10);
    assert_eq!(
        s["critical"],
        count(&|a| matches!(a, Agent::Report(CRITICAL, _)))
    );
    assert_eq!(
        s["warning"],
        count(&|a| matches!(a, Agent::Report(WARNING, _)))
    );
    assert_eq!(s["info"], count(&|a| matches!(a, Agent::Report(INFO, _))));
    // The Last-Modified date stands in for a missing taken_at: two days.
    let lm = &rows[4]["age_seconds"];
    assert!((172_800..172_900).contains(&lm.as_i64().unwrap()), "{lm}");
    // Every request carried the user's token; agents were asked through the pod proxy, on the
    // port the pod names `metrics`.
    let reqs = api.requests();
    assert!(reqs.iter().all(|l| l.ends_with("auth=tok-fleet")));
    let want =
        "GET /api/v1/namespaces/nodescope/pods/nodescope-0001x:9808/proxy/findings auth=tok-fleet";
    assert!(
        reqs.iter().any(|l| l == want),
        "{want} not among the requests"
    );
    assert_eq!(
        reqs.iter()
            .filter(|l| l.contains("/proxy/findings"))
            .count(),
        980
    );
    assert!(
        reqs.iter().any(|l| l
            .starts_with("GET /api/v1/pods?&labelSelector=app.kubernetes.io%2Fname%3Dnodescope")
            || l.starts_with(
                "GET /api/v1/pods?labelSelector=app.kubernetes.io%2Fname%3Dnodescope"
            )),
        "{:?}",
        &reqs[..2]
    );

    // The table: exact rows for the nodes whose AGE cannot move during the run.
    let (o, took) = fleet(&bin(), &kc, &[]);
    eprintln!("fleet text over 1,000 nodes: {took:?}");
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let row = |n: &str| -> String {
        let l = lines
            .iter()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap();
        l.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NODE", "STATUS", "WORST", "AGE", "FINDINGS"]
    );
    assert_eq!(row("node-0007"), "node-0007 Ready no agent -");
    assert_eq!(row("node-0003"), "node-0003 Ready timeout -");
    assert_eq!(row("node-0011"), "node-0011 Ready forbidden -");
    assert_eq!(
        row("node-0005"),
        "node-0005 Unknown info 10s memory.eviction-order x1"
            .replace("10s", row("node-0005").split(' ').nth(3).unwrap())
    );
    assert_eq!(row("node-0009"), "node-0009 Ready,MemoryPressure warning 10s dns.nameserver-limit x1, dns.ndots-amplification x1, dns.policy-default x1 (+1 more)".replace("10s", row("node-0009").split(' ').nth(3).unwrap()));
    assert_eq!(
        row("node-0002"),
        "node-0002 Ready warning 3h stale dns.nameserver-limit x1, dns.ndots-amplification x1, dns.policy-default x1 (+1 more)"
    );
    assert_eq!(
        row("node-0004"),
        "node-0004 Ready critical 2d stale memory.kernel-oom-kill x1, memory.limit-near-peak x1, memory.eviction-order x1"
    );
    let fresh = row("node-0001");
    let age = fresh.split(' ').nth(3).unwrap();
    assert!(
        age.ends_with('s') && age[..age.len() - 1].parse::<u32>().unwrap() < 120,
        "{fresh}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &format!(
            "1000 nodes, {} critical, {} warning, {} info, 20 no agent, 50 timeout, 10 forbidden",
            s["critical"], s["warning"], s["info"]
        )
    );
}

/// The report's keys, a row's and a finding group's are those docs/schema/nodescope-fleet.schema.json
/// declares, and every required one is there.
fn matches_published_schema(r: &Value) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/nodescope-fleet.schema.json"),
    )
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(r), keys(&schema["properties"]));
    assert_eq!(
        keys(&r["summary"]),
        keys(&schema["$defs"]["FleetSummary"]["properties"])
    );
    let row = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["agent"] == "ok" && n["worst"] == "critical")
        .unwrap();
    assert_eq!(keys(row), keys(&schema["$defs"]["NodeRow"]["properties"]));
    assert_eq!(
        keys(&row["findings"][0]),
        keys(&schema["$defs"]["RuleCount"]["properties"])
    );
    for req in schema["required"].as_array().unwrap() {
        assert!(!r[req.as_str().unwrap()].is_null(), "{req}");
    }
}

/// A small fleet for the options: `n` nodes, the same mix.
fn small(n: usize) -> (tempfile::TempDir, Api, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let data = cluster(d.path(), n);
    let (api, kc) = serve(d.path(), &data);
    (d, api, kc)
}

#[test]
fn selector_namespace_and_fail_on_narrow_the_run() {
    if !can_run() {
        return;
    }
    let (_d, api, kc) = small(24);
    // pool=gpu: nodes 0, 4, 8, ... 20; node 4 (critical, dated by Last-Modified) is the worst.
    let (o, _) = fleet(
        &bin(),
        &kc,
        &[
            "-l",
            "pool=gpu",
            "-n",
            "nodescope",
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "node-0000",
            "node-0004",
            "node-0008",
            "node-0012",
            "node-0016",
            "node-0020"
        ]
    );
    assert_eq!(o.status.code(), Some(2));
    matches_published_schema(&r);
    let reqs = api.requests();
    assert!(
        reqs.iter()
            .any(|l| l.starts_with("GET /api/v1/nodes?") && l.contains("labelSelector=pool%3Dgpu")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|l| l.starts_with("GET /api/v1/namespaces/nodescope/pods?")),
        "{reqs:?}"
    );
    // Only warnings on the cpu nodes 1..3 but node-0001 is critical; without node-0001: warning.
    let (o, _) = fleet(
        &bin(),
        &kc,
        &[
            "-l",
            "pool=cpu,kubernetes.io/hostname!=node-0001,kubernetes.io/hostname!=node-0021,kubernetes.io/hostname!=node-0014,kubernetes.io/hostname!=node-0011",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let (o, _) = fleet(
        &bin(),
        &kc,
        &[
            "-l",
            "pool=cpu,kubernetes.io/hostname!=node-0001,kubernetes.io/hostname!=node-0021,kubernetes.io/hostname!=node-0014,kubernetes.io/hostname!=node-0011",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn the_whole_run_deadline_cuts_hanging_agents_short() {
    if !can_run() {
        return;
    }
    let (_d, _api, kc) = small(24);
    // Nodes 3 and 23 hang; with a 2 s budget (under the 5 s per-request deadline) they time
    // out at 2 s, and the run ends then.
    let (o, took) = fleet(&bin(), &kc, &["--timeout", "2", "-o", "json"]);
    assert!(took < Duration::from_secs(4), "{took:?}");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let timed_out: Vec<&str> = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["agent"] == "timeout")
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(timed_out, ["node-0003", "node-0023"]);
    // 1 and 21 (fresh), 4 and 14 (dated by Last-Modified).
    assert_eq!(r["summary"]["critical"], 4);
}

#[test]
fn as_a_kubectl_plugin() {
    if !can_run() {
        return;
    }
    let (d, _api, kc) = small(3);
    let plugin = d.path().join("kubectl-nodescope");
    std::os::unix::fs::symlink(bin(), &plugin).unwrap();
    let (o, _) = fleet(&plugin, &kc, &["-o", "json"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["nodes"], 3);
    let help = Command::new(&plugin)
        .args(["fleet", "--help"])
        .watched_output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("Usage: kubectl nodescope fleet [OPTIONS]"),
        "{help}"
    );
}

#[test]
fn without_any_kubeconfig_fleet_says_what_it_needs() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .arg("fleet")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", d.path())
        .watched_output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "nodescope: fleet needs the API server: no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config"
    );
}
