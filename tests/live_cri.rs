//! A real containerd (Debian's package), run as root with a private configuration: its own
//! root, state and socket inside a copy of a fixture, the native snapshotter, no CNI. A tiny
//! OCI image built here is imported with `ctr -n k8s.io images import`, and the real binary,
//! run with `--root` on the copy, must list it over containerd's CRI socket as unused, with the
//! size containerd reports. containerd is killed and everything removed at the end; without
//! root, containerd, ctr or python3 the test says why and passes (fails under
//! `NODESCOPE_LIVE=required`, as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

mod common;

use common::{V2, Watched, copy_tree, fixture};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "docker.io/library/nodescope-tiny:1";

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .watched_status()
        .is_ok_and(|s| s.success())
}

/// containerd, stopped and unmounted after the test whatever happens.
struct Containerd {
    child: Child,
    /// Kills containerd if the test hangs with it alive.
    _dog: common::watchdog::Dog,
    dir: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Nothing is mounted when no container ran; make sure, deepest first.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| Path::new(mp).starts_with(&self.dir))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A one-layer OCI image layout as a tar, named `name`; returns the bytes of its blobs.
fn oci_image(tar: &Path, name: &str) -> u64 {
    let script = r#"
import hashlib, io, json, sys, tarfile
blobs = {}
def add(t, name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0; i.mode = 0o644
    t.addfile(i, io.BytesIO(data))
def blob(data, media):
    d = hashlib.sha256(data).hexdigest(); blobs[d] = data
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
lb = io.BytesIO()
with tarfile.open(fileobj=lb, mode="w", format=tarfile.PAX_FORMAT) as l:
    add(l, "hello.txt", b"hello from a tiny image\n" * 4096)
layer = lb.getvalue()
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": blob(config, "application/vnd.oci.image.config.v1+json"),
    "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar")]}).encode()
md = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
md["annotations"] = {"io.containerd.image.name": sys.argv[2],
                     "org.opencontainers.image.ref.name": sys.argv[2].rsplit(":", 1)[1]}
md["platform"] = {"architecture": "amd64", "os": "linux"}
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [md]}).encode()
with tarfile.open(sys.argv[1], "w") as t:
    add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add(t, "index.json", index)
    for d, data in blobs.items():
        add(t, "blobs/sha256/" + d, data)
print(sum(len(b) for b in blobs.values()))
"#;
    let o = Command::new("python3")
        .args(["-c", script, tar.to_str().unwrap(), name])
        .watched_output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
}

#[test]
fn live_a_real_containerd_lists_an_imported_image_as_unused() {
    if !nix::unistd::geteuid().is_root() {
        return common::live::skip_or_fail("containerd needs root");
    }
    for cmd in ["containerd", "ctr", "python3"] {
        if !have(cmd) {
            return common::live::skip_or_fail(&format!(
                "{cmd} is not installed (apt-get install containerd python3)"
            ));
        }
    }
    // The node: a fixture copy whose kubelet names unix:///run/containerd/containerd.sock.
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture(V2), root.path());
    let sock = root.path().join("run/containerd/containerd.sock");
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    // containerd's own directories, apart from the node copy.
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();
    let config = format!(
        r#"version = 2
root = "{w}/root"
state = "{w}/state"
# No /opt/containerd, no overlay probing, no snapshotters but the native one.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{w}/cni/bin"
    conf_dir = "{w}/cni/conf"
"#,
        sock = sock.display()
    );
    let cfg = work.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let log = std::fs::File::create(work.path().join("containerd.log")).unwrap();
    let (child, dog) = match Command::new("containerd")
        .arg("--config")
        .arg(&cfg)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .watched_spawn(Duration::from_secs(300))
    {
        Ok(c) => c,
        Err(e) => {
            return common::live::skip_or_fail(&format!("containerd does not start: {e}"));
        }
    };
    let mut ctd = Containerd {
        child,
        _dog: dog,
        dir: work.path().to_path_buf(),
    };
    let ctr = |args: &[&str]| {
        Command::new("ctr")
            .arg("--address")
            .arg(&sock)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .watched_output()
            .unwrap()
    };
    let started = Instant::now();
    while !ctr(&["version"]).status.success() {
        if started.elapsed() > Duration::from_secs(30) || ctd.child.try_wait().unwrap().is_some() {
            let log = std::fs::read_to_string(work.path().join("containerd.log")).unwrap();
            return common::live::skip_or_fail(&format!("containerd did not come up:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let tar = work.path().join("tiny.tar");
    let bytes = oci_image(&tar, IMAGE);
    let o = ctr(&["images", "import", "--no-unpack", tar.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");

    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", root.path().to_str().unwrap()])
        .args(["--no-cluster", "disk", "--format", "json"])
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap();
    let r: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {o:?}"));
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&r["disk"]["cri"]).unwrap()
    );
    assert!(
        r["disk"]["cri"]["unavailable"].is_null(),
        "{}",
        r["disk"]["cri"]
    );
    let s = &r["images"];
    assert_eq!(s["source"], "CRI unix:///run/containerd/containerd.sock");
    assert_eq!(s["count"], 1);
    assert_eq!(s["unused"], 1);
    // containerd's CRI reports an image's size as the sum of its content: manifest, config
    // and layer blobs.
    assert_eq!(s["reclaimable_bytes"], bytes);
    assert_eq!(r["unused_images"][0]["names"][0], IMAGE);
    assert_eq!(r["unused_images"][0]["bytes"], bytes);
    let fs = s["filesystems"][0]["mountpoint"].as_str().unwrap();
    assert!(
        fs.ends_with("/root/io.containerd.snapshotter.v1.native"),
        "{fs}"
    );
    drop(ctd);
}
