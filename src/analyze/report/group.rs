//! Findings grouped by rule and cause, so that 100 pods with one mistake read as one block.
//!
//! A rule reports one finding per subject; on a busy node one cause (a `dnsPolicy: Default`
//! in a Deployment's template) becomes a hundred findings and the verdict drowns. A *group* is
//! the findings of one rule, at one severity, whose remedy is the same once the subject's own
//! names (namespace/pod, container, path, device, unit, pid) are taken out of it: the same fix
//! for the same reason. Nothing here knows a rule: it works on any finding.
//!
//! The group's key ([`Group::key`], the `group` of each finding in `check --format json`) is
//! `<rule id>:<8 hex digits>`, a hash of that masked remedy (FNV-1a, fixed by this file, not by
//! the Rust version), so the same cause on two nodes carries the same key across a fleet.

use crate::analyze::{Finding, Severity, Subject};

/// What stands for a subject's own name in a masked title or remedy.
const MASK: &str = "\u{2026}";

/// Names shorter than this are not masked: a container called `a` is in every word.
const MIN_MASKED: usize = 3;

/// Findings of one rule and one cause, in the order `analyze` sorted them.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// `<rule id>:<hash of the masked remedy>`, stable across nodes and runs.
    pub key: String,
    /// The members, at least one.
    pub findings: Vec<&'a Finding>,
    /// The title every member shares once its subject is taken out, when they all do and
    /// nothing of a subject is left in it (`resolves with the node's nameservers (…)`).
    pub common_title: Option<String>,
}

impl<'a> Group<'a> {
    /// The first member (a group is never empty).
    pub fn first(&self) -> &'a Finding {
        self.findings[0]
    }

    pub fn severity(&self) -> Severity {
        self.first().severity
    }

    pub fn id(&self) -> &'a str {
        &self.first().id
    }

    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// Always false; a group has at least one member.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// What the members are, plural, from their subjects' kind (`pods`, `containers`, ...).
    pub fn noun(&self) -> &'static str {
        kind_plural(&self.first().subject)
    }
}

/// Groups `findings` (sorted as `analyze` returns them) by rule, severity and masked remedy.
/// Groups keep the order of their first member, so the worst cause still comes first.
pub fn group(findings: &[Finding]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for f in findings {
        let key = key(f);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.findings.push(f),
            None => groups.push(Group {
                key,
                findings: vec![f],
                common_title: None,
            }),
        }
    }
    for g in &mut groups {
        g.common_title = common_title(&g.findings);
    }
    groups
}

/// The group key of one finding (see the module docs).
pub fn key(f: &Finding) -> String {
    let cause = format!("{}\n{}", f.severity.as_str(), mask(&f.remedy, &f.subject));
    format!("{}:{:08x}", f.id, fnv1a(cause.as_bytes()) as u32)
}

/// FNV-1a, 64 bits: a hash whose value is fixed by its definition (http://www.isthe.com/chongo/tech/comp/fnv/).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The names of `s` that a title or remedy may quote, longest first so that `ns/pod` is
/// masked whole before `pod` alone.
fn names(s: &Subject) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let (Some(ns), Some(p)) = (&s.namespace, &s.pod) {
        v.push(format!("{ns}/{p}"));
    }
    v.extend(
        [&s.pod, &s.container, &s.path, &s.device, &s.unit]
            .into_iter()
            .flatten()
            .cloned(),
    );
    v.retain(|n| n.chars().count() >= MIN_MASKED);
    v.sort_by_key(|n| std::cmp::Reverse(n.len()));
    v
}

/// `text` with every name of `s` replaced by [`MASK`]; a pid only where it stands as a
/// whole number, not inside another.
pub fn mask(text: &str, s: &Subject) -> String {
    let mut out = text.to_string();
    for n in names(s) {
        out = out.replace(&n, MASK);
    }
    if let Some(pid) = s.pid {
        out = mask_number(&out, &pid.to_string());
    }
    out
}

/// Replaces `num` in `text` where no digit touches it on either side.
fn mask_number(text: &str, num: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(num) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + num.len()..].chars().next();
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..i]);
        out.push_str(if digit(before) || digit(after) {
            num
        } else {
            MASK
        });
        rest = &rest[i + num.len()..];
    }
    out.push_str(rest);
    out
}

