//! The Standard Webhooks scheme: `webhook-signature` carries space-separated `v1,<base64>`
//! signatures of `"{webhook-id}.{webhook-timestamp}.{body}"`; any one that matches accepts.

use crate::encoding::{base64_tag, constant_time_eq, decimal, decode_base64, BASE64_LEN};
use crate::mac::MacKey;
use crate::timestamp::{parse_strict, Freshness, TimestampError, Window};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
pub const SECRET_PREFIX: &str = "whsec_";
pub const DEFAULT_TOLERANCE: i64 = 300;

/// Why a delivery was rejected; each maps to one public exception class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    MissingHeader(&'static str),
    InvalidTimestamp(TimestampError),
    TooOld,
    TooNew,
    NoMatchingSignature,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing required header {name:?}"),
            Self::InvalidTimestamp(TimestampError::Malformed) => {
                write!(f, "header {TIMESTAMP_HEADER:?} is not an integer number of seconds")
            }
            Self::InvalidTimestamp(TimestampError::Overflow) => {
                write!(f, "header {TIMESTAMP_HEADER:?} is out of range")
            }
            Self::TooOld => write!(f, "message timestamp too old"),
            Self::TooNew => write!(f, "message timestamp too new"),
            Self::NoMatchingSignature => write!(f, "no matching signature found"),
        }
    }
}

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    Empty,
    NotBase64,
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the webhook secret is empty"),
            Self::NotBase64 => write!(
                f,
                "the webhook secret must be base64, optionally prefixed with {SECRET_PREFIX:?}"
            ),
        }
    }
}

/// Decodes a `whsec_<base64>` secret (the prefix is optional) into key bytes.
pub fn decode_secret(secret: &[u8]) -> Result<Vec<u8>, SecretError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX.as_bytes()).unwrap_or(secret);
    let key = decode_base64(encoded).ok_or(SecretError::NotBase64)?;
    if key.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok(key)
}

/// The three headers of one delivery, as raw bytes; `None` or empty means absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub id: Option<&'a [u8]>,
    pub timestamp: Option<&'a [u8]>,
    pub signature: Option<&'a [u8]>,
}

fn present<'a>(value: Option<&'a [u8]>, name: &'static str) -> Result<&'a [u8], Rejection> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Rejection::MissingHeader(name)),
    }
}

#[derive(Clone)]
pub struct StandardKey {
    key: MacKey,
}

impl StandardKey {
    pub fn from_key_bytes(key: &[u8]) -> Self {
        Self { key: MacKey::new(key) }
    }

    pub fn from_secret(secret: &[u8]) -> Result<Self, SecretError> {
        decode_secret(secret).map(|key| Self::from_key_bytes(&key))
    }

    /// The base64 tag of one delivery (without the `v1,` prefix).
    pub fn tag_base64(&self, id: &[u8], timestamp: i64, body: &[u8]) -> [u8; BASE64_LEN] {
        let (digits, start) = decimal(timestamp);
        base64_tag(&self.key.tag(&[id, b".", &digits[start..], b".", body]))
    }

    pub fn sign(&self, id: &[u8], timestamp: i64, body: &[u8]) -> String {
        let tag = self.tag_base64(id, timestamp, body);
        format!("v1,{}", String::from_utf8_lossy(&tag))
    }

    pub fn verify(
        &self,
        body: &[u8],
        headers: &Headers<'_>,
        window: Window,
    ) -> Result<(), Rejection> {
        let id = present(headers.id, ID_HEADER)?;
        let timestamp_text = present(headers.timestamp, TIMESTAMP_HEADER)?;
        let signatures = present(headers.signature, SIGNATURE_HEADER)?;

        let timestamp = parse_strict(timestamp_text).map_err(Rejection::InvalidTimestamp)?;
        match window.freshness(timestamp) {
            Freshness::TooOld => return Err(Rejection::TooOld),
            Freshness::TooNew => return Err(Rejection::TooNew),
            Freshness::Fresh => {}
        }

        let expected = self.tag_base64(id, timestamp, body);
        let mut matched = false;
        for candidate in signatures.split(|&b| b == b' ') {
            if let Some(encoded) = candidate.strip_prefix(b"v1,") {
                // Keep comparing after a match so the time does not reveal which one matched.
                matched |= constant_time_eq(&expected, encoded);
            }
        }
        if matched {
            Ok(())
        } else {
            Err(Rejection::NoMatchingSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &[u8] = b"msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(now: i64) -> Window {
        Window::seconds(now, DEFAULT_TOLERANCE)
    }

    fn headers<'a>(signature: &'a [u8], timestamp: &'a [u8]) -> Headers<'a> {
        Headers { id: Some(ID), timestamp: Some(timestamp), signature: Some(signature) }
    }

    #[test]
    fn known_answer_vector() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        assert_eq!(key.sign(ID, TS, BODY), SIGNATURE);
        let ts = TS.to_string();
        assert_eq!(key.verify(BODY, &headers(SIGNATURE.as_bytes(), ts.as_bytes()), at(TS)), Ok(()));
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        for ts in [i64::MIN, -1, 0, i64::MAX] {
            let signature = key.sign(ID, ts, BODY);
            let text = ts.to_string();
            let found = headers(signature.as_bytes(), text.as_bytes());
            assert_eq!(key.verify(BODY, &found, at(ts)), Ok(()), "timestamp {ts}");
        }
    }

    #[test]
    fn secret_prefix_is_optional() {
        let bare = StandardKey::from_secret(&SECRET[SECRET_PREFIX.len()..]).unwrap();
        assert_eq!(bare.sign(ID, TS, BODY), SIGNATURE);
    }

    #[test]
    fn bad_secrets() {
        assert_eq!(decode_secret(b"whsec_").err(), Some(SecretError::Empty));
        assert_eq!(decode_secret(b"whsec_!!!").err(), Some(SecretError::NotBase64));
    }

    #[test]
    fn any_listed_signature_accepts() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        let ts = TS.to_string();
        let list = format!("v1,bm9wZQ== v2,xyz {SIGNATURE}");
        assert_eq!(key.verify(BODY, &headers(list.as_bytes(), ts.as_bytes()), at(TS)), Ok(()));
    }

    #[test]
    fn rejections() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        let ts = TS.to_string();
        let sig = SIGNATURE.as_bytes();
        let check = |h: Headers<'_>, now| key.verify(BODY, &h, at(now));
        assert_eq!(check(headers(sig, ts.as_bytes()), TS + 301), Err(Rejection::TooOld));
        assert_eq!(check(headers(sig, ts.as_bytes()), TS - 301), Err(Rejection::TooNew));
        assert_eq!(
            check(headers(sig, b"abc"), TS),
            Err(Rejection::InvalidTimestamp(TimestampError::Malformed))
        );
        assert_eq!(
            check(headers(sig, b"123456789012345678901234"), TS),
            Err(Rejection::InvalidTimestamp(TimestampError::Overflow))
        );
        assert_eq!(
            check(headers(b"v1,AAAA", ts.as_bytes()), TS),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check(Headers { id: Some(b""), ..headers(sig, ts.as_bytes()) }, TS),
            Err(Rejection::MissingHeader(ID_HEADER))
        );
        assert_eq!(
            check(Headers { signature: None, ..headers(sig, ts.as_bytes()) }, TS),
            Err(Rejection::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            key.verify(b"{\"test\": 2432232315}", &headers(sig, ts.as_bytes()), at(TS)),
            Err(Rejection::NoMatchingSignature)
        );
    }
}
