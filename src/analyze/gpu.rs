//! GPU scheduling, judged: the GPU operator's chain on this node, what the kubelet registered
//! and allocated, and for each Pending pod that asks for a GPU, every reason it does not fit,
//! node by node: the seven reasons of `gpu.pending-pod` (docs/rules.md), with the scheduler's own
//! words for them (docs/kubelet-semantics.md §6).

use crate::model::Snapshot;
use crate::model::cluster::{ApiNode, ApiPod};
use crate::model::quantity::parse_quantity;
use serde::Serialize;
use std::collections::BTreeMap;

/// The GPU operator's components in dependency order: each needs the ones before it.
pub const OPERATOR_CHAIN: &[(&str, &[&str])] = &[
    ("NFD", &["node-feature-discovery-worker", "nfd-worker"]),
    ("driver", &["nvidia-driver-daemonset"]),
    ("toolkit", &["nvidia-container-toolkit-daemonset"]),
    ("device plugin", &["nvidia-device-plugin-daemonset"]),
    ("GFD", &["gpu-feature-discovery"]),
    ("DCGM", &["nvidia-dcgm-exporter", "nvidia-dcgm"]),
    ("MIG manager", &["nvidia-mig-manager"]),
    ("validator", &["nvidia-operator-validator"]),
];
pub const OPERATOR_NAMESPACES: &[&str] = &["gpu-operator", "nvidia-gpu-operator"];

/// A component of the operator on this node and whether it runs.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Component {
    pub link: &'static str,
    pub pod: String,
    pub running: bool,
    pub detail: String,
}

/// The operator's pods on this node, in chain order. A pod runs when it has a pod cgroup (and,
/// with the API, phase Running and every container ready is not known: restarts and the last
/// termination reason are reported).
pub fn operator_components(snap: &Snapshot) -> Vec<Component> {
    let mut out = Vec::new();
    for (link, prefixes) in OPERATOR_CHAIN {
        for p in &snap.pods {
            let (Some(ns), Some(name)) = (&p.namespace, &p.name) else {
                continue;
            };
            let in_ns = OPERATOR_NAMESPACES.contains(&ns.as_str()) || *link == "NFD";
            if !in_ns || !prefixes.iter().any(|x| name.starts_with(x)) {
                continue;
            }
            let api = p.api.as_ref();
            let phase_ok = api
                .and_then(|a| a.phase.as_deref())
                .is_none_or(|ph| ph == "Running");
            let crashing = api.and_then(|a| {
                a.containers
                    .iter()
                    .find(|c| {
                        c.restart_count.unwrap_or(0) > 0 && c.last_termination_reason.is_some()
                    })
                    .map(|c| {
                        format!(
                            "{} restarted {} times, last {}",
                            c.name,
                            c.restart_count.unwrap_or(0),
                            c.last_termination_reason.as_deref().unwrap_or("unknown")
                        )
                    })
            });
            let running = p.cgroup.is_some() && phase_ok;
            out.push(Component {
                link,
                pod: format!("{ns}/{name}"),
                running,
                detail: if !running {
                    if p.cgroup.is_none() {
                        "no pod cgroup on the node (not running)".into()
                    } else {
                        format!(
                            "phase {}",
                            api.and_then(|a| a.phase.clone()).unwrap_or_default()
                        )
                    }
                } else {
                    crashing.unwrap_or_default()
                },
            });
        }
    }
    out
}

/// The first failing link of the chain: a component present but not running, or a component
/// missing while a later one exists (it cannot work without its predecessor).
pub fn first_failing_link(components: &[Component]) -> Option<(&'static str, String)> {
    if let Some(c) = components.iter().find(|c| !c.running) {
        return Some((c.link, format!("{} {}", c.pod, c.detail)));
    }
    let present: Vec<&str> = components.iter().map(|c| c.link).collect();
    let last = OPERATOR_CHAIN
        .iter()
        .rposition(|(l, _)| present.contains(l))?;
    // NFD may run outside the operator; DCGM and the MIG manager are optional.
    for (link, _) in &OPERATOR_CHAIN[..last] {
        if ["NFD", "DCGM", "MIG manager"].contains(link) {
            continue;
        }
        if !present.contains(link) {
            return Some((
                link,
                format!("no {link} pod on this node while later components run"),
            ));
        }
    }
    None
}

