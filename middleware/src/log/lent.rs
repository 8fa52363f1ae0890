//! The layer's own lines, written ahead by the layer and lent to the writer.
//!
//! Every request writes a start and an end line. Written the general way,
//! each looks its span up in the registry for the request's IDs (a slab
//! reference and a read lock: four atomic operations) and visits the
//! event's fields through tracing's `Visit` (a dynamic call, a key lookup
//! and a copy or two per field): about a thousand instructions a line. The
//! layer has all of it in hand, so just before it emits such a line it
//! writes what follows `"msg":` (message, target, IDs and fields) into this
//! thread's line buffers, with the helpers the writer itself uses, and
//! marks it lent to that span. The writer then adds only the time and level.
//!
//! A lent line serves only a line written on this thread whose explicit
//! parent is that span and whose callsite has the layer's target and the
//! line's number of fields; any other line revokes the lend, and so does
//! the guard when dropped. A lend is refused while another is out, and
//! when no `JsonLayer` was ever made. So the output is byte for byte what
//! the general path writes (a test compares the two).

use std::cell::Cell;
use std::num::NonZeroU64;
use std::sync::atomic::Ordering;

use opentelemetry::trace::{SpanId, TraceId};
use tracing::{Metadata, Span};

use super::escape::{push_json_str, write_hex};
use super::number::{push_f64, push_thousandths, push_u64};
use super::{BUFFERS, IdsText, MADE, write_ids};
use crate::id::RequestId;
use crate::layer::REQUEST_LINE_TARGET;

thread_local! {
    /// The span a line is lent to, and the number of fields of that line's
    /// callsite. Apart from the text, so that revoking cannot fail.
    static LENT: Cell<Option<(NonZeroU64, usize)>> = const { Cell::new(None) };
}

/// The messages of the layer's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    Started,
    Finished,
    Failed,
    Cancelled,
}

impl Message {
    /// The message.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "request started",
            Self::Finished => "request finished",
            Self::Failed => "request failed",
            Self::Cancelled => "request cancelled",
        }
    }

    /// The message as a JSON string, `,"target":` and the layer's target
    /// ([`REQUEST_LINE_TARGET`]) as one: how every lent line starts. Written
    /// out, and held to the writer by a test.
    fn head(self) -> &'static [u8] {
        match self {
            Self::Started => br#""request started","target":"wakeline_middleware::request""#,
            Self::Finished => br#""request finished","target":"wakeline_middleware::request""#,
            Self::Failed => br#""request failed","target":"wakeline_middleware::request""#,
            Self::Cancelled => br#""request cancelled","target":"wakeline_middleware::request""#,
        }
    }
}

/// The fields of one of the layer's lines, after its message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fields<'a> {
    /// `request started`: `method`, `path`, and `parent_span_id` if the
    /// caller sent one.
    Start {
        method: &'a str,
        path: &'a str,
        parent_span_id: Option<SpanId>,
    },
    /// The end lines: `status` if there is a response, and `duration_ms`
    /// (the event's is `duration_us as f64 / 1e3`).
    End {
        status: Option<u16>,
        duration_us: u64,
    },
}

/// The request's IDs, as its lines carry them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids<'a> {
    pub(crate) request_id: &'a RequestId,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

/// Writes the line the layer is about to emit with `span` as its explicit
/// parent, and lends it to the writer on this thread until the guard drops.
/// `ids` must be the context attached to `span`, and `message` and
/// `fields` the event's.
pub(crate) fn lend(span: &Span, ids: Ids<'_>, message: Message, fields: Fields<'_>) -> Lend {
    let refused = Lend { lent: false };
    if !MADE.load(Ordering::Relaxed) {
        return refused;
    }
    let Some(id) = span.id() else {
        return refused;
    };
    if LENT.get().is_some() {
        return refused;
    }
    let field_count = BUFFERS.with(|cell| {
        let mut bufs = cell.try_borrow_mut().ok()?;
        let bufs = &mut *bufs;
        bufs.lent.clear();
        Some(write_line(
            &mut bufs.lent,
            &mut bufs.ids_text,
            ids,
            message,
            fields,
        ))
    });
    let Some(field_count) = field_count else {
        return refused;
    };
    LENT.set(Some((id.into_non_zero_u64(), field_count)));
    Lend { lent: true }
}

/// Appends what follows `"msg":` on the line, as the writer would write it
/// (its message, target and keys are written out here; a test holds them
/// to the writer's), and returns the number of fields its callsite declares
/// (`message` is one of them, and so is a field that is `None`).
fn write_line(
    text: &mut Vec<u8>,
    ids_text: &mut IdsText,
    ids: Ids<'_>,
    message: Message,
    fields: Fields<'_>,
) -> usize {
    text.extend_from_slice(message.head());
    write_ids(text, ids.request_id, ids.trace_id, ids.span_id, ids_text);
    match fields {
        Fields::Start {
            method,
            path,
            parent_span_id,
        } => {
            text.extend_from_slice(b",\"method\":");
            push_json_str(text, method);
            text.extend_from_slice(b",\"path\":");
            push_json_str(text, path);
            if let Some(parent) = parent_span_id {
                let mut hex = *b",\"parent_span_id\":\"0123456789abcdef\"";
                write_hex(&mut hex[19..35], &parent.to_bytes());
                text.extend_from_slice(&hex);
            }
            4
        }
        Fields::End {
            status,
            duration_us,
        } => {
            if let Some(status) = status {
                text.extend_from_slice(b",\"status\":");
                push_u64(text, u64::from(status));
            }
            text.extend_from_slice(b",\"duration_ms\":");
            // Written from the integer, as `push_f64` writes the event's
            // value in milliseconds (below 10^12 ms, 31 years).
            if duration_us < 1_000_000_000_000_000 {
                push_thousandths(text, duration_us);
            } else {
                push_f64(text, duration_us as f64 / 1e3);
            }
            2 + usize::from(status.is_some())
        }
    }
}

/// Revokes the lend when dropped; see [`lend`].
#[must_use = "the line is lent only while the guard lives"]
pub(crate) struct Lend {
    lent: bool,
}

impl Drop for Lend {
    fn drop(&mut self) {
        if self.lent {
            LENT.set(None);
        }
    }
}

/// Whether the thread's `Buffers::lent` holds the rest of the line for an
/// event of callsite `meta` with explicit parent `parent`. If not, any lend
/// is revoked.
pub(super) fn is_lent(parent: Option<&tracing::Id>, meta: &Metadata<'_>) -> bool {
    let Some((span, field_count)) = LENT.get() else {
        return false;
    };
    let lent = parent.map(tracing::Id::into_non_zero_u64) == Some(span)
        && meta.fields().len() == field_count
        && meta.target() == REQUEST_LINE_TARGET;
    if !lent {
        LENT.set(None);
    }
    lent
}
