//! `fs.read-only`: a filesystem the kubelet, the runtime, the logs or pod volumes write to is
//! read-only, or the kernel made one read-only after errors.

use crate::analyze::health::{is_read_only, mounts_of_device, recent};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::health::KernelEventKind;
use crate::model::mount_of;
use std::collections::BTreeMap;

pub struct FsReadOnly;

impl Rule for FsReadOnly {
    fn id(&self) -> &'static str {
        "fs.read-only"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the kubelet's, runtime's, log or volume filesystem is read-only"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The filesystem holding the kubelet's root directory, the container runtime's root, /var/log
  or a pod's emptyDir volume is mounted read-only (mountinfo option ro), or the kernel logged
  that it made a filesystem read-only after an error: 'EXT4-fs (DEV): Remounting filesystem
  read-only' (errors=remount-ro), an XFS shutdown ('Shutting down filesystem'), a btrfs
  'forced readonly'. node-problem-detector's ReadonlyFilesystem and XfsShutdown conditions.

WHY IT MATTERS
  Every write fails with EROFS: the kubelet cannot write pod state, volumes or checkpoints,
  the runtime cannot create container layers (pods stick in ContainerCreating), logs stop.
  The kernel turns a filesystem read-only because it found corruption or the device failed
  writes: the data on it is at risk.

HOW TO CONFIRM
  findmnt -o TARGET,SOURCE,FSTYPE,OPTIONS /var/lib/kubelet /var/lib/containerd /var/log
  dmesg -T | grep -i -e 'read-only' -e 'shutting down filesystem' -e 'EXT4-fs error'
  touch /var/lib/kubelet/.probe   (EROFS: Read-only file system)

WHAT TO CHANGE
  Drain the node. Check the device (smartctl, the cloud provider's volume status; fs.io-error
  findings), unmount and repair (fsck.ext4 -f, xfs_repair), or replace the volume or node. A
  mount made read-only on purpose (an image, a ro bind) must not hold the kubelet or runtime
  roots: mount a writable filesystem there."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        // Mount point → what nodescope found on it that needs writing.
        let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut targets: Vec<(String, String)> = Vec::new();
        if let Some(n) = &snap.disk.nodefs {
            targets.push((n.path.clone(), "kubelet root".into()));
        }
        if let Some(r) = &snap.disk.runtime {
            targets.push((r.root.clone(), format!("{} root", r.name)));
        }
        targets.push(("/var/log".into(), "logs".into()));
        for d in &snap.disk.pod_dirs {
            for v in d
                .volumes
                .iter()
                .filter(|v| v.plugin == "kubernetes.io~empty-dir" && !v.memory_backed)
            {
                targets.push((
                    v.path.clone(),
                    format!("emptyDir {} of pod {}", v.name, d.uid),
                ));
            }
        }
        for (path, what) in targets {
            let Some(mp) = mount_of(&snap.mounts, &path) else {
                continue;
            };
            let Some(m) = snap.mounts.iter().rev().find(|m| m.mount_point == mp) else {
                continue;
            };
            if is_read_only(m) {
                let v = uses.entry(mp).or_default();
                let entry = format!("{what} ({path})");
                if !v.contains(&entry) {
                    v.push(entry);
                }
            }
        }
        let events = recent(snap, |k| {
            matches!(k, KernelEventKind::RemountedReadOnly { .. })
        });
        let mut explained = Vec::new();
        for (mp, what) in &uses {
            let Some(m) = snap.mounts.iter().rev().find(|m| &m.mount_point == mp) else {
                continue;
            };
            let device = m
                .source
                .strip_prefix("/dev/")
                .unwrap_or(&m.source)
                .to_string();
            let kernel: Vec<serde_json::Value> = events
                .iter()
                .filter(|d| matches!(&d.event.kind, KernelEventKind::RemountedReadOnly { device: dv, .. } if *dv == device))
                .map(|d| d.evidence())
                .collect();
            if !kernel.is_empty() {
                explained.push(device.clone());
            }
            let why = if kernel.is_empty() {
                "mounted read-only".to_string()
            } else {
                "made read-only by the kernel after errors".to_string()
            };
            out.push(finding(
                self,
                Severity::Critical,
                format!("{mp} ({} on {}) is {why}: {} cannot be written", m.fs_type, m.source, what.join(", ")),
                Subject::node(snap).with_path(mp.clone()).with_device(m.source.clone()),
                serde_json::json!({
                    "mount_point": mp,
                    "fs_type": m.fs_type,
                    "source": m.source,
                    "options": m.options,
                    "used_by": what,
                    "kernel_records": kernel,
                }),
                "drain the node; check the device (fs.io-error, smartctl, the volume's status), unmount and repair (fsck, xfs_repair) or replace it",
            ));
        }
        // Remounts by the kernel on devices not covered above.
        let mut by_device: BTreeMap<
            (String, String),
            Vec<&crate::analyze::health::DatedEvent<'_>>,
        > = BTreeMap::new();
        for d in &events {
            if let KernelEventKind::RemountedReadOnly { fs, device } = &d.event.kind
                && !explained.contains(device)
            {
                by_device
                    .entry((fs.clone(), device.clone()))
                    .or_default()
                    .push(d);
            }
        }
        for ((fs, device), ds) in by_device {
            let Some(last) = ds.last() else { continue };
            let mounts: Vec<String> = mounts_of_device(snap, &device)
                .iter()
                .map(|m| m.mount_point.clone())
                .collect();
            let on = if mounts.is_empty() {
                String::new()
            } else {
                format!(" (mounted at {})", mounts.join(", "))
            };
            out.push(finding(
                self,
                Severity::Critical,
                format!("the kernel made {fs} on {device}{on} read-only after errors, {}: {}", last.when(), last.event.message),
                Subject::node(snap).with_path(mounts.first().cloned()).with_device(device.clone()),
                serde_json::json!({
                    "fs_type": fs,
                    "device": device,
                    "mount_points": mounts,
                    "kernel_records": ds.iter().map(|d| d.evidence()).collect::<Vec<_>>(),
                }),
                "drain the node; check the device (fs.io-error, smartctl), unmount and repair (fsck, xfs_repair) or replace it",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{kernel_event, run, snapshot};
    use crate::model::Mount;
    use crate::model::disk::FsRole;

    fn mount(mp: &str, src: &str, options: &str) -> Mount {
        Mount {
            mount_point: mp.into(),
            fs_type: "ext4".into(),
            source: src.into(),
            device: "7:0".into(),
            options: options.into(),
            upperdir: None,
        }
    }

    fn node(kubelet_opts: &str) -> Snapshot {
        let mut s = snapshot();
        s.mounts = vec![
            mount("/", "/dev/sda1", "relatime,rw"),
            mount("/var/lib/kubelet", "/dev/loop3", kubelet_opts),
        ];
        s.disk.nodefs = Some(FsRole {
            path: "/var/lib/kubelet".into(),
            mount_point: Some("/var/lib/kubelet".into()),
        });
        s
    }

    #[test]
    fn a_read_only_kubelet_root_fires_and_a_writable_one_does_not() {
        let f = run(&FsReadOnly, &node("relatime,ro"));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "/var/lib/kubelet (ext4 on /dev/loop3) is mounted read-only: kubelet root (/var/lib/kubelet) cannot be written"
        );
        assert!(run(&FsReadOnly, &node("relatime,rw")).is_empty());
    }

    #[test]
    fn a_kernel_remount_is_named_with_its_mount() {
        let mut s = node("relatime,rw");
        s.health.kernel_events = vec![kernel_event(
            "EXT4-fs (sda1): Remounting filesystem read-only",
            30,
        )];
        let f = run(&FsReadOnly, &s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject.device.as_deref(), Some("sda1"));
        assert!(f[0].title.contains("(mounted at /)"), "{}", f[0].title);
        // The same record a day and a second ago is outside the window.
        s.health.kernel_events = vec![kernel_event(
            "EXT4-fs (sda1): Remounting filesystem read-only",
            24 * 3600 + 1,
        )];
        assert!(run(&FsReadOnly, &s).is_empty());
    }

    #[test]
    fn a_kernel_remount_of_the_kubelet_root_explains_it_once() {
        let mut s = node("relatime,ro");
        s.health.kernel_events = vec![kernel_event(
            "EXT4-fs (loop3): Remounting filesystem read-only",
            30,
        )];
        let f = run(&FsReadOnly, &s);
        assert_eq!(
            f.len(),
            1,
            "the remount is the mount's cause, not a second finding"
        );
        assert_eq!(
            f[0].title,
            "/var/lib/kubelet (ext4 on /dev/loop3) is made read-only by the kernel after errors: kubelet root (/var/lib/kubelet) cannot be written"
        );
        assert_eq!(
            f[0].evidence["kernel_records"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn a_read_only_mount_nothing_writes_to_is_not_judged() {
        let mut s = node("relatime,rw");
        s.mounts.push(mount("/mnt/iso", "/dev/sr0", "ro"));
        assert!(run(&FsReadOnly, &s).is_empty());
        // `ro` must be an option of its own: `errors=remount-ro` is not read-only.
        assert!(run(&FsReadOnly, &node("rw,errors=remount-ro")).is_empty());
    }
}