/// The driver's release from `/proc/driver/nvidia/version`'s first line:
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct ...` gives `550.127.05`.
pub fn driver_release(version_line: &str) -> String {
    version_line
        .split_whitespace()
        .find(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .unwrap_or(version_line)
        .to_string()
}

/// GPU resources a pod requests (`nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`, ...), summed
/// over its containers (init containers aside).
pub fn gpu_requests(p: &ApiPod) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for c in &p.containers {
        for (k, v) in c.requests.iter().chain(c.limits.iter()) {
            if k.starts_with("nvidia.com/") {
                let n = parse_quantity(v).unwrap_or(0.0) as i64;
                let e = out.entry(k.clone()).or_insert(0);
                *e = (*e).max(n);
            }
        }
    }
    out
}

fn offered(n: &ApiNode) -> BTreeMap<String, i64> {
    n.allocatable
        .iter()
        .filter(|(k, _)| k.starts_with("nvidia.com/"))
        .map(|(k, v)| (k.clone(), parse_quantity(v).unwrap_or(0.0) as i64))
        .collect()
}

/// Whether a pod tolerates a taint (`v1/toleration.go:ToleratesTaint`).
fn tolerates(p: &ApiPod, key: &str, value: Option<&str>, effect: &str) -> bool {
    p.tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == effect);
        let key_ok = t.key.as_deref().is_none_or(|k| k.is_empty() || k == key);
        let op = t.operator.as_deref().unwrap_or("Equal");
        let value_ok = op == "Exists" || t.value.as_deref().unwrap_or("") == value.unwrap_or("");
        effect_ok && key_ok && value_ok
    })
}

/// `nodeSelector` and required node affinity (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`,
/// `Lt`; terms ORed, expressions ANDed) against a node's labels.
fn selects(p: &ApiPod, labels: &BTreeMap<String, String>) -> bool {
    if !p
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let Some(aff) = &p.required_node_affinity else {
        return true;
    };
    let Some(terms) = aff.get("nodeSelectorTerms").and_then(|t| t.as_array()) else {
        return true;
    };
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|term| {
        term.get("matchExpressions")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .all(|e| {
                let key = e.get("key").and_then(|k| k.as_str()).unwrap_or("");
                let op = e.get("operator").and_then(|k| k.as_str()).unwrap_or("");
                let vals: Vec<&str> = e
                    .get("values")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect();
                let have = labels.get(key);
                match op {
                    "In" => have.is_some_and(|h| vals.contains(&h.as_str())),
                    "NotIn" => have.is_none_or(|h| !vals.contains(&h.as_str())),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    "Gt" | "Lt" => match (
                        have.and_then(|h| h.parse::<i64>().ok()),
                        vals.first().and_then(|v| v.parse::<i64>().ok()),
                    ) {
                        (Some(h), Some(v)) => {
                            if op == "Gt" {
                                h > v
                            } else {
                                h < v
                            }
                        }
                        _ => false,
                    },
                    _ => false,
                }
            })
    })
}

/// The label keys a pod's placement asks for.
fn wanted_keys(p: &ApiPod) -> Vec<String> {
    let mut keys: Vec<String> = p.node_selector.keys().cloned().collect();
    if let Some(terms) = p
        .required_node_affinity
        .as_ref()
        .and_then(|a| a.get("nodeSelectorTerms"))
        .and_then(|t| t.as_array())
    {
        for t in terms {
            for e in t
                .get("matchExpressions")
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(k) = e.get("key").and_then(|k| k.as_str()) {
                    keys.push(k.to_string());
                }
            }
        }
    }
    keys
}

/// One reason a Pending GPU pod does not schedule, and where.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Reason {
    /// One of the seven codes of docs/rules.md.
    pub reason: &'static str,
    pub nodes: Vec<String>,
    pub detail: String,
    /// Node → what this reason is on that node (`8/8 nvidia.com/gpu allocated`).
    pub by_node: BTreeMap<String, String>,
}

/// What one candidate node has allocated of one GPU resource it offers.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct NodeAllocation {
    pub node: String,
    pub resource: String,
    /// `None` when unknown: the node's pods were not listed (over the cap, or refused).
    pub allocated: Option<i64>,
    pub allocatable: i64,
    /// `checkpoint` (this node's device-plugin checkpoint), `pods` (the API's non-terminal
    /// pods bound to it), or `unknown`.
    pub source: &'static str,
}

/// The scheduler's FailedScheduling message against what nodescope computed, node by node.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Reconciliation {
    /// Whether the scheduler's reason counts are the computed ones.
    pub agrees: bool,
    /// The scheduler's `N reason` items, as parsed.
    pub scheduler: Vec<(u32, String)>,
    /// The reasons computed for every node, counted the scheduler's way.
    pub computed: Vec<(u32, String)>,
    /// Node → the scheduler reason(s) computed for it (the first failing filter's).
    pub by_node: BTreeMap<String, Vec<String>>,
    /// Each count that differs, and the likely cause.
    pub differences: Vec<String>,
}

