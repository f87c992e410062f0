//! The connection table of `serve`: at most [`MAX_CONNECTIONS`] at once, and a new connection
//! at the cap sheds the one that has been quiet the longest (connected, or sent its last
//! request head, earliest).
//!
//! Why shed rather than wait or refuse: any pod on the node can open connections to the
//! DaemonSet's port. Refusing at the cap lets 64 slow clients lock Prometheus out; queueing
//! lets them delay it. A scraper sends its request the moment it connects and is answered from
//! memory in microseconds, so it is never the quietest; a client that connects and dawdles is,
//! and goes first. Each connection is also bounded on its own (header read timeout, lifetime,
//! in `http`), so the table only decides who goes first under a flood.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::task::AbortHandle;

/// At most this many connections are served at once.
pub(super) const MAX_CONNECTIONS: usize = 64;

/// When a connection last did something that counts: connected, or sent a request head.
pub(super) struct Activity(Mutex<Instant>);

impl Activity {
    /// Records activity at `now`.
    pub(super) fn touch(&self, now: Instant) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    fn last(&self) -> Instant {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Entry {
    activity: Arc<Activity>,
    /// Cancels the connection's task; `None` for the instant between admission and spawn.
    abort: Option<AbortHandle>,
}

/// The live connections, by admission order.
pub(super) struct Table {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    live: BTreeMap<u64, Entry>,
}

/// A connection's place in the table; leaving it (drop) frees the place.
pub(super) struct Slot {
    id: u64,
    table: Arc<Table>,
    activity: Arc<Activity>,
}

impl Slot {
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    pub(super) fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.activity)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.lock().live.remove(&self.id);
    }
}

impl Table {
    pub(super) fn new(max: usize) -> Self {
        Table {
            max,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection made at `now`, shedding the quietest one when the table is full.
    /// `None` (close the new connection) only when no connection can be shed.
    pub(super) fn admit(self: &Arc<Self>, now: Instant) -> Option<Slot> {
        let mut inner = self.lock();
        let mut shed = None;
        if inner.live.len() >= self.max {
            let victim = quietest(
                inner
                    .live
                    .iter()
                    .filter(|(_, e)| e.abort.is_some())
                    .map(|(id, e)| (*id, e.activity.last())),
            )?;
            shed = inner.live.remove(&victim).and_then(|e| e.abort);
        }
        let id = inner.next;
        inner.next += 1;
        let activity = Arc::new(Activity(Mutex::new(now)));
        inner.live.insert(
            id,
            Entry {
                activity: Arc::clone(&activity),
                abort: None,
            },
        );
        drop(inner);
        // Outside the lock: a cancelled task drops its `Slot`, which takes the lock.
        if let Some(abort) = shed {
            abort.abort();
        }
        Some(Slot {
            id,
            table: Arc::clone(self),
            activity,
        })
    }

    /// Records how to cancel connection `id`, once its task is spawned.
    pub(super) fn started(&self, id: u64, abort: AbortHandle) {
        if let Some(e) = self.lock().live.get_mut(&id) {
            e.abort = Some(abort);
        }
    }

    /// How many connections are open.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().live.len()
    }
}

/// The connection whose last activity is the earliest (the first admitted on a tie).
fn quietest(entries: impl Iterator<Item = (u64, Instant)>) -> Option<u64> {
    entries
        .min_by_key(|&(id, last)| (last, id))
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_quietest_is_the_earliest_activity_then_the_first_admitted() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        assert_eq!(
            quietest([(1, t + s), (2, t), (3, t + s)].into_iter()),
            Some(2)
        );
        assert_eq!(quietest([(4, t), (2, t)].into_iter()), Some(2));
        assert_eq!(quietest(std::iter::empty()), None);
    }

    #[tokio::test]
    async fn a_full_table_sheds_the_quietest_connection_and_frees_places_on_drop() {
        let table = Arc::new(Table::new(2));
        let t = Instant::now();
        let never = || tokio::spawn(std::future::pending::<()>());
        let a = table.admit(t).unwrap();
        let task_a = never();
        table.started(a.id(), task_a.abort_handle());
        let b = table.admit(t).unwrap();
        let task_b = never();
        table.started(b.id(), task_b.abort_handle());
        // `a` sends a request later than `b` connected: `b` is now the quietest.
        a.activity().touch(t + Duration::from_secs(1));
        let c = table.admit(t + Duration::from_secs(2)).unwrap();
        assert_eq!(table.len(), 2);
        assert!(task_b.await.unwrap_err().is_cancelled(), "b was shed");
        assert!(!task_a.is_finished(), "a keeps its place");
        drop(c);
        drop(b); // already shed: dropping its slot again changes nothing
        assert_eq!(table.len(), 1);
        drop(a);
        assert_eq!(table.len(), 0);
        task_a.abort();
    }

    #[test]
    fn a_full_table_with_nothing_to_cancel_refuses_the_newcomer() {
        let table = Arc::new(Table::new(1));
        let _only = table.admit(Instant::now()).unwrap();
        assert!(table.admit(Instant::now()).is_none());
    }
}
