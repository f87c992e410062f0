//! The API server, optional and bounded: credentials discovered the way an SRE would try them,
//! every request under a deadline, and `kubectl get -o json` List documents standing in for
//! the server offline (a bundle's `cluster/*.json`, or `--cluster-dump DIR`).
//!
//! Credential order: `--kubeconfig FILE`; `KUBECONFIG`; the in-cluster service account of the
//! pod nodescope runs in; the node's own kubeconfig under the host root (the trusted kubelet's
//! `--kubeconfig`, then collect::kubeconfig::NODE_KUBECONFIGS), which collect::kubeconfig
//! reads through the host and vets first. A kubeconfig the user names is read by the client
//! as kubectl reads it: the user's choice, the user's trust.

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Connecting and each request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
/// Everything the API part of one run may take.
pub const TOTAL_DEADLINE: Duration = Duration::from_secs(5);

/// How [`Credentials::Node`] names the node's own kubelet kubeconfig.
pub const NODE_KUBECONFIG: &str = "the kubelet's kubeconfig";

/// What the API server (or its stand-in) returned.
#[derive(Debug, Default)]
pub struct ClusterData {
    pub source: String,
    pub node_name: Option<String>,
    pub node: Option<Node>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub pending: Vec<Pod>,
    pub events: Vec<Event>,
    /// One line per thing that could not be fetched.
    pub notes: Vec<String>,
    /// Non-terminal pods asking for a GPU resource, bound to the other GPU nodes.
    pub gpu_node_pods: Vec<Pod>,
    /// The other GPU nodes whose pods were listed (at most [`MAX_GPU_NODES`]).
    pub gpu_nodes_listed: Vec<String>,
    /// The kubelet's `/configz` answer, as it came (at most [`MAX_PROXY_BYTES`]).
    pub configz: Option<Vec<u8>>,
    /// The kubelet's `/stats/summary` answer, as it came (at most [`MAX_PROXY_BYTES`]).
    pub summary: Option<Vec<u8>>,
}

/// Where credentials come from.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A kubeconfig the user named (`--kubeconfig`, `KUBECONFIG`), read by the client itself.
    User {
        path: PathBuf,
        why: &'static str,
    },
    /// The node's kubeconfig at host path `path`, already vetted and made self-contained
    /// (collect::kubeconfig): the client opens no file for it.
    Node {
        path: String,
        config: Box<kube::config::Kubeconfig>,
    },
    InCluster,
}

/// The credentials the user chose, in order: `explicit` (`--kubeconfig`), the first file of
/// `KUBECONFIG` (as kubectl merges them), the in-cluster service account. `None` leaves the
/// node's own kubeconfig to try.
pub fn user_credentials(explicit: Option<&Path>) -> Option<Credentials> {
    user_credentials_in(explicit, &UserEnv::current())
}

/// What of nodescope's own environment names credentials, read once.
#[derive(Debug, Clone, Default)]
pub struct UserEnv {
    /// `KUBECONFIG`, when set and not empty.
    pub kubeconfig: Option<std::ffi::OsString>,
    /// `KUBERNETES_SERVICE_HOST` is set and the service account's token file exists: nodescope
    /// runs in a pod (its own, not the node's).
    pub in_cluster: bool,
}

impl UserEnv {
    /// This process's environment.
    pub fn current() -> Self {
        UserEnv {
            kubeconfig: std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()),
            in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
                && Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists(),
        }
    }
}

/// [`user_credentials`] from a given environment.
pub fn user_credentials_in(explicit: Option<&Path>, env: &UserEnv) -> Option<Credentials> {
    if let Some(p) = explicit {
        return Some(Credentials::User {
            path: p.to_path_buf(),
            why: "--kubeconfig",
        });
    }
    if let Some(k) = &env.kubeconfig {
        let first = std::env::split_paths(k).next()?;
        return Some(Credentials::User {
            path: first,
            why: "KUBECONFIG",
        });
    }
    env.in_cluster.then_some(Credentials::InCluster)
}

