//! The sequencer: the seam between the Docker readers and the indexer.
//!
//! It gives every record its `seq` (the ingest order that makes the order of
//! records total and stable), publishes it to the live hub at once, and hands
//! it on to the indexer thread. Live clients therefore see a record as soon
//! as it is parsed, never held up by an index commit (a commit blocks the
//! indexer thread while tantivy flushes segments, up to a second or more on a
//! busy host). The queue to the indexer is bounded in records, not batches,
//! and holds several seconds of a busy host's lines, so that commits do not
//! stall the Docker readers either; a disk slower than that for longer slows
//! the readers down (Docker keeps the lines), it never grows memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::live::{LiveHub, LiveRecord};
use crate::metrics::Metrics;
use crate::record::Record;
use crate::redact::redact_record;
use crate::timefmt::now_ns;

/// Records taken from the readers per wake-up.
pub const BATCH: usize = 2048;
/// Records queued between the sequencer and the indexer.
pub const INDEXER_QUEUE: usize = 16_384;
/// Least time between two publications while lines keep coming. The first
/// record after a quiet spell goes out at once; under a steady stream the
/// records of up to this long go out together, so each live client and the
/// indexer wake once per batch, not once per line: at 10k lines/s, waking
/// 15 clients per line cost 150k task wake-ups and socket writes a second.
pub const LINGER: Duration = Duration::from_millis(2);

type Batch = Vec<Arc<LiveRecord>>;

/// The queue from the sequencer to the indexer, bounded in records.
pub fn index_queue(records: usize) -> (QueueSender, QueueReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(records.max(BATCH)));
    (
        QueueSender {
            tx,
            budget: Arc::clone(&budget),
        },
        QueueReceiver { rx, budget },
    )
}

/// The sequencer's end of the index queue.
#[derive(Debug)]
pub struct QueueSender {
    tx: mpsc::UnboundedSender<Batch>,
    budget: Arc<Semaphore>,
}

impl QueueSender {
    /// Waits for room for the batch, then queues it; `Err` if the indexer is gone.
    pub async fn send(&self, batch: Batch) -> Result<(), Batch> {
        let n = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        match self.budget.acquire_many(n).await {
            Ok(permits) => permits.forget(),
            Err(_closed) => return Err(batch),
        }
        self.tx.send(batch).map_err(|e| e.0)
    }
}

/// The indexer's end of the index queue.
#[derive(Debug)]
pub struct QueueReceiver {
    rx: mpsc::UnboundedReceiver<Batch>,
    budget: Arc<Semaphore>,
}

impl QueueReceiver {
    /// The next batch (its room is given back at once); `None` when the
    /// sequencer has stopped and the queue is empty.
    pub async fn recv(&mut self) -> Option<Batch> {
        let batch = self.rx.recv().await?;
        self.budget.add_permits(batch.len());
        Some(batch)
    }

    /// True once the sequencer has stopped (its end is dropped): no batch
    /// will come that is not already queued.
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }

    /// The next batch if one is waiting.
    pub fn try_recv(&mut self) -> Option<Batch> {
        let batch = self.rx.try_recv().ok()?;
        self.budget.add_permits(batch.len());
        Some(batch)
    }
}

/// Numbers records and fans them out to the live hub and the indexer.
#[derive(Debug)]
pub struct Sequencer {
    pub hub: Arc<LiveHub>,
    pub metrics: Arc<Metrics>,
    /// The seq the next record gets.
    pub next_seq: u64,
    /// Mask values that look like secrets before anyone sees the record
    /// (`--redact`, see `redact.rs`).
    pub redact: bool,
}