/// The members' shared title with the subject taken out, when every member's masked title is
/// the same and the only mask left is a leading `…: ` (the subject the block names anyway).
fn common_title(members: &[&Finding]) -> Option<String> {
    let first = members.first()?;
    let masked = mask(&first.title, &first.subject);
    if members.iter().any(|f| mask(&f.title, &f.subject) != masked) {
        return None;
    }
    let t = masked.strip_prefix(&format!("{MASK}: ")).unwrap_or(&masked);
    (!t.contains(MASK) && !t.is_empty()).then(|| t.to_string())
}

/// The plural of what a subject is, from the most specific field it has.
fn kind_plural(s: &Subject) -> &'static str {
    if s.container.is_some() {
        "containers"
    } else if s.pod.is_some() {
        "pods"
    } else if s.pid.is_some() {
        "processes"
    } else if s.path.is_some() {
        "paths"
    } else if s.device.is_some() {
        "devices"
    } else if s.unit.is_some() {
        "units"
    } else {
        "nodes"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_finding(id: &str, ns: &str, pod: &str, title: &str, remedy: &str) -> Finding {
        Finding {
            id: id.into(),
            severity: Severity::Warning,
            title: title.replace("{}", &format!("{ns}/{pod}")),
            subject: Subject::pod(Some(ns.to_string()), Some(pod.to_string())),
            evidence: serde_json::Value::Null,
            remedy: remedy.replace("{}", pod),
        }
    }

    #[test]
    fn one_cause_on_many_pods_is_one_group_with_the_shared_title() {
        let f: Vec<Finding> = (0..5)
            .map(|i| {
                pod_finding(
                    "dns.policy-default",
                    "ns",
                    &format!("pod-{i}"),
                    "{}: resolves with the node's nameservers (10.0.0.2)",
                    "drop dnsPolicy: Default",
                )
            })
            .collect();
        let g = group(&f);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].len(), 5);
        assert_eq!(g[0].noun(), "pods");
        assert_eq!(
            g[0].common_title.as_deref(),
            Some("resolves with the node's nameservers (10.0.0.2)")
        );
        assert!(g[0].key.starts_with("dns.policy-default:"), "{}", g[0].key);
        assert_eq!(g[0].key.len(), "dns.policy-default:".len() + 8);
    }

    #[test]
    fn a_remedy_naming_the_subject_still_groups_and_a_different_remedy_splits() {
        let a = pod_finding("x.y", "ns", "web-1", "{} slow", "kubectl delete pod {}");
        let b = pod_finding("x.y", "ns", "web-2", "{} slow", "kubectl delete pod {}");
        let c = pod_finding("x.y", "ns", "web-3", "{} slow", "raise the limit");
        let f = [a, b, c];
        let g = group(&f);
        assert_eq!(g.iter().map(Group::len).collect::<Vec<_>>(), [2, 1]);
        assert_ne!(g[0].key, g[1].key);
        // The same cause keys the same on another node and run.
        assert_eq!(key(&f[0]), key(&f[1]));
    }

    #[test]
    fn titles_that_differ_beyond_the_subject_share_no_title() {
        let a = pod_finding("x.y", "ns", "web-1", "{}: peak 255Mi", "fix");
        let b = pod_finding("x.y", "ns", "web-2", "{}: peak 100Mi", "fix");
        let f = [a, b];
        assert_eq!(group(&f)[0].common_title, None);
    }

    #[test]
    fn pids_are_masked_only_as_whole_numbers() {
        let s = Subject::default().with_pid(42);
        assert_eq!(
            mask("pid 42 of 420 and 142", &s),
            "pid \u{2026} of 420 and 142"
        );
    }

    #[test]
    fn short_names_are_not_masked() {
        let s = Subject::container(
            Some("ns".to_string()),
            Some("p".to_string()),
            Some("a".to_string()),
        );
        assert_eq!(mask("a cat", &s), "a cat");
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vector from the FNV reference: FNV-1a 64 of "a".
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
