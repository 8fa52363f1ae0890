//! `GET /api/live`: the live feed over WebSocket.
//!
//! A client names filters (as in search) and optionally `tail=N` or
//! `after_seq=S`. It first gets the last N matching records, or every
//! matching record numbered above S (a search's `watermark`: the UI's
//! "follow" turns a search into a live view this way) — from the index up to
//! the hub's committed watermark, then from the hub's not-yet-committed
//! records — and then every new matching record as it is parsed. The
//! subscription and the snapshot are taken under one lock in the hub, so
//! there is no gap and no duplicate at either seam.
//!
//! A client that reads slower than records arrive falls behind in the hub's
//! fixed ring; when it reads again it skips ahead and is sent
//! `{"type":"gap","dropped":n}`. Ingest never waits for it, and its memory
//! is bounded by the ring and the socket's write buffer.
//!
//! The handshake is refused (403) when a browser's `Origin` is not the
//! collector's own host (or an allowed origin): another web page must not be
//! able to read logs through a user's browser.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::error::ApiError;
use super::params::{Backfill, live_params};
use super::{AppState, blocking};
use crate::filter::RecordFilter;
use crate::live::{LiveRecord, Subscription};
use crate::query::{MAX_LIMIT, SearchParams};

/// Keepalive: a ping this often.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Records written before a flush.
const FLUSH_EVERY: usize = 256;
/// Read buffer per client. Clients send nothing but pongs and a close, and
/// tungstenite zeroes the whole buffer before every read attempt: its default
/// of 128 KiB made `memset` the largest cost of a busy live feed.
const READ_BUFFER: usize = 4096;
/// Largest message a client may send (pongs and closes are tiny).
const MAX_INCOMING: usize = 64 * 1024;

pub async fn live(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let (params, start) = live_params(raw.as_deref())?;
    let filter = RecordFilter::new(&state.index, params.clone())?;
    let upgrade = upgrade
        .map_err(|e| ApiError::bad("websocket required", e.body_text()))?
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING);
    Ok(upgrade.on_upgrade(move |socket| serve(socket, state, params, filter, start)))
}

/// Same-origin check, plus DNS-rebinding protection when serving on loopback:
/// the browser must have reached us by a loopback name.
pub(super) fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser (browsers always send Origin on WebSocket handshakes).
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    if state
        .allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/') == origin)
    {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same_origin = !host.is_empty()
        && (origin.strip_prefix("http://") == Some(host)
            || origin.strip_prefix("https://") == Some(host));
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback_name =
        matches!(host_name, "localhost" | "127.0.0.1" | "[::1]") || host_name.starts_with("127.");
    if same_origin && (!state.loopback_only || loopback_name) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "origin {origin:?} is not this collector's own (allowed: this host, or --allowed-origins)"
    )))
}

/// Counts a connected client for as long as it lives.
struct ClientGuard(AppState);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.hub.stats.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(
    mut socket: WebSocket,
    state: AppState,
    params: SearchParams,
    mut filter: RecordFilter,
    start: Backfill,
) {
    state.hub.stats.clients.fetch_add(1, Ordering::Relaxed);
    let _guard = ClientGuard(state.clone());
    let Subscription {
        mut receiver,
        pending,
        committed_seq,
    } = state.hub.subscribe();
    if start != Backfill::None {
        let backfill =
            match backfill(&state, params, &mut filter, pending, committed_seq, start).await {
                Ok(records) => records,
                Err(e) => {
                    let _ = send_text(
                        &mut socket,
                        json!({"type": "error", "error": e.to_string()}).to_string(),
                    )
                    .await;
                    return;
                }
            };
        let (dropped, backfill) = backfill;
        if dropped > 0
            && send_text(
                &mut socket,
                json!({"type": "gap", "dropped": dropped}).to_string(),
            )
            .await
            .is_err()
        {
            return;
        }
        let sent = backfill.len() as u64;
        for record in backfill {
            if feed_record(&mut socket, &record).await.is_err() {
                return;
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
        state.hub.count_sent(sent);
    }

    let mut shutdown = state.shutdown.clone();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            received = receiver.recv() => {
                let first = match received {
                    Ok(record) => record,
                    Err(RecvError::Lagged(n)) => {
                        state.hub.count_dropped(n);
                        if send_text(&mut socket, json!({"type": "gap", "dropped": n}).to_string()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                // Write what is already waiting in one go, then flush once.
                let mut sent = 0u64;
                let mut next = Some(first);
                let mut written = 0;
                while let Some(record) = next.take() {
                    if filter.matches(&record) {
                        if feed_record(&mut socket, &record).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                    written += 1;
                    if written >= FLUSH_EVERY {
                        break;
                    }
                    match receiver.try_recv() {
                        Ok(record) => next = Some(record),
                        Err(TryRecvError::Lagged(n)) => {
                            state.hub.count_dropped(n);
                            let gap = json!({"type": "gap", "dropped": n}).to_string();
                            if socket.feed(Message::Text(gap.into())).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => {}
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
                state.hub.count_sent(sent);
            }
            incoming = socket.recv() => match incoming {
                // Pongs are answered by the library; text from the client is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// What comes before the live stream, oldest first: the index up to the
/// committed watermark, then the pending records. With `after_seq`, more
/// than [`MAX_LIMIT`] records are cut to the newest, and the first number
/// returned says how many were left out (sent as a gap notice).
async fn backfill(
    state: &AppState,
    params: SearchParams,
    filter: &mut RecordFilter,
    pending: Vec<Arc<LiveRecord>>,
    committed_seq: u64,
    start: Backfill,
) -> Result<(u64, Vec<Arc<LiveRecord>>), ApiError> {
    let (tail, after_seq) = match start {
        Backfill::None => return Ok((0, Vec::new())),
        Backfill::Tail(n) => (n, None),
        Backfill::AfterSeq(seq) => (MAX_LIMIT, Some(seq)),
    };
    let recent: Vec<Arc<LiveRecord>> = pending
        .into_iter()
        .filter(|r| after_seq.is_none_or(|after| r.seq > after) && filter.matches(r))
        .collect();
    let from_index = tail.saturating_sub(recent.len());
    let mut records: Vec<Arc<LiveRecord>> = Vec::with_capacity(tail.min(1024));
    let mut dropped = 0;
    let index_has_more = after_seq.is_none_or(|after| after < committed_seq);
    if index_has_more && (from_index > 0 || after_seq.is_some()) {
        let index = Arc::clone(&state.index);
        let query = SearchParams {
            limit: from_index,
            ascending: false,
            max_seq: Some(committed_seq),
            after_seq,
            ..params
        };
        let page = blocking(move || Ok(index.search(&query)?)).await?;
        if after_seq.is_some() {
            dropped = (page.total - page.hits.len()) as u64;
        }
        records.extend(page.hits.into_iter().rev().map(LiveRecord::new));
    }
    let skip = recent.len().saturating_sub(tail);
    dropped += skip as u64 * u64::from(after_seq.is_some());
    records.extend(recent.into_iter().skip(skip));
    Ok((dropped, records))
}

/// Queues a record's frame, serialized once and shared by every client.
async fn feed_record(socket: &mut WebSocket, record: &LiveRecord) -> Result<(), axum::Error> {
    socket.feed(Message::Text(record.frame())).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
}
