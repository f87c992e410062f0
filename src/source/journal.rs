//! The systemd journal, read as data files by a pure-Rust reader (sdjournal): no journalctl
//! and no libsystemd, so it works from a scratch image under `/host`. Only entries matching a
//! [`JournalQuery`] come back, which is also all a bundle keeps (not whole journal files).

use super::open::{How, RootFs, fd_path};
use super::{ErrorKind, HostError, HostResult};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Where journald keeps its files: persistent, then volatile.
pub const JOURNAL_DIRS: &[&str] = &["/var/log/journal", "/run/log/journal"];

/// The path errors of the journal name (live and replayed alike).
pub fn journal_path() -> String {
    JOURNAL_DIRS.join(", ")
}

/// How long one journal query may run (a huge journal on a slow disk must not stall a report).
const JOURNAL_BUDGET: Duration = Duration::from_secs(4);

/// Which journal entries to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalQuery {
    /// The systemd unit (`kubelet.service`), matched as journalctl `-u` does; empty = any.
    pub unit: String,
    /// Oldest entry time, microseconds since the Unix epoch.
    pub since_usec: u64,
    /// Keep an entry only if its message contains one of these (all entries when empty).
    pub contains: Vec<String>,
    /// Keep at most this many entries, the newest.
    pub limit: usize,
}

impl JournalQuery {
    /// Whether an entry passes the query (the live reader, bundles and tests share this).
    pub fn keeps(&self, e: &JournalEntry) -> bool {
        e.realtime_usec >= self.since_usec
            && (self.unit.is_empty() || e.unit.is_empty() || e.unit == self.unit)
            && (self.contains.is_empty()
                || self.contains.iter().any(|c| e.message.contains(c.as_str())))
    }

    /// Applies the query to entries from any source, newest `limit` kept, oldest first.
    pub fn apply(&self, entries: impl IntoIterator<Item = JournalEntry>) -> Vec<JournalEntry> {
        let mut v: Vec<JournalEntry> = entries.into_iter().filter(|e| self.keeps(e)).collect();
        v.sort_by_key(|e| e.realtime_usec);
        if v.len() > self.limit {
            v.drain(..v.len() - self.limit);
        }
        v
    }
}

/// One journal entry, reduced to what nodescope reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// `__REALTIME_TIMESTAMP`: microseconds since the Unix epoch.
    pub realtime_usec: u64,
    /// `_SYSTEMD_UNIT` (empty when absent).
    pub unit: String,
    /// `MESSAGE`.
    pub message: String,
}

/// How long one journal query may run before it is abandoned as stuck in the kernel (a
/// journal on a filesystem that stopped answering): its own budget and a second of grace.
pub const JOURNAL_DEADLINE: Duration = Duration::from_secs(5);

/// Reads matching entries from the journal directories of a live root. Each directory is
/// resolved inside the root first ([`RootFs`]: a `/var/log/journal` link to an absolute path
/// stays in the root) and handed to the reader as `/proc/self/fd/<n>/.`; the reader lists it,
/// skips links and anything not a regular file, and opens the `*.journal` files it found.
pub fn read_live(fs: &RootFs, q: &JournalQuery) -> HostResult<Vec<JournalEntry>> {
    let held: Vec<std::os::fd::OwnedFd> = JOURNAL_DIRS
        .iter()
        .filter_map(|d| fs.open(d, How::Dir).ok())
        .collect();
    let dirs: Vec<std::path::PathBuf> = held.iter().map(fd_path).collect();
    read_dirs(&dirs, q)
}

