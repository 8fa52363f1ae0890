//! The wall clock, read as few times as a request needs.
//!
//! A clock read costs 35–45 ns on the VMs this is measured on (a `vDSO`
//! call, more than writing a whole request line), and a request with lines
//! on needs the time five times: its UUIDv7, the start line's `ts`, the
//! start of its duration, its end and the end line's `ts`. So the layer
//! reads the wall clock once when a request starts and once when it ends,
//! and [`pin`]s each reading on the thread while it makes the ID and writes
//! the line: [`now`], which the UUIDv7 maker and the JSON layer call, then
//! returns it instead of reading the clock again. The duration is the
//! difference of the two readings.
//!
//! A pin lasts only while the layer's own synchronous code runs (never
//! across the inner service or an `.await`), so every other line is stamped
//! with a fresh reading.
//!
//! Times are durations since the Unix epoch, the form every user needs
//! (the ID's milliseconds, a line's date and nanoseconds, a difference),
//! so each reading is converted once.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    static PINNED: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Reads the wall clock: the time since the Unix epoch (zero for a clock
/// set before 1970, a broken clock rather than a time worth a code path).
pub(crate) fn read() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The time pinned on this thread, else a fresh [`read`].
pub(crate) fn now() -> Duration {
    PINNED.with(Cell::get).unwrap_or_else(read)
}

/// Makes [`now`] return `time` on this thread until the guard is dropped
/// (which restores whatever was pinned before, so pins nest).
pub(crate) fn pin(time: Duration) -> Pin {
    Pin {
        previous: PINNED.with(|pinned| pinned.replace(Some(time))),
    }
}

/// Restores the previously pinned time when dropped; see [`pin`].
#[must_use = "the time is pinned only while the guard lives"]
pub(crate) struct Pin {
    previous: Option<Duration>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        PINNED.with(|pinned| pinned.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_holds_the_time_until_dropped_and_pins_nest() {
        let outer = Duration::from_secs(1);
        let inner = Duration::from_secs(2);
        assert!(now() > inner, "unpinned, now reads the clock");
        {
            let _outer = pin(outer);
            assert_eq!(now(), outer);
            {
                let _inner = pin(inner);
                assert_eq!(now(), inner);
            }
            assert_eq!(now(), outer);
        }
        assert!(now() > inner);
    }
}
