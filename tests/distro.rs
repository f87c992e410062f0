//! Every distribution nodescope knows, one fixture each, laid out from that project's own source
//! (fixtures/*/FIXTURE.md): k3s and MicroK8s, whose kubelet has no process of its own (it runs
//! inside `k3s-agent` and `kubelite`), and RKE2, k0s, kind, OpenShift, EKS (AL2 and AL2023), GKE
//! on COS, AKS (Ubuntu and Azure Linux), Talos, Bottlerocket and kubeadm (Debian and RHEL
//! packages). The kubelet is found, its settings come from the distribution's files, its log
//! from where the distribution writes it, and a finding that depends on that layout says so.

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
    for name in [
        "k3s-agent-v2-containerd",
        "microk8s-v2-containerd",
        "rke2-server-v2-containerd",
    ] {
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

/// One fixture per distribution, each laid out from that distribution's own source
/// (fixtures/<name>/FIXTURE.md): the distribution is recognised, the header names it, the
/// kubelet is found (never `node.kubelet-not-running`), and a finding whose exact text depends
/// on the distribution's layout (where its kubelet settings live, its runtime's paths) is there.
#[test]
fn every_distribution_fixture_is_recognised_and_its_layout_decides_a_finding() {
    // (fixture, distribution id, name in the header, finding, severity, exact title)
    let cases = [
        (
            "rke2-server-v2-containerd",
            "rke2",
            "RKE2",
            "disk.nodefs-pressure",
            "warning",
            "nodefs.available 7.0% (7Gi of 100Gi) near hard 5% on /",
        ),
        (
            "k0s-worker-v1-containerd",
            "k0s",
            "k0s",
            "memory.oom-race",
            "critical",
            "the kernel killed payments/api-7c8d9f6b5-r2t4y (pid 31240) for node memory at 2026-11-22T02:58:00Z; the kubelet saw pressure but evicted nothing before the kill",
        ),
        (
            "kind-v2-containerd",
            "kind",
            "kind",
            "memory.kernel-oom-kill",
            "critical",
            "nginx (pid 48213) in shop/web-6d9f8c7b5-h2j4k/nginx killed by its 256Mi limit 5m ago",
        ),
        (
            "openshift-v2-crio",
            "openshift",
            "OpenShift / OKD",
            "memory.kernel-oom-kill",
            "critical",
            "nginx (pid 48213) in shop/web-6d9f8c7b5-h2j4k/nginx killed by its 256Mi limit 5m ago",
        ),
        (
            "eks-al2-v1-containerd",
            "eks-al2",
            "Amazon EKS (Amazon Linux 2, bootstrap.sh)",
            "memory.oom-race",
            "critical",
            "the kernel killed payments/api-7c8d9f6b5-r2t4y (pid 31240) for node memory at 2026-11-22T02:58:00Z; the kubelet saw pressure but evicted nothing before the kill",
        ),
        (
            "eks-al2023-v2-containerd",
            "eks-al2023",
            "Amazon EKS (Amazon Linux 2023, nodeadm)",
            "disk.nodefs-pressure",
            "critical",
            "nodefs.available 12.0% (12Gi of 100Gi) < hard 15% on /; kubelet would evict shop/checkout-5f7c9d8b6-m4kq2 first",
        ),
        (
            "gke-cos-v2-containerd",
            "gke-cos",
            "GKE (Container-Optimized OS)",
            "memory.pressure",
            "warning",
            "memory.available 260Mi is within 10% of the hard threshold 250Mi",
        ),
        (
            "aks-ubuntu-v2-containerd",
            "aks",
            "AKS",
            "memory.pressure",
            "critical",
            "memory.available 700Mi is below the hard threshold 750Mi",
        ),
        (
            "aks-azurelinux-v2-containerd",
            "aks",
            "AKS",
            "memory.pressure",
            "critical",
            "memory.available 700Mi is below the hard threshold 750Mi",
        ),
        (
            "talos-v2-containerd",
            "talos",
            "Talos Linux",
            "memory.kernel-oom-kill",
            "critical",
            "nginx (pid 48213) in shop/web-6d9f8c7b5-h2j4k/nginx killed by its 256Mi limit 5m ago",
        ),
        (
            "bottlerocket-v2-containerd",
            "bottlerocket",
            "Bottlerocket",
            "memory.pressure",
            "critical",
            "memory.available 1.5Gi is below the hard threshold 1.6Gi",
        ),
        (
            "kubeadm-deb-v2-containerd",
            "kubeadm",
            "kubeadm",
            "disk.nodefs-pressure",
            "critical",
            "nodefs.available 18.0% (18Gi of 100Gi) < hard 20% on /; kubelet would evict shop/checkout-5f7c9d8b6-m4kq2 first",
        ),
        (
            "kubeadm-rhel-v1-crio",
            "kubeadm",
            "kubeadm",
            "disk.imagefs-pressure",
            "critical",
            "imagefs.available 22.0% (21.5Gi of 97.9Gi) < hard 25% on /; kubelet would evict kube-system/kube-flannel-ds-9xk2p first",
        ),
    ];
    for (name, id, header, rule, severity, title) in cases {
        let s = snapshot(name);
        assert_eq!(s["distribution"]["id"], id, "{name}");
        assert_eq!(s["distribution"]["name"], header, "{name}");
        let (_, r) = check_json(&fixture(name), &[]);
        assert!(
            !ids(&r).contains(&"node.kubelet-not-running".to_string()),
            "{name}"
        );
        let f = finding(&r, rule);
        assert_eq!(f["severity"], severity, "{name}");
        assert_eq!(f["title"], title, "{name}");
        let o = run(&["--bundle", fixture(name).to_str().unwrap(), "check"]);
        // The verdict is the first line, the node's header the second.
        let head = String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        let node = s["node"]["hostname"].as_str().unwrap();
        assert!(
            head.starts_with(&format!("nodescope  {node}  {header}  cgroup ")),
            "{name}: {head}"
        );
    }
}

/// The settings each distribution's mechanism gives the kubelet, as the fixtures lay them out.
#[test]
fn each_distribution_s_kubelet_settings_come_from_its_own_files() {
    let k = |name: &str| snapshot(name)["kubelet"].clone();
    // RKE2: the kubelet its own child process of rke2, with k3s's drop-in under rke2's data dir.
    let s = snapshot("rke2-server-v2-containerd");
    assert_eq!(
        s["distribution"]["evidence"][0],
        "process 987 rke2 (root, root-owned executable)"
    );
    assert_eq!(s["kubelet"]["pid"], 1043);
    assert_eq!(s["kubelet"]["embedded_in"], Value::Null);
    assert_eq!(
        s["kubelet"]["drop_ins"],
        serde_json::json!(["/var/lib/rancher/rke2/agent/etc/kubelet.conf.d/00-rke2-defaults.conf"])
    );
    // RKE2 writes the kubelet's log to its own file, not the journal.
    let events: Vec<(String, String)> = s["kubelet_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let log = "/var/lib/rancher/rke2/agent/logs/kubelet.log".to_string();
    assert_eq!(
        events,
        [
            (log.clone(), "attempting_to_reclaim".to_string()),
            (log, "reclaimed_without_eviction".to_string())
        ]
    );
    // k0s: the worker profile's file under /run/k0s, the kubelet's root under /var/lib/k0s.
    let c = k("k0s-worker-v1-containerd");
    assert_eq!(c["config_file"], "/run/k0s/kubelet/config.yaml");
    assert_eq!(c["config"]["root_dir"], "/var/lib/k0s/kubelet");
    assert_eq!(
        c["config"]["container_runtime_endpoint"],
        "unix:///run/k0s/containerd.sock"
    );
    // OpenShift: /etc/kubernetes/kubelet.conf is a KubeletConfiguration, plus the drop-in dir.
    let c = k("openshift-v2-crio");
    assert_eq!(c["config_file"], "/etc/kubernetes/kubelet.conf");
    assert_eq!(c["config"]["max_pods"], 250);
    assert_eq!(
        c["drop_ins"],
        serde_json::json!(["/etc/openshift/kubelet.conf.d/20-auto-sizing.conf"])
    );
    // EKS AL2023: nodeadm's config.json, the user's drop-in merged over it field by field.
    let c = k("eks-al2023-v2-containerd");
    assert_eq!(c["config_file"], "/etc/kubernetes/kubelet/config.json");
    assert_eq!(
        c["drop_ins"],
        serde_json::json!(["/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf"])
    );
    assert_eq!(
        c["config"]["eviction_hard"],
        serde_json::json!({"memory.available": {"quantity": "100Mi"},
            "nodefs.available": {"percent": 15.0}, "nodefs.inodesFree": {"percent": 5.0}})
    );
    // EKS AL2: bootstrap.sh's JSON file.
    let c = k("eks-al2-v1-containerd");
    assert_eq!(
        c["config_file"],
        "/etc/kubernetes/kubelet/kubelet-config.json"
    );
    assert_eq!(c["config"]["kube_reserved"]["memory"], "893Mi");
    // GKE: the config file under /home/kubernetes.
    assert_eq!(
        k("gke-cos-v2-containerd")["config_file"],
        "/home/kubernetes/kubelet-config.yaml"
    );
    // AKS: flags on Ubuntu (no file at all), the JSON file on Azure Linux.
    let c = k("aks-ubuntu-v2-containerd");
    assert_eq!(c["config_file"], Value::Null);
    assert_eq!(
        c["flags"]["eviction-hard"],
        "memory.available<750Mi,nodefs.available<10%,nodefs.inodesFree<5%"
    );
    assert_eq!(
        k("aks-azurelinux-v2-containerd")["config_file"],
        "/etc/default/kubeletconfig.json"
    );
    // Talos: machined's file; Bottlerocket: the settings' only threshold, a percentage.
    assert_eq!(
        k("talos-v2-containerd")["config_file"],
        "/etc/kubernetes/kubelet.yaml"
    );
    assert_eq!(
        k("bottlerocket-v2-containerd")["config"]["eviction_hard"],
        serde_json::json!({"memory.available": {"percent": 10.0}})
    );
    // kind: kubeadm's file with kind's disk thresholds at 0 % (disabled), no memory one.
    let c = k("kind-v2-containerd");
    assert_eq!(c["config_file"], "/var/lib/kubelet/config.yaml");
    assert_eq!(c["config"]["eviction_hard"], serde_json::json!({}));
    // kubeadm: the packages' extra-args file's flag replaces config.yaml's evictionHard.
    assert_eq!(
        k("kubeadm-deb-v2-containerd")["config"]["eviction_hard"],
        serde_json::json!({"memory.available": {"quantity": "500Mi"}, "nodefs.available": {"percent": 20.0}})
    );
}

/// The runtime paths each distribution uses decide where a kill or a filesystem is attributed.
#[test]
fn each_distribution_s_runtime_paths_attribute_the_findings() {
    // RKE2's containerd root (not k3s's, though the socket is /run/k3s/...).
    let (_, r) = check_json(&fixture("rke2-server-v2-containerd"), &[]);
    assert_eq!(
        finding(&r, "disk.imagefs-pressure")["evidence"]["path"],
        "/var/lib/rancher/rke2/agent/containerd/io.containerd.snapshotter.v1.overlayfs"
    );
    // kind: the pod's cgroup nested under cgroupRoot /kubelet.
    let (_, r) = check_json(&fixture("kind-v2-containerd"), &[]);
    assert_eq!(
        finding(&r, "memory.kernel-oom-kill")["evidence"]["oom_memcg"],
        "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pode7f8a9b0_c1d2_4e3f_9a4b_5c6d7e8f9a0b.slice"
    );
    assert!(ids(&r).contains(&"eviction.no-memory-threshold".to_string()));
    // OpenShift: CRI-O's scope.
    let (_, r) = check_json(&fixture("openshift-v2-crio"), &[]);
    let f = finding(&r, "memory.kernel-oom-kill");
    assert_eq!(
        f["evidence"]["task_memcg"],
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pode7f8a9b0_c1d2_4e3f_9a4b_5c6d7e8f9a0b.slice/crio-8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c.scope"
    );
    assert!(!ids(&r).contains(&"eviction.no-reserved".to_string()));
    // Talos: cgroupfs paths on cgroup v2, and the kubelet's log said to be out of reach.
    let (_, r) = check_json(&fixture("talos-v2-containerd"), &[]);
    assert_eq!(
        finding(&r, "memory.kernel-oom-kill")["evidence"]["task_memcg"],
        "/kubepods/burstable/pode7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b/8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c"
    );
    assert_eq!(
        r["errors"][0]["message"],
        "Talos Linux keeps the kubelet's log outside the node's files (Talos: `talosctl logs kubelet`): the kubelet's evictions cannot be timed"
    );
    // kubeadm on RHEL: CRI-O's image store.
    let (_, r) = check_json(&fixture("kubeadm-rhel-v1-crio"), &[]);
    assert_eq!(
        finding(&r, "disk.imagefs-pressure")["evidence"]["path"],
        "/var/lib/containers/storage/overlay-images"
    );
}

/// k0s logs the kubelet's lines inside its own logrus fields in the k0sworker journal; they are
/// read as the kubelet's own (the timeline shows the kubelet's message, not k0s's wrapper), and
/// EKS AL2's come from kubelet.service, with the hard threshold of bootstrap.sh's JSON file.
#[test]
fn the_kubelet_log_is_read_where_each_distribution_writes_it() {
    let (_, r) = check_json(&fixture("k0s-worker-v1-containerd"), &[]);
    let e = &finding(&r, "memory.oom-race")["evidence"];
    assert_eq!(e["kubelet_events_in_window"], 4);
    assert_eq!(e["timeline"][2]["source"], "journal");
    assert_eq!(
        e["timeline"][2]["event"],
        "\"Eviction manager: attempting to reclaim\" resourceName=\"memory\""
    );
    assert_eq!(
        e["timeline"][4]["event"],
        "\"Eviction manager: pods ranked for eviction\" pods=[\"payments/api-7c8d9f6b5-r2t4y\",\"kube-system/kube-proxy-q8w7e\",\"kube-system/kube-flannel-ds-9xk2p\",\"payments/ledger-0\"]"
    );
    assert_eq!(e["hard_threshold"], "100Mi");
    let (_, r) = check_json(&fixture("eks-al2-v1-containerd"), &[]);
    let e = &finding(&r, "memory.oom-race")["evidence"];
    assert_eq!(e["kubelet_events_in_window"], 4);
    assert_eq!(e["hard_threshold"], "100Mi");
    assert_eq!(e["timeline"][1]["source"], "journal");
}

/// `nodescope explain distributions` lists every distribution with how it was verified, and
/// every fixture it names exists with its FIXTURE.md.
#[test]
fn explain_lists_every_distribution_and_the_fixtures_that_verify_it() {
    let o = run(&["explain", "distributions"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(
            "Talos Linux (talos)\n  recognised by: os-release ID=talos\n  kubelet:       its own process\n  kubelet log:   not on the node's disk\n  verified:      fixture talos-v2-containerd\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "k0s (k0s)\n  recognised by: process k0s (root, root-owned executable); /var/lib/k0s; /etc/k0s\n"
        ),
        "{text}"
    );
    let mut named: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("verified:"))
        .flat_map(|v| v.split([' ', ',', ';', '(', ')']))
        .filter(|w| w.contains("-v1-") || w.contains("-v2-"))
        .collect();
    named.sort();
    named.dedup();
    assert_eq!(named.len(), 16, "{named:?}");
    for name in named {
        assert!(fixture(name).join("FIXTURE.md").is_file(), "{name}");
    }
    // A rule id still explains the rule, in any case.
    let o = run(&["explain", "DISTROS"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("RKE2 (rke2)"));
}

/// Under OpenRC k0s writes the same logrus lines to /var/log/k0sworker.log (k0s
/// docs/troubleshooting/logs.md); with no journal they are read from there, unwrapped, and
/// timed by the kubelet's own klog header.
#[test]
fn k0s_under_openrc_logs_the_kubelet_to_its_own_file() {
    let c = Copy::of("k0s-worker-v1-containerd");
    let mut meta: Value = serde_json::from_str(&c.read("nodescope-bundle.json")).unwrap();
    let lines: Vec<String> = meta["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(lines.len(), 5);
    meta.as_object_mut().unwrap().remove("journal");
    c.write("nodescope-bundle.json", &meta.to_string());
    c.write("var/log/k0sworker.log", &(lines.join("\n") + "\n"));
    let (_, r) = check_json(&c.root, &[]);
    let e = &finding(&r, "memory.oom-race")["evidence"];
    assert_eq!(
        e["why"],
        "the kubelet saw pressure but evicted nothing before the kill"
    );
    assert_eq!(e["timeline"][2]["source"], "/var/log/k0sworker.log");
    assert_eq!(e["timeline"][2]["time"], "2026-11-22T02:58:05.183991Z");
    assert_eq!(
        e["timeline"][2]["event"],
        "\"Eviction manager: attempting to reclaim\" resourceName=\"memory\""
    );
}
