//! Distributions whose kubelet has no process of its own: k3s (inside `k3s-agent`) and
//! MicroK8s (inside `kubelite`). Their fixtures are laid out from each project's own source
//! (fixtures/*/FIXTURE.md); the kubelet is found, its settings come from the distribution's
//! files, and a finding that depends on those settings says so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

fn snapshot(name: &str) -> Value {
    let o = run(&["--bundle", fixture(name).to_str().unwrap(), "snapshot"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", ids(report)))
}

#[test]
fn k3s_agent_embeds_the_kubelet_and_its_drop_in_sets_the_thresholds() {
    let s = snapshot("k3s-agent-v2-containerd");
    assert_eq!(s["distribution"]["id"], "k3s");
    assert_eq!(
        s["distribution"]["evidence"][0],
        "the kubelet runs inside process 1043 (k3s-agent)"
    );
    let k = &s["kubelet"];
    assert_eq!(k["pid"], 1043);
    assert_eq!(k["embedded_in"], "k3s-agent");
    assert_eq!(
        k["drop_ins"],
        serde_json::json!(["/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf"])
    );
    assert_eq!(
        k["config_sources"],
        serde_json::json!(["/etc/rancher/k3s/config.yaml"])
    );
    let c = &k["config"];
    // From the drop-in: only the disk thresholds, at 5 %; no memory.available at all.
    assert_eq!(
        c["eviction_hard"],
        serde_json::json!({"imagefs.available": {"percent": 5.0}, "nodefs.available": {"percent": 5.0}})
    );
    assert_eq!(c["fail_swap_on"], false);
    assert_eq!(
        c["container_runtime_endpoint"],
        "unix:///run/k3s/containerd/containerd.sock"
    );
    // From config.yaml's kubelet-arg: flags win over the drop-in.
    assert_eq!(c["max_pods"], 150);
    assert_eq!(c["system_reserved"]["memory"], "512Mi");

    let (code, r) = check_json(&fixture("k3s-agent-v2-containerd"), &[]);
    assert_eq!(code, Some(1));
    assert!(!ids(&r).contains(&"node.kubelet-not-running".to_string()));
    // 7 % available: near k3s's 5 %, where kubeadm's 10 % default would be met.
    let f = finding(&r, "disk.nodefs-pressure");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["evidence"]["signals"][0]["threshold"], "5%");
    assert_eq!(f["evidence"]["signals"][0]["met"], false);
    // The image filesystem is k3s's containerd root, not containerd's default.
    assert_eq!(
        finding(&r, "disk.imagefs-pressure")["evidence"]["path"],
        "/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs"
    );
    // k3s's drop-in sets evictionHard for the disks only: no memory threshold at all, and the
    // fix goes where k3s keeps the user's kubelet flags.
    let f = finding(&r, "eviction.no-memory-threshold");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        f["evidence"]["files"],
        serde_json::json!([
            "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf",
            "/etc/rancher/k3s/config.yaml"
        ])
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("to the kubelet-arg list of /etc/rancher/k3s/config.yaml"),
        "{}",
        f["remedy"]
    );
}

#[test]
fn microk8s_kubelite_embeds_the_kubelet_and_its_args_file_sets_the_thresholds() {
    let s = snapshot("microk8s-v2-containerd");
    assert_eq!(s["distribution"]["id"], "microk8s");
    let k = &s["kubelet"];
    assert_eq!(k["embedded_in"], "kubelite");
    assert_eq!(
        k["config_sources"],
        serde_json::json!(["/var/snap/microk8s/current/args/kubelet"])
    );
    let c = &k["config"];
    // The snap's variables expanded, the shell's quotes removed.
    assert_eq!(c["root_dir"], "/var/snap/microk8s/common/var/lib/kubelet");
    assert_eq!(
        c["container_runtime_endpoint"],
        "/var/snap/microk8s/common/run/containerd.sock"
    );
    assert_eq!(
        c["eviction_hard"]["nodefs.available"],
        serde_json::json!({"quantity": "1Gi"})
    );
    assert_eq!(
        c["eviction_hard"]["memory.available"],
        serde_json::json!({"quantity": "100Mi"})
    );

    let (code, r) = check_json(&fixture("microk8s-v2-containerd"), &[]);
    assert_eq!(code, Some(2));
    assert!(!ids(&r).contains(&"node.kubelet-not-running".to_string()));
    // 0.9 GiB available under the args file's absolute 1Gi, in the kubelet's snap directory.
    let f = finding(&r, "disk.nodefs-pressure");
    assert_eq!(f["severity"], "critical");
    assert_eq!(
        f["evidence"]["path"],
        "/var/snap/microk8s/common/var/lib/kubelet"
    );
    assert_eq!(f["evidence"]["signals"][0]["threshold"], "1Gi");
    assert_eq!(f["evidence"]["signals"][0]["met"], true);
    assert_eq!(
        finding(&r, "disk.imagefs-pressure")["evidence"]["path"],
        "/var/snap/microk8s/common/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"
    );
}

