//! `kubelet.cert-expiry`: the kubelet's client or serving certificate has expired, expires
//! within a week, or expires within a month with rotation off.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::health::KubeletCert;

pub struct KubeletCertExpiry;

const DAY: i64 = 86_400;
/// Within this many days of its end a certificate is a warning whatever the rotation.
const SOON_DAYS: i64 = 7;
/// Within this many days, a warning when nothing will renew it.
const NO_ROTATION_DAYS: i64 = 30;

impl Rule for KubeletCertExpiry {
    fn id(&self) -> &'static str {
        "kubelet.cert-expiry"
    }
    fn severity(&self) -> Severity {
        Severity::Critical
    }
    fn summary(&self) -> &'static str {
        "a kubelet certificate expired or expires within 7 days (30 without rotation)"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  The kubelet's client certificate (its identity towards the API server: the kubeconfig's
  client-certificate, usually /var/lib/kubelet/pki/kubelet-client-current.pem) or its serving
  certificate (port 10250: tlsCertFile, kubelet-server-current.pem with serverTLSBootstrap, or
  the self-signed kubelet.crt) has expired (critical), is not valid yet (critical: the clock
  is wrong), expires within 7 days (warning), or expires within 30 days while nothing will
  renew it (rotateCertificates / serverTLSBootstrap off). Only CERTIFICATE blocks are read;
  private keys are never opened.

WHY IT MATTERS
  With an expired client certificate the API server rejects the kubelet ('x509: certificate
  has expired or is not yet valid'): it cannot post node status, the node goes NotReady and
  after the eviction timeout its pods are evicted. An expired serving certificate breaks
  kubectl logs/exec and metrics scraping where the certificate is verified. Rotation renews at
  70-90% of the lifetime: a rotated certificate this close to its end means rotation failed
  (CSR not approved, API unreachable).

HOW TO CONFIRM
  openssl x509 -noout -subject -dates -in /var/lib/kubelet/pki/kubelet-client-current.pem
  kubectl get csr | grep NODE    (Pending CSRs: nobody approves them)
  journalctl -u kubelet | grep -i -e certificate -e x509

WHAT TO CHANGE
  Client: enable rotateCertificates and approve the node's CSRs (kube-controller-manager's
  csrapproving, or kubectl certificate approve); on kubeadm nodes, 'kubeadm certs' on the
  control plane and a new bootstrap for the node. Serving: serverTLSBootstrap with an approver
  for kubelet-serving CSRs, or renew tlsCertFile. Fix the clock first when a certificate is
  not yet valid (node.clock-unsynced)."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let cfg = snap.kubelet.as_ref().map(|k| &k.config);
        for c in &snap.health.kubelet_certs {
            let Some(not_after) = c.not_after else {
                continue;
            };
            let left = not_after.as_second() - snap.taken_at.as_second();
            let rotates = match c.role.as_str() {
                "client" => cfg.is_some_and(|c| c.rotate_certificates),
                _ => cfg.is_some_and(|c| c.server_tls_bootstrap),
            };
            let not_yet = c.not_before.is_some_and(|nb| nb > snap.taken_at);
            let (mut severity, what) = if left <= 0 {
                (Severity::Critical, format!("expired {} ago", days(-left)))
            } else if not_yet {
                (
                    Severity::Critical,
                    "is not valid yet (is the clock behind?)".to_string(),
                )
            } else if left <= SOON_DAYS * DAY {
                (Severity::Warning, format!("expires in {}", days(left)))
            } else if left <= NO_ROTATION_DAYS * DAY && !rotates && !c.self_signed {
                (
                    Severity::Warning,
                    format!("expires in {} and certificate rotation is off", days(left)),
                )
            } else {
                continue;
            };
            // The kubelet's own self-signed serving certificate is verified by nobody by
            // default: worth a warning, never the node's critical.
            if c.self_signed && c.role == "serving" {
                severity = severity.min(Severity::Warning);
            }
            out.push(cert_finding(
                self, snap, c, severity, &what, rotates, not_after,
            ));
        }
    }
}

