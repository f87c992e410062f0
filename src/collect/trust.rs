//! Who nodescope believes (docs/security.md, "Who is trusted"). nodescope runs as root on nodes
//! where unprivileged users and every pod's image are untrusted, and it takes paths and
//! credentials from what the node says about itself: the kubelet's command line names its
//! configuration and its kubeconfig. Anyone can start a process called `kubelet`
//! (`exec -a kubelet`, a copied binary), so a claim is checked before its flags are used, and a
//! file a flag names is checked before it is read.
//!
//! The checks only decide; what was refused becomes an entry of `errors` (collector `trust`,
//! kind `untrusted`) saying which rule refused what, so a refusal is visible, never silent.

use super::Errors;
use crate::model::{CollectError, Process, UntrustedDaemon};
use crate::source::vet::{self, Want};
use crate::source::{ErrorKind, Host};

/// The collector name of every refusal.
pub const C: &str = "trust";

/// Whether a process that calls itself a daemon nodescope takes flags from (the kubelet, a
/// container runtime, a distribution's all-in-one such as k3s) may be believed. `Err` says
/// which rule it failed:
/// - it runs as root: real and effective uid 0 (/proc/<pid>/status). An unprivileged user can
///   start a process with any name but not one whose real and effective uid are 0; a setuid
///   program they run keeps their real uid. A process whose status was not recorded (a bundle
///   captured before it was) is not judged on this;
/// - it is not inside a pod: a pod's image is untrusted, and a container running as root can
///   ship a root-owned binary called `kubelet` (its memory cgroup is under `kubepods`);
/// - its executable (`/proc/<pid>/exe`, stat'ed through the link) is a regular file that root
///   owns and neither its group nor others may write, so no one but root chose what runs.
///   When nodescope itself is not root the kernel does not let it examine another user's
///   executable; the uid rule then stands alone.
pub fn trusted_daemon(host: &dyn Host, p: &Process) -> Result<(), String> {
    if let Some(uid) = p.uid.filter(|u| *u != 0) {
        return Err(format!("runs as uid {uid}"));
    }
    if let Some(euid) = p.euid.filter(|u| *u != 0) {
        return Err(format!("runs with effective uid {euid}"));
    }
    if let Some(cg) = p.cgroup.as_deref().filter(|cg| in_a_pod(cg)) {
        return Err(format!("runs inside a pod (memory cgroup {cg})"));
    }
    let exe = format!("/proc/{}/exe", p.pid);
    match host.metadata(&exe) {
        Ok(m) if m.kind != crate::source::EntryKind::File => {
            Err(format!("its executable ({exe}) is not a regular file"))
        }
        Ok(m) => match m.distrust() {
            Some(why) => Err(format!("its executable ({exe}) is {why}")),
            None => Ok(()),
        },
        Err(e) if e.kind == ErrorKind::Denied && host.euid() != 0 => Ok(()),
        Err(e) => Err(format!(
            "its executable ({exe}) could not be examined: {}",
            e.kind
        )),
    }
}

/// Whether a cgroup path lies under the kubelet's pods cgroup (`/kubepods/...` with the
/// cgroupfs driver, `/kubepods.slice/...` with systemd; pkg/kubelet/cm/qos_container_manager_linux.go),
/// also when the kubelet's cgroupRoot nests it (`/kubelet.slice/kubelet-kubepods.slice/...` on
/// kind, whose kubelet config sets `cgroupRoot: /kubelet`).
fn in_a_pod(cgroup: &str) -> bool {
    cgroup
        .split('/')
        .any(|seg| seg.starts_with("kubepods") || crate::model::cgroup_name::is_kubepods_dir(seg))
}

