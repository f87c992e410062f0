//! The cluster part of a run: planned from the command line, set off as soon as the first step
//! of collection has found the kubelet (the API is asked in parallel, on its own thread, under
//! its own deadline), and attached after the rest. At 3am the API server may be what is down:
//! its failures are entries in `errors`, never the end of the report.
//!
//! Everything it learns from the node goes through a host: the kubelet (and its
//! `--kubeconfig`, `--hostname-override`) is the one collect::start found and believed, the
//! hostname is the one it read, and the node's kubeconfig is read and vetted by
//! collect::kubeconfig through a host of its own, which a capture does not record (a bundle
//! never holds the files credentials came from).

use crate::cli::Cli;
use crate::collect::{Timings, kubeconfig};
use crate::model::{CollectError, Snapshot};
use crate::source::ErrorKind;
use crate::source::bundle::BundleHost;
use crate::source::cluster::{self, ClusterData, Credentials};
use crate::source::live::LiveHost;
use crate::source::{Host, join};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Reads List documents for a node name. `Send`, so that `serve`'s sampler thread can run a job.
type ReadFiles = Box<dyn Fn(Option<&str>) -> ClusterData + Send>;

/// What the cluster part of a run will do: the cluster options of the command line and the
/// live root, apart from it, so that a long-running command (`serve`) can collect with them
/// for every sample on its own thread.
#[derive(Clone)]
pub(super) struct Plan {
    no_cluster: bool,
    cluster_dump: Option<PathBuf>,
    /// The run's bundle, the very object the node is read from (a bundle is loaded once).
    bundle: Option<Arc<BundleHost>>,
    kubeconfig: Option<PathBuf>,
    /// The live node's root; `None` reads a bundle, or asks no API (the TUI).
    root: Option<PathBuf>,
}

/// Where the cluster facts of this run come from, once set off.
pub(super) struct Job {
    source: JobSource,
    /// Refusals of the node's kubeconfigs (collect::kubeconfig), for `errors`.
    refused: Vec<CollectError>,
}

enum JobSource {
    None,
    /// A fetch in progress on its own thread.
    Api {
        rx: mpsc::Receiver<ClusterData>,
        started: Instant,
        server: String,
    },
    Files(ReadFiles),
}

/// Plans what `cli` asks for: nothing with `--no-cluster`, the dump with `--cluster-dump`,
/// the bundle's files with `--bundle` (read from `bundle`, the run's one copy), else the API of
/// the live node under `root` (none without a live root). A dump that is missing, not a
/// directory or holds no List document is an error (exit 3), said now.
pub(super) fn plan(
    cli: &Cli,
    root: Option<&Path>,
    bundle: Option<Arc<BundleHost>>,
) -> anyhow::Result<Plan> {
    if let Some(dir) = &cli.cluster_dump
        && !cli.no_cluster
    {
        cluster::Dump::open(dir)?;
    }
    Ok(Plan {
        no_cluster: cli.no_cluster,
        cluster_dump: cli.cluster_dump.clone(),
        bundle,
        kubeconfig: cli.kubeconfig.clone(),
        root: root.map(Path::to_path_buf),
    })
}

/// The List documents `plan` names (`--cluster-dump`, else a bundle's `cluster/`), if any.
fn files(plan: &Plan) -> Option<ReadFiles> {
    if let Some(dir) = &plan.cluster_dump {
        let dir = dir.clone();
        return Some(Box::new(move |node| match cluster::Dump::open(&dir) {
            Ok(dump) => cluster::from_files(format!("dump {}", dump.shown()), node, &|name| {
                dump.reader(name)
            }),
            // Checked when planned; gone since (a `serve` that outlives its dump).
            Err(e) => ClusterData {
                node_name: node.map(String::from),
                notes: vec![format!("{e:#}")],
                ..ClusterData::default()
            },
        }));
    }
    let b = plan.bundle.clone()?;
    Some(Box::new(move |node| {
        cluster::from_files("bundle cluster/*.json".into(), node, &|name| {
            b.cluster_reader(name)
                .map(|r| r.map_err(|e| e.detail.clone()))
        })
    }))
}

