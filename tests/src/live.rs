//! A WebSocket client for `GET /api/live`, usable from plain (non-async) tests.
//!
//! The live stream is the one async surface of the API; the tests stay synchronous
//! and poll it like everything else, so this wraps `tokio-tungstenite` in a small
//! current-thread runtime and exposes "the next message, or why none came before the
//! deadline": a feed that is quiet and one that was closed are different answers.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected `/api/live` client.
pub struct Live {
    runtime: Runtime,
    socket: Socket,
}

impl Live {
    /// Connects to `ws://127.0.0.1:PORT/api/live?<query>`, with a bearer token if given.
    pub fn connect(port: u16, query: &str, token: Option<&str>) -> Result<Live, String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime for the WebSocket client");
        let url = format!("ws://127.0.0.1:{port}/api/live?{query}");
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad WebSocket URL {url}: {e}"))?;
        if let Some(token) = token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|e| format!("bad token header: {e}"))?;
            request.headers_mut().insert("authorization", value);
        }
        let connect = tokio_tungstenite::connect_async(request);
        let (socket, _response) = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), connect).await })
            .map_err(|_| format!("WebSocket handshake with {url} timed out"))?
            .map_err(|e| format!("WebSocket handshake with {url} failed: {e}"))?;
        Ok(Live { runtime, socket })
    }

    /// The next text message as JSON; if none arrives within `within`, says
    /// whether the feed is still open ([`NoMessage::Timeout`]) or ended.
    pub fn next(&mut self, within: Duration) -> Result<Value, NoMessage> {
        let socket = &mut self.socket;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + within;
            loop {
                let Ok(message) = tokio::time::timeout_at(deadline, socket.next()).await else {
                    return Err(NoMessage::Timeout(within));
                };
                match message {
                    Some(Ok(Message::Text(text))) => {
                        return Ok(serde_json::from_str(text.as_str())
                            .unwrap_or(Value::String(text.to_string())));
                    }
                    Some(Ok(Message::Close(_))) | None => return Err(NoMessage::Closed),
                    Some(Err(e)) => return Err(NoMessage::Failed(e.to_string())),
                    Some(Ok(_)) => continue,
                }
            }
        })
    }

    /// Reads past any messages until the server closes the feed (a Close frame
    /// or the end of the stream): `Ok` then, else why not within `within`.
    pub fn wait_closed(&mut self, within: Duration) -> Result<(), NoMessage> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next(left) {
                Ok(_) => continue,
                Err(NoMessage::Closed) => return Ok(()),
                Err(NoMessage::Timeout(_)) => return Err(NoMessage::Timeout(within)),
                Err(failed) => return Err(failed),
            }
        }
    }
}

/// Why [`Live::next`] returned no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMessage {
    /// Nothing arrived in this long; the feed is still open.
    Timeout(Duration),
    /// The server closed the feed (a Close frame, or the end of the stream).
    Closed,
    /// Reading failed (the connection broke without a close).
    Failed(String),
}

impl std::fmt::Display for NoMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoMessage::Timeout(within) => write!(f, "no live message within {within:?}"),
            NoMessage::Closed => write!(f, "the live feed was closed"),
            NoMessage::Failed(e) => write!(f, "reading the live feed failed: {e}"),
        }
    }
}
