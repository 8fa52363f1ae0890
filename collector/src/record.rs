//! The record: what one log line becomes, everywhere after the parser.
//!
//! The same struct flows to the live hub, into the index and back out of the
//! search API, so the JSON field names written here are the API's names
//! (DESIGN.md, "The record"). Container metadata is shared behind an `Arc`
//! because thousands of records per second carry the same few strings, and
//! the structured fields are a sorted slice, not a map: every record stays in
//! memory from the sequencer to its commit, and a B-tree map's first node
//! (640 bytes whatever it holds) was a third of the collector's peak.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::checkpoint::Position;
use crate::timefmt::format_rfc3339_ns;

/// Which of the container's output streams a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    pub fn parse(text: &str) -> Option<Stream> {
        match text {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the collector knows about the container a line came from, at the time
/// the line was read (a rename makes a new one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    pub host: String,
    pub id: String,
    pub name: String,
    pub image: String,
    pub service: Option<String>,
    pub project: Option<String>,
}

/// Severity, normalized so that `WARNING`, `warn` and `W` compare equal.
///
/// Known levels are ordered so that a request's summary can report the worst
/// one; an unknown level keeps its (lowercased) spelling and ranks lowest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Other(String),
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Normalizes a level as written in a log line; `None` for empty or
    /// implausibly long values.
    pub fn parse(text: &str) -> Option<Level> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.len() > 16 {
            return None;
        }
        let lower = trimmed.to_ascii_lowercase();
        Some(match lower.as_str() {
            // logrus's TTY layout cuts level names to four letters; .NET's
            // console writes trce/dbug/fail/crit; Serilog's VRB/FTL.
            "trace" | "trc" | "trac" | "trce" | "verbose" | "vrb" => Level::Trace,
            "debug" | "dbg" | "debu" | "dbug" => Level::Debug,
            "info" | "inf" | "information" | "informational" | "notice" | "success" => Level::Info,
            "warn" | "warning" | "wrn" => Level::Warn,
            "error" | "err" | "eror" | "erro" | "fail" => Level::Error,
            "fatal" | "fata" | "ftl" | "critical" | "crit" | "panic" | "pani" | "emerg"
            | "emergency" | "alert" => Level::Fatal,
            _ => Level::Other(lower),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Other(text) => text,
        }
    }
}

/// A record's structured fields: each key once, in the order of
/// `serde_json::Map` (bytewise by key), so that they serialize exactly as the
/// map they were parsed into. Nested objects stay `serde_json` values.
///
/// A boxed slice: a typical line has a handful of fields, which a map keeps
/// in a 640-byte B-tree node and this in one allocation of their size.
/// Lookups are binary searches; changing them goes through a map
/// ([`Fields::into_map`], then `From`), which only redaction does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Box<[(String, Value)]>);

