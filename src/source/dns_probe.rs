//! The one place nodescope sends packets: DNS queries from inside a pod's network namespace,
//! the way its stub resolver sends them, each bounded by the resolver's own timeout.
//!
//! The queries are built and parsed with hickory-proto (DNS wire format). The network namespace
//! is entered with setns(2) on a dedicated thread (namespaces are per thread), so the rest of the
//! process never leaves the node's namespace; sockets made on that thread belong to the pod's.

use crate::model::dns::ProbeQuery;
use crate::model::resolv::ResolvConf;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends, from the network namespace of `pid` (under `root`; our own when `None`), the queries a resolver with
/// `conf` sends for `candidates` (fully qualified names, in order), A then AAAA for each, every
/// nameserver `attempts` times with `timeout` each, until a candidate answers with records.
/// `timeout` overrides the resolver's own when given (a probe need not wait 5 s per query).
pub fn probe(
    root: &Path,
    pid: Option<u32>,
    conf: &ResolvConf,
    candidates: &[String],
    timeout: Option<Duration>,
) -> anyhow::Result<Vec<ProbeQuery>> {
    let ns_path = pid.map(|pid| root.join(format!("proc/{pid}/ns/net")));
    let enter = match &ns_path {
        None => false,
        Some(p) => {
            let own = std::fs::read_link("/proc/thread-self/ns/net").ok();
            let target = std::fs::read_link(p)
                .map_err(|e| anyhow::anyhow!("{}: {e} (is the process running?)", p.display()))?;
            own.as_ref() != Some(&target)
        }
    };
    let conf = conf.clone();
    let candidates = candidates.to_vec();
    let per_try = timeout.unwrap_or(Duration::from_secs(u64::from(conf.timeout.max(1))));
    std::thread::Builder::new()
        .name("nodescope-dns-probe".into())
        .spawn(move || -> anyhow::Result<Vec<ProbeQuery>> {
            if let (true, Some(ns_path)) = (enter, &ns_path) {
                let f = std::fs::File::open(ns_path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", ns_path.display()))?;
                nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                    anyhow::anyhow!(
                        "entering the network namespace {}: {e} (needs root / CAP_SYS_ADMIN)",
                        ns_path.display()
                    )
                })?;
            }
            Ok(run(&conf, &candidates, per_try))
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the probe thread panicked"))?
}

fn run(conf: &ResolvConf, candidates: &[String], per_try: Duration) -> Vec<ProbeQuery> {
    let servers: Vec<SocketAddr> = conf
        .nameservers
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    let mut out = Vec::new();
    for name in candidates {
        let mut answered = false;
        for qtype in [RecordType::A, RecordType::AAAA] {
            'tries: for _ in 0..conf.attempts.max(1) {
                for server in &servers {
                    let q = one(name, qtype, *server, per_try);
                    let settled = !q.timed_out && q.error.is_none();
                    answered |= q.rcode.as_deref() == Some("NOERROR") && q.answers > 0;
                    out.push(q);
                    if settled {
                        break 'tries;
                    }
                }
            }
        }
        if answered {
            break;
        }
    }
    out
}

/// One query to one server over a fresh UDP socket; waits at most `timeout` for the reply
/// whose id matches.
fn one(name: &str, qtype: RecordType, server: SocketAddr, timeout: Duration) -> ProbeQuery {
    let started = Instant::now();
    let mut q = ProbeQuery {
        name: name.to_string(),
        qtype: qtype.to_string(),
        server: server.to_string(),
        rcode: None,
        answers: 0,
        ms: 0.0,
        timed_out: false,
        error: None,
    };
    let result = (|| -> Result<Option<Message>, String> {
        let qname = Name::from_ascii(name).map_err(|e| e.to_string())?;
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(qname, qtype));
        let id = msg.metadata.id;
        let wire = msg.to_vec().map_err(|e| e.to_string())?;
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0"
                .parse()
                .map_err(|e: std::net::AddrParseError| e.to_string())?
        } else {
            "[::]:0"
                .parse()
                .map_err(|e: std::net::AddrParseError| e.to_string())?
        };
        let sock = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
        sock.connect(server).map_err(|e| e.to_string())?;
        sock.send(&wire).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4096];
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            sock.set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    // Not ours (a late reply to an earlier query): keep waiting.
                    if let Ok(m) = Message::from_vec(&buf[..n])
                        && m.metadata.id == id
                    {
                        return Ok(Some(m));
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    })();
    q.ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    match result {
        Ok(Some(m)) => {
            q.rcode = Some(rcode_mnemonic(u16::from(m.metadata.response_code)));
            q.answers = m.answers.len();
        }
        Ok(None) => q.timed_out = true,
        Err(e) => q.error = Some(e),
    }
    q
}

/// The IANA mnemonic of a DNS RCODE (RFC 1035 §4.1.1, RFC 2136, RFC 6891).
pub fn rcode_mnemonic(code: u16) -> String {
    match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        other => return format!("RCODE{other}"),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_read_as_their_mnemonics() {
        assert_eq!(rcode_mnemonic(0), "NOERROR");
        assert_eq!(rcode_mnemonic(3), "NXDOMAIN");
        assert_eq!(rcode_mnemonic(2), "SERVFAIL");
        assert_eq!(rcode_mnemonic(23), "RCODE23");
    }
}
