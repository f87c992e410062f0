//! Kubernetes cgroup names, read back into pod UIDs and container ids (k8s-semantics §4.1):
//! the kubelet's pod cgroups (`pod<uid>` for cgroupfs, `kubepods[-<qos>]-pod<uid_>.slice` for
//! systemd) and the runtimes' container leaves. Shared by the cgroup walk and by the analysis of
//! kernel OOM records, which name cgroups by path.

/// A pod cgroup directory name → pod UID: `pod<uid>` (cgroupfs) or
/// `kubepods[-<qos>]-pod<uid_>.slice` (systemd, where the UID's dashes became underscores).
pub fn parse_pod_dir(name: &str) -> Option<String> {
    if let Some(slice) = name.strip_suffix(".slice") {
        let idx = slice.rfind("-pod")?;
        let uid = &slice[idx + 4..];
        return (!uid.is_empty()).then(|| uid.replace('_', "-"));
    }
    let uid = name.strip_prefix("pod")?;
    (!uid.is_empty() && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| uid.to_string())
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
}
