//! A resolv.conf as the C library's stub resolver reads it (glibc resolv/res_init.c semantics),
//! the input of the DNS analysis: which servers are really used, which search list, and the
//! options that decide how many queries a name costs and how long a dead server takes.

use serde::{Deserialize, Serialize};

/// glibc's MAXNS: only the first three nameservers are used.
pub const MAX_NAMESERVERS: usize = 3;
/// glibc's RES_MAXNDOTS.
pub const MAX_NDOTS: u32 = 15;
/// glibc's RES_MAXRETRANS (seconds).
pub const MAX_TIMEOUT: u32 = 30;
/// glibc's RES_MAXRETRY.
pub const MAX_ATTEMPTS: u32 = 5;

/// How the resolver puts a name's A and AAAA queries on the wire (resolv.conf(5), glibc
/// res_send.c `send_dg`): both at once from one socket by default, which is what meets the
/// conntrack insert race; one after the other with `single-request`; each from its own socket
/// with `single-request-reopen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    Parallel,
    Sequential,
    Reopen,
}

impl SendMode {
    /// The mode `conf`'s options select.
    pub fn of(conf: &ResolvConf) -> Self {
        if conf.single_request {
            SendMode::Sequential
        } else if conf.single_request_reopen {
            SendMode::Reopen
        } else {
            SendMode::Parallel
        }
    }
}

/// The effective resolver configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvConf {
    /// Every `nameserver` line, in order (including those past the third, which are ignored).
    pub nameservers_listed: Vec<String>,
    /// The nameservers actually queried: the first [`MAX_NAMESERVERS`].
    pub nameservers: Vec<String>,
    /// The search list: the last `search` or `domain` line wins (trailing dots trimmed).
    pub search: Vec<String>,
    /// `options ndots:N` (default 1, capped at 15).
    pub ndots: u32,
    /// `options timeout:N` seconds (default 5, capped at 30).
    pub timeout: u32,
    /// `options attempts:N` (default 2, capped at 5).
    pub attempts: u32,
    pub rotate: bool,
    /// `single-request`: A and AAAA sent one after the other on one socket.
    pub single_request: bool,
    /// `single-request-reopen`: a new socket for the second query (the conntrack-race workaround).
    pub single_request_reopen: bool,
    /// `use-vc`: TCP for every query.
    pub use_vc: bool,
    pub edns0: bool,
    pub trust_ad: bool,
    /// Options nodescope does not model (glibc's `no-reload`, `inet6`, ... and typos), verbatim.
    pub unknown_options: Vec<String>,
}

impl Default for ResolvConf {
    fn default() -> Self {
        ResolvConf {
            nameservers_listed: Vec::new(),
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: 5,
            attempts: 2,
            rotate: false,
            single_request: false,
            single_request_reopen: false,
            use_vc: false,
            edns0: false,
            trust_ad: false,
            unknown_options: Vec::new(),
        }
    }
}
