//! The 3am screen (issue 22): the verdict comes first, one cause on a hundred pods reads as one
//! block, informational findings wait for `--verbose`, and the JSON still carries every finding
//! with its group.
//!
//! The busy node is generated here from `dns-v2-containerd`: its `shop/web` pod (deployed with
//! `dnsPolicy: Default`, see that fixture's FIXTURE.md) cloned 100 times, every file of the
//! pod (cgroup directories, processes, logs, the runtime's config.json) copied with a new pod
//! uid, container ids, pids, name and namespace, so each clone is what the kubelet and
//! containerd would have written for a pod of the same Deployment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// The `shop/web` pod of dns-v2-containerd: uid, container ids, processes, name.
const UID: &str = "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b";
const CIDS: [&str; 2] = [
    "7a0b3c6d9e2f5a8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b",
    "8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c",
];
const PIDS: [&str; 2] = ["24654", "24671"];
const POD: &str = "web-6d9f8c7b5-h2j4k";

/// Pods the busy node gets besides the fixture's own.
const CLONES: usize = 100;

/// The name and namespace of clone `i`, as in benches/parsers.rs.
fn clone_name(i: usize) -> (String, String) {
    (format!("bench-ns-{}", i % 7), format!("bench-pod-{i}"))
}

/// Every substitution that turns the web pod into clone `i`.
fn substitutions(i: usize) -> Vec<(String, String)> {
    let (ns, name) = clone_name(i);
    let uid = format!("e7f8a9b0-c1d2-4e3f-9a4b-{:012x}", i + 1);
    let mut s = vec![
        (UID.to_string(), uid.clone()),
        (UID.replace('-', "_"), uid.replace('-', "_")),
        (POD.to_string(), name),
        ("shop_".to_string(), format!("{ns}_")),
        ("\"shop\"".to_string(), format!("\"{ns}\"")),
    ];
    for (k, c) in CIDS.iter().enumerate() {
        s.push((c.to_string(), format!("{:064x}", 0xb000 + i * 2 + k)));
    }
    for (k, p) in PIDS.iter().enumerate() {
        s.push((p.to_string(), format!("{}", 400_000 + i * 2 + k)));
    }
    s
}

fn apply(text: &str, subs: &[(String, String)]) -> String {
    subs.iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// Whether a bundle path belongs to the web pod.
fn of_the_pod(rel: &str) -> bool {
    rel.contains(UID)
        || rel.contains(&UID.replace('-', "_"))
        || CIDS.iter().any(|c| rel.contains(c))
        || PIDS.iter().any(|p| rel.starts_with(&format!("proc/{p}/")))
        || rel.starts_with(&format!("var/log/containers/{POD}_"))
}

/// Every file and link under `dir`, relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if ft.is_dir() {
            walk(root, &e.path(), out);
        } else {
            out.push(rel);
        }
    }
}

/// dns-v2-containerd with [`CLONES`] more pods like shop/web.
fn busy_node() -> Copy {
    let copy = Copy::of("dns-v2-containerd");
    let mut files = Vec::new();
    walk(&copy.root, &copy.root, &mut files);
    let pod_files: Vec<&String> = files.iter().filter(|f| of_the_pod(f)).collect();
    assert!(pod_files.len() > 20, "the web pod's files: {pod_files:?}");
    for i in 0..CLONES {
        let subs = substitutions(i);
        for rel in &pod_files {
            let src = copy.root.join(rel);
            let dst = copy.root.join(apply(rel, &subs));
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let meta = fs::symlink_metadata(&src).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&src).unwrap();
                let target = apply(&target.to_string_lossy(), &subs);
                std::os::unix::fs::symlink(target, &dst).unwrap();
            } else {
                match fs::read_to_string(&src) {
                    Ok(text) => fs::write(&dst, apply(&text, &subs)).unwrap(),
                    Err(_) => {
                        fs::copy(&src, &dst).unwrap();
                    }
                }
            }
        }
    }
    copy
}

