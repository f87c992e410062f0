//! `gpu.operator-unhealthy`: a link of the GPU operator's chain on this node is down.

use crate::analyze::gpu::{first_failing_link, operator_components};
use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;

pub struct GpuOperatorUnhealthy;

impl Rule for GpuOperatorUnhealthy {
    fn id(&self) -> &'static str {
        "gpu.operator-unhealthy"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "a GPU operator component on this node is not running"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The NVIDIA GPU operator runs a chain of daemonsets on each GPU node, each waiting for the one
  before: NFD (labels the node) -> driver -> container toolkit -> device plugin -> GPU feature
  discovery -> DCGM exporter -> MIG manager -> operator validator. One of them on this node is
  not running, or a later one runs while an earlier one is missing; the evidence names the
  first failing link, the one to fix first.

WHY IT MATTERS
  Everything after the failing link waits for it: a driver that does not build for the new
  kernel leaves the toolkit, the device plugin and the validator in Init, and the node offers
  no GPUs although the operator 'is installed'.

HOW TO CONFIRM
  kubectl -n gpu-operator get pods -o wide --field-selector spec.nodeName=NODE
  kubectl -n gpu-operator logs POD -c CONTAINER --previous
  ls /run/nvidia/validations/     (driver-ready, toolkit-ready, plugin-ready, cuda-ready)

WHAT TO CHANGE
  Fix the first failing link and let the rest follow: for the driver, a kernel it supports
  (or precompiled drivers), headers present, Secure Boot keys; for the toolkit, the container
  runtime's config path; for the device plugin, its node selector and the toolkit."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let comps = operator_components(snap);
        let Some((link, why)) = first_failing_link(&comps) else {
            return;
        };
        out.push(finding(
            self,
            Severity::Critical,
            format!(
                "GPU operator on {}: {link} is the first failing link ({why})",
                snap.hostname()
            ),
            Subject::node(snap),
            serde_json::json!({
                "first_failing_link": link,
                "detail": why,
                "chain": comps,
                "validations": snap.gpu.validations,
            }),
            format!("fix the {link} first; the later components wait for it"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::cluster::ApiPod;

    /// The operator's pods on the node, each running (a pod cgroup) unless named in `down`.
    fn node(pods: &[&str], down: &[&str]) -> Snapshot {
        let mut s = snap();
        for (i, name) in pods.iter().enumerate() {
            let mut p = pod("gpu-operator", name, &format!("u{i}"));
            if down.contains(name) {
                p.cgroup = None;
            }
            s.pods.push(p);
        }
        s
    }

    const CHAIN: &[&str] = &[
        "nvidia-driver-daemonset-abcde",
        "nvidia-container-toolkit-daemonset-fghij",
        "nvidia-device-plugin-daemonset-klmno",
        "gpu-feature-discovery-pqrst",
        "nvidia-operator-validator-uvwxy",
    ];

    #[test]
    fn a_whole_running_chain_is_silent() {
        assert!(run(&GpuOperatorUnhealthy, &node(CHAIN, &[])).is_empty());
    }

    #[test]
    fn a_component_not_running_is_the_first_failing_link() {
        let f = one(&GpuOperatorUnhealthy, &node(CHAIN, &[CHAIN[1], CHAIN[2]]));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["first_failing_link"], "toolkit");
        assert_eq!(
            f.title,
            "GPU operator on node-a: toolkit is the first failing link (gpu-operator/nvidia-container-toolkit-daemonset-fghij no pod cgroup on the node (not running))"
        );
    }

    #[test]
    fn a_missing_link_before_a_running_one_fails() {
        // The device plugin runs, but no driver and no toolkit pod exist on the node.
        let f = one(&GpuOperatorUnhealthy, &node(&[CHAIN[2]], &[]));
        assert_eq!(f.evidence["first_failing_link"], "driver");
        assert_eq!(
            f.evidence["detail"],
            "no driver pod on this node while later components run"
        );
    }

    #[test]
    fn a_pod_with_a_cgroup_but_a_phase_other_than_running_is_down() {
        let mut s = node(CHAIN, &[]);
        s.pods[0].api = Some(ApiPod {
            phase: Some("Pending".into()),
            ..Default::default()
        });
        let f = one(&GpuOperatorUnhealthy, &s);
        assert_eq!(f.evidence["first_failing_link"], "driver");
        assert!(f.title.ends_with("phase Pending)"), "{}", f.title);
    }

    #[test]
    fn pods_outside_the_operator_namespaces_are_not_components() {
        let mut s = node(CHAIN, &[CHAIN[0]]);
        for p in &mut s.pods {
            p.namespace = Some("default".into());
        }
        assert!(run(&GpuOperatorUnhealthy, &s).is_empty());
    }
}
