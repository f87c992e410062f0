//! Pods named by every source the node has (src/model/pod_facts.rs): a Docker + cri-dockerd
//! node whose pods only Docker's container records name, the trust and size rules on those
//! records, and the promise that no output of any fixture names a pod or a node with a
//! placeholder or names no one at all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

const DOCKERD: &str = "cri-dockerd-v1-cgroupfs";
/// The api container killed by its limit, now exited (fixtures/cri-dockerd-v1-cgroupfs).
const KILLED: &str = "9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
const API_UID: &str = "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e";

fn check_text(bundle: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "--bundle",
        bundle.to_str().unwrap(),
        "check",
        "--color",
        "never",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    String::from_utf8(o.stdout).unwrap()
}

/// The finding lines (id, title, fix) of a text report, without the header and the footer.
fn finding_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.is_empty())
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn a_cri_dockerd_node_names_its_pods_from_dockers_labels() {
    let text = check_text(&fixture(DOCKERD), &["--verbose"]);
    let lines = finding_lines(&text);
    assert_eq!(
        lines[..6],
        [
            "CRITICAL  memory.kernel-oom-kill       payments/api-7c8d9f6b5-r2t4y container api pid 30977",
            "          api-server (pid 30977) in payments/api-7c8d9f6b5-r2t4y/api killed by its cgroup's limit 5m ago",
            "          fix: set payments/api-7c8d9f6b5-r2t4y/api's memory limit to 640Mi (peak 505Mi plus 25%)",
            "WARNING   memory.limit-near-peak       payments/api-7c8d9f6b5-r2t4y container api",
            "          peak 496Mi is 97% of the 512Mi limit",
            "          fix: raise payments/api-7c8d9f6b5-r2t4y/api's memory limit from 512Mi to 640Mi (peak 496Mi plus 25%), or make the workload fit",
        ],
        "{text}"
    );
    assert!(
        lines[6].starts_with("INFO      memory.eviction-order        node node-b"),
        "{text}"
    );
    assert_eq!(
        lines[7],
        "          kubelet would evict kube-system/kube-flannel-ds-9xk2p first; the kernel would kill kube-system/kube-flannel-ds-9xk2p (flanneld, oom_score 999) first"
    );

    let (code, report) = check_json(&fixture(DOCKERD), &[]);
    assert_eq!(code, Some(2), "a critical finding");
    let kill = finding(&report, "memory.kernel-oom-kill");
    assert_eq!(
        kill["subject"],
        json!({"namespace": "payments", "pod": "api-7c8d9f6b5-r2t4y", "container": "api", "pid": 30977})
    );
    assert_eq!(kill["evidence"]["container_id"], KILLED);
    assert_eq!(
        finding(&report, "memory.limit-near-peak")["subject"],
        json!({"namespace": "payments", "pod": "api-7c8d9f6b5-r2t4y", "container": "api"})
    );
    assert_eq!(report["errors"], json!([]), "{report:#}");
}

#[test]
fn the_snapshot_says_which_file_named_each_pod() {
    let o = run(&[
        "--bundle",
        fixture(DOCKERD).to_str().unwrap(),
        "snapshot",
        "--format",
        "json",
    ]);
    let snap: Value = serde_json::from_slice(&o.stdout).unwrap();
    let api = snap["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uid"] == API_UID)
        .unwrap();
    assert_eq!(api["name"], "api-7c8d9f6b5-r2t4y");
    assert_eq!(api["name_source"], "docker-labels");
    let named: Vec<(&Value, &Value, &Value)> = api["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["name"], &c["sandbox"], &c["runtime"]))
        .collect();
    assert_eq!(
        named,
        [
            (&json!(null), &json!(true), &json!("docker")),
            (&json!("api"), &json!(false), &json!("docker")),
        ]
    );
    // The exited, killed container: named by its labels, as a log link would name it.
    assert_eq!(
        snap["container_logs"],
        json!([{"id": KILLED, "namespace": "payments", "pod": "api-7c8d9f6b5-r2t4y",
                "container": "api", "pod_uid": API_UID, "source": "docker-labels"}])
    );
}

