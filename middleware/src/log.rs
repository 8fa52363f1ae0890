//! One JSON object per line, in the shape the Wakeline collector reads with no
//! configuration.
//!
//! ```text
//! {"ts":"2026-01-02T03:04:05.123456789Z","level":"info","msg":"user loaded","target":"users::db","request_id":"0190…","trace_id":"4bf9…4736","span_id":"00f0…02b7","user_id":42}
//! ```
//!
//! `ts` is RFC 3339 UTC with nanoseconds, `level` is lowercase, `msg` is the
//! event's message, and the three IDs come from the [`RequestContext`] of the
//! enclosing request span (left out when the event is not inside one). The
//! event's own fields follow as JSON values (numbers and booleans stay typed).
//!
//! Why a layer of our own rather than `tracing_subscriber::fmt().json()`:
//! that one nests span fields under `span`/`spans`, names the message
//! `fields.message` and formats the IDs back and forth as strings; the
//! collector wants them flat and this is the hot path. Lines are built in a
//! reused thread-local buffer and handed to the writer in one `write_all`, so
//! concurrent lines never interleave on stdout.
//!
//! An event field named like one of the fixed keys (`ts`, `level`, `msg`,
//! `target`, and the three IDs when a request context is present) is written
//! with a `field_` prefix, so a line never has a duplicate key.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanId, TraceId};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

use crate::context::RequestContext;
use crate::id::RequestId;
use crate::timestamp::Rfc3339Cache;
pub(crate) use escape::HEX_PAIRS;
use escape::{push_json_str, push_json_str_fmt, write_hex};
use keys::{CallsiteKeys, Key, Keys, write_key};

/// A tracing-subscriber layer that writes each event as one JSON line.
///
/// Writes to stdout unless given another [`MakeWriter`] with
/// [`JsonLayer::with_writer`] (tests capture lines that way).
#[derive(Debug)]
pub struct JsonLayer<W = fn() -> io::Stdout> {
    make_writer: W,
}

/// Whether a [`JsonLayer`] was ever made in this process: the request layer
/// writes its lines ahead for it (see `lent`) only then, so a service with
/// another subscriber does not pay for that.
static MADE: AtomicBool = AtomicBool::new(false);

impl JsonLayer {
    /// A layer writing to stdout.
    pub fn new() -> Self {
        MADE.store(true, Ordering::Relaxed);
        Self {
            make_writer: io::stdout,
        }
    }
}

impl Default for JsonLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> JsonLayer<W> {
    /// The same layer writing to `make_writer` instead.
    pub fn with_writer<W2>(self, make_writer: W2) -> JsonLayer<W2>
    where
        W2: for<'a> MakeWriter<'a> + 'static,
    {
        JsonLayer { make_writer }
    }
}

/// Installs the global subscriber: JSON lines on stdout, filtered by
/// `RUST_LOG` (default `info`). Fails if a global subscriber is already set.
pub fn init() -> Result<(), TryInitError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(JsonLayer::new())
        .try_init()
}

/// The per-thread buffers a line is assembled in.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    ids: Vec<u8>,
    msg: Vec<u8>,
    fields: Vec<u8>,
    log_target: String,
    clock: Rfc3339Cache,
    keys: Keys,
    ids_text: IdsText,
    /// A line of the layer's, from `"msg":` on (see `lent`).
    lent: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                let lent = lent::is_lent(event.parent(), event.metadata());
                self.write_event(&mut bufs, event, &ctx, lent);
            }
            // Only if formatting a field value itself logs: use fresh buffers.
            Err(_) => self.write_event(&mut Buffers::default(), event, &ctx, false),
        });
    }
}

