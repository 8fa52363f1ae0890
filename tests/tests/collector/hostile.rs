//! Hostile input: log lines written to hurt a collector (longer than any limit,
//! never ending, NUL bytes, invalid UTF-8, terminal escapes, JSON nested 10,000
//! deep or with 100,000 keys), requests no client should send, clients that
//! never finish a request, secrets in log lines, and the token given in a
//! file. Each line is stored safely, the next normal line still arrives
//! exactly once, the collector stays up, and its peak memory (VmHWM) stays
//! under a generous bound.

use super::*;

/// Peak resident memory allowed to the collector through a hostile test.
const MAX_PEAK_RSS: u64 = 512 * MIB as u64;
/// The line limit of these tests: big enough that 100,000 JSON keys are
/// parsed, small enough that 10 MiB is cut.
const MAX_LINE: usize = 4 * MIB;

/// The collector's peak resident memory in bytes, from /proc/<pid>/status.
pub(super) fn peak_rss(collector: &Collector) -> u64 {
    let pid = collector.pid().expect("the collector runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"));
    kib * 1024
}

fn assert_alive_and_bounded(collector: &mut Collector, what: &str) {
    assert_eq!(
        collector.exited(),
        None,
        "the collector died\n{}",
        collector.diagnostics()
    );
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let peak = peak_rss(collector);
    assert!(
        peak < MAX_PEAK_RSS,
        "collector peak RSS {} MiB, bound {} MiB",
        peak >> 20,
        MAX_PEAK_RSS >> 20
    );
    eprintln!("{what}: collector peak RSS (VmHWM) {} MiB", peak >> 20);
}

/// Terminal escapes: a colour, an OSC-8 hyperlink, an OSC title with BEL,
/// a screen clear, then a newline.
const ESCAPES_HEX: &str = "1b 5b 33 31 6d 52 45 44 1b 5b 30 6d 20 1b 5d 38 3b 3b 68 74 74 70 3a 2f 2f 78 1b 5c 6c 69 6e 6b 1b 5d 38 3b 3b 1b 5c 20 1b 5d 30 3b 74 69 74 6c 65 07 20 1b 5b 32 4a 0a";
const ESCAPES: &str =
    "\x1b[31mRED\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07 \x1b[2J";

#[test]
fn hostile_lines_are_stored_safely_and_the_next_line_arrives_once() {
    let dir = data_dir();
    let max = MAX_LINE.to_string();
    let mut collector = Collector::start_with(dir.path(), &["--max-line-bytes", &max]);
    let ten_mib = format!("fill:out:{}:0123456789", 10 * MIB);
    let container = ContainerSpec::new(
        "hostile",
        &[
            // 10 MiB with no newline, then its end.
            &ten_mib,
            "out:",
            "out:after-1",
            // NUL bytes, raw and as JSON escapes in a key and a value; a
            // key holding tantivy's own JSON path separator (U+0001).
            "hex:out:61 00 62 00 00 63 0a",
            "out:after-2",
            r#"out:{"msg":"nul key","a\u0000b":"x\u0000y","c\u0001d":{"e\u0000":1}}"#,
            "out:after-3",
            // Invalid UTF-8.
            "hex:out:66 6f 6f ff fe 62 61 72 0a",
            "out:after-4",
            &format!("hex:out:{ESCAPES_HEX}"),
            "out:after-5",
            "json:out:deep:10000",
            "out:after-6",
            "json:out:keys:100000",
            "out:after-7",
        ],
    )
    .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 14, Duration::from_secs(120));
    let hits = wait_records(&collector, &container, 14);
    for i in 1..=7 {
        hit(&hits, &format!("after-{i}"));
    }

    let long = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("0123456789"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no 10 MiB record: {:?}",
                hits.iter().map(short).collect::<Vec<_>>()
            )
        });
    let message = long["message"].as_str().unwrap();
    assert_eq!(message.len(), MAX_LINE, "{}", short(long));
    assert_eq!(long["truncated"], true, "{}", short(long));
    assert!(
        message
            .as_bytes()
            .chunks(10)
            .all(|c| c == &b"0123456789"[..c.len()]),
        "the kept part is the line's own first bytes"
    );

    hit(&hits, "a\0b\0\0c");

    let nul_json = hits
        .iter()
        .find(|h| h["msg"] == "nul key")
        .unwrap_or_else(|| panic!("no record of the NUL-keyed JSON line"));
    assert_eq!(nul_json["fields"]["a\u{0}b"], "x\u{0}y", "{nul_json}");
    assert_eq!(nul_json["fields"]["c\u{1}d"]["e\u{0}"], 1, "{nul_json}");

    let invalid = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("foo") && m.ends_with("bar"))
        })
        .expect("the invalid UTF-8 line");
    // Docker's json-file driver already replaces invalid bytes with U+FFFD;
    // when raw bytes do reach the collector, they are kept beside the text.
    if let Some(raw) = invalid.get("raw_base64").and_then(Value::as_str) {
        assert_eq!(raw, "Zm9v//5iYXI=", "{invalid}");
    } else {
        assert!(
            invalid["message"].as_str().unwrap().contains('\u{fffd}'),
            "{invalid}"
        );
    }

    hit(&hits, ESCAPES);

    let deep = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(r#"{"msg":"deep 10000""#))
        })
        .expect("the 10,000-deep JSON line");
    assert_eq!(
        deep["message"].as_str().unwrap().len(),
        20_026,
        "stored whole"
    );
    assert_not_truncated(deep);

    let wide = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(r#"{"msg":"keys 100000""#))
        })
        .expect("the 100,000-key JSON line");
    assert_not_truncated(wide);
    assert_eq!(wide["msg"], "keys 100000", "parsed as JSON");
    let keys = wide["fields"].as_object().map_or(0, |f| f.len());
    assert!(keys >= 100_000, "{keys} fields kept");
    // Its fields are searchable like any other.
    let found = collector.total(&[
        ("container", container.name.as_str()),
        ("q", "fields.k99999:99999"),
    ]);
    assert_eq!(found, 1);

    assert_alive_and_bounded(&mut collector, "hostile lines");
}

