//! cgroup v1 and v2 interface files of a pod and its container (memory.current / usage_in_bytes,
//! memory.max / limit_in_bytes, memory.peak, memory.stat, memory.events, memory.oom_control,
//! pids.current, pids.max) and /proc/<pid>/cgroup, through the cgroup and process collectors.
//!
//! Input: a first byte `1` (v1, cgroupfs driver) or anything else (v2, systemd driver), then
//! the files separated by `nodescope_fuzz::SEP` in the order of `V1_FILES` / `V2_FILES`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::parse_proc_cgroup;
use nodescope::model::cgroup_name::{parse_container_leaf, parse_pod_dir};
use nodescope_fuzz::{split, stat_line};

const V2_FILES: &[&str] = &[
    "memory.stat",
    "memory.current",
    "memory.max",
    "memory.peak",
    "memory.events",
    "pids.current",
    "pids.max",
];
const V1_FILES: &[&str] = &[
    "memory.stat",
    "memory.usage_in_bytes",
    "memory.limit_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.oom_control",
    "pids.current",
    "pids.max",
    "memory.failcnt",
];
const UID: &str = "0a1b2c3d-1111-2222-3333-444455556666";
const ID: &str = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";

fuzz_target!(|data: &[u8]| {
    let (v1, rest) = match data.split_first() {
        Some((b'1', rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => (false, data),
    };
    let names = if v1 { V1_FILES } else { V2_FILES };
    let parts = split(rest, names.len() + 2);
    let (files, proc_cgroup, root_stat) = (
        &parts[..names.len()],
        parts[names.len()],
        parts[names.len() + 1],
    );

    // The pure parsers first.
    let proc_text = String::from_utf8_lossy(proc_cgroup);
    if let Some(p) = parse_proc_cgroup(&proc_text) {
        assert!(!p.starts_with("/../") && p != "/..", "{p:?}");
    }
    for line in proc_text.lines() {
        for name in line.split('/') {
            if let Some(uid) = parse_pod_dir(name) {
                assert!(!uid.is_empty());
            }
            if let Some((_, id)) = parse_container_leaf(name) {
                assert!(name.contains(&id));
            }
        }
    }

    let mut host = nodescope_fuzz::empty_bundle();
    let put = |host: &mut nodescope::source::bundle::BundleHost, p: &str, b: &[u8]| {
        host.insert_file(p, b.to_vec()).unwrap();
    };
    let (dirs, container_cg) = if v1 {
        put(&mut host, "/sys/fs/cgroup/memory/memory.stat", root_stat);
        put(
            &mut host,
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
            files[1],
        );
        let kp = "kubepods".to_string();
        let pod = format!("{kp}/burstable/pod{UID}");
        let ctr = format!("{pod}/{ID}");
        let mut dirs = Vec::new();
        for rel in [&kp, &pod, &ctr] {
            dirs.push(format!("/sys/fs/cgroup/memory/{rel}"));
            dirs.push(format!("/sys/fs/cgroup/pids/{rel}"));
        }
        (dirs, format!("/{ctr}"))
    } else {
        put(
            &mut host,
            "/sys/fs/cgroup/cgroup.controllers",
            b"cpuset cpu io memory hugetlb pids rdma misc\n",
        );
        put(&mut host, "/sys/fs/cgroup/memory.stat", root_stat);
        let kp = "kubepods.slice".to_string();
        let pod = format!(
            "{kp}/kubepods-burstable.slice/kubepods-burstable-pod{}.slice",
            UID.replace('-', "_")
        );
        let ctr = format!("{pod}/cri-containerd-{ID}.scope");
        let dirs = [&kp, &pod, &ctr]
            .iter()
            .map(|r| format!("/sys/fs/cgroup/{r}"))
            .collect();
        (dirs, format!("/{ctr}"))
    };
    for d in &dirs {
        for (name, content) in names.iter().zip(files) {
            put(&mut host, &format!("{d}/{name}"), content);
        }
    }
    // A process in the container (its /proc/<pid>/cgroup fuzzed) and one that is surely in it.
    put(
        &mut host,
        "/proc/300/stat",
        stat_line(300, "app").as_bytes(),
    );
    put(&mut host, "/proc/300/cgroup", proc_cgroup);
    put(
        &mut host,
        "/proc/301/stat",
        stat_line(301, "app").as_bytes(),
    );
    let line = if v1 {
        format!("4:memory:{container_cg}\n")
    } else {
        format!("0::{container_cg}\n")
    };
    put(&mut host, "/proc/301/cgroup", line.as_bytes());

    let snap = nodescope_fuzz::collect_and_analyze(&host);
    assert!(snap.kubepods.is_some(), "the kubepods cgroup was not found");
    assert_eq!(snap.pods.len(), 1);
    assert_eq!(snap.pods[0].uid, UID);
    assert_eq!(snap.pods[0].containers.len(), 1);
    let p301 = snap.processes.iter().find(|p| p.pid == 301).unwrap();
    assert_eq!(p301.container_id.as_deref(), Some(ID));
    for p in &snap.pods {
        for cg in p
            .cgroup
            .iter()
            .chain(p.containers.iter().filter_map(|c| c.cgroup.as_ref()))
        {
            if let Some(l) = cg.limit_bytes {
                assert!(if v1 { l <= 1 << 62 } else { l != u64::MAX });
            }
            assert!(!(cg.pids_unbounded && cg.pids_max.is_some()));
        }
    }
});
