//! The API server as optional enrichment, against a loopback stand-in (tests/common/
//! fake_apiserver.py) that serves recorded-shape responses over HTTPS and logs what it was
//! asked: paths and field selectors, the bearer token or client certificate it saw. Also: a
//! server that never answers, a refused connection, a 403, malformed JSON, the offline forms
//! (`--cluster-dump`, a bundle's cluster/*.json) and `--no-cluster`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DUMP: &str = "cluster-node-a";

fn sh(dir: &Path, cmd: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stderr(Stdio::null())
        .watched_status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

/// A CA, a server certificate for 127.0.0.1 and a node client certificate, made with openssl.
pub(crate) fn certs(dir: &Path) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh(
        dir,
        &format!("openssl req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca"),
    );
    sh(
        dir,
        "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > server.ext",
    );
    sh(
        dir,
        &format!("openssl req {ec} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
    );
    sh(
        dir,
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
    );
    sh(
        dir,
        "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > client.ext",
    );
    sh(
        dir,
        &format!(
            "openssl req {ec} -keyout client.key -out client.csr -subj '/O=system:nodes/CN=system:node:node-a'"
        ),
    );
    sh(
        dir,
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext",
    );
}

pub(crate) struct Api {
    child: Child,
    /// Kills the server if a test hangs with it alive.
    _dog: watchdog::Dog,
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    /// A server answering for node-a's cluster, its kubelet answering configz and
    /// stats/summary through the node proxy as a real one does.
    fn start(dir: &Path, mode: &str, extra: &[&str]) -> Api {
        let data = dir.join(format!("data-{mode}"));
        copy_tree(&fixture(DUMP), &data);
        for f in ["configz.json", "stats-summary.json"] {
            std::fs::copy(fixture("cluster-kubelet-view").join(f), data.join(f)).unwrap();
        }
        Api::serving(&data, dir, mode, extra)
    }

    /// A server answering from the List documents in `data`.
    pub(crate) fn serving(data: &Path, dir: &Path, mode: &str, extra: &[&str]) -> Api {
        let port_file = dir.join(format!("port-{mode}"));
        let log = dir.join(format!("log-{mode}"));
        let (child, dog) = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/fake_apiserver.py"))
            .arg(data)
            .args([mode, port_file.to_str().unwrap(), log.to_str().unwrap()])
            .args(extra)
            .current_dir(dir)
            .watched_spawn(Duration::from_secs(180))
            .unwrap();
        let started = Instant::now();
        while !port_file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "fake API server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let port = std::fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Api {
            child,
            _dog: dog,
            port,
            log,
        }
    }
    pub(crate) fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// A node root with nothing but what the API part reads: its hostname and the kubelet's
/// kubeconfig with absolute certificate paths, which name files on the node.
fn node_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for d in [
        "proc/sys/kernel",
        "etc/kubernetes/pki",
        "var/lib/kubelet/pki",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("proc/sys/kernel/hostname"), "node-a\n").unwrap();
    std::fs::copy(dir.join("ca.crt"), root.join("etc/kubernetes/pki/ca.crt")).unwrap();
    std::fs::copy(
        dir.join("client.crt"),
        root.join("var/lib/kubelet/pki/kubelet-client.crt"),
    )
    .unwrap();
    std::fs::copy(
        dir.join("client.key"),
        root.join("var/lib/kubelet/pki/kubelet-client.key"),
    )
    .unwrap();
    root
}

pub(crate) fn kubeconfig(server: &str, ca: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}"
    )
}

fn nodescope(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap();
    (o, started.elapsed())
}

/// A kubeconfig in `dir` (named `name`) for the stand-in server `api`, its CA, and `token`.
fn token_kubeconfig(dir: &Path, api: &Api, name: &str, token: &str) -> PathBuf {
    let kc = dir.join(name);
    std::fs::write(
        &kc,
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            dir.join("ca.crt").to_str().unwrap(),
            &format!("    token: {token}\n"),
        ),
    )
    .unwrap();
    kc
}

