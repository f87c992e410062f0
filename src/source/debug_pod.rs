//! `nodescope debug NODE`'s door to the cluster: one short-lived pod on that node, made the
//! way `kubectl debug node/NAME --profile=sysadmin` makes its pod (k8s.io/kubectl
//! pkg/cmd/debug/debug.go `generateNodeDebugPod` and profiles.go: nodeName, hostPID,
//! hostNetwork, the node's root at /host, every taint tolerated, restartPolicy Never), but with
//! the root read-only and the agent's own capabilities (deploy/daemonset.yaml) instead of a
//! privileged container: nodescope only reads. It runs `nodescope --root /host check ARGS`,
//! its log is relayed line by line, and the pod is deleted however the run ends.

use super::cluster::{Credentials, chain, client_with};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use std::time::Duration;

/// Each API request must answer within this.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// How long the pod may take to end after its log did.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(30);
/// The container's name in the pod.
pub const CONTAINER: &str = "nodescope";

/// What to run where.
#[derive(Debug, Clone)]
pub struct Plan {
    pub node: String,
    pub namespace: String,
    /// `None`: the image of the nodescope DaemonSet.
    pub image: Option<String>,
    /// Passed to `check` after `--root /host check`.
    pub args: Vec<String>,
    /// How long the pod may take to start.
    pub start_deadline: Duration,
    /// The pod's name (`nodescope-debug-<node>-<random>`).
    pub pod_name: String,
}

/// How the run ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The container exited with this status.
    Exited(i32),
    /// SIGINT, SIGTERM or SIGHUP arrived; the pod was deleted.
    Interrupted,
}

/// The pod's name for `node`: `nodescope-debug-<node>-<5 random [a-z0-9]>`, cut to the 63
/// characters a label value may hold (kubectl names its debugger pods the same way).
pub fn pod_name(node: &str, random: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = random;
    let suffix: String = (0..5)
        .map(|_| {
            let c = ALPHABET[(r % ALPHABET.len() as u64) as usize] as char;
            r /= ALPHABET.len() as u64;
            c
        })
        .collect();
    let mut prefix = format!("nodescope-debug-{node}");
    prefix.truncate(63 - 6);
    format!("{}-{suffix}", prefix.trim_end_matches(['-', '.']))
}

/// The pod, as `kubectl debug node/NAME --profile=sysadmin` would make it, read-only.
pub fn pod_spec(p: &Plan, image: &str) -> Result<Pod, String> {
    let mut args = vec!["--root".to_string(), "/host".into(), "check".into()];
    args.extend(p.args.iter().cloned());
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": p.pod_name,
            "namespace": p.namespace,
            "labels": {
                "app.kubernetes.io/name": "nodescope-debug",
                "app.kubernetes.io/managed-by": "nodescope"
            }
        },
        "spec": {
            "nodeName": p.node,
            "hostPID": true,
            "hostNetwork": true,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "restartPolicy": "Never",
            "enableServiceLinks": false,
            "automountServiceAccountToken": false,
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "args": args,
                "securityContext": {
                    "runAsUser": 0,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"], "add": ["DAC_READ_SEARCH", "SYSLOG"]}
                },
                "volumeMounts": [
                    {"name": "host", "mountPath": "/host", "readOnly": true},
                    {"name": "kmsg", "mountPath": "/dev/kmsg", "readOnly": true}
                ]
            }],
            "volumes": [
                {"name": "host", "hostPath": {"path": "/"}},
                {"name": "kmsg", "hostPath": {"path": "/dev/kmsg", "type": "CharDevice"}}
            ]
        }
    }))
    .map_err(|e| e.to_string())
}

/// Creates the pod, relays its log to `line`, deletes it, and says how it ended. `note`
/// hears progress (for stderr). Errors before the pod exists create nothing; after, the pod
/// is deleted before the error returns.
pub fn run(
    creds: &Credentials,
    plan: &Plan,
    note: &mut dyn FnMut(&str),
    line: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(creds, plan, note, line))
}

