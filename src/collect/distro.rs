//! The distributions nodescope knows, and which one runs the node.
//!
//! A profile says where a distribution keeps what the collectors read: where the kubelet runs
//! (its own process, or inside k3s or MicroK8s's `kubelite`), where its settings come from when
//! there is no command line to read, which journal units and log files carry its lines, and
//! its runtime socket and kubeconfig. Each fact cites the upstream file it was read from;
//! docs/distributions.md is the table for people.
//!
//! Detection trusts what it reads no more than the kubelet collector does: a process marks a
//! distribution only when [`super::trust::trusted_daemon`] believes it (root, outside any pod,
//! root-owned executable). os-release and marker files only name the distribution; nothing is
//! read because of them.

use super::trust;
use crate::model::Process;
use crate::model::distro::Distribution;
use crate::model::kubelet::KubeletInfo;
use crate::source::Host;

/// Where a distribution keeps the kubelet and its logs.
#[derive(Debug)]
pub struct Profile {
    pub id: &'static str,
    pub name: &'static str,
    /// `comm` of a daemon that marks the distribution.
    pub processes: &'static [&'static str],
    /// `/etc/os-release` `ID` values (`VERSION_ID` prefix after `:` when it matters).
    pub os_ids: &'static [&'static str],
    /// Files or directories whose presence marks it.
    pub files: &'static [&'static str],
    /// `comm` of the processes the kubelet runs inside, when it has no process of its own.
    pub embeds_kubelet: &'static [&'static str],
    /// How the embedded kubelet's flags are found (nothing when it has its own command line).
    pub embedded_args: EmbeddedArgs,
    /// Journal units that carry the kubelet's lines, in the order asked.
    pub journal_units: &'static [&'static str],
    /// Log files the kubelet writes to instead of the journal.
    pub log_files: &'static [&'static str],
    /// How nodescope was shown to read this distribution right: the fixture bundle laid out
    /// from its sources (fixtures/<name>/FIXTURE.md), and any live test.
    pub verified: &'static str,
}

/// Where an embedded kubelet's settings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedArgs {
    /// The kubelet has its own process and command line.
    None,
    /// k3s: the kubelet flags k3s always passes, its `kubelet.conf.d` drop-in directory, then
    /// `kubelet-arg` lists of `/etc/rancher/k3s/config.yaml` and `config.yaml.d/*.yaml`.
    K3s,
    /// MicroK8s: one flag per line in `/var/snap/microk8s/current/args/kubelet`, with the
    /// snap's `${SNAP_DATA}`-style variables.
    MicroK8s,
}

const KUBELET_UNIT: &[&str] = &["kubelet.service"];

