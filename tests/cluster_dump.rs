//! `--cluster-dump DIR` is untrusted input read as a bundle is: regular files only, opened
//! without following links and without blocking, under a size cap, and parsed as a stream.
//! A FIFO, `/dev/zero`, a missing path, an empty directory or a file each end the run at once
//! with a clear message; a 100k-pod `pods.json` is processed keeping only what is used.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DUMP: &str = "cluster-node-a";

/// Runs the binary with a watchdog: a hang (a FIFO waited on) fails the test, never CI. Its
/// output is drained as it comes, so a big report cannot block it on a full pipe.
fn run_bounded(args: &[&str], limit: Duration) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .env_remove("KUBECONFIG")
        .output_within(limit)
        .unwrap()
}

fn with_dump(dir: &Path, cmd: &str) -> Output {
    let b = fixture(V2);
    run_bounded(
        &[
            "--bundle",
            b.to_str().unwrap(),
            "--cluster-dump",
            dir.to_str().unwrap(),
            cmd,
        ],
        Duration::from_secs(60),
    )
}

/// The run is refused: exit 3, one line naming the problem, nothing on stdout.
fn refused(dir: &Path, why: &str) {
    let o = with_dump(dir, "check");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(o.stdout.is_empty());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(why), "expected {why:?} in {err}");
}

#[test]
fn a_missing_path_an_empty_directory_and_a_file_are_refused_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    refused(&d.path().join("nonexistent"), "--cluster-dump ");
    refused(&d.path().join("nonexistent"), "No such file or directory");
    refused(d.path(), "none of nodes.json, pods.json, events.json in it");
    let file = d.path().join("pods.json");
    fs::write(&file, "{}").unwrap();
    refused(
        &file,
        "not a directory (a dump is a directory holding nodes.json, pods.json, events.json)",
    );
}

/// The report's cluster errors.
fn cluster_errors(s: &Value) -> Vec<String> {
    s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["collector"] == "cluster")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_fifo_a_link_to_dev_zero_and_a_device_in_a_dump_are_reported_at_once() {
    let d = tempfile::tempdir().unwrap();
    fs::copy(
        fixture(DUMP).join("nodes.json"),
        d.path().join("nodes.json"),
    )
    .unwrap();
    // A FIFO no one writes: opening it for reading would wait forever.
    nix::unistd::mkfifo(&d.path().join("pods.json"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    // /dev/zero through a link: reading it would never end.
    std::os::unix::fs::symlink("/dev/zero", d.path().join("events.json")).unwrap();
    let started = Instant::now();
    let o = with_dump(d.path(), "snapshot");
    let took = started.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut errs = cluster_errors(&s);
    errs.sort();
    assert_eq!(
        errs,
        [
            "events.json: a symbolic link (not followed)",
            "pods.json: a FIFO, not a regular file",
        ],
        "{errs:?}"
    );
    // nodes.json still counts.
    assert_eq!(s["cluster"]["node"]["name"], "node-a");
    eprintln!("FIFO and /dev/zero link: done in {took:?}");

    // A character device node itself (root can make one): refused by fstat, not read.
    if nix::unistd::geteuid().is_root() {
        fs::remove_file(d.path().join("events.json")).unwrap();
        nix::sys::stat::mknod(
            &d.path().join("events.json"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::S_IRUSR,
            nix::sys::stat::makedev(1, 5),
        )
        .unwrap();
        let o = with_dump(d.path(), "snapshot");
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            cluster_errors(&s)
                .contains(&"events.json: a character device, not a regular file".to_string()),
            "{:?}",
            cluster_errors(&s)
        );
    }
}

/// One pod of a big cluster, as `kubectl get pods -o json` writes it (fields trimmed to the
/// usual ones; k8s.io/api core/v1 types.go).
fn filler_pod(i: usize, node: Option<&str>, phase: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("batch-{i:06}"),
            "namespace": format!("team-{}", i % 97),
            "uid": format!("00000000-0000-4000-8000-{i:012}"),
            "labels": {"app": "batch", "shard": format!("{}", i % 31)},
            "creationTimestamp": "2026-11-21T10:00:00Z"
        },
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "worker",
                "image": "registry.example/batch/worker:1.4.2",
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"memory": "512Mi"}}
            }]
        },
        "status": {"phase": phase, "podIP": "10.1.2.3"}
    })
}

