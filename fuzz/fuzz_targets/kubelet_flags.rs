//! The kubelet's command line (/proc/<pid>/cmdline: NUL-separated pflag arguments), redacted
//! and resolved over the defaults.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::model::kubelet::Provenance;

fuzz_target!(|data: &[u8]| {
    // The fuzzed arguments, then one whose effect is known: the last flag wins.
    let mut args = data.to_vec();
    args.extend_from_slice(b"\0--max-pods=77");
    let host = nodescope_fuzz::kubelet_host(&args, &[]);
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    let k = snap
        .kubelet
        .as_ref()
        .expect("the kubelet process was found");
    assert_eq!(k.flags.get("max-pods").map(String::as_str), Some("77"));
    assert_eq!(k.config.max_pods, 77);
    assert_eq!(k.config.sources.get("maxPods"), Some(&Provenance::Flag));
    assert!(!k.config.cgroup_root.is_empty());
});
