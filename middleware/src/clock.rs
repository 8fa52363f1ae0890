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

use std::cell::Cell;
use std::time::SystemTime;

thread_local! {
    static PINNED: Cell<Option<SystemTime>> = const { Cell::new(None) };
}

/// The time pinned on this thread, else a fresh reading of the wall clock.
pub(crate) fn now() -> SystemTime {
    PINNED.with(Cell::get).unwrap_or_else(SystemTime::now)
}

/// Makes [`now`] return `time` on this thread until the guard is dropped
/// (which restores whatever was pinned before, so pins nest).
pub(crate) fn pin(time: SystemTime) -> Pin {
    Pin {
        previous: PINNED.with(|pinned| pinned.replace(Some(time))),
    }
}

/// Restores the previously pinned time when dropped; see [`pin`].
#[must_use = "the time is pinned only while the guard lives"]
pub(crate) struct Pin {
    previous: Option<SystemTime>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        PINNED.with(|pinned| pinned.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_pin_holds_the_time_until_dropped_and_pins_nest() {
        let outer = UNIX_EPOCH + Duration::from_secs(1);
        let inner = UNIX_EPOCH + Duration::from_secs(2);
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