/// Fetches this node, its pods, Pending pods, events of interest and the other nodes, within
/// [`TOTAL_DEADLINE`]. Never fails: what could not be had is a note.
pub fn fetch(creds: &Credentials, node_name: &str) -> ClusterData {
    let mut data = ClusterData {
        node_name: Some(node_name.to_string()),
        ..ClusterData::default()
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            data.notes
                .push(format!("API: cannot start the client runtime: {e}"));
            return data;
        }
    };
    let r = rt.block_on(async {
        tokio::time::timeout(TOTAL_DEADLINE, fetch_async(creds, node_name, &mut data)).await
    });
    if r.is_err() {
        data.notes.push(format!(
            "API: no complete answer within {} s (server hung or unreachable); the local report stands alone",
            TOTAL_DEADLINE.as_secs()
        ));
    }
    data.notes.sort();
    data.notes.dedup();
    data
}

async fn client(creds: &Credentials) -> Result<(kube::Client, String), String> {
    client_with(creds, REQUEST_DEADLINE, Some(REQUEST_DEADLINE)).await
}

/// A client for `creds` (and the server's URL, credentials redacted) whose connections must be
/// made within `connect` and whose reads and writes may each stall at most `io` (`None`: the
/// caller bounds each request itself, as `fleet` and `debug` do).
pub(crate) async fn client_with(
    creds: &Credentials,
    connect: Duration,
    io: Option<Duration>,
) -> Result<(kube::Client, String), String> {
    let options = kube::config::KubeConfigOptions::default();
    let mut config = match creds {
        Credentials::InCluster => {
            kube::Config::incluster().map_err(|e| format!("in-cluster config: {e}"))?
        }
        Credentials::User { path, .. } => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        Credentials::Node { path, config } => {
            kube::Config::from_custom_kubeconfig((**config).clone(), &options)
                .await
                .map_err(|e| format!("{path}: {e}"))?
        }
    };
    config.connect_timeout = Some(connect);
    config.read_timeout = io;
    config.write_timeout = io;
    let server = super::redact::url(&config.cluster_url.to_string());
    let c = kube::Client::try_from(config).map_err(|e| format!("client: {}", chain(&e)))?;
    Ok((c, server))
}

/// A client error and its causes as one line ([`super::error_chain`]), except that a failed
/// credential plugin is told by its exit status alone: kube's own message repeats the
/// plugin's environment and output, where credentials are.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let m = match err.downcast_ref::<kube::client::AuthError>() {
            Some(a) => {
                parts.push(auth_error(a));
                break;
            }
            None => err.to_string(),
        };
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// A credential failure in words that hold no credential.
fn auth_error(a: &kube::client::AuthError) -> String {
    use kube::client::AuthError as A;
    match a {
        A::AuthExecRun { out, .. } => {
            format!("the exec credential plugin failed ({})", out.status)
        }
        A::AuthExecParse(_) | A::AuthExec(_) | A::ExecPluginFailed => {
            "the exec credential plugin did not answer with a credential".into()
        }
        A::AuthExecStart(e) => format!("the exec credential plugin could not start: {e}"),
        other => other.to_string(),
    }
}

/// One request's failure as a line: 403s say what RBAC forbids; transport errors name their
/// root cause (a timeout, a refused connection, a certificate), not only the client's wrapper.
fn describe(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("API: {what}: forbidden by RBAC (403); skipped")
        }
        kube::Error::Api(s) => format!("API: {what}: {} {}", s.code, s.message),
        other => format!("API: {what}: {}", chain(other)),
    }
}

/// Whether an error is the transport's (no HTTP answer), not the server's.
fn transport(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(_) | kube::Error::SerdeError(_))
}