/// `nodescope --root ROOT --kubeconfig KC check --format json`, and how long it took.
fn check_json_with(root: &Path, kc: &Path) -> (Output, Duration) {
    nodescope(&[
        "--root",
        root.to_str().unwrap(),
        "--kubeconfig",
        kc.to_str().unwrap(),
        "check",
        "--format",
        "json",
    ])
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn cluster_errors(r: &Value) -> Vec<String> {
    r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "cluster")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// Whether openssl and python3 (the stand-in API server and its certificates) are here; when
/// not, says so (or fails under NODESCOPE_LIVE=required: .ci/run installs both).
pub(crate) fn can_run() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .watched_output()
        .is_ok()
        && Command::new("python3")
            .arg("--version")
            .watched_output()
            .is_ok();
    if !ok {
        common::live::skip_or_fail("needs openssl and python3 (.ci/run installs them)");
    }
    ok
}

#[test]
fn client_certificate_tls_with_the_kubelets_kubeconfig_under_the_host_root() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let api = Api::start(
        d.path(),
        "ok",
        &["--tls", "server.crt", "server.key", "ca.crt"],
    );
    let root = node_root(d.path());
    std::fs::write(
        root.join("etc/kubernetes/kubelet.conf"),
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            "/etc/kubernetes/pki/ca.crt",
            "    client-certificate: /var/lib/kubelet/pki/kubelet-client.crt\n    client-key: /var/lib/kubelet/pki/kubelet-client.key\n",
        ),
    )
    .unwrap();
    let (o, took) = nodescope(&["--root", root.to_str().unwrap(), "snapshot"]);
    let s = json(&o);
    eprintln!("snapshot with the API: {took:?}");
    assert_eq!(cluster_errors(&s), Vec::<String>::new());
    let c = &s["cluster"];
    assert!(
        c["source"]
            .as_str()
            .unwrap()
            .contains("the kubelet's kubeconfig"),
        "{c}"
    );
    assert_eq!(c["node"]["name"], "node-a");
    assert_eq!(c["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(
        c["pods"].as_array().unwrap().len(),
        4,
        "only pods bound to node-a"
    );
    assert_eq!(c["pending"][0]["name"], "train-0");
    assert_eq!(c["events"][0]["reason"], "FailedScheduling");
    // capture keeps what the API said as cluster/*.json, and the bundle answers offline.
    let bundle = d.path().join("b.tar.gz");
    let (o, _) = nodescope(&[
        "--root",
        root.to_str().unwrap(),
        "capture",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (o, _) = nodescope(&["--bundle", bundle.to_str().unwrap(), "snapshot"]);
    let b = json(&o);
    assert_eq!(b["cluster"]["source"], "bundle cluster/*.json");
    assert_eq!(b["cluster"]["node"]["name"], "node-a");
    assert_eq!(b["cluster"]["pending"][0]["name"], "train-0");
    let reqs = api.requests();
    for want in [
        "GET /api/v1/nodes/node-a auth=CN=system:node:node-a",
        "GET /api/v1/nodes? auth=CN=system:node:node-a",
        "GET /api/v1/pods?&fieldSelector=spec.nodeName%3Dnode-a",
        "GET /api/v1/pods?&fieldSelector=status.phase%3DPending",
        "GET /api/v1/events?&limit=1000",
    ] {
        assert!(
            reqs.iter().any(|r| r.starts_with(want)
                || r.replace("?&", "?").starts_with(&want.replace("?&", "?"))),
            "{want:?} not among {reqs:#?}"
        );
    }
}

#[test]
fn a_bearer_token_from_kubeconfig_a_403_and_the_local_report_still_complete() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let api = Api::start(
        d.path(),
        "forbid-pending",
        &["--tls", "server.crt", "server.key", "--token", "tok-3c9d1e"],
    );
    let root = node_root(d.path());
    let kc = token_kubeconfig(d.path(), &api, "token.kubeconfig", "tok-3c9d1e");
    let (o, _) = check_json_with(&root, &kc);
    let r = json(&o);
    assert_ne!(o.status.code(), Some(3));
    let errs = cluster_errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("Pending pods: forbidden by RBAC (403)"),
        "{errs:?}"
    );
    assert!(
        api.requests()
            .iter()
            .all(|l| l.ends_with("auth=tok-3c9d1e")),
        "{:?}",
        api.requests()
    );
    // The token never reaches the output.
    assert!(!String::from_utf8_lossy(&o.stdout).contains("tok-3c9d1e"));
}