#[test]
fn a_line_that_never_ends_is_cut_and_memory_stays_bounded() {
    let dir = data_dir();
    let max = MAX_LINE.to_string();
    let mut collector = Collector::start_with(dir.path(), &["--max-line-bytes", &max]);
    // 24 MiB on stdout without a newline, in steps, and the container stays:
    // the line never ends while it runs. stderr goes on meanwhile.
    let mut steps: Vec<String> = vec!["err:before".into()];
    for _ in 0..24 {
        steps.push("fill:out:1048576:abcdefghij".into());
        steps.push("sleep:20".into());
    }
    steps.push("err:still-alive".into());
    steps.push("stay".into());
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let container = ContainerSpec::new("endless", &steps).run();

    let hits = wait_records(&collector, &container, 2);
    assert_eq!(messages(&hits), ["before", "still-alive"]);
    // The 24 MiB went by: bounded memory while the line is open.
    assert_alive_and_bounded(&mut collector, "endless line, open");

    // When its output closes, the line so far is one record, cut and flagged.
    container.stop();
    let hits = wait_records(&collector, &container, 3);
    let endless = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("abcdefghij"))
        })
        .unwrap_or_else(|| panic!("no record of the endless line: {:?}", messages(&hits)));
    assert_eq!(
        endless["message"].as_str().unwrap().len(),
        MAX_LINE,
        "{}",
        short(endless)
    );
    assert_eq!(endless["truncated"], true, "{}", short(endless));
    hit(&hits, "before");
    hit(&hits, "still-alive");
    assert_alive_and_bounded(&mut collector, "endless line, closed");
}

/// Sends `head` (and `body`) on a raw socket while reading the answer, as a
/// client that does not wait for the server would; the answer's status and
/// JSON body.
fn raw_request(port: u16, request: Vec<u8>) -> (u16, Value, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // The server may answer and close before reading everything.
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let json = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text:?}"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, json, head.to_owned())
}

