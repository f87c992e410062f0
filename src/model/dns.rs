//! DNS as the node's pods see it: each pod's effective resolv.conf, the node's own, the
//! conntrack table the UDP queries cross, and whether NodeLocal DNSCache is in the path.

use super::resolv::ResolvConf;
use serde::{Deserialize, Serialize};

/// The message nf_conntrack logs when its table is full (net/netfilter/nf_conntrack_core.c:
/// `net_warn_ratelimited("%s table full, dropping packet\n", ...)`).
pub const TABLE_FULL: &str = "table full, dropping packet";

/// Whether a kernel-log message is a conntrack table-full drop, in each kernel's wording:
/// `ip_conntrack: table full, dropping packet.` (2.6), `nf_conntrack: table full, dropping
/// packet` (< 4.x) and `nf_conntrack: nf_conntrack: table full, dropping packet` (the table
/// name repeated since `net_warn_ratelimited` took it as an argument). The expectation table's
/// `nf_conntrack: expectation table full` is another table and is not counted.
pub fn is_table_full(message: &str) -> bool {
    message.contains(TABLE_FULL)
}

/// The DNS part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dns {
    /// The file the kubelet bases pods' DNS on (`resolvConf`, default `/etc/resolv.conf`):
    /// what `dnsPolicy: Default` pods and hostNetwork pods get.
    pub node: Option<ResolvFile>,
    pub pods: Vec<PodDns>,
    pub conntrack: Option<Conntrack>,
    /// NodeLocal DNSCache on this node, when found.
    pub nodelocal: Option<NodeLocalDns>,
    /// Live probes made by `nodescope dns probe` (never by `check`, which sends no packets).
    #[serde(default)]
    pub probes: Vec<Probe>,
}

/// A resolv.conf and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvFile {
    pub path: String,
    pub conf: ResolvConf,
}

/// One pod's resolver configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodDns {
    pub uid: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// What its containers' resolvers read: `/proc/<pid>/root/etc/resolv.conf` of a container
    /// process, else the runtime's sandbox copy.
    pub resolv: ResolvFile,
    /// A process of the pod, whose network namespace a probe enters.
    pub pid: Option<u32>,
    /// The pod shares the node's network namespace (`/proc/<pid>/ns/net` = init's).
    pub host_network: Option<bool>,
}

/// The conntrack table (`nf_conntrack`): UDP DNS queries create entries, and the A/AAAA pair
/// sent from one socket races to insert two of them (the 5-second timeout).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Conntrack {
    /// `/proc/sys/net/netfilter/nf_conntrack_count`.
    pub count: Option<u64>,
    /// `/proc/sys/net/netfilter/nf_conntrack_max`.
    pub max: Option<u64>,
    /// Sums over CPUs of `/proc/net/stat/nf_conntrack` (absent columns: `None`).
    pub insert_failed: Option<u64>,
    pub drop: Option<u64>,
    pub early_drop: Option<u64>,
    /// `clashres` (kernels ≥ 5.9): clashes the kernel resolved instead of dropping.
    pub clash_resolve: Option<u64>,
    /// Kernel-log records `nf_conntrack: table full, dropping packet` in the ring.
    pub table_full_messages: u64,
    /// The newest of them, microseconds after boot.
    pub last_table_full_usec: Option<u64>,
}

/// NodeLocal DNSCache: a link-local listener (169.254.20.10 by default) on a `nodelocaldns`
/// dummy interface, run by the `node-local-dns` DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeLocalDns {
    /// `/sys/class/net/nodelocaldns` exists.
    pub interface: bool,
    /// Its pods on this node, `namespace/name`.
    pub pods: Vec<String>,
}

/// One live probe of a pod's resolvers (`nodescope dns probe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Probe {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// The process whose network namespace the probe entered; 0 for nodescope's own (the node's).
    pub pid: u32,
    /// The name as asked.
    pub name: String,
    /// Every query sent, in order.
    pub queries: Vec<ProbeQuery>,
    /// Some answer arrived for the name (NOERROR with records for A or AAAA).
    pub resolved: bool,
    /// Total wall time in milliseconds.
    pub total_ms: f64,
}

/// One query of a probe and its fate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeQuery {
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: String,
    /// `ip:port` of the nameserver asked.
    pub server: String,
    /// The response code's mnemonic (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...); `None` on timeout
    /// or a transport error.
    pub rcode: Option<String>,
    /// Records in the answer section.
    #[serde(default)]
    pub answers: usize,
    pub ms: f64,
    pub timed_out: bool,
    /// A transport error (refused, unreachable), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