/// Docker's containers directory recorded as owned by an unprivileged user.
fn untrusted_docker_dir(c: &Copy) {
    let meta_path = c.path("nodescope-bundle.json");
    let mut meta: Value = serde_json::from_str(&fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["metadata"] = json!({
        "/var/lib/docker/containers": {"uid": 1000, "gid": 1000, "mode": 0o755, "kind": "dir", "size": 4096}
    });
    fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
}

#[test]
fn a_docker_directory_root_does_not_own_names_nothing_and_says_so() {
    let c = Copy::of(DOCKERD);
    untrusted_docker_dir(&c);
    let (_, report) = check_json(&c.root, &[]);
    let kill = finding(&report, "memory.kernel-oom-kill");
    assert_eq!(
        kill["subject"],
        json!({"pod": format!("pod {API_UID}"), "pid": 30977}),
        "the uid from the cgroup path, no name"
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["collector"], "trust");
    assert_eq!(errors[0]["kind"], "untrusted");
    assert_eq!(errors[0]["path"], "/var/lib/docker/containers");
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(
        msg == "not collected: /var/lib/docker/containers is owned by uid 1000, not root; nodescope takes pod names only from what root alone can write",
        "{msg}"
    );
}

#[test]
fn an_oversized_docker_record_is_refused_not_truncated() {
    let c = Copy::of(DOCKERD);
    let p = format!("/var/lib/docker/containers/{KILLED}/config.v2.json");
    let mut doc: Value = serde_json::from_str(&c.read(&p)).unwrap();
    doc["Config"]["Env"] = json!(["PAD=".to_string() + &"x".repeat(1 << 20)]);
    c.write(&p, &doc.to_string());
    let (_, report) = check_json(&c.root, &[]);
    // The killed container is unnamed now; its pod is still named by its running containers.
    let kill = finding(&report, "memory.kernel-oom-kill");
    assert_eq!(
        kill["subject"],
        json!({"namespace": "payments", "pod": "api-7c8d9f6b5-r2t4y", "pid": 30977})
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["path"], p);
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(msg.contains("bytes, more than 1048576"), "{msg}");
}

/// Every bundle under fixtures/.
fn bundles() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("nodescope-bundle.json").is_file())
        .collect();
    out.sort();
    assert!(out.len() >= 16, "fixtures/ lost its bundles: {out:?}");
    out
}

/// The ways a name that was not found has been printed: `?/pod`, `ns/?`, `node ?`.
fn placeholders(s: &str) -> Vec<&'static str> {
    ["?/", "/?", "node ?"]
        .into_iter()
        .filter(|p| s.contains(p))
        .collect()
}

fn assert_named(what: &str, text: &str, report: &Value) {
    assert!(
        placeholders(text).is_empty(),
        "{what} text has {:?}:\n{text}",
        placeholders(text)
    );
    let json = report.to_string();
    assert!(
        placeholders(&json).is_empty(),
        "{what} JSON has {:?}",
        placeholders(&json)
    );
    for f in report["findings"].as_array().unwrap() {
        let s = f["subject"].as_object().unwrap();
        assert!(
            !s.is_empty() && s.values().all(|v| v != "" && !v.is_null()),
            "{what}: {} has an empty subject {s:?}",
            f["id"]
        );
    }
    for l in finding_lines(text) {
        if !l.starts_with(' ') {
            // `SEV   id   subject`: three columns, the subject never blank.
            assert!(
                l.split_whitespace().count() >= 3,
                "{what}: a finding without a subject: {l:?}"
            );
        }
    }
}

#[test]
fn no_output_of_any_fixture_names_a_pod_with_a_placeholder_or_names_no_one() {
    for b in bundles() {
        let name = b.file_name().unwrap().to_string_lossy().into_owned();
        let (_, report) = check_json(&b, &[]);
        assert_named(&name, &check_text(&b, &[]), &report);
    }
    let dump = fixture("cluster-node-a");
    let extra = ["--cluster-dump", dump.to_str().unwrap()];
    let (_, report) = check_json(&fixture(V2), &extra);
    assert_named(
        "V2 with its cluster dump",
        &check_text(&fixture(V2), &extra),
        &report,
    );
}

#[test]
fn the_placeholder_check_can_fail() {
    let report = json!({"findings": [{"id": "x", "subject": {}}]});
    let r = std::panic::catch_unwind(|| assert_named("t", "", &report));
    assert!(r.is_err(), "an empty subject passed");
    let report = json!({"findings": []});
    for bad in ["kubelet would evict ?/? first", "shop/? x", "node ?"] {
        let r = std::panic::catch_unwind(|| assert_named("t", bad, &report));
        assert!(r.is_err(), "{bad:?} passed");
    }
}

