//! The ledger: what has been taken per container so far (checkpoint, line
//! counts, names), as of the records handed to the index, committed or about
//! to be. The indexer writes it; the sources read where to resume; the API
//! reads it for `/api/containers` and `/metrics`. It sits between the stages
//! so that neither end of the pipeline depends on the other.
//!
//! It is also where a container's end is settled, so that a host with
//! container churn (CI runners, cron jobs) does not carry every container
//! it ever ran in every commit's payload:
//!
//! - The source marks a container removed only when Docker says it is gone
//!   for certain (a `destroy` event, or absent from a complete list of all
//!   containers); never because a call failed. Its checkpoint goes then: a
//!   removed container's log can never be read again, while dropping the
//!   checkpoint of one that still exists would read its log again.
//! - The indexer prunes a removed container's entry once none of its
//!   records is left in the index (retention deleted them) and every one of
//!   them was searchable when that was checked ([`prunable`]); until then
//!   `/api/containers` lists it, since its lines can still be searched.
//!
//! Lines of a removed container may still be queued between its reader and
//! the index when it goes; the IDs of containers removed or pruned lately
//! are remembered ([`GONE_REMEMBERED`]) so that such a line does not bring a
//! checkpoint back.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::checkpoint::ContainerState;
use crate::record::Record;

/// IDs of removed containers remembered without an entry (removed before a
/// line of theirs reached the index, or pruned), for the lines still queued.
pub const GONE_REMEMBERED: usize = 4096;

/// What the index holds per container, as of the records added so far
/// (committed or about to be): shared by the writer thread, the sources
/// (where to resume) and `/api/containers`.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
    /// Set when containers were marked removed since the indexer last
    /// looked: the payload changed without a record.
    marked: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    containers: BTreeMap<String, ContainerState>,
    gone: Gone,
}

/// A bounded set of IDs, the oldest forgotten first.
#[derive(Debug, Default)]
struct Gone {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Gone {
    fn insert(&mut self, id: &str) {
        if !self.ids.insert(id.to_owned()) {
            return;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > GONE_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
    }
}

/// Whether a container's entry may leave the payload: it is removed from
/// Docker, every record of it this process added is searchable
/// (`searchable_seq`: the seq after the newest record the index's readers
/// see), and none of them is left in the index — all are older than the
/// oldest live record (`oldest_live`; `None` when the index holds none).
/// Retention deletes oldest first by time, so a container whose newest
/// record is older than every live record has none left.
pub fn prunable(state: &ContainerState, searchable_seq: u64, oldest_live: Option<i64>) -> bool {
    state.removed
        && state.seq_end <= searchable_seq
        && oldest_live.is_none_or(|oldest| state.lines == 0 || state.last_ts < oldest)
}

impl Ledger {
    pub fn new(containers: BTreeMap<String, ContainerState>) -> Ledger {
        Ledger {
            inner: Mutex::new(Inner {
                containers,
                gone: Gone::default(),
            }),
            marked: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map half-updated
        // in a way that matters more than losing the collector: keep going.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn snapshot(&self) -> BTreeMap<String, ContainerState> {
        self.lock().containers.clone()
    }

    pub fn get(&self, container_id: &str) -> Option<ContainerState> {
        self.lock().containers.get(container_id).cloned()
    }

    /// The IDs of the containers of Docker host `host` with an entry (and of
    /// those from before entries named their host): a list of that host's
    /// containers says which of these are gone, and of no others (a data
    /// dir may have followed another engine before).
    pub fn ids_on(&self, host: &str) -> Vec<String> {
        self.lock()
            .containers
            .iter()
            .filter(|(_, state)| state.host.is_empty() || state.host == host)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Accounts for records handed to the index (their seq numbers set),
    /// ingested at `now_ns`.
    pub fn take<'a>(&self, records: impl IntoIterator<Item = &'a Record>, now_ns: i64) {
        let mut inner = self.lock();
        let Inner { containers, gone } = &mut *inner;
        for record in records {
            let id = &record.container.id;
            let state = match containers.get_mut(id) {
                Some(state) => state,
                None => {
                    let state = containers.entry(id.clone()).or_default();
                    if gone.ids.contains(id) {
                        state.remove();
                    }
                    state
                }
            };
            state.take(record.ts_ns, &record.container, &record.position);
            state.lag_ns = now_ns.saturating_sub(record.ts_ns);
            state.seq_end = state.seq_end.max(record.seq + 1);
        }
    }

    /// Marks containers removed from Docker (see the module doc): their
    /// checkpoints go at the next commit.
    pub fn mark_removed<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.lock();
        let mut changed = false;
        for id in ids {
            match inner.containers.get_mut(id) {
                Some(state) if !state.removed => {
                    state.remove();
                    changed = true;
                }
                Some(_) => {}
                None => inner.gone.insert(id),
            }
        }
        if changed {
            self.marked.store(true, Ordering::Release);
        }
    }

    /// Whether containers were marked removed since the last call.
    pub fn take_marked(&self) -> bool {
        self.marked.swap(false, Ordering::AcqRel)
    }

    /// Whether any entry is of a removed container (one to prune, sooner
    /// or later).
    pub fn any_removed(&self) -> bool {
        self.lock().containers.values().any(|s| s.removed)
    }