impl Sequencer {
    /// Runs until every reader's sender is dropped (or the indexer is gone).
    pub async fn run(mut self, mut records: mpsc::Receiver<Record>, indexer: QueueSender) {
        let mut batch = Vec::with_capacity(BATCH);
        // None until the first publication, which goes out at once.
        let mut last_publish: Option<Instant> = None;
        while records.recv_many(&mut batch, BATCH).await > 0 {
            if let Some(next_publish) = last_publish.map(|last| last + LINGER)
                && batch.len() < BATCH
                && Instant::now() < next_publish
            {
                // Sleep rather than wait on the channel: a waiting receiver
                // would be woken by every line, which is what this avoids.
                tokio::time::sleep_until(next_publish).await;
                while batch.len() < BATCH {
                    match records.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            last_publish = Some(Instant::now());
            let mut redactions = 0;
            let numbered: Vec<Arc<LiveRecord>> = batch
                .drain(..)
                .map(|mut record| {
                    if self.redact {
                        redactions += redact_record(&mut record);
                    }
                    record.seq = self.next_seq;
                    self.next_seq += 1;
                    LiveRecord::new(record)
                })
                .collect();
            self.hub.publish(&numbered);
            let bytes: usize = numbered.iter().map(|r| r.message.len()).sum();
            let truncated = numbered.iter().filter(|r| r.truncated).count();
            let now = now_ns();
            self.metrics
                .read_delay
                .observe_ns(numbered.iter().map(|r| now.saturating_sub(r.ts_ns)));
            Metrics::add(&self.metrics.lines_ingested, numbered.len() as u64);
            Metrics::add(&self.metrics.bytes_ingested, bytes as u64);
            Metrics::add(&self.metrics.truncated_lines, truncated as u64);
            Metrics::add(&self.metrics.redactions, redactions);
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
        let (to_indexer, mut indexer) = index_queue(4);
        let task = tokio::spawn(
            Sequencer {
                hub: Arc::clone(&hub),
                metrics: Arc::default(),
                next_seq: 10,
                redact: false,
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

#[cfg(test)]
mod redact_tests {
    use super::*;
    use crate::index::testing::record;

    #[tokio::test]
    async fn with_redact_secrets_are_masked_before_publication_and_counted() {
        let hub = Arc::new(LiveHub::new(64, 0));
        let mut live = hub.subscribe();
        let metrics = Arc::new(Metrics::new());
        let (readers, from_readers) = mpsc::channel(16);
        let (to_indexer, mut indexer) = index_queue(4);
        let task = tokio::spawn(
            Sequencer {
                hub: Arc::clone(&hub),
                metrics: Arc::clone(&metrics),
                next_seq: 1,
                redact: true,
            }
            .run(from_readers, to_indexer),
        );
        readers
            .send(record(0, 1, "web", "login password=hunter2"))
            .await
            .unwrap();
        readers
            .send(record(0, 2, "web", "nothing secret"))
            .await
            .unwrap();
        drop(readers);
        task.await.unwrap();
        let indexed: Vec<String> = indexer
            .recv()
            .await
            .unwrap()
            .iter()
            .map(|r| r.message.clone())
            .collect();
        assert_eq!(indexed, ["login password=[REDACTED]", "nothing secret"]);
        let published = live.receiver.try_recv().unwrap();
        assert_eq!(published.message, "login password=[REDACTED]");
        assert_eq!(Metrics::get(&metrics.redactions), 1);
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;
    use crate::index::testing::record;

    #[tokio::test]
    async fn queue_blocks_the_sender_at_its_record_budget() {
        let (tx, mut rx) = index_queue(BATCH);
        let batch = |n: usize| {
            (0..n)
                .map(|i| LiveRecord::new(record(i as u64, 0, "w", "x")))
                .collect::<Batch>()
        };
        tx.send(batch(BATCH)).await.unwrap();
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(100), tx.send(batch(1))).await;
        assert!(blocked.is_err(), "no room for one more record");
        assert_eq!(rx.recv().await.map(|b| b.len()), Some(BATCH));
        tx.send(batch(1)).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await.map(|b| b.len()), Some(1));
        assert!(rx.recv().await.is_none());
    }
}
