//! Helpers for the live tests: lay out what the kubelet leaves on a node (a pod's cgroup in the
//! cgroupfs driver's v1 layout, its log directory and container log link) and remove all of it
//! afterwards, also when an assertion fails.

use std::fs;
use std::path::{Path, PathBuf};

pub const MEMCG: &str = "/sys/fs/cgroup/memory";

/// Everything a test created, removed in reverse order on drop.
#[derive(Default)]
pub struct Cleanup {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    pub mounts: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        for f in self.files.iter().rev() {
            let _ = fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            // cgroup directories (memory, cpu) go with rmdir; other directories may hold files.
            if d.starts_with("/sys/fs/cgroup") {
                let _ = fs::remove_dir(d);
            } else {
                let _ = fs::remove_dir_all(d);
            }
        }
    }
}

impl Cleanup {
    /// Creates `p` (and parents) unless it exists; only what this call created is removed.
    pub fn mkdir(&mut self, p: &Path) {
        if !p.exists() {
            let mut missing = Vec::new();
            let mut cur = Some(p);
            while let Some(c) = cur {
                if c.exists() {
                    break;
                }
                missing.push(c.to_path_buf());
                cur = c.parent();
            }
            fs::create_dir_all(p).unwrap();
            self.dirs.extend(missing.into_iter().rev());
        }
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a test needing a writable v1 memory hierarchy cannot run here, if it cannot.
pub fn memcg_unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root to create memory cgroups".into());
    }
    let probe = Path::new(MEMCG).join(format!("nodescope-probe-{}", std::process::id()));
    if let Err(e) = fs::create_dir(&probe) {
        return Some(format!(
            "no writable cgroup v1 memory hierarchy at {MEMCG}: {e}"
        ));
    }
    let _ = fs::remove_dir(&probe);
    None
}

/// A pod as the kubelet lays it out with the cgroupfs driver on v1 (docs/kubelet-semantics.md §4.1, §4.2):
/// `kubepods/burstable/pod<uid>/<container id>`, `/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log`
/// and `/var/log/containers/<pod>_<ns>_<container>-<id>.log`.
pub struct FakePod {
    pub uid: String,
    pub cid: String,
    pub namespace: String,
    pub name: String,
    pub container: String,
    /// The container's memory cgroup; write a pid to its `cgroup.procs` to put a process there.
    pub cgroup: PathBuf,
    pub cleanup: Cleanup,
}

impl FakePod {
    pub fn new(namespace: &str, prefix: &str, container: &str) -> Self {
        let mut c = Cleanup::default();
        let uid = fs::read_to_string("/proc/sys/kernel/random/uuid")
            .unwrap()
            .trim()
            .to_string();
        let cid = random_hex(32);
        let name = format!("{prefix}-{}", &uid[..8]);
        let pod_cg = Path::new(MEMCG)
            .join("kubepods/burstable")
            .join(format!("pod{uid}"));
        let ctr_cg = pod_cg.join(&cid);
        c.mkdir(&ctr_cg);
        let log_dir = PathBuf::from(format!("/var/log/pods/{namespace}_{name}_{uid}"));
        c.mkdir(&log_dir.join(container));
        fs::write(
            log_dir.join(container).join("0.log"),
            "2026-11-22T03:00:00.000000000Z stdout F started\n",
        )
        .unwrap();
        c.mkdir(Path::new("/var/log/containers"));
        let link = PathBuf::from(format!(
            "/var/log/containers/{name}_{namespace}_{container}-{cid}.log"
        ));
        std::os::unix::fs::symlink(log_dir.join(container).join("0.log"), &link).unwrap();
        c.files.push(link);
        FakePod {
            uid,
            cid,
            namespace: namespace.into(),
            name,
            container: container.into(),
            cgroup: ctr_cg,
            cleanup: c,
        }
    }
}

/// Ends a live test that this machine cannot run: prints `skipped: <reason>` and returns, or,
/// when `NODESCOPE_LIVE=required` (CI), fails the test, so a missing tool, privilege or kernel
/// feature can never pass as a green run. Call as `return skip_or_fail("...")`.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("NODESCOPE_LIVE").is_ok_and(|v| v == "required") {
        panic!("NODESCOPE_LIVE=required, but this live test cannot run: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// A child process killed (and reaped) on drop: a live test never leaves one behind.
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the nodescope binary with `args` (and `env`) to its end, killed and failed past
/// `limit` (the watchdog, [`super::watchdog`]). stdout and stderr are drained while it runs,
/// so a large report never blocks on a full pipe.
pub fn nodescope_within(
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> std::process::Output {
    use super::watchdog::Watched;
    std::process::Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NODESCOPE_ROOT")
        .output_within(limit)
        .unwrap()
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.0 (no chunked answer, the connection closes after it): the
/// body, or why not, within `limit` (connect, write and every read).
pub fn http_get(port: u16, path: &str, limit: std::time::Duration) -> Result<String, String> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, limit).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP head in {text:?}"))?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("not 200: {head}"));
    }
    Ok(body.to_string())
}

/// The threads of process `pid` now.
pub fn threads(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}
