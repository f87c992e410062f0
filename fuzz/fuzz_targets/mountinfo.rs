//! /proc/<pid>/mountinfo, parsed and then used by the mount, disk and DNS collectors.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::parse_mountinfo;
use nodescope::model::mount_of;

fuzz_target!(|data: &[u8]| {
    let Ok(mounts) = parse_mountinfo(data) else {
        return;
    };
    for m in &mounts {
        let opts: Vec<&str> = m.options.split(',').collect();
        assert!(opts.windows(2).all(|w| w[0] <= w[1]), "{:?}", m.options);
    }
    for p in [
        "/",
        "/var/lib/kubelet",
        "/var/lib/containerd/x",
        "/var/log/pods",
    ] {
        if let Some(mp) = mount_of(&mounts, p) {
            assert!(mounts.iter().any(|m| m.mount_point == mp));
        }
    }
    // Through the collectors: node filesystems, nodefs/imagefs, and the rules.
    let mut host = nodescope_fuzz::empty_bundle();
    host.insert_file("/proc/1/mountinfo", data.to_vec())
        .unwrap();
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    assert_eq!(snap.mounts.len(), mounts.len());
});
