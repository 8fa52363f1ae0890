//! push: live updates for every open chat page.
//!
//! `GET /ws` is a WebSocket (the edge relays the browser's to it); each new
//! message is sent to every open one as JSON text. The messages come from
//! the queue: a consumer task long-polls messages' `/internal/events` and,
//! for each event, continues the request that posted it.
//!
//! What it shows in a trace: the consumer side of an asynchronous hop. The
//! consumer runs outside any HTTP request, so it takes the request over from
//! the event's `headers` with `wakeline_middleware::consume`: a `request` span
//! with the poster's request ID and trace, whose parent is the publish, and a
//! `message received` line. The broadcast line is written inside that span,
//! so it carries the ID of the `POST /api/messages` that caused it.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tracing::Instrument;

#[derive(Clone)]
struct App {
    updates: broadcast::Sender<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (updates, _) = broadcast::channel(256);
    let poller = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        // Longer than the queue's 20 s long poll.
        .timeout(Duration::from_secs(30))
        .build()?;
    let events = format!("{}/internal/events", chat_common::service_url("messages"));
    tokio::spawn(consume_events(poller, events, updates.clone()));
    let app = Router::new()
        .route("/ws", get(socket))
        .with_state(App { updates });
    chat_common::serve("push", app).await
}

#[derive(Deserialize)]
struct Batch {
    events: Vec<Event>,
    last: u64,
}

#[derive(Deserialize)]
struct Event {
    seq: u64,
    topic: String,
    headers: BTreeMap<String, String>,
    message: Value,
    author: Value,
}

/// The queue consumer: long-polls for events and broadcasts each inside the
/// request it continues. Runs for the life of the process; a failed poll is
/// retried with backoff (0.2 s doubling to 5 s) and logged when it starts and
/// when it ends.
async fn consume_events(client: reqwest::Client, url: String, updates: broadcast::Sender<String>) {
    let mut after: Option<u64> = None;
    let mut backoff = Duration::from_millis(200);
    let mut failing = false;
    loop {
        let batch = poll(&client, &url, after).await;
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "cannot read the events queue; retrying");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if failing {
            tracing::info!("reading the events queue again");
            failing = false;
        }
        backoff = Duration::from_millis(200);
        // The first poll (no `after`) only says where the queue is: a
        // restarted push does not replay old messages to the pages open now.
        let Some(seen) = after else {
            tracing::info!(after = batch.last, "consuming the events queue");
            after = Some(batch.last);
            continue;
        };
        if batch.last < seen {
            // messages restarted and numbers its events from 1 again.
            after = Some(0);
            continue;
        }
        for event in batch.events {
            after = after.max(Some(event.seq));
            broadcast(&updates, event);
        }
    }
}

async fn poll(
    client: &reqwest::Client,
    url: &str,
    after: Option<u64>,
) -> Result<Batch, reqwest::Error> {
    let url = match after {
        Some(after) => format!("{url}?after={after}"),
        None => url.to_owned(),
    };
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

fn broadcast(updates: &broadcast::Sender<String>, event: Event) {
    let span = wakeline_middleware::consume(&event.headers, &event.topic);
    let _entered = span.enter();
    let text = serde_json::json!({ "message": event.message, "author": event.author }).to_string();
    let clients = updates.receiver_count();
    // No open page is not an error: the message is in the history.
    let _ = updates.send(text);
    tracing::info!(
        seq = event.seq,
        message_id = event.message["id"].as_u64(),
        clients,
        "message broadcast"
    );
}

async fn socket(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    let updates = app.updates.subscribe();
    upgrade.on_upgrade(move |socket| relay(socket, updates).in_current_span())
}

/// Sends every update to one page until it goes away.
async fn relay(mut socket: WebSocket, mut updates: broadcast::Receiver<String>) {
    tracing::info!("page connected");
    let mut sent = 0u64;
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(text) => {
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "page too slow; updates skipped");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // Pages send nothing but pings and the close.
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::info!(sent, "page disconnected");
}