async fn fetch_async(creds: &Credentials, node_name: &str, data: &mut ClusterData) {
    let (client, server) = match client(creds).await {
        Ok(c) => c,
        Err(e) => {
            data.notes.push(format!("API: {e}"));
            return;
        }
    };
    data.source = match creds {
        Credentials::InCluster => format!("api {server} (in-cluster service account)"),
        Credentials::User { path, why } => format!("api {server} ({why} {})", path.display()),
        Credentials::Node { path, .. } => format!("api {server} ({NODE_KUBECONFIG} {path})"),
    };
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let events: Api<Event> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node_name}"));
    let pending = ListParams::default().fields("status.phase=Pending");
    let recent = ListParams::default().limit(1000);
    let everything = ListParams::default();
    let (node, all_nodes, local, pend, evs) = tokio::join!(
        nodes.get_opt(node_name),
        nodes.list(&everything),
        pods.list(&on_node),
        pods.list(&pending),
        events.list(&recent),
    );
    // A server that never answers (or refuses) fails every request the same way: one line.
    let failures = [
        node.as_ref().err(),
        all_nodes.as_ref().err(),
        local.as_ref().err(),
        pend.as_ref().err(),
        evs.as_ref().err(),
    ];
    if failures.iter().all(|f| f.is_some_and(transport)) {
        let cause = failures[0].map(|e| chain(e)).unwrap_or_default();
        data.notes.push(format!(
            "API {server}: no answer to any request ({cause}); the local report stands alone"
        ));
        return;
    }
    match node {
        Ok(Some(n)) => data.node = Some(n),
        Ok(None) => data.notes.push(format!("API: node {node_name} not found")),
        Err(e) => data.notes.push(describe(&format!("node {node_name}"), &e)),
    }
    match all_nodes {
        Ok(l) => data.nodes = l.items,
        Err(e) => data.notes.push(describe("listing nodes", &e)),
    }
    // The same choice of what to keep as for a dump: one truth, whichever the source.
    let mut keep = PodKeeper::new(Some(node_name));
    match local {
        Ok(l) => l.items.into_iter().for_each(|p| keep.offer(p)),
        Err(e) => data.notes.push(describe("pods on this node", &e)),
    }
    match pend {
        // A Pending pod already bound to this node came with the first list too.
        Ok(l) => {
            for p in l.items {
                if !keep.bound_here(&p) {
                    keep.offer(p);
                }
            }
        }
        Err(e) => data.notes.push(describe("Pending pods", &e)),
    }
    keep.finish(data);
    match evs {
        Ok(l) => data.events = l.items,
        Err(e) => data.notes.push(describe("events", &e)),
    }
    // Second: what needs the first's answers. The kubelet's own view, and, when a Pending pod
    // asks for a GPU, what each other GPU node has allocated.
    let (listed, over) = gpu_nodes(&data.nodes, Some(node_name));
    let wanted = !data.pending.is_empty();
    let (gpu, configz, summary) = tokio::join!(
        gpu_node_lists(&pods, if wanted { &listed[..] } else { &[] }),
        proxy_get(&client, node_name, "configz"),
        proxy_get(&client, node_name, "stats/summary"),
    );
    if wanted {
        let mut gk = GpuKeeper::new(&listed);
        for (node, r) in listed.iter().zip(gpu) {
            match r {
                Ok(items) => {
                    items.into_iter().for_each(|p| gk.offer(p));
                    data.gpu_nodes_listed.push(node.clone());
                }
                Err(line) => data.notes.push(line),
            }
        }
        gk.finish(data, over);
    }
    // Both refused for one reason (a 403 on nodes/proxy, most often) is one line.
    if let (Err(a), Err(b)) = (&configz, &summary)
        && a == b
    {
        data.notes.push(format!(
            "API: the kubelet's configz and stats/summary of node {node_name}: {a}"
        ));
        return;
    }
    for (what, r, slot) in [
        ("configz", configz, &mut data.configz),
        ("stats/summary", summary, &mut data.summary),
    ] {
        match r {
            Ok(b) => *slot = Some(b),
            Err(line) => data.notes.push(format!(
                "API: the kubelet's {what} of node {node_name}: {line}"
            )),
        }
    }
}

/// At most this many other GPU nodes have their pods listed for one run (one request each).
pub const MAX_GPU_NODES: usize = 64;
/// At most this many pods bound to other GPU nodes are kept.
pub const MAX_GPU_NODE_PODS: usize = 8_000;
/// Most bytes a kubelet proxy answer (`configz`, `stats/summary`) may hold: configz is a few
/// KiB; the summary grows by a few KiB per pod, under 2 MiB at a few hundred pods.
pub const MAX_PROXY_BYTES: usize = 8 << 20;

/// The nodes other than `this` whose allocatable offers an `nvidia.com/` resource, by name,
/// at most [`MAX_GPU_NODES`]; and how many more there were.
fn gpu_nodes(nodes: &[Node], this: Option<&str>) -> (Vec<String>, usize) {
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|n| n.metadata.name.as_deref() != this)
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .is_some_and(|a| {
                    a.iter()
                        .any(|(k, v)| k.starts_with("nvidia.com/") && v.0.trim() != "0")
                })
        })
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    names.sort();
    let over = names.len().saturating_sub(MAX_GPU_NODES);
    names.truncate(MAX_GPU_NODES);
    (names, over)
}