impl<W> JsonLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    /// Writes `event` as one line; `lent`: `bufs.lent` already holds all of
    /// it after the time and level (see `lent`).
    fn write_event<S>(
        &self,
        bufs: &mut Buffers,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        lent: bool,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Buffers {
            line,
            ids,
            msg,
            fields,
            log_target,
            clock,
            keys,
            ids_text,
            lent: lent_line,
        } = bufs;
        line.clear();
        let meta = event.metadata();

        line.extend_from_slice(b"{\"ts\":\"");
        clock.write(line, crate::clock::now());
        line.extend_from_slice(b"\",\"level\":\"");
        line.extend_from_slice(level_str(meta.level()).as_bytes());
        line.extend_from_slice(b"\",\"msg\":");
        if lent {
            line.extend_from_slice(lent_line);
            line.extend_from_slice(b"}\n");
            // A log line that cannot be written has nowhere to be reported.
            let _ = self.make_writer.make_writer_for(meta).write_all(line);
            return;
        }
        ids.clear();
        msg.clear();
        fields.clear();
        // The event's own span first: usually the request span itself, and
        // looking at it before walking its scope saves looking it up twice.
        let mut write_ids_of = |span: SpanRef<'_, S>| {
            let ext = span.extensions();
            ext.get::<RequestContext>()
                .map(|request| {
                    let (trace_id, span_id) = (request.trace_id(), request.span_id());
                    write_ids(ids, request.request_id(), trace_id, span_id, ids_text);
                })
                .is_some()
        };
        let has_request = ctx.event_span(event).is_some_and(|span| {
            let parents = span.scope().skip(1);
            write_ids_of(span) || parents.into_iter().any(&mut write_ids_of)
        });
        log_target.clear();
        let from_log = meta.target() == "log";
        let callsite = keys.get(meta, has_request, from_log);
        let mut visitor = JsonVisitor {
            line,
            msg,
            fields,
            // An event from `log` has its target among its fields, so it
            // cannot be written after the message straight away.
            order: if from_log { Order::Apart } else { Order::Start },
            target: callsite.target(),
            ids,
            has_request,
            from_log,
            log_target,
            callsite: &callsite,
        };
        event.record(&mut visitor);
        let order = visitor.order;
        match order {
            Order::AfterMessage => write_head(line, callsite.target(), ids),
            Order::Direct => {}
            Order::Start | Order::Apart => {
                if msg.is_empty() {
                    line.extend_from_slice(b"\"\"");
                } else {
                    line.extend_from_slice(msg);
                }
                if from_log && !log_target.is_empty() {
                    line.extend_from_slice(b",\"target\":");
                    push_json_str(line, log_target);
                    line.extend_from_slice(ids);
                } else {
                    write_head(line, callsite.target(), ids);
                }
                line.extend_from_slice(fields);
            }
        }
        line.extend_from_slice(b"}\n");

        // A log line that cannot be written has nowhere to be reported.
        let _ = self.make_writer.make_writer_for(meta).write_all(line);
    }
}

/// What follows the message: `,"target":…` and the request's IDs.
fn write_head(line: &mut Vec<u8>, target: &[u8], ids: &[u8]) {
    line.extend_from_slice(b",\"target\":");
    line.extend_from_slice(target);
    line.extend_from_slice(ids);
}

/// `","trace_id":"…","span_id":"…"`: what follows the request ID's value.
const TRACE_KEY: &[u8] = b"\",\"trace_id\":\"";
const SPAN_KEY: &[u8] = b"\",\"span_id\":\"";
const TRACE_AT: usize = TRACE_KEY.len();
const SPAN_KEY_AT: usize = TRACE_AT + 32;
const SPAN_AT: usize = SPAN_KEY_AT + SPAN_KEY.len();
const IDS_TAIL_LEN: usize = SPAN_AT + 16 + 1;

/// The last trace and span IDs written as text on this thread: a request's
/// lines follow one another, so its second line copies what its first
/// wrote. Keyed by the IDs themselves, so it is never stale.
struct IdsText {
    ids: Option<(TraceId, SpanId)>,
    text: [u8; IDS_TAIL_LEN],
}

impl Default for IdsText {
    fn default() -> Self {
        Self {
            ids: None,
            text: [0; IDS_TAIL_LEN],
        }
    }
}

impl IdsText {
    fn get(&mut self, trace_id: TraceId, span_id: SpanId) -> &[u8; IDS_TAIL_LEN] {
        if self.ids != Some((trace_id, span_id)) {
            let text = &mut self.text;
            text[..TRACE_AT].copy_from_slice(TRACE_KEY);
            write_hex(&mut text[TRACE_AT..SPAN_KEY_AT], &trace_id.to_bytes());
            text[SPAN_KEY_AT..SPAN_AT].copy_from_slice(SPAN_KEY);
            write_hex(&mut text[SPAN_AT..SPAN_AT + 16], &span_id.to_bytes());
            text[SPAN_AT + 16] = b'"';
            self.ids = Some((trace_id, span_id));
        }
        &self.text
    }
}

fn write_ids(
    out: &mut Vec<u8>,
    request_id: &RequestId,
    trace_id: TraceId,
    span_id: SpanId,
    ids_text: &mut IdsText,
) {
    // Request IDs are [A-Za-z0-9._:-] only: nothing to escape.
    out.extend_from_slice(b",\"request_id\":\"");
    out.extend_from_slice(request_id.as_header_value().as_bytes());
    out.extend_from_slice(ids_text.get(trace_id, span_id));
}

fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Visits an event's fields. The message comes first on the line and is
/// almost always the first field visited (tracing's macros put it first):
/// then it, the target, the IDs and the fields are written straight into
/// the line. Otherwise (a field before the message, or an event from `log`)
/// the message goes into `msg` and the fields into `fields`, and the line is
/// put together at the end.
struct JsonVisitor<'a> {
    line: &'a mut Vec<u8>,
    msg: &'a mut Vec<u8>,
    fields: &'a mut Vec<u8>,
    order: Order,
    /// The target as a JSON string and the request's IDs, written after the
    /// message.
    target: &'a [u8],
    ids: &'a [u8],
    has_request: bool,
    /// Whether the event came from the `log` crate (through `tracing-log`):
    /// its `log.*` fields are metadata, and `log.target` is the real target.
    from_log: bool,
    log_target: &'a mut String,
    /// The keys of the event's callsite.
    callsite: &'a CallsiteKeys<'a>,
}

/// How far the line is written while the fields are visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Nothing visited yet: a message would go straight into the line.
    Start,
    /// The line ends with the message; the target and IDs come next.
    AfterMessage,
    /// The line has the message, target and IDs; fields go straight in.
    Direct,
    /// The message and fields are kept apart, to be put together at the end.
    Apart,
}

/// Where a field's value goes.
enum Slot<'b> {
    /// The message: always written as a JSON string.
    Message(&'b mut Vec<u8>),
    /// A field whose key is already written.
    Field(&'b mut Vec<u8>),
    /// Not written.
    Skip,
}

impl JsonVisitor<'_> {
    /// Writes the field's key if it is written as a field, and says where
    /// the value goes.
    fn slot(&mut self, field: &Field) -> Slot<'_> {
        let key = match self.callsite.key(field) {
            Some(key) => key,
            None => {
                let name = field.name();
                let (has_request, from_log) = (self.has_request, self.from_log);
                let mut key = Vec::new();
                if write_key(&mut key, name, has_request, from_log) {
                    let out = self.field_buffer();
                    out.extend_from_slice(&key);
                    return Slot::Field(out);
                }
                keys::special(name)
            }
        };
        match key {
            Key::Message if self.order == Order::Start => {
                self.order = Order::AfterMessage;
                Slot::Message(self.line)
            }
            Key::Message => Slot::Message(self.msg),
            Key::Skip => Slot::Skip,
            Key::Field(text) => {
                let out = self.field_buffer();
                out.extend_from_slice(text);
                Slot::Field(out)
            }
        }
    }

    /// Where the next field goes: the line once the message, target and
    /// IDs are on it, else `fields`.
    fn field_buffer(&mut self) -> &mut Vec<u8> {
        match self.order {
            Order::AfterMessage => {
                write_head(self.line, self.target, self.ids);
                self.order = Order::Direct;
                self.line
            }
            Order::Direct => self.line,
            Order::Start | Order::Apart => {
                self.order = Order::Apart;
                self.fields
            }
        }
    }

    /// A value written bare in a field (numbers, booleans), quoted as the message.
    fn raw(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        match self.slot(field) {
            Slot::Message(out) => push_json_str_fmt(out, value),
            Slot::Field(out) => {
                let _ = Raw(out).write_fmt(value);
            }
            Slot::Skip => {}
        }
    }

    /// A number or boolean: bare in a field, quoted as the message.
    fn number(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        match self.slot(field) {
            Slot::Message(out) => {
                out.push(b'"');
                write(out);
                out.push(b'"');
            }
            Slot::Field(out) => write(out),
            Slot::Skip => {}
        }
    }

    /// A value written as a JSON string.
    fn string(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        match self.slot(field) {
            Slot::Message(out) | Slot::Field(out) => push_json_str_fmt(out, value),
            Slot::Skip => {}
        }
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.from_log && field.name() == "log.target" {
            self.log_target.clear();
            self.log_target.push_str(value);
            return;
        }
        match self.slot(field) {
            Slot::Message(out) | Slot::Field(out) => push_json_str(out, value),
            Slot::Skip => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, |out| number::push_i64(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, |out| number::push_u64(out, value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.number(field, |out| out.extend_from_slice(text));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, |out| number::push_f64(out, value));
        } else {
            // JSON has no NaN or infinity.
            self.string(field, format_args!("{value}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.string(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format_args!("{value:?}"));
    }
}

/// `fmt::Write` into a byte buffer, unescaped (numbers, booleans).
struct Raw<'a>(&'a mut Vec<u8>);

impl fmt::Write for Raw<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

mod escape;
mod keys;
mod lent;
mod number;

pub(crate) use lent::{Fields, Ids, Lend, Message, lend};

pub(crate) use number::DIGIT_PAIRS;
#[cfg(test)]
mod tests;