#[test]
fn a_hung_server_costs_its_deadline_and_the_report_prints() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let api = Api::start(d.path(), "hang", &["--tls", "server.crt", "server.key"]);
    let root = node_root(d.path());
    let kc = token_kubeconfig(d.path(), &api, "kc", "t");
    let (o, took) = check_json_with(&root, &kc);
    let r = json(&o);
    eprintln!("check against a hung API server: {took:?}");
    assert!(
        took < Duration::from_secs(9),
        "bounded by the 5 s API deadline, took {took:?}"
    );
    let errs = cluster_errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("no answer") && errs[0].contains("timed out"),
        "{errs:?}"
    );
    // The report still prints, whole: the same local findings as without any API server,
    // and a normal exit code (not 3, "could not run").
    let (alone, _) = nodescope(&[
        "--root",
        root.to_str().unwrap(),
        "--no-cluster",
        "check",
        "--format",
        "json",
    ]);
    let findings = |r: &Value| -> Vec<(String, String)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].to_string(), f["title"].to_string()))
            .collect()
    };
    let local = json(&alone);
    assert!(
        !findings(&local).is_empty(),
        "the node root yields findings"
    );
    assert_eq!(findings(&r), findings(&local));
    assert_eq!(o.status.code(), alone.status.code());
    assert_ne!(o.status.code(), Some(3));
}

#[test]
fn a_refused_connection_and_malformed_json_are_one_line_each() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let root = node_root(d.path());
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = d.path().join("kc");
    std::fs::write(
        &kc,
        kubeconfig(
            &format!("https://127.0.0.1:{closed}"),
            d.path().join("ca.crt").to_str().unwrap(),
            "    token: t\n",
        ),
    )
    .unwrap();
    let (o, took) = check_json_with(&root, &kc);
    let errs = cluster_errors(&json(&o));
    assert_eq!(errs.len(), 1, "one line for a refused connection: {errs:?}");
    assert!(
        errs[0].contains("no answer") && errs[0].to_lowercase().contains("refused"),
        "{errs:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    let api = Api::start(
        d.path(),
        "malformed",
        &["--tls", "server.crt", "server.key"],
    );
    std::fs::write(
        &kc,
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            d.path().join("ca.crt").to_str().unwrap(),
            "    token: t\n",
        ),
    )
    .unwrap();
    let (o, _) = check_json_with(&root, &kc);
    assert_ne!(o.status.code(), Some(3));
    let errs = cluster_errors(&json(&o));
    assert!(!errs.is_empty(), "malformed answers are reported");
}