/// One field-selected list per node: its non-terminal pods (the scheduler counts only those:
/// pkg/scheduler/scheduler.go `newPodInformer` drops Succeeded and Failed pods), concurrently,
/// in `nodes`' order. A failure is its line.
async fn gpu_node_lists(pods: &Api<Pod>, nodes: &[String]) -> Vec<Result<Vec<Pod>, String>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, n) in nodes.iter().enumerate() {
        let api = pods.clone();
        let lp = ListParams::default().fields(&format!(
            "spec.nodeName={n},status.phase!=Succeeded,status.phase!=Failed"
        ));
        let what = format!("pods on GPU node {n}");
        set.spawn(async move {
            (
                i,
                api.list(&lp)
                    .await
                    .map(|l| l.items)
                    .map_err(|e| describe(&what, &e)),
            )
        });
    }
    let mut out: Vec<Result<Vec<Pod>, String>> = nodes
        .iter()
        .map(|n| Err(format!("API: pods on GPU node {n}: no answer")))
        .collect();
    while let Some(Ok((i, r))) = set.join_next().await {
        if let Some(slot) = out.get_mut(i) {
            *slot = r;
        }
    }
    out
}

/// GETs `/api/v1/nodes/<node>/proxy/<what>` (the API server's proxy to the node's kubelet),
/// at most [`MAX_PROXY_BYTES`]. A failure is one line: a 403 says what RBAC forbids.
async fn proxy_get(client: &kube::Client, node: &str, what: &str) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    let req = hyper::Request::get(format!("/api/v1/nodes/{node}/proxy/{what}"))
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let resp = client.send(req).await.map_err(|e| chain(&e))?;
    let status = resp.status();
    if status.as_u16() == 403 {
        return Err("forbidden by RBAC (403: nodes/proxy); skipped".into());
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let body = http_body_util::Limited::new(resp.into_body(), MAX_PROXY_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{e} (at most {MAX_PROXY_BYTES} bytes)"))?;
    Ok(body.to_bytes().to_vec())
}

/// Keeps the pods that hold a GPU resource on the other GPU nodes, slimmed, at most
/// [`MAX_GPU_NODE_PODS`].
struct GpuKeeper {
    nodes: std::collections::BTreeSet<String>,
    pods: Vec<Pod>,
    over: usize,
}

impl GpuKeeper {
    fn new(nodes: &[String]) -> Self {
        GpuKeeper {
            nodes: nodes.iter().cloned().collect(),
            pods: Vec::new(),
            over: 0,
        }
    }

    /// Whether `p` is bound to one of the nodes, not terminal, and holds a GPU resource.
    fn wants(&self, p: &Pod) -> bool {
        let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal = matches!(phase, Some("Succeeded" | "Failed"));
        !terminal && node.is_some_and(|n| self.nodes.contains(n)) && asks_for_gpu(p)
    }

    fn offer(&mut self, p: Pod) {
        if !self.wants(&p) {
            return;
        }
        if self.pods.len() < MAX_GPU_NODE_PODS {
            self.pods.push(slim(p));
        } else {
            self.over += 1;
        }
    }

    fn finish(self, data: &mut ClusterData, nodes_over: usize) {
        data.gpu_node_pods = self.pods;
        if self.over > 0 {
            data.notes.push(format!(
                "{} more pods holding a GPU on other GPU nodes not kept (at most {MAX_GPU_NODE_PODS})",
                self.over
            ));
        }
        if nodes_over > 0 {
            data.notes.push(format!(
                "{nodes_over} more GPU nodes not listed (at most {MAX_GPU_NODES}): their allocation is unknown"
            ));
        }
    }
}

/// Whether a container of `p` requests or limits an `nvidia.com/` resource.
fn asks_for_gpu(p: &Pod) -> bool {
    p.spec.iter().flat_map(|s| s.containers.iter()).any(|c| {
        c.resources.as_ref().is_some_and(|r| {
            r.requests
                .iter()
                .chain(r.limits.iter())
                .flat_map(|m| m.keys())
                .any(|k| k.starts_with("nvidia.com/"))
        })
    })
}

/// Opens one List document by name: `None` when there is no such file, `Some(Err(why))` when
/// it is there but cannot be read (a FIFO, a device, a link, over its size cap).
pub type OpenList<'a> = dyn Fn(&str) -> Option<Result<Box<dyn Read + 'a>, String>> + 'a;

/// Reads `nodes.json`, `pods.json` and `events.json` (List documents as `kubectl get -o json`
/// writes them) through `open`; a missing file is no data, an unreadable or malformed one a
/// note. Each document is parsed as a stream and only what is used is kept: every node, the
/// pods bound to `node_name` and the Pending pods, the events of the reasons the report shows
/// ([`crate::model::cluster::EVENT_REASONS`]). A 100k-pod `pods.json` costs one pod at a
/// time, not the whole list.
pub fn from_files(source: String, node_name: Option<&str>, open: &OpenList<'_>) -> ClusterData {
    let mut data = ClusterData {
        source,
        node_name: node_name.map(String::from),
        ..ClusterData::default()
    };
    let mut notes = Vec::new();
    stream_file(open, "nodes.json", &mut notes, |n: Node| data.nodes.push(n));
    let mut keep = PodKeeper::new(node_name);
    let (listed, over) = gpu_nodes(&data.nodes, node_name);
    let mut gk = GpuKeeper::new(&listed);
    let read = stream_file(open, "pods.json", &mut notes, |p: Pod| {
        if gk.wants(&p) {
            gk.offer(p.clone());
        }
        keep.offer(p)
    });
    keep.finish(&mut data);
    if read {
        // A dump's pods.json holds every pod: each GPU node's are all there.
        data.gpu_nodes_listed = listed;
        gk.finish(&mut data, over);
    }
    for (name, slot) in [
        (CONFIGZ_FILE, &mut data.configz),
        (SUMMARY_FILE, &mut data.summary),
    ] {
        match read_capped(open, name) {
            None => {}
            Some(Ok(b)) => *slot = Some(b),
            Some(Err(why)) => notes.push(format!("{name}: {why}")),
        }
    }
    stream_file(open, "events.json", &mut notes, |e: Event| {
        if e.reason
            .as_deref()
            .is_some_and(|r| crate::model::cluster::EVENT_REASONS.contains(&r))
        {
            data.events.push(e);
        }
    });
    // The keeper's notes (what it counted and passed over) follow the files' own.
    notes.append(&mut data.notes);
    data.notes = notes;
    if let Some(n) = node_name {
        data.node = data
            .nodes
            .iter()
            .find(|x| x.metadata.name.as_deref() == Some(n))
            .cloned();
    }
    data
}

/// At most this many pods bound to the node are kept. The kubelet admits `maxPods` (110 by
/// default; providers raise it to 250 and some to a few hundred more), so a dump claiming more
/// is not a real node's; the rest are counted in a note.
pub const MAX_NODE_PODS: usize = 2_000;
/// At most this many Pending pods that ask for an extended resource are kept.
pub const MAX_PENDING: usize = 2_000;

/// Chooses the pods worth keeping, one at a time, as they stream in: every pod bound to the
/// node, and the Pending pods that ask for an extended resource (`nvidia.com/gpu`: the only
/// Pending pods a rule reads, `gpu.pending-pod` and `gpu.mig-resource-mismatch`), each slimmed
/// to the fields [`crate::collect::cluster::pod`] reads. What a cap leaves out is counted in a
/// note (data missing); Pending pods no rule reads are not data missing, and pass silently. A
/// 100k-pod cluster costs what it shows, not what it holds.
struct PodKeeper<'a> {
    node_name: Option<&'a str>,
    pods: Vec<Pod>,
    pending: Vec<Pod>,
    over_node: usize,
    over_pending: usize,
}

