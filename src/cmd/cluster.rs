//! The cluster part of a run: started before local collection (the API is asked in parallel,
//! on its own thread, under its own deadline) and attached after it. At 3am the API server may
//! be what is down: its failures are entries in `errors`, never the end of the report.

use crate::cli::Cli;
use crate::model::{CollectError, Snapshot};
use crate::source::ErrorKind;
use crate::source::bundle::BundleHost;
use crate::source::cluster::{self, ClusterData, Credentials};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Reads List documents for a node name.
type ReadFiles = Box<dyn Fn(Option<&str>) -> ClusterData>;

/// Where the cluster facts of this run come from.
pub(super) enum Job {
    None,
    /// A fetch in progress on its own thread.
    Api {
        rx: mpsc::Receiver<ClusterData>,
        started: Instant,
        server: String,
    },
    /// List documents: a bundle's `cluster/` or `--cluster-dump DIR`.
    Files(ReadFiles),
}

/// Starts what `cli` asks for: nothing with `--no-cluster`, the dump with `--cluster-dump`,
/// the bundle's files with `--bundle`, else the API of the live node under `root`.
pub(super) fn start(cli: &Cli, root: Option<&Path>) -> Job {
    if cli.no_cluster {
        return Job::None;
    }
    if let Some(dir) = &cli.cluster_dump {
        let dir = dir.clone();
        return Job::Files(Box::new(move |node| {
            cluster::from_files(format!("dump {}", dir.display()), node, |name| {
                std::fs::read(dir.join(name)).ok()
            })
        }));
    }
    if let Some(b) = &cli.bundle {
        let b = b.clone();
        return Job::Files(Box::new(move |node| match BundleHost::open(&b) {
            Ok(h) => cluster::from_files("bundle cluster/*.json".into(), node, |name| {
                h.cluster_file(name)
            }),
            Err(_) => ClusterData::default(),
        }));
    }
    let Some(root) = root else { return Job::None };
    let (kubeconfig_flag, override_name) = kubelet_flags(root);
    let Some(creds) =
        cluster::discover(root, cli.kubeconfig.as_deref(), kubeconfig_flag.as_deref())
    else {
        return Job::None;
    };
    let node = override_name
        .or_else(|| std::fs::read_to_string(root.join("proc/sys/kernel/hostname")).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let server = match &creds {
        Credentials::InCluster => "in-cluster".to_string(),
        Credentials::Kubeconfig { path, .. } => path.display().to_string(),
    };
    let (tx, rx) = mpsc::channel();
    let root: PathBuf = root.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("nodescope-api".into())
        .spawn(move || {
            let _ = tx.send(cluster::fetch(&root, &creds, &node));
        });
    if spawned.is_err() {
        return Job::None;
    }
    Job::Api {
        rx,
        started: Instant::now(),
        server,
    }
}

/// Waits for the fetch (at most its deadline, counted from its start) and attaches what came.
pub(super) fn finish(job: Job, snap: &mut Snapshot) {
    finish_keeping(job, snap);
}

/// [`finish`], returning the API's answer when the server answered (for `capture`).
pub(super) fn finish_keeping(job: Job, snap: &mut Snapshot) -> Option<ClusterData> {
    let node_name = snap
        .kubelet
        .as_ref()
        .and_then(|k| k.config.hostname_override.clone())
        .or_else(|| snap.node.hostname.clone());
    let from_api = matches!(job, Job::Api { .. });
    let data = match job {
        Job::None => return None,
        Job::Files(read) => read(node_name.as_deref()),
        Job::Api {
            rx,
            started,
            server,
        } => {
            let left = (cluster::TOTAL_DEADLINE + Duration::from_millis(500))
                .saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok(d) => d,
                Err(_) => ClusterData {
                    notes: vec![format!(
                        "API ({server}): no answer within {} s; the local report stands alone",
                        cluster::TOTAL_DEADLINE.as_secs()
                    )],
                    ..ClusterData::default()
                },
            }
        }
    };
    for n in &data.notes {
        // One line each: a YAML parser's error carries a multi-line excerpt; a kubeconfig's
        // server URL may carry `user:password@`.
        let n = &crate::source::redact::message(n.lines().next().unwrap_or_default()).into_owned();
        let kind = if n.contains("403") {
            ErrorKind::Denied
        } else if n.contains("within") || n.contains("timed out") || n.contains("deadline") {
            ErrorKind::Timeout
        } else if n.contains("not a List document") {
            ErrorKind::Invalid
        } else {
            ErrorKind::Io
        };
        snap.errors.push(CollectError {
            collector: "cluster".into(),
            kind,
            path: None,
            line: None,
            message: n.clone(),
        });
    }
    let empty = data.source.is_empty()
        && data.nodes.is_empty()
        && data.pods.is_empty()
        && data.node.is_none();
    if !empty {
        crate::collect::cluster::attach(snap, &data);
    }
    (from_api && !empty).then_some(data)
}

/// The kubelet's `--kubeconfig` and `--hostname-override`, from its command line under `root`.
fn kubelet_flags(root: &Path) -> (Option<String>, Option<String>) {
    let Ok(rd) = std::fs::read_dir(root.join("proc")) else {
        return (None, None);
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args
            .first()
            .is_some_and(|a| a == "kubelet" || a.ends_with("/kubelet"))
        {
            continue;
        }
        let flag = |f: &str| -> Option<String> {
            let eq = format!("--{f}=");
            args.iter().enumerate().find_map(|(i, a)| {
                a.strip_prefix(&eq).map(String::from).or_else(|| {
                    (a == &format!("--{f}"))
                        .then(|| args.get(i + 1).cloned())
                        .flatten()
                })
            })
        };
        return (flag("kubeconfig"), flag("hostname-override"));
    }
    (None, None)
}