#[test]
fn oversized_requests_get_json_errors() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--auth-token", "s3cret"]);
    let port = collector.port();
    let get = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\n{headers}Connection: close\r\n\r\n")
            .into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "1 MB query",
            get(&format!("/api/search?q={}", "a".repeat(MIB)), ""),
            431,
            "request header fields too large",
        ),
        (
            "100 KB query",
            get(&format!("/api/search?q={}", "a".repeat(100_000)), ""),
            414,
            "uri too long",
        ),
        (
            "60 KB query",
            get(&format!("/api/search?q={}", "a".repeat(60_000)), ""),
            400,
            "invalid query",
        ),
        (
            "1 MB header",
            get("/api/search", &format!("X-Big: {}\r\n", "a".repeat(MIB))),
            431,
            "request header fields too large",
        ),
        (
            "200 headers",
            get(
                "/api/search",
                &(0..200)
                    .map(|i| format!("X-H{i}: a\r\n"))
                    .collect::<String>(),
            ),
            431,
            "request header fields too large",
        ),
        (
            "not HTTP",
            b"\x00\x01\x02 garbage\r\n\r\n".to_vec(),
            400,
            "bad request",
        ),
        (
            "10 MB login body",
            {
                let body = format!("token={}", "a".repeat(10 * MIB));
                let mut r = format!("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                r.extend_from_slice(body.as_bytes());
                r
            },
            413,
            "payload too large",
        ),
        (
            "10,000 nested parentheses",
            get(
                &format!(
                    "/api/search?q={}a{}",
                    "(".repeat(10_000),
                    ")".repeat(10_000)
                ),
                "",
            ),
            400,
            "invalid query",
        ),
        (
            "2,000 nested parentheses in 4 KiB",
            get(
                &format!("/api/search?q={}a{}", "(".repeat(2000), ")".repeat(2000)),
                "",
            ),
            400,
            "invalid query",
        ),
        (
            "a regex",
            get("/api/search?q=message:/(a%2B)%2B$/", ""),
            400,
            "invalid query",
        ),
        (
            "a huge limit",
            get(&format!("/api/search?limit={}", "9".repeat(50)), ""),
            400,
            "invalid limit",
        ),
        (
            "a bad cursor",
            get("/api/search?cursor=not-a-cursor", ""),
            400,
            "invalid cursor",
        ),
        (
            "a bad time",
            get("/api/search?since=yesterday", ""),
            400,
            "invalid time",
        ),
    ];
    for (what, request, status, error) in cases {
        let (got, json, head) = raw_request(port, request);
        assert_eq!(got, status, "{what}: {json}\n{head}");
        assert_eq!(json["error"], error, "{what}: {json}");
        assert!(
            json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {json}"
        );
    }
    // Still serving.
    let (status, _) = collector.get("/api/search?limit=0");
    assert_eq!(status, 200);
}

#[test]
fn redacted_secrets_are_masked_in_search_and_live() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--redact"]);
    let name = unique("redact");
    let mut live = collector.live(&query(&[("container", &name)]));
    let container = ContainerSpec::new(
        "redact",
        &[
            "out:login ok password=hunter2 user=bob",
            r#"out:{"msg":"calling users","authorization":"Bearer abc123def456","user":"bob"}"#,
            "out:deploy key AKIAIOSFODNN7EXAMPLE loaded",
            r#"out:{"msg":"refreshed","token":{"kind":"refresh","value":"r3fr3sh9value"}}"#,
            "out:request 0190a5c4-9a8e-7cc2-b4a1-9f3c2a1d7e55 took 12ms",
        ],
    )
    .with_name(&name)
    .run();
    let expected = [
        "login ok password=[REDACTED] user=bob",
        r#"{"msg":"calling users","authorization":"Bearer [REDACTED]","user":"bob"}"#,
        "deploy key [REDACTED] loaded",
        r#"{"msg":"refreshed","token":[REDACTED]}"#,
        "request 0190a5c4-9a8e-7cc2-b4a1-9f3c2a1d7e55 took 12ms",
    ];
    let hits = wait_records(&collector, &container, 5);
    assert_eq!(messages(&hits), expected);
    assert_eq!(
        hits[1]["fields"]["authorization"], "[REDACTED]",
        "{}",
        hits[1]
    );
    // A secret-named key's object is masked whole.
    assert_eq!(hits[3]["fields"]["token"], "[REDACTED]", "{}", hits[3]);
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = live
            .next(DEADLINE)
            .unwrap_or_else(|e| panic!("live feed: {e:?} after {seen:?}"));
        if let Some(text) = message["message"].as_str() {
            seen.push(text.to_owned());
        }
    }
    assert_eq!(seen, expected);
    for secret in [
        "hunter2",
        "abc123def456",
        "AKIAIOSFODNN7EXAMPLE",
        "r3fr3sh9value",
    ] {
        assert_eq!(
            collector.total(&[
                ("container", container.name.as_str()),
                ("q", &format!("\"{secret}\""))
            ]),
            0,
            "{secret} is not searchable"
        );
    }
    assert_eq!(collector.metric("wakeline_redactions_total"), 4.0);
}