impl<'a> PodKeeper<'a> {
    fn new(node_name: Option<&'a str>) -> Self {
        PodKeeper {
            node_name,
            pods: Vec::new(),
            pending: Vec::new(),
            over_node: 0,
            over_pending: 0,
        }
    }

    fn bound_here(&self, p: &Pod) -> bool {
        let spec_node = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
        spec_node.is_some() && spec_node == self.node_name
    }

    fn offer(&mut self, p: Pod) {
        let on_node = self.bound_here(&p);
        let pending = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        let wanted_pending = pending && asks_for_extended_resource(&p);
        if !on_node && !wanted_pending {
            return;
        }
        let p = slim(p);
        if wanted_pending {
            if self.pending.len() < MAX_PENDING {
                self.pending.push(p.clone());
            } else {
                self.over_pending += 1;
            }
        }
        if on_node {
            if self.pods.len() < MAX_NODE_PODS {
                self.pods.push(p);
            } else {
                self.over_node += 1;
            }
        }
    }

    fn finish(self, data: &mut ClusterData) {
        data.pods = self.pods;
        data.pending = self.pending;
        if self.over_node > 0 {
            data.notes.push(format!(
                "{} more pods bound to this node not kept (at most {MAX_NODE_PODS}: more than any kubelet's maxPods)",
                self.over_node
            ));
        }
        if self.over_pending > 0 {
            data.notes.push(format!(
                "{} more Pending pods asking for an extended resource not kept (at most {MAX_PENDING})",
                self.over_pending
            ));
        }
    }
}

