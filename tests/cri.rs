//! The runtime's images over a real CRI socket: a stand-in runtime (k8s-cri's server traits
//! over tonic, tests/common/cri_server.rs) serves canned images and containers on a unix
//! socket inside a copy of a fixture, and the real binary, run with `--root` on that copy,
//! must report exactly the images `crictl rmi --prune` would remove, ask nothing but read-only
//! calls, record the answers in a capture, and give up on a socket that never answers within
//! its deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;

use common::cri_server::{Canned, CriServer, condition, container, fs, image};
use common::{V2, Watched, copy_tree, fixture, with_executables};
use k8s_cri::v1::ContainerState;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SOCK: &str = "run/containerd/containerd.sock";
const IMAGEFS: &str = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs";

fn id(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// Eight images: two run, one an exited batch job still holds, one a container created by its
/// short name (`busybox`) holds, one a container created by image id holds; the pinned sandbox
/// image and three others are unused, and of those prune removes the three.
fn canned() -> Canned {
    let mut untagged = image(&id('7'), &[], 9_000_000, false);
    untagged.repo_digests = vec![format!(
        "registry.example.com/shop/checkout@sha256:{}",
        "7".repeat(64)
    )];
    Canned {
        images: vec![
            image(
                &id('1'),
                &["docker.io/library/nginx:1.27.3"],
                72_000_000,
                false,
            ),
            image(
                &id('2'),
                &["docker.io/library/nginx:1.25.3"],
                70_000_000,
                false,
            ),
            image(&id('3'), &["registry.k8s.io/pause:3.10"], 320_000, true),
            image(
                &id('4'),
                &["registry.example.com/batch/etl:0.9.1"],
                250_000_000,
                false,
            ),
            image(
                &id('5'),
                &["docker.io/library/busybox:latest"],
                4_000_000,
                false,
            ),
            image(
                &id('6'),
                &["registry.example.com/shop/checkout:2.13.0"],
                412_000_000,
                false,
            ),
            untagged,
            image(
                &id('8'),
                &["registry.k8s.io/kube-proxy:v1.31.4"],
                30_000_000,
                false,
            ),
        ],
        containers: vec![
            container(
                "c1",
                "nginx",
                "docker.io/library/nginx:1.27.3",
                &id('1'),
                ContainerState::ContainerRunning,
            ),
            container(
                "c4",
                "etl",
                "registry.example.com/batch/etl:0.9.1",
                &id('4'),
                ContainerState::ContainerExited,
            ),
            container(
                "c5",
                "debug",
                "busybox",
                "",
                ContainerState::ContainerCreated,
            ),
            container(
                "c8",
                "kube-proxy",
                &id('8'),
                &id('8'),
                ContainerState::ContainerRunning,
            ),
        ],
        image_filesystems: vec![fs(IMAGEFS, 847_320_000, 41_230)],
        status: Some(vec![
            condition("RuntimeReady", true, "", ""),
            condition("NetworkReady", true, "", ""),
        ]),
    }
}

/// A fixture copy to run `--root` on: the containerd node, whose kubelet names
/// `unix:///run/containerd/containerd.sock` on its command line.
fn root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture(V2), d.path());
    with_executables(d.path());
    std::fs::create_dir_all(d.path().join("run/containerd")).unwrap();
    d
}

fn nodescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap()
}

