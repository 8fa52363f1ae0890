//! Checkpoints: how far each container's log has been taken. The contract
//! between the first stage (`source`, which resumes from a checkpoint) and
//! the last (`index`, which writes the checkpoints in the same tantivy commit
//! as the documents, so that the two can never disagree after a crash).
//!
//! Docker stamps each stream of a container in its own goroutine, so a
//! container has one checkpoint per stream (a [`Position`]). A checkpoint is
//! the newest Docker timestamp taken from that stream plus how many lines
//! carried exactly that timestamp. Docker's `since` filter is inclusive, but
//! the typed client only sends whole seconds: a resume asks from the earlier
//! stream's whole second and [`Replay`] skips, per stream, what its
//! checkpoint says is already indexed.
//!
//! Per stream matters because a stream may hold a line back while the other
//! goes on: the head of a stack trace waits for its continuation lines (see
//! `multiline`), a 16 KiB fragment for the rest of its line. A single
//! checkpoint would run past the held line and lose it in a crash.
//!
//! A stream that has written nothing for a while would keep the resume point
//! far back (a container that never writes to stderr would be read from its
//! first line at every start). The reader therefore raises a quiet stream's
//! checkpoint to [`QUIET_MARGIN_NS`] before the newest line read from the
//! other, but never past a line of that stream it has not sent yet (held by
//! the assembler or the joiner, or queued behind the record being sent):
//! lines of the two streams reach the log in the order they were stamped,
//! give or take the few microseconds between Docker's stamping and writing
//! a line.

use serde::{Deserialize, Serialize};

use crate::record::{ContainerMeta, Stream};

const NS_PER_SEC: i64 = 1_000_000_000;

/// How far behind the newest line read a quiet stream's checkpoint is
/// raised (see the module doc): far more than the reordering of the two
/// streams can be.
pub const QUIET_MARGIN_NS: i64 = 2 * NS_PER_SEC;

/// Position in one stream of a container's log. Ordered by time, then count.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
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

    /// Records that `more` lines were taken, the newest stamped `newest`
    /// (the fold of [`Checkpoint::advance`] over them, in one step).
    pub fn absorb(&mut self, more: Checkpoint) {
        if more.ts_ns > self.ts_ns {
            *self = more;
        } else if more.ts_ns == self.ts_ns {
            self.at_ts += more.at_ts;
        }
    }
}

/// Where a container's log has been taken to: a checkpoint per stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub stdout: Checkpoint,
    pub stderr: Checkpoint,
}

impl Position {
    /// The same checkpoint for both streams (what versions before
    /// per-stream checkpoints stored).
    pub fn both(checkpoint: Checkpoint) -> Position {
        Position {
            stdout: checkpoint,
            stderr: checkpoint,
        }
    }

    pub fn get(&self, stream: Stream) -> Checkpoint {
        match stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        }
    }

    pub fn get_mut(&mut self, stream: Stream) -> &mut Checkpoint {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Keeps, per stream, the further of the two.
    pub fn merge(&mut self, other: &Position) {
        self.stdout = self.stdout.max(other.stdout);
        self.stderr = self.stderr.max(other.stderr);
    }

    /// Nothing taken yet from either stream.
    pub fn is_start(&self) -> bool {
        *self == Position::default()
    }

    /// The earliest timestamp a line not yet taken may carry (0: the start).
    pub fn from_ts_ns(&self) -> i64 {
        self.stdout.ts_ns.min(self.stderr.ts_ns).max(0)
    }

    /// The whole second to ask Docker for (`since=`), at or before both
    /// checkpoints.
    pub fn since_secs(&self) -> i32 {
        let ts_ns = self.from_ts_ns();
        if ts_ns <= 0 {
            return 0;
        }
        i32::try_from(ts_ns.div_euclid(NS_PER_SEC)).unwrap_or(i32::MAX)
    }
}

/// Skips the lines a position already covers when a log is read again from
/// its whole second, per stream.
#[derive(Debug, Clone)]
pub struct Replay {
    stdout: StreamReplay,
    stderr: StreamReplay,
}

impl Replay {
    pub fn new(position: Position) -> Replay {
        Replay {
            stdout: StreamReplay::new(position.stdout),
            stderr: StreamReplay::new(position.stderr),
        }
    }

    /// Whether a line of `stream` stamped `ts_ns` is new (and must be taken).
    pub fn admit(&mut self, stream: Stream, ts_ns: i64) -> bool {
        match stream {
            Stream::Stdout => self.stdout.admit(ts_ns),
            Stream::Stderr => self.stderr.admit(ts_ns),
        }
    }
}

/// One stream's replay: skips what the checkpoint covers, then admits
/// everything after the first new line.
#[derive(Debug, Clone)]
struct StreamReplay {
    checkpoint: Checkpoint,
    seen_at_ts: u64,
    caught_up: bool,
}

impl StreamReplay {
    fn new(checkpoint: Checkpoint) -> StreamReplay {
        StreamReplay {
            checkpoint,
            seen_at_ts: 0,
            caught_up: checkpoint.ts_ns <= 0,
        }
    }

