//! The live hub: every record goes to subscribed WebSocket clients as soon as
//! it is parsed, before the index commits it.
//!
//! Ingest must never wait for a browser, so the hub is a `tokio::broadcast`
//! ring of fixed size: publishing never blocks, and a client that falls more
//! than the ring behind skips ahead and is told how many records it missed
//! (a gap). Memory is bounded by the ring, whatever the clients do.
//!
//! The hub also keeps the records published but not yet committed, and the
//! highest committed seq (the watermark). A client asking for `tail=N` takes
//! a receiver and that snapshot under one lock: the index up to the
//! watermark, then the pending records, then the receiver cover every record
//! exactly once, with no gap and no duplicate at the seams.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use axum::extract::ws::Utf8Bytes;

use tokio::sync::broadcast;

use crate::record::Record;

/// A record as the hub shares it: the record, and its JSON frame, made
/// once on first use and then shared by every client (serializing a record
/// per client was the live feed's largest cost).
#[derive(Debug)]
pub struct LiveRecord {
    record: Record,
    frame: OnceLock<Utf8Bytes>,
}

impl LiveRecord {
    pub fn new(record: Record) -> Arc<LiveRecord> {
        Arc::new(LiveRecord {
            record,
            frame: OnceLock::new(),
        })
    }

    /// The record as one JSON text frame.
    pub fn frame(&self) -> Utf8Bytes {
        self.frame
            .get_or_init(|| {
                serde_json::to_string(&self.record)
                    .unwrap_or_default()
                    .into()
            })
            .clone()
    }
}

impl Deref for LiveRecord {
    type Target = Record;

    fn deref(&self) -> &Record {
        &self.record
    }
}

/// Records each client may fall behind before it is sent a gap.
pub const DEFAULT_RING: usize = 16_384;

#[derive(Debug, Default)]
struct State {
    /// Published, not yet committed; seq ascending.
    pending: VecDeque<Arc<LiveRecord>>,
    /// Highest seq visible to index searches.
    committed_seq: u64,
}

/// What a new subscriber starts from.
#[derive(Debug)]
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<LiveRecord>>,
    /// Records with seq in `(committed_seq, …]` published before `receiver`.
    pub pending: Vec<Arc<LiveRecord>>,
    /// Every record with seq ≤ this is in the index as searches see it.
    pub committed_seq: u64,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LiveStats {
    pub clients: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

/// The hub between the parser and the indexer.
#[derive(Debug)]
pub struct LiveHub {
    state: Mutex<State>,
    sender: broadcast::Sender<Arc<LiveRecord>>,
    pub stats: LiveStats,
}

impl LiveHub {
    pub fn new(ring: usize, committed_seq: u64) -> LiveHub {
        let (sender, _) = broadcast::channel(ring.max(1));
        LiveHub {
            state: Mutex::new(State {
                pending: VecDeque::new(),
                committed_seq,
            }),
            sender,
            stats: LiveStats::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends records to every subscriber; never waits.
    pub fn publish(&self, records: &[Arc<LiveRecord>]) {
        let mut state = self.lock();
        for record in records {
            state.pending.push_back(Arc::clone(record));
            // An error only means nobody is subscribed.
            let _ = self.sender.send(Arc::clone(record));
        }
    }

    /// Called after a commit is visible to searches: records up to `seq`
    /// are now found in the index.
    pub fn committed(&self, seq: u64) {
        let done: VecDeque<Arc<LiveRecord>> = {
            let mut state = self.lock();
            state.committed_seq = state.committed_seq.max(seq);
            let cut = state.pending.partition_point(|r| r.seq <= seq);
            let rest = state.pending.split_off(cut);
            std::mem::replace(&mut state.pending, rest)
        };
        // Freed outside the lock: these may be the last references to a
        // commit interval's records, and the sequencer's `publish` must not
        // wait while thousands of them are freed.
        drop(done);
    }

    /// Subscribes, with the snapshot that makes a gapless backfill possible.
    pub fn subscribe(&self) -> Subscription {
        let state = self.lock();
        Subscription {
            receiver: self.sender.subscribe(),
            pending: state.pending.iter().cloned().collect(),
            committed_seq: state.committed_seq,
        }
    }

    pub fn pending_len(&self) -> usize {
        self.lock().pending.len()
    }

    pub fn count_sent(&self, n: u64) {
        self.stats.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_dropped(&self, n: u64) {
        self.stats.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ContainerMeta, Stream};

    fn record(seq: u64) -> Arc<LiveRecord> {
        LiveRecord::new(Record {
            ts_ns: seq as i64,
            seq,
            container: Arc::new(ContainerMeta::default()),
            stream: Stream::Stdout,
            level: None,
            request_id: None,
            trace_id: None,
            span_id: None,
            message: format!("line {seq}"),
            msg: None,
            raw: None,
            fields: Default::default(),
            truncated: false,
            lines: 1,
            position: crate::checkpoint::Position::default(),
        })
    }

    #[test]
    fn snapshot_and_receiver_cover_every_record_once() {
        let hub = LiveHub::new(8, 0);
        hub.publish(&[record(1), record(2), record(3)]);
        hub.committed(2);
        let mut sub = hub.subscribe();
        hub.publish(&[record(4)]);
        assert_eq!(sub.committed_seq, 2);
        assert_eq!(sub.pending.iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
        assert_eq!(sub.receiver.try_recv().map(|r| r.seq).ok(), Some(4));
        assert!(sub.receiver.try_recv().is_err());
    }

    #[test]
    fn slow_subscriber_is_told_how_many_it_missed() {
        let hub = LiveHub::new(4, 0);
        let mut sub = hub.subscribe();
        let batch: Vec<_> = (1..=10).map(record).collect();
        hub.publish(&batch);
        match sub.receiver.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert_eq!(n, 6),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(sub.receiver.try_recv().map(|r| r.seq).ok(), Some(7));
    }
}
