//! The engine connection under faults, through the test's Docker API proxy
//! (`wakeline_e2e::sockproxy`): the collector with only the read endpoints
//! allowed, connections cut mid-stream, the socket gone for a while, and (an
//! ignored test) the engine itself restarted. Every line exactly once, and
//! `/healthz` says the engine is unreachable while it is.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use wakeline_e2e::SockProxy;
use wakeline_e2e::sockproxy::read_only_rules;

use super::*;

/// The read path flags: the default (files from disk) and everything through
/// the API.
const PATHS: [(&str, &[&str]); 2] = [("files", &[]), ("api", &["--log-files", "api"])];

fn start_behind(proxy: &SockProxy, dir: &std::path::Path, read_path: &[&str]) -> Collector {
    let host = proxy.docker_host();
    let mut args = vec!["--docker-host", host.as_str()];
    args.extend_from_slice(read_path);
    Collector::start_with(dir, &args)
}

/// `docker.ok` and the HTTP status of `/healthz`; while the engine is
/// down, the body must also say since when and why.
fn docker_health(collector: &Collector) -> (bool, u16) {
    let (status, body) = collector.get("/healthz");
    let ok = body["docker"]["ok"] == true;
    if !ok {
        let docker = &body["docker"];
        assert!(docker["since"].is_string(), "no since: {body}");
        assert!(
            docker["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no reason: {body}"
        );
    }
    (ok, status)
}

#[test]
fn proxy_answers_403_to_endpoints_off_its_list() {
    let proxy = SockProxy::start(read_only_rules());
    let mut socket = UnixStream::connect(proxy.socket()).expect("connect to the proxy");
    socket
        .write_all(b"POST /v1.41/containers/x/stop HTTP/1.1\r\nHost: docker\r\n\r\n")
        .expect("send a request");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).expect("read the answer");
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    let mut socket = UnixStream::connect(proxy.socket()).expect("connect to the proxy");
    socket
        .write_all(b"GET /v1.41/_ping HTTP/1.1\r\nHost: docker\r\nConnection: keep-alive\r\n\r\n")
        .expect("send a request");
    let mut answer = String::new();
    socket
        .read_to_string(&mut answer)
        .expect("the engine's answer ends: the proxy forwarded it with Connection: close");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("OK"), "{answer}");
    let denied = proxy.denied();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].target, "/v1.41/containers/x/stop");
}

