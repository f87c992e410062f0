//! A real containerd (Debian's package), run as root with a private configuration: its own
//! root, state and socket inside a copy of a fixture, the native snapshotter, no CNI. A tiny
//! OCI image built here is imported with `ctr -n k8s.io images import`, and the real binary,
//! run with `--root` on the copy, must list it over containerd's CRI socket as unused, with the
//! size containerd reports; and, having no network plugin, containerd's own CRI `Status` says
//! `NetworkReady=false`, which `check` reports as `runtime.not-ready` in containerd's words,
//! live and from a capture. containerd is killed and everything removed at the end; without
//! root, containerd, ctr or python3 the test says why and passes (fails under
//! `NODESCOPE_LIVE=required`, as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;

use common::{V2, Watched, copy_tree, fixture, with_executables};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// A real containerd serving CRI on `<root>/run/containerd/containerd.sock`, with its own root,
/// state and (empty) CNI directories in a scratch directory: no network plugin. `Err` is why
/// it cannot run here.
fn start_containerd(root: &Path) -> Result<(Containerd, PathBuf, tempfile::TempDir), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("containerd needs root".into());
    }
    for cmd in ["containerd", "ctr", "python3"] {
        if !have(cmd) {
            return Err(format!(
                "{cmd} is not installed (apt-get install containerd python3)"
            ));
        }
    }
    let sock = root.join("run/containerd/containerd.sock");
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
        Err(e) => return Err(format!("containerd does not start: {e}")),
    };
    let mut ctd = Containerd {
        child,
        _dog: dog,
        dir: work.path().to_path_buf(),
    };
    let ctr = |args: &[&str]| ctr(&sock, args);
    let started = Instant::now();
    while !ctr(&["version"]).status.success() {
        if started.elapsed() > Duration::from_secs(30) || ctd.child.try_wait().unwrap().is_some() {
            let log = std::fs::read_to_string(work.path().join("containerd.log")).unwrap();
            return Err(format!("containerd did not come up:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    Ok((ctd, sock, work))
}

/// `ctr --address SOCK --namespace k8s.io ARGS`.
fn ctr(sock: &Path, args: &[&str]) -> Output {
    Command::new("ctr")
        .arg("--address")
        .arg(sock)
        .args(["--namespace", "k8s.io"])
        .args(args)
        .watched_output()
        .unwrap()
}

#[test]
fn live_a_real_containerd_lists_an_imported_image_as_unused() {
    // The node: a fixture copy whose kubelet names unix:///run/containerd/containerd.sock.
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture(V2), root.path());
    with_executables(root.path());
    let (ctd, sock, work) = match start_containerd(root.path()) {
        Ok(c) => c,
        Err(why) => return common::live::skip_or_fail(&why),
    };
    let ctr = |args: &[&str]| ctr(&sock, args);
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

#[test]
fn live_containerd_without_a_network_plugin_is_not_ready_live_and_replayed() {
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture(V2), root.path());
    with_executables(root.path());
    let (ctd, _sock, work) = match start_containerd(root.path()) {
        Ok(c) => c,
        Err(why) => return common::live::skip_or_fail(&why),
    };
    let check = |args: &[&str]| -> Value {
        let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .args(args)
            .args(["--no-cluster", "check", "--format", "json"])
            .env_remove("NODESCOPE_ROOT")
            .watched_output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {o:?}"))
    };
    let not_ready = |r: &Value| -> Value {
        let f: Vec<&Value> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == "runtime.not-ready")
            .collect();
        assert_eq!(f.len(), 1, "{:#}", r["findings"]);
        f[0].clone()
    };
    let live = not_ready(&check(&["--root", root.path().to_str().unwrap()]));
    eprintln!("{}", serde_json::to_string_pretty(&live).unwrap());
    assert_eq!(live["severity"], "critical");
    // containerd's CRI plugin: NetworkReady false with reason NetworkPluginNotReady while no
    // CNI configuration loaded (containerd internal/cri/server/status.go).
    let title = live["title"].as_str().unwrap();
    assert!(
        title.starts_with(
            "the container runtime reports NetworkReady=false reason:NetworkPluginNotReady message:"
        ) && title.contains("cni"),
        "{title}"
    );
    let conds = live["evidence"]["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "RuntimeReady" && c["status"] == true)
    );

    // A capture keeps the runtime's answer: the bundle says the same without containerd.
    let bundle = work.path().join("node.tar.gz");
    let o = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--root", root.path().to_str().unwrap(), "--no-cluster"])
        .args(["capture", "-o", bundle.to_str().unwrap()])
        .env_remove("NODESCOPE_ROOT")
        .watched_output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    drop(ctd);
    let replayed = not_ready(&check(&["--bundle", bundle.to_str().unwrap()]));
    assert_eq!(replayed["title"], live["title"]);
}