/// Whether a container of `p` requests or limits a resource outside the `kubernetes.io`
/// domain: an extended resource such as `nvidia.com/gpu` (resource names: a domain-prefixed
/// name is extended unless the domain is kubernetes.io; pkg/apis/core/helper `IsExtendedResourceName`).
fn asks_for_extended_resource(p: &Pod) -> bool {
    let extended = |k: &String| {
        k.split_once('/')
            .is_some_and(|(domain, _)| !domain.ends_with("kubernetes.io"))
    };
    p.spec.iter().flat_map(|s| s.containers.iter()).any(|c| {
        c.resources.as_ref().is_some_and(|r| {
            r.requests.iter().flat_map(|m| m.keys()).any(extended)
                || r.limits.iter().flat_map(|m| m.keys()).any(extended)
        })
    })
}

/// The annotations `IsStaticPod` and `IsMirrorPod` read (pkg/kubelet/types/pod_update.go).
pub const STATIC_POD_ANNOTATIONS: [&str; 2] =
    ["kubernetes.io/config.source", "kubernetes.io/config.mirror"];

/// The pod with only what [`crate::collect::cluster::pod`] reads: names and uid; node, priority,
/// host network, DNS policy, node selector, tolerations and node affinity; each container's name
/// and resources; phase, QoS, reason and each container's restarts and last termination; the two
/// annotations that make a pod static or a mirror (`kubernetes.io/config.source`,
/// `kubernetes.io/config.mirror`, pkg/kubelet/types/pod_update.go). The rest (managed fields,
/// other annotations, env, volumes, probes) can be most of an object's size.
fn slim(p: Pod) -> Pod {
    use k8s_openapi::api::core::v1::{Affinity, Container, ContainerStatus, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let spec = p.spec.map(|s| PodSpec {
        node_name: s.node_name,
        priority: s.priority,
        priority_class_name: s.priority_class_name,
        host_network: s.host_network,
        dns_policy: s.dns_policy,
        node_selector: s.node_selector,
        tolerations: s.tolerations,
        affinity: s.affinity.and_then(|a| {
            a.node_affinity.map(|n| Affinity {
                node_affinity: Some(n),
                ..Affinity::default()
            })
        }),
        containers: s
            .containers
            .into_iter()
            .map(|c| Container {
                name: c.name,
                resources: c.resources,
                ..Container::default()
            })
            .collect(),
        ..PodSpec::default()
    });
    let status = p.status.map(|s| PodStatus {
        phase: s.phase,
        qos_class: s.qos_class,
        reason: s.reason,
        message: s.message,
        conditions: s.conditions,
        container_statuses: s.container_statuses.map(|v| {
            v.into_iter()
                .map(|c| ContainerStatus {
                    name: c.name,
                    restart_count: c.restart_count,
                    last_state: c.last_state,
                    state: c.state,
                    ready: c.ready,
                    ..ContainerStatus::default()
                })
                .collect()
        }),
        ..PodStatus::default()
    });
    Pod {
        metadata: ObjectMeta {
            uid: p.metadata.uid,
            namespace: p.metadata.namespace,
            name: p.metadata.name,
            annotations: p.metadata.annotations.map(|a| {
                a.into_iter()
                    .filter(|(k, _)| STATIC_POD_ANNOTATIONS.contains(&k.as_str()))
                    .collect()
            }),
            ..ObjectMeta::default()
        },
        spec,
        status,
    }
}

/// Where a bundle or dump keeps the kubelet's `/configz` answer.
pub const CONFIGZ_FILE: &str = "configz.json";
/// Where a bundle or dump keeps the kubelet's `/stats/summary` answer.
pub const SUMMARY_FILE: &str = "stats-summary.json";

/// Reads `name` whole, at most [`MAX_PROXY_BYTES`]; `None` when there is no such file.
fn read_capped(open: &OpenList<'_>, name: &str) -> Option<Result<Vec<u8>, String>> {
    let r = match open(name)? {
        Ok(r) => r,
        Err(why) => return Some(Err(why)),
    };
    let mut buf = Vec::new();
    Some(
        match r.take(MAX_PROXY_BYTES as u64 + 1).read_to_end(&mut buf) {
            Err(e) => Err(e.to_string()),
            Ok(n) if n > MAX_PROXY_BYTES => Err(format!("over {MAX_PROXY_BYTES} bytes")),
            Ok(_) => Ok(buf),
        },
    )
}

/// Streams the items of the List document `name` into `keep`; what fails is a note. Whether
/// the whole document was read.
fn stream_file<T: serde::de::DeserializeOwned>(
    open: &OpenList<'_>,
    name: &str,
    notes: &mut Vec<String>,
    keep: impl FnMut(T),
) -> bool {
    match open(name) {
        None => false,
        Some(Err(why)) => {
            notes.push(format!("{name}: {why}"));
            false
        }
        Some(Ok(r)) => match stream_items(std::io::BufReader::new(r), keep) {
            Ok(()) => true,
            Err(e) => {
                notes.push(format!("{name}: not a List document: {e}"));
                false
            }
        },
    }
}

/// Parses a List document (`{"kind": "PodList", "items": [...]}`) from `r`, handing each item
/// to `keep` as it is parsed; every other key is skipped unparsed.
pub fn stream_items<T: serde::de::DeserializeOwned>(
    r: impl Read,
    mut keep: impl FnMut(T),
) -> Result<(), serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_reader(r);
    ListSeed {
        keep: &mut keep,
        item: std::marker::PhantomData,
    }
    .deserialize(&mut de)?;
    de.end()
}

