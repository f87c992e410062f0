//! A whole bundle archive: tar bytes (gzip-compressed here, so the fuzzer works on the tar
//! structure) or, when the input starts with gzip's magic, the .tar.gz bytes as given; loaded
//! within small limits, collected, analyzed and rendered.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::source::Host;
use nodescope::source::bundle::{BundleHost, Limits};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let gz;
    let archive = if data.starts_with(&[0x1f, 0x8b]) {
        data
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        gz = e.finish().unwrap();
        &gz[..]
    };
    let limits = Limits {
        entries: 5_000,
        file_bytes: 1 << 20,
        total_bytes: 8 << 20,
        held_bytes: 8 << 20,
    };
    let Ok(host) = BundleHost::from_archive(archive, "fuzz.tar.gz", limits) else {
        return;
    };
    // Nothing in a bundle lies outside its root.
    for dir in ["/", "/proc", "/sys/fs/cgroup"] {
        if let (Ok(a), Ok(b)) = (host.read_dir(dir), host.read_dir(&format!("/..{dir}"))) {
            assert_eq!(a, b);
        }
    }
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    let findings = nodescope::analyze::analyze(&snap);
    let mut out = Vec::new();
    nodescope::render::json::write_check(&mut out, &snap, &findings).unwrap();
    nodescope::render::json::write_snapshot(&mut out, &snap).unwrap();
    nodescope::render::text::write_check(&mut out, &snap, &findings, false).unwrap();
});
