//! The indexer: the one thread that writes the index.
//!
//! It takes numbered batches from the sequencer (which has already published
//! them live), adds the documents and, every commit interval, commits them
//! together with every container's checkpoint in the commit payload. Only
//! after the reader has been reloaded does it tell the hub the new watermark,
//! so "committed" always means "searchable".
//!
//! It is a plain thread, not a task: tantivy's writer blocks on I/O and
//! merges, and the channel it drains is bounded, so a slow disk slows the
//! Docker readers down (Docker buffers in its log files) instead of growing
//! memory.
//!
//! A commit costs about the same whether it holds one record or thousands
//! (a new segment of half a dozen files, each synced, a 4 MiB term table
//! filled, the commit's meta file, a reload of every segment), so a host
//! that writes a line now and then must not pay it every second: a commit
//! comes one interval after the first record it holds arrived (no record
//! waits longer than before), not on a fixed beat, and the few-record
//! segments such commits leave are merged in larger groups ([`Merges`]).
//!
//! Once a retention period it also prunes removed containers whose records
//! retention has all deleted from the ledger and the container table (see
//! `crate::ledger`), so the payload every commit writes stays the size of
//! what the index holds; the change goes out with the next commit.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tantivy::indexer::{LogMergePolicy, MergeCandidate, MergePolicy, UserOperation};
use tantivy::{IndexWriter, SegmentMeta, TantivyDocument};
use tokio::runtime::Handle;
use tokio::time::Instant;

use super::containers::KeyCache;
use super::payload::CommitPayload;
use super::retention::{Retainer, oldest_live_ts};
use super::{IndexError, LogIndex};
use crate::ledger::Ledger;
use crate::live::{LiveHub, LiveRecord};
use crate::metrics::Metrics;
use crate::sequence::QueueReceiver;
use crate::timefmt::now_ns;

/// Memory for tantivy's indexing buffers (shared by its two threads). Half
/// of what it was: the same CPU per line in `wakeline-bench pipeline`, 50 MB
/// less at the peak; each thread's segment is flushed at 16 MB.
const WRITER_HEAP_BYTES: usize = 32 * 1024 * 1024;
/// Least time between two hand-overs to tantivy while lines keep coming:
/// each wakes tantivy's indexing threads, and at a steady 10k lines/s the
/// sequencer's small batches woke them hundreds of times a second.
const ADD_LINGER: Duration = Duration::from_millis(100);
/// The first wait before a failed commit is tried again; it doubles up to
/// [`RETRY_MAX`].
const RETRY_START: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Records handed to tantivy at once at most.
const ADD_BATCH: usize = 8192;

/// Records added but not committed at most: past them the indexer commits
/// before the interval is up. Every record stays in memory until its commit
/// (the hub keeps it for the live feed's seam), and tantivy's writer takes
/// documents without limit until then; a commit waits for tantivy to index
/// what it was given, which holds the readers back (Docker keeps their lines).
const UNCOMMITTED_MAX: usize = 32_768;

/// Everything the indexer thread needs.
pub struct Indexer {
    pub index: Arc<LogIndex>,
    pub hub: Arc<LiveHub>,
    pub ledger: Arc<Ledger>,
    pub metrics: Arc<Metrics>,
    pub commit_interval: Duration,
    /// The seq after the last record added (goes in the payload).
    pub next_seq: u64,
    /// Keeps the index within `--retention` and `--max-disk`.
    pub retention: Retainer,
}

impl Indexer {
    /// Starts the thread; it ends (after a last commit) when every sender of
    /// `records` is dropped.
    pub fn spawn(
        self,
        batches: QueueReceiver,
        runtime: Handle,
    ) -> Result<JoinHandle<()>, IndexError> {
        // Two indexing threads: enough to keep up with Docker on a small host
        // without starving the readers of CPU.
        let writer = self
            .index
            .tantivy()
            .writer_with_num_threads(2, WRITER_HEAP_BYTES)?;
        writer.set_merge_policy(Box::new(Merges::new()));
        let handle = std::thread::Builder::new()
            .name("wakeline-indexer".into())
            .spawn(move || self.run(writer, batches, runtime))
            .map_err(IndexError::Thread)?;
        Ok(handle)
    }

