//! `nodescope debug NODE` against the stand-in API server (tests/common/fake_apiserver.py):
//! the pod it creates (its spec as the server received it), the log relayed byte for byte (a
//! real `check` report of a fixture), the exit status passed on, and the pod deleted after a
//! clean report, after a failing one, and on SIGINT while the log is still streaming.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::cluster::{Api, can_run, certs, kubeconfig};
use crate::common;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The stand-in with a nodescope DaemonSet (deploy/daemonset.yaml's image) and a debug pod
/// whose log is `log` and whose container exits with `code`.
fn serve(dir: &Path, log: &str, code: i32, hold: bool) -> (Api, PathBuf) {
    serve_script(dir, json!({"log": log, "exit_code": code, "hold": hold}))
}

fn serve_script(dir: &Path, script: Value) -> (Api, PathBuf) {
    let data = dir.join("api");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("debug.json"), script.to_string()).unwrap();
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSetList", "items": [{
        "metadata": {"name": "nodescope", "namespace": "nodescope",
                     "labels": {"app.kubernetes.io/name": "nodescope"}},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nodescope"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "nodescope"}},
                              "spec": {"containers": [{"name": "nodescope", "image": "nodescope:0.1.0"}]}}}}]});
    std::fs::write(data.join("daemonsets.json"), ds.to_string()).unwrap();
    certs(dir);
    let api = Api::serving(
        &data,
        dir,
        "ok",
        &["--tls", "server.crt", "server.key", "--token", "tok-debug"],
    );
    let kc = dir.join("debug.kubeconfig");
    std::fs::write(
        &kc,
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            dir.join("ca.crt").to_str().unwrap(),
            "    token: tok-debug\n",
        ),
    )
    .unwrap();
    (api, kc)
}

fn debug(kc: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nodescope"));
    c.arg("--kubeconfig")
        .arg(kc)
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST");
    c
}

/// The pods the server was asked to create.
fn created(api: &Api) -> Vec<Value> {
    std::fs::read_to_string(format!("{}.created", api.log.display()))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Method and path of every request but the polls of the pod's status.
fn calls(api: &Api) -> Vec<String> {
    api.requests()
        .iter()
        .map(|l| {
            let call = l.rsplit_once(" auth=").unwrap().0;
            call.replace("?&", "?").trim_end_matches('?').to_string()
        })
        .collect()
}

#[test]
fn the_report_is_relayed_with_its_status_and_the_pod_is_deleted() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let report = run(&[
        "--bundle",
        fixture("oom-memcg-v2-systemd").to_str().unwrap(),
        "--no-cluster",
        "check",
        "--color",
        "never",
    ]);
    assert_eq!(report.status.code(), Some(2));
    let log = String::from_utf8(report.stdout).unwrap();
    let (api, kc) = serve(d.path(), &log, 2, false);
    let o = debug(&kc, &["debug", "node-a", "--", "--color", "never"])
        .watched_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), log);

    let pods = created(&api);
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    let name = p["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("nodescope-debug-node-a-") && name.len() == 28,
        "{name}"
    );
    let s = &p["spec"];
    assert_eq!(s["nodeName"], "node-a");
    assert_eq!(s["hostPID"], true);
    assert_eq!(s["hostNetwork"], true);
    assert_eq!(s["restartPolicy"], "Never");
    assert_eq!(s["tolerations"], json!([{"operator": "Exists"}]));
    let c = &s["containers"][0];
    assert_eq!(c["image"], "nodescope:0.1.0", "the DaemonSet's image");
    assert_eq!(
        c["args"],
        json!(["--root", "/host", "check", "--color", "never"])
    );
    assert_eq!(
        c["volumeMounts"][0],
        json!({"name": "host", "mountPath": "/host", "readOnly": true})
    );
    assert_eq!(s["volumes"][0]["hostPath"]["path"], "/");
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));

    let calls = calls(&api);
    let pod = format!("/api/v1/namespaces/default/pods/{name}");
    assert_eq!(
        calls[0],
        "GET /apis/apps/v1/daemonsets?labelSelector=app.kubernetes.io%2Fname%3Dnodescope"
    );
    assert_eq!(calls[1], "POST /api/v1/namespaces/default/pods");
    assert!(
        calls.contains(&format!("GET {pod}/log?container=nodescope&follow=true")),
        "{calls:#?}"
    );
    assert_eq!(calls.last().unwrap(), &format!("DELETE {pod}"));
    assert!(
        stderr.contains(&format!("pod default/{name} deleted")),
        "{stderr}"
    );
    // Nothing else was created or changed.
    assert_eq!(
        calls.iter().filter(|c| !c.starts_with("GET ")).count(),
        2,
        "{calls:#?}"
    );
}

#[test]
fn a_failing_report_keeps_its_status_and_the_image_and_namespace_given() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (api, kc) = serve(d.path(), "nodescope: --root /host: not a host\n", 3, false);
    let o = debug(
        &kc,
        &[
            "node/node-b",
            "--image",
            "registry.example/nodescope:9",
            "-n",
            "ops",
        ],
    )
    .watched_output()
    .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "nodescope: --root /host: not a host\n"
    );
    let p = &created(&api)[0];
    assert_eq!(p["spec"]["nodeName"], "node-b");
    assert_eq!(
        p["spec"]["containers"][0]["image"],
        "registry.example/nodescope:9"
    );
    let calls = calls(&api);
    assert!(
        !calls.iter().any(|c| c.contains("daemonsets")),
        "--image: no DaemonSet lookup"
    );
    let name = p["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        calls.last().unwrap(),
        &format!("DELETE /api/v1/namespaces/ops/pods/{name}")
    );
}