/// The document: a map whose `items` are streamed.
struct ListSeed<'k, T, F> {
    keep: &'k mut F,
    item: std::marker::PhantomData<fn() -> T>,
}

impl<'de, T: serde::de::DeserializeOwned, F: FnMut(T)> serde::de::DeserializeSeed<'de>
    for ListSeed<'_, T, F>
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: serde::de::DeserializeOwned, F: FnMut(T)> serde::de::Visitor<'de>
    for ListSeed<'_, T, F>
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a List object with an `items` array")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(ItemsSeed {
                    keep: &mut *self.keep,
                    item: self.item,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` array, each element parsed and handed over, then dropped.
struct ItemsSeed<'k, T, F> {
    keep: &'k mut F,
    item: std::marker::PhantomData<fn() -> T>,
}

impl<'de, T: serde::de::DeserializeOwned, F: FnMut(T)> serde::de::DeserializeSeed<'de>
    for ItemsSeed<'_, T, F>
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: serde::de::DeserializeOwned, F: FnMut(T)> serde::de::Visitor<'de>
    for ItemsSeed<'_, T, F>
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            (self.keep)(item);
        }
        Ok(())
    }
}

/// Most bytes one List document of a `--cluster-dump` directory may hold. Items are parsed one
/// at a time, so memory does not grow with it; the cap bounds the time a run can be made to
/// spend (a 150k-pod cluster's `pods.json` is well under it).
pub const MAX_LIST_BYTES: u64 = 1 << 30;

/// The List documents [`from_files`] reads.
pub const LIST_FILES: [&str; 3] = ["nodes.json", "pods.json", "events.json"];

/// A `--cluster-dump DIR`, opened and checked: a directory holding at least one of
/// [`LIST_FILES`]. Its files are untrusted input, opened as a bundle's are
/// ([`super::safe_dir`]): never through a link, non-blocking, regular files only, capped at
/// [`MAX_LIST_BYTES`].
#[derive(Debug)]
pub struct Dump {
    dir: super::safe_dir::SafeDir,
    shown: String,
}

impl Dump {
    /// Opens `path`; a missing path, a file, or a directory without any of [`LIST_FILES`] is
    /// an error that says which.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let shown = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| anyhow::anyhow!("--cluster-dump {shown}: {e}"))?;
        if !meta.is_dir() {
            anyhow::bail!(
                "--cluster-dump {shown}: not a directory (a dump is a directory holding {})",
                LIST_FILES.join(", ")
            );
        }
        let dir = super::safe_dir::SafeDir::open(path)
            .map_err(|e| anyhow::anyhow!("--cluster-dump {shown}: {e}"))?;
        let listed = dir
            .list(&[])
            .map_err(|e| anyhow::anyhow!("--cluster-dump {shown}: {e}"))?;
        if !listed.iter().any(|l| LIST_FILES.contains(&l.name.as_str())) {
            anyhow::bail!(
                "--cluster-dump {shown}: none of {} in it (write them with `kubectl get nodes -o json > nodes.json`, ...)",
                LIST_FILES.join(", ")
            );
        }
        Ok(Dump { dir, shown })
    }

    /// Where the dump is, as the user named it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Opens one List document for [`from_files`].
    pub fn reader(&self, name: &str) -> Option<Result<Box<dyn Read + '_>, String>> {
        use super::safe_dir::OpenError;
        match self.dir.open_file(&[name], None) {
            Err(OpenError::Missing) => None,
            Err(e) => Some(Err(e.to_string())),
            Ok((_, size)) if size > MAX_LIST_BYTES => Some(Err(OpenError::TooBig {
                size,
                max: MAX_LIST_BYTES,
            }
            .to_string())),
            Ok((f, _)) => Some(Ok(Box::new(f.take(MAX_LIST_BYTES)))),
        }
    }
}

/// `configz` with `staticPodURLHeader`'s values replaced: the one field of a
/// KubeletConfiguration that may carry a credential (an `Authorization` header for the static
/// pod URL). Not JSON: not kept.
fn redact_configz(raw: &[u8]) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    if let Some(h) = v
        .get_mut("kubeletconfig")
        .and_then(|k| k.get_mut("staticPodURLHeader"))
        .and_then(|h| h.as_object_mut())
    {
        h.values_mut()
            .for_each(|x| *x = serde_json::json!(["<redacted>"]));
    }
    serde_json::to_vec_pretty(&v).ok()
}

/// Writes the fetched objects as the List documents [`from_files`] reads, pods scrubbed by
/// [`super::redact::pod`] (a pod spec's literal env values are where secrets hide).
pub fn to_files(data: &ClusterData) -> Vec<(&'static str, Vec<u8>)> {
    let list = |kind: &str, items: serde_json::Value| {
        serde_json::to_vec_pretty(
            &serde_json::json!({"apiVersion": "v1", "kind": kind, "items": items}),
        )
        .unwrap_or_default()
    };
    let mut pods: Vec<Pod> = data.pods.clone();
    for p in data.pending.iter().chain(&data.gpu_node_pods) {
        if !pods.iter().any(|x| x.metadata.uid == p.metadata.uid) {
            pods.push(p.clone());
        }
    }
    let mut files = vec![
        (
            "nodes.json",
            list(
                "NodeList",
                serde_json::to_value(&data.nodes).unwrap_or_default(),
            ),
        ),
        (
            "pods.json",
            list("PodList", {
                let mut v = serde_json::to_value(&pods).unwrap_or_default();
                if let Some(items) = v.as_array_mut() {
                    items.iter_mut().for_each(super::redact::pod);
                }
                v
            }),
        ),
        (
            "events.json",
            list(
                "EventList",
                serde_json::to_value(&data.events).unwrap_or_default(),
            ),
        ),
    ];
    // The kubelet's answers as they came: configz holds no secret (the kubelet's own
    // configuration, its certificate paths at most), the summary only figures.
    if let Some(b) = data.configz.as_deref().and_then(redact_configz) {
        files.push((CONFIGZ_FILE, b));
    }
    if let Some(b) = &data.summary {
        files.push((SUMMARY_FILE, b.clone()));
    }
    files
}
