//! The container runtime's storage configuration: containerd's config.toml (v2 and v3), or
//! CRI-O's containers-storage storage.conf, crio.conf and a crio.conf.d drop-in.
//!
//! Input: a first byte `c` (CRI-O) or anything else (containerd), then the files separated by
//! `nodescope_fuzz::SEP`: config.toml; or storage.conf, crio.conf, drop-in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope_fuzz::split;

fuzz_target!(|data: &[u8]| {
    let (crio, rest) = match data.split_first() {
        Some((b'c', rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => (false, data),
    };
    let mut host = nodescope_fuzz::empty_bundle();
    let parts = split(rest, 3);
    let files: &[&str] = if crio {
        &[
            "/etc/containers/storage.conf",
            "/etc/crio/crio.conf",
            "/etc/crio/crio.conf.d/10-fuzz.conf",
        ]
    } else {
        &["/etc/containerd/config.toml"]
    };
    for (p, b) in files.iter().zip(&parts) {
        host.insert_file(p, b.to_vec()).unwrap();
    }
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    let rt = snap.disk.runtime.as_ref().expect("the runtime was found");
    assert_eq!(rt.name, if crio { "cri-o" } else { "containerd" });
    assert!(
        rt.image_store.starts_with(rt.root.trim_end_matches('/')),
        "{rt:?}"
    );
    assert!(rt.config_files.iter().all(|f| files.contains(&f.as_str())));
});