/// A Pending pod's diagnosis.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PendingDiagnosis {
    pub namespace: String,
    pub pod: String,
    pub requests: BTreeMap<String, i64>,
    pub reasons: Vec<Reason>,
    /// The scheduler's own words, from the FailedScheduling event or PodScheduled condition.
    pub scheduler_message: Option<String>,
    /// The one change that would schedule it, when one does.
    pub fix: String,
    /// Allocated versus allocatable per GPU resource on each candidate node.
    pub allocation: Vec<NodeAllocation>,
    /// The scheduler's message reconciled with the computed reasons, when there is a message.
    pub reconciliation: Option<Reconciliation>,
}

/// Devices of `resource` the kubelet on this node registered, and how many are allocated.
pub fn local_allocation(snap: &Snapshot, resource: &str) -> Option<(usize, usize)> {
    let cp = snap.gpu.checkpoint.as_ref()?;
    let registered = cp.registered.get(resource)?.len();
    let mut held: Vec<&String> = cp
        .allocations
        .iter()
        .filter(|a| a.resource == resource)
        .flat_map(|a| &a.device_ids)
        .collect();
    held.sort();
    held.dedup();
    Some((registered, held.len()))
}

/// The nodes a Pending GPU pod could run on: every node the API lists that offers a GPU
/// resource (`nvidia.com/*` in its allocatable) or is labelled as a GPU node (an
/// `nvidia.com/*` label from GPU feature discovery, or NFD's
/// `feature.node.kubernetes.io/pci-10de.present`: NVIDIA's PCI vendor id), and this node when
/// it holds an NVIDIA device, whatever its labels say (the operator may be what is broken). A
/// GPU pod is this node's business only when this node is one of them.
pub fn candidate_nodes(snap: &Snapshot) -> Vec<String> {
    let Some(c) = &snap.cluster else {
        return Vec::new();
    };
    let gpu_label = |k: &String| {
        k.starts_with("nvidia.com/") || k.starts_with("feature.node.kubernetes.io/pci-10de")
    };
    let mut out: Vec<String> = c
        .nodes
        .iter()
        .filter(|n| !offered(n).is_empty() || n.labels.keys().any(gpu_label))
        .map(|n| n.name.clone())
        .collect();
    let local = c
        .node
        .as_ref()
        .map_or_else(|| snap.hostname().to_string(), |n| n.name.clone());
    if !snap.gpu.devices.is_empty() && !out.contains(&local) {
        out.push(local);
    }
    out
}

/// What a pod holds of `resource`, as the scheduler counts it for a bound pod: per container
/// its request, else its limit (an extended resource's request defaults to its limit), summed
/// over containers. Init containers and pod overhead are not in the model: not counted.
fn pod_holds(p: &ApiPod, resource: &str) -> i64 {
    p.containers
        .iter()
        .map(|c| {
            c.requests
                .get(resource)
                .or_else(|| c.limits.get(resource))
                .and_then(|v| parse_quantity(v))
                .unwrap_or(0.0) as i64
        })
        .sum()
}

/// Allocated and allocatable of every GPU resource each GPU node offers: this node's from
/// its device-plugin checkpoint (else its API pods), the others' from their listed pods.
fn allocations(snap: &Snapshot, gpu_nodes: &[&ApiNode], local_name: &str) -> Vec<NodeAllocation> {
    let Some(c) = &snap.cluster else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in gpu_nodes {
        for (res, have) in offered(n) {
            let from_pods = |pods: &[ApiPod]| -> i64 {
                pods.iter()
                    .filter(|p| p.node_name.as_deref() == Some(n.name.as_str()))
                    .filter(|p| !matches!(p.phase.as_deref(), Some("Succeeded" | "Failed")))
                    .map(|p| pod_holds(p, &res))
                    .sum()
            };
            let (allocated, source) = if n.name == local_name {
                match local_allocation(snap, &res) {
                    Some((_, held)) => (Some(held as i64), "checkpoint"),
                    None => (Some(from_pods(&c.pods)), "pods"),
                }
            } else if c.gpu_nodes_listed.contains(&n.name) {
                (Some(from_pods(&c.gpu_node_pods)), "pods")
            } else {
                (None, "unknown")
            };
            out.push(NodeAllocation {
                node: n.name.clone(),
                resource: res,
                allocated,
                allocatable: have,
                source,
            });
        }
    }
    out
}

/// A reason's nodes, its first detail, and each node's detail.
type ReasonAt = (Vec<String>, String, BTreeMap<String, String>);