#[test]
fn a_dump_stands_in_offline_joins_pods_by_uid_and_no_cluster_turns_it_off() {
    let bundle = fixture(V2);
    let (o, _) = nodescope(&[
        "--bundle",
        bundle.to_str().unwrap(),
        "--cluster-dump",
        fixture(DUMP).to_str().unwrap(),
        "snapshot",
    ]);
    let s = json(&o);
    let web = s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "web-6d9f8c7b5-h2j4k")
        .unwrap();
    assert_eq!(web["api"]["containers"][0]["requests"]["memory"], "128Mi");
    assert_eq!(
        web["api"]["containers"][0]["last_termination_reason"],
        "OOMKilled"
    );
    assert_eq!(web["api"]["containers"][0]["restart_count"], 1);
    assert_eq!(
        s["cluster"]["source"],
        format!("dump {}", fixture(DUMP).display())
    );

    // A node the API reports under DiskPressure.
    let d = tempfile::tempdir().unwrap();
    let mut nodes: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(DUMP).join("nodes.json")).unwrap())
            .unwrap();
    for c in nodes["items"][0]["status"]["conditions"]
        .as_array_mut()
        .unwrap()
    {
        if c["type"] == "DiskPressure" {
            c["status"] = "True".into();
            c["reason"] = "KubeletHasDiskPressure".into();
        }
    }
    std::fs::write(d.path().join("nodes.json"), nodes.to_string()).unwrap();
    let (_, r) = check_json(&bundle, &["--cluster-dump", d.path().to_str().unwrap()]);
    let f = finding(&r, "node.condition");
    assert_eq!(f["severity"], "critical");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("DiskPressure=True (KubeletHasDiskPressure)")
    );
    // The healthy node's disks are fine: nothing local explains the API's word.
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .ends_with("; no local finding explains it"),
        "{}",
        f["title"]
    );
    assert_eq!(
        f["evidence"]["explained_by"]["DiskPressure"],
        serde_json::json!([])
    );

    // The same files inside a bundle (cluster/*.json) stand in without any flag.
    let c = Copy::of(V2);
    std::fs::create_dir_all(c.path("/cluster")).unwrap();
    std::fs::write(c.path("/cluster/nodes.json"), nodes.to_string()).unwrap();
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(finding(&r, "node.condition")["severity"], "critical");
    let (_, r) = check_json(&c.root, &["--no-cluster"]);
    assert!(!ids(&r).contains(&"node.condition".to_string()));

    let (o, _) = nodescope(&[
        "--bundle",
        bundle.to_str().unwrap(),
        "--no-cluster",
        "snapshot",
    ]);
    let s = json(&o);
    assert!(s.get("cluster").is_none());
    assert_eq!(cluster_errors(&s), Vec::<String>::new());
}