#[test]
fn collector_behind_a_read_only_proxy_collects_and_asks_nothing_else() {
    let proxy = SockProxy::start(read_only_rules());
    let project = unique("readonly");
    let early = ContainerSpec::new("ro-early", &["count:out:n=:1:100:0", "err:early-err"])
        .project(&project)
        .run();
    early.wait_exited(DEADLINE);
    let dirs = [data_dir(), data_dir()];
    let collectors: Vec<Collector> = PATHS
        .iter()
        .zip(&dirs)
        .map(|((_, flags), dir)| start_behind(&proxy, dir.path(), flags))
        .collect();
    // Started later: found through the events; then restarted.
    let late = ContainerSpec::new("ro-late", &["stamp:out:run=", "count:out:l=:1:50:0"])
        .project(&project)
        .run();
    late.wait_exited(DEADLINE);
    for ((path, _), collector) in PATHS.iter().zip(&collectors) {
        let hits = wait_records(collector, &early, 101);
        let (numbered, other): (Vec<Value>, Vec<Value>) =
            hits.into_iter().partition(|h| h["stream"] == "stdout");
        assert_each_once(&numbered, "n=", 100, path);
        assert_eq!(messages(&other), ["early-err"], "{path}");
        wait_records(collector, &late, 51);
        let (ok, status) = docker_health(collector);
        assert!(ok && status == 200, "{path}: /healthz {status}");
    }
    late.start();
    for ((path, _), collector) in PATHS.iter().zip(&collectors) {
        let hits = wait_records(collector, &late, 102);
        assert_eq!(
            hits.iter()
                .filter(|h| h["message"].as_str().unwrap_or("").starts_with("run="))
                .count(),
            2,
            "{path}"
        );
    }
    let (_, body) = collectors[1].get("/api/containers");
    let late_entry = body["containers"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["id"] == late.id.as_str()).cloned())
        .unwrap_or_default();
    assert_eq!(late_entry["read_from"], "api", "{late_entry}");

    let seen = proxy.seen();
    let denied = proxy.denied();
    assert!(
        denied.is_empty(),
        "asked beyond the read endpoints: {denied:?}"
    );
    for endpoint in ["/info", "/containers/json", "/events", "/logs"] {
        assert!(
            seen.iter()
                .any(|s| s.target.split('?').next().unwrap_or("").ends_with(endpoint)),
            "never asked for {endpoint}: {seen:?}"
        );
    }
    let mut kinds: Vec<String> = seen
        .iter()
        .map(|s| {
            // Container IDs (of every container on the host) as `{id}`.
            let path: Vec<&str> = s
                .target
                .split('?')
                .next()
                .unwrap_or("")
                .split('/')
                .map(|seg| {
                    let id = seg.len() == 64 && seg.bytes().all(|b| b.is_ascii_hexdigit());
                    if id { "{id}" } else { seg }
                })
                .collect();
            format!("{} {}", s.method, path.join("/"))
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    eprintln!("the collector asked the engine for: {kinds:?}");
}

/// Two containers writing numbered lines (15 s) while the proxy cuts every
/// connection three times and twice refuses new ones for 3 s.
fn survives_cuts_and_outages(read_path: &str, flags: &[&str]) {
    const LINES: u64 = 9_000;
    let proxy = SockProxy::start(read_only_rules());
    let dir = data_dir();
    let collector = start_behind(&proxy, dir.path(), flags);
    let writers: Vec<Container> = (0..2)
        .map(|i| {
            ContainerSpec::new(
                &format!("cut-{read_path}-{i}"),
                &["rate:out:n=:1:9000:600", "stay"],
            )
            .log_opt("max-size=50m")
            .run()
        })
        .collect();
    let progress = |collector: &Collector| -> u64 {
        writers
            .iter()
            .map(|w| collector.total(&by_container(w)))
            .sum()
    };
    poll(Duration::from_secs(60), || {
        (progress(&collector) >= 500).then_some(())
    })
    .expect("lines arrive before the faults");

    let mut faults = Vec::new();
    for round in 0..5 {
        let before = progress(&collector);
        if round % 2 == 0 {
            proxy.cut();
            faults.push(format!("cut at {before} lines"));
        } else {
            proxy.outage(Duration::from_secs(3));
            // While the socket is gone, /healthz must say so.
            let mut reported = false;
            while !proxy.listening() {
                let (ok, status) = docker_health(&collector);
                if !ok {
                    assert_eq!(status, 503, "degraded health answers 503");
                    reported = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                reported,
                "{read_path}: /healthz never reported the engine down during a 3 s outage\n{}",
                collector.diagnostics()
            );
            faults.push(format!("outage at {before} lines, reported in /healthz"));
        }
        // The collector comes back by itself, and lines flow again.
        let all = LINES * writers.len() as u64;
        let back = poll(DEADLINE, || {
            let (ok, _) = docker_health(&collector);
            let now = progress(&collector);
            (ok && (now > before || now == all)).then_some(())
        });
        assert!(
            back.is_some(),
            "{read_path}: not back after {faults:?}\n{}",
            collector.diagnostics()
        );
    }
    for writer in &writers {
        let filter = by_container(writer);
        collector.wait_total_within(&filter, LINES, Duration::from_secs(120));
        let hits = collector.all_hits(&filter);
        assert_each_once(
            &hits,
            "n=",
            LINES,
            &format!("{read_path}, {} after {faults:?}", writer.name),
        );
    }
    let denied = proxy.denied();
    assert!(denied.is_empty(), "{denied:?}");
    eprintln!(
        "faults survived ({read_path}): {} faults ({faults:?}), {} lines each exactly once",
        faults.len(),
        LINES * writers.len() as u64
    );
}

#[test]
fn connections_cut_and_refused_lose_and_repeat_nothing_reading_files() {
    survives_cuts_and_outages("files", PATHS[0].1);
}

#[test]
fn connections_cut_and_refused_lose_and_repeat_nothing_through_the_api() {
    survives_cuts_and_outages("api", PATHS[1].1);
}

/// Restarts the Docker engine itself, which kills every container on the
/// host (those of other tests too, unless the engine runs with
/// `live-restore`): run it alone, on a machine of your own, as
/// `WAKELINE_ENGINE_RESTART='systemctl restart docker' cargo test -p wakeline-e2e
/// --test collector engine_restart -- --ignored`.
#[test]
#[ignore = "restarts dockerd: kills every container on the host; see the doc comment"]
fn engine_restart_loses_and_repeats_nothing() {
    let command = std::env::var("WAKELINE_ENGINE_RESTART").expect(
        "set WAKELINE_ENGINE_RESTART to the command that restarts the engine, \
         e.g. 'systemctl restart docker'",
    );
    for (read_path, flags) in PATHS {
        let dir = data_dir();
        let collector = Collector::start_with(dir.path(), flags);
        let container = ContainerSpec::new(
            &format!("engine-{read_path}"),
            &["stamp:out:run=", "rate:out:n=:1:3000:500", "stay"],
        )
        .run();
        let filter = by_container(&container);
        collector.wait_total_within(&filter, 500, Duration::from_secs(60));
        let status = Command::new("sh")
            .args(["-c", &command])
            .status()
            .expect("run the engine restart command");
        assert!(status.success(), "{command}: {status}");
        let mut saw_down = false;
        let engine_back = poll(Duration::from_secs(120), || {
            let (ok, _) = docker_health(&collector);
            saw_down |= !ok;
            Command::new("docker")
                .arg("info")
                .output()
                .ok()
                .filter(|o| o.status.success())
        });
        assert!(engine_back.is_some(), "the engine did not come back");
        // The engine stopped the container; a second run writes it all again.
        if !container.running() {
            container.start();
        }
        container.wait_running(DEADLINE);
        let healthy = poll(Duration::from_secs(60), || {
            let (ok, _) = docker_health(&collector);
            saw_down |= !ok;
            ok.then_some(())
        });
        assert!(healthy.is_some(), "{read_path}: /healthz not ok again");
        assert!(
            saw_down,
            "{read_path}: /healthz never reported the engine down"
        );
        // Whatever the engine kept is what the collector must have, once.
        let expected = poll(Duration::from_secs(120), || {
            let logs = container.docker_logs();
            logs.ends_with("n=3000\n").then_some(logs)
        })
        .expect("the second run wrote all its lines");
        let mut want: Vec<&str> = expected.lines().collect();
        collector.wait_total_within(&filter, want.len() as u64, Duration::from_secs(120));
        let hits = collector.all_hits(&filter);
        let mut got = messages(&hits);
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got.len(), want.len(), "{read_path}");
        assert!(
            got == want,
            "{read_path}: the collector's lines differ from docker logs"
        );
    }
}
