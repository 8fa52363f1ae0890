//! The request ID: what a valid one looks like, and who makes a new one.
//!
//! A request ID travels in a header, into log lines and into the collector's
//! index, so whatever we accept from outside must be harmless in all three
//! places. The rule is deliberately narrow: 1 to 128 characters of
//! `[A-Za-z0-9._:-]`. That admits UUIDs, ULIDs, AWS/GCP trace IDs and most
//! home-grown schemes, and rules out CR/LF, quotes, spaces, non-ASCII and
//! anything large. [`RequestId`] can only be built through that check, so a
//! value of the type is always safe to put in a header or a log line.
//!
//! When there is no acceptable incoming ID, a [`MakeRequestId`] makes one. The
//! default, [`MakeUuidV7`], makes a UUIDv7: time-ordered, so IDs sort roughly by
//! arrival, which is what one wants when scanning an index. The trait mirrors
//! tower-http's `MakeRequestId` so custom policies look familiar.

use http::{HeaderValue, Request};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use std::fmt;

/// The longest request ID accepted from outside, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether `bytes` is an acceptable request ID: 1–128 chars of `[A-Za-z0-9._:-]`.
pub fn is_valid_request_id(bytes: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A request ID that passed [`is_valid_request_id`].
///
/// Cheap to clone (it shares the header's bytes). Also an axum extractor when
/// the `axum` feature is on.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

/// The error for a value that is not an acceptable request ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid request id: expected 1-128 characters of [A-Za-z0-9._:-], found {len} bytes that are not"
)]
pub struct InvalidRequestId {
    len: usize,
}

impl RequestId {
    /// Accepts `value` if it is a valid request ID.
    pub fn from_header_value(value: &HeaderValue) -> Result<Self, InvalidRequestId> {
        if is_valid_request_id(value.as_bytes()) {
            Ok(Self(value.clone()))
        } else {
            Err(InvalidRequestId {
                len: value.as_bytes().len(),
            })
        }
    }

    /// A request ID made from a UUID (its hyphenated lowercase form).
    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        // The hyphenated lowercase form, from a table of hex pairs.
        let mut buf = [b'-'; uuid::fmt::Hyphenated::LENGTH];
        let bytes = uuid.as_bytes();
        for (group, at) in [(0..4, 0), (4..6, 9), (6..8, 14), (8..10, 19), (10..16, 24)] {
            for (i, &b) in bytes[group].iter().enumerate() {
                buf[at + 2 * i..at + 2 * i + 2]
                    .copy_from_slice(&crate::log::HEX_PAIRS[usize::from(b)]);
            }
        }
        // One allocation, and clones are a reference count: the ID is cloned
        // into the request, the response and the span.
        let bytes = bytes::Bytes::from_owner(buf);
        Self(
            HeaderValue::from_maybe_shared(bytes)
                .expect("a hyphenated UUID is a valid header value"),
        )
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // Only [A-Za-z0-9._:-] gets in, so this is ASCII.
        self.0.to_str().unwrap_or_default()
    }

    /// The ID as a header value.
    pub fn as_header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The ID as a header value, consuming it.
    pub fn into_header_value(self) -> HeaderValue {
        self.0
    }
}

impl TryFrom<&str> for RequestId {
    type Error = InvalidRequestId;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if !is_valid_request_id(value.as_bytes()) {
            return Err(InvalidRequestId { len: value.len() });
        }
        HeaderValue::from_str(value)
            .map(Self)
            .map_err(|_| InvalidRequestId { len: value.len() })
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

/// Makes a new request ID when the incoming one is missing, invalid or not trusted.
pub trait MakeRequestId: Clone {
    /// A fresh request ID for `request`.
    fn make_request_id<B>(&mut self, request: &Request<B>) -> RequestId;
}

/// The default policy: a fresh UUIDv7 per request.
///
/// The 48-bit millisecond timestamp comes from the system clock and the 74
/// random bits from a thread-local PRNG (the one OpenTelemetry uses for span
/// IDs), which avoids a `getrandom` system call per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> RequestId {
        RequestId::from_uuid(new_uuid_v7())
    }
}

/// A new UUIDv7 from the system clock and a thread-local PRNG.
pub fn new_uuid_v7() -> uuid::Uuid {
    // The request's start time, when the layer has just read it.
    let now = crate::clock::now();
    let millis = now.as_secs() * 1000 + u64::from(now.subsec_millis());
    let random = RandomIdGenerator::default().new_trace_id().to_bytes();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random[..10]);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// Which incoming IDs the layer believes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Trust {
    /// Keep a valid incoming `X-Request-ID` and `traceparent` (the default:
    /// right for a service behind your own edge).
    #[default]
    Valid,
    /// Ignore whatever came in and always start fresh (right for an edge that
    /// faces the internet).
    AlwaysGenerate,
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "0",
            "abc-DEF_123.xyz:9",
            "01890a5d-ac96-774b-bcce-b302099a8057",
            &"x".repeat(128),
        ] {
            assert!(is_valid_request_id(ok.as_bytes()), "{ok:?} should be valid");
        }
    }

    #[test]
    fn rejects_empty_long_controls_and_non_ascii() {
        for bad in [
            "",
            &"x".repeat(129),
            "a\r\nb",
            "a b",
            "é",
            "a\"b",
            "a/b",
            "{}",
        ] {
            assert!(
                !is_valid_request_id(bad.as_bytes()),
                "{bad:?} should be invalid"
            );
            assert!(RequestId::try_from(bad).is_err());
        }
    }

    #[test]
    fn from_uuid_is_the_hyphenated_lowercase_form() {
        for _ in 0..100 {
            let uuid = new_uuid_v7();
            let id = RequestId::from_uuid(uuid);
            assert_eq!(id.as_str(), uuid.hyphenated().to_string());
        }
        let max = uuid::Uuid::from_u128(u128::MAX);
        assert_eq!(
            RequestId::from_uuid(max).as_str(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
    }

    #[test]
    fn uuid_v7_ids_are_version_7_and_distinct() {
        let mut make = MakeUuidV7;
        let req = Request::new(());
        let a = make.make_request_id(&req);
        let b = make.make_request_id(&req);
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(a.as_str()).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert!(is_valid_request_id(a.as_str().as_bytes()));
    }

    #[test]
    fn uuid_v7_carries_the_current_time() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let (secs, _) = new_uuid_v7()
            .get_timestamp()
            .expect("a v7 UUID has a timestamp")
            .to_unix();
        assert!(
            secs.abs_diff(now) <= 5,
            "uuid says {secs}, clock says {now}"
        );
    }
}