fn stdout_of(cmd: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .watched_output()
        .unwrap();
    assert!(o.status.success(), "{cmd}");
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// The secrets a node holds, planted where nodescope looks and where it walks: the kubelet's
/// kubeconfig with a bearer token and an inline client key, a service-account token file, a
/// pod's projected token, and a pod spec from the API with a literal secret env value, a
/// secret flag and kubectl's applied copy of both. None may reach text, JSON, Prometheus
/// output, `nodescope disk` or a captured bundle; the API request log shows the token was used,
/// so the search below looks where the secret really was.
#[test]
fn no_secret_on_the_node_or_in_the_api_reaches_any_output_or_bundle() {
    if !can_run() {
        return;
    }
    const BEARER: &str = "tok-bearer-71c2e9a4";
    const SA_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.sa-token-5b1f.c2ln";
    const PROJECTED: &str = "eyJhbGciOiJSUzI1NiJ9.projected-9d3e.c2ln";
    const ENV_VALUE: &str = "postgres://app:pw-env-44aa@db:5432";
    const FLAG_VALUE: &str = "pw-flag-0c7e";
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    // The API's pods: checkout (on node-a) carries the secrets, as `kubectl apply` leaves them.
    let data = d.path().join("api");
    std::fs::create_dir(&data).unwrap();
    for f in ["nodes.json", "events.json"] {
        std::fs::copy(fixture(DUMP).join(f), data.join(f)).unwrap();
    }
    let mut pods: Value =
        serde_json::from_slice(&std::fs::read(fixture(DUMP).join("pods.json")).unwrap()).unwrap();
    let checkout = pods["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["metadata"]["name"] == "checkout-5f7c9d8b6-m4kq2")
        .unwrap();
    let c0 = &mut checkout["spec"]["containers"][0];
    c0["env"] = serde_json::json!([{"name": "DATABASE_URL", "value": ENV_VALUE}]);
    c0["args"] = serde_json::json!([format!("--api-token={FLAG_VALUE}")]);
    checkout["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        Value::String(format!("{{\"env\":[{{\"value\":\"{ENV_VALUE}\"}}]}}"));
    std::fs::write(data.join("pods.json"), pods.to_string()).unwrap();
    let api = Api::serving(
        &data,
        d.path(),
        "ok",
        &["--tls", "server.crt", "server.key", "--token", BEARER],
    );
    // The node: the kubelet's kubeconfig with the token and the client key inline.
    let root = node_root(d.path());
    let key_b64 = stdout_of(&format!(
        "openssl base64 -A -in {}",
        d.path().join("client.key").display()
    ));
    let crt_b64 = stdout_of(&format!(
        "openssl base64 -A -in {}",
        d.path().join("client.crt").display()
    ));
    std::fs::write(
        root.join("etc/kubernetes/kubelet.conf"),
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            "/etc/kubernetes/pki/ca.crt",
            &format!(
                "    token: {BEARER}\n    client-certificate-data: {crt_b64}\n    client-key-data: {key_b64}\n"
            ),
        ),
    )
    .unwrap();
    let sa = root.join("var/run/secrets/kubernetes.io/serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), SA_TOKEN).unwrap();
    let projected = root.join(
        "var/lib/kubelet/pods/c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f/volumes/kubernetes.io~projected/kube-api-access-7xk2p",
    );
    std::fs::create_dir_all(&projected).unwrap();
    std::fs::write(projected.join("token"), PROJECTED).unwrap();
    // The PEM body of the client key, a line of it, as it would appear if a file were copied.
    let key_pem = std::fs::read_to_string(d.path().join("client.key")).unwrap();
    let key_line = key_pem.lines().nth(1).unwrap().to_string();

    let r = root.to_str().unwrap();
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    // Every command and output format; then serve's answers and top's screens.
    for args in [
        vec!["check", "--format", "json"],
        vec!["check", "--format", "text"],
        vec!["check", "--format", "prometheus"],
        vec!["check", "--format", "npd"],
        vec!["check", "--format", "junit"],
        vec!["snapshot"],
        vec!["disk", "--format", "json"],
        vec!["disk"],
        vec!["dns", "--format", "json"],
        vec!["dns"],
        vec!["gpu", "--format", "json"],
        vec!["gpu"],
    ] {
        let (o, _) = nodescope(&[&["--root", r][..], &args[..]].concat());
        assert_ne!(
            o.status.code(),
            Some(3),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push((format!("{args:?}"), [o.stdout, o.stderr].concat()));
    }
    outputs.extend(common::outputs::serve_responses(&[], &["--root", r]));
    if common::outputs::tmux_missing() {
        return common::live::skip_or_fail("the top part needs tmux (.ci/run installs it)");
    }
    outputs.extend(common::outputs::top_screens(
        "",
        &format!("--root {r}"),
        &format!("nodescope-cluster-secrets-{}", std::process::id()),
        &d.path().join("top-done"),
    ));
    let bundle = d.path().join("secrets.tar.gz");
    let (o, _) = nodescope(&["--root", r, "capture", "-o", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap()),
        &mut raw,
    )
    .unwrap();
    let tar_text = String::from_utf8_lossy(&raw).into_owned();
    outputs.push(("capture bundle (uncompressed tar)".into(), raw));

    // The search can fail: the token was used, and the pod with the secrets is in the bundle.
    let reqs = api.requests();
    assert!(
        !reqs.is_empty() && reqs.iter().all(|l| l.ends_with(&format!("auth={BEARER}"))),
        "{reqs:?}"
    );
    assert!(
        tar_text.contains("checkout-5f7c9d8b6-m4kq2"),
        "the API's pods are in the bundle"
    );
    // A pod is kept with only the fields a rule reads: its env and args (names and values)
    // are not carried at all (src/source/cluster.rs `slim`).
    assert!(
        !tar_text.contains("DATABASE_URL"),
        "a pod's env is not in the bundle"
    );
    assert!(
        !tar_text.contains("--api-token"),
        "a container's args are not in the bundle"
    );
    for (what, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for (name, secret) in [
            ("bearer token", BEARER),
            ("client key (base64)", key_b64.as_str()),
            ("client key (PEM)", key_line.as_str()),
            ("service-account token", SA_TOKEN),
            ("projected token", PROJECTED),
            ("pod env value", ENV_VALUE),
            ("pod secret flag", FLAG_VALUE),
        ] {
            assert!(!text.contains(secret), "{what} leaks the {name}");
        }
    }
}

/// EKS authenticates the kubelet with an exec credential plugin (awslabs/amazon-eks-ami
/// templates/al2/runtime/kubelet-kubeconfig: `command: /usr/bin/aws-iam-authenticator`). A
/// node kubeconfig like it, root's own, with the plugin a root-owned 0755 executable, is used:
/// the plugin runs (from the node's root) and its token is what the server sees. The same
/// kubeconfig over plain HTTP, or with the plugin writable by others, is refused with one line.
#[test]
fn an_eks_style_exec_plugin_root_owns_is_run_and_its_token_reaches_the_server() {
    use std::os::unix::fs::PermissionsExt;
    if !can_run() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the node's files must be owned by root");
        return;
    }
    let token = format!("k8s-aws-v1.{}", live::random_hex(8));
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let api = Api::start(
        d.path(),
        "ok",
        &["--tls", "server.crt", "server.key", "--token", &token],
    );
    let root = node_root(d.path());
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = root.join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("aws-iam-authenticator");
    let ran = d.path().join("plugin-ran");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n",
            ran.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /usr/bin/aws-iam-authenticator\n      args: [token, -i, my-cluster, --region, us-west-2]\n";
    let write_kc = |server: String| {
        std::fs::write(
            root.join("var/lib/kubelet/kubeconfig"),
            kubeconfig(&server, "/etc/kubernetes/pki/ca.crt", exec),
        )
        .unwrap()
    };
    write_kc(format!("https://127.0.0.1:{}", api.port));
    let r = root.to_str().unwrap();
    let (o, _) = nodescope(&["--root", r, "check", "--format", "json"]);
    let report = json(&o);
    assert_eq!(cluster_errors(&report), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap().trim(),
        "token -i my-cluster --region us-west-2",
        "the plugin ran with the kubeconfig's arguments"
    );
    let reqs = api.requests();
    assert!(
        reqs.iter()
            .any(|l| l.starts_with("GET /api/v1/nodes/node-a ")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter().all(|l| l.ends_with(&format!("auth={token}"))),
        "{reqs:?}"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(&token),
        "the token is used, never shown"
    );

    // The plugin writable by others: refused, not run, one line says why.
    std::fs::remove_file(&ran).unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o757)).unwrap();
    let (o, _) = nodescope(&["--root", r, "check", "--format", "json"]);
    let trust: Vec<String> = json(&o)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "trust")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        trust,
        [
            "the kubelet's kubeconfig /var/lib/kubelet/kubeconfig not used: its exec plugin: \
          /usr/bin/aws-iam-authenticator is writable by others (mode 0757)"
        ]
    );
    assert!(!ran.exists(), "the plugin did not run");

    // Plain HTTP: refused before anything connects.
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    write_kc(format!("http://127.0.0.1:{}", api.port));
    let before = api.requests().len();
    let (o, _) = nodescope(&["--root", r, "check", "--format", "json"]);
    let errs: Vec<String> = json(&o)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "trust")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        errs,
        [format!(
            "the kubelet's kubeconfig /var/lib/kubelet/kubeconfig not used: its server \
             \"http://127.0.0.1:{}\" is not https://; nodescope sends credentials only over TLS",
            api.port
        )]
    );
    assert!(!ran.exists());
    assert_eq!(api.requests().len(), before);
}

