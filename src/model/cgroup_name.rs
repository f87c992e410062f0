//! Kubernetes cgroup names, read back into pod UIDs and container ids (docs/kubelet-semantics.md §4.1):
//! the kubelet's pod cgroups (`pod<uid>` for cgroupfs, `kubepods[-<qos>]-pod<uid_>.slice` for
//! systemd) and the runtimes' container leaves. Shared by the cgroup walk and by the analysis of
//! kernel OOM records, which name cgroups by path.
//!
//! The systemd driver names every slice after its parents (`pkg/kubelet/cm/cgroup_manager_linux.go`
//! `ToSystemd`, systemd's `unit_name_from_path`): with the kubelet's `cgroupRoot: /kubelet` (kind,
//! and nested setups) the pods live under `/kubelet.slice/kubelet-kubepods.slice/
//! kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod<uid_>.slice`, and a node that
//! itself runs in a container (kind, podman, LXD) shows that tree below the container's own
//! cgroup (`/system.slice/docker-<id>.scope/kubelet.slice/...`, `/lxc.payload.<name>/kubepods.slice/...`).

/// A pod cgroup directory name → pod UID: `pod<uid>` (cgroupfs) or
/// `[<prefix>-]kubepods[-<qos>]-pod<uid_>.slice` (systemd, where the UID's dashes became
/// underscores). The UID must look like one (hex digits and separators), so unrelated slices
/// such as `machine-libpod_pod_<id>.slice` or `user-podman.slice` are not taken for pods.
pub fn parse_pod_dir(name: &str) -> Option<String> {
    let uid = if let Some(slice) = name.strip_suffix(".slice") {
        let idx = slice.rfind("-pod")?;
        // Only the kubelet's pod slices: what precedes `-pod` is a kubepods slice name.
        let parent = &slice[..idx];
        if !is_kubepods_name(parent) && !is_qos_name(parent) {
            return None;
        }
        slice[idx + 4..].replace('_', "-")
    } else {
        name.strip_prefix("pod")?.to_string()
    };
    is_uid(&uid).then_some(uid)
}

/// A pod UID as the kubelet writes it into cgroup names: hex digits and dashes (RFC 4122
/// UIDs, and the 32-hex-digit hashes of static pods).
fn is_uid(s: &str) -> bool {
    s.len() >= 8 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// `kubepods`, `kubepods.slice`, or a systemd slice of a nested root (`kubelet-kubepods.slice`).
pub fn is_kubepods_dir(name: &str) -> bool {
    name == "kubepods" || name.strip_suffix(".slice").is_some_and(is_kubepods_name)
}

/// A slice name (without `.slice`) of the kubepods cgroup itself: `kubepods`, `<root>-kubepods`.
fn is_kubepods_name(s: &str) -> bool {
    s == "kubepods" || s.ends_with("-kubepods")
}

/// A slice name (without `.slice`) of a QoS cgroup: `[<root>-]kubepods-burstable|besteffort`.
fn is_qos_name(s: &str) -> bool {
    ["-burstable", "-besteffort"]
        .iter()
        .any(|q| s.strip_suffix(q).is_some_and(is_kubepods_name))
}

/// A QoS cgroup directory name → `burstable` or `besteffort`: the cgroupfs names, and the
/// systemd slices at any nesting (`kubepods-burstable.slice`, `kubelet-kubepods-besteffort.slice`).
pub fn parse_qos_dir(name: &str) -> Option<&'static str> {
    match name {
        "burstable" => return Some("burstable"),
        "besteffort" => return Some("besteffort"),
        _ => {}
    }
    let s = name.strip_suffix(".slice")?;
    if !is_qos_name(s) {
        return None;
    }
    if s.ends_with("-burstable") {
        Some("burstable")
    } else {
        Some("besteffort")
    }
}

/// The systemd driver's path of the kubepods slice under the kubelet's `cgroupRoot`
/// (`ToSystemd` in `pkg/kubelet/cm/cgroup_manager_linux.go`): `/` → `/kubepods.slice`,
/// `/kubelet` → `/kubelet.slice/kubelet-kubepods.slice`, `/a/b` → `/a.slice/a-b.slice/a-b-kubepods.slice`.
/// A root already written as slices (`/kubelet.slice`) is read the same way.
pub fn systemd_kubepods_path(cgroup_root: &str) -> String {
    let mut path = String::new();
    let mut prefix = String::new();
    let parts = cgroup_root
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.strip_suffix(".slice").unwrap_or(p);
            // A slice name already carries its parents (`kubelet-kubepods`): keep its last part.
            p.rsplit('-').next().unwrap_or(p)
        })
        .chain(std::iter::once("kubepods"));
    for part in parts {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    path
}

/// What a cgroup path says about Kubernetes: whether it lies under a kubepods cgroup, and
/// which pod and container it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeCgroup {
    /// A component is the kubepods cgroup (`kubepods`, `kubepods.slice`, `kubelet-kubepods.slice`).
    pub in_kubepods: bool,
    /// The pod UID of the pod component, dashes restored.
    pub pod_uid: Option<String>,
    /// The runtime and id of the container leaf (the last component).
    pub container: Option<(Option<&'static str>, String)>,
}

/// Reads a cgroup path as the kernel prints it (`task_memcg=`, `Task in ...`) or as
/// /proc/<pid>/cgroup names it. Components above the kubepods cgroup (a nested node's own
/// container) are not taken for pods.
pub fn parse_cgroup_path(path: &str) -> KubeCgroup {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let below = comps.iter().position(|c| is_kubepods_dir(c));
    let pod_comps = match below {
        Some(i) => &comps[i + 1..],
        None => &comps[..],
    };
    KubeCgroup {
        in_kubepods: below.is_some(),
        pod_uid: pod_comps.iter().find_map(|c| parse_pod_dir(c)),
        container: comps.last().and_then(|l| parse_container_leaf(l)),
    }
}

