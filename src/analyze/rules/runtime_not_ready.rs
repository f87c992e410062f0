//! `runtime.not-ready`: the container runtime says it or its network is not ready (CRI
//! `Status`), or its socket does not answer.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct RuntimeNotReady;

/// The conditions the kubelet requires (pkg/kubelet/kubelet.go `updateRuntimeUp`, CRI
/// `RuntimeReady` and `NetworkReady`).
const REQUIRED: &[&str] = &["RuntimeReady", "NetworkReady"];

impl Rule for RuntimeNotReady {
    fn id(&self) -> &'static str {
        "runtime.not-ready"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "the runtime reports RuntimeReady or NetworkReady false, or does not answer"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  nodescope asked the container runtime over its CRI socket (RuntimeService.Status, what
  'crictl info' shows and what the kubelet asks every few seconds) and a condition the kubelet
  requires is false: RuntimeReady (the runtime cannot run containers) or NetworkReady (the
  network plugin is not initialised: 'NetworkPluginNotReady: cni plugin not initialized'). Or
  the socket the kubelet uses did not answer at all, or is missing while the kubelet runs.

WHY IT MATTERS
  The kubelet reports the node NotReady with the runtime's own reason ('container runtime
  network not ready: NetworkReady=false reason:NetworkPluginNotReady message:...'). With
  NetworkReady false, no pod that needs the pod network gets a sandbox: they stay
  ContainerCreating. With RuntimeReady false or a dead socket, nothing starts at all.

HOW TO CONFIRM
  crictl info | jq .status.conditions
  systemctl status containerd (or crio); journalctl -u containerd --since -15m
  ls /etc/cni/net.d /opt/cni/bin   (see net.cni-missing)

WHAT TO CHANGE
  NetworkReady false: install or repair the network plugin (its DaemonSet writes the CNI
  configuration into /etc/cni/net.d and its binaries into /opt/cni/bin; see net.cni-missing).
  RuntimeReady false or no answer: restart the runtime and read its log; a runtime stuck on a
  hung mount or a full /run needs that fixed first (fs.read-only, disk.filesystem-full)."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let Some(cri) = snap.disk.cri.as_ref() else {
            return;
        };
        let subject = Subject::node(snap);
        if let Some(why) = &cri.unavailable {
            let no_socket = why.starts_with(crate::model::disk::CRI_NO_SOCKET);
            // No socket at all is only a fault where a kubelet expects one.
            if no_socket && snap.kubelet.is_none() {
                return;
            }
            out.push(finding(
                self,
                Severity::Critical,
                format!("the container runtime does not answer on {}: {why}", cri.endpoint),
                subject,
                serde_json::json!({ "endpoint": cri.endpoint, "unavailable": why }),
                "restart the container runtime and read its log (journalctl -u containerd / crio); fix what it waits on first",
            ));
            return;
        }
        let Some(conds) = &cri.status else { return };
        let down: Vec<&crate::model::disk::CriCondition> = conds
            .iter()
            .filter(|c| REQUIRED.contains(&c.type_.as_str()) && !c.status)
            .collect();
        if down.is_empty() {
            return;
        }
        let what: Vec<String> = down
            .iter()
            .map(|c| {
                let mut s = format!("{}=false", c.type_);
                if !c.reason.is_empty() {
                    s.push_str(&format!(" reason:{}", c.reason));
                }
                if !c.message.is_empty() {
                    s.push_str(&format!(" message:{}", c.message));
                }
                s
            })
            .collect();
        let network_only = down.iter().all(|c| c.type_ == "NetworkReady");
        out.push(finding(
            self,
            Severity::Critical,
            format!("the container runtime reports {}", what.join("; ")),
            subject,
            serde_json::json!({ "endpoint": cri.endpoint, "conditions": conds }),
            if network_only {
                "install or repair the network plugin: its CNI configuration in /etc/cni/net.d and binaries in /opt/cni/bin (see net.cni-missing)"
            } else {
                "restart the container runtime and read its log; fix what it reports"
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};
    use crate::model::disk::{CriCondition, CriSnapshot};

    fn cond(t: &str, ok: bool) -> CriCondition {
        CriCondition {
            type_: t.into(),
            status: ok,
            reason: if ok {
                String::new()
            } else {
                "NetworkPluginNotReady".into()
            },
            message: if ok {
                String::new()
            } else {
                "Network plugin returns error: cni plugin not initialized".into()
            },
        }
    }

    fn node(status: Option<Vec<CriCondition>>, unavailable: Option<&str>) -> Snapshot {
        let mut s = snapshot();
        s.disk.cri = Some(CriSnapshot {
            endpoint: "unix:///run/containerd/containerd.sock".into(),
            unavailable: unavailable.map(String::from),
            status,
            ..CriSnapshot::default()
        });
        s
    }

    #[test]
    fn network_not_ready_is_named_with_the_runtimes_words() {
        let f = run(
            &RuntimeNotReady,
            &node(
                Some(vec![
                    cond("RuntimeReady", true),
                    cond("NetworkReady", false),
                ]),
                None,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].title,
            "the container runtime reports NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
        );
    }

    #[test]
    fn silent_when_ready_or_not_asked() {
        assert!(
            run(
                &RuntimeNotReady,
                &node(
                    Some(vec![cond("RuntimeReady", true), cond("NetworkReady", true)]),
                    None
                )
            )
            .is_empty()
        );
        assert!(run(&RuntimeNotReady, &snapshot()).is_empty());
        // No socket and no kubelet: a machine without Kubernetes.
        assert!(
            run(
                &RuntimeNotReady,
                &node(
                    None,
                    Some("no CRI socket at unix:///run/containerd/containerd.sock")
                )
            )
            .is_empty()
        );
        let f = run(
            &RuntimeNotReady,
            &node(None, Some("the runtime did not answer within 6 s")),
        );
        assert_eq!(f.len(), 1);
    }
}