/// Collects `host` with the cluster part of `plan` attached: the API is asked as soon as the
/// kubelet is known, while the rest is collected. Returns the API's answer too when the server
/// answered (`capture` keeps it).
pub(super) fn collect(
    plan: &Plan,
    host: &dyn Host,
    opts: crate::collect::disk::DiskOptions<'_>,
) -> (Snapshot, Option<ClusterData>) {
    collect_with(plan, host, opts, None, &mut Timings::off())
}

/// [`collect`] with a cache carried from the last sample (`serve`) and each phase timed into
/// `timings` (the cluster part as `cluster`: the wait for the API after the collection).
pub(super) fn collect_with(
    plan: &Plan,
    host: &dyn Host,
    opts: crate::collect::disk::DiskOptions<'_>,
    carry: Option<&mut crate::collect::Carry>,
    timings: &mut Timings,
) -> (Snapshot, Option<ClusterData>) {
    let started = crate::collect::start_with(host, carry, std::mem::take(timings));
    let job = set_off(plan, &started);
    let (mut snap, t) = started.finish_timed(opts);
    *timings = t;
    let api = timings.time("cluster", || finish_keeping(job, &mut snap));
    (snap, api)
}

/// Where a run's API credentials come from, decided from the command line, nodescope's
/// environment and which of the node's kubeconfigs exist and pass collect::kubeconfig's rules.
/// Deciding builds no client: no TLS configuration, no thread, no name resolved. `None` means
/// the run asks no API at all (the common case off a cluster, and `--no-cluster`).
#[derive(Debug)]
enum Discovery {
    None,
    Api(Credentials),
}

/// [`Discovery`] for a live root `root`, the kubelet the first step found and the user's
/// environment `env`; each node kubeconfig refused is a line in `refused`.
fn discover(
    kubeconfig: Option<&Path>,
    env: &cluster::UserEnv,
    root: &Path,
    kubelet: Option<&crate::model::KubeletInfo>,
    refused: &mut Vec<CollectError>,
) -> Discovery {
    match cluster::user_credentials_in(kubeconfig, env)
        .or_else(|| node_credentials(root, kubelet, refused))
    {
        Some(c) => Discovery::Api(c),
        None => Discovery::None,
    }
}

/// Sets off what `plan` says, with what the first step of collection found: a fetch on its own
/// thread only when [`discover`] found credentials.
fn set_off(plan: &Plan, started: &crate::collect::Started<'_>) -> Job {
    let none = |refused| Job {
        source: JobSource::None,
        refused,
    };
    if plan.no_cluster {
        return none(Vec::new());
    }
    if let Some(read) = files(plan) {
        return Job {
            source: JobSource::Files(read),
            refused: Vec::new(),
        };
    }
    let Some(root) = &plan.root else {
        return none(Vec::new());
    };
    let mut refused = Vec::new();
    let env = cluster::UserEnv::current();
    let creds = match discover(
        plan.kubeconfig.as_deref(),
        &env,
        root,
        started.kubelet(),
        &mut refused,
    ) {
        Discovery::Api(c) => c,
        Discovery::None => return none(refused),
    };
    let node = started.node_name().unwrap_or_default();
    let server = match &creds {
        Credentials::InCluster => "in-cluster".to_string(),
        Credentials::User { path, .. } => path.display().to_string(),
        Credentials::Node { path, .. } => path.clone(),
    };
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("nodescope-api".into())
        .spawn(move || {
            let _ = tx.send(cluster::fetch(&creds, &node));
        });
    if spawned.is_err() {
        return none(refused);
    }
    Job {
        source: JobSource::Api {
            rx,
            started: Instant::now(),
            server,
        },
        refused,
    }
}

/// The first of the node's kubeconfigs that passes collect::kubeconfig's rules: the trusted
/// kubelet's `--kubeconfig`, then [`kubeconfig::NODE_KUBECONFIGS`]. Each one refused is a line
/// in `refused`; one that is not there is skipped.
fn node_credentials(
    root: &Path,
    kubelet: Option<&crate::model::KubeletInfo>,
    refused: &mut Vec<CollectError>,
) -> Option<Credentials> {
    // A host of its own: a capture's recording host would keep the files credentials are in.
    let host = LiveHost::new(root).ok()?;
    let mut candidates: Vec<String> = kubelet
        .and_then(|k| k.config.kubeconfig.as_deref())
        .map(|p| join("/", p))
        .into_iter()
        .collect();
    for p in kubeconfig::NODE_KUBECONFIGS {
        if !candidates.iter().any(|c| c == p) {
            candidates.push((*p).to_string());
        }
    }
    for path in candidates {
        match kubeconfig::vet(&host, root, &path, cluster::NODE_KUBECONFIG) {
            Ok(Some(config)) => {
                return Some(Credentials::Node {
                    path,
                    config: Box::new(config),
                });
            }
            Ok(None) => {}
            Err(line) => refused.push(line),
        }
    }
    None
}

