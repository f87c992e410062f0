//! `nodescope fleet`'s door to the cluster: the nodes (and their conditions), the agent pods
//! (`app.kubernetes.io/name=nodescope`, deploy/daemonset.yaml) and each agent's `/findings`
//! through the API server's pod proxy, many at once but boundedly: at most `concurrency`
//! requests in flight, each within its own deadline, all within the run's deadline. A node
//! whose agent hangs or refuses is a row that says so, never a stalled run.

use super::cluster::{Credentials, chain, client_with};
use crate::model::fleet::{AgentAnswer, FleetNode, Sample};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The label the agent's DaemonSet puts on its pods (deploy/daemonset.yaml).
pub const AGENT_LABEL: &str = "app.kubernetes.io/name=nodescope";
/// The agent's container port name and its default number (deploy/daemonset.yaml).
pub const METRICS_PORT_NAME: &str = "metrics";
pub const METRICS_PORT: i32 = 9808;
/// Most bytes one `/findings` answer may hold (a report of thousands of findings is far less).
pub const MAX_FINDINGS_BYTES: usize = 16 << 20;

/// What to ask, and how long each part may take.
#[derive(Debug, Clone)]
pub struct Query {
    /// A node label selector, as `kubectl get nodes -l`.
    pub selector: Option<String>,
    /// Where the agent pods are; all namespaces when `None`.
    pub namespace: Option<String>,
    pub concurrency: usize,
    pub request_deadline: Duration,
    pub total_deadline: Duration,
}

/// The credentials as kubectl finds them: `--kubeconfig`, the first file of `KUBECONFIG`, the
/// in-cluster service account, then `~/.kube/config` (client-go's
/// tools/clientcmd/loader.go `RecommendedHomeFile`).
pub fn credentials(explicit: Option<&Path>) -> Option<Credentials> {
    if let Some(c) = super::cluster::user_credentials(explicit) {
        return Some(c);
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let path = Path::new(&home).join(".kube/config");
    path.exists().then_some(Credentials::User {
        path,
        why: "~/.kube/config",
    })
}

/// Lists the nodes and agent pods and reads every agent's `/findings`. Fails only when the
/// nodes or the agent pods cannot be listed: without them there is no fleet to show.
pub fn fetch(creds: &Credentials, q: &Query) -> anyhow::Result<Vec<FleetNode>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(fetch_async(creds, q))
}

async fn fetch_async(creds: &Credentials, q: &Query) -> anyhow::Result<Vec<FleetNode>> {
    let started = tokio::time::Instant::now();
    let (client, server) = client_with(creds, q.request_deadline, None)
        .await
        .map_err(|e| anyhow::anyhow!("API: {e}"))?;
    let (nodes, pods) = tokio::time::timeout(q.request_deadline, lists(&client, q))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "API {server}: no answer listing nodes and agent pods within {} s",
                q.request_deadline.as_secs()
            )
        })?
        .map_err(|e| anyhow::anyhow!("API {server}: {e}"))?;
    let agents = agent_per_node(&pods);
    let mut out: Vec<FleetNode> = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let agent = agents.get(&name).cloned();
            FleetNode {
                conditions: conditions(n),
                agent: agent
                    .as_ref()
                    .map(|a| format!("{}/{}", a.namespace, a.name)),
                answer: AgentAnswer::NoAgent,
                name,
            }
        })
        .collect();
    let jobs: Vec<(usize, Agent)> = out
        .iter()
        .enumerate()
        .filter_map(|(i, n)| agents.get(&n.name).map(|a| (i, a.clone())))
        .collect();
    let deadline = started + q.total_deadline;
    for (i, answer) in proxy_all(&client, jobs, q, deadline).await {
        out[i].answer = answer;
    }
    Ok(out)
}

/// The nodes (by `q.selector`) and the agent pods (in `q.namespace`, else everywhere).
async fn lists(client: &kube::Client, q: &Query) -> Result<(Vec<Node>, Vec<Pod>), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = match &q.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut np = ListParams::default();
    if let Some(s) = &q.selector {
        np = np.labels(s);
    }
    let pp = ListParams::default().labels(AGENT_LABEL);
    let (n, p) = tokio::join!(nodes.list(&np), pods.list(&pp));
    let n = n.map_err(|e| describe("listing nodes", &e))?;
    let p = p.map_err(|e| describe(&format!("listing pods -l {AGENT_LABEL}"), &e))?;
    Ok((n.items, p.items))
}

fn describe(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!("{what}: forbidden by RBAC (403)"),
        kube::Error::Api(s) => format!("{what}: {} {}", s.code, s.message),
        other => format!("{what}: {}", chain(other)),
    }
}

/// An agent pod and the port its `/findings` is on.
#[derive(Debug, Clone)]
struct Agent {
    namespace: String,
    name: String,
    port: i32,
}

/// The agent pod of each node: a Running one when the node has several (a rollout).
fn agent_per_node(pods: &[Pod]) -> BTreeMap<String, Agent> {
    let mut m: BTreeMap<String, (bool, Agent)> = BTreeMap::new();
    for p in pods {
        let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let agent = Agent {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            name: p.metadata.name.clone().unwrap_or_default(),
            port: metrics_port(p),
        };
        match m.get(&node) {
            Some((true, _)) => {}
            Some((false, _)) if !running => {}
            _ => {
                m.insert(node, (running, agent));
            }
        }
    }
    m.into_iter().map(|(k, (_, a))| (k, a)).collect()
}