/// Every Pending pod requesting a GPU resource, with every reason that applies.
pub fn pending(snap: &Snapshot) -> Vec<PendingDiagnosis> {
    let Some(c) = &snap.cluster else {
        return Vec::new();
    };
    let local = snap.hostname().to_string();
    let local_name = c.node.as_ref().map_or(local, |n| n.name.clone());
    let all_labels: std::collections::BTreeSet<&String> =
        c.nodes.iter().flat_map(|n| n.labels.keys()).collect();
    let operator_broken = first_failing_link(&operator_components(snap));
    let mut out = Vec::new();
    for p in &c.pending {
        let req = gpu_requests(p);
        if req.is_empty() {
            continue;
        }
        let mut reasons: BTreeMap<&'static str, ReasonAt> = BTreeMap::new();
        let mut add = |code: &'static str, node: &str, detail: String| {
            let e = reasons
                .entry(code)
                .or_insert_with(|| (Vec::new(), detail.clone(), BTreeMap::new()));
            if !e.0.contains(&node.to_string()) {
                e.0.push(node.to_string());
            }
            e.2.entry(node.to_string()).or_insert(detail);
        };
        let gpu_nodes: Vec<&ApiNode> = c.nodes.iter().filter(|n| !offered(n).is_empty()).collect();
        let allocation = allocations(snap, &gpu_nodes, &local_name);
        let max_offer: BTreeMap<&String, i64> = req
            .keys()
            .map(|r| {
                (
                    r,
                    gpu_nodes
                        .iter()
                        .map(|n| offered(n).get(r).copied().unwrap_or(0))
                        .max()
                        .unwrap_or(0),
                )
            })
            .collect();
        for n in &gpu_nodes {
            let off = offered(n);
            for (res, want) in &req {
                let have = off.get(res).copied().unwrap_or(0);
                let is_mig = |r: &str| r.starts_with("nvidia.com/mig-");
                if have == 0 && off.keys().any(|k| is_mig(k) != is_mig(res) && k != res) {
                    let alt: Vec<&String> =
                        off.keys().filter(|k| is_mig(k) != is_mig(res)).collect();
                    add(
                        "mig-resource-mismatch",
                        &n.name,
                        format!(
                            "asks for {res}; {} offers {}",
                            n.name,
                            alt.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                } else if have > 0
                    && *want > have
                    && *want > max_offer.get(res).copied().unwrap_or(0)
                {
                    add(
                        "exceeds-node-capacity",
                        &n.name,
                        format!(
                            "asks for {want} {res}; the largest node offers {}",
                            max_offer[res]
                        ),
                    );
                } else if have > 0
                    && n.name == local_name
                    && let Some((reg, held)) = local_allocation(snap, res)
                    && held + *want as usize > reg
                {
                    add(
                        "all-allocated",
                        &n.name,
                        format!("{held} of {reg} {res} on {} are allocated", n.name),
                    );
                } else if have > 0
                    && n.name != local_name
                    && let Some(held) = allocation
                        .iter()
                        .find(|a| a.node == n.name && &a.resource == res)
                        .and_then(|a| a.allocated)
                    && held + *want > have
                {
                    add(
                        "all-allocated",
                        &n.name,
                        format!("{held}/{have} {res} allocated on {}", n.name),
                    );
                }
            }
            for t in &n.taints {
                if (t.effect == "NoSchedule" || t.effect == "NoExecute")
                    && !tolerates(p, &t.key, t.value.as_deref(), &t.effect)
                {
                    add(
                        "untolerated-taint",
                        &n.name,
                        format!(
                            "{} has taint {}={}:{} the pod does not tolerate",
                            n.name,
                            t.key,
                            t.value.as_deref().unwrap_or(""),
                            t.effect
                        ),
                    );
                    break;
                }
            }
            if !selects(p, &n.labels) {
                let missing: Vec<String> = wanted_keys(p)
                    .into_iter()
                    .filter(|k| !all_labels.contains(k))
                    .collect();
                if missing.iter().any(|k| {
                    k.starts_with("nvidia.com/") || k.starts_with("feature.node.kubernetes.io/")
                }) {
                    add(
                        "labels-missing",
                        &n.name,
                        format!(
                            "no node carries {} (labels GPU feature discovery / NFD set)",
                            missing.join(", ")
                        ),
                    );
                } else {
                    let wanted: Vec<String> = p
                        .node_selector
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    add(
                        "affinity-mismatch",
                        &n.name,
                        format!(
                            "{} does not match the pod's node selector/affinity{}",
                            n.name,
                            if wanted.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", wanted.join(", "))
                            }
                        ),
                    );
                }
            }
            if n.name == local_name
                && let Some((link, why)) = &operator_broken
            {
                add(
                    "operator-unhealthy",
                    &n.name,
                    format!("GPU operator on {}: {link} failing ({why})", n.name),
                );
            }
        }
        if gpu_nodes.is_empty() {
            // This node has the hardware but exposes none of it: the stack below the
            // scheduler is down (driver or device plugin).
            if !snap.gpu.devices.is_empty() {
                add(
                    "operator-unhealthy",
                    &local_name,
                    format!(
                        "{local_name} has {} NVIDIA GPU(s) but offers no nvidia.com/ resource: {}",
                        snap.gpu.devices.len(),
                        if snap.gpu.driver_version.is_none() {
                            "the NVIDIA driver is not loaded"
                        } else {
                            "no device plugin is registered"
                        }
                    ),
                );
            } else {
                add(
                    "labels-missing",
                    "*",
                    "no node offers a GPU resource (no device plugin registered anywhere)".into(),
                );
            }
        }
        let scheduler_message = c
            .events
            .iter()
            .find(|e| {
                e.reason == "FailedScheduling"
                    && e.object == format!("Pod/{}/{}", p.namespace, p.name)
            })
            .map(|e| e.message.clone())
            .or_else(|| p.message.clone());
        let reasons: Vec<Reason> = reasons
            .into_iter()
            .map(|(reason, (nodes, detail, by_node))| Reason {
                reason,
                nodes,
                detail,
                by_node,
            })
            .collect();
        let fix = fix_for(&reasons, &c.nodes);
        let reconciliation = scheduler_message
            .as_deref()
            .and_then(parse_fit_error)
            .map(|(_, items)| reconcile(p, &req, &c.nodes, &allocation, items));
        out.push(PendingDiagnosis {
            namespace: p.namespace.clone(),
            pod: p.name.clone(),
            requests: req,
            reasons,
            scheduler_message,
            fix,
            allocation,
            reconciliation,
        });
    }
    out
}