/// A bundle's `cluster/*.json` or `--cluster-dump`, for the TUI, which does not poll the API.
pub(super) fn offline(plan: &Plan) -> Job {
    Job {
        source: match files(plan).filter(|_| !plan.no_cluster) {
            Some(read) => JobSource::Files(read),
            None => JobSource::None,
        },
        refused: Vec::new(),
    }
}

/// Waits for the fetch (at most its deadline, counted from its start) and attaches what came.
pub(super) fn finish(job: Job, snap: &mut Snapshot) {
    finish_keeping(job, snap);
}

/// [`finish`], returning the API's answer when the server answered (for `capture`).
fn finish_keeping(job: Job, snap: &mut Snapshot) -> Option<ClusterData> {
    snap.errors.extend(job.refused);
    let node_name = snap
        .kubelet
        .as_ref()
        .and_then(|k| k.config.hostname_override.clone())
        .or_else(|| snap.node.hostname.clone());
    let from_api = matches!(job.source, JobSource::Api { .. });
    let data = match job.source {
        JobSource::None => return None,
        JobSource::Files(read) => read(node_name.as_deref()),
        JobSource::Api {
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
        // One line each: a YAML parser's error carries a multi-line excerpt.
        // A kubeconfig's server URL may carry `user:password@`.
        let n = &crate::source::redact::message(n.lines().next().unwrap_or_default()).into_owned();
        // "(403)" as `describe` writes it: a bare 403 may be part of a port or a name.
        let kind = if n.contains("(403)") {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A live root of its own, with /proc as LiveHost wants it.
    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("proc")).unwrap();
        d
    }

    /// No flag, no environment, no node kubeconfig: nothing to ask, and nothing refused.
    #[test]
    fn no_credentials_anywhere_is_no_api() {
        let r = root();
        let mut refused = Vec::new();
        let d = discover(
            None,
            &cluster::UserEnv::default(),
            r.path(),
            None,
            &mut refused,
        );
        assert!(matches!(d, Discovery::None), "{d:?}");
        assert!(refused.is_empty(), "{refused:?}");
    }

    /// A node kubeconfig anyone may write is refused, said in `errors`, and no API is asked;
    /// `--kubeconfig` and `KUBECONFIG` are the user's choice and win without a read.
    #[test]
    fn a_refused_node_kubeconfig_is_no_api_and_user_choices_win() {
        use std::os::unix::fs::PermissionsExt;
        let r = root();
        let dir = r.path().join("etc/kubernetes");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("kubelet.conf");
        std::fs::write(&conf, "apiVersion: v1\nkind: Config\n").unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut refused = Vec::new();
        let env = cluster::UserEnv::default();
        let d = discover(None, &env, r.path(), None, &mut refused);
        assert!(matches!(d, Discovery::None), "{d:?}");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(
            refused[0].path.as_deref(),
            Some("/etc/kubernetes/kubelet.conf")
        );

        let env = cluster::UserEnv {
            kubeconfig: Some("/a/config:/b/config".into()),
            in_cluster: true,
        };
        let mut refused = Vec::new();
        match discover(None, &env, r.path(), None, &mut refused) {
            Discovery::Api(Credentials::User { path, why }) => {
                assert_eq!(
                    (path.as_path(), why),
                    (Path::new("/a/config"), "KUBECONFIG")
                );
            }
            d => panic!("{d:?}"),
        }
        assert!(
            refused.is_empty(),
            "the node's files are not read: {refused:?}"
        );
        let env = cluster::UserEnv {
            kubeconfig: None,
            in_cluster: true,
        };
        assert!(matches!(
            discover(None, &env, r.path(), None, &mut refused),
            Discovery::Api(Credentials::InCluster)
        ));
    }
}
