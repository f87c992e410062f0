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