    /// Drops the entries [`prunable`] allows and returns their IDs.
    pub fn prune(&self, searchable_seq: u64, oldest_live: Option<i64>) -> Vec<String> {
        let mut inner = self.lock();
        let pruned: Vec<String> = inner
            .containers
            .iter()
            .filter(|(_, state)| prunable(state, searchable_seq, oldest_live))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &pruned {
            inner.containers.remove(id);
            inner.gone.insert(id);
        }
        pruned
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::{Checkpoint, Position};
    use crate::index::testing::record;

    impl Ledger {
        fn update_for_test(&self, id: &str, f: impl FnOnce(&mut ContainerState)) {
            f(self.lock().containers.entry(id.to_owned()).or_default());
        }
    }

    fn taken(ledger: &Ledger, seq: u64, ts_ns: i64, container: &str) {
        let mut r = record(seq, ts_ns, container, "x");
        r.position = Position::both(Checkpoint { ts_ns, at_ts: 1 });
        ledger.take([&r], ts_ns);
    }

    #[test]
    fn only_a_removed_container_loses_its_checkpoint() {
        let ledger = Ledger::default();
        taken(&ledger, 1, 10, "stopped");
        taken(&ledger, 2, 20, "gone");
        ledger.mark_removed(["id-gone"]);
        assert!(ledger.take_marked());
        assert!(!ledger.take_marked(), "told once");
        let stopped = ledger.get("id-stopped").unwrap();
        assert!(!stopped.removed);
        assert_eq!(stopped.position.stdout.ts_ns, 10);
        let gone = ledger.get("id-gone").unwrap();
        assert!(gone.removed);
        assert!(gone.position.is_start());
        assert_eq!(gone.lines, 1, "its counts stay");
        let json = serde_json::to_string(&ledger.snapshot()).unwrap();
        assert_eq!(json.matches("\"position\"").count(), 1, "{json}");
        assert_eq!(json.matches("\"removed\":true").count(), 1, "{json}");
    }

    #[test]
    fn a_line_still_queued_when_its_container_went_brings_no_checkpoint_back() {
        let ledger = Ledger::default();
        taken(&ledger, 1, 10, "gone");
        ledger.mark_removed(["id-gone", "id-never-logged"]);
        taken(&ledger, 2, 11, "gone");
        taken(&ledger, 3, 12, "never-logged");
        for id in ["id-gone", "id-never-logged"] {
            let state = ledger.get(id).unwrap();
            assert!(state.removed, "{id}");
            assert!(state.position.is_start(), "{id}: {:?}", state.position);
        }
        assert_eq!(ledger.get("id-gone").unwrap().lines, 2);
        // Pruned, then one more late line: the entry comes back removed.
        assert_eq!(ledger.prune(u64::MAX, None), ["id-gone", "id-never-logged"]);
        taken(&ledger, 4, 13, "gone");
        assert!(ledger.get("id-gone").unwrap().removed);
    }

    #[test]
    fn a_removed_container_is_pruned_once_its_records_are_all_gone_and_seen_so() {
        let ledger = Ledger::default();
        taken(&ledger, 1, 100, "gone");
        taken(&ledger, 2, 200, "gone");
        taken(&ledger, 3, 150, "stopped");
        // Not removed: kept whatever the index holds.
        assert!(ledger.prune(u64::MAX, None).is_empty());
        ledger.mark_removed(["id-gone"]);
        // Its newest record (200) may still be live.
        assert!(ledger.prune(u64::MAX, Some(200)).is_empty());
        assert!(ledger.prune(u64::MAX, Some(150)).is_empty());
        // Older than every live record, but not every record of it is
        // searchable yet (seq 2 was added after the readers' view).
        assert!(ledger.prune(2, Some(201)).is_empty());
        assert!(ledger.prune(2, None).is_empty());
        assert_eq!(ledger.prune(3, Some(201)), ["id-gone"]);
        assert!(ledger.get("id-gone").is_none());
        assert!(
            ledger.get("id-stopped").is_some(),
            "a stopped container stays"
        );
        assert!(!ledger.any_removed());
    }

    #[test]
    fn entries_from_an_earlier_run_are_prunable_once_removed() {
        let mut state = ContainerState::default();
        (state.lines, state.last_ts) = (3, 50);
        // seq_end 0: nothing of it added by this process.
        assert!(!prunable(&state, 0, None), "not removed");
        state.remove();
        assert!(prunable(&state, 0, None));
        assert!(prunable(&state, 0, Some(51)));
        assert!(!prunable(&state, 0, Some(50)));
        let meta = Arc::new(crate::record::ContainerMeta::default());
        state.take(60, &meta, &Position::default());
        state.seq_end = 10;
        assert!(!prunable(&state, 9, Some(61)));
        assert!(prunable(&state, 10, Some(61)));
    }

    #[test]
    fn a_list_of_one_host_speaks_only_for_its_containers() {
        let ledger = Ledger::default();
        taken(&ledger, 1, 10, "here");
        let mut elsewhere = record(2, 10, "elsewhere", "x");
        let mut meta = (*elsewhere.container).clone();
        meta.host = "other".into();
        elsewhere.container = Arc::new(meta);
        ledger.take([&elsewhere], 10);
        ledger.update_for_test("id-old", |s| s.host.clear());
        assert_eq!(ledger.ids_on("h"), ["id-here", "id-old"]);
        assert_eq!(ledger.ids_on("other"), ["id-elsewhere", "id-old"]);
    }

    #[test]
    fn the_gone_set_is_bounded() {
        let ledger = Ledger::default();
        let ids: Vec<String> = (0..GONE_REMEMBERED + 10).map(|i| format!("g{i}")).collect();
        ledger.mark_removed(ids.iter().map(String::as_str));
        let inner = ledger.lock();
        assert_eq!(inner.gone.ids.len(), GONE_REMEMBERED);
        assert!(!inner.gone.ids.contains("g0"), "the oldest forgotten");
        assert!(
            inner
                .gone
                .ids
                .contains(&format!("g{}", GONE_REMEMBERED + 9))
        );
    }
}
