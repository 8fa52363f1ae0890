//! The IDs of the request whose own line is being written, lent by the layer.
//!
//! A line finds its request's IDs by looking its span up in the registry: a
//! slab reference and a read lock, four atomic operations and some 150
//! instructions per line. The layer writes its start and end lines with the
//! context it has just attached to the span in hand, so it writes the IDs
//! into this thread's line buffers itself just before, and marks them lent
//! to that span; the line (whose explicit parent is that span) finds them
//! there instead of looking.
//!
//! The IDs are lent only by the layer, only while its own line is written,
//! and only once they are attached to that span, so the line is byte for
//! byte what the lookup would have written. Any other line written in
//! between (none is, but a layer could) revokes the lend, and so does the
//! guard when dropped; a lend is refused while another is out.

use std::cell::Cell;
use std::num::NonZeroU64;

use opentelemetry::trace::{SpanId, TraceId};
use tracing::Span;

use super::{BUFFERS, write_ids};
use crate::id::RequestId;

thread_local! {
    /// The span whose IDs are in this thread's `Buffers::ids`, if lent.
    static LENT_TO: Cell<Option<NonZeroU64>> = const { Cell::new(None) };
}

/// Writes the request's IDs for the lines on this thread whose explicit
/// parent is `span`, until the guard drops. Call it only with the context
/// attached to `span`.
pub(crate) fn lend(
    span: &Span,
    request_id: &RequestId,
    trace_id: TraceId,
    span_id: SpanId,
) -> Lend {
    let Some(id) = span.id() else {
        return Lend { lent: false };
    };
    if LENT_TO.get().is_some() {
        return Lend { lent: false };
    }
    let written = BUFFERS.with(|cell| {
        let Ok(mut bufs) = cell.try_borrow_mut() else {
            return false;
        };
        let bufs = &mut *bufs;
        bufs.ids.clear();
        write_ids(
            &mut bufs.ids,
            request_id,
            trace_id,
            span_id,
            &mut bufs.ids_text,
        );
        true
    });
    if written {
        LENT_TO.set(Some(id.into_non_zero_u64()));
    }
    Lend { lent: written }
}

/// Revokes the lend when dropped; see [`lend`].
#[must_use = "the IDs are lent only while the guard lives"]
pub(crate) struct Lend {
    lent: bool,
}

impl Drop for Lend {
    fn drop(&mut self) {
        if self.lent {
            LENT_TO.set(None);
        }
    }
}

/// Whether the thread's `Buffers::ids` hold the IDs for a line whose
/// explicit parent is `parent`. If not, any lend is revoked: the caller is
/// about to write other IDs there.
pub(super) fn lent_to(parent: Option<&tracing::Id>) -> bool {
    let Some(lent) = LENT_TO.get() else {
        return false;
    };
    if parent.map(tracing::Id::into_non_zero_u64) == Some(lent) {
        return true;
    }
    LENT_TO.set(None);
    false
}
