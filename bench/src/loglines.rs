//! Log lines that look like a small backend's: the corpus of the 10 M-line
//! search benchmark.
//!
//! Eleven containers of one compose project: an edge (two replicas) and five
//! services that write the middleware's JSON, two that write logfmt, and two
//! that write plain text. Three lines in four belong to a request: the edge
//! logs its start and end, and one to three services each log one or two
//! lines in between, under the same UUIDv7-shaped request ID; up to 64
//! requests are in flight at once, so their lines interleave as on a real
//! host. The rest are a request's neighbours with no ID: health checks, a
//! worker's jobs, a database proxy's pool stats. Levels are mostly `info`,
//! with `debug`, `warn` and `error` at rates a service might have; a few
//! messages carry the words a search would look for (`timeout`, "connection
//! reset by peer", "payment declined").
//!
//! Timestamps are spread evenly over a span of hours (ending just before
//! now, so the collector's default retention keeps them), so that a 1 h
//! range holds a 1/span share of the lines. The generator is deterministic
//! (a fixed seed), and it remembers a sample of finished requests with their
//! line counts, which the benchmark asks `/api/requests/{id}` for and checks.

use std::collections::VecDeque;
use std::sync::Arc;

use wakeline::record::ContainerMeta;
use wakeline::timefmt::format_rfc3339_ns;

/// The compose project of every container (a term found only in these lines).
pub const PROJECT: &str = "wlbshop";

/// How a container writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Logfmt,
    Plain,
}

/// The containers: (name, service, format).
const CONTAINERS: [(&str, &str, Format); 11] = [
    ("shop-edge-1", "edge", Format::Json),
    ("shop-edge-2", "edge", Format::Json),
    ("shop-users-1", "users", Format::Json),
    ("shop-tokens-1", "tokens", Format::Json),
    ("shop-messages-1", "messages", Format::Json),
    ("shop-messages-2", "messages", Format::Json),
    ("shop-push-1", "push", Format::Json),
    ("shop-billing-1", "billing", Format::Logfmt),
    ("shop-search-1", "search", Format::Logfmt),
    ("shop-worker-1", "worker", Format::Plain),
    ("shop-dbproxy-1", "dbproxy", Format::Plain),
];
/// Container indexes by role.
const EDGES: [usize; 2] = [0, 1];
/// The services a request may call, as container indexes.
const CALLEES: [usize; 7] = [2, 3, 4, 5, 6, 7, 8];
const WORKER: usize = 9;
const DBPROXY: usize = 10;

/// Requests in flight at once (their lines interleave).
const IN_FLIGHT: usize = 64;
/// Finished requests remembered for the benchmark to ask for.
const SAMPLE_MAX: usize = 300;

/// The container metadata the generator's lines come from.
pub fn metas() -> Vec<Arc<ContainerMeta>> {
    CONTAINERS
        .iter()
        .enumerate()
        .map(|(i, (name, service, _))| {
            Arc::new(ContainerMeta {
                host: "bench-host".into(),
                id: format!("{:064x}", 0x5e0_0000 + i),
                name: (*name).into(),
                image: format!("shop/{service}:1.4.2"),
                service: Some((*service).into()),
                project: Some(PROJECT.into()),
            })
        })
        .collect()
}

/// SplitMix64: small, fast and good enough to pick templates.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// One step of a request: which container writes which kind of line.
#[derive(Debug, Clone, Copy)]
enum Step {
    Start,
    Call,
    Finish,
}

#[derive(Debug)]
struct Request {
    id: String,
    steps: VecDeque<(usize, Step)>,
    lines: u32,
    /// The worst status so far (500 when a callee failed).
    status: u16,
}

/// A finished request the benchmark can ask for: its ID and its lines.
#[derive(Debug, Clone)]
pub struct SampledRequest {
    pub id: String,
    pub lines: u32,
}

/// The line generator; [`Generator::next_line`] gives the lines in time order.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    lines: u64,
    first_ts: i64,
    span_ns: i64,
    in_flight: Vec<Request>,
    started: u64,
    sample_every: u64,
    pub sample: Vec<SampledRequest>,
}

impl Generator {
    /// `lines` lines spread over `span_ns` ending at `last_ts`.
    pub fn new(lines: u64, last_ts: i64, span_ns: i64) -> Generator {
        // About one request per 7.3 lines (5.5 lines each, 3 in 4 lines).
        let requests = lines * 10 / 73;
        Generator {
            rng: Rng(0x005e_ed0f_1095),
            lines,
            first_ts: last_ts - span_ns,
            span_ns,
            in_flight: Vec::with_capacity(IN_FLIGHT),
            started: 0,
            sample_every: (requests / SAMPLE_MAX as u64).max(1),
            sample: Vec::new(),
        }
    }

