//! A request ID at the edge, carried on every downstream call, stamped on
//! every log line.
//!
//! The Wakeline collector joins the log lines of one request across services
//! by its ID. That only works if every service logs the same ID, so this crate
//! makes it a few lines per service:
//!
//! * [`RequestIdLayer`], a tower layer for axum or any tower/hyper service,
//!   keeps a valid incoming `X-Request-ID` (else makes a UUIDv7), continues the
//!   caller's W3C `traceparent` (else starts a trace), and serves the request
//!   inside a tracing span that carries both. The ID is in the request
//!   extensions, as a [`RequestContext`] (both it and [`RequestId`] are axum
//!   extractors), and in the response header.
//! * [`PropagateRequestId`], a `reqwest-middleware` middleware, sends the same
//!   ID and a child `traceparent` on every call made while serving a request,
//!   and logs one line per call. [`inject_headers`] does the same for any
//!   other client's `http::HeaderMap`.
//! * [`carrier`] carries the request through a queue or a job payload: any
//!   string map ([`Carrier`]) gets the ID and a child `traceparent` with
//!   [`publish`], and the consumer continues the request in a span from
//!   [`consume`].
//! * [`JsonLayer`] (or [`log::init`]) writes one JSON object per line with
//!   `ts`, `level`, `msg`, `target`, `request_id`, `trace_id`, `span_id` and
//!   the event's fields: the shape the collector reads with no configuration.
//!
//! # Example
//!
//! (It needs the default features, `axum` and `reqwest`; without them it is
//! shown but not compiled.)
//!
#![cfg_attr(all(feature = "axum", feature = "reqwest"), doc = "```no_run")]
#![cfg_attr(not(all(feature = "axum", feature = "reqwest")), doc = "```ignore")]
//! use axum::extract::{Path, State};
//! use axum::{Router, routing::get};
//! use reqwest_middleware::ClientWithMiddleware;
//! use tracing::Instrument;
//! use wakeline_middleware::{PropagateRequestId, RequestId, RequestIdLayer};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // 1. JSON lines on stdout, filtered by RUST_LOG (default `info`).
//!     wakeline_middleware::log::init()?;
//!
//!     // 2. A client that carries the request ID to the services we call.
//!     let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!         .with(PropagateRequestId::new())
//!         .build();
//!
//!     // 3. The layer, outermost, so every route gets an ID.
//!     let app = Router::new()
//!         .route("/users/{id}", get(user))
//!         .with_state(client)
//!         .layer(RequestIdLayer::new());
//!
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//!
//! async fn user(
//!     State(client): State<ClientWithMiddleware>,
//!     Path(user): Path<u64>,
//!     request_id: RequestId,
//! ) -> String {
//!     // Carries request_id, trace_id and span_id.
//!     tracing::info!(user, "loading user");
//!
//!     // A spawned task keeps the ID when it is attached to the span.
//!     tokio::spawn(async move { tracing::info!(user, "audit") }.in_current_span());
//!
//!     // Sends X-Request-ID and a child traceparent; logs one line.
//!     let token = match client.get("http://tokens:8080/token").send().await {
//!         Ok(response) => response.text().await.unwrap_or_default(),
//!         Err(error) => {
//!             tracing::warn!(%error, "token service unreachable");
//!             String::new()
//!         }
//!     };
//!     format!("user {user}, token {token}, request {request_id}")
//! }
//! ```
//!
//! # Spawned tasks
//!
//! The IDs follow the *tracing span*, not the task. `tokio::spawn` starts a
//! task outside any span, so attach it:
//! `tokio::spawn(fut.in_current_span())` (with [`tracing::Instrument`]) or
//! `fut.instrument(tracing::Span::current())`. Its log lines and outgoing
//! calls then carry the request's IDs, even after the response was sent.
//!
//! # Features
//!
//! * `axum` (default): the [`RequestId`] / [`RequestContext`] extractors.
//! * `reqwest` (default): [`PropagateRequestId`].
//! * `otel`: parent the request's OpenTelemetry span (tracing-opentelemetry)
//!   on the incoming `traceparent` and log its IDs, so services that export
//!   traces keep a single trace ID; give each reqwest call an exported client
//!   span, whose ID is the `traceparent` parent sent downstream.
//!
//! With none of them (`default-features = false`) the crate still has
//! [`RequestIdLayer`], the [`RequestContext`] in the request extensions
//! (`Extension<RequestContext>` in axum), [`inject_headers`] for any other
//! client, and the JSON log lines; it then needs neither axum nor reqwest.
//!
//! The IDs are stored in the span's `tracing_subscriber::Registry` extensions,
//! so the global subscriber must be built on the registry (every
//! `tracing_subscriber` subscriber is).
//!
// Without `reqwest` there is no `PropagateRequestId` to link to.
#![cfg_attr(not(feature = "reqwest"), doc = "[`PropagateRequestId`]: #features")]

#[cfg(test)]
mod capture;
pub mod carrier;
#[cfg(feature = "reqwest")]
mod client;
mod clock;
mod context;
#[cfg(feature = "axum")]
mod extract;
mod id;
mod layer;
pub mod log;
#[cfg(feature = "otel")]
mod otel;
mod propagate;
mod timestamp;

pub use carrier::{Carrier, consume, publish};
#[cfg(feature = "reqwest")]
pub use client::{CALL_LINE_TARGET, PropagateRequestId};
pub use context::RequestContext;
#[cfg(feature = "axum")]
pub use extract::MissingRequestId;
pub use id::{
    InvalidRequestId, MAX_REQUEST_ID_LEN, MakeRequestId, MakeUuidV7, RequestId, Trust,
    is_valid_request_id, new_uuid_v7,
};
pub use layer::{REQUEST_LINE_TARGET, RequestIdLayer, RequestIdService, ResponseFuture};
pub use log::JsonLayer;
pub use propagate::{
    HeaderExtractor, HeaderInjector, TRACEPARENT, X_REQUEST_ID, extract_parent, inject_child,
    inject_context, inject_headers,
};
