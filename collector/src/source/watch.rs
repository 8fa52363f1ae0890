//! One inotify instance for every log file the collector reads from disk.
//!
//! A follow task reading a container's `json-file` log asks for a watch on
//! the container's directory (not the file: Docker rotates by renaming, and a
//! watch on the directory sees both the writes to the current file and the
//! new file appearing) and waits on the `Notify` it gets back. One shared
//! instance, not one per container: Linux allows 128 inotify instances per
//! user by default, and a host runs more containers than that.
//!
//! Under a steady stream the kernel reports every write. The event thread
//! wakes a follower at once on the first event, then lets events gather for
//! [`COALESCE`] before the next round, so a busy container costs its follower
//! at most one wake-up per round instead of one per line.
//!
//! It is a plain thread blocked in `poll(2)`, not a task on the runtime: a
//! registered file descriptor wakes the runtime's worker out of `epoll_wait`
//! on every new event even while nobody waits for it, and at 10k lines/s
//! that was about 7,000 wake-ups a second that found nothing to do. Events
//! that arrive while the thread sleeps between rounds wake nobody.
//!
//! An idle container's follower sleeps until an event comes: no timer. When
//! the kernel drops events (its queue overflowed) every follower is woken;
//! when inotify fails for good, every follower is woken and told that files
//! are polled from then on ([`Watch::polled`]).

use std::collections::HashMap;
use std::io::{self, PipeReader, PipeWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use rustix::event::{PollFd, PollFlags, poll};
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
    /// Dropped with the watcher, which ends the event thread.
    _stop: PipeWriter,
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
    /// Creates the instance and starts the thread that dispatches its events.
    pub fn start() -> io::Result<Arc<Watcher>> {
        let inotify = Inotify::init()?;
        let watches = inotify.watches();
        let (stop_rx, stop_tx) = io::pipe()?;
        let targets: Arc<Mutex<Targets>> = Arc::default();
        let failed = Arc::new(AtomicBool::new(false));
        let (t, f) = (Arc::clone(&targets), Arc::clone(&failed));
        std::thread::Builder::new()
            .name("wakeline-inotify".into())
            .spawn(move || dispatch(inotify, &stop_rx, &t, &f))?;
        Ok(Arc::new(Watcher {
            watches: Mutex::new(watches),
            targets,
            failed,
            _stop: stop_tx,
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

/// The event thread: until the watcher is dropped, waits for events, wakes
/// the followers they concern, and sleeps [`COALESCE`] between rounds.
fn dispatch(
    mut inotify: Inotify,
    stop: &PipeReader,
    targets: &Mutex<Targets>,
    failed: &AtomicBool,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match wait(&inotify, stop) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return fail(&e, targets, failed),
        }
        // Everything already queued, then one round of wake-ups.
        let mut woken: Vec<Arc<Notify>> = Vec::new();
        let mut all = false;
        loop {
            let events = match inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return fail(&e, targets, failed),
            };
            let targets = lock(targets);
            for event in events {
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    all = true;
                } else if let Some(target) = targets.get(&event.wd) {
                    if event.mask.contains(EventMask::CREATE) {
                        target.rotations.note(&target.log);
                    }
                    if !woken.iter().any(|n| Arc::ptr_eq(n, &target.notify)) {
                        woken.push(Arc::clone(&target.notify));
                    }
                }
            }
        }
        if all {
            // The kernel dropped events: wake everyone.
            wake_all(targets);
        }
        for notify in woken {
            notify.notify_one();
        }
        std::thread::sleep(COALESCE);
    }
}

/// Blocks until events are queued (true) or the watcher is dropped (false).
fn wait(inotify: &Inotify, stop: &PipeReader) -> io::Result<bool> {
    loop {
        let mut fds = [
            PollFd::new(inotify, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        if !fds[1].revents().is_empty() {
            return Ok(false);
        }
        let events = fds[0].revents();
        if events.intersects(PollFlags::ERR | PollFlags::NVAL) {
            return Err(io::Error::other(format!("poll on inotify: {events:?}")));
        }
        if events.contains(PollFlags::IN) {
            return Ok(true);
        }
    }
}

/// Inotify failed for good: every follower is woken, sees the flag and
/// re-reads its file on a timer from then on, so nothing is lost.
fn fail(error: &io::Error, targets: &Mutex<Targets>, failed: &AtomicBool) {
    tracing::warn!(%error, "inotify failed; log files are polled from now on");
    failed.store(true, Ordering::Release);
    wake_all(targets);
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(10);

    /// Real inotify on a temporary directory: a write to the log, and a file
    /// created beside it (a rotation), each wake the log's watch, and not a
    /// watch on another directory; a dropped watch is forgotten.
    #[tokio::test]
    async fn changes_in_a_watched_directory_wake_its_watch_only() {
        let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let log = dir.path().join("c-json.log");
        std::fs::write(&log, b"").unwrap();
        let watcher = Watcher::start().unwrap();
        let watch = watcher.watch(&log, Arc::default()).unwrap();
        let elsewhere = watcher
            .watch(&other.path().join("d-json.log"), Arc::default())
            .unwrap();
        assert!(!watch.polled());

        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(b"{\"log\":\"a\\n\"}\n").unwrap();
        tokio::time::timeout(DEADLINE, watch.changed.notified())
            .await
            .expect("a write wakes the watch");

        std::fs::rename(&log, dir.path().join("c-json.log.1")).unwrap();
        std::fs::write(&log, b"").unwrap();
        tokio::time::timeout(DEADLINE, watch.changed.notified())
            .await
            .expect("a rotation wakes the watch");

        // Had `elsewhere` been woken, its permit would be waiting now.
        let woken = elsewhere.changed.notified();
        tokio::pin!(woken);
        assert!(
            futures_util::FutureExt::now_or_never(woken.as_mut()).is_none(),
            "a change in another directory woke this watch"
        );

        drop(watch);
        assert_eq!(
            lock(&watcher.targets).len(),
            1,
            "the dropped watch is forgotten"
        );
        assert!(!elsewhere.polled(), "inotify kept working throughout");
    }
}