    pub fn first_ts(&self) -> i64 {
        self.first_ts
    }

    /// Line `i` (of `lines`, in order): its container, Docker timestamp and text.
    pub fn next_line(&mut self, i: u64) -> (usize, i64, String) {
        let ts = self.first_ts
            + (i128::from(self.span_ns) * i128::from(i) / i128::from(self.lines.max(1))) as i64;
        if self.rng.chance(250) {
            return self.background(ts);
        }
        while self.in_flight.len() < IN_FLIGHT {
            let request = self.new_request(ts);
            self.in_flight.push(request);
        }
        let slot = self.rng.below(IN_FLIGHT as u64) as usize;
        let (container, step) = self.in_flight[slot]
            .steps
            .pop_front()
            .expect("a request in flight has steps left");
        let text = self.request_line(slot, container, step, ts);
        let request = &mut self.in_flight[slot];
        request.lines += 1;
        if request.steps.is_empty() {
            let done = self.in_flight.swap_remove(slot);
            if self.sample.len() < SAMPLE_MAX && self.rng.below(self.sample_every) == 0 {
                self.sample.push(SampledRequest {
                    id: done.id,
                    lines: done.lines,
                });
            }
        }
        (container, ts, text)
    }

    fn new_request(&mut self, ts: i64) -> Request {
        self.started += 1;
        let ms = (ts / 1_000_000) as u64;
        let (a, b) = (self.rng.next(), self.rng.next());
        let id = format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            a & 0xfff,
            0x8000 | ((a >> 12) & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        let edge = EDGES[self.rng.below(EDGES.len() as u64) as usize];
        let mut steps = VecDeque::new();
        steps.push_back((edge, Step::Start));
        for _ in 0..1 + self.rng.below(3) {
            let callee = CALLEES[self.rng.below(CALLEES.len() as u64) as usize];
            for _ in 0..1 + self.rng.below(2) {
                steps.push_back((callee, Step::Call));
            }
        }
        steps.push_back((edge, Step::Finish));
        Request {
            id,
            steps,
            lines: 0,
            status: 200,
        }
    }

    fn request_line(&mut self, slot: usize, container: usize, step: Step, ts: i64) -> String {
        let user = 1000 + self.rng.below(50_000);
        let ms = 1 + self.rng.below(40);
        let roll = self.rng.below(1000);
        let (level, msg, extra): (&str, String, String) = match (step, CONTAINERS[container].1) {
            (Step::Start, _) => {
                let (method, path) = ROUTES[self.rng.below(ROUTES.len() as u64) as usize];
                (
                    "info",
                    "request started".into(),
                    format!(r#""method":"{method}","path":"{path}","user_id":{user}"#),
                )
            }
            (Step::Finish, _) => {
                let status = self.in_flight[slot].status;
                let slow = roll < 20;
                let took = if slow { 900 + ms * 50 } else { ms * 3 };
                let level = match (status, slow) {
                    (500.., _) => "error",
                    (_, true) => "warn",
                    _ => "info",
                };
                (
                    level,
                    "request finished".into(),
                    format!(r#""status":{status},"duration_ms":{took}"#),
                )
            }
            (Step::Call, "users") => match roll {
                0..5 => {
                    self.in_flight[slot].status = 500;
                    (
                        "error",
                        format!("database timeout after {} ms", 3000),
                        format!(r#""user_id":{user}"#),
                    )
                }
                5..60 => (
                    "debug",
                    format!("cache miss key=user:{user}"),
                    String::new(),
                ),
                60..80 => (
                    "warn",
                    "password check failed".into(),
                    format!(r#""user_id":{user},"attempt":{}"#, 1 + roll % 3),
                ),
                _ => (
                    "info",
                    "user loaded".into(),
                    format!(r#""user_id":{user},"took_ms":{ms}"#),
                ),
            },
            (Step::Call, "tokens") => match roll {
                0..30 => (
                    "warn",
                    "token expired".into(),
                    format!(r#""user_id":{user}"#),
                ),
                30..500 => (
                    "info",
                    "token issued".into(),
                    format!(r#""user_id":{user}"#),
                ),
                _ => (
                    "info",
                    "token verified".into(),
                    format!(r#""user_id":{user}"#),
                ),
            },
            (Step::Call, "messages") => match roll {
                0..4 => {
                    self.in_flight[slot].status = 500;
                    (
                        "error",
                        "connection reset by peer while reading from users".into(),
                        r#""peer":"users:8080""#.to_string(),
                    )
                }
                4..500 => (
                    "info",
                    "message posted".into(),
                    format!(
                        r#""message_id":{},"chars":{}"#,
                        self.rng.below(10_000_000),
                        ms * 7
                    ),
                ),
                _ => (
                    "info",
                    "messages listed".into(),
                    format!(r#""count":{},"took_ms":{ms}"#, ms % 50),
                ),
            },
            (Step::Call, "push") => (
                "info",
                "event delivered".into(),
                format!(r#""subscribers":{},"took_ms":{ms}"#, ms % 9),
            ),
            (Step::Call, "billing") => match roll {
                0..8 => {
                    self.in_flight[slot].status = 502;
                    ("error", "card processor timeout".into(), String::new())
                }
                8..60 => (
                    "warn",
                    "payment declined".into(),
                    "reason=insufficient_funds".into(),
                ),
                _ => (
                    "info",
                    "charge accepted".into(),
                    format!("amount_cents={} currency=EUR", 100 + ms * 37),
                ),
            },
            (Step::Call, _) => (
                "info",
                "query executed".into(),
                format!(
                    "terms={} hits={} took_ms={ms}",
                    1 + roll % 4,
                    self.rng.below(500)
                ),
            ),
        };
        let id = &self.in_flight[slot].id;
        match CONTAINERS[container].2 {
            Format::Json => {
                let sep = if extra.is_empty() { "" } else { "," };
                format!(
                    r#"{{"timestamp":"{}","level":"{level}","msg":"{msg}","request_id":"{id}"{sep}{extra}}}"#,
                    format_rfc3339_ns(ts)
                )
            }
            Format::Logfmt | Format::Plain => {
                let sep = if extra.is_empty() { "" } else { " " };
                format!(
                    "ts={} level={level} msg=\"{msg}\" request_id={id} user_id={user}{sep}{extra}",
                    format_rfc3339_ns(ts)
                )
            }
        }
    }

    /// A line with no request: a health check, a job, the pool's stats.
    fn background(&mut self, ts: i64) -> (usize, i64, String) {
        let roll = self.rng.below(1000);
        let ms = 1 + self.rng.below(60);
        let when = plain_time(ts);
        match roll {
            0..300 => {
                let edge = EDGES[(roll % 2) as usize];
                let text = format!(
                    r#"{{"timestamp":"{}","level":"debug","msg":"health check","path":"/healthz","status":200,"duration_ms":{}}}"#,
                    format_rfc3339_ns(ts),
                    ms % 3
                );
                (edge, ts, text)
            }
            300..700 => {
                let job = self.rng.below(10_000_000);
                let text = match roll {
                    300..310 => format!(
                        "{when} ERROR [worker] job {job} failed: upstream timeout after 30s"
                    ),
                    310..340 => {
                        format!(
                            "{when} WARN [worker] retrying job {job} (attempt {})",
                            2 + roll % 3
                        )
                    }
                    _ => format!("{when} INFO [worker] job {job} finished in {ms}ms"),
                };
                (WORKER, ts, text)
            }
            _ => {
                let text = match roll {
                    700..720 => format!(
                        "{when} WARN [dbproxy] slow query {} ms: SELECT id, body FROM messages WHERE room_id = $1 ORDER BY id DESC LIMIT 50",
                        300 + ms * 20
                    ),
                    720..725 => format!(
                        "{when} ERROR [dbproxy] connection reset by peer (backend 10.0.3.{})",
                        ms
                    ),
                    _ => format!(
                        "{when} INFO [dbproxy] pool stats active={} idle={} waiting=0",
                        ms % 16,
                        16 - ms % 16
                    ),
                };
                (DBPROXY, ts, text)
            }
        }
    }
}

/// The routes a request starts with.
const ROUTES: [(&str, &str); 6] = [
    ("GET", "/api/messages"),
    ("POST", "/api/messages"),
    ("GET", "/api/users/me"),
    ("POST", "/api/tokens"),
    ("POST", "/api/checkout"),
    ("GET", "/api/search"),
];

/// `2026-12-05 01:02:03.123` from an RFC 3339 timestamp.
fn plain_time(ts: i64) -> String {
    let rfc = format_rfc3339_ns(ts);
    let date_time: String = rfc.chars().take(23).collect();
    date_time.replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_in_time_order_and_requests_are_sampled() {
        let lines = 20_000;
        let mut g = Generator::new(lines, 10_000_000_000_000, 3_600_000_000_000);
        let mut last = i64::MIN;
        let mut per_container = [0u64; CONTAINERS.len()];
        for i in 0..lines {
            let (c, ts, text) = g.next_line(i);
            assert!(ts >= last);
            last = ts;
            per_container[c] += 1;
            assert!(!text.contains('\n'));
        }
        assert!(per_container.iter().all(|&n| n > 0), "{per_container:?}");
        assert!(!g.sample.is_empty());
        assert!(g.sample.iter().all(|r| (3..=8).contains(&r.lines)));
        assert_eq!(metas().len(), CONTAINERS.len());
    }
}
