//! Each pod's resolv.conf, the node's, and the conntrack counters DNS depends on.
//!
//! A pod's resolvers read `/etc/resolv.conf` in its containers: containerd bind-mounts
//! `<root>/io.containerd.grpc.v1.cri/sandboxes/<sandbox id>/resolv.conf`, CRI-O
//! `/run/containers/storage/overlay-containers/<sandbox id>/userdata/resolv.conf`
//! (kubernetes/kubernetes `pkg/kubelet/network/dns/dns.go`). nodescope reads the file through a container process's root
//! (`/proc/<pid>/root/etc/resolv.conf`, exactly what its resolver reads), else the sandbox copy.

use super::Errors;
use super::resolv::parse_resolv_conf;
use crate::model::disk::RuntimeStorage;
use crate::model::dns::{Conntrack, Dns, NodeLocalDns, PodDns, ResolvFile};
use crate::model::{KmsgRecord, KubeletInfo, Pod, Process};
use crate::source::{ErrorKind, Host, join};

const C: &str = "dns";
pub use crate::model::dns::{TABLE_FULL, is_table_full};

pub(super) struct Inputs<'a> {
    pub pods: &'a [Pod],
    pub processes: &'a [Process],
    pub kubelet: Option<&'a KubeletInfo>,
    pub runtime: Option<&'a RuntimeStorage>,
    pub kernel_log: &'a [KmsgRecord],
}

pub(super) fn collect(host: &dyn Host, inp: &Inputs<'_>, errs: &mut Errors) -> Dns {
    let node = node_resolv(host, inp.kubelet, errs);
    let init_net = host.read_link("/proc/1/ns/net").ok();
    let mut pods = Vec::new();
    for pod in inp.pods.iter().filter(|p| p.cgroup.is_some()) {
        let ids: Vec<&str> = pod.containers.iter().map(|c| c.id.as_str()).collect();
        // A workload container's process first (its resolver is what matters), then any.
        let mut procs: Vec<&Process> = inp
            .processes
            .iter()
            .filter(|p| {
                p.container_id
                    .as_deref()
                    .is_some_and(|id| ids.contains(&id))
            })
            .collect();
        procs.sort_by_key(|p| {
            let sandbox = pod
                .containers
                .iter()
                .any(|c| c.sandbox && Some(&c.id) == p.container_id.as_ref());
            (sandbox, p.pid)
        });
        let mut resolv = None;
        for p in &procs {
            let path = format!("/proc/{}/root/etc/resolv.conf", p.pid);
            match host.read_string(&path) {
                Ok(text) => {
                    resolv = Some((
                        ResolvFile {
                            path,
                            conf: parse_resolv_conf(&text),
                        },
                        Some(p.pid),
                    ));
                    break;
                }
                // Refused (a FIFO, a device, too large) or stuck: say so. A process gone or
                // unreadable without root falls back to the sandbox copy, silently as before.
                Err(e) if !matches!(e.kind, ErrorKind::Missing | ErrorKind::Denied) => {
                    errs.host(C, &e);
                }
                Err(_) => {}
            }
        }
        if resolv.is_none() {
            for c in pod.containers.iter().filter(|c| c.sandbox) {
                for path in sandbox_paths(inp.runtime, &c.id) {
                    if let Ok(text) = host.read_string(&path) {
                        resolv = Some((
                            ResolvFile {
                                path,
                                conf: parse_resolv_conf(&text),
                            },
                            procs.first().map(|p| p.pid),
                        ));
                        break;
                    }
                }
            }
        }
        let Some((resolv, pid)) = resolv else {
            continue;
        };
        let host_network = match (pid, &init_net) {
            (Some(pid), Some(init)) => host
                .read_link(&format!("/proc/{pid}/ns/net"))
                .ok()
                .map(|n| &n == init),
            _ => None,
        };
        pods.push(PodDns {
            uid: pod.uid.clone(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            resolv,
            pid,
            host_network,
        });
    }
    pods.sort_by(|a, b| (&a.namespace, &a.name, &a.uid).cmp(&(&b.namespace, &b.name, &b.uid)));
    let nodelocal_pods: Vec<String> = inp
        .pods
        .iter()
        .filter(|p| {
            p.cgroup.is_some()
                && p.name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("node-local-dns"))
        })
        .map(|p| p.label())
        .collect();
    let interface = host.exists("/sys/class/net/nodelocaldns");
    Dns {
        node,
        pods,
        conntrack: conntrack(host, inp.kernel_log, errs),
        nodelocal: (interface || !nodelocal_pods.is_empty()).then_some(NodeLocalDns {
            interface,
            pods: nodelocal_pods,
        }),
        probes: Vec::new(),
    }
}

/// The resolv.conf the kubelet gives `Default`-policy pods and builds `ClusterFirst` pods'
/// search lists from: its `resolvConf` (`--resolv-conf`), read only once root alone can write
/// it (collect::trust); `/etc/resolv.conf` when it names none; nothing when it names `""`.
fn node_resolv(
    host: &dyn Host,
    kubelet: Option<&KubeletInfo>,
    errs: &mut Errors,
) -> Option<ResolvFile> {
    let Some(k) = kubelet.filter(|k| k.config.sources.contains_key("resolvConf")) else {
        return read_resolv(host, "/etc/resolv.conf", "/etc/resolv.conf", errs);
    };
    let named = &k.config.resolv_conf;
    if named.is_empty() {
        return None;
    }
    let n = super::trust::Named {
        path: named,
        by: "the kubelet's resolvConf (--resolv-conf)",
        want: crate::source::vet::Want::File,
        report_missing: false,
    };
    let real = super::trust::vetted(host, &n, C, errs)?;
    read_resolv(host, &real, named, errs)
}

