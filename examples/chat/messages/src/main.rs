//! messages: the chat's messages, and the queue that tells push about new ones.
//!
//! * `POST /api/messages` (`Authorization: Bearer <token>`, `{"text"}`) asks
//!   tokens whose token it is, asks users for the author's name, stores the
//!   message and puts a `message.created` event in the outbox. 401 on a bad
//!   token.
//! * `GET /api/messages` lists the latest messages with their authors' names,
//!   asking users once per distinct author (so a listing is a request with
//!   depth); `?slow=1` also "searches the archive" for 300–800 ms, the slow
//!   path to find in Wakeline.
//! * `GET /api/messages/stats` counts messages and authors: the callee of the
//!   edge's legacy route, whose client does not propagate the request ID, so
//!   here that request starts under an ID of its own.
//! * `GET /internal/events?after=N` is the queue's consumer side: a long poll
//!   (up to 20 s) returning the outbox events after sequence number `N`
//!   (without `after`: none, at once, and where the queue is).
//!
//! What it shows in a trace: an asynchronous hop. Handing the event to push is
//! not a call the request waits for; the request's ID and a child
//! `traceparent` travel in the event's `headers`, written by the middleware's
//! carrier API (`wakeline_middleware::publish`, which logs `message published`),
//! and push continues the request from them. The long poll itself is transport
//! and runs outside the request layer. State is in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use chat_common::{ApiError, call_json};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The topic of the events push consumes.
const TOPIC: &str = "message.created";
/// The outbox keeps this many events; a consumer further behind misses some.
const OUTBOX_LEN: usize = 1000;
/// The longest a long poll waits for an event.
const LONG_POLL: Duration = Duration::from_secs(20);

#[derive(Clone, Serialize)]
struct Message {
    id: u64,
    author_id: u64,
    text: String,
    /// Milliseconds since the Unix epoch.
    ts: u64,
}

#[derive(Clone, Serialize)]
struct Event {
    seq: u64,
    topic: &'static str,
    /// `x-request-id` and `traceparent` of the request that posted the message.
    headers: BTreeMap<String, String>,
    message: Message,
    author: String,
}

#[derive(Default)]
struct Store {
    messages: Vec<Message>,
    outbox: Vec<Event>,
    next_seq: u64,
}

#[derive(Clone)]
struct App {
    store: Arc<Mutex<Store>>,
    new_event: Arc<Notify>,
    client: ClientWithMiddleware,
    tokens: String,
    users: String,
}

fn app(state: App) -> Router {
    Router::new()
        .route("/api/messages", get(list).post(post_message))
        .route("/api/messages/stats", get(stats))
        .with_state(state)
}

fn queue(state: App) -> Router {
    Router::new()
        .route("/internal/events", get(events))
        .with_state(state)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = App {
        store: Arc::default(),
        new_event: Arc::default(),
        client: chat_common::client()?,
        tokens: chat_common::service_url("tokens"),
        users: chat_common::service_url("users"),
    };
    chat_common::serve_with("messages", app(state.clone()), queue(state)).await
}

#[derive(Deserialize)]
struct NewMessage {
    text: String,
}

async fn post_message(
    State(app): State<App>,
    headers: HeaderMap,
    Json(body): Json<NewMessage>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let token = bearer(&headers)?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 500 {
        return Err(ApiError::BadRequest(
            "text: expected 1-500 characters".to_owned(),
        ));
    }
    // The token goes in a header, not the path: paths are logged.
    let owner: Value = call_json(
        "tokens",
        app.client
            .get(format!("{}/internal/tokens/current", app.tokens))
            .bearer_auth(token),
    )
    .await?;
    let Some(author_id) = owner["user_id"].as_u64() else {
        return Err(ApiError::Internal(format!(
            "tokens: expected {{\"user_id\": number}}, found {owner}"
        )));
    };
    let author = username(&app, author_id).await?;

    let mut store = lock(&app);
    let message = Message {
        id: store.messages.len() as u64 + 1,
        author_id,
        text: text.to_owned(),
        ts: now_ms(),
    };
    store.messages.push(message.clone());
    store.next_seq += 1;
    let mut event_headers = BTreeMap::new();
    // The hop to push: the request's ID and a child traceparent go with the
    // event, and the `message published` line records it.
    wakeline_middleware::publish(&mut event_headers, "outbox", TOPIC);
    let event = Event {
        seq: store.next_seq,
        topic: TOPIC,
        headers: event_headers,
        message: message.clone(),
        author: author.clone(),
    };
    store.outbox.push(event);
    if store.outbox.len() > OUTBOX_LEN {
        store.outbox.remove(0);
    }
    drop(store);
    app.new_event.notify_waiters();
    tracing::info!(message_id = message.id, author_id, "message stored");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "message": message, "author": author })),
    ))
}