    fn run(mut self, mut writer: IndexWriter, mut batches: QueueReceiver, runtime: Handle) {
        let mut dirty = false;
        // Since when something added (or deleted) waits for a commit: it is
        // committed one interval later. While nothing waits, the thread still
        // wakes every interval (retention passes are due from here).
        let mut dirty_since: Option<Instant> = None;
        let mut last_commit = Instant::now();
        let mut last_add = Instant::now();
        // The last hand-over was full: more is queued, take it without pausing.
        let mut backlog = false;
        let mut keys = KeyCache::default();
        // Records added since the last commit: given to tantivy again after
        // a failed one (see `recover`).
        let mut uncommitted: Vec<Arc<LiveRecord>> = Vec::new();
        // Commits failed in a row. While any has, no batch is taken: ingest
        // pauses (Docker's log files hold the lines) until a commit works.
        let mut failures = 0u32;
        let mut pruning = Pruning {
            searchable_seq: self.next_seq,
            last_check: None,
        };
        loop {
            if failures > 0 {
                let wait = RETRY_START
                    .saturating_mul(1 << failures.min(5))
                    .min(RETRY_MAX);
                let stopping = wait_unless_closed(&batches, wait);
                if self.commit(&mut writer, &mut pruning) {
                    tracing::warn!(
                        failed_commits = failures,
                        "index commits work again; ingest resumes"
                    );
                    failures = 0;
                    dirty = false;
                    dirty_since = None;
                    uncommitted.clear();
                    last_commit = Instant::now();
                } else if stopping {
                    // Shutting down while commits fail: what was not
                    // committed is not checkpointed either, and is read
                    // again from Docker's files at the next start.
                    tracing::error!(
                        records = uncommitted.len(),
                        "stopping while the index cannot be written; the next start reads these lines again"
                    );
                    return;
                } else {
                    failures += 1;
                    self.recover(&mut writer, &uncommitted, &mut keys);
                }
                continue;
            }
            let deadline = dirty_since.unwrap_or(last_commit) + self.commit_interval;
            let received =
                runtime.block_on(async { tokio::time::timeout_at(deadline, batches.recv()).await });
            match received {
                Ok(None) => {
                    if dirty && !self.commit(&mut writer, &mut pruning) {
                        tracing::error!(
                            records = uncommitted.len(),
                            "last commit failed; the next start reads these lines again"
                        );
                    }
                    tracing::info!(next_seq = self.next_seq, "indexer stopped");
                    return;
                }
                Ok(Some(mut records)) => {
                    dirty_since.get_or_insert_with(Instant::now);
                    // Let more gather (nothing waits on them before the commit).
                    if !backlog && records.len() < ADD_BATCH {
                        let until = (last_add + ADD_LINGER).min(deadline);
                        std::thread::sleep(until.saturating_duration_since(Instant::now()));
                    }
                    while records.len() < ADD_BATCH {
                        match batches.try_recv() {
                            Some(batch) => records.extend(batch),
                            None => break,
                        }
                    }
                    backlog = records.len() >= ADD_BATCH;
                    self.add_batch(&writer, &records, &mut keys);
                    last_add = Instant::now();
                    dirty = true;
                    uncommitted.extend(records);
                }
                Err(_elapsed) => {}
            }
            let deadline = dirty_since.unwrap_or(last_commit) + self.commit_interval;
            if Instant::now() >= deadline || uncommitted.len() >= UNCOMMITTED_MAX {
                if dirty {
                    if self.commit(&mut writer, &mut pruning) {
                        dirty = false;
                        dirty_since = None;
                        uncommitted.clear();
                    } else {
                        failures = 1;
                        self.recover(&mut writer, &uncommitted, &mut keys);
                        continue;
                    }
                }
                last_commit = Instant::now();
            }
            if self
                .retention
                .maybe_pass(&self.index, &writer, &self.metrics)
            {
                dirty = true;
                dirty_since.get_or_insert_with(Instant::now);
            }
            if self.prune(&mut pruning, &mut keys) {
                dirty = true;
                dirty_since.get_or_insert_with(Instant::now);
            }
            let wasteful = self.retention.take_merge();
            if !wasteful.is_empty() {
                // Runs on tantivy's merge threads; a segment already being
                // merged makes it fail, harmlessly (the next pass asks again).
                drop(writer.merge(&wasteful));
            }
        }
    }

