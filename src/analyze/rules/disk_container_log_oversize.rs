//! `disk.container-log-oversize`: a container log past `containerLogMaxSize`.

use crate::analyze::{Finding, Rule, Severity, Subject, finding};
use crate::model::Snapshot;
use crate::model::units;

pub struct DiskContainerLogOversize;

impl Rule for DiskContainerLogOversize {
    fn id(&self) -> &'static str {
        "disk.container-log-oversize"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a container log file is larger than the kubelet's containerLogMaxSize"
    }
    fn explain(&self) -> &'static str {
        "WHAT IT MEANS
  A current container log, /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log, is larger
  than containerLogMaxSize (default 10Mi). The kubelet's log manager checks every
  containerLogMonitorInterval (10s) and rotates a log past the limit, keeping
  containerLogMaxFiles (5) files; a log far past the limit means rotation is not keeping up.

WHY IT MATTERS
  A container writing faster than rotation (or a runtime the kubelet cannot ask to reopen the
  log) grows one file without bound, on nodefs, until DiskPressure evicts pods. Logs written by
  a runtime outside the kubelet's control (docker's json-file driver without max-size) are not
  rotated at all.

HOW TO CONFIRM
  ls -lS /var/log/pods/*/*/ | head
  kubectl logs -n NS POD -c CONTAINER --tail 20     (what is it writing?)
  journalctl -u kubelet | grep -i 'rotate'

WHAT TO CHANGE
  Reduce what the container logs (log level, sampling). Set containerLogMaxSize and
  containerLogMaxFiles to what the disk can hold, and containerLogMaxWorkers above 1 on nodes
  with many chatty containers."
    }
    fn check(&self, snap: &Snapshot, out: &mut Vec<Finding>) {
        let raw = snap
            .kubelet
            .as_ref()
            .map_or("10Mi", |k| k.config.container_log_max_size.as_str());
        let Some(max) = crate::model::quantity::parse_quantity(raw) else {
            return;
        };
        let max = max as u64;
        if max == 0 {
            return;
        }
        for l in &snap.disk.pod_logs {
            let Some(w) = &l.walk else { continue };
            for f in &w.largest_files {
                // Current logs only: `<restartCount>.log`; rotated ones are `.log.<time>[.gz]`.
                let Some(rest) = f.path.strip_prefix(&format!("{}/", l.path)) else {
                    continue;
                };
                let Some((container, file)) = rest.split_once('/') else {
                    continue;
                };
                if !file.ends_with(".log") || f.bytes <= max {
                    continue;
                }
                out.push(finding(
                    self,
                    Severity::Warning,
                    format!(
                        "{}/{}/{container} log is {} (containerLogMaxSize {raw}, {:.0}x over)",
                        l.namespace,
                        l.pod,
                        units::bytes(f.bytes),
                        f.bytes as f64 / max as f64
                    ),
                    Subject::container(Some(l.namespace.clone()), Some(l.pod.clone()), Some(container.to_string())).with_path(f.path.clone()),
                    serde_json::json!({
                        "path": f.path,
                        "bytes": f.bytes,
                        "container_log_max_size": raw,
                        "container_log_max_size_bytes": max,
                    }),
                    "reduce what the container logs; check the kubelet's log rotation (containerLogMaxSize, containerLogMaxWorkers)",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testing::*;
    use crate::model::disk::PodLogDir;
    use crate::source::Walk;
    use crate::source::walk::SizedPath;

    const DIR: &str = "/var/log/pods/shop_web_u1";
    const MI10: u64 = 10 * 1024 * 1024;

    /// The pod's log directory whose largest files are `files` (path below DIR, bytes).
    fn node(files: &[(&str, u64)]) -> Snapshot {
        let mut s = snap();
        s.disk.pod_logs.push(PodLogDir {
            uid: "u1".into(),
            namespace: "shop".into(),
            pod: "web".into(),
            path: DIR.into(),
            walk: Some(Walk {
                path: DIR.into(),
                largest_files: files
                    .iter()
                    .map(|(p, b)| SizedPath {
                        path: format!("{DIR}/{p}"),
                        bytes: *b,
                    })
                    .collect(),
                complete: true,
                ..Default::default()
            }),
        });
        s
    }

    #[test]
    fn one_byte_over_the_default_10mi_fires_and_exactly_10mi_does_not() {
        // The kubelet rotates when size > containerLogMaxSize (container_log_manager.go).
        let f = one(&DiskContainerLogOversize, &node(&[("app/0.log", MI10 + 1)]));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "shop/web/app log is 10Mi (containerLogMaxSize 10Mi, 1x over)"
        );
        assert_eq!(f.subject.container.as_deref(), Some("app"));
        assert_eq!(f.evidence["container_log_max_size_bytes"], MI10);
        assert!(run(&DiskContainerLogOversize, &node(&[("app/0.log", MI10)])).is_empty());
    }

    #[test]
    fn the_kubelets_own_limit_wins_over_the_default() {
        let mut s = node(&[("app/3.log", 15 * 1024 * 1024)]);
        let mut c = kubelet_defaults();
        c.container_log_max_size = "20Mi".into();
        s.kubelet = kubelet(c);
        assert!(run(&DiskContainerLogOversize, &s).is_empty());
        if let Some(k) = s.kubelet.as_mut() {
            k.config.container_log_max_size = "5Mi".into();
        }
        assert_eq!(
            one(&DiskContainerLogOversize, &s).title,
            "shop/web/app log is 15Mi (containerLogMaxSize 5Mi, 3x over)"
        );
    }

    #[test]
    fn rotated_and_foreign_files_are_not_current_logs() {
        let big = 100 * MI10;
        let s = node(&[
            ("app/0.log.20261122-030000", big),
            ("app/0.log.20261122-020000.gz", big),
            ("stray.log", big),
        ]);
        assert!(run(&DiskContainerLogOversize, &s).is_empty());
    }

    #[test]
    fn an_unparseable_or_zero_limit_judges_nothing() {
        let mut s = node(&[("app/0.log", 100 * MI10)]);
        let mut c = kubelet_defaults();
        c.container_log_max_size = "lots".into();
        s.kubelet = kubelet(c.clone());
        assert!(run(&DiskContainerLogOversize, &s).is_empty());
        c.container_log_max_size = "0".into();
        s.kubelet = kubelet(c);
        assert!(run(&DiskContainerLogOversize, &s).is_empty());
    }
}
