//! A WebSocket client for `GET /api/live`, usable from plain (non-async) tests.
//!
//! The live stream is the one async surface of the API; the tests stay synchronous
//! and poll it like everything else, so this wraps `tokio-tungstenite` in a small
//! current-thread runtime and exposes "next message, or none before the deadline".

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

    /// The next text message as JSON, or `None` if none arrives within `within`
    /// (or the server closed the stream).
    pub fn next(&mut self, within: Duration) -> Option<Value> {
        let socket = &mut self.socket;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + within;
            loop {
                let message = tokio::time::timeout_at(deadline, socket.next())
                    .await
                    .ok()??;
                match message {
                    Ok(Message::Text(text)) => {
                        return Some(
                            serde_json::from_str(text.as_str())
                                .unwrap_or(Value::String(text.to_string())),
                        );
                    }
                    Ok(Message::Close(_)) | Err(_) => return None,
                    Ok(_) => continue,
                }
            }
        })
    }
}