/// A `pods.json` of `n` pods: the fixture dump's own pods (four on node-a, one on node-b, one
/// Pending), then `n` more on other nodes, every 1000th of them Pending (no node yet).
fn big_pods_json(path: &Path, n: usize) -> usize {
    let fixture: Value =
        serde_json::from_str(&fs::read_to_string(fixture(DUMP).join("pods.json")).unwrap())
            .unwrap();
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    write!(
        f,
        r#"{{"apiVersion":"v1","kind":"List","metadata":{{"resourceVersion":""}},"items":["#
    )
    .unwrap();
    let mut first = true;
    let mut pending = 0;
    for p in fixture["items"].as_array().unwrap() {
        if !first {
            f.write_all(b",").unwrap();
        }
        first = false;
        serde_json::to_writer(&mut f, p).unwrap();
    }
    for i in 0..n {
        let p = if i % 1000 == 0 {
            pending += 1;
            filler_pod(i, None, "Pending")
        } else {
            filler_pod(i, Some(&format!("node-{}", i % 500 + 100)), "Running")
        };
        f.write_all(b",").unwrap();
        serde_json::to_writer(&mut f, &p).unwrap();
    }
    f.write_all(b"]}\n").unwrap();
    f.flush().unwrap();
    pending
}

#[test]
fn a_100k_pod_dump_is_streamed_and_this_nodes_pods_are_found() {
    let d = tempfile::tempdir().unwrap();
    fs::copy(
        fixture(DUMP).join("nodes.json"),
        d.path().join("nodes.json"),
    )
    .unwrap();
    fs::copy(
        fixture(DUMP).join("events.json"),
        d.path().join("events.json"),
    )
    .unwrap();
    let filler_pending = big_pods_json(&d.path().join("pods.json"), 100_000);
    let size = fs::metadata(d.path().join("pods.json")).unwrap().len();
    let o = run_bounded(
        &[
            "--bundle",
            fixture(V2).to_str().unwrap(),
            "--cluster-dump",
            d.path().to_str().unwrap(),
            "snapshot",
        ],
        Duration::from_secs(300),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut names: Vec<&str> = s["cluster"]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "checkout-5f7c9d8b6-m4kq2",
            "coredns-7db6d8ff4d-x2x7b",
            "kube-proxy-7k2p9",
            "web-6d9f8c7b5-h2j4k"
        ],
        "this node's pods, and only them, out of {size} bytes"
    );
    // The Pending pod a rule reads (train-0 asks for GPUs) is kept; the filler Pending pods
    // ask for no extended resource, so no rule reads them and they are not kept.
    let pending: Vec<&str> = s["cluster"]["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["train-0"]);
    assert!(filler_pending > 0);
    assert_eq!(s["cluster"]["notes"], json!([]));
    // Joined to the node's own pods by UID, as with the small dump.
    let web = s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "web-6d9f8c7b5-h2j4k")
        .unwrap();
    assert_eq!(web["api"]["containers"][0]["requests"]["memory"], "128Mi");
    assert_eq!(cluster_errors(&s), Vec::<String>::new());
    eprintln!(
        "pods.json of {} MB, 100,006 pods: {} on node-a, {} Pending",
        size / 1_000_000,
        names.len(),
        filler_pending + 1
    );
}

/// One truth: with the dump's pods, the kubelet's predicted order uses their real memory
/// requests and priorities. coredns (priority 2,000,000,000) and kube-proxy (2,000,001,000)
/// are critical and never first; web is. Nothing is claimed as an approximation. Without the
/// dump, every pod is estimated and the evidence says so.
#[test]
fn the_eviction_order_uses_the_dumps_requests_and_priorities() {
    let b = fixture(V2);
    let d = fixture(DUMP);
    let (_, r) = check_json(&b, &["--cluster-dump", d.to_str().unwrap()]);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "memory.eviction-order")
        .unwrap();
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .starts_with("kubelet would evict shop/web-6d9f8c7b5-h2j4k first"),
        "{}",
        f["title"]
    );
    let k = f["evidence"]["kubelet"].as_array().unwrap();
    assert!(k.iter().all(|p| p["request_from"] == "api"), "{k:#?}");
    let coredns = k
        .iter()
        .find(|p| p["pod"] == "coredns-7db6d8ff4d-x2x7b")
        .unwrap();
    assert_eq!(coredns["priority"], 2_000_000_000);
    assert_eq!(coredns["critical"], true);
    assert_eq!(coredns["request_bytes"], 70 << 20);
    assert!(f["evidence"].get("approximation").is_none());

    let (_, r) = check_json(&b, &[]);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "memory.eviction-order")
        .unwrap();
    assert_eq!(
        f["evidence"]["approximation"],
        "4 of 4 pods without the API's word: memory requests estimated from oom_score_adj, priorities taken as 0"
    );
}