/// The token of `Authorization: Bearer <token>`, if it has a token's shape.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    // Tokens are hex: anything else is refused before a call.
    if token.is_empty() || token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <token from POST /api/tokens>".to_owned(),
        ));
    }
    Ok(token)
}

async fn username(app: &App, user_id: u64) -> Result<String, ApiError> {
    let user: Value = call_json(
        "users",
        app.client.get(format!("{}/api/users/{user_id}", app.users)),
    )
    .await?;
    Ok(user["username"].as_str().unwrap_or("?").to_owned())
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    slow: Option<String>,
}

async fn list(
    State(app): State<App>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if query.slow.is_some_and(|v| v != "0") {
        // The slow path: stands for a full-text search of an old archive.
        let delay = Duration::from_millis(300 + now_ms() % 501);
        tracing::info!(delay_ms = delay.as_millis() as u64, "searching the archive");
        tokio::time::sleep(delay).await;
    }
    let latest: Vec<Message> = {
        let store = lock(&app);
        let skip = store.messages.len().saturating_sub(50);
        store.messages[skip..].to_vec()
    };
    let mut names: HashMap<u64, String> = HashMap::new();
    for message in &latest {
        if names.contains_key(&message.author_id) {
            continue;
        }
        let name = match username(&app, message.author_id).await {
            Ok(name) => name,
            Err(ApiError::Upstream { .. }) => "unknown".to_owned(),
            Err(other) => return Err(other),
        };
        names.insert(message.author_id, name);
    }
    let messages: Vec<Value> = latest
        .iter()
        .map(|m| json!({ "message": m, "author": names.get(&m.author_id) }))
        .collect();
    tracing::info!(
        count = messages.len(),
        authors = names.len(),
        "messages listed"
    );
    Ok(Json(json!({ "messages": messages })))
}

async fn stats(State(app): State<App>) -> Json<Value> {
    let (messages, authors) = {
        let store = lock(&app);
        let mut authors: Vec<u64> = store.messages.iter().map(|m| m.author_id).collect();
        authors.sort_unstable();
        authors.dedup();
        (store.messages.len(), authors.len())
    };
    tracing::info!(messages, authors, "stats computed");
    Json(json!({ "messages": messages, "authors": authors }))
}

#[derive(Deserialize)]
struct EventsQuery {
    after: Option<u64>,
}

/// The long poll: events after `after`, or an empty batch after [`LONG_POLL`].
/// Without `after`, an empty batch at once: `last` says where the queue is.
async fn events(State(app): State<App>, Query(query): Query<EventsQuery>) -> Json<Value> {
    let Some(after) = query.after else {
        let last = lock(&app).next_seq;
        return Json(json!({ "events": [], "last": last }));
    };
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    loop {
        // Registered before looking, so an event published in between wakes us.
        let notified = app.new_event.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (batch, last) = {
            let store = lock(&app);
            let batch: Vec<Event> = store
                .outbox
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect();
            (batch, store.next_seq)
        };
        if !batch.is_empty() || tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Json(json!({ "events": batch, "last": last }));
        }
    }
}

fn lock(app: &App) -> std::sync::MutexGuard<'_, Store> {
    // Every update leaves the store consistent: a poisoned lock is usable.
    app.store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shaped_bearers_pass() {
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_err());
        for (value, ok) in [
            ("Bearer abc123", true),
            ("Bearer ../../internal", false),
            ("Bearer a?b", false),
            ("Basic abc", false),
        ] {
            headers.insert(header::AUTHORIZATION, value.parse().expect("value"));
            assert_eq!(bearer(&headers).is_ok(), ok, "{value}");
        }
    }
}