#[test]
fn the_token_can_come_from_a_file_and_allow_open_is_warned_about() {
    let dir = data_dir();
    let secrets = data_dir();
    let file = secrets.path().join("token");
    std::fs::write(&file, "fr0m-a-file\n").unwrap();
    let file = file.to_str().unwrap();
    let collector =
        Collector::start_with_env(dir.path(), &[], &[("WAKELINE_AUTH_TOKEN_FILE", file)]);
    assert_eq!(collector.request("/api/containers", None).status, 401);
    assert_eq!(
        collector
            .request("/api/containers", Some("fr0m-a-file"))
            .status,
        200
    );
    // A prefix is not the token.
    assert_eq!(
        collector
            .request("/api/containers", Some("fr0m-a-fil"))
            .status,
        401
    );
    assert_eq!(collector.request("/healthz", None).status, 200);

    // Open beyond loopback by explicit choice: a warning at every start.
    let open_dir = data_dir();
    let mut open =
        Collector::start_with(open_dir.path(), &["--listen", "0.0.0.0:0", "--allow-open"]);
    open.restart();
    let stderr = std::fs::read_to_string(open.stderr_path()).unwrap();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("--allow-open"))
        .collect();
    assert_eq!(warnings.len(), 2, "one warning per start:\n{stderr}");
    assert!(warnings[0].contains("every log"), "{stderr}");
}

/// Connections that each send the start of a request head, then one more
/// header byte per connection every second, never ending it (slowloris). A
/// thread writes the bytes and counts the connections the server closed.
struct SlowClients {
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowClients {
    fn start(port: u16, n: usize) -> SlowClients {
        use std::io::Write;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let streams: Vec<std::net::TcpStream> = (0..n)
            .map(|i| {
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
                    .unwrap_or_else(|e| panic!("slow connection {i}: {e}"));
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                    .expect("the start of a head");
                stream.set_nonblocking(true).expect("non-blocking");
                stream
            })
            .collect();
        let open = Arc::new(AtomicUsize::new(n));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (open, stop) = (Arc::clone(&open), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut streams: Vec<_> = streams.into_iter().map(Some).collect();
                while !stop.load(Ordering::Relaxed) {
                    for slot in &mut streams {
                        if slot.as_mut().is_some_and(closed_by_server) {
                            *slot = None;
                            open.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    // The attacker's pace, not a wait for anything.
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        };
        SlowClients {
            open,
            stop,
            thread: Some(thread),
        }
    }

    /// How many the server has not closed yet.
    fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for SlowClients {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends one more header byte; whether the server has closed the
/// connection (end of stream, a reset, a broken pipe).
fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    use std::io::{ErrorKind, Read, Write};
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Ok(0) => return true,
        // An answer: the end of the stream comes next.
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(_) => return true,
    }
    match stream.write_all(b"x") {
        Ok(()) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    }
}

#[test]
fn slow_clients_are_cut_off_and_others_are_still_served() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let port = collector.port();
    let slow = SlowClients::start(port, 200);

    // (a) While 200 connections trickle their heads, others are answered.
    for round in 0..10 {
        let (status, body) = collector.get("/healthz");
        assert_eq!(status, 200, "round {round}: {body}");
        let (status, body) = collector.get("/api/search?q=slowloris&limit=5");
        assert_eq!(status, 200, "round {round}: {body}");
        assert!(body["hits"].is_array(), "{body}");
    }
    eprintln!(
        "slow clients still open after the ordinary requests: {}/200",
        slow.open()
    );

    // A body that never completes: a GET answers without reading it and
    // closes; the login (which reads its body) answers 408 in JSON.
    let (status, json, _) = raw_request(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc".to_vec(),
    );
    assert_eq!(status, 200, "{json}");
    let (status, json, _) = raw_request(
        port,
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok".to_vec(),
    );
    assert_eq!(status, 408, "{json}");
    assert_eq!(json["error"], "request timeout", "{json}");

    // (b) The server closes every slow connection (after its header read
    // timeout, 10 s; the deadline is generous).
    let all_closed = poll(DEADLINE, || (slow.open() == 0).then_some(()));
    assert!(
        all_closed.is_some(),
        "{} of 200 slow connections still open after {DEADLINE:?}\n{}",
        slow.open(),
        collector.diagnostics()
    );
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");

    // SIGTERM while slow connections are open: the collector still exits
    // cleanly (it waits for them at most the header read timeout).
    let _slow = SlowClients::start(port, 20);
    let status = collector.terminate();
    assert!(status.success(), "{status:?}\n{}", collector.diagnostics());
}