/// Reads and parses the resolv.conf at `real`, reported under the path it was `named` by.
fn read_resolv(host: &dyn Host, real: &str, named: &str, errs: &mut Errors) -> Option<ResolvFile> {
    match host.read_string(real) {
        Ok(text) => Some(ResolvFile {
            path: named.to_string(),
            conf: parse_resolv_conf(&text),
        }),
        Err(e) => {
            errs.unless_missing(C, &e);
            None
        }
    }
}

/// Where the runtime keeps a sandbox's resolv.conf.
fn sandbox_paths(rt: Option<&RuntimeStorage>, id: &str) -> Vec<String> {
    let containerd_root = rt
        .filter(|r| r.name == "containerd")
        .map_or("/var/lib/containerd", |r| r.root.as_str());
    vec![
        join(
            containerd_root,
            &format!("io.containerd.grpc.v1.cri/sandboxes/{id}/resolv.conf"),
        ),
        format!("/run/containers/storage/overlay-containers/{id}/userdata/resolv.conf"),
    ]
}

/// Where the per-CPU conntrack statistics are read, in order: init's network namespace
/// (`/proc/1/net/...`: the node's, also from inside a hostPID debug pod), then the reader's
/// own `/proc/net/...`, which is where bundles made by other tools (sosreport, a plain copy of
/// /proc) keep them.
const CONNTRACK_STAT: [&str; 2] = [
    "/proc/1/net/stat/nf_conntrack",
    "/proc/net/stat/nf_conntrack",
];

/// The conntrack table's size and per-CPU statistics.
fn conntrack(host: &dyn Host, kernel_log: &[KmsgRecord], errs: &mut Errors) -> Option<Conntrack> {
    let num = |p: &str| -> Option<u64> { host.read_string(p).ok()?.trim().parse().ok() };
    let count = num("/proc/sys/net/netfilter/nf_conntrack_count");
    let max = num("/proc/sys/net/netfilter/nf_conntrack_max");
    let mut stat = None;
    for path in CONNTRACK_STAT {
        match host.read_string(path) {
            Ok(t) => {
                stat = Some(t);
                break;
            }
            Err(e) if e.kind == ErrorKind::Missing => {}
            Err(e) => {
                errs.host(C, &e);
                break;
            }
        }
    }
    let sums = stat
        .as_deref()
        .map(parse_conntrack_stat)
        .unwrap_or_default();
    let get = |k: &str| sums.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let full: Vec<&KmsgRecord> = kernel_log
        .iter()
        .filter(|r| is_table_full(&r.message))
        .collect();
    if count.is_none() && max.is_none() && stat.is_none() && full.is_empty() {
        return None; // nf_conntrack not loaded
    }
    Some(Conntrack {
        count,
        max,
        insert_failed: get("insert_failed"),
        drop: get("drop"),
        early_drop: get("early_drop"),
        clash_resolve: get("clashres"),
        table_full_messages: full.len() as u64,
        last_table_full_usec: full.last().map(|r| r.usec),
    })
}

/// Sums each column of `/proc/net/stat/nf_conntrack` over its per-CPU rows. The header names
/// the columns and differs across kernels (`searched`/`chainlength`, `clashres` since 5.9), so
/// columns are found by name; values are hex. `entries` is global, repeated on every row: it is
/// taken once, not summed.
pub fn parse_conntrack_stat(text: &str) -> Vec<(String, u64)> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<&str> = header.split_whitespace().collect();
    let mut sums = vec![0u64; names.len()];
    let mut rows = 0;
    for line in lines {
        let vals: Vec<u64> = line
            .split_whitespace()
            .filter_map(|v| u64::from_str_radix(v, 16).ok())
            .collect();
        if vals.len() != names.len() {
            continue;
        }
        rows += 1;
        for (i, v) in vals.iter().enumerate() {
            if names[i] == "entries" {
                sums[i] = *v;
            } else {
                sums[i] = sums[i].saturating_add(*v);
            }
        }
    }
    if rows == 0 {
        return Vec::new();
    }
    names.into_iter().map(String::from).zip(sums).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_stat_sums_hex_columns_by_name_across_cpus() {
        // Header of 6.1 (net/netfilter/nf_conntrack_standalone.c ct_cpu_seq_show).
        let text = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
0000002a  00000003 00000000 00000000 00000010 00000000 00000000 00000000 00000000 0000001f 00000002 00000000 00000000  00000000 00000000 00000000 00000000\n\
0000002a  00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let s = parse_conntrack_stat(text);
        let get = |k: &str| s.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(get("entries"), Some(42), "global, not summed");
        assert_eq!(get("insert_failed"), Some(32));
        assert_eq!(get("drop"), Some(2));
        assert_eq!(get("clashres"), Some(4));
        assert_eq!(get("invalid"), Some(16));
    }

    #[test]
    fn an_old_header_without_clashres_and_garbage_rows() {
        // 4.19: `searched` instead of `chainlength`, no `clashres`.
        let text = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000005  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000007 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n\
not a row\n";
        let s = parse_conntrack_stat(text);
        assert!(!s.iter().any(|(n, _)| n == "clashres"));
        assert_eq!(
            s.iter().find(|(n, _)| n == "insert_failed").map(|x| x.1),
            Some(7)
        );
        assert!(parse_conntrack_stat("").is_empty());
    }
}