impl Fields {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let at = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        Some(&self.0[at].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The fields in key order.
    pub fn entries(&self) -> &[(String, Value)] {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0.into_vec().into_iter().collect()
    }
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Fields {
        // One allocation, of the exact size (`collect` would start at four).
        let mut entries = Vec::with_capacity(map.len());
        entries.extend(map);
        Fields(entries.into_boxed_slice())
    }
}

impl From<Fields> for Map<String, Value> {
    fn from(fields: Fields) -> Map<String, Value> {
        fields.into_map()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        Map::deserialize(deserializer).map(Fields::from)
    }
}

/// One log line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Docker's timestamp for the line, nanoseconds since the epoch.
    pub ts_ns: i64,
    /// Ingest order; assigned by the sequencer, 0 until then.
    pub seq: u64,
    pub container: Arc<ContainerMeta>,
    pub stream: Stream,
    pub level: Option<Level>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// The line as written, without its line ending; invalid UTF-8 replaced
    /// by U+FFFD (the exact bytes are then kept in `raw`).
    pub message: String,
    /// The human message the app wrote (`msg`, `message`, a rendered
    /// template, a plain line without its timestamp and level); `None` when
    /// the line is the message.
    pub msg: Option<String>,
    /// The original bytes, only when they were not valid UTF-8.
    pub raw: Option<Vec<u8>>,
    /// Structured fields other than the ones above.
    pub fields: Fields,
    /// The line was longer than the maximum and was cut.
    pub truncated: bool,
    /// How many log lines this record is: more than one for a stack trace
    /// joined with its continuation lines (`multiline`).
    pub lines: u32,
    /// Where the container's log stands once this record is taken: the
    /// checkpoints the index commits with it. Only records read from a log
    /// carry one; it is not part of the API's record.
    pub position: Position,
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        let c = &self.container;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ts", &format_rfc3339_ns(self.ts_ns))?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("host", &c.host)?;
        map.serialize_entry("container_id", &c.id)?;
        map.serialize_entry("container", &c.name)?;
        map.serialize_entry("image", &c.image)?;
        map.serialize_entry("service", &c.service)?;
        map.serialize_entry("project", &c.project)?;
        map.serialize_entry("stream", self.stream.as_str())?;
        map.serialize_entry("level", &self.level.as_ref().map(Level::as_str))?;
        map.serialize_entry("request_id", &self.request_id)?;
        map.serialize_entry("trace_id", &self.trace_id)?;
        map.serialize_entry("span_id", &self.span_id)?;
        map.serialize_entry("message", &self.message)?;
        map.serialize_entry("msg", &self.msg)?;
        map.serialize_entry("fields", &self.fields)?;
        if self.truncated {
            map.serialize_entry("truncated", &true)?;
        }
        if self.lines > 1 {
            map.serialize_entry("lines", &self.lines)?;
        }
        if let Some(raw) = &self.raw {
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            map.serialize_entry("raw_base64", &encoded)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_normalize_and_order() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse(" Err "), Some(Level::Error));
        assert_eq!(Level::parse("CRITICAL"), Some(Level::Fatal));
        assert_eq!(Level::parse("ERRO"), Some(Level::Error));
        assert_eq!(Level::parse("Verbose"), Some(Level::Trace));
        assert_eq!(Level::parse("fail"), Some(Level::Error));
        assert_eq!(Level::parse("http"), Some(Level::Other("http".into())));
        assert_eq!(Level::parse(""), None);
        assert!(Level::Fatal > Level::Error && Level::Error > Level::Warn);
        assert!(Level::Trace > Level::Other("http".into()));
    }

    #[test]
    fn record_serializes_with_the_api_field_names() {
        let record = Record {
            ts_ns: 1_700_000_000_123_456_789,
            seq: 7,
            container: Arc::new(ContainerMeta {
                host: "h".into(),
                id: "abc".into(),
                name: "web".into(),
                image: "img".into(),
                service: Some("web".into()),
                project: None,
            }),
            stream: Stream::Stderr,
            level: Some(Level::Warn),
            request_id: Some("r1".into()),
            trace_id: None,
            span_id: None,
            message: "hello".into(),
            msg: Some("hi".into()),
            raw: None,
            fields: Fields::default(),
            truncated: false,
            lines: 1,
            position: crate::checkpoint::Position::default(),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["ts"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(json["container"], "web");
        assert_eq!(json["stream"], "stderr");
        assert_eq!(json["level"], "warn");
        assert_eq!(json["project"], Value::Null);
        assert_eq!(json["msg"], "hi");
        assert!(json.get("truncated").is_none());
    }

    #[test]
    fn fields_serialize_and_look_up_as_the_map_they_came_from() {
        let text = r#"{"zeta":1,"Alpha":"a","alpha":{"y":[1,"x"],"b":null},"é":true,"_":-2.5}"#;
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let fields = Fields::from(map.clone());
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        for key in map.keys() {
            assert_eq!(fields.get(key), map.get(key), "{key}");
        }
        assert_eq!(fields.get("beta"), None);
        assert_eq!(fields.len(), 5);
        let back: Fields = serde_json::from_str(text).unwrap();
        assert_eq!(back, fields);
        assert_eq!(back.into_map(), map);
        assert_eq!(serde_json::to_string(&Fields::default()).unwrap(), "{}");
    }
}