fn cert_finding(
    rule: &KubeletCertExpiry,
    snap: &Snapshot,
    c: &KubeletCert,
    severity: Severity,
    what: &str,
    rotates: bool,
    not_after: jiff::Timestamp,
) -> Finding {
    finding(
        rule,
        severity,
        format!(
            "the kubelet's {} certificate {} {what} (notAfter {not_after})",
            c.role, c.path
        ),
        Subject::node(snap).with_path(c.path.clone()),
        serde_json::json!({
            "role": c.role,
            "path": c.path,
            "subject": c.subject,
            "not_before": c.not_before,
            "not_after": not_after,
            "self_signed": c.self_signed,
            "rotation_enabled": rotates,
        }),
        match (c.role.as_str(), rotates) {
            ("client", false) => {
                "enable rotateCertificates and approve the node's CSRs (kubectl get csr); renew the client certificate now if it has expired"
            }
            ("client", true) => {
                "rotateCertificates is on but the certificate was not renewed: approve the node's pending CSRs (kubectl get csr) and read the kubelet's log for certificate_manager errors; renew it now if it has expired"
            }
            (_, false) => {
                "enable serverTLSBootstrap with an approver for kubelet-serving CSRs, or renew tlsCertFile"
            }
            (_, true) => {
                "serverTLSBootstrap is on but no new serving certificate was issued: approve the kubelet-serving CSRs (kubectl get csr) or run an approver for them"
            }
        },
    )
}

/// `3d4h`, `5h`, `12m`.
fn days(secs: i64) -> String {
    crate::analyze::oom::human_age(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::testkit::{run, snapshot};

    fn cert(role: &str, left_secs: i64, self_signed: bool) -> KubeletCert {
        let now: jiff::Timestamp = crate::analyze::testkit::NOW.parse().unwrap();
        KubeletCert {
            role: role.into(),
            path: "/var/lib/kubelet/pki/kubelet-client-current.pem".into(),
            subject: Some("O=system:nodes, CN=system:node:node-a".into()),
            not_before: Some(now - jiff::SignedDuration::from_hours(24 * 300)),
            not_after: Some(now + jiff::SignedDuration::from_secs(left_secs)),
            self_signed,
            error: None,
        }
    }

    fn sev(c: KubeletCert) -> Option<Severity> {
        let mut s = snapshot();
        s.health.kubelet_certs = vec![c];
        run(&KubeletCertExpiry, &s).first().map(|f| f.severity)
    }

    #[test]
    fn expiry_thresholds_on_both_sides() {
        assert_eq!(sev(cert("client", 0, false)), Some(Severity::Critical));
        assert_eq!(sev(cert("client", 1, false)), Some(Severity::Warning));
        assert_eq!(sev(cert("client", 7 * DAY, false)), Some(Severity::Warning));
        // Without rotation (no kubelet config: the default, off) up to 30 days.
        assert_eq!(
            sev(cert("client", 30 * DAY, false)),
            Some(Severity::Warning)
        );
        assert_eq!(sev(cert("client", 30 * DAY + 1, false)), None);
    }

    #[test]
    fn rotation_and_self_signed_serving_certificates() {
        let mut s = snapshot();
        s.kubelet = Some(crate::model::KubeletInfo {
            embedded_in: None,
            config_sources: Vec::new(),
            pid: 1,
            config_file: None,
            drop_ins: vec![],
            flags: Default::default(),
            config: crate::collect::kubelet_config_for_tests(&["--rotate-certificates"]),
        });
        s.health.kubelet_certs = vec![cert("client", 7 * DAY + 1, false)];
        assert!(
            run(&KubeletCertExpiry, &s).is_empty(),
            "rotation on, 7 days and a second"
        );
        assert_eq!(sev(cert("serving", -5, true)), Some(Severity::Warning));
        let mut s = snapshot();
        s.health.kubelet_certs = vec![cert("client", -3 * DAY, false)];
        let f = run(&KubeletCertExpiry, &s);
        assert_eq!(
            f[0].title,
            "the kubelet's client certificate /var/lib/kubelet/pki/kubelet-client-current.pem expired 3d0h ago (notAfter 2026-11-19T03:00:00Z)"
        );
    }

    /// rotateCertificates is proposed only to a kubelet that does not rotate already.
    #[test]
    fn the_fix_does_not_propose_the_rotation_it_has() {
        let mut s = snapshot();
        s.health.kubelet_certs = vec![cert("client", -3 * DAY, false)];
        let off = run(&KubeletCertExpiry, &s)[0].remedy.clone();
        assert!(off.starts_with("enable rotateCertificates"), "{off}");
        s.kubelet = Some(crate::model::KubeletInfo {
            embedded_in: None,
            config_sources: Vec::new(),
            pid: 1,
            config_file: None,
            drop_ins: vec![],
            flags: Default::default(),
            config: crate::collect::kubelet_config_for_tests(&["--rotate-certificates"]),
        });
        let on = run(&KubeletCertExpiry, &s)[0].remedy.clone();
        assert!(
            on.starts_with("rotateCertificates is on but the certificate was not renewed"),
            "{on}"
        );
    }
}
