//! The live benchmark's WebSocket clients: readers that time every record, and
//! stalled clients that connect and then do not read.
//!
//! Readers run a thread each, parse only `type`, `ts`, `seq` and `dropped`, and compute per
//! record `arrival wall time − record ts`: `ts` is Docker's own timestamp for the
//! line, taken on this host's clock, so the difference is the whole path from
//! the container's write through dockerd, the collector and the WebSocket.
//!
//! Stalled clients need what `Live` does not offer: a socket whose receive
//! buffer is made small *before* connecting (so the TCP window stays small),
//! which makes the collector's writes to them block early — the case the hub's
//! bounded ring and gap notices exist for. They connect, then block on a channel
//! without polling the socket, and read only when told to, counting records and
//! `{"type":"gap","dropped":n}` notices.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wakeline_e2e::parse_ts;

/// Longest a client keeps reading, whatever happens.
const CLIENT_DEADLINE: Duration = Duration::from_secs(300);
/// One wait for a message; also how a closed stream is told from a quiet one.
const NEXT_WITHIN: Duration = Duration::from_millis(500);
/// Silence that ends a client's reading once the writers are done.
const QUIET: Duration = Duration::from_secs(3);

/// What one reading client saw.
#[derive(Debug, Default)]
pub struct ReaderReport {
    /// `arrival − ts` per record, in ns.
    pub latencies_ns: Vec<i64>,
    pub gaps: u64,
    pub dropped: u64,
    /// Records whose `seq` was not above the previous one (repeated or reordered).
    pub out_of_order: u64,
    /// Messages that were neither a record with a valid `ts` nor a gap.
    pub malformed: u64,
    pub error: Option<String>,
}

/// What one stalled client found when it finally read.
#[derive(Debug, Default)]
pub struct StalledReport {
    pub records: u64,
    pub gaps: u64,
    pub dropped: u64,
    /// The receive buffer the kernel actually gave (Linux doubles the request).
    pub rcvbuf: u32,
    /// From the first read to the last message.
    pub drain_secs: f64,
    pub error: Option<String>,
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The parts of a live message a reader looks at; the rest is skipped
/// without being built (a full `serde_json::Value` per record made the
/// readers the largest CPU user of the benchmark, competing with the very
/// collector they measure).
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    ts: Option<&'a str>,
    seq: Option<u64>,
    dropped: Option<u64>,
}

/// Read buffer of a reader's WebSocket: tungstenite zeroes it before every
/// read, and its 128 KiB default costs more than the frames it holds.
const READER_BUFFER: usize = 16 * 1024;

/// `count` readers on `/api/live?<query>`, a thread each (on one shared
/// thread they fell behind: on a saturated host the scheduler gives every
/// thread its share, so one thread got a fifteenth of what fifteen got). Each
/// sends on `ready` once connected, then reads until it has `expected`
/// records, or `done` is set and the feed has gone quiet.
pub fn spawn_readers(
    count: usize,
    port: u16,
    query: String,
    expected: u64,
    done: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> Vec<JoinHandle<ReaderReport>> {
    (0..count)
        .map(|_| {
            let url = format!("ws://127.0.0.1:{port}/api/live?{query}");
            let (done, ready) = (done.clone(), ready.clone());
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build a tokio runtime for a reader")
                    .block_on(read(url, expected, done, ready))
            })
        })
        .collect()
}

