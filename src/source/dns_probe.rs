//! The one place nodescope sends packets: DNS queries from inside a pod's network namespace,
//! the way its stub resolver sends them, each bounded by the resolver's own timeout.
//!
//! The queries are built and parsed with hickory-proto (DNS wire format). The network namespace
//! is entered with setns(2) on a dedicated thread (namespaces are per thread), so the rest of the
//! process never leaves the node's namespace; sockets made on that thread belong to the pod's.

use crate::model::dns::ProbeQuery;
use crate::model::resolv::{ResolvConf, SendMode};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends, from the network namespace of `pid` (under `root`; our own when `None`), the queries a resolver with
/// `conf` sends for `candidates` (fully qualified names, in order): A and AAAA for each as its
/// options say ([`SendMode`]), every nameserver `attempts` times with `timeout` each, until a
/// candidate answers with records.
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
    // In order: `rotate` spreads a process's successive lookups over the servers, which one
    // probe (one lookup) does not show; the header says whether it is set.
    let servers: Vec<SocketAddr> = conf
        .nameservers
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    let mode = SendMode::of(conf);
    let mut out = Vec::new();
    for name in candidates {
        let mut answered = false;
        let mut pending = vec![RecordType::A, RecordType::AAAA];
        'tries: for _ in 0..conf.attempts.max(1) {
            for server in &servers {
                let got = match mode {
                    SendMode::Parallel => pair(name, &pending, *server, per_try),
                    SendMode::Sequential | SendMode::Reopen => pending
                        .iter()
                        .map(|t| one(name, *t, *server, per_try))
                        .collect(),
                };
                for q in got {
                    answered |= q.rcode.as_deref() == Some("NOERROR") && q.answers > 0;
                    if !q.timed_out && q.error.is_none() {
                        pending.retain(|t| t.to_string() != q.qtype);
                    }
                    out.push(q);
                }
                if pending.is_empty() {
                    break 'tries;
                }
            }
        }
        if answered {
            break;
        }
    }
    out
}

/// A fresh query for `name` and its wire form.
fn query(name: &str, qtype: RecordType) -> Result<(u16, Vec<u8>), String> {
    let qname = Name::from_ascii(name).map_err(|e| e.to_string())?;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(qname, qtype));
    let id = msg.metadata.id;
    Ok((id, msg.to_vec().map_err(|e| e.to_string())?))
}

/// A UDP socket connected to `server`, from an ephemeral port.
fn socket(server: SocketAddr) -> Result<UdpSocket, String> {
    let bind = if server.is_ipv4() {
        SocketAddr::new(IpAddr::from([0u8; 4]), 0)
    } else {
        SocketAddr::new(IpAddr::from([0u16; 8]), 0)
    };
    let sock = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    sock.connect(server).map_err(|e| e.to_string())?;
    Ok(sock)
}

fn blank(name: &str, qtype: RecordType, server: SocketAddr) -> ProbeQuery {
    ProbeQuery {
        name: name.to_string(),
        qtype: qtype.to_string(),
        server: server.to_string(),
        rcode: None,
        answers: 0,
        ms: 0.0,
        timed_out: false,
        error: None,
    }
}

/// Milliseconds since `t`, to 0.1 ms.
fn ms_since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// The queries of `types` for `name` sent back to back from one socket, as glibc sends A and
/// AAAA, then every reply read from it (matched by id) until all came or `timeout` passed.
/// Each query's time runs from the send to its own reply.
fn pair(
    name: &str,
    types: &[RecordType],
    server: SocketAddr,
    timeout: Duration,
) -> Vec<ProbeQuery> {
    let mut qs: Vec<ProbeQuery> = types.iter().map(|t| blank(name, *t, server)).collect();
    let started = Instant::now();
    let sent = (|| -> Result<(UdpSocket, Vec<u16>), String> {
        let sock = socket(server)?;
        let mut ids = Vec::new();
        for t in types {
            let (id, wire) = query(name, *t)?;
            sock.send(&wire).map_err(|e| e.to_string())?;
            ids.push(id);
        }
        Ok((sock, ids))
    })();
    let (sock, ids) = match sent {
        Ok(v) => v,
        Err(e) => {
            for q in &mut qs {
                q.error = Some(e.clone());
                q.ms = ms_since(started);
            }
            return qs;
        }
    };
    let mut done = vec![false; ids.len()];
    let mut buf = [0u8; 4096];
    while done.iter().any(|d| !d) {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let Ok(m) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                if let Some(i) = ids.iter().position(|id| *id == m.metadata.id)
                    && !done[i]
                {
                    done[i] = true;
                    qs[i].rcode = Some(rcode_mnemonic(u16::from(m.metadata.response_code)));
                    qs[i].answers = m.answers.len();
                    qs[i].ms = ms_since(started);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break;
            }
            Err(e) => {
                for (i, q) in qs.iter_mut().enumerate() {
                    if !done[i] {
                        q.error = Some(e.to_string());
                        q.ms = ms_since(started);
                        done[i] = true;
                    }
                }
            }
        }
    }
    for (i, q) in qs.iter_mut().enumerate() {
        if !done[i] {
            q.timed_out = true;
            q.ms = ms_since(started);
        }
    }
    qs
}

/// One query to one server over a fresh UDP socket; waits at most `timeout` for the reply
/// whose id matches.
fn one(name: &str, qtype: RecordType, server: SocketAddr, timeout: Duration) -> ProbeQuery {
    let started = Instant::now();
    let mut q = blank(name, qtype, server);
    let result = (|| -> Result<Option<Message>, String> {
        let (id, wire) = query(name, qtype)?;
        let sock = socket(server)?;
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
    q.ms = ms_since(started);
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