/// A container leaf → (runtime, id). `None` for conmon and anything else that is no container.
pub fn parse_container_leaf(name: &str) -> Option<(Option<&'static str>, String)> {
    let is_id = |s: &str| s.len() >= 12 && s.chars().all(|c| c.is_ascii_hexdigit());
    let base = name.strip_suffix(".scope").unwrap_or(name);
    if base.starts_with("crio-conmon-") {
        return None;
    }
    for (prefix, rt) in [
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("docker-", "docker"),
    ] {
        if let Some(id) = base.strip_prefix(prefix) {
            return is_id(id).then(|| (Some(rt), id.to_string()));
        }
    }
    is_id(base).then(|| (None, base.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_dirs_for_both_drivers() {
        assert_eq!(parse_pod_dir("pod1234-abcd").unwrap(), "1234-abcd");
        assert_eq!(
            parse_pod_dir("kubepods-burstable-pod1234_abcd.slice").unwrap(),
            "1234-abcd"
        );
        assert_eq!(
            parse_pod_dir("kubepods-pod1234_abcd.slice").unwrap(),
            "1234-abcd"
        );
        assert!(parse_pod_dir("burstable").is_none());
        assert!(parse_pod_dir("kubepods-burstable.slice").is_none());
        assert!(parse_pod_dir("podzzz").is_none());
    }

    #[test]
    fn container_leaves_for_every_runtime() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_container_leaf(&format!("cri-containerd-{id}.scope")),
            Some((Some("containerd"), id.into()))
        );
        assert_eq!(
            parse_container_leaf(&format!("crio-{id}.scope")),
            Some((Some("cri-o"), id.into()))
        );
        assert_eq!(
            parse_container_leaf(&format!("crio-{id}")),
            Some((Some("cri-o"), id.into()))
        );
        assert_eq!(
            parse_container_leaf(&format!("docker-{id}.scope")),
            Some((Some("docker"), id.into()))
        );
        assert_eq!(parse_container_leaf(id), Some((None, id.into())));
        assert_eq!(
            parse_container_leaf(&format!("crio-conmon-{id}.scope")),
            None
        );
        assert_eq!(parse_container_leaf("memory.stat"), None);
    }
    #[test]
    fn nested_kubepods_slices_of_kind_and_podman_nodes() {
        // kind (cgroupRoot /kubelet, systemd driver), from cilium's troubleshooting docs.
        let p = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-podb620703c_c446_49c7_84c8_e23f4ba5626b.slice/cri-containerd-4e7fc71c8bef8c05c9fb76d93a186736fca266e668722e1239fe64503b3e80d3.scope";
        let cg = parse_cgroup_path(p);
        assert!(cg.in_kubepods);
        assert_eq!(
            cg.pod_uid.as_deref(),
            Some("b620703c-c446-49c7-84c8-e23f4ba5626b")
        );
        assert_eq!(
            cg.container,
            Some((
                Some("containerd"),
                "4e7fc71c8bef8c05c9fb76d93a186736fca266e668722e1239fe64503b3e80d3".into()
            ))
        );
        // Guaranteed pods sit right under the kubepods slice.
        assert_eq!(
            parse_pod_dir("kubelet-kubepods-pod1858680e_b044_4fd5_9dd4_f137e30e2180.slice")
                .as_deref(),
            Some("1858680e-b044-4fd5-9dd4-f137e30e2180")
        );
        // The node's own container above the kubepods slice is no pod and no container of it.
        let p = "/system.slice/docker-3350ade4226f0adcd9e4e9545d7c2a16a5aa362d12315f2a88e2024cea1246cf.scope/kubelet.slice/kubelet-kubepods.slice";
        let cg = parse_cgroup_path(p);
        assert!(cg.in_kubepods && cg.pod_uid.is_none());
        assert_eq!(cg.container, None);
        // podman's and systemd's own slices are not pods.
        for name in [
            "machine-libpod_pod_1a2b3c4d5e6f.slice",
            "user-podman.slice",
            "system-pod.slice",
            "kubepods-podzz_zz.slice",
        ] {
            assert_eq!(parse_pod_dir(name), None, "{name}");
        }
        assert!(!parse_cgroup_path("/system.slice/podman.service").in_kubepods);
    }

    #[test]
    fn qos_dirs_and_the_systemd_kubepods_path_at_any_root() {
        assert_eq!(parse_qos_dir("burstable"), Some("burstable"));
        assert_eq!(
            parse_qos_dir("kubepods-besteffort.slice"),
            Some("besteffort")
        );
        assert_eq!(
            parse_qos_dir("kubelet-kubepods-burstable.slice"),
            Some("burstable")
        );
        assert_eq!(parse_qos_dir("kubepods-pod1234abcd.slice"), None);
        assert_eq!(parse_qos_dir("system-burstable.slice"), None);
        assert_eq!(systemd_kubepods_path("/"), "/kubepods.slice");
        assert_eq!(systemd_kubepods_path(""), "/kubepods.slice");
        assert_eq!(
            systemd_kubepods_path("/kubelet"),
            "/kubelet.slice/kubelet-kubepods.slice"
        );
        assert_eq!(
            systemd_kubepods_path("/kubelet.slice"),
            "/kubelet.slice/kubelet-kubepods.slice"
        );
        assert_eq!(
            systemd_kubepods_path("/a/b"),
            "/a.slice/a-b.slice/a-b-kubepods.slice"
        );
    }
}