/// One reader: connects, then times every record until it has `expected`.
async fn read(
    url: String,
    expected: u64,
    done: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> ReaderReport {
    let mut report = ReaderReport::default();
    let config = WebSocketConfig::default().read_buffer_size(READER_BUFFER);
    let handshake = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    let connected = tokio::time::timeout(Duration::from_secs(30), handshake)
        .await
        .map_err(|_| format!("WebSocket handshake with {url} timed out"))
        .and_then(|r| r.map_err(|e| format!("WebSocket handshake with {url} failed: {e}")));
    let _ = ready.send(());
    let mut socket = match connected {
        Ok((socket, _response)) => socket,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.latencies_ns.reserve(expected as usize);
    let started = Instant::now();
    let mut last_message = Instant::now();
    let mut last_seq: Option<u64> = None;
    while started.elapsed() < CLIENT_DEADLINE && (report.latencies_ns.len() as u64) < expected {
        let text = match tokio::time::timeout(NEXT_WITHIN, socket.next()).await {
            Err(_) => {
                if done.load(Ordering::Relaxed) && last_message.elapsed() > QUIET {
                    break;
                }
                continue;
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => {
                report.error = Some("the server closed the live feed".into());
                break;
            }
            Ok(Some(Err(e))) => {
                report.error = Some(format!("read failed: {e}"));
                break;
            }
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
        };
        let arrived = now_ns();
        last_message = Instant::now();
        let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
            report.malformed += 1;
            continue;
        };
        if frame.kind == Some("gap") {
            report.gaps += 1;
            report.dropped += frame.dropped.unwrap_or(0);
            continue;
        }
        let Some(ts) = frame.ts.and_then(parse_ts) else {
            report.malformed += 1;
            continue;
        };
        report.latencies_ns.push((arrived - ts) as i64);
        if let (Some(seq), Some(last)) = (frame.seq, last_seq)
            && seq <= last
        {
            report.out_of_order += 1;
        }
        last_seq = frame.seq.or(last_seq);
    }
    report
}

/// Connects with a small receive buffer, so that not reading soon blocks the sender.
async fn connect_small(
    port: u16,
    query: &str,
    rcvbuf: u32,
) -> Result<(WebSocketStream<TcpStream>, u32), String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("cannot create a socket: {e}"))?;
    socket
        .set_recv_buffer_size(rcvbuf)
        .map_err(|e| format!("cannot set SO_RCVBUF: {e}"))?;
    let actual = socket.recv_buffer_size().unwrap_or(0);
    let stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
    let url = format!("ws://127.0.0.1:{port}/api/live?{query}");
    let handshake = tokio_tungstenite::client_async(url.as_str(), stream);
    let (socket, _response) = tokio::time::timeout(Duration::from_secs(30), handshake)
        .await
        .map_err(|_| format!("WebSocket handshake with {url} timed out"))?
        .map_err(|e| format!("WebSocket handshake with {url} failed: {e}"))?;
    Ok((socket, actual))
}

/// A client that connects, sends on `ready`, does not read until `go`, then reads
/// until the feed is quiet.
pub fn spawn_stalled(
    port: u16,
    query: String,
    rcvbuf: u32,
    ready: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
) -> JoinHandle<StalledReport> {
    std::thread::spawn(move || {
        let mut report = StalledReport::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime for a stalled client");
        let connected = runtime.block_on(connect_small(port, &query, rcvbuf));
        let _ = ready.send(());
        let mut socket = match connected {
            Ok((socket, actual)) => {
                report.rcvbuf = actual;
                socket
            }
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        };
        // Blocks this thread: the socket is not polled, so nothing is read.
        if go.recv().is_err() {
            report.error = Some("never told to read".into());
            return report;
        }
        let started = Instant::now();
        runtime.block_on(async {
            while started.elapsed() < CLIENT_DEADLINE {
                let message = match tokio::time::timeout(QUIET, socket.next()).await {
                    Err(_) | Ok(None) => break, // quiet, or closed
                    Ok(Some(Err(e))) => {
                        report.error = Some(format!("read failed: {e}"));
                        break;
                    }
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(_))) => continue,
                };
                report.drain_secs = started.elapsed().as_secs_f64();
                let value: Value = serde_json::from_str(message.as_str()).unwrap_or(Value::Null);
                if value["type"] == "gap" {
                    report.gaps += 1;
                    report.dropped += value["dropped"].as_u64().unwrap_or(0);
                } else {
                    report.records += 1;
                }
            }
        });
        report
    })
}
