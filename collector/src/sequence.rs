//! The sequencer: the seam between the Docker readers and the indexer.
//!
//! It gives every record its `seq` (the ingest order that makes the order of
//! records total and stable), publishes it to the live hub at once, and hands
//! it on to the indexer thread. Live clients therefore see a record as soon
//! as it is parsed, never held up by an index commit (a commit blocks the
//! indexer thread while tantivy flushes segments). The channel to the indexer
//! is bounded: a slow disk slows the readers down, it never grows memory.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::live::{LiveHub, LiveRecord};
use crate::record::Record;

/// Records taken from the readers per wake-up.
pub const BATCH: usize = 2048;
/// Batches in flight between the sequencer and the indexer (at most
/// `BATCH` records each).
pub const INDEXER_QUEUE: usize = 16;

/// Numbers records and fans them out to the live hub and the indexer.
#[derive(Debug)]
pub struct Sequencer {
    pub hub: Arc<LiveHub>,
    /// The seq the next record gets.
    pub next_seq: u64,
}

impl Sequencer {
    /// Runs until every reader's sender is dropped (or the indexer is gone).
    pub async fn run(
        mut self,
        mut records: mpsc::Receiver<Record>,
        indexer: mpsc::Sender<Vec<Arc<LiveRecord>>>,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        while records.recv_many(&mut batch, BATCH).await > 0 {
            let numbered: Vec<Arc<LiveRecord>> = batch
                .drain(..)
                .map(|mut record| {
                    record.seq = self.next_seq;
                    self.next_seq += 1;
                    LiveRecord::new(record)
                })
                .collect();
            self.hub.publish(&numbered);
            if indexer.send(numbered).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::testing::record;

    #[tokio::test]
    async fn records_are_numbered_published_and_forwarded_in_order() {
        let hub = Arc::new(LiveHub::new(64, 0));
        let mut live = hub.subscribe();
        let (readers, from_readers) = mpsc::channel(16);
        let (to_indexer, mut indexer) = mpsc::channel(4);
        let task = tokio::spawn(
            Sequencer {
                hub: Arc::clone(&hub),
                next_seq: 10,
            }
            .run(from_readers, to_indexer),
        );
        for i in 0..3 {
            readers.send(record(0, i, "web", "x")).await.unwrap();
        }
        drop(readers);
        task.await.unwrap();
        let mut seqs = Vec::new();
        while let Some(batch) = indexer.recv().await {
            seqs.extend(batch.iter().map(|r| r.seq));
        }
        assert_eq!(seqs, [10, 11, 12]);
        let published: Vec<u64> = std::iter::from_fn(|| live.receiver.try_recv().ok())
            .map(|r| r.seq)
            .collect();
        assert_eq!(published, [10, 11, 12]);
        assert_eq!(hub.pending_len(), 3, "published, not yet committed");
    }
}
