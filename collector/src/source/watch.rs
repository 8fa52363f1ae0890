//! One inotify instance for every log file the collector reads from disk.
//!
//! A follow task reading a container's `json-file` log asks for a watch on
//! the container's directory (not the file: Docker rotates by renaming, and a
//! watch on the directory sees both the writes to the current file and the
//! new file appearing) and waits on the `Notify` it gets back. One shared
//! instance, not one per container: Linux allows 128 inotify instances per
//! user by default, and a host runs more containers than that.
//!
//! Under a steady stream the kernel reports every write. The event task
//! wakes a follower at once on the first event, then lets events gather for
//! [`COALESCE`] before the next round, so a busy container costs its follower
//! at most one wake-up per round instead of one per line.
//!
//! An idle container's follower sleeps until an event comes: no timer. When
//! the kernel drops events (its queue overflowed) every follower is woken;
//! when inotify fails for good, every follower is woken and told that files
//! are polled from then on ([`Watch::polled`]).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use tokio::sync::Notify;

use super::logfile::Rotations;

/// Least time between two rounds of waking followers while files keep changing.
pub const COALESCE: Duration = Duration::from_millis(1);

/// Who waits on a directory, and the log in it whose rotations are noted.
#[derive(Debug)]
struct Target {
    notify: Arc<Notify>,
    log: PathBuf,
    rotations: Arc<Rotations>,
}

type Targets = HashMap<WatchDescriptor, Target>;

/// The shared inotify instance and who waits on which directory.
#[derive(Debug)]
pub struct Watcher {
    watches: Mutex<Watches>,
    targets: Arc<Mutex<Targets>>,
    /// Set once inotify has failed: events no longer come.
    failed: Arc<AtomicBool>,
}

/// A watch on one directory; removed when dropped.
#[derive(Debug)]
pub struct Watch {
    watcher: Arc<Watcher>,
    wd: WatchDescriptor,
    /// Notified when something in the directory changed.
    pub changed: Arc<Notify>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Watcher {
    /// Creates the instance and spawns the task that dispatches its events.
    pub fn start() -> io::Result<Arc<Watcher>> {
        let inotify = Inotify::init()?;
        let watches = inotify.watches();
        let stream = inotify.into_event_stream(vec![0u8; 64 * 1024])?;
        let targets: Arc<Mutex<Targets>> = Arc::default();
        let failed = Arc::new(AtomicBool::new(false));
        tokio::spawn(dispatch(stream, Arc::clone(&targets), Arc::clone(&failed)));
        Ok(Arc::new(Watcher {
            watches: Mutex::new(watches),
            targets,
            failed,
        }))
    }

    /// Watches the directory of `log` for files written, created or renamed
    /// into it; a file created there is a rotation of `log`, noted in
    /// `rotations` at once (the follower may be held back meanwhile).
    pub fn watch(self: &Arc<Watcher>, log: &Path, rotations: Arc<Rotations>) -> io::Result<Watch> {
        let dir = log
            .parent()
            .ok_or_else(|| io::Error::other("a log file path without a directory"))?;
        let mask = WatchMask::MODIFY | WatchMask::CREATE | WatchMask::MOVED_TO;
        let wd = lock(&self.watches).add(dir, mask)?;
        let changed = Arc::new(Notify::new());
        let target = Target {
            notify: Arc::clone(&changed),
            log: log.to_path_buf(),
            rotations,
        };
        lock(&self.targets).insert(wd.clone(), target);
        Ok(Watch {
            watcher: Arc::clone(self),
            wd,
            changed,
        })
    }
}

impl Watch {
    /// Whether the file must be re-read on a timer: inotify has failed, and
    /// `changed` is notified no more.
    pub fn polled(&self) -> bool {
        self.watcher.failed.load(Ordering::Acquire)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        lock(&self.watcher.targets).remove(&self.wd);
        // Fails when the directory is gone (the kernel removed the watch
        // itself): nothing left to do then.
        let _ = lock(&self.watcher.watches).remove(self.wd.clone());
    }
}

async fn dispatch(
    mut stream: inotify::EventStream<Vec<u8>>,
    targets: Arc<Mutex<Targets>>,
    failed: Arc<AtomicBool>,
) {
    while let Some(first) = stream.next().await {
        let mut next = Some(first);
        // Everything already queued, then one round of wake-ups.
        let mut woken: Vec<Arc<Notify>> = Vec::new();
        let mut all = false;
        while let Some(event) = next.take() {
            match event {
                Ok(event) if event.mask.contains(EventMask::Q_OVERFLOW) => all = true,
                Ok(event) => {
                    if let Some(target) = lock(&targets).get(&event.wd) {
                        if event.mask.contains(EventMask::CREATE) {
                            target.rotations.note(&target.log);
                        }
                        if !woken.iter().any(|n| Arc::ptr_eq(n, &target.notify)) {
                            woken.push(Arc::clone(&target.notify));
                        }
                    }
                }
                Err(e) => {
                    // Every follower is woken, sees the flag and re-reads
                    // its file on a timer from then on: nothing is lost.
                    tracing::warn!(error = %e, "inotify failed; log files are polled from now on");
                    failed.store(true, Ordering::Release);
                    wake_all(&targets);
                    return;
                }
            }
            next = stream.next().now_or_never().flatten();
        }
        if all {
            // The kernel dropped events: wake everyone.
            wake_all(&targets);
        }
        for notify in woken {
            notify.notify_one();
        }
        tokio::time::sleep(COALESCE).await;
    }
    tracing::warn!("inotify stopped; log files are polled from now on");
    failed.store(true, Ordering::Release);
    wake_all(&targets);
}

fn wake_all(targets: &Mutex<Targets>) {
    let all: Vec<Arc<Notify>> = lock(targets)
        .values()
        .map(|t| Arc::clone(&t.notify))
        .collect();
    for notify in all {
        notify.notify_one();
    }
}
