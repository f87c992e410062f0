//! Rules judge a [`Snapshot`]: each is a pure function from the snapshot to findings, with no
//! I/O and no clock of its own (`snapshot.taken_at` is "now"). The registry is
//! [`rules::RULES`]; adding a rule is one file and one line there.

pub mod disk;
pub mod dns;
pub mod eviction_ranking;
pub mod eviction_signals;
pub mod gpu;
pub mod gpu_memory;
pub mod health;
pub mod next_victims;
pub mod oom;
pub mod oom_policy;
pub mod remedy;
pub mod report;
pub mod restarts;
pub mod rules;
#[cfg(test)]
pub(crate) mod testkit;

use crate::model::Snapshot;
use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// The one spelling every human output uses (text reports, the TUI): `CRITICAL`,
    /// `WARNING`, `INFO`, the JSON's `severity` and `--fail-on` values in capitals.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What a finding is about: whichever of these apply.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// A systemd unit (`kubelet.service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// The one way findings name what they are about: a constructor for the kind of thing
/// (`node`, `pod`, `container`), then `with_*` for what else applies. Each `with_*` takes the
/// value or an `Option` of it (`None` leaves the field out of the JSON).
impl Subject {
    /// The node itself.
    pub fn node(snap: &Snapshot) -> Self {
        Subject {
            node: Some(snap.hostname().to_string()),
            ..Default::default()
        }
    }

    /// A pod, by namespace and name where known (rules pass the uid as the name of a pod
    /// whose name is lost).
    pub fn pod(namespace: impl Into<Option<String>>, pod: impl Into<Option<String>>) -> Self {
        Subject {
            namespace: namespace.into(),
            pod: pod.into(),
            ..Default::default()
        }
    }

    /// A pod as the model names it ([`crate::model::Pod::facts`]): namespace and name when
    /// anything names it, else `pod <uid>` (`pod <uid> (deleted)` once its cgroup is gone).
    pub fn of_pod(p: &crate::model::Pod) -> Self {
        let f = p.facts(false);
        match (f.namespace, f.name) {
            (Some(ns), Some(n)) => Subject::pod(ns.value, n.value),
            _ => Subject::pod(None, f_label(&p.uid, p.cgroup.is_none())),
        }
    }

    /// A container of a pod as the model names both: its Kubernetes name, else `id <12 hex>`.
    pub fn of_container(p: &crate::model::Pod, c: &crate::model::Container) -> Self {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| format!("id {}", &c.id[..c.id.len().min(12)]));
        Subject::of_pod(p).with_container(name)
    }

    /// Whether the subject names nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Subject::default()
    }

    /// A container of a pod.
    pub fn container(
        namespace: impl Into<Option<String>>,
        pod: impl Into<Option<String>>,
        container: impl Into<Option<String>>,
    ) -> Self {
        Subject::pod(namespace, pod).with_container(container)
    }

    /// On this node: sets `node` to the snapshot's hostname.
    pub fn on_node(mut self, snap: &Snapshot) -> Self {
        self.node = Some(snap.hostname().to_string());
        self
    }

    pub fn with_node(mut self, node: impl Into<Option<String>>) -> Self {
        self.node = node.into();
        self
    }

    pub fn with_container(mut self, container: impl Into<Option<String>>) -> Self {
        self.container = container.into();
        self
    }

    pub fn with_pid(mut self, pid: impl Into<Option<u32>>) -> Self {
        self.pid = pid.into();
        self
    }

    /// A host path (a file, a directory, a mount point).
    pub fn with_path(mut self, path: impl Into<Option<String>>) -> Self {
        self.path = path.into();
        self
    }

    /// A device: a PCI address, a block device.
    pub fn with_device(mut self, device: impl Into<Option<String>>) -> Self {
        self.device = device.into();
        self
    }

    /// A systemd unit.
    pub fn with_unit(mut self, unit: impl Into<Option<String>>) -> Self {
        self.unit = unit.into();
        self
    }
}

/// `pod <uid>`, or `pod <uid> (deleted)`: a pod nothing names.
fn f_label(uid: &str, deleted: bool) -> String {
    if deleted {
        format!("pod {uid} (deleted)")
    } else {
        format!("pod {uid}")
    }
}

/// One thing a rule found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// The rule id, `area.name` (docs/rules.md).
    pub id: String,
    pub severity: Severity,
    /// One line: what is wrong, with the number that proves it.
    pub title: String,
    pub subject: Subject,
    /// The facts behind the finding, as structured data.
    pub evidence: serde_json::Value,
    /// What to change.
    pub remedy: String,
}