/// The reasons the scheduler would give for `n`: those of its first failing filter, in the
/// default profile's order (NodeUnschedulable, TaintToleration, NodeAffinity, then
/// NodeResourcesFit: pkg/scheduler/apis/config/v1/default_plugins.go; the framework stops at a
/// node's first failing filter), in the plugins' own words (docs/kubelet-semantics.md §6).
/// Only the GPU resources are checked for fit (cpu, memory and pod count need every pod of
/// every node); `None` when a GPU allocation needed is unknown; empty when the node fits.
fn scheduler_reasons(
    p: &ApiPod,
    req: &BTreeMap<String, i64>,
    n: &ApiNode,
    allocation: &[NodeAllocation],
) -> Option<Vec<String>> {
    if n.unschedulable && !tolerates(p, "node.kubernetes.io/unschedulable", None, "NoSchedule") {
        return Some(vec!["node(s) were unschedulable".into()]);
    }
    // pkg/scheduler/framework/plugins/tainttoleration: the first untolerated taint only.
    if let Some(t) = n.taints.iter().find(|t| {
        (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !tolerates(p, &t.key, t.value.as_deref(), &t.effect)
    }) {
        return Some(vec![format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or("")
        )]);
    }
    if !selects(p, &n.labels) {
        return Some(vec![
            "node(s) didn't match Pod's node affinity/selector".into(),
        ]);
    }
    let offer = offered(n);
    let mut out = Vec::new();
    for (res, want) in req {
        let have = offer.get(res).copied().unwrap_or(0);
        let held = if have == 0 {
            0
        } else {
            allocation
                .iter()
                .find(|a| a.node == n.name && &a.resource == res)
                .and_then(|a| a.allocated)?
        };
        // noderesources/fit.go: `Insufficient <name>` when request > allocatable − requested.
        if *want > have - held {
            out.push(format!("Insufficient {res}"));
        }
    }
    Some(out)
}

/// Counts per-node reasons as FitError.Error does (a histogram, items sorted as strings).
fn histogram<'a>(reasons: impl Iterator<Item = &'a String>) -> Vec<(u32, String)> {
    let mut h: BTreeMap<&String, u32> = BTreeMap::new();
    reasons.for_each(|r| *h.entry(r).or_insert(0) += 1);
    let mut items: Vec<(u32, String)> = h.into_iter().map(|(r, n)| (n, r.clone())).collect();
    items.sort_by_key(|(n, r)| format!("{n} {r}"));
    items
}