    fn add_batch(&mut self, writer: &IndexWriter, batch: &[Arc<LiveRecord>], keys: &mut KeyCache) {
        self.ledger.take(batch.iter().map(|r| &***r), now_ns());
        // One message to tantivy's indexing thread per batch: `add_document`
        // sends one per document, and woke that thread for each line.
        let adds: Vec<UserOperation<TantivyDocument>> = batch
            .iter()
            .map(|record| UserOperation::Add(self.index.to_document(record, keys)))
            .collect();
        if let Err(e) = writer.run(adds) {
            let first = batch.first().map_or(0, |r| r.seq);
            let why = self.why(&e);
            tracing::error!(error = %e, first_seq = first, records = batch.len(), "cannot add documents to the index ({why}); the commit that follows fails, and ingest pauses");
            self.metrics
                .index_outage
                .begin(format!("documents cannot be added ({why}): {e}"));
        }
        if let Some(last) = batch.last() {
            self.next_seq = last.seq + 1;
        }
        Metrics::add(&self.metrics.lines_indexed, batch.len() as u64);
    }

    /// After a failed commit (a full disk): back to the last commit, and the
    /// records added since given to tantivy again, so that the next commit
    /// that works holds every one of them (the ledger already counts them,
    /// and the commit writes its checkpoints). Without it, documents lost
    /// with a failed segment write would be committed as taken.
    fn recover(
        &mut self,
        writer: &mut IndexWriter,
        records: &[Arc<LiveRecord>],
        keys: &mut KeyCache,
    ) {
        if let Err(e) = writer.rollback() {
            tracing::error!(error = %e, "cannot roll the index back to its last commit");
            return;
        }
        let adds: Vec<UserOperation<TantivyDocument>> = records
            .iter()
            .map(|record| UserOperation::Add(self.index.to_document(record, keys)))
            .collect();
        if let Err(e) = writer.run(adds) {
            tracing::error!(error = %e, records = records.len(), "cannot add documents to the index again");
        }
    }