/// A data directory for the stand-in: the cluster of fixtures/cluster-gpu-full (a Pending GPU
/// pod whose A100 candidates are other nodes) and the kubelet answers of
/// fixtures/cluster-kubelet-view.
fn gpu_and_kubelet_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    copy_tree(&fixture("cluster-gpu-full"), &data);
    for f in ["configz.json", "stats-summary.json"] {
        std::fs::copy(fixture("cluster-kubelet-view").join(f), data.join(f)).unwrap();
    }
    data
}

/// A node root whose kubelet kubeconfig points at `api` with the node's client certificate.
fn root_for(d: &Path, api: &Api) -> PathBuf {
    let root = node_root(d);
    std::fs::write(
        root.join("etc/kubernetes/kubelet.conf"),
        kubeconfig(
            &format!("https://127.0.0.1:{}", api.port),
            "/etc/kubernetes/pki/ca.crt",
            "    client-certificate: /var/lib/kubelet/pki/kubelet-client.crt\n    client-key: /var/lib/kubelet/pki/kubelet-client.key\n",
        ),
    )
    .unwrap();
    root
}

/// The requests the stand-in logged, with the query's percent-encoding undone.
fn decoded(api: &Api) -> Vec<String> {
    api.requests()
        .iter()
        .map(|r| {
            r.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%21", "!")
        })
        .collect()
}