async fn run_async(
    creds: &Credentials,
    plan: &Plan,
    note: &mut dyn FnMut(&str),
    line: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    use tokio::signal::unix::{SignalKind, signal};
    // Armed before the pod exists: a Ctrl-C from here on deletes it.
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (client, _) = client_with(creds, REQUEST_DEADLINE, None)
        .await
        .map_err(|e| anyhow::anyhow!("API: {e}"))?;
    let image = match &plan.image {
        Some(i) => i.clone(),
        None => timed("finding the nodescope DaemonSet", daemonset_image(&client))
            .await
            .map_err(anyhow::Error::msg)?,
    };
    let pod = pod_spec(plan, &image).map_err(anyhow::Error::msg)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &plan.namespace);
    timed("creating the pod", async {
        pods.create(&PostParams::default(), &pod)
            .await
            .map_err(|e| describe(&e))
    })
    .await
    .map_err(anyhow::Error::msg)?;
    note(&format!(
        "pod {}/{} created on node {} (image {image}); it is deleted on exit",
        plan.namespace, plan.pod_name, plan.node
    ));
    let result = tokio::select! {
        r = watch(&client, &pods, plan, note, line) => r,
        _ = int.recv() => Ok(Outcome::Interrupted),
        _ = term.recv() => Ok(Outcome::Interrupted),
        _ = hup.recv() => Ok(Outcome::Interrupted),
    };
    let deleted = timed("deleting the pod", async {
        pods.delete(&plan.pod_name, &DeleteParams::default().grace_period(0))
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    })
    .await;
    match &deleted {
        Ok(()) => note(&format!("pod {}/{} deleted", plan.namespace, plan.pod_name)),
        Err(e) => note(&format!(
            "could not delete pod {}/{}: {e}; delete it with kubectl delete pod -n {} {}",
            plan.namespace, plan.pod_name, plan.namespace, plan.pod_name
        )),
    }
    result.map_err(anyhow::Error::msg)
}

/// `f` within [`REQUEST_DEADLINE`], its error prefixed with `what`.
async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_DEADLINE, f).await {
        Ok(r) => r.map_err(|e| format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer within {} s",
            REQUEST_DEADLINE.as_secs()
        )),
    }
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!(
            "forbidden by RBAC (403): {} (deploy/rbac-debug.yaml lists what debug needs)",
            s.message
        ),
        kube::Error::Api(s) => format!("{} {}", s.code, s.message),
        other => chain(other),
    }
}

/// The image of the first DaemonSet labelled `app.kubernetes.io/name=nodescope`.
async fn daemonset_image(client: &kube::Client) -> Result<String, String> {
    let ds: Api<DaemonSet> = Api::all(client.clone());
    let list = ds
        .list(&ListParams::default().labels(super::fleet::AGENT_LABEL))
        .await
        .map_err(|e| describe(&e))?;
    list.items
        .iter()
        .filter_map(|d| d.spec.template.spec.as_ref())
        .flat_map(|s| s.containers.iter())
        .find_map(|c| c.image.clone())
        .ok_or_else(|| {
            format!(
                "no DaemonSet labelled {} to take the image from; name one with --image",
                super::fleet::AGENT_LABEL
            )
        })
}