#[test]
fn a_pod_that_cannot_start_is_reported_and_deleted() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // The kubelet's waiting state for an image it cannot pull (k8s.io/kubernetes
    // pkg/kubelet/images: ErrImagePull, then ImagePullBackOff).
    let (api, kc) = serve_script(
        d.path(),
        json!({"waiting": {"reason": "ImagePullBackOff",
                           "message": "Back-off pulling image \"nodescope:0.1.0\""}}),
    );
    let o = debug(&kc, &["debug", "node-d"]).watched_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let name = created(&api)[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stderr.ends_with(
            "nodescope: the pod cannot start: ImagePullBackOff Back-off pulling image \"nodescope:0.1.0\"\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pod default/{name} deleted")),
        "{stderr}"
    );
    assert_eq!(
        calls(&api).last().unwrap(),
        &format!("DELETE /api/v1/namespaces/default/pods/{name}")
    );
}

#[test]
fn sigint_while_the_log_streams_deletes_the_pod() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (api, kc) = serve(d.path(), "first line\nsecond line\n", 0, true);
    let (child, _dog) = debug(&kc, &["debug", "node-c"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .watched_spawn(Duration::from_secs(60))
        .unwrap();
    let started = Instant::now();
    while !api.requests().iter().any(|l| l.contains("/log?")) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no log request"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both lines are sent 50 ms apart; then the stream stays open.
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "first line\nsecond line\n"
    );
    let name = created(&api)[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        calls(&api).last().unwrap(),
        &format!("DELETE /api/v1/namespaces/default/pods/{name}")
    );
}

/// The (group, resource, verb) a request needs (Kubernetes' request attributes:
/// k8s.io/apiserver pkg/endpoints/request/requestinfo.go).
fn need(line: &str) -> (String, String, String) {
    let (method, rest) = line.split_once(' ').unwrap();
    let target = rest.split(' ').next().unwrap();
    let path = target.split('?').next().unwrap();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, mut rest): (&str, &[&str]) = match segs.as_slice() {
        ["api", _v, rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (g, rest),
        _ => panic!("not a resource path: {line}"),
    };
    if rest.len() >= 3 && rest[0] == "namespaces" {
        rest = &rest[2..];
    }
    let resource = match rest {
        [r] | [r, _] => r.to_string(),
        [r, _, sub, ..] => format!("{r}/{sub}"),
        _ => panic!("{line}"),
    };
    let verb = match (method, rest.len()) {
        ("GET", 1) => "list",
        ("GET", _) => "get",
        ("POST", 1) => "create",
        ("DELETE", 2) => "delete",
        _ => panic!("{line}"),
    };
    (group.to_string(), resource, verb.to_string())
}

/// The (group, resource, verb) triples ClusterRole `name` of deploy/rbac-debug.yaml grants.
fn granted(name: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac-debug.yaml"),
    )
    .unwrap();
    let list: Value = serde_saphyr::from_str(&text).unwrap();
    let role = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "ClusterRole" && i["metadata"]["name"] == name)
        .unwrap();
    let mut out = Vec::new();
    for r in role["rules"].as_array().unwrap() {
        for g in r["apiGroups"].as_array().unwrap() {
            for res in r["resources"].as_array().unwrap() {
                for v in r["verbs"].as_array().unwrap() {
                    out.push((
                        g.as_str().unwrap().into(),
                        res.as_str().unwrap().into(),
                        v.as_str().unwrap().into(),
                    ));
                }
            }
        }
    }
    out
}

fn both_ways(role: &str, asked: &[String]) {
    let granted = granted(role);
    let needed: Vec<_> = asked.iter().map(|l| need(l)).collect();
    for n in &needed {
        assert!(granted.contains(n), "{role}: asks {n:?}, not granted");
    }
    for g in &granted {
        assert!(needed.contains(g), "{role}: grants {g:?}, never asked");
    }
}

#[test]
fn the_debug_and_fleet_roles_allow_every_request_and_no_more() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (api, kc) = serve(d.path(), "ok\n", 0, false);
    let o = debug(&kc, &["debug", "node-a"]).watched_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    both_ways("nodescope-debug", &api.requests());

    // fleet: one node with an agent answering, the proxy included.
    let data = d.path().join("api");
    let node = json!({"metadata": {"name": "node-a"}, "status": {"conditions": []}});
    let pod = json!({"metadata": {"name": "ns-1", "namespace": "nodescope",
                                  "labels": {"app.kubernetes.io/name": "nodescope"}},
                     "spec": {"nodeName": "node-a", "containers": [{"name": "nodescope"}]},
                     "status": {"phase": "Running"}});
    let list = |items: Value| json!({"kind": "List", "items": items}).to_string();
    std::fs::write(data.join("nodes.json"), list(json!([node]))).unwrap();
    std::fs::write(data.join("pods.json"), list(json!([pod]))).unwrap();
    std::fs::write(
        data.join("proxy.json"),
        json!({"nodescope/ns-1": {"body": {"schema": "nodescope-check/1", "findings": []}}})
            .to_string(),
    )
    .unwrap();
    let before = api.requests().len();
    let o = debug(&kc, &["fleet"]).watched_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    both_ways("nodescope-fleet", &api.requests()[before..]);
}