/// A check over a snapshot. Implementations are unit structs listed once in [`rules::RULES`].
pub trait Rule: Sync {
    /// Stable id, `area.name` (lowercase, hyphenated). Once shipped, it keeps its meaning.
    fn id(&self) -> &'static str;
    /// The default severity (a rule may raise it for a given finding).
    fn severity(&self) -> Severity;
    /// One line for `nodescope rules` and the man page.
    fn summary(&self) -> &'static str;
    /// The `explain` text, with the sections WHAT IT MEANS, WHY IT MATTERS, HOW TO CONFIRM,
    /// WHAT TO CHANGE.
    fn explain(&self) -> &'static str;
    /// Appends findings for `snap`. Pure and infallible: absent facts mean no finding.
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>);
}

/// Helper for rules: a finding with this rule's id.
pub fn finding(
    rule: &dyn Rule,
    severity: Severity,
    title: impl Into<String>,
    subject: Subject,
    evidence: serde_json::Value,
    remedy: impl Into<String>,
) -> Finding {
    Finding {
        id: rule.id().into(),
        severity,
        title: title.into(),
        subject,
        evidence,
        remedy: remedy.into(),
    }
}

/// Runs every rule and sorts the findings: severity (worst first), then id, then subject.
pub fn analyze(snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in rules::RULES {
        r.check(snap, &mut out);
    }
    // A finding about something nothing names is about this node, never about no one.
    for f in out.iter_mut().filter(|f| f.subject.is_empty()) {
        f.subject = Subject::node(snap);
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    out
}

/// Finds a rule by id.
pub fn rule(id: &str) -> Option<&'static dyn Rule> {
    rules::RULES.iter().copied().find(|r| r.id() == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::dns::Conntrack;

    /// A node with a critical (conntrack 95 % full), two warnings (4 nameservers on the node
    /// and in a pod), an info (no minimum reclaim) and, through the defaults, a hard-only warning.
    fn busy_node() -> Snapshot {
        let mut s = snap();
        s.dns.conntrack = Some(Conntrack {
            count: Some(950),
            max: Some(1000),
            ..Default::default()
        });
        let four = ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
        s.dns.node = Some(resolv("/etc/resolv.conf", &four, &[], 1));
        let mut other = four;
        other[0] = "10.0.0.9";
        s.dns
            .pods
            .push(pod_dns("b-ns", "z", resolv("/p/1", &other, &[], 1)));
        s.dns
            .pods
            .push(pod_dns("a-ns", "y", resolv("/p/2", &other, &[], 1)));
        s.kubelet = kubelet(kubelet_defaults());
        let mut r = kubelet_defaults();
        r.system_reserved.insert("memory".into(), "1Gi".into());
        if let Some(k) = s.kubelet.as_mut() {
            k.config.system_reserved = r.system_reserved;
        }
        s
    }

    #[test]
    fn analyze_runs_every_rule_and_orders_worst_first_then_id_then_subject() {
        let f = analyze(&busy_node());
        let got: Vec<(Severity, &str, Option<&str>)> = f
            .iter()
            .map(|f| (f.severity, f.id.as_str(), f.subject.namespace.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Severity::Critical, "net.conntrack-table-full", None),
                // Subjects compare field by field, `node` first: no node before a node.
                (Severity::Warning, "dns.nameserver-limit", Some("a-ns")),
                (Severity::Warning, "dns.nameserver-limit", Some("b-ns")),
                (Severity::Warning, "dns.nameserver-limit", None),
                (Severity::Warning, "eviction.hard-only", None),
                (Severity::Info, "eviction.no-minimum-reclaim", None),
            ]
        );
    }

    #[test]
    fn analyze_of_an_empty_node_is_empty() {
        assert!(analyze(&snap()).is_empty());
    }

    #[test]
    fn rules_are_found_by_id_and_only_by_their_id() {
        for r in rules::RULES {
            assert_eq!(rule(r.id()).map(|x| x.id()), Some(r.id()));
        }
        assert!(rule("memory.pressur").is_none());
        assert!(rule("").is_none());
    }

    #[test]
    fn severities_order_and_name_themselves() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!(
            [Severity::Info, Severity::Warning, Severity::Critical].map(Severity::as_str),
            ["info", "warning", "critical"]
        );
    }

    #[test]
    fn the_node_subject_names_the_host() {
        let s = Subject::node(&snap());
        assert_eq!(s.node.as_deref(), Some(NODE));
        assert_eq!(
            s,
            Subject {
                node: Some(NODE.into()),
                ..Default::default()
            }
        );
    }
}