/// With a Pending GPU pod in the cluster, each other GPU node's non-terminal pods are listed
/// with one field-selected request (gpu-b and gpu-mig; cpu-1 offers no GPU and is not asked);
/// the kubelet's configz and stats/summary come through the node proxy. A capture keeps all of
/// it, and the bundle alone gives the same all-allocated reason on gpu-b.
#[test]
fn gpu_node_lists_and_the_kubelets_view_are_fetched_and_captured() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let data = gpu_and_kubelet_data(d.path());
    let api = Api::serving(
        &data,
        d.path(),
        "ok",
        &["--tls", "server.crt", "server.key", "ca.crt"],
    );
    let root = root_for(d.path(), &api);
    let (o, _) = nodescope(&["--root", root.to_str().unwrap(), "snapshot"]);
    let s = json(&o);
    assert_eq!(cluster_errors(&s), Vec::<String>::new());
    let c = &s["cluster"];
    assert_eq!(
        c["gpu_nodes_listed"],
        serde_json::json!(["gpu-b", "gpu-mig"])
    );
    let held: Vec<&str> = c["gpu_node_pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(held, vec!["llm-train-0", "llm-train-1", "notebook-mig-0"]);
    assert_eq!(c["kubelet"]["running_config"]["pod_pids_limit"], -1);
    assert_eq!(
        c["kubelet"]["summary"]["memory_available_bytes"],
        12_348_030_976i64 - (150 << 20)
    );
    let reqs = decoded(&api);
    for want in [
        "GET /api/v1/pods?&fieldSelector=spec.nodeName=gpu-b,status.phase!=Succeeded,status.phase!=Failed auth=CN=system:node:node-a",
        "GET /api/v1/pods?&fieldSelector=spec.nodeName=gpu-mig,status.phase!=Succeeded,status.phase!=Failed auth=CN=system:node:node-a",
        "GET /api/v1/nodes/node-a/proxy/configz auth=CN=system:node:node-a",
        "GET /api/v1/nodes/node-a/proxy/stats/summary auth=CN=system:node:node-a",
    ] {
        assert!(
            reqs.iter()
                .any(|r| r.replace("?&", "?") == want.replace("?&", "?")),
            "{want:?} not among {reqs:#?}"
        );
    }
    assert!(
        !reqs.iter().any(|r| r.contains("spec.nodeName=cpu-1")),
        "{reqs:#?}"
    );
    let bundle = d.path().join("b.tar.gz");
    let (o, _) = nodescope(&[
        "--root",
        root.to_str().unwrap(),
        "capture",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(api);
    let (o, _) = nodescope(&[
        "--bundle",
        bundle.to_str().unwrap(),
        "check",
        "--format",
        "json",
    ]);
    let r = json(&o);
    let f = finding(&r, "gpu.pending-pod");
    let all = f["evidence"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["reason"] == "all-allocated")
        .unwrap_or_else(|| panic!("{f}"));
    assert_eq!(
        all["by_node"],
        serde_json::json!({"gpu-b": "8/8 nvidia.com/gpu allocated on gpu-b"})
    );
    let (o, _) = nodescope(&["--bundle", bundle.to_str().unwrap(), "snapshot"]);
    let b = json(&o);
    assert_eq!(b["cluster"]["kubelet"], c["kubelet"]);
}

/// The node's own credentials may not use nodes/proxy (the Node authorizer refuses it): the
/// two kubelet endpoints cost one line in `errors`, and everything else is there.
#[test]
fn a_403_on_the_node_proxy_is_one_line() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let data = gpu_and_kubelet_data(d.path());
    let api = Api::serving(
        &data,
        d.path(),
        "forbid-proxy",
        &["--tls", "server.crt", "server.key", "ca.crt"],
    );
    let root = root_for(d.path(), &api);
    let (o, _) = nodescope(&[
        "--root",
        root.to_str().unwrap(),
        "check",
        "--format",
        "json",
    ]);
    let r = json(&o);
    assert_eq!(
        cluster_errors(&r),
        vec![
            "API: the kubelet's configz and stats/summary of node node-a: forbidden by RBAC (403: nodes/proxy); skipped"
                .to_string()
        ]
    );
    assert_eq!(
        reasons_of(&r),
        vec![
            "affinity-mismatch",
            "all-allocated",
            "mig-resource-mismatch"
        ]
    );
}

fn reasons_of(r: &Value) -> Vec<String> {
    finding(r, "gpu.pending-pod")["evidence"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].as_str().unwrap().to_string())
        .collect()
}

