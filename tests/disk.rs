//! The disk rules and `nodescope disk` on fixture bundles: each rule fires where its condition
//! holds, names what it must, and stays silent on the healthy nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

const BLOAT: &str = "disk-bloat-v2-containerd";
const CRIO: &str = "disk-imagefs-v1-crio";

fn disk_ids(r: &Value) -> Vec<String> {
    ids(r)
        .into_iter()
        .filter(|i| i.starts_with("disk."))
        .collect()
}

#[test]
fn healthy_nodes_have_no_disk_findings() {
    for f in [V1, V2] {
        let (code, r) = check_json(&fixture(f), &[]);
        assert_eq!(disk_ids(&r), Vec::<String>::new(), "{f}");
        assert_eq!(code, Some(0), "{f}");
    }
}

#[test]
fn the_bloated_containerd_node_fires_every_disk_rule_with_its_subjects() {
    let (code, r) = check_json(&fixture(BLOAT), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(r["errors"], serde_json::json!([]));
    let mut got = disk_ids(&r);
    got.sort();
    assert_eq!(
        got,
        [
            "disk.container-log-oversize",
            "disk.deleted-open-files",
            "disk.emptydir-large",
            "disk.imagefs-pressure",
            "disk.inode-exhaustion",
            "disk.nodefs-pressure",
            "disk.orphaned-pod-logs",
            "disk.orphaned-pod-volumes",
        ]
    );

    // nodefs: /var out of inodes (7012 free of 6553600 < 5%), critical; the bytes are fine.
    let n = finding(&r, "disk.nodefs-pressure");
    assert_eq!(n["severity"], "critical");
    assert_eq!(n["subject"]["path"], "/var/lib/kubelet");
    assert_eq!(n["evidence"]["mount_point"], "/var");
    let met: Vec<&str> = n["evidence"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["met"] == true)
        .map(|s| s["signal"].as_str().unwrap())
        .collect();
    assert_eq!(met, ["nodefs.inodesFree"]);

    // imagefs: containerd's snapshotter on its own xfs, 12% available < 15%.
    let i = finding(&r, "disk.imagefs-pressure");
    assert_eq!(i["severity"], "critical");
    assert_eq!(
        i["subject"]["path"],
        "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"
    );
    assert_eq!(i["evidence"]["mount_point"], "/var/lib/containerd");
    assert_eq!(i["evidence"]["image_gc_high_threshold_percent"], 85);

    let ie = finding(&r, "disk.inode-exhaustion");
    assert_eq!(ie["severity"], "critical");
    assert_eq!(ie["subject"]["path"], "/var");
    assert_eq!(ie["evidence"]["densest_dirs"][0]["entries"], 4100211);

    let d = finding(&r, "disk.deleted-open-files");
    assert_eq!(d["subject"]["pid"], 24671);
    assert_eq!(d["subject"]["namespace"], "shop");
    assert_eq!(d["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    assert_eq!(d["subject"]["container"], "nginx");
    // nginx sees /var/log/nginx; its mountinfo maps that emptyDir to the node's /var.
    assert_eq!(d["subject"]["path"], "/var");
    assert_eq!(
        d["evidence"]["holders"][0]["path"],
        "/var/log/nginx/access.log"
    );

    let o = finding(&r, "disk.orphaned-pod-logs");
    assert_eq!(o["subject"]["namespace"], "shop");
    assert_eq!(o["subject"]["pod"], "cart-7b9c5d4f8-zx9qw");

    let v = finding(&r, "disk.orphaned-pod-volumes");
    assert_eq!(
        v["subject"]["path"],
        "/var/lib/kubelet/pods/9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    );

    let l = finding(&r, "disk.container-log-oversize");
    assert_eq!(l["subject"]["container"], "nginx");
    assert_eq!(
        l["evidence"]["container_log_max_size_bytes"],
        10 * 1024 * 1024
    );

    let e = finding(&r, "disk.emptydir-large");
    assert_eq!(e["subject"]["pod"], "checkout-5f7c9d8b6-m4kq2");
    assert_eq!(e["evidence"]["volume"], "sessions");
}

#[test]
fn the_crio_node_has_imagefs_pressure_and_names_the_unused_images() {
    let (code, r) = check_json(&fixture(CRIO), &[]);
    assert_eq!(code, Some(2));
    let mut got = disk_ids(&r);
    got.sort();
    assert_eq!(
        got,
        ["disk.container-log-oversize", "disk.imagefs-pressure"]
    );
    let i = finding(&r, "disk.imagefs-pressure");
    assert_eq!(
        i["subject"]["path"],
        "/var/lib/containers/storage/overlay-images"
    );
    assert_eq!(i["evidence"]["runtime"], "cri-o");
    let unused: Vec<&str> = i["evidence"]["unused_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["names"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        unused,
        [
            "registry.example.com/payments/api:v1.8.2",
            "docker.io/library/python:3.12"
        ]
    );
}

/// The kubelet's test is strict (`threshold > available`) on a threshold resolved in float32;
/// within 5 points of one is a warning.
#[test]
fn nodefs_threshold_is_strict_and_near_means_within_five_points() {
    let set = |bavail: u64| {
        let c = Copy::of(V2);
        let p = "/nodescope-bundle.json";
        let mut meta: Value = serde_json::from_str(&c.read(p)).unwrap();
        // 26214400 blocks; the hard nodefs.available is 10% = 2621440 blocks exactly.
        meta["statvfs"]["/"]["bavail"] = bavail.into();
        c.write(p, &serde_json::to_string(&meta).unwrap());
        let (_, r) = check_json(&c.root, &[]);
        r
    };
    let met = |r: &Value, kind: &str| -> bool {
        finding(r, "disk.nodefs-pressure")["evidence"]["signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["signal"] == "nodefs.available" && s["kind"] == kind && s["met"] == true)
    };
    // 10% of 100 GiB in the kubelet's float32 arithmetic is 10737418560 bytes, 160 more than a
    // tenth: 2621440 blocks (exactly 10%) are already past it, 2621441 are not.
    let above = set(2_621_441);
    assert!(!met(&above, "hard"), "available >= threshold is not met");
    assert!(met(&above, "soft"), "10% is below the 15% soft threshold");
    let below = set(2_621_440);
    assert!(met(&below, "hard"), "float32 10% is above an exact tenth");
    assert_eq!(
        finding(&below, "disk.nodefs-pressure")["severity"],
        "critical"
    );
    // 17% available: above the soft 15%, within 5 points of it.
    let near = set(26_214_400 / 100 * 17);
    assert_eq!(
        finding(&near, "disk.nodefs-pressure")["severity"],
        "warning"
    );
    // 15% soft + 5 points = 20%: at 21% available, nothing.
    let far = set(26_214_400 / 100 * 21);
    assert!(!disk_ids(&far).contains(&"disk.nodefs-pressure".to_string()));
}

#[test]
fn disk_command_reports_filesystems_consumers_and_fixes() {
    let o = run(&["--bundle", fixture(BLOAT).to_str().unwrap(), "disk"]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "FILESYSTEMS",
        "TOP CONSUMERS",
        "FIXES",
        "nodefs.inodesFree<5% (hard, MET)",
        "imagefs.available<15% (hard, MET)",
        "3.4Gi  emptyDir",
        "1.4Gi  writable layer         shop/web-6d9f8c7b5-h2j4k/nginx",
        "deleted but open",
        "orphaned pod logs",
        "IMAGES (from CRI unix:///run/containerd/containerd.sock)",
        "16 images (37.5Gi), 11 unused (1 of them pinned, which prune keeps), 37.1Gi reclaimable by `crictl rmi --prune`",
        "11.8Gi  eaf65c7a0df7d  registry.example.com/ml/trainer:2024.11",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }

    let o = run(&[
        "--bundle",
        fixture(CRIO).to_str().unwrap(),
        "disk",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["schema"], "nodescope-disk/1");
    let fs = r["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["mount_point"] == "/var/lib/containers")
        .unwrap();
    assert_eq!(fs["roles"], serde_json::json!(["imagefs"]));
    let unused = r["unused_images"].as_array().unwrap();
    assert_eq!(unused.len(), 2);
    // 29360128 + 1153433600 bytes of layers.
    assert_eq!(unused[0]["bytes"], 1_182_793_728u64);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"].as_str().unwrap().starts_with("disk."))
    );
}

/// The containerd node's capture recorded what containerd answered over its CRI socket: the
/// images `crictl rmi --prune` would remove are named without containerd's bolt database.
#[test]
fn the_recorded_cri_answers_name_the_images_prune_frees() {
    let o = run(&[
        "--bundle",
        fixture(BLOAT).to_str().unwrap(),
        "disk",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &r["images"];
    assert_eq!(s["source"], "CRI unix:///run/containerd/containerd.sock");
    assert_eq!(s["count"], 16);
    assert_eq!(s["unused"], 11);
    assert_eq!(s["unused_pinned"], 1, "the sandbox image");
    assert_eq!(
        s["reclaimable_bytes"],
        12_670_418_944u64
            + 12_455_624_704
            + 6_871_947_264
            + 6_764_573_184
            + 286_261_248
            + 285_212_672
            + 281_018_368
            + 95_420_416
            + 70_534_521
            + 29_016_512
    );
    let names: Vec<&str> = r["unused_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["names"][0].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10);
    assert_eq!(names[0], "registry.example.com/ml/trainer:2024.11");
    assert!(!names.contains(&"registry.k8s.io/pause:3.10"), "pinned");
    assert!(
        !names.contains(&"docker.io/istio/proxyv2:1.23.2"),
        "used by running and exited containers"
    );
    let imgs = r["disk"]["images"]["images"].as_array().unwrap();
    let istio = imgs
        .iter()
        .find(|i| i["names"][0] == "docker.io/istio/proxyv2:1.23.2")
        .unwrap();
    assert_eq!(
        istio["used_by_containers"], 2,
        "istio-proxy and the exited istio-init"
    );
    // The same images in check's evidence for imagefs pressure.
    let (_, c) = check_json(&fixture(BLOAT), &[]);
    let i = finding(&c, "disk.imagefs-pressure");
    assert_eq!(i["evidence"]["unused_images"].as_array().unwrap().len(), 10);
}