fn check(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["--bundle", root.to_str().unwrap(), "check"];
    args.extend_from_slice(extra);
    let o = run(&args);
    (
        o.status.code(),
        String::from_utf8(o.stdout).unwrap() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_hundred_pods_with_one_cause_are_one_block_under_forty_lines() {
    let node = busy_node();
    let (code, text) = check(&node.root, &[]);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 40, "{} lines:\n{text}", lines.len());
    // The verdict first: the counts, then the sentence of the worst cause (dns.nameserver-limit
    // sorts before dns.policy-default; both are warnings).
    assert!(
        lines[0].starts_with("103 warnings \u{2014} node node-a: 4 nameservers listed"),
        "{text}"
    );
    // Pod names sort as strings: bench-pod-0, bench-pod-14, bench-pod-21 in bench-ns-0.
    let block: Vec<&&str> = lines
        .iter()
        .skip_while(|l| !l.starts_with("WARN  dns.policy-default"))
        .take(3)
        .collect();
    assert_eq!(
        block,
        [
            &"WARN  dns.policy-default           101 pods: bench-ns-0/bench-pod-0, bench-ns-0/bench-pod-14, bench-ns-0/bench-pod-21, \u{2026} (+98)",
            &"      resolves with the node's nameservers (10.0.0.2 10.0.0.3 169.254.169.253) and no svc search domain: service names will not resolve",
            &"      fix: drop dnsPolicy: Default (ClusterFirst is the default); hostNetwork pods: ClusterFirstWithHostNet",
        ],
        "{text}"
    );
    assert_eq!(
        text.matches("dns.policy-default").count(),
        1,
        "one block: {text}"
    );
}

#[test]
fn expand_lists_every_subject_of_the_group() {
    let node = busy_node();
    let (_, text) = check(&node.root, &["--expand"]);
    assert!(
        text.contains("WARN  dns.policy-default           101 pods\n"),
        "{text}"
    );
    for i in 0..CLONES {
        let (ns, name) = clone_name(i);
        assert!(
            text.contains(&format!("\n      - {ns}/{name}\n")),
            "{ns}/{name}: {text}"
        );
    }
    assert!(
        text.contains("\n      - shop/web-6d9f8c7b5-h2j4k\n"),
        "{text}"
    );
}

#[test]
fn json_keeps_one_finding_per_pod_each_with_its_group() {
    let node = busy_node();
    let (_, v) = check_json(&node.root, &[]);
    let policy: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "dns.policy-default")
        .collect();
    assert_eq!(policy.len(), CLONES + 1);
    let group = policy[0]["group"].as_str().unwrap();
    assert!(group.starts_with("dns.policy-default:"), "{group}");
    assert!(policy.iter().all(|f| f["group"] == group));
    // Another rule, another group; the key does not depend on the node's size.
    let limit = finding(&v, "dns.nameserver-limit")["group"]
        .as_str()
        .unwrap();
    assert_ne!(limit, group);
    let (_, small) = check_json(&fixture("dns-v2-containerd"), &[]);
    assert_eq!(finding(&small, "dns.policy-default")["group"], group);
}

#[test]
fn healthy_fixtures_say_ok_first_and_exit_0() {
    for (name, node) in [(V1, "node-b"), (V2, "node-a")] {
        let (code, text) = check(&fixture(name), &[]);
        assert_eq!(code, Some(0), "{name}: {text}");
        let first = text.lines().next().unwrap();
        let rest = first
            .strip_prefix(&format!("OK \u{2014} no problem found on {node} ("))
            .unwrap_or_else(|| panic!("{name}: {text}"));
        // "(50 checks, 0.04 s)": the number of rules and the time, both real.
        let (checks, secs) = rest
            .trim_end_matches(" s)")
            .split_once(" checks, ")
            .unwrap();
        assert!(checks.parse::<usize>().unwrap() >= 30, "{first}");
        assert!(secs.parse::<f64>().unwrap() < 30.0, "{first}");
        // The informational eviction order waits for --verbose.
        assert!(!text.contains("memory.eviction-order"), "{name}: {text}");
        assert!(text.contains("--verbose shows the info"), "{name}: {text}");
        let (code, verbose) = check(&fixture(name), &["--verbose"]);
        assert_eq!(code, Some(0));
        assert!(
            verbose.contains("INFO  memory.eviction-order"),
            "{name}: {verbose}"
        );
    }
}

#[test]
fn the_verdict_names_the_worst_finding() {
    let (code, text) = check(&fixture("oom-memcg-v2-systemd"), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        text.lines().next().unwrap(),
        "1 critical, 1 warning \u{2014} nginx (pid 48213) in shop/web-6d9f8c7b5-h2j4k/nginx killed by its 256Mi limit 5m ago"
    );
}

#[test]
fn a_pending_gpu_pod_is_reported_by_its_candidate_nodes_or_with_cluster() {
    // gpu-pending's cluster (three Pending GPU pods, GPU node node-a) seen from a node without
    // GPUs: the GPU node renamed gpu-a, this node (healthy v2, node-a) no longer in the list.
    let node = Copy::of(V2);
    copy_tree(
        &fixture("gpu-pending").join("cluster"),
        &node.path("cluster"),
    );
    for f in ["nodes.json", "pods.json", "events.json"] {
        let p = format!("cluster/{f}");
        if node.path(&p).exists() {
            let text = node.read(&p).replace("node-a", "gpu-a");
            node.write(&p, &text);
        }
    }
    let (code, v) = check_json(&node.root, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert!(!ids(&v).contains(&"gpu.pending-pod".to_string()), "{v:#}");
    let (code, v) = check_json(&node.root, &["--cluster"]);
    assert_eq!(code, Some(1));
    let pending: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "gpu.pending-pod")
        .collect();
    assert_eq!(pending.len(), 3, "{v:#}");
    assert!(
        pending
            .iter()
            .all(|f| f["evidence"]["candidate_nodes"] == serde_json::json!(["gpu-a"]))
    );
    // On the GPU node itself, no flag is needed.
    let (_, v) = check_json(&fixture("gpu-pending"), &[]);
    assert_eq!(
        ids(&v).iter().filter(|i| *i == "gpu.pending-pod").count(),
        3
    );
}