/// The first line of `memory.eviction-order`'s finding on node-a, with `extra` flags.
fn eviction_order(extra: &[&str]) -> (String, Value) {
    let (_, report) = check_json(&fixture(V2), extra);
    let f = finding(&report, "memory.eviction-order");
    (
        f["title"].as_str().unwrap().to_string(),
        f["evidence"].clone(),
    )
}

/// fixtures/cluster-node-a-priorities is cluster-node-a with priorities on the two shop pods,
/// laid out from kubernetes/kubernetes pkg/kubelet/eviction/helpers_test.go
/// TestOrderedByPriority (no pod exceeds its request, so priority alone orders them): the
/// batch pod (priority 10) goes before the frontend (1000), although the frontend is further
/// from its request, which alone decided with equal priorities.
#[test]
fn api_priorities_and_requests_reorder_the_kubelets_memory_ranking() {
    let order = |ev: &Value| -> Vec<(String, bool)> {
        ev["kubelet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["pod"].as_str().unwrap().to_string(),
                    p["critical"] == true,
                )
            })
            .collect()
    };
    let own = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
        v.iter().map(|(p, c)| (p.to_string(), *c)).collect()
    };
    // The node alone: requests estimated from oom_score_adj, priorities 0, coredns ordinary.
    let (title, ev) = eviction_order(&[]);
    assert!(
        title.starts_with("kubelet would evict kube-system/coredns-7db6d8ff4d-x2x7b first;"),
        "{title}"
    );
    assert_eq!(
        ev["approximation"],
        "4 of 4 pods without the API's word: memory requests estimated from oom_score_adj, priorities taken as 0"
    );
    // The API's requests and priorities: coredns is system-cluster-critical.
    let dump = fixture("cluster-node-a");
    let (title, ev) = eviction_order(&["--cluster-dump", dump.to_str().unwrap()]);
    assert!(
        title.starts_with("kubelet would evict shop/web-6d9f8c7b5-h2j4k first;"),
        "{title}"
    );
    assert_eq!(
        order(&ev),
        own(&[
            ("kube-proxy-7k2p9", true),
            ("web-6d9f8c7b5-h2j4k", false),
            ("checkout-5f7c9d8b6-m4kq2", false),
            ("coredns-7db6d8ff4d-x2x7b", true),
        ])
    );
    assert!(ev.get("approximation").is_none(), "{ev:#}");
    // Priorities of their own: the low-priority pod first.
    let dump = fixture("cluster-node-a-priorities");
    let (title, ev) = eviction_order(&["--cluster-dump", dump.to_str().unwrap()]);
    assert_eq!(
        title,
        "kubelet would evict shop/checkout-5f7c9d8b6-m4kq2 first; the kernel would kill kube-system/coredns-7db6d8ff4d-x2x7b (coredns, oom_score 1333) first"
    );
    assert_eq!(
        order(&ev),
        own(&[
            ("kube-proxy-7k2p9", true),
            ("checkout-5f7c9d8b6-m4kq2", false),
            ("web-6d9f8c7b5-h2j4k", false),
            ("coredns-7db6d8ff4d-x2x7b", true),
        ])
    );
    assert_eq!(ev["kubelet"][1]["priority"], 10);
    assert_eq!(ev["kubelet"][0]["critical_because"], "priority");
}

/// Disk pressure names the kubelet's next victim by `rankDiskPressureFunc` over what the disk
/// collector measured: on disk-bloat's nodefs (out of inodes, a dedicated imagefs, so logs and
/// volumes count) the checkout pod's emptyDir of four million files.
#[test]
fn disk_pressure_names_the_kubelets_next_victim() {
    let (_, report) = check_json(&fixture("disk-bloat-v2-containerd"), &[]);
    let n = finding(&report, "disk.nodefs-pressure");
    assert_eq!(
        n["title"],
        "nodefs.inodesFree 0.1% (7012 of 6553600 inodes free) < hard 5% on /var; kubelet would evict shop/checkout-5f7c9d8b6-m4kq2 first"
    );
    let first = &n["evidence"]["kubelet_order"][0];
    assert_eq!(first["usage"], 4_100_217);
    assert_eq!(first["measured"], json!(["logs", "volumes"]));
    assert_eq!(
        n["evidence"]["approximation"],
        "4 of 4 pods without the API's word: ephemeral-storage requests and priorities taken as 0"
    );
    // A node where nothing was walked has no order to tell: the title names no one.
    let (_, report) = check_json(&fixture("disk-imagefs-v1-crio"), &[]);
    let i = finding(&report, "disk.imagefs-pressure");
    assert_eq!(
        i["title"],
        "imagefs.available 8.0% (8Gi of 100Gi) < hard 15% on /var/lib/containers"
    );
}