/// The RBAC rule a request needs: (API group, resource[/subresource], verb), the way the API
/// server's request-info resolver reads a path (k8s.io/apiserver pkg/endpoints/request/
/// requestinfo.go): a GET of a collection is `list` (`watch` with `watch=true`), of a named
/// object `get`.
fn rbac_need(line: &str) -> (String, String, String) {
    let (method, rest) = line.split_once(' ').unwrap();
    let target = rest.split(' ').next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
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
        ("GET", 1) if query.contains("watch=true") || query.contains("watch=1") => "watch",
        ("GET", 1) => "list",
        ("GET", _) => "get",
        (m, _) => panic!("the agent only reads, not {m}: {line}"),
    };
    (group.to_string(), resource, verb.to_string())
}

/// The ClusterRole rules of a `kind: List` manifest under deploy/, as (group, resource, verb).
fn granted(file: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let list: Value = serde_saphyr::from_str(&text).unwrap();
    let mut out = Vec::new();
    for role in list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "ClusterRole")
    {
        for r in role["rules"].as_array().unwrap() {
            for g in r["apiGroups"].as_array().unwrap() {
                for res in r["resources"].as_array().unwrap() {
                    for v in r["verbs"].as_array().unwrap() {
                        out.push((
                            g.as_str().unwrap().to_string(),
                            res.as_str().unwrap().to_string(),
                            v.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// deploy/rbac.yaml and the optional deploy/rbac-kubelet-view.yaml grant the agent exactly what
/// its collection asks: every request `check` (the collection `serve` samples with) makes
/// against the stand-in server, a Pending GPU pod and the kubelet's view included, is allowed by
/// one of them, and every verb and resource they grant is used. The node proxy is only in the
/// optional file.
#[test]
fn the_agents_cluster_role_allows_every_request_it_makes_and_no_more() {
    if !can_run() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    certs(d.path());
    let data = gpu_and_kubelet_data(d.path());
    let api = Api::serving(
        &data,
        d.path(),
        "ok",
        &["--tls", "server.crt", "server.key", "--token", "sa-7f2e"],
    );
    let root = node_root(d.path());
    let kc = token_kubeconfig(d.path(), &api, "sa.kubeconfig", "sa-7f2e");
    let (o, _) = check_json_with(&root, &kc);
    assert_eq!(cluster_errors(&json(&o)), Vec::<String>::new());
    let base = granted("deploy/rbac.yaml");
    let optional = granted("deploy/rbac-kubelet-view.yaml");
    assert!(!base.iter().any(|g| g.1 == "nodes/proxy"), "{base:?}");
    let needed: Vec<_> = api.requests().iter().map(|l| rbac_need(l)).collect();
    assert!(
        needed.iter().any(|n| n.1 == "nodes/proxy"),
        "the kubelet's view was asked: {needed:?}"
    );
    for n in &needed {
        assert!(
            base.contains(n) || optional.contains(n),
            "the agent asks {n:?}, which deploy/rbac*.yaml do not grant"
        );
    }
    for g in base.iter().chain(&optional) {
        assert!(
            needed.contains(g),
            "deploy/rbac*.yaml grant {g:?}, which the agent never asks"
        );
    }
}