/// Waits for the pod to start, relays its log, then waits for its exit status.
async fn watch(
    client: &kube::Client,
    pods: &Api<Pod>,
    plan: &Plan,
    note: &mut dyn FnMut(&str),
    line: &mut dyn FnMut(&str),
) -> Result<Outcome, String> {
    let started = tokio::time::Instant::now();
    let mut waited = false;
    loop {
        let p = timed("reading the pod", async {
            pods.get(&plan.pod_name).await.map_err(|e| describe(&e))
        })
        .await?;
        match phase(&p) {
            Some("Running" | "Succeeded" | "Failed") => break,
            _ => {
                if let Some(why) = waiting_failure(&p) {
                    return Err(format!("the pod cannot start: {why}"));
                }
            }
        }
        if started.elapsed() > plan.start_deadline {
            return Err(format!(
                "the pod did not start within {} s",
                plan.start_deadline.as_secs()
            ));
        }
        if !waited {
            note("waiting for the pod to start");
            waited = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    relay_log(client, plan, line).await?;
    let ended = tokio::time::Instant::now();
    loop {
        let p = timed("reading the pod", async {
            pods.get(&plan.pod_name).await.map_err(|e| describe(&e))
        })
        .await?;
        if let Some(code) = exit_code(&p) {
            return Ok(Outcome::Exited(code));
        }
        if ended.elapsed() > EXIT_DEADLINE {
            return Err(format!(
                "the log ended but the pod had no exit status within {} s",
                EXIT_DEADLINE.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref()?.phase.as_deref()
}

/// A waiting reason that will not resolve by itself (the image cannot be pulled or run).
fn waiting_failure(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find(|w| {
            matches!(
                w.reason.as_deref(),
                Some(
                    "ErrImagePull"
                        | "ImagePullBackOff"
                        | "InvalidImageName"
                        | "CreateContainerConfigError"
                        | "CreateContainerError"
                )
            )
        })
        .map(|w| {
            format!(
                "{} {}",
                w.reason.as_deref().unwrap_or(""),
                w.message.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_string()
        })
}

/// The container's exit status, once it terminated.
fn exit_code(p: &Pod) -> Option<i32> {
    p.status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// Follows the container's log (`GET .../log?follow=true`), handing each complete line to
/// `line` as it arrives; a last line without a newline is handed over at the end.
async fn relay_log(
    client: &kube::Client,
    plan: &Plan,
    line: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={CONTAINER}&follow=true",
        plan.namespace, plan.pod_name
    );
    let req = http::Request::get(&path)
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let resp = timed("following the log", async {
        client.send(req).await.map_err(|e| chain(&e))
    })
    .await?;
    if !resp.status().is_success() {
        return Err(format!(
            "following the log: HTTP {}",
            resp.status().as_u16()
        ));
    }
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("following the log: {}", chain(&e)))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(nl + 1);
            line(String::from_utf8_lossy(&buf[..nl]).as_ref());
            buf = rest;
        }
    }
    if !buf.is_empty() {
        line(String::from_utf8_lossy(&buf).as_ref());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_draw_and_fit_a_label() {
        assert_eq!(pod_name("node-a", 0), "nodescope-debug-node-a-bbbbb");
        assert_ne!(pod_name("node-a", 1), pod_name("node-a", 2));
        let long = pod_name(&"n".repeat(80), 7);
        assert_eq!(long.len(), 63);
    }

    #[test]
    fn the_pod_is_sysadmin_shaped_and_read_only() {
        let plan = Plan {
            node: "node-a".into(),
            namespace: "default".into(),
            image: None,
            args: vec!["--format".into(), "json".into()],
            start_deadline: Duration::from_secs(1),
            pod_name: "nodescope-debug-node-a-bbbbb".into(),
        };
        let p = pod_spec(&plan, "nodescope:0.1.0").unwrap();
        let s = p.spec.unwrap();
        assert_eq!(s.node_name.as_deref(), Some("node-a"));
        assert_eq!((s.host_pid, s.host_network), (Some(true), Some(true)));
        let c = &s.containers[0];
        assert_eq!(
            c.args.as_deref().unwrap(),
            ["--root", "/host", "check", "--format", "json"]
        );
        assert!(
            c.volume_mounts
                .iter()
                .flatten()
                .all(|m| m.read_only == Some(true))
        );
        let t = &s.tolerations.unwrap()[0];
        assert_eq!(
            (t.operator.as_deref(), t.key.as_deref()),
            (Some("Exists"), None)
        );
    }
}