/// A capture of a cri-dockerd node (`--root` on a copy of the fixture, as `capture` reads a
/// live host) keeps Docker's records reduced to the pod identity and replays to the findings it
/// reported, the exited container still named.
#[test]
fn a_capture_keeps_dockers_labels_and_nothing_else_of_its_records() {
    use std::io::Read;
    let c = Copy::of(DOCKERD);
    let o = run(&[
        "--root",
        c.root.to_str().unwrap(),
        "--no-cluster",
        "capture",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&o.stdout[..]));
    let wanted = format!("/var/lib/docker/containers/{KILLED}/config.v2.json");
    let mut record = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().display().to_string().ends_with(&wanted) {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            record = Some(s);
        }
    }
    let record: Value =
        serde_json::from_str(&record.expect("the killed container's record")).unwrap();
    assert_eq!(record["State"]["OOMKilled"], true);
    assert_eq!(
        record["Config"]["Labels"]["io.kubernetes.container.name"],
        "api"
    );
    for gone in ["Path", "Args", "LogPath", "Created"] {
        assert!(record.get(gone).is_none(), "{gone} kept: {record:#}");
    }
    assert!(
        record["Config"]["Labels"]
            .get("annotation.io.kubernetes.container.restartCount")
            .is_none(),
        "{record:#}"
    );
    let b = nodescope::source::bundle::BundleHost::from_archive(
        &o.stdout[..],
        "stdout",
        Default::default(),
    )
    .unwrap();
    let snap = nodescope::collect::snapshot(&b);
    let findings = nodescope::analyze::analyze(&snap);
    let replay =
        serde_json::to_value(nodescope::analyze::report::check::build(&snap, &findings).findings)
            .unwrap();
    assert_eq!(replay, b.meta().findings.clone().unwrap());
    // The kernel log a live capture reads is this machine's own (/dev/kmsg is a device, not
    // the fixture's file), so the killed container is checked as the names it left.
    let named: Vec<(&str, &str, &str)> = snap
        .container_logs
        .iter()
        .map(|l| (l.id.as_str(), l.pod.as_str(), l.container.as_str()))
        .collect();
    assert_eq!(named, [(KILLED, "api-7c8d9f6b5-r2t4y", "api")]);
    let near = replay
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "memory.limit-near-peak")
        .unwrap();
    assert_eq!(
        near["subject"],
        json!({"namespace": "payments", "pod": "api-7c8d9f6b5-r2t4y", "container": "api"})
    );
}

/// A static pod runs under the UID the kubelet made for it; its mirror in the API has its own
/// and names the static one in `kubernetes.io/config.mirror`. The join follows that annotation,
/// and the pod is critical as a mirror (IsMirrorPod, pkg/kubelet/types/pod_update.go) with no
/// priority at all.
#[test]
fn a_mirror_pod_joins_its_static_pod_and_is_never_the_victim() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("cluster-node-a"), d.path());
    let path = d.path().join("pods.json");
    let mut pods: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    for p in pods["items"].as_array_mut().unwrap() {
        if p["metadata"]["name"] == "coredns-7db6d8ff4d-x2x7b" {
            let node_uid = p["metadata"]["uid"].clone();
            p["metadata"]["uid"] = json!("0f0e0d0c-0b0a-4909-8807-060504030201");
            p["metadata"]["annotations"] = json!({
                "kubernetes.io/config.mirror": node_uid,
                "kubernetes.io/config.source": "file"
            });
            p["spec"].as_object_mut().unwrap().remove("priority");
            p["spec"]
                .as_object_mut()
                .unwrap()
                .remove("priorityClassName");
        }
    }
    fs::write(&path, serde_json::to_vec(&pods).unwrap()).unwrap();
    let (title, ev) = eviction_order(&["--cluster-dump", d.path().to_str().unwrap()]);
    assert!(
        title.starts_with("kubelet would evict shop/web-6d9f8c7b5-h2j4k first;"),
        "{title}"
    );
    let coredns = ev["kubelet"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pod"] == "coredns-7db6d8ff4d-x2x7b")
        .unwrap();
    assert_eq!(coredns["critical_because"], "static-or-mirror", "{ev:#}");
    assert_eq!(
        coredns["request_from"], "api",
        "joined through the annotation"
    );
    assert_eq!(coredns["priority"], json!(null));
}