/// The scheduler's items against the reasons computed for every node of the cluster.
fn reconcile(
    p: &ApiPod,
    req: &BTreeMap<String, i64>,
    nodes: &[ApiNode],
    allocation: &[NodeAllocation],
    scheduler: Vec<(u32, String)>,
) -> Reconciliation {
    let mut by_node = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut fits = Vec::new();
    for n in nodes {
        match scheduler_reasons(p, req, n, allocation) {
            None => unknown.push(n.name.clone()),
            Some(r) if r.is_empty() => fits.push(n.name.clone()),
            Some(r) => {
                by_node.insert(n.name.clone(), r);
            }
        }
    }
    let computed = histogram(by_node.values().flatten());
    let mut differences = Vec::new();
    let count = |items: &[(u32, String)], r: &str| {
        items.iter().find(|(_, x)| x == r).map_or(0, |(n, _)| *n)
    };
    let mut all: Vec<&String> = scheduler.iter().chain(&computed).map(|(_, r)| r).collect();
    all.sort();
    all.dedup();
    for r in all {
        let (s, c) = (count(&scheduler, r), count(&computed, r));
        if s != c {
            let at: Vec<&str> = by_node
                .iter()
                .filter(|(_, v)| v.contains(r))
                .map(|(k, _)| k.as_str())
                .collect();
            differences.push(format!(
                "{r}: the scheduler counted {s}, nodescope {c}{}",
                if at.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", at.join(", "))
                }
            ));
        }
    }
    if !unknown.is_empty() {
        differences.push(format!(
            "allocation unknown on {} (pods not listed): not counted",
            unknown.join(", ")
        ));
    }
    if !fits.is_empty() {
        differences.push(format!(
            "{} fit(s) the pod's GPU request, taints and affinity: the scheduler's reason there is one nodescope does not evaluate (cpu, memory, pod count, ports, volumes, inter-pod affinity, topology spread), or the cluster changed since the event",
            fits.join(", ")
        ));
    }
    if !differences.is_empty() && unknown.is_empty() && fits.is_empty() {
        differences.push(
            "the event is older than the objects read (pods came or went since), or a filter nodescope does not evaluate failed first".into(),
        );
    }
    Reconciliation {
        agrees: differences.is_empty(),
        scheduler,
        computed,
        by_node,
        differences,
    }
}

