//! Linear: `Linear-Signature` is the hex HMAC-SHA256 of the body; freshness comes from the
//! body's own `webhookTimestamp` (milliseconds since the epoch), read only once the signature
//! has been found genuine, so that only a signed timestamp is trusted.

use std::cell::RefCell;

use crate::generic::{GenericKey, TagEncoding};
use crate::json::{Doc, Node, Tape};
use crate::scheme::{check_fresh_nanos, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{TimestampError, Window};

use super::{any_of, at_least_one};

pub const SIGNATURE_HEADER: &str = "linear-signature";
pub const TIMESTAMP_FIELD: &str = "webhookTimestamp";
/// Linear's own guidance: a minute.
pub const DEFAULT_TOLERANCE: i64 = 60;
const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER]];
const NANOS_PER_MILLI: i128 = 1_000_000;

thread_local! {
    static TAPE: RefCell<Tape> = RefCell::new(Tape::new());
}

pub struct LinearKeys {
    keys: Vec<GenericKey>,
}

/// The body's top-level `webhookTimestamp`, in milliseconds.
pub fn body_timestamp(body: &[u8]) -> Result<i64, TimestampError> {
    if std::str::from_utf8(body).is_err() {
        return Err(TimestampError::Malformed);
    }
    TAPE.with(|tape| {
        let mut tape = tape.borrow_mut();
        let doc = tape.parse(body).map_err(|_| TimestampError::Malformed)?;
        let value = doc.get(Doc::ROOT, TIMESTAMP_FIELD.as_bytes()).map(|id| doc.node(id));
        let result = match value {
            Some(Node::Int(millis)) => Ok(millis),
            Some(Node::BigInt { .. }) => Err(TimestampError::Overflow),
            _ => Err(TimestampError::Malformed),
        };
        tape.shrink(1 << 20);
        result
    })
}

impl LinearKeys {
    pub fn new(secrets: &[&[u8]]) -> Option<Self> {
        let keys = secrets.iter().map(|s| GenericKey::new(s, TagEncoding::Hex, "")).collect();
        at_least_one(keys).map(|keys| Self { keys })
    }

    /// The `Linear-Signature` value, with the first secret.
    pub fn sign(&self, body: &[u8]) -> String {
        self.keys[0].sign(body)
    }
}

impl Scheme for LinearKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(SLOTS, 0)?.value;
        any_of(self.keys.iter().map(|key| key.verify(delivery.body, signature)))?;
        if window.is_some() {
            let field = Field::BodyMillis(TIMESTAMP_FIELD);
            let millis =
                body_timestamp(delivery.body).map_err(|e| Rejection::InvalidTimestamp(field, e))?;
            check_fresh_nanos(window, i128::from(millis) * NANOS_PER_MILLI)?;
        }
        Ok(Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Found;

    fn check(
        keys: &LinearKeys,
        body: &[u8],
        signature: &[u8],
        window: Option<Window>,
    ) -> Result<(), Rejection> {
        let found = [Some(Found { name: SIGNATURE_HEADER, value: signature })];
        keys.verify(&Delivery { body, headers: &found, url: None }, window)
    }

    #[test]
    fn signature_then_body_timestamp() {
        let keys = LinearKeys::new(&[b"lin_wh_secret"]).unwrap();
        let body = br#"{"action":"create","webhookTimestamp":1700000000123,"data":{}}"#;
        let signature = keys.sign(body);
        let window = |now_ms: i128| {
            Some(Window {
                now_nanos: now_ms * NANOS_PER_MILLI,
                tolerance_nanos: 60 * 1_000_000_000,
            })
        };
        assert_eq!(check(&keys, body, signature.as_bytes(), window(1_700_000_000_123)), Ok(()));
        assert_eq!(check(&keys, body, signature.as_bytes(), window(1_700_000_060_123)), Ok(()));
        assert_eq!(
            check(&keys, body, signature.as_bytes(), window(1_700_000_060_124)),
            Err(Rejection::TooOld)
        );
        assert_eq!(
            check(&keys, body, signature.as_bytes(), window(1_699_999_940_122)),
            Err(Rejection::TooNew)
        );
        assert_eq!(check(&keys, body, signature.as_bytes(), None), Ok(()));
        assert_eq!(
            check(&keys, b"{}", signature.as_bytes(), None),
            Err(Rejection::NoMatchingSignature)
        );
    }

    #[test]
    fn timestamp_field_forms() {
        assert_eq!(body_timestamp(br#"{"webhookTimestamp": 5}"#), Ok(5));
        assert_eq!(body_timestamp(br#"{"webhookTimestamp": 5, "webhookTimestamp": 7}"#), Ok(7));
        assert_eq!(body_timestamp(br#"{"webhookTimestamp": "5"}"#), Err(TimestampError::Malformed));
        assert_eq!(body_timestamp(br#"{"webhookTimestamp": 5.5}"#), Err(TimestampError::Malformed));
        assert_eq!(
            body_timestamp(br#"{"data": {"webhookTimestamp": 5}}"#),
            Err(TimestampError::Malformed)
        );
        assert_eq!(
            body_timestamp(br#"{"webhookTimestamp": 99999999999999999999}"#),
            Err(TimestampError::Overflow)
        );
        assert_eq!(body_timestamp(b"[1]"), Err(TimestampError::Malformed));
        assert_eq!(body_timestamp(b"\xff"), Err(TimestampError::Malformed));
        assert_eq!(body_timestamp(b"{"), Err(TimestampError::Malformed));
    }

    #[test]
    fn malformed_timestamp_after_a_good_signature() {
        let keys = LinearKeys::new(&[b"k"]).unwrap();
        let body = br#"{"webhookTimestamp":"soon"}"#;
        let window = Some(Window::seconds(0, 60));
        assert_eq!(
            check(&keys, body, keys.sign(body).as_bytes(), window),
            Err(Rejection::InvalidTimestamp(
                Field::BodyMillis(TIMESTAMP_FIELD),
                TimestampError::Malformed
            ))
        );
    }
}