/// The container port named `metrics`, else [`METRICS_PORT`].
fn metrics_port(p: &Pod) -> i32 {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some(METRICS_PORT_NAME))
        .map_or(METRICS_PORT, |port| port.container_port)
}

fn conditions(n: &Node) -> Vec<(String, String)> {
    n.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| (c.type_.clone(), c.status.clone()))
        .collect()
}

/// Reads every agent with at most `q.concurrency` requests in flight; what has not answered
/// at `deadline` (started or not) is [`AgentAnswer::Timeout`].
async fn proxy_all(
    client: &kube::Client,
    jobs: Vec<(usize, Agent)>,
    q: &Query,
    deadline: tokio::time::Instant,
) -> Vec<(usize, AgentAnswer)> {
    let mut done = Vec::with_capacity(jobs.len());
    let mut pending = jobs.into_iter();
    let mut set = tokio::task::JoinSet::new();
    let mut waiting: Vec<usize> = Vec::new();
    loop {
        while set.len() < q.concurrency.max(1) {
            let Some((i, agent)) = pending.next() else {
                break;
            };
            let c = client.clone();
            let per = q.request_deadline;
            waiting.push(i);
            set.spawn(async move {
                let a = match tokio::time::timeout(per, findings(&c, &agent)).await {
                    Ok(a) => a,
                    Err(_) => AgentAnswer::Timeout,
                };
                (i, a)
            });
        }
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok((i, a)))) => {
                waiting.retain(|&w| w != i);
                done.push((i, a));
            }
            // A task that panicked stays in `waiting`: reported below as not answering.
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    done.extend(waiting.into_iter().map(|i| (i, AgentAnswer::Timeout)));
    done.extend(pending.map(|(i, _)| (i, AgentAnswer::Timeout)));
    done
}

/// One agent's `/findings` through the pod proxy.
async fn findings(client: &kube::Client, a: &Agent) -> AgentAnswer {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}:{}/proxy/findings",
        a.namespace, a.name, a.port
    );
    let req = match http::Request::get(&path).body(kube::client::Body::empty()) {
        Ok(r) => r,
        Err(e) => return AgentAnswer::Error(e.to_string()),
    };
    let resp = match client.send(req).await {
        Ok(r) => r,
        Err(e) => return AgentAnswer::Error(chain(&e)),
    };
    let status = resp.status();
    let last_modified = resp
        .headers()
        .get(http::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
        .map(|z| z.timestamp());
    let body = match http_body_util::Limited::new(resp.into_body(), MAX_FINDINGS_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => return AgentAnswer::Error(format!("reading the answer: {e}")),
    };
    if status == http::StatusCode::FORBIDDEN {
        return AgentAnswer::Forbidden;
    }
    if !status.is_success() {
        return AgentAnswer::Error(failure(status, &body));
    }
    match parse_sample(&body) {
        Ok(mut s) => {
            s.taken_at = s.taken_at.or(last_modified);
            AgentAnswer::Sample(s)
        }
        Err(e) => AgentAnswer::Error(format!("not a nodescope-check/1 report: {e}")),
    }
}

/// A non-2xx answer as one line: its status and, from a Kubernetes Status object, its message.
fn failure(status: http::StatusCode, body: &[u8]) -> String {
    let msg = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let msg: String = msg.lines().next().unwrap_or("").chars().take(200).collect();
    format!("HTTP {}: {msg}", status.as_u16())
        .trim_end_matches(": ")
        .to_string()
}

/// The `taken_at` and each finding's id and severity of a `nodescope-check/1` report.
fn parse_sample(body: &[u8]) -> Result<Sample, String> {
    #[derive(serde::Deserialize)]
    struct Report {
        schema: String,
        taken_at: Option<jiff::Timestamp>,
        findings: Vec<Finding>,
    }
    #[derive(serde::Deserialize)]
    struct Finding {
        id: String,
        severity: String,
    }
    let r: Report = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !r.schema.starts_with("nodescope-check/") {
        return Err(format!("schema {:?}", r.schema));
    }
    Ok(Sample {
        taken_at: r.taken_at,
        findings: r.findings.into_iter().map(|f| (f.id, f.severity)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_read_for_its_time_and_findings_only() {
        let body = br#"{"schema":"nodescope-check/1","node":"n","taken_at":"2026-12-06T10:00:00Z",
            "findings":[{"id":"memory.pressure","severity":"critical","title":"t"}],"errors":[]}"#;
        let s = parse_sample(body).unwrap();
        assert_eq!(s.findings, [("memory.pressure".into(), "critical".into())]);
        assert_eq!(s.taken_at, Some("2026-12-06T10:00:00Z".parse().unwrap()));
        assert!(parse_sample(br#"{"schema":"other/1","findings":[]}"#).is_err());
    }

    #[test]
    fn a_status_answer_is_one_line() {
        let body = br#"{"kind":"Status","message":"no endpoints available\nsecond"}"#;
        assert_eq!(
            failure(http::StatusCode::SERVICE_UNAVAILABLE, body),
            "HTTP 503: no endpoints available"
        );
        assert_eq!(failure(http::StatusCode::BAD_GATEWAY, b""), "HTTP 502");
    }
}
