//! Checkpoints: how far each container's log has been taken. The contract
//! between the first stage (`source`, which resumes from a checkpoint) and
//! the last (`index`, which writes the checkpoints in the same tantivy commit
//! as the documents, so that the two can never disagree after a crash).
//!
//! A checkpoint is the newest Docker timestamp taken plus how many lines
//! carried exactly that timestamp. Docker's `since` filter is inclusive, but
//! the typed client only sends whole seconds: a resume asks from the whole
//! second and [`Replay`] skips what the checkpoint says is already indexed.
//!
//! Two accepted limits, both needing a crash at an unlucky instant: a line
//! on one stream stamped *earlier* than a line of the other stream that was
//! read before it (Docker stamps each stream in its own goroutine) and not
//! yet committed is skipped on resume; and a line over 16 KiB whose first
//! fragment falls before the resume second while the other stream advanced
//! the checkpoint comes back without its head. Keeping one checkpoint per
//! stream would remove the first; neither was seen in the kill -9 tests.

use serde::{Deserialize, Serialize};

use crate::record::ContainerMeta;

const NS_PER_SEC: i64 = 1_000_000_000;

/// Position in one container's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Newest timestamp taken, ns since the epoch (0: nothing yet).
    pub ts_ns: i64,
    /// How many lines stamped exactly `ts_ns` were taken.
    pub at_ts: u64,
}

impl Checkpoint {
    /// Records that one more line, stamped `ts_ns`, was taken.
    pub fn advance(&mut self, ts_ns: i64) {
        if ts_ns > self.ts_ns {
            *self = Checkpoint { ts_ns, at_ts: 1 };
        } else if ts_ns == self.ts_ns {
            self.at_ts += 1;
        }
    }

    /// The whole second to ask Docker for (`since=`), at or before the checkpoint.
    pub fn since_secs(&self) -> i32 {
        if self.ts_ns <= 0 {
            return 0;
        }
        i32::try_from(self.ts_ns.div_euclid(NS_PER_SEC)).unwrap_or(i32::MAX)
    }
}

/// Skips the lines a checkpoint already covers when a log is read again from
/// the checkpoint's whole second; admits everything after the first new line.
#[derive(Debug, Clone)]
pub struct Replay {
    checkpoint: Checkpoint,
    seen_at_ts: u64,
    caught_up: bool,
}

impl Replay {
    pub fn new(checkpoint: Checkpoint) -> Replay {
        Replay {
            checkpoint,
            seen_at_ts: 0,
            caught_up: checkpoint.ts_ns <= 0,
        }
    }

    /// Whether a line stamped `ts_ns` is new (and must be taken).
    pub fn admit(&mut self, ts_ns: i64) -> bool {
        if self.caught_up {
            return true;
        }
        if ts_ns < self.checkpoint.ts_ns {
            return false;
        }
        if ts_ns == self.checkpoint.ts_ns {
            self.seen_at_ts += 1;
            if self.seen_at_ts <= self.checkpoint.at_ts {
                return false;
            }
        }
        self.caught_up = true;
        true
    }
}

/// What the index knows about one container: its checkpoint and line stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub checkpoint: Checkpoint,
    pub lines: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub name: String,
    pub image: String,
    pub service: Option<String>,
    pub project: Option<String>,
    /// How far behind Docker the newest line was when it was ingested.
    #[serde(skip)]
    pub lag_ns: i64,
}

impl ContainerState {
    /// Accounts for one more indexed line of this container.
    pub fn take(&mut self, ts_ns: i64, meta: &ContainerMeta) {
        self.checkpoint.advance(ts_ns);
        if self.lines == 0 || ts_ns < self.first_ts {
            self.first_ts = ts_ns;
        }
        self.last_ts = self.last_ts.max(ts_ns);
        self.lines += 1;
        if self.name != meta.name {
            self.name.clone_from(&meta.name);
            self.image.clone_from(&meta.image);
            self.service.clone_from(&meta.service);
            self.project.clone_from(&meta.project);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_skips_exactly_what_was_taken_at_the_same_nanosecond() {
        let mut cp = Checkpoint::default();
        for ts in [1_000, 2_000, 2_000, 2_000] {
            cp.advance(ts);
        }
        assert_eq!(
            cp,
            Checkpoint {
                ts_ns: 2_000,
                at_ts: 3
            }
        );
        // The log is read again from the whole second: 1000, 2000 ×4, 3000.
        let mut replay = Replay::new(cp);
        let admitted: Vec<bool> = [1_000, 2_000, 2_000, 2_000, 2_000, 3_000]
            .into_iter()
            .map(|ts| replay.admit(ts))
            .collect();
        assert_eq!(admitted, [false, false, false, false, true, true]);
    }

    #[test]
    fn after_the_first_new_line_everything_is_admitted() {
        let mut replay = Replay::new(Checkpoint { ts_ns: 5, at_ts: 1 });
        assert!(!replay.admit(5));
        assert!(replay.admit(6));
        assert!(replay.admit(4), "out-of-order lines after the seam are new");
    }

    #[test]
    fn since_is_the_whole_second_at_or_before() {
        let cp = Checkpoint {
            ts_ns: 1_700_000_000_999_999_999,
            at_ts: 1,
        };
        assert_eq!(cp.since_secs(), 1_700_000_000);
        assert_eq!(Checkpoint::default().since_secs(), 0);
    }
}