/// The one change that would schedule the pod, from the first reason that blocks every node.
fn fix_for(reasons: &[Reason], nodes: &[ApiNode]) -> String {
    if reasons.is_empty() {
        return "no blocking reason found locally; read the scheduler's message".into();
    }
    // Every reason on every candidate node blocks the pod somewhere: one step for each, named
    // by the nodes it is about, so no single reason hides the others.
    reasons
        .iter()
        .map(|r| {
            let step = fix_one(r, nodes);
            if r.nodes.is_empty() || reasons.len() == 1 {
                step
            } else {
                format!("{}: {step}", r.nodes.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The step for one reason.
fn fix_one(r: &Reason, nodes: &[ApiNode]) -> String {
    match r.reason {
        "untolerated-taint" => {
            let taint = nodes
                .iter()
                .filter(|n| r.nodes.contains(&n.name))
                .flat_map(|n| &n.taints)
                .next();
            taint.map_or("add a toleration for the GPU nodes' taint".into(), |t| {
                format!(
                    "add the toleration {{key: {}, operator: Exists, effect: {}}}",
                    t.key, t.effect
                )
            })
        }
        "affinity-mismatch" | "labels-missing" => {
            let products: Vec<&String> = nodes
                .iter()
                .filter_map(|n| n.labels.get("nvidia.com/gpu.product"))
                .collect();
            if products.is_empty() {
                "run GPU feature discovery (it sets the nvidia.com/gpu.* labels) or drop the selector".into()
            } else {
                format!(
                    "select a product that exists: nvidia.com/gpu.product in [{}]",
                    products
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        "exceeds-node-capacity" => format!(
            "ask for at most what one node offers, or split the job across pods ({})",
            r.detail
        ),
        "mig-resource-mismatch" => format!("request the resource the node offers ({})", r.detail),
        "all-allocated" => format!("free a GPU ({}), or add GPU capacity", r.detail),
        "operator-unhealthy" => format!("fix the GPU operator: {}", r.detail),
        _ => r.detail.clone(),
    }
}

/// A FailedScheduling message split into its per-reason counts (docs/kubelet-semantics.md §6):
/// `0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint
/// {k: v}. preemption: ...` gives `[(1, "Insufficient nvidia.com/gpu"), (2, "node(s) had ...")]`.
pub fn parse_fit_error(msg: &str) -> Option<(u32, Vec<(u32, String)>)> {
    let rest = msg.strip_prefix("0/")?;
    let (total, rest) = rest.split_once(" nodes are available")?;
    let total: u32 = total.parse().ok()?;
    let body = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let body = body.split(" preemption: ").next().unwrap_or(body);
    let body = body.trim_end().trim_end_matches('.');
    let mut out = Vec::new();
    // Reasons are ", "-separated, but a taint's "{k: v}" may hold ", " too: split on ", " only
    // when the next part starts with a count.
    let mut cur = String::new();
    for part in body.split(", ") {
        let starts_count = part
            .split(' ')
            .next()
            .is_some_and(|w| w.parse::<u32>().is_ok());
        if starts_count && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(", ");
        }
        cur.push_str(part);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    let items = out
        .into_iter()
        .filter_map(|s| {
            let (n, r) = s.split_once(' ')?;
            Some((n.parse().ok()?, r.to_string()))
        })
        .collect();
    Some((total, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &'static str, node: &str, detail: &str) -> Reason {
        Reason {
            reason: code,
            nodes: vec![node.to_string()],
            detail: detail.to_string(),
            by_node: BTreeMap::new(),
        }
    }

    /// Every reason gets its own step, named by its node: a full node and a MIG node both say
    /// what would unblock the pod there.
    #[test]
    fn the_fix_has_one_step_per_reason_and_node() {
        let reasons = [
            reason(
                "all-allocated",
                "gpu-b",
                "8/8 nvidia.com/gpu allocated on gpu-b",
            ),
            reason(
                "mig-resource-mismatch",
                "gpu-mig",
                "gpu-mig offers nvidia.com/mig-1g.5gb",
            ),
        ];
        assert_eq!(
            fix_for(&reasons, &[]),
            "gpu-b: free a GPU (8/8 nvidia.com/gpu allocated on gpu-b), or add GPU capacity; \
             gpu-mig: request the resource the node offers (gpu-mig offers nvidia.com/mig-1g.5gb)"
        );
        // One reason: no node prefix.
        assert_eq!(
            fix_for(&reasons[..1], &[]),
            "free a GPU (8/8 nvidia.com/gpu allocated on gpu-b), or add GPU capacity"
        );
    }

    fn comp(link: &'static str, running: bool) -> Component {
        Component {
            link,
            pod: format!("gpu-operator/{link}-x"),
            running,
            detail: String::new(),
        }
    }

    #[test]
    fn the_first_failing_link_is_the_earliest_down_or_missing() {
        // The driver crashes: everything after it is blocked, the driver is named.
        let c = vec![
            comp("driver", false),
            comp("toolkit", false),
            comp("device plugin", true),
        ];
        assert_eq!(first_failing_link(&c).map(|x| x.0), Some("driver"));
        // The device plugin runs but no toolkit pod exists on the node.
        let c = vec![
            comp("driver", true),
            comp("device plugin", true),
            comp("validator", true),
        ];
        assert_eq!(first_failing_link(&c).map(|x| x.0), Some("toolkit"));
        // A complete chain (optional DCGM and MIG manager absent) is healthy.
        let c = vec![
            comp("NFD", true),
            comp("driver", true),
            comp("toolkit", true),
            comp("device plugin", true),
            comp("GFD", true),
            comp("validator", true),
        ];
        assert_eq!(first_failing_link(&c), None);
        assert_eq!(first_failing_link(&[]), None);
    }

    #[test]
    fn fit_errors_split_into_counted_reasons() {
        let (n, items) = parse_fit_error("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.").expect("parse");
        assert_eq!(n, 3);
        assert_eq!(
            items,
            vec![
                (1, "Insufficient nvidia.com/gpu".to_string()),
                (
                    2,
                    "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                        .to_string()
                )
            ]
        );
        let (_, items) =
            parse_fit_error("0/12 nodes are available: 12 Insufficient nvidia.com/gpu.")
                .expect("parse");
        assert_eq!(items, vec![(12, "Insufficient nvidia.com/gpu".to_string())]);
        assert!(parse_fit_error("pod has unbound immediate PersistentVolumeClaims").is_none());
        let (_, items) = parse_fit_error(
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
        )
        .expect("parse");
        assert_eq!(
            items[0].1,
            "node(s) didn't match Pod's node affinity/selector"
        );
    }

    /// Real messages from bug reports: NVIDIA/k8s-device-plugin#421 (an older scheduler's
    /// doubled period, an empty taint value) and #33 (no preemption part).
    #[test]
    fn fit_errors_from_bug_reports_parse() {
        let (n, items) = parse_fit_error("0/1 nodes are available: 1 node(s) had untolerated taint {gpu: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..").expect("parse");
        assert_eq!(n, 1);
        assert_eq!(
            items,
            vec![(1, "node(s) had untolerated taint {gpu: }".to_string())]
        );
        let (_, items) = parse_fit_error("0/1 nodes are available: 1 Insufficient nvidia.com/gpu")
            .expect("parse");
        assert_eq!(items, vec![(1, "Insufficient nvidia.com/gpu".to_string())]);
    }

    fn gpu_pod(per_container: &[(&str, &str)]) -> ApiPod {
        ApiPod {
            containers: per_container
                .iter()
                .map(|(req, lim)| crate::model::cluster::ApiContainer {
                    requests: (!req.is_empty())
                        .then(|| ("nvidia.com/gpu".to_string(), req.to_string()))
                        .into_iter()
                        .collect(),
                    limits: (!lim.is_empty())
                        .then(|| ("nvidia.com/gpu".to_string(), lim.to_string()))
                        .into_iter()
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// A bound pod holds the sum of its containers' requests, a limit standing in for a
    /// missing request (extended resources default their request to the limit).
    #[test]
    fn a_pod_holds_the_sum_of_its_containers_requests_or_limits() {
        assert_eq!(
            pod_holds(&gpu_pod(&[("2", "2"), ("", "1")]), "nvidia.com/gpu"),
            3
        );
        assert_eq!(pod_holds(&gpu_pod(&[("", "")]), "nvidia.com/gpu"), 0);
        assert_eq!(
            pod_holds(&gpu_pod(&[("1", "1")]), "nvidia.com/mig-1g.5gb"),
            0
        );
    }

    /// Each node counts under its first failing filter: a tainted node that is also full says
    /// only its taint, as the scheduler's histogram does; items sort as strings.
    #[test]
    fn the_scheduler_counts_a_node_under_its_first_failing_filter() {
        let node = |name: &str, gpus: &str, taint: bool| ApiNode {
            name: name.into(),
            allocatable: [("nvidia.com/gpu".to_string(), gpus.to_string())].into(),
            taints: if taint {
                vec![crate::model::cluster::Taint {
                    key: "nvidia.com/gpu".into(),
                    value: None,
                    effect: "NoSchedule".into(),
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let full = |n: &str| NodeAllocation {
            node: n.into(),
            resource: "nvidia.com/gpu".into(),
            allocated: Some(4),
            allocatable: 4,
            source: "pods",
        };
        let nodes = vec![
            node("a", "4", true),
            node("b", "4", false),
            node("c", "0", false),
        ];
        let alloc = vec![full("a"), full("b")];
        let req = BTreeMap::from([("nvidia.com/gpu".to_string(), 1)]);
        let p = gpu_pod(&[("1", "1")]);
        let r = reconcile(
            &p,
            &req,
            &nodes,
            &alloc,
            vec![
                (1, "node(s) had untolerated taint {nvidia.com/gpu: }".into()),
                (2, "Insufficient nvidia.com/gpu".into()),
            ],
        );
        assert!(r.agrees, "{r:?}");
        assert_eq!(r.computed, r.scheduler);
        // A node whose pods were not listed cannot be counted: said, and no agreement claimed.
        let r = reconcile(&p, &req, &nodes, &alloc[..1], r.scheduler.clone());
        assert!(!r.agrees);
        assert_eq!(
            r.differences.last().map(String::as_str),
            Some("allocation unknown on b (pods not listed): not counted")
        );
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> crate::model::cluster::Toleration {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        crate::model::cluster::Toleration {
            key: some(key),
            operator: some(op),
            value: some(value),
            effect: some(effect),
        }
    }

    /// `ToleratesTaint`: key, effect and value must all match (an empty key or effect matches
    /// any; `Exists` matches any value).
    #[test]
    fn a_toleration_must_match_key_effect_and_value_together() {
        let taint = ("nvidia.com/gpu", Some("present"), "NoSchedule");
        let judge = |t| {
            let p = ApiPod {
                tolerations: vec![t],
                ..Default::default()
            };
            tolerates(&p, taint.0, taint.1, taint.2)
        };
        assert!(judge(tol("nvidia.com/gpu", "Exists", "", "NoSchedule")));
        assert!(judge(tol("nvidia.com/gpu", "Equal", "present", "")));
        assert!(judge(tol("", "Exists", "", "")));
        assert!(!judge(tol("nvidia.com/gpu", "Exists", "", "NoExecute")));
        assert!(!judge(tol("other", "Exists", "", "NoSchedule")));
        assert!(!judge(tol(
            "nvidia.com/gpu",
            "Equal",
            "absent",
            "NoSchedule"
        )));
    }

    #[test]
    fn gt_and_lt_compare_label_values_as_integers() {
        let labels = BTreeMap::from([("nvidia.com/gpu.memory".to_string(), "81920".to_string())]);
        let pod = |op: &str, v: &str| ApiPod {
            required_node_affinity: Some(serde_json::json!({"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": op, "values": [v]}]}
            ]})),
            ..Default::default()
        };
        assert!(selects(&pod("Gt", "40000"), &labels));
        assert!(!selects(&pod("Gt", "81920"), &labels));
        assert!(selects(&pod("Lt", "81921"), &labels));
        assert!(!selects(&pod("Lt", "81920"), &labels));
        assert!(
            !selects(&pod("Gt", "many"), &labels),
            "not an integer: no match"
        );
    }

    #[test]
    fn a_node_offers_its_allocatable_nvidia_resources_only() {
        let n = ApiNode {
            allocatable: BTreeMap::from([
                ("cpu".to_string(), "8".to_string()),
                ("nvidia.com/gpu".to_string(), "4".to_string()),
                ("nvidia.com/mig-1g.10gb".to_string(), "7".to_string()),
            ]),
            ..Default::default()
        };
        assert_eq!(
            offered(&n),
            BTreeMap::from([
                ("nvidia.com/gpu".to_string(), 4),
                ("nvidia.com/mig-1g.10gb".to_string(), 7)
            ])
        );
    }
}
