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