/// The first process calling itself `name` that passes [`trusted_daemon`], in pid order. Each
/// one that fails is recorded in `untrusted` and as one line of `errors`; its flags are not
/// used anywhere.
pub(super) fn find_daemon<'a>(
    host: &dyn Host,
    processes: &'a [Process],
    name: &str,
    errs: &mut Errors,
    untrusted: &mut Vec<UntrustedDaemon>,
) -> Option<&'a Process> {
    let mut found = None;
    for p in processes.iter().filter(|p| p.calls_itself(name)) {
        match trusted_daemon(host, p) {
            Ok(()) => {
                found = found.or(Some(p));
            }
            Err(reason) => {
                errs.push(CollectError {
                    collector: C.into(),
                    kind: ErrorKind::Untrusted,
                    path: Some(format!("/proc/{}", p.pid)),
                    line: None,
                    message: format!(
                        "process {} calls itself {name} but {reason}; its flags are ignored",
                        p.pid
                    ),
                });
                untrusted.push(UntrustedDaemon {
                    pid: p.pid,
                    claims: name.into(),
                    reason,
                });
            }
        }
    }
    found
}

/// What a flag named, for [`vetted`]: the path, who named it (`the kubelet's --config`), what
/// it must be, and whether its absence is worth a line in `errors` (an optional file's is not).
pub(super) struct Named<'a> {
    pub path: &'a str,
    pub by: &'a str,
    pub want: Want,
    pub report_missing: bool,
}

/// Vets a named path as [`vet::vet`] does, and says why in `errors` when it fails
/// ([`refusal`]). Returns the link-free path to read.
pub(super) fn vetted(
    host: &dyn Host,
    n: &Named<'_>,
    collector: &str,
    errs: &mut Errors,
) -> Option<String> {
    match vet::vet(host, n.path, n.want) {
        Ok(v) => Some(v.path),
        Err(r) if r.kind == ErrorKind::Missing && !n.report_missing => None,
        Err(r) => {
            errs.push(refusal(&r, n.path, n.by, collector));
            None
        }
    }
}

/// The `errors` line of a path that did not pass: a refusal by ownership or mode under
/// collector `trust` ("not collected: ..."), a path missing or unreadable under `collector`,
/// as any failed read.
fn refusal(r: &vet::Refused, path: &str, named_by: &str, collector: &str) -> CollectError {
    let untrusted = r.kind == ErrorKind::Untrusted;
    CollectError {
        collector: if untrusted { C } else { collector }.into(),
        kind: r.kind,
        path: Some(path.to_string()),
        line: None,
        message: if untrusted {
            format!(
                "not collected: {r}; {named_by} names it, and nodescope reads only what root alone can write"
            )
        } else {
            format!("{r} ({named_by} names it)")
        },
    }
}