    fn admit(&mut self, ts_ns: i64) -> bool {
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
    /// Where reading resumes (none once the container is removed).
    #[serde(default, skip_serializing_if = "Position::is_start")]
    pub position: Position,
    /// The single checkpoint of versions before per-stream ones; read once
    /// by [`ContainerState::upgrade`], never written.
    #[serde(default, rename = "checkpoint", skip_serializing)]
    legacy_checkpoint: Option<Checkpoint>,
    pub lines: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub name: String,
    pub image: String,
    pub service: Option<String>,
    pub project: Option<String>,
    /// The Docker host's name (empty in payloads from before it was kept).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// How far behind Docker the newest line was when it was ingested.
    #[serde(skip)]
    pub lag_ns: i64,
    /// The container is gone from Docker (a `destroy` event, or absent
    /// from a complete list): its log will never be read again, so it has
    /// no checkpoint; the entry stays while the index holds its records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// The seq after its newest record added by this process (0: none):
    /// whether every one of them is searchable yet (see `ledger`).
    #[serde(skip)]
    pub seq_end: u64,
}

impl ContainerState {
    /// Turns what an older version stored into today's shape: its one
    /// checkpoint covered both streams.
    pub fn upgrade(&mut self) {
        if let Some(checkpoint) = self.legacy_checkpoint.take()
            && self.position == Position::default()
        {
            self.position = Position::both(checkpoint);
        }
    }

    /// Marks the container removed from Docker: its checkpoint goes (there
    /// is no log to resume any more), its counts stay.
    pub fn remove(&mut self) {
        self.removed = true;
        self.position = Position::default();
    }

    /// Accounts for one more indexed record of this container, taken from
    /// the log up to `position` (a removed container's last lines, still
    /// queued when it went, bring no checkpoint back).
    pub fn take(&mut self, ts_ns: i64, meta: &ContainerMeta, position: &Position) {
        if !self.removed {
            self.position.merge(position);
        }
        if self.lines == 0 || ts_ns < self.first_ts {
            self.first_ts = ts_ns;
        }
        self.last_ts = self.last_ts.max(ts_ns);
        self.lines += 1;
        if self.name != meta.name || self.host != meta.host {
            self.host.clone_from(&meta.host);
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
        let mut replay = Replay::new(Position::both(cp));
        let admitted: Vec<bool> = [1_000, 2_000, 2_000, 2_000, 2_000, 3_000]
            .into_iter()
            .map(|ts| replay.admit(Stream::Stdout, ts))
            .collect();
        assert_eq!(admitted, [false, false, false, false, true, true]);
    }

    #[test]
    fn after_the_first_new_line_everything_is_admitted() {
        let mut replay = Replay::new(Position::both(Checkpoint { ts_ns: 5, at_ts: 1 }));
        assert!(!replay.admit(Stream::Stdout, 5));
        assert!(replay.admit(Stream::Stdout, 6));
        assert!(
            replay.admit(Stream::Stdout, 4),
            "out-of-order lines after the seam are new"
        );
    }

    #[test]
    fn each_stream_replays_against_its_own_checkpoint() {
        // stderr held a line stamped 10 back while stdout went on to 30.
        let position = Position {
            stdout: Checkpoint {
                ts_ns: 30,
                at_ts: 1,
            },
            stderr: Checkpoint { ts_ns: 5, at_ts: 1 },
        };
        assert_eq!(position.from_ts_ns(), 5);
        let mut replay = Replay::new(position);
        assert!(!replay.admit(Stream::Stdout, 20));
        assert!(replay.admit(Stream::Stderr, 10), "the held line comes back");
        assert!(!replay.admit(Stream::Stdout, 30));
        assert!(replay.admit(Stream::Stdout, 31));
    }

    #[test]
    fn absorbing_a_group_equals_advancing_line_by_line() {
        let lines = [7, 9, 9, 8, 9];
        let mut one_by_one = Checkpoint { ts_ns: 9, at_ts: 2 };
        for ts in lines {
            one_by_one.advance(ts);
        }
        let mut absorbed = Checkpoint { ts_ns: 9, at_ts: 2 };
        absorbed.absorb(Checkpoint { ts_ns: 9, at_ts: 3 });
        assert_eq!(absorbed, one_by_one);
        let mut later = Checkpoint { ts_ns: 1, at_ts: 4 };
        later.absorb(Checkpoint { ts_ns: 9, at_ts: 3 });
        assert_eq!(later, Checkpoint { ts_ns: 9, at_ts: 3 });
    }

    #[test]
    fn a_payload_from_before_per_stream_checkpoints_covers_both_streams() {
        let old = r#"{"checkpoint":{"ts_ns":42,"at_ts":2},"lines":3,"first_ts":1,"last_ts":42,
            "name":"web","image":"img","service":null,"project":null}"#;
        let mut state: ContainerState = serde_json::from_str(old).unwrap();
        state.upgrade();
        let cp = Checkpoint {
            ts_ns: 42,
            at_ts: 2,
        };
        assert_eq!(state.position, Position::both(cp));
        let written = serde_json::to_string(&state).unwrap();
        assert!(!written.contains("\"checkpoint\""), "{written}");
        let mut again: ContainerState = serde_json::from_str(&written).unwrap();
        again.upgrade();
        assert_eq!(again, state);
    }

    #[test]
    fn since_is_the_whole_second_at_or_before() {
        let cp = Checkpoint {
            ts_ns: 1_700_000_000_999_999_999,
            at_ts: 1,
        };
        assert_eq!(Position::both(cp).since_secs(), 1_700_000_000);
        assert_eq!(Position::default().since_secs(), 0);
    }
}