/// fixtures/cluster-kubelet-view (scripts/fixtures/derive_cluster_kubelet_view.py): the
/// kubelet's configz says it runs with the defaults the bundle's config.yaml was edited away
/// from. Exactly the four fields that differ are named, with both values and where the files'
/// value came from; every field written differently but equal (`5m0s` against `0s` defaulted
/// to 5m, `unix://` endpoints, reserved quantities) stays out. The summary agrees within its
/// tolerance: node.kubelet-stats-mismatch is quiet.
#[test]
fn configz_differing_from_the_files_names_each_field_with_both_values() {
    let (_, r) = check_json(
        &fixture(V2),
        &[
            "--cluster-dump",
            fixture("cluster-kubelet-view").to_str().unwrap(),
        ],
    );
    assert!(
        !ids(&r).contains(&"node.kubelet-stats-mismatch".to_string()),
        "{:?}",
        ids(&r)
    );
    let f = finding(&r, "node.kubelet-config-drift");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        f["title"],
        "the running kubelet's config differs from its files in evictionHard, evictionSoft, evictionSoftGracePeriod, podPidsLimit"
    );
    assert_eq!(
        f["evidence"]["fields"],
        json!([
            {"field": "evictionHard", "running": "memory.available<100Mi",
             "on_disk": "memory.available<500Mi", "on_disk_from": "config"},
            {"field": "evictionSoft", "running": "memory.available unset, nodefs.available unset",
             "on_disk": "memory.available<1Gi, nodefs.available<15%", "on_disk_from": "config"},
            {"field": "evictionSoftGracePeriod", "running": "memory.available unset, nodefs.available unset",
             "on_disk": "memory.available=1m30s, nodefs.available=2m", "on_disk_from": "config"},
            {"field": "podPidsLimit", "running": "-1", "on_disk": "4096", "on_disk_from": "config"},
        ])
    );
    assert_eq!(f["evidence"]["config_file"], "/var/lib/kubelet/config.yaml");
    assert_eq!(f["evidence"]["compared"], 27);
    assert_eq!(cluster_errors(&r), Vec::<String>::new());
}

/// The same summary with the kubelet seeing 2 GiB less memory available than the bundle's
/// root cgroup gives, and its root dir on a fuller filesystem: both figures are reported,
/// each with both computations; a configz that is not JSON is one error, and the rest stands.
#[test]
fn a_summary_far_from_nodescopes_figures_is_reported_and_bad_configz_is_one_error() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("cluster-kubelet-view"), d.path());
    let p = d.path().join("stats-summary.json");
    let mut s: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    let mem = s["node"]["memory"]["availableBytes"].as_i64().unwrap();
    // nodescope computes MemTotal − (usage − inactive_file) = 12348030976 on this bundle.
    assert_eq!(mem, 12_348_030_976 - (150 << 20));
    s["node"]["memory"]["availableBytes"] = json!(12_348_030_976i64 - (2i64 << 30));
    s["node"]["fs"]["availableBytes"] = json!(40i64 << 30);
    fs::write(&p, serde_json::to_vec(&s).unwrap()).unwrap();
    fs::write(d.path().join("configz.json"), "{\"kubeletconfig\": [").unwrap();
    let (_, r) = check_json(
        &fixture(V2),
        &["--cluster-dump", d.path().to_str().unwrap()],
    );
    assert!(!ids(&r).contains(&"node.kubelet-config-drift".to_string()));
    let f = finding(&r, "node.kubelet-stats-mismatch");
    assert_eq!(f["severity"], "info");
    assert_eq!(
        f["title"],
        "the kubelet sees memory.available 9.5Gi where nodescope computed 11.5Gi; nodefs.available 40Gi where nodescope computed 60Gi"
    );
    let c = &f["evidence"]["compared"];
    assert_eq!(c[0]["difference"], -(2i64 << 30));
    assert_eq!(c[0]["tolerance"], 16_786_694_144i64 / 50);
    assert!(
        c[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("(sampled 8 s before nodescope's snapshot)"),
        "{c}"
    );
    assert_eq!(c[1]["difference"], (40i64 << 30) - 64_424_509_440);
    assert_eq!(c[1]["tolerance"], 107_374_182_400i64 / 100);
    let errs = cluster_errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("the kubelet's configz: not JSON"),
        "{errs:?}"
    );
}