    /// Why the index cannot be written, in words: tantivy wraps the OS
    /// error in several ways (an I/O error, a path error, a killed indexing
    /// thread whose error is gone), so the data dir's free space decides too.
    fn why(&self, e: &tantivy::TantivyError) -> &'static str {
        let text = format!("{e:?}");
        let full = ["StorageFull", "os error 28", "No space left"]
            .iter()
            .any(|sign| text.contains(sign))
            || fs4::available_space(&self.retention.data_dir).is_ok_and(|free| free < 64 * 1024);
        if full {
            "the disk is full"
        } else {
            "the index cannot be written"
        }
    }

    /// Prunes removed containers the index holds no record of any more
    /// from the ledger and the container table (see `crate::ledger`), at
    /// most once a retention period; true when the payload changed (that,
    /// or containers marked removed since the last call, wants a commit).
    fn prune(&mut self, pruning: &mut Pruning, keys: &mut KeyCache) -> bool {
        let marked = self.ledger.take_marked();
        let period = self.retention.retention.period();
        if pruning
            .last_check
            .is_some_and(|last| last.elapsed() < period)
        {
            return marked;
        }
        pruning.last_check = Some(Instant::now());
        if !self.ledger.any_removed() {
            return marked;
        }
        // The readers' view, which every record up to `searchable_seq` is in.
        let searcher = self.index.searcher();
        let oldest = match oldest_live_ts(&searcher, self.index.segments()) {
            Ok(oldest) => oldest,
            Err(e) => {
                tracing::warn!(error = %e, "cannot find the oldest record; removed containers are pruned later");
                return marked;
            }
        };
        let pruned = self.ledger.prune(pruning.searchable_seq, oldest);
        if pruned.is_empty() {
            return marked;
        }
        let ids: HashSet<&str> = pruned.iter().map(String::as_str).collect();
        let versions = self.index.containers().prune(&ids);
        // Cached keys may name pruned versions: a late line of one of
        // these containers must get its version back.
        keys.clear();
        tracing::info!(
            containers = pruned.len(),
            versions,
            "removed containers whose records are all deleted leave the commit payload"
        );
        true
    }

    /// Commits with the checkpoints; true when it worked.
    fn commit(&mut self, writer: &mut IndexWriter, pruning: &mut Pruning) -> bool {
        let table = self.index.containers();
        let payload = CommitPayload {
            version: CommitPayload::VERSION,
            next_seq: self.next_seq,
            containers: self.ledger.snapshot(),
            container_versions: table.to_stored(),
            next_container_key: table.next_key(),
        };
        let result = writer.prepare_commit().and_then(|mut prepared| {
            prepared.set_payload(&payload.to_json());
            prepared.commit()
        });
        if let Err(e) = result {
            // Logged once per outage (the retries are every few seconds);
            // the reason shown is the commit's.
            let first = self
                .metrics
                .index_outage
                .get()
                .is_none_or(|(_, why)| !why.starts_with("commits fail"));
            let why = self.why(&e);
            if first {
                tracing::error!(error = %e, "index commit failed ({why}): ingest pauses, Docker keeps the lines; retrying");
            }
            self.metrics
                .index_outage
                .begin(format!("commits fail ({why}): {e}; ingest paused"));
            Metrics::add(&self.metrics.commit_errors, 1);
            return false;
        }
        self.metrics.index_outage.end();
        Metrics::add(&self.metrics.commits, 1);
        // Committed: the records are safe even if the readers cannot see
        // them yet (rolling back now would add them twice). The live seam
        // moves only once they are searchable; the next commit reloads again.
        match self.index.reload() {
            Ok(()) => {
                pruning.searchable_seq = self.next_seq;
                self.hub.committed(self.next_seq.saturating_sub(1));
            }
            Err(e) => {
                tracing::warn!(error = %e, "index readers not reloaded; the next commit retries")
            }
        }
        true
    }
}

/// The indexer's view for pruning removed containers.
#[derive(Debug)]
struct Pruning {
    /// The seq after the newest record the index's readers see.
    searchable_seq: u64,
    /// When removed containers were last looked at.
    last_check: Option<Instant>,
}

/// Segments of fewer records than this are few-record ones: what commits
/// make on a quiet host (one or two lines a second across 500 containers).
const FEW_RECORDS: u32 = 1_000;
/// Few-record segments are merged once this many have gathered (tantivy's
/// policy merged them 8 at a time: a merge every 8 s or so at a line a
/// second, each one a new segment's files written and synced, the inputs'
/// files deleted, and the commit's meta file written again).
const FEW_RECORDS_MERGED_AT: usize = 24;

/// Segments left this much deleted by retention are merged away (tantivy's
/// default waits for all of a segment's records to be deleted).
const DELETED_RATIO_MERGED: f32 = 0.3;

/// The merge policy: tantivy's `LogMergePolicy` for every segment but the
/// few-record ones, which are merged together once
/// [`FEW_RECORDS_MERGED_AT`] have gathered (or one of them is a third
/// deleted, as the log policy does), so that a trickle of lines does not
/// merge every few seconds while the segment count stays bounded (search
/// reads every segment). A busy host's commits make larger segments, which
/// the log policy merges as before.
#[derive(Debug)]
struct Merges {
    log: LogMergePolicy,
}

impl Merges {
    fn new() -> Merges {
        let mut log = LogMergePolicy::default();
        log.set_del_docs_ratio_before_merge(DELETED_RATIO_MERGED);
        Merges { log }
    }
}