fn disk_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--no-cluster", "disk", "--format", "json"]);
    let o = nodescope(&a);
    assert!(o.status.code().is_some_and(|c| c < 3), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn assert_images(r: &Value) {
    let s = &r["images"];
    assert_eq!(
        s["source"], "CRI unix:///run/containerd/containerd.sock",
        "{s}"
    );
    assert_eq!(s["count"], 8);
    assert_eq!(
        s["unused"], 4,
        "nginx 1.25.3, pause, checkout 2.13.0, untagged"
    );
    assert_eq!(s["unused_pinned"], 1);
    assert_eq!(
        s["reclaimable_bytes"],
        70_000_000u64 + 412_000_000 + 9_000_000
    );
    assert_eq!(s["filesystems"][0]["mountpoint"], IMAGEFS);
    assert_eq!(s["filesystems"][0]["used_bytes"], 847_320_000u64);
    assert_eq!(s["filesystems"][0]["inodes_used"], 41_230);
    let unused: Vec<(&str, u64)> = r["unused_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        unused,
        [
            (id('6').as_str(), 412_000_000),
            (id('2').as_str(), 70_000_000),
            (id('7').as_str(), 9_000_000)
        ]
    );
    let untagged = &r["unused_images"][2]["names"][0];
    assert!(
        untagged.as_str().unwrap().contains("@sha256:"),
        "an untagged image is named by its digest: {untagged}"
    );
    // Per image, in the snapshot: who uses it.
    let imgs = r["disk"]["images"]["images"].as_array().unwrap();
    let by_id = |c: char| imgs.iter().find(|i| i["id"] == id(c)).unwrap();
    assert_eq!(
        by_id('5')["used_by_containers"],
        1,
        "busybox is docker.io/library/busybox:latest"
    );
    assert_eq!(
        by_id('4')["in_use"],
        true,
        "an exited container still holds its image"
    );
    assert_eq!(by_id('3')["pinned"], true);
}

#[test]
fn the_runtime_over_its_socket_names_what_crictl_rmi_prune_frees() {
    let root = root();
    let srv = CriServer::start(&root.path().join(SOCK), canned());
    let r = disk_json(&["--root", root.path().to_str().unwrap()]);
    assert_images(&r);
    assert_eq!(
        r["disk"]["cri"]["endpoint"],
        "unix:///run/containerd/containerd.sock"
    );
    assert!(
        r["disk"]["cri"]["unavailable"].is_null(),
        "{}",
        r["disk"]["cri"]
    );

    // Read-only calls, and all four of them.
    let mut calls = srv.calls();
    calls.sort();
    calls.dedup();
    assert_eq!(
        calls,
        ["image_fs_info", "list_containers", "list_images", "status"]
    );
    assert_eq!(
        r["disk"]["cri"]["status"][1],
        serde_json::json!({"type": "NetworkReady", "status": true, "reason": "", "message": ""})
    );

    let o = nodescope(&[
        "--root",
        root.path().to_str().unwrap(),
        "--no-cluster",
        "disk",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "IMAGES (from CRI unix:///run/containerd/containerd.sock)",
        "8 images (808Mi), 4 unused (1 of them pinned, which prune keeps), 468Mi reclaimable by `crictl rmi --prune`",
        &format!("image filesystem {IMAGEFS}: 808Mi used by images, 41k inodes"),
        "393Mi  6666666666666  registry.example.com/shop/checkout:2.13.0",
        "crictl rmi --prune: removes every image no container uses",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}

#[test]
fn a_capture_records_the_runtime_answers_and_replays_them() {
    let root = root();
    let srv = CriServer::start(&root.path().join(SOCK), canned());
    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("node.tar.gz");
    let o = nodescope(&[
        "--root",
        root.path().to_str().unwrap(),
        "--no-cluster",
        "capture",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    drop(srv);
    // The runtime is gone; the bundle still knows what it said.
    let r = disk_json(&["--bundle", bundle.to_str().unwrap()]);
    assert_images(&r);
}

#[test]
fn a_socket_that_never_answers_is_a_reason_within_the_deadline() {
    let root = root();
    // Listening, never accepting: connect() succeeds into the backlog, and nothing answers.
    let _listener = std::os::unix::net::UnixListener::bind(root.path().join(SOCK)).unwrap();
    let started = Instant::now();
    let r = disk_json(&["--root", root.path().to_str().unwrap()]);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "a dead runtime held nodescope for {took:?}"
    );
    let why = r["disk"]["cri"]["unavailable"].as_str().unwrap();
    assert!(why.contains(" within "), "{why}");
    assert!(r["images"].is_null());
    let note = r["unused_images_note"].as_str().unwrap();
    assert!(note.contains(why), "{note}");
    let err = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/run/containerd/containerd.sock")
        .unwrap_or_else(|| panic!("no CRI error in {}", r["errors"]));
    assert_eq!(err["kind"], "timeout", "{err}");
}

#[test]
fn without_a_socket_the_runtime_is_not_asked_and_nothing_is_an_error() {
    let root = root();
    let r = disk_json(&["--root", root.path().to_str().unwrap()]);
    assert!(
        r["disk"]["cri"]["unavailable"]
            .as_str()
            .unwrap()
            .starts_with("no CRI socket at unix:///run/containerd/containerd.sock"),
        "{}",
        r["disk"]["cri"]
    );
    assert!(
        !r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").starts_with("CRI")),
        "{}",
        r["errors"]
    );
    assert!(Path::new(root.path()).join("proc").is_dir());
}
