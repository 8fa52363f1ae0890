//! Load: 50 containers writing at once (10,000 lines/s in all) while 15 live
//! clients read, 5 never read, and a search runs in a loop. Every line is
//! indexed once, every reading client gets each line once or counted in a
//! gap, no search fails, and the collector's memory stays bounded. Heavy:
//! `cargo test -p wakeline-e2e --test collector load -- --ignored --nocapture`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::hostile::peak_rss;
use super::*;

const CONTAINERS: usize = 50;
const LINES_EACH: u64 = 2_000;
const READERS: usize = 15;
const STALLED: usize = 5;

#[test]
#[ignore = "heavy (50 containers, 100,000 lines, 20 clients); run by the command in the module doc"]
fn fifty_writers_twenty_live_clients_and_a_search_loop() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let project = unique("load");
    let in_project = format!("project:\"{project}\"");
    let filter = query(&[("q", &in_project)]);
    let total = CONTAINERS as u64 * LINES_EACH;

    let stalled: Vec<wakeline_e2e::Live> = (0..STALLED).map(|_| collector.live(&filter)).collect();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let mut live = collector.live(&filter);
            std::thread::spawn(move || {
                let (mut received, mut dropped, mut last_seq) = (0u64, 0u64, 0u64);
                while received + dropped < total {
                    let message = match live.next(Duration::from_secs(120)) {
                        Ok(message) => message,
                        Err(e) => return Err(format!("{e} after {received} + {dropped} gapped")),
                    };
                    if message["type"] == "gap" {
                        dropped += message["dropped"].as_u64().unwrap_or(0);
                        continue;
                    }
                    let seq = message["seq"].as_u64().unwrap_or(0);
                    if seq <= last_seq {
                        return Err(format!("seq {seq} after {last_seq}"));
                    }
                    last_seq = seq;
                    received += 1;
                }
                Ok((received, dropped))
            })
        })
        .collect();

    let stop = AtomicBool::new(false);
    let searches = AtomicU64::new(0);
    let (containers, indexed, elapsed, search_failures) = std::thread::scope(|scope| {
        let search_loop = scope.spawn(|| {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let q = query(&[("q", &format!("{in_project} AND w")), ("limit", "50")]);
                let (status, body) = collector.get(&format!("/api/search?{q}"));
                if status != 200 {
                    failures.push(format!("{status}: {body}"));
                }
                searches.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            failures
        });
        let started = Instant::now();
        let containers: Vec<Container> = (0..CONTAINERS)
            .map(|i| {
                let step = format!("rate:out:w {i} n=:1:{LINES_EACH}:200");
                ContainerSpec::new("load", &[step.as_str()])
                    .project(&project)
                    .run()
            })
            .collect();
        let indexed =
            collector.wait_total_within(&[("q", &in_project)], total, Duration::from_secs(300));
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let failures = search_loop.join().expect("the search loop");
        (containers, indexed, elapsed, failures)
    });
    eprintln!(
        "load: {indexed} of {total} lines indexed {elapsed:?} after the first start ({:.0} lines/s), {} searches",
        indexed as f64 / elapsed.as_secs_f64(),
        searches.load(Ordering::Relaxed)
    );
    for (i, container) in containers.iter().enumerate() {
        let hits = collector.all_hits(&by_container(container));
        assert_each_once(&hits, &format!("w {i} n="), LINES_EACH, &container.name);
    }
    for (i, reader) in readers.into_iter().enumerate() {
        let (received, dropped) = reader
            .join()
            .expect("a reader")
            .unwrap_or_else(|e| panic!("reader {i}: {e}"));
        eprintln!("load: reader {i}: {received} received, {dropped} in gaps");
    }
    assert!(search_failures.is_empty(), "{search_failures:?}");
    drop(stalled);
    let peak = peak_rss(&collector);
    eprintln!("load: collector peak RSS (VmHWM) {} MiB", peak >> 20);
    assert!(peak < 512 * MIB as u64, "peak RSS {} MiB", peak >> 20);
}
