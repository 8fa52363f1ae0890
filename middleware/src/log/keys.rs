//! The fixed text of a line's keys, worked out once per callsite.
//!
//! A callsite's target and field names are `&'static` and the same on every
//! event it emits, so the JSON they become (`"target"`, `,"status":`,
//! `,"field_ts":` for a reserved name, or no key at all for the message and
//! `log.*` metadata) only depends on the callsite and on whether the event
//! is inside a request. Escaping and classifying them on every event was a
//! good part of a line's cost, so each thread keeps that text for the
//! callsites it has seen, in a small direct-mapped table: a hit is an
//! address comparison, a miss (first event, or another callsite that maps
//! to the same slot) builds the entry again.

use tracing::Metadata;
use tracing::field::Field;

use super::escape::{escape_into, push_json_str};

/// Where a field goes on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key<'a> {
    /// The message: its value is the line's `msg`.
    Message,
    /// Not written (`log.*` metadata of an event from the `log` crate).
    Skip,
    /// A field, written after this text (`,"name":`).
    Field(&'a [u8]),
}

/// Writes the key of a field named `name` into `out` (for [`Key::Field`]),
/// or says that it has none. The one place that decides a field's key.
pub(super) fn write_key(out: &mut Vec<u8>, name: &str, has_request: bool, from_log: bool) -> bool {
    if name == "message" || (from_log && name.starts_with("log.")) {
        return false;
    }
    let reserved = matches!(name, "ts" | "level" | "msg" | "target")
        || (has_request && matches!(name, "request_id" | "trace_id" | "span_id"));
    out.push(b',');
    if reserved {
        out.extend_from_slice(b"\"field_");
        escape_into(out, name);
        out.push(b'"');
    } else {
        push_json_str(out, name);
    }
    out.push(b':');
    true
}

/// The key of `name` when [`write_key`] writes none.
pub(super) fn special(name: &str) -> Key<'static> {
    if name == "message" {
        Key::Message
    } else {
        Key::Skip
    }
}

/// Where one field's key is in an [`Entry`].
#[derive(Clone, Copy)]
enum Slot {
    /// `start..end` in `text`.
    Text(u32, u32),
    /// No key: the message or a skipped field.
    Special(Key<'static>),
}

/// One callsite's text.
#[derive(Default)]
struct Entry {
    /// The callsite's metadata, by address (`'static`, so an address is an
    /// identity); 0 while the slot is empty.
    meta: usize,
    has_request: bool,
    /// The target as a JSON string.
    target: Vec<u8>,
    /// The keys' text, back to back.
    text: Vec<u8>,
    /// Per field index: where its key is.
    keys: Vec<Slot>,
}

const SLOTS: usize = 64;

/// The per-thread table of callsite text.
pub(super) struct Keys {
    slots: Vec<Entry>,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Entry::default()).collect(),
        }
    }
}

/// A callsite's text, as found or built by [`Keys::get`].
pub(super) struct CallsiteKeys<'a> {
    meta: &'static Metadata<'static>,
    entry: &'a Entry,
}

impl Keys {
    /// The text of `meta`'s callsite for an event inside a request or not.
    pub(super) fn get(
        &mut self,
        meta: &'static Metadata<'static>,
        has_request: bool,
        from_log: bool,
    ) -> CallsiteKeys<'_> {
        let address = std::ptr::from_ref(meta) as usize;
        // Metadata statics are tens of bytes apart: drop the low bits.
        let entry = &mut self.slots[(address >> 5) % SLOTS];
        if entry.meta != address || entry.has_request != has_request {
            entry.meta = address;
            entry.has_request = has_request;
            entry.target.clear();
            push_json_str(&mut entry.target, meta.target());
            entry.text.clear();
            entry.keys.clear();
            for field in meta.fields() {
                let start = entry.text.len() as u32;
                let slot = if write_key(&mut entry.text, field.name(), has_request, from_log) {
                    Slot::Text(start, entry.text.len() as u32)
                } else {
                    Slot::Special(special(field.name()))
                };
                entry.keys.push(slot);
            }
        }
        CallsiteKeys { meta, entry }
    }
}

impl CallsiteKeys<'_> {
    /// The target as a JSON string.
    pub(super) fn target(&self) -> &[u8] {
        &self.entry.target
    }

    /// Where `field` goes; `None` for a field of another callsite (which
    /// tracing does not produce, but then the caller works it out itself).
    pub(super) fn key(&self, field: &Field) -> Option<Key<'_>> {
        if field.callsite() != self.meta.callsite() {
            return None;
        }
        let key = match *self.entry.keys.get(field.index())? {
            Slot::Text(start, end) => Key::Field(&self.entry.text[start as usize..end as usize]),
            Slot::Special(key) => key,
        };
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, has_request: bool, from_log: bool) -> Option<String> {
        let mut out = Vec::new();
        write_key(&mut out, name, has_request, from_log)
            .then(|| String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn keys_are_json_and_reserved_names_get_a_prefix() {
        assert_eq!(key("status", true, false).as_deref(), Some(r#","status":"#));
        assert_eq!(key("ts", false, false).as_deref(), Some(r#","field_ts":"#));
        assert_eq!(
            key("span_id", true, false).as_deref(),
            Some(r#","field_span_id":"#)
        );
        assert_eq!(
            key("span_id", false, false).as_deref(),
            Some(r#","span_id":"#)
        );
        assert_eq!(key("a\"b", false, false).as_deref(), Some(r#","a\"b":"#));
        assert_eq!(key("message", false, false), None);
        assert_eq!(key("log.file", false, true), None);
        assert_eq!(
            key("log.file", false, false).as_deref(),
            Some(r#","log.file":"#)
        );
    }

    /// The metadata of a real `info!` callsite, taken from the event.
    fn callsite_metadata() -> &'static Metadata<'static> {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt;

        struct Grab(Arc<Mutex<Option<&'static Metadata<'static>>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Grab {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                *self.0.lock().expect("grab lock") = Some(event.metadata());
            }
        }
        let found = Arc::new(Mutex::new(None));
        let subscriber = tracing_subscriber::registry().with(Grab(found.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "t", trace_id = 1, n = 2, "m");
        });
        let meta = *found.lock().expect("grab lock");
        meta.expect("the event was seen")
    }

    #[test]
    fn a_callsite_entry_is_rebuilt_when_the_request_changes() {
        fn keys_of(
            keys: &mut Keys,
            meta: &'static Metadata<'static>,
            request: bool,
        ) -> Vec<String> {
            let found = keys.get(meta, request, false);
            meta.fields()
                .iter()
                .map(|f| match found.key(&f).expect("same callsite") {
                    Key::Field(text) => String::from_utf8(text.to_vec()).expect("utf-8"),
                    other => format!("{other:?}"),
                })
                .collect()
        }
        let meta = callsite_metadata();
        let mut keys = Keys::default();
        assert_eq!(
            keys_of(&mut keys, meta, false),
            ["Message", r#","trace_id":"#, r#","n":"#]
        );
        assert_eq!(
            keys_of(&mut keys, meta, true),
            ["Message", r#","field_trace_id":"#, r#","n":"#]
        );
        assert_eq!(keys.get(meta, true, false).target(), br#""t""#);
    }
}