impl MergePolicy for Merges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let (few, rest): (Vec<SegmentMeta>, Vec<SegmentMeta>) = segments
            .iter()
            .cloned()
            .partition(|segment| segment.max_doc() < FEW_RECORDS);
        let mut candidates = self.log.compute_merge_candidates(&rest);
        let wasteful = few.iter().any(|segment| {
            segment.num_deleted_docs() as f32 > segment.max_doc() as f32 * DELETED_RATIO_MERGED
        });
        if few.len() >= FEW_RECORDS_MERGED_AT || wasteful {
            candidates.push(MergeCandidate(few.iter().map(SegmentMeta::id).collect()));
        }
        candidates
    }
}

/// Sleeps for `wait`, or less if the sequencer stops meanwhile (a shutdown
/// during a disk-full outage must not wait out the backoff); true if it has.
fn wait_unless_closed(batches: &QueueReceiver, wait: Duration) -> bool {
    const STEP: Duration = Duration::from_millis(50);
    let until = std::time::Instant::now() + wait;
    loop {
        if batches.is_closed() {
            return true;
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(STEP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::Index;
    use tantivy::index::SegmentId;
    use tantivy::schema::{INDEXED, Schema};

    /// The indexer thread on a fresh data dir with a 4 s `--retention`
    /// (a pass and a pruning check every second); records of a removed
    /// container an hour old, of a stopped one as old, and of a removed one
    /// stamped in the future (never too old). Once retention has deleted the
    /// old ones, the first leaves the commit payload (ledger and versions),
    /// the stopped one keeps its checkpoint, and the other removed one stays
    /// listed and resolvable, without a checkpoint. A line of the pruned
    /// one that comes late gets its version back.
    #[test]
    fn a_removed_container_leaves_the_payload_once_retention_deleted_its_records() {
        use crate::index::retention::Retention;
        use crate::index::testing::record;
        use crate::query::SearchParams;
        use crate::sequence::index_queue;

        const HOUR: i64 = 3_600_000_000_000;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = LogIndex::open(dir.path()).unwrap();
        let index = Arc::new(index);
        let ledger = Arc::new(Ledger::default());
        let (batches, receiver) = index_queue(1024);
        let thread = Indexer {
            index: Arc::clone(&index),
            hub: Arc::new(LiveHub::new(16, 0)),
            ledger: Arc::clone(&ledger),
            metrics: Arc::new(Metrics::new()),
            commit_interval: Duration::from_millis(50),
            next_seq: 1,
            retention: Retainer::new(
                Retention {
                    max_age: Some(Duration::from_secs(4)),
                    max_bytes: None,
                },
                dir.path().to_path_buf(),
            ),
        }
        .spawn(receiver, runtime.handle().clone())
        .unwrap();
        let now = now_ns();
        let mut seq = 0;
        // One container's records share its metadata, as a follow task's do
        // (the writer's key cache goes by its address).
        let mut metas = std::collections::HashMap::new();
        let mut send = |container: &'static str, ts_ns: i64| {
            seq += 1;
            let mut r = record(seq, ts_ns, container, "x");
            r.container = Arc::clone(metas.entry(container).or_insert(r.container));
            r.position.stdout.advance(ts_ns);
            let batch = vec![LiveRecord::new(r)];
            runtime.block_on(batches.send(batch)).unwrap();
        };
        for (container, ts_ns) in [
            ("gone", now - HOUR),
            ("gone", now - HOUR + 1),
            ("stopped", now - HOUR),
            ("leaving", now + HOUR),
        ] {
            send(container, ts_ns);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let wait = |done: &dyn Fn() -> bool, what: &str| {
            while !done() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{what}: {:?}",
                    ledger.snapshot()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait(&|| ledger.snapshot().len() == 3, "records never taken");
        ledger.mark_removed(["id-gone", "id-leaving"]);
        wait(&|| ledger.get("id-gone").is_none(), "never pruned");
        // A line of it still queued: its version comes back, under a new key.
        send("gone", now);
        drop(batches);
        thread.join().unwrap();
        drop(index);

        let (index, payload) = LogIndex::open(dir.path()).unwrap();
        let ids: Vec<&str> = payload.containers.keys().map(String::as_str).collect();
        assert_eq!(ids, ["id-gone", "id-leaving", "id-stopped"]);
        let stopped = &payload.containers["id-stopped"];
        assert!(!stopped.removed);
        assert_eq!(stopped.position.stdout.ts_ns, now - HOUR, "checkpoint kept");
        for id in ["id-gone", "id-leaving"] {
            let state = &payload.containers[id];
            assert!(
                state.removed && state.position.is_start(),
                "{id}: {state:?}"
            );
        }
        assert_eq!(payload.containers["id-gone"].lines, 1, "only the late line");
        let names: Vec<&str> = payload
            .container_versions
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["stopped", "leaving", "gone"]);
        let hits = index
            .search(&SearchParams {
                limit: 10,
                ..SearchParams::default()
            })
            .unwrap()
            .hits;
        let mut resolved: Vec<&str> = hits.iter().map(|h| h.container.name.as_str()).collect();
        resolved.sort_unstable();
        assert_eq!(resolved, ["gone", "leaving"], "every live record resolves");
    }

    /// What pruning saves per commit, measured in one run: `meta.json`'s size
    /// and the time of a commit of one record (prepare, payload, commit,
    /// reader reload, as the indexer does) with 5,000 removed containers in
    /// the payload (what every commit carried before pruning) and after they
    /// are pruned, 20 running ones left. A measurement, not a check:
    /// `cargo test -p wakeline --release --lib -- --ignored --nocapture
    /// measure_the_payload`.
    #[test]
    #[ignore = "a measurement; prints figures"]
    fn measure_the_payload_with_many_removed_containers() {
        use crate::checkpoint::{Checkpoint, Position};
        use crate::index::testing::record;
        use crate::record::ContainerMeta;

        const REMOVED: usize = 5_000;
        const RUNNING: usize = 20;
        const COMMITS: u32 = 50;
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = LogIndex::open(dir.path()).unwrap();
        let ledger = Ledger::default();
        let mut keys = KeyCache::default();
        let mut ids = Vec::new();
        for i in 0..REMOVED + RUNNING {
            let id = format!("{i:064x}");
            let meta = Arc::new(ContainerMeta {
                host: "ci-host-7".into(),
                id: id.clone(),
                name: format!("runner-job-{i}-build"),
                image: "registry.example.com/ci/runner:2026.11".into(),
                service: Some("runner".into()),
                project: Some(format!("pipeline-{}", i / 10)),
            });
            let ts = 1_760_000_000_000_000_000 + i as i64;
            let mut r = record(i as u64 + 1, ts, "x", "a line");
            r.container = Arc::clone(&meta);
            r.position = Position::both(Checkpoint {
                ts_ns: ts,
                at_ts: 1,
            });
            ledger.take([&r], ts);
            keys.key(index.containers(), &meta);
            ids.push(id);
        }
        let mut writer: IndexWriter = index
            .tantivy()
            .writer_with_num_threads(1, 15_000_000)
            .unwrap();
        let mut seq = 1_000_000;
        let mut measure = |what: &str, keys: &mut KeyCache| {
            let start = std::time::Instant::now();
            for _ in 0..COMMITS {
                seq += 1;
                let doc = index.to_document(&record(seq, seq as i64, "web", "x"), keys);
                writer.add_document(doc).unwrap();
                let payload = CommitPayload {
                    version: CommitPayload::VERSION,
                    next_seq: seq + 1,
                    containers: ledger.snapshot(),
                    container_versions: index.containers().to_stored(),
                    next_container_key: index.containers().next_key(),
                };
                let mut prepared = writer.prepare_commit().unwrap();
                prepared.set_payload(&payload.to_json());
                prepared.commit().unwrap();
                index.reload().unwrap();
            }
            let per_commit = start.elapsed() / COMMITS;
            let bytes = std::fs::metadata(dir.path().join("meta.json"))
                .unwrap()
                .len();
            eprintln!("{what}: meta.json {bytes} bytes, {per_commit:?} per commit");
            (bytes, per_commit)
        };
        let (before_bytes, before_time) = measure("5,000 removed + 20 running", &mut keys);
        ledger.mark_removed(ids[..REMOVED].iter().map(String::as_str));
        let pruned = ledger.prune(u64::MAX, None);
        let pruned: HashSet<&str> = pruned.iter().map(String::as_str).collect();
        index.containers().prune(&pruned);
        keys.clear();
        let (after_bytes, after_time) = measure("20 running, the removed pruned", &mut keys);
        eprintln!(
            "pruned: meta.json {:.1}x smaller, commits {:.1}x faster",
            before_bytes as f64 / after_bytes as f64,
            before_time.as_secs_f64() / after_time.as_secs_f64()
        );
    }

    /// Segment metas of these sizes, and a function that names the sizes a
    /// merge candidate holds (sorted).
    fn segments(sizes: &[u32]) -> (Vec<SegmentMeta>, impl Fn(&MergeCandidate) -> Vec<u32>) {
        let mut schema = Schema::builder();
        schema.add_u64_field("n", INDEXED);
        let index = Index::create_in_ram(schema.build());
        let metas: Vec<SegmentMeta> = sizes
            .iter()
            .map(|&n| index.new_segment_meta(SegmentId::generate_random(), n))
            .collect();
        let lookup = metas.clone();
        let sizes_of = move |candidate: &MergeCandidate| {
            let mut sizes: Vec<u32> = candidate
                .0
                .iter()
                .filter_map(|id| lookup.iter().find(|m| m.id() == *id))
                .map(SegmentMeta::max_doc)
                .collect();
            sizes.sort_unstable();
            sizes
        };
        (metas, sizes_of)
    }

    #[test]
    fn few_record_segments_gather_before_a_merge_and_larger_ones_merge_as_before() {
        let policy = Merges::new();
        // A quiet host: one-record segments (and an earlier merge of them)
        // beside large ones. Tantivy's policy merged eight of them.
        let mut sizes = vec![1; FEW_RECORDS_MERGED_AT - 2];
        sizes.extend([FEW_RECORDS_MERGED_AT as u32, 500_000, 2_000_000]);
        let (metas, _) = segments(&sizes);
        assert!(policy.compute_merge_candidates(&metas).is_empty());

        // One more: every few-record segment is merged, the large ones not.
        sizes.push(1);
        let (metas, sizes_of) = segments(&sizes);
        let candidates = policy.compute_merge_candidates(&metas);
        assert_eq!(candidates.len(), 1);
        let merged = sizes_of(&candidates[0]);
        assert_eq!(merged.len(), FEW_RECORDS_MERGED_AT);
        assert!(merged.iter().all(|&n| n < FEW_RECORDS));

        // A busy host's segments (thousands of records per commit) merge
        // eight at a time, as tantivy's policy does; the few-record ones
        // beside them wait.
        let mut sizes = vec![5_000; 8];
        sizes.extend([1, 1, 1]);
        let (metas, sizes_of) = segments(&sizes);
        let candidates = policy.compute_merge_candidates(&metas);
        assert_eq!(candidates.len(), 1);
        assert_eq!(sizes_of(&candidates[0]), vec![5_000; 8]);
    }

    #[test]
    fn few_record_segments_a_third_deleted_by_retention_are_merged_at_once() {
        let policy = Merges::new();
        let (mut metas, sizes_of) = segments(&[10, 10, 10, 500_000]);
        assert!(policy.compute_merge_candidates(&metas).is_empty());
        metas[0] = metas[0].clone().with_delete_meta(4, 1);
        let candidates = policy.compute_merge_candidates(&metas);
        assert_eq!(candidates.len(), 1);
        assert_eq!(sizes_of(&candidates[0]), vec![10, 10, 10]);
    }
}
