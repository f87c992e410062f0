//! `nodescope-bundle.json`: capture time, statvfs results, open deleted files, directory
//! walks, recorded errors, journal entries, NVML; then a real fixture analyzed with it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::source::bundle::META_FILE;

fuzz_target!(|data: &[u8]| {
    let mut host = nodescope_fuzz::fixture("healthy-v2-systemd-containerd");
    if host.insert_file(META_FILE, data.to_vec()).is_err() {
        return;
    }
    // Written back, the metadata reads back the same.
    let meta = host.meta().clone();
    let written = serde_json::to_vec(&meta).unwrap();
    host.insert_file(META_FILE, written.clone()).unwrap();
    assert_eq!(serde_json::to_vec(host.meta()).unwrap(), written);
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    assert_eq!(snap.taken_at, meta.captured_at);
});