/// Reads a file that a trusted daemon's flag names, once [`vetted`] says it may; its absence
/// is an error.
pub(super) fn read_named(
    host: &dyn Host,
    path: &str,
    named_by: &str,
    collector: &str,
    errs: &mut Errors,
) -> Option<String> {
    let named = Named {
        path,
        by: named_by,
        want: Want::File,
        report_missing: true,
    };
    let real = vetted(host, &named, collector, errs)?;
    match host.read_string(&real) {
        Ok(text) => Some(text),
        Err(e) => {
            errs.host(collector, &e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bundle::BundleHost;

    fn process(pid: u32, uid: Option<u32>, cgroup: &str) -> Process {
        Process {
            pid,
            ppid: 1,
            comm: "kubelet".into(),
            cmdline: vec!["/usr/bin/kubelet".into()],
            state: "S".into(),
            threads: 1,
            start_ticks: 0,
            cgroup: Some(cgroup.into()),
            oom_score: None,
            oom_score_adj: None,
            container_id: None,
            uid,
            euid: uid,
        }
    }

    /// A bundle with `/proc/<pid>/stat` for each pid and the given recorded metadata.
    fn host(pids: &[u32], meta: serde_json::Value) -> (tempfile::TempDir, BundleHost) {
        let d = tempfile::tempdir().unwrap();
        for pid in pids {
            let p = d.path().join(format!("proc/{pid}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("stat"), format!("{pid} (kubelet) S 1")).unwrap();
        }
        std::fs::write(
            d.path().join("nodescope-bundle.json"),
            serde_json::json!({"format": "nodescope-bundle/1",
                "captured_at": "2026-11-22T03:00:00Z", "euid": 0, "metadata": meta})
            .to_string(),
        )
        .unwrap();
        let h = BundleHost::open(d.path()).unwrap();
        (d, h)
    }

    #[test]
    fn a_pod_under_a_nested_cgroup_root_is_a_pod() {
        // kind: cgroupRoot /kubelet puts every pod under kubelet-kubepods.slice.
        let kind = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/\
                    kubelet-kubepods-besteffort-podb620703c_c446_49c7_84c8_e23f4ba5626b.slice/\
                    cri-containerd-4e7fc71c8bef8c05c9fb76d93a186736fca266e668722e1239fe64503b3e80d3.scope";
        assert!(in_a_pod(kind));
        assert!(in_a_pod("/kubepods/burstable/pod1/abc"));
        assert!(!in_a_pod("/kubelet.slice/kubelet.service"));
        assert!(!in_a_pod("/podruntime/kubelet"));
        assert!(!in_a_pod("/system.slice/kubelet.service"));
    }

    #[test]
    fn each_rule_refuses_on_its_own() {
        let (_d, h) = host(
            &[1, 2, 3, 4, 5],
            serde_json::json!({
                "/proc/4/exe": {"uid": 1000, "gid": 1000, "mode": 0o755, "kind": "file", "size": 1},
                "/proc/5/exe": {"uid": 0, "gid": 0, "mode": 0o777, "kind": "file", "size": 1},
            }),
        );
        let sys = "/system.slice/kubelet.service";
        assert_eq!(trusted_daemon(&h, &process(1, Some(0), sys)), Ok(()));
        assert_eq!(
            trusted_daemon(&h, &process(2, Some(65534), sys)),
            Err("runs as uid 65534".into())
        );
        let mut setuid = process(2, Some(1000), sys);
        setuid.euid = Some(0);
        assert_eq!(
            trusted_daemon(&h, &setuid),
            Err("runs as uid 1000".into()),
            "a setuid-root program keeps its caller's real uid"
        );
        assert_eq!(
            trusted_daemon(
                &h,
                &process(3, Some(0), "/kubepods.slice/kubepods-besteffort.slice/x.scope")
            ),
            Err(
                "runs inside a pod (memory cgroup /kubepods.slice/kubepods-besteffort.slice/x.scope)"
                    .into()
            )
        );
        assert_eq!(
            trusted_daemon(&h, &process(4, Some(0), sys)),
            Err("its executable (/proc/4/exe) is owned by uid 1000, not root".into())
        );
        assert_eq!(
            trusted_daemon(&h, &process(5, Some(0), sys)),
            Err("its executable (/proc/5/exe) is writable by others (mode 0777)".into())
        );
        assert_eq!(
            trusted_daemon(&h, &process(6, Some(0), sys)),
            Err("its executable (/proc/6/exe) could not be examined: missing".into()),
            "a process that is gone"
        );
        assert_eq!(
            trusted_daemon(&h, &process(1, None, sys)),
            Ok(()),
            "a bundle from before status was recorded"
        );
    }

    #[test]
    fn the_first_trusted_claimant_wins_and_every_impostor_is_named() {
        let (_d, h) = host(&[10, 20, 30], serde_json::json!({}));
        let sys = "/system.slice/kubelet.service";
        let procs = [
            process(10, Some(65534), sys),
            process(20, Some(0), sys),
            process(30, Some(0), sys),
        ];
        let mut errs = Errors::default();
        let mut untrusted = Vec::new();
        let p = find_daemon(&h, &procs, "kubelet", &mut errs, &mut untrusted).unwrap();
        assert_eq!(p.pid, 20);
        assert_eq!(
            untrusted,
            [UntrustedDaemon {
                pid: 10,
                claims: "kubelet".into(),
                reason: "runs as uid 65534".into()
            }]
        );
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].collector, "trust");
        assert_eq!(errs.0[0].kind, ErrorKind::Untrusted);
        assert_eq!(
            errs.0[0].message,
            "process 10 calls itself kubelet but runs as uid 65534; its flags are ignored"
        );
    }
}