/// Reads matching entries from journal directories (real paths).
pub fn read_dirs(dirs: &[std::path::PathBuf], q: &JournalQuery) -> HostResult<Vec<JournalEntry>> {
    if dirs.is_empty() {
        return Err(HostError::new(
            ErrorKind::Missing,
            JOURNAL_DIRS[0],
            "no journal directory (not a systemd host?)",
        ));
    }
    let where_ = journal_path();
    let map_err = |e: sdjournal::SdJournalError| {
        let kind = match &e {
            sdjournal::SdJournalError::PermissionDenied { .. } => ErrorKind::Denied,
            sdjournal::SdJournalError::Corrupt { .. } => ErrorKind::Invalid,
            // An empty journal directory (journald not running, or logging to /run only).
            sdjournal::SdJournalError::NotFound => ErrorKind::Missing,
            _ => ErrorKind::Io,
        };
        HostError::new(kind, &where_, e.to_string())
    };
    let journal = sdjournal::Journal::open_dirs(dirs).map_err(map_err)?;
    let mut query = journal.query();
    query.match_unit(&q.unit);
    query.since_realtime(q.since_usec);
    let started = Instant::now();
    let mut out = Vec::new();
    for (i, item) in query.iter().map_err(map_err)?.enumerate() {
        // A corrupt entry is skipped, not fatal: journald files are often cut short by crashes.
        let Ok(entry) = item else { continue };
        let msg = entry
            .get("MESSAGE")
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .unwrap_or_default();
        // The unit the query named when any of the fields journalctl -u matches names it
        // (systemd logs `Scheduled restart job` about kubelet.service from init.scope, with
        // UNIT=kubelet.service), so a bundle's replay of the same query keeps the entry.
        let field = |f: &str| {
            entry
                .get(f)
                .map(|u| String::from_utf8_lossy(u).into_owned())
        };
        let unit = ["_SYSTEMD_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT"]
            .iter()
            .filter_map(|f| field(f))
            .find(|u| *u == q.unit)
            .or_else(|| field("_SYSTEMD_UNIT"))
            .unwrap_or_default();
        let e = JournalEntry {
            realtime_usec: entry.realtime_usec(),
            unit,
            message: msg,
        };
        if q.keeps(&JournalEntry {
            unit: String::new(),
            ..e.clone()
        }) {
            out.push(e);
        }
        if i % 1024 == 0 && started.elapsed() > JOURNAL_BUDGET {
            return Err(HostError::new(
                ErrorKind::Timeout,
                &where_,
                format!(
                    "journal read stopped after {} ms with {} matching entries",
                    JOURNAL_BUDGET.as_millis(),
                    out.len()
                ),
            ));
        }
    }
    // sdjournal matched the unit over _SYSTEMD_UNIT, UNIT and OBJECT_SYSTEMD_UNIT; keep them all.
    let unit_agnostic = JournalQuery {
        unit: String::new(),
        ..q.clone()
    };
    Ok(unit_agnostic.apply(out.into_iter().map(|mut e| {
        if e.unit.is_empty() {
            e.unit = q.unit.clone();
        }
        e
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t: u64, unit: &str, m: &str) -> JournalEntry {
        JournalEntry {
            realtime_usec: t,
            unit: unit.into(),
            message: m.into(),
        }
    }

    #[test]
    fn query_filters_by_time_unit_text_and_keeps_the_newest() {
        let q = JournalQuery {
            unit: "kubelet.service".into(),
            since_usec: 10,
            contains: vec!["eviction".into()],
            limit: 2,
        };
        let got = q.apply(vec![
            e(5, "kubelet.service", "eviction manager: old"),
            e(30, "kubelet.service", "eviction manager: c"),
            e(20, "kubelet.service", "eviction manager: b"),
            e(15, "kubelet.service", "eviction manager: a"),
            e(25, "containerd.service", "eviction manager: other unit"),
            e(26, "kubelet.service", "unrelated"),
        ]);
        let msgs: Vec<&str> = got.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(msgs, ["eviction manager: b", "eviction manager: c"]);
        let any_unit = JournalQuery {
            unit: String::new(),
            limit: 10,
            ..q
        };
        assert_eq!(
            any_unit
                .apply(vec![e(25, "containerd.service", "eviction manager: x")])
                .len(),
            1
        );
    }

    #[test]
    fn a_root_without_journal_directories_is_missing() {
        let d = tempfile::tempdir().unwrap();
        let q = JournalQuery {
            unit: "kubelet.service".into(),
            since_usec: 0,
            contains: vec![],
            limit: 10,
        };
        let fs = RootFs::new(d.path()).unwrap();
        assert_eq!(read_live(&fs, &q).unwrap_err().kind, ErrorKind::Missing);
    }
}
