//! /proc/<pid> files: stat, cmdline, cgroup, oom_score, oom_score_adj and status (environ is
//! never read), through the process collector and the kubelet finder with its trust rules.
//!
//! Input: the files separated by `nodescope_fuzz::SEP`, in the order of `FILES`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::source::redact;
use nodescope_fuzz::split;

const FILES: &[&str] = &[
    "stat",
    "cmdline",
    "cgroup",
    "oom_score",
    "oom_score_adj",
    "status",
];

fuzz_target!(|data: &[u8]| {
    let parts = split(data, FILES.len());
    // Redaction of a command line is idempotent and keeps the argument count.
    let args = redact::split_cmdline(parts[1]);
    let red = redact::cmdline(&args);
    assert_eq!(red.len(), args.len());
    assert_eq!(redact::cmdline(&red), red);

    let mut host = nodescope_fuzz::empty_bundle();
    for (name, content) in FILES.iter().zip(&parts) {
        host.insert_file(&format!("/proc/4242/{name}"), content.to_vec())
            .unwrap();
    }
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    assert!(snap.processes.len() <= 1);
    if let Some(p) = snap.processes.first() {
        assert_eq!(p.pid, 4242);
        assert_eq!(p.cmdline, red);
        if let Some(cg) = &p.cgroup {
            assert!(!cg.starts_with("/../"));
        }
        // The uids are the status file's Uid line, both or neither.
        let uids = nodescope::collect::parse_proc_status_uids(&String::from_utf8_lossy(parts[5]));
        assert_eq!(p.uid.zip(p.euid), uids);
        // A claimant running as someone else is never the kubelet.
        if p.uid.is_some_and(|u| u != 0) {
            assert!(snap.kubelet.is_none());
            assert!(snap.untrusted_daemons.iter().all(|u| u.pid == 4242));
        }
    }
});