/// Every known distribution, most specific first: the first whose markers are present wins.
pub const PROFILES: &[Profile] = &[
    // k3s-io/k3s cmd/k3s/main.go (exec of the `k3s-server`/`k3s-agent` symlink: comm),
    // pkg/daemons/agent/agent.go (the kubelet embedded), install.sh (units k3s.service,
    // k3s-agent.service).
    Profile {
        id: "k3s",
        name: "k3s",
        processes: &["k3s-server", "k3s-agent"],
        os_ids: &[],
        files: &["/etc/rancher/k3s", "/var/lib/rancher/k3s"],
        embeds_kubelet: &["k3s-server", "k3s-agent"],
        embedded_args: EmbeddedArgs::K3s,
        journal_units: &["k3s.service", "k3s-agent.service"],
        log_files: &["/var/log/k3s.log"],
        verified: "fixture k3s-agent-v2-containerd; live test (a root k3s-agent process and an impostor)",
    },
    // canonical/microk8s snap/snapcraft.yaml (daemon-kubelite), microk8s-resources/
    // wrappers/run-kubelite-with-args, default-args/kubelite (--kubelet-args-file).
    Profile {
        id: "microk8s",
        name: "MicroK8s",
        processes: &["kubelite"],
        os_ids: &[],
        files: &["/var/snap/microk8s/current"],
        embeds_kubelet: &["kubelite"],
        embedded_args: EmbeddedArgs::MicroK8s,
        journal_units: &["snap.microk8s.daemon-kubelite.service"],
        log_files: &[],
        verified: "fixture microk8s-v2-containerd",
    },
    // rancher/rke2 pkg/rke2 (the kubelet a child process under data/<digest>/bin), its
    // agent logs directory: the kubelet writes agent/logs/kubelet.log, not the journal.
    Profile {
        id: "rke2",
        name: "RKE2",
        processes: &["rke2"],
        os_ids: &[],
        files: &["/etc/rancher/rke2", "/var/lib/rancher/rke2"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: &["rke2-server.service", "rke2-agent.service"],
        log_files: &["/var/lib/rancher/rke2/agent/logs/kubelet.log"],
        verified: "fixture rke2-server-v2-containerd",
    },
    // k0sproject/k0s pkg/component/worker/kubelet.go (child /var/lib/k0s/bin/kubelet),
    // the k0sworker/k0scontroller units of pkg/install.
    Profile {
        id: "k0s",
        name: "k0s",
        processes: &["k0s"],
        os_ids: &[],
        files: &["/var/lib/k0s", "/etc/k0s"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: &["k0sworker.service", "k0scontroller.service"],
        // Under OpenRC k0s logs to a file (k0s docs/troubleshooting/logs.md names
        // /var/log/k0sworker.log; the controller's follows the same pattern).
        log_files: &["/var/log/k0sworker.log", "/var/log/k0scontroller.log"],
        verified: "fixture k0s-worker-v1-containerd",
    },
    // openshift/machine-config-operator templates/common/_base/units/kubelet.service.yaml
    // (kubenswrapper, --config=/etc/kubernetes/kubelet.conf); os-release ID rhcos / scos.
    Profile {
        id: "openshift",
        name: "OpenShift / OKD",
        processes: &[],
        os_ids: &["rhcos", "scos"],
        files: &["/etc/openshift/kubelet.conf.d"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture openshift-v2-crio",
    },
    // bottlerocket-os/bottlerocket-core-kit: /usr/lib/os-release ID=bottlerocket,
    // /etc/kubernetes/kubelet/config rendered from the API settings.
    Profile {
        id: "bottlerocket",
        name: "Bottlerocket",
        processes: &[],
        os_ids: &["bottlerocket"],
        files: &[],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture bottlerocket-v2-containerd",
    },
    // siderolabs/talos: os-release ID=talos; the kubelet a container of the system
    // containerd, its log in machined's buffer (no journal).
    Profile {
        id: "talos",
        name: "Talos Linux",
        processes: &[],
        os_ids: &["talos"],
        files: &[],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: &[],
        log_files: &[],
        verified: "fixture talos-v2-containerd",
    },
    // awslabs/amazon-eks-ami nodeadm (AL2023): /usr/bin/nodeadm, /etc/kubernetes/kubelet/
    // config.json + config.json.d; os-release ID=amzn VERSION_ID=2023.
    Profile {
        id: "eks-al2023",
        name: "Amazon EKS (Amazon Linux 2023, nodeadm)",
        processes: &[],
        os_ids: &["amzn:2023"],
        files: &["/usr/bin/nodeadm"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture eks-al2023-v2-containerd",
    },
    // awslabs/amazon-eks-ami templates/al2 (tag v20260304): /etc/eks/bootstrap.sh,
    // /etc/kubernetes/kubelet/kubelet-config.json; os-release ID=amzn VERSION_ID=2.
    Profile {
        id: "eks-al2",
        name: "Amazon EKS (Amazon Linux 2, bootstrap.sh)",
        processes: &[],
        os_ids: &["amzn:2"],
        files: &["/etc/eks/bootstrap.sh"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture eks-al2-v1-containerd",
    },
    // kubernetes/kubernetes cluster/gce/gci/configure-helper.sh: /home/kubernetes/
    // kubelet-config.yaml, /home/kubernetes/bin/kubelet; Container-Optimized OS ID=cos.
    Profile {
        id: "gke-cos",
        name: "GKE (Container-Optimized OS)",
        processes: &[],
        os_ids: &["cos"],
        files: &["/home/kubernetes/kubelet-config.yaml"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture gke-cos-v2-containerd",
    },
    // Azure/AgentBaker parts/linux/cloud-init/artifacts: /opt/azure/containers,
    // /etc/default/kubeletconfig.json; Azure Linux ID=azurelinux (older: mariner).
    Profile {
        id: "aks",
        name: "AKS",
        processes: &[],
        os_ids: &["azurelinux", "mariner"],
        files: &["/opt/azure/containers"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixtures aks-ubuntu-v2-containerd, aks-azurelinux-v2-containerd",
    },
    // kubernetes-sigs/kind images/base/files/kind/ (the /kind directory of a node image).
    Profile {
        id: "kind",
        name: "kind",
        processes: &[],
        os_ids: &[],
        files: &["/kind"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixture kind-v2-containerd",
    },
    // kubernetes/release cmd/krel/templates/latest/kubeadm/10-kubeadm.conf (the unit drop-in
    // sourcing /var/lib/kubelet/kubeadm-flags.env).
    Profile {
        id: "kubeadm",
        name: "kubeadm",
        processes: &[],
        os_ids: &[],
        files: &["/var/lib/kubelet/kubeadm-flags.env"],
        embeds_kubelet: &[],
        embedded_args: EmbeddedArgs::None,
        journal_units: KUBELET_UNIT,
        log_files: &[],
        verified: "fixtures kubeadm-deb-v2-containerd, kubeadm-rhel-v1-crio",
    },
];

/// Any other node with a kubelet: upstream's defaults.
pub const GENERIC: Profile = Profile {
    id: "kubernetes",
    name: "Kubernetes",
    processes: &[],
    os_ids: &[],
    files: &[],
    embeds_kubelet: &[],
    embedded_args: EmbeddedArgs::None,
    journal_units: KUBELET_UNIT,
    log_files: &[],
    verified: "the fixtures of a plain kubelet (healthy-v2-systemd-containerd and the rest)",
};

/// What `nodescope explain distributions` prints: each profile, how it is recognised, where
/// its kubelet and the kubelet's log are, and how that was verified.
pub fn describe(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Distributions nodescope recognises (docs/distributions.md cites each fact's source):\n"
    )?;
    for p in PROFILES.iter().chain(std::iter::once(&GENERIC)) {
        let mut by: Vec<String> = p
            .processes
            .iter()
            .map(|c| format!("process {c} (root, root-owned executable)"))
            .collect();
        by.extend(p.os_ids.iter().map(|o| match o.split_once(':') {
            Some((id, v)) => format!("os-release ID={id} VERSION_ID={v}"),
            None => format!("os-release ID={o}"),
        }));
        by.extend(p.files.iter().map(|f| f.to_string()));
        if by.is_empty() {
            by.push("a kubelet and nothing more specific".into());
        }
        let kubelet = if p.embeds_kubelet.is_empty() {
            "its own process".to_string()
        } else {
            format!("inside {}", p.embeds_kubelet.join(" / "))
        };
        let mut logs: Vec<String> = p
            .journal_units
            .iter()
            .map(|u| format!("unit {u}"))
            .collect();
        logs.extend(p.log_files.iter().map(|f| f.to_string()));
        if logs.is_empty() {
            logs.push("not on the node's disk".into());
        }
        writeln!(out, "{} ({})", p.name, p.id)?;
        writeln!(out, "  recognised by: {}", by.join("; "))?;
        writeln!(out, "  kubelet:       {kubelet}")?;
        writeln!(out, "  kubelet log:   {}", logs.join(", "))?;
        writeln!(out, "  verified:      {}\n", p.verified)?;
    }
    Ok(())
}

/// The profile of `id`, or [`GENERIC`].
pub fn profile(id: &str) -> &'static Profile {
    PROFILES.iter().find(|p| p.id == id).unwrap_or(&GENERIC)
}

/// `ID` and `VERSION_ID` of `/etc/os-release` (falling back to `/usr/lib/os-release`, as
/// os-release(5) says readers must).
fn os_release(host: &dyn Host) -> Option<(String, String)> {
    let text = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| host.read(p).ok())?;
    let text = String::from_utf8_lossy(&text);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
    };
    Some((field("ID")?, field("VERSION_ID").unwrap_or_default()))
}

/// Whether an os-release `ID`/`VERSION_ID` matches a profile's `id` or `id:version-prefix`.
fn os_matches(pattern: &str, id: &str, version: &str) -> bool {
    match pattern.split_once(':') {
        Some((want, ver)) => {
            want == id && (version == ver || version.starts_with(&format!("{ver}.")))
        }
        None => pattern == id,
    }
}

/// Which distribution runs the node: a trusted daemon of one first, then the kubelet's own
/// process (embedded or where its executable lives), os-release, marker files; `kubernetes`
/// when only a kubelet was seen. Docker through cri-dockerd is noted beside any of them.
pub fn detect(
    host: &dyn Host,
    processes: &[Process],
    kubelet: Option<&KubeletInfo>,
) -> Option<Distribution> {
    let trusted = |p: &&Process| trust::trusted_daemon(host, p).is_ok();
    let mut found: Option<(&Profile, String)> = None;
    if let Some(k) = kubelet.and_then(|k| k.embedded_in.as_deref().map(|e| (k.pid, e))) {
        found = PROFILES
            .iter()
            .find(|p| p.embeds_kubelet.contains(&k.1))
            .map(|p| {
                (
                    p,
                    format!("the kubelet runs inside process {} ({})", k.0, k.1),
                )
            });
    }
    if found.is_none() {
        found = PROFILES.iter().find_map(|prof| {
            processes
                .iter()
                .filter(|p| prof.processes.iter().any(|n| p.calls_itself(n)))
                .find(trusted)
                .map(|p| {
                    (
                        prof,
                        format!("process {} {} (root, root-owned executable)", p.pid, p.comm),
                    )
                })
        });
    }
    if found.is_none()
        && let Some((id, version)) = os_release(host)
    {
        found = PROFILES
            .iter()
            .find(|p| p.os_ids.iter().any(|o| os_matches(o, &id, &version)))
            .map(|p| (p, format!("os-release ID={id} VERSION_ID={version}")));
    }
    if found.is_none() {
        found = PROFILES.iter().find_map(|p| {
            p.files
                .iter()
                .find(|f| host.exists(f))
                .map(|f| (p, format!("{f} exists")))
        });
    }
    let (profile, evidence) = match found {
        Some(f) => f,
        None => (&GENERIC, format!("a kubelet (process {})", kubelet?.pid)),
    };
    let runtime = processes
        .iter()
        .filter(|p| p.calls_itself("cri-dockerd"))
        .find(trusted)
        .map(|_| "docker via cri-dockerd".to_string());
    Some(Distribution {
        id: profile.id.into(),
        name: profile.name.into(),
        evidence: vec![evidence],
        runtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_versions_match_by_prefix_at_a_dot() {
        assert!(os_matches("amzn:2", "amzn", "2"));
        assert!(!os_matches("amzn:2", "amzn", "2023"));
        assert!(os_matches("amzn:2023", "amzn", "2023"));
        assert!(os_matches("amzn:2023", "amzn", "2023.6"));
        assert!(os_matches("cos", "cos", "117"));
        assert!(!os_matches("cos", "ubuntu", "22.04"));
    }

    #[test]
    fn ids_are_unique_and_every_embedding_has_a_way_to_its_flags() {
        let mut ids: Vec<_> = PROFILES.iter().map(|p| p.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), PROFILES.len());
        for p in PROFILES {
            assert_eq!(
                p.embeds_kubelet.is_empty(),
                p.embedded_args == EmbeddedArgs::None,
                "{}",
                p.id
            );
        }
    }
}
