//! Shared pieces of the fuzz targets: splitting one input into several files, and bundles to
//! put them in, so that parsers reached only through a collector are fuzzed through it.

use nodescope::model::Snapshot;
use nodescope::source::bundle::{BundleHost, Limits, META_FILE};
use std::sync::OnceLock;

/// Separates the files of a multi-file input (ASCII record separator). The seed corpus
/// (scripts/fuzz-seeds.sh) joins fixture files with it.
pub const SEP: u8 = 0x1e;

/// The capture time of the bundles built here: "now" for the collectors and rules.
pub const CAPTURED_AT: &str = "2026-11-22T03:00:00Z";

/// Splits `data` at [`SEP`] into exactly `n` parts (missing ones are empty; a surplus stays in
/// the last part).
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |&b| b == SEP).collect();
    out.resize(n, &[]);
    out
}

/// Bytes of a `.tar.gz` holding `files` (path, content).
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, path, *data).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

fn meta() -> String {
    format!(r#"{{"format":"nodescope-bundle/1","captured_at":"{CAPTURED_AT}","euid":0}}"#)
}

/// A bundle holding nothing but its metadata: the fuzzed files are added to a clone of it.
/// Collecting it costs little, as nearly every read is a quick "missing".
pub fn empty_bundle() -> BundleHost {
    static B: OnceLock<BundleHost> = OnceLock::new();
    B.get_or_init(|| {
        let m = meta();
        BundleHost::from_archive(
            &tar_gz(&[(META_FILE, m.as_bytes())])[..],
            "fuzz",
            Limits::default(),
        )
        .unwrap()
    })
    .clone()
}

/// A fixture bundle of the repository (`fixtures/<name>`), loaded once.
pub fn fixture(name: &'static str) -> BundleHost {
    static CACHE: OnceLock<std::sync::Mutex<Vec<(&'static str, BundleHost)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap();
    if let Some((_, b)) = c.iter().find(|(n, _)| *n == name) {
        return b.clone();
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    let b = BundleHost::open(&dir).unwrap();
    c.push((name, b.clone()));
    b
}

/// Collects a snapshot of `host` and runs every rule on it, checking what must hold for any
/// input: working sets within usage, findings with a rule id and a title.
pub fn collect_and_analyze(host: &BundleHost) -> Snapshot {
    let snap = nodescope::collect::snapshot(host);
    for cg in snap
        .kubepods
        .iter()
        .chain(snap.pods.iter().filter_map(|p| p.cgroup.as_ref()))
        .chain(
            snap.pods
                .iter()
                .flat_map(|p| p.containers.iter().filter_map(|c| c.cgroup.as_ref())),
        )
    {
        if let (Some(u), Some(ws)) = (cg.usage_bytes, cg.working_set_bytes()) {
            assert!(ws <= u, "working set {ws} over usage {u} in {}", cg.path);
        }
    }
    if let Some(r) = &snap.root_memory {
        assert!(r.working_set_bytes() <= r.usage_bytes);
    }
    let findings = nodescope::analyze::analyze(&snap);
    for f in &findings {
        assert!(!f.id.is_empty() && !f.title.is_empty(), "{f:?}");
    }
    snap
}

/// A `/proc/<pid>/stat` line for a process named `comm` (the fields nodescope reads are right).
pub fn stat_line(pid: u32, comm: &str) -> String {
    format!(
        "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 1523 0 12 0 845 311 0 0 20 0 8 0 26028 240648192 19584 18446744073709551615 1 1 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
    )
}

/// Text as the files it stands for would be read (`Host::read_string` is lossy too).
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Where the kubelet targets put the kubelet's configuration file and drop-in directory.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
pub const KUBELET_DROP_INS: &str = "/etc/kubernetes/kubelet.conf.d";

/// A host running a kubelet (pid 77) with these command-line arguments (NUL-separated, after
/// argv[0]) and files.
pub fn kubelet_host(args: &[u8], files: &[(&str, &[u8])]) -> BundleHost {
    let mut host = empty_bundle();
    host.insert_file("/proc/77/stat", stat_line(77, "kubelet").into_bytes())
        .unwrap();
    let mut cmdline = b"/usr/bin/kubelet\0".to_vec();
    cmdline.extend_from_slice(args);
    cmdline.push(0);
    host.insert_file("/proc/77/cmdline", cmdline).unwrap();
    for (p, b) in files {
        host.insert_file(p, b.to_vec()).unwrap();
    }
    host
}