/// The header names a known distribution; a plain kubelet's node says nothing new.
#[test]
fn the_text_header_names_the_distribution() {
    for (name, want) in [
        ("k3s-agent-v2-containerd", Some("node-a  k3s  cgroup")),
        ("microk8s-v2-containerd", Some("node-a  MicroK8s  cgroup")),
        ("healthy-v2-systemd-containerd", None),
    ] {
        let o = run(&["--bundle", fixture(name).to_str().unwrap(), "check"]);
        // The verdict is the first line, the node's header the second.
        let head = String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        match want {
            Some(w) => assert!(head.contains(w), "{name}: {head}"),
            None => assert!(
                head.starts_with("nodescope  node-a  cgroup"),
                "{name}: {head}"
            ),
        }
    }
}

/// Live: a real process named as k3s names its agent (`k3s-agent`, a root-owned executable run
/// by root) in a PID namespace whose /proc is mounted inside a scratch root, with k3s's config
/// files under that root; before it, an impostor of the same name that uid 65534 runs from a
/// binary it owns. nodescope finds the kubelet in the real one, reads its drop-in and
/// `kubelet-arg`, and ignores the impostor (named in `untrusted_daemons`).
#[test]
fn live_a_k3s_agent_process_is_taken_for_the_kubelet_and_an_impostor_is_not() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    if !nix::unistd::Uid::effective().is_root() {
        return common::live::skip_or_fail("needs root (a PID namespace, a procfs mount)");
    }
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let (Some(sleep), true) = (
        sleep,
        Command::new("setpriv")
            .arg("--version")
            .watched_output()
            .is_ok(),
    ) else {
        return common::live::skip_or_fail("needs sleep and setpriv (util-linux)");
    };
    let d = tempfile::Builder::new()
        .prefix(&format!("nodescope-k3s-{}-", common::live::random_hex(4)))
        .tempdir()
        .unwrap();
    let root = d.path();
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    };
    std::fs::create_dir(root.join("proc")).unwrap();
    put(
        "var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
         evictionHard:\n  imagefs.available: 5%\n  nodefs.available: 5%\nfailSwapOn: false\n",
    );
    put(
        "etc/rancher/k3s/config.yaml",
        "kubelet-arg:\n  - \"max-pods=77\"\n",
    );
    // The real agent: root's, from a root-owned 0755 binary (comm = the exec'd file's name).
    std::fs::create_dir(root.join("bin")).unwrap();
    let agent = root.join("bin/k3s-agent");
    std::fs::copy(sleep, &agent).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The impostor: the same name, a copy uid 65534 owns, run as 65534.
    let own = root.join("nobody");
    std::fs::create_dir(&own).unwrap();
    let impostor = own.join("k3s-agent");
    std::fs::copy(sleep, &impostor).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(&impostor, Some(65534.into()), Some(65534.into())).unwrap();
    let script = format!(
        "setpriv --reuid 65534 --regid 65534 --clear-groups {imp} 60 & sleep 0.2; \
         {agent} 60 & sleep 0.3; exec {bin} --root {root} snapshot",
        imp = impostor.display(),
        agent = agent.display(),
        bin = env!("CARGO_BIN_EXE_nodescope"),
        root = root.display(),
    );
    let mut proc_mount = std::ffi::OsString::from("--mount-proc=");
    proc_mount.push(root.join("proc"));
    let o = Command::new("unshare")
        .args(["--pid", "--fork", "--mount"])
        .arg(proc_mount)
        .args(["sh", "-c", &script])
        .output_within(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let k = &s["kubelet"];
    assert_eq!(
        k["embedded_in"], "k3s-agent",
        "{:#?}",
        s["untrusted_daemons"]
    );
    assert_eq!(s["distribution"]["id"], "k3s");
    assert_eq!(k["config"]["max_pods"], 77);
    assert_eq!(
        k["config"]["eviction_hard"]["nodefs.available"],
        serde_json::json!({"percent": 5.0})
    );
    let untrusted = s["untrusted_daemons"].as_array().unwrap();
    assert_eq!(untrusted.len(), 1, "{untrusted:#?}");
    assert_eq!(untrusted[0]["claims"], "k3s-agent");
    assert_eq!(untrusted[0]["reason"], "runs as uid 65534");
    assert!(
        k["pid"].as_u64() != untrusted[0]["pid"].as_u64(),
        "the kubelet is not the impostor"
    );
}

/// Without /var/log/pods (and /var/log/containers), pods are still named from the OCI specs
/// in each distribution's own containerd state directory (/run/k3s/containerd for k3s,
/// the snap's for MicroK8s), not only from containerd's default /run/containerd.
#[test]
fn pods_are_named_from_the_distributions_containerd_state() {
    for name in ["k3s-agent-v2-containerd", "microk8s-v2-containerd"] {
        let c = Copy::of(name);
        for d in ["var/log/pods", "var/log/containers"] {
            let _ = std::fs::remove_dir_all(c.root.join(d));
        }
        let o = run(&["--bundle", c.root.to_str().unwrap(), "snapshot"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut pods: Vec<String> = s["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p["namespace"].as_str().unwrap_or("?"),
                    p["name"].as_str().unwrap_or("?")
                )
            })
            .collect();
        pods.sort();
        assert_eq!(
            pods,
            [
                "kube-system/coredns-7db6d8ff4d-x2x7b",
                "kube-system/kube-proxy-7k2p9",
                "shop/checkout-5f7c9d8b6-m4kq2",
                "shop/web-6d9f8c7b5-h2j4k"
            ],
            "{name}"
        );
    }
}
