//! The Linktor scheme: `X-Linktor-Signature` is the lowercase hex HMAC-SHA256 of the raw body
//! keyed by the UTF-8 secret; `X-Linktor-Timestamp` (optional, not signed) bounds freshness.

use crate::encoding::{hex_lower, HEX_LEN};
use crate::mac::MacKey;
use crate::scheme::{check_fresh, matched, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{parse_lenient, Freshness, Window};

pub const SIGNATURE_HEADER: &str = "x-linktor-signature";
pub const TIMESTAMP_HEADER: &str = "x-linktor-timestamp";
pub const DEFAULT_TOLERANCE: i64 = 300;

/// A Linktor verifier keyed once for many bodies. An empty secret verifies nothing, as the
/// official SDKs decide.
#[derive(Clone)]
pub struct LinktorKey {
    key: MacKey,
    empty_secret: bool,
}

impl LinktorKey {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: MacKey::new(secret), empty_secret: secret.is_empty() }
    }

    pub fn sign(&self, body: &[u8]) -> [u8; HEX_LEN] {
        hex_lower(&self.key.tag(&[body]))
    }

    /// Exactly the official answer: the signature must equal the lowercase hex tag byte for
    /// byte (no prefix, no uppercase, no whitespace). An empty signature or secret is `false`.
    pub fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        match <&[u8; HEX_LEN]>::try_from(signature) {
            Ok(signature) if !self.empty_secret => self.key.verify_hex(body, signature),
            _ => false,
        }
    }

    /// The request check: signature as [`Self::verify`], and when a non-empty timestamp header is
    /// present it must be an integer within the window, which is asked for only then (reading
    /// the clock is a good part of the cost of a small request).
    pub fn verify_request(
        &self,
        body: &[u8],
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        window: impl FnOnce() -> Window,
    ) -> bool {
        let Some(signature) = signature else {
            return false;
        };
        if let Some(text) = timestamp.filter(|t| !t.is_empty()) {
            match parse_lenient(text) {
                Ok(ts) if window().freshness(ts) == Freshness::Fresh => {}
                _ => return false,
            }
        }
        self.verify(body, signature)
    }
}

const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER], &[TIMESTAMP_HEADER]];

/// The request check as a header scheme (for batches read from columns): the signature as
/// [`LinktorKey::verify`]; a present timestamp is read as [`LinktorKey::verify_request`]
/// reads it and checked when there is a window.
impl Scheme for LinktorKey {
    const HEADERS: &'static [Slot] = SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(SLOTS, 0)?.value;
        if let (Some(window), Ok(timestamp)) = (window, delivery.header(SLOTS, 1)) {
            let seconds = parse_lenient(timestamp.value)
                .map_err(|e| Rejection::InvalidTimestamp(Field::Header(TIMESTAMP_HEADER), e))?;
            check_fresh(Some(window), seconds)?;
        }
        matched(self.verify(delivery.body, signature)).map(|()| Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"message.received"}"#;

    fn signed() -> (LinktorKey, Vec<u8>) {
        let key = LinktorKey::new(b"whsec_test");
        let sig = key.sign(BODY).to_vec();
        (key, sig)
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        let key = LinktorKey::new(b"key");
        assert_eq!(
            &key.sign(b"The quick brown fox jumps over the lazy dog"),
            b"f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn accepts_exact_signature_only() {
        let (key, sig) = signed();
        assert!(key.verify(BODY, &sig));
        assert!(!key.verify(b"tampered", &sig));
        assert!(!key.verify(BODY, &sig.to_ascii_uppercase()));
        assert!(!key.verify(BODY, &[b"sha256=".as_slice(), &sig].concat()));
        assert!(!key.verify(BODY, &[&sig[..], b" "].concat()));
        assert!(!key.verify(BODY, b""));
    }

    #[test]
    fn empty_secret_verifies_nothing() {
        let key = LinktorKey::new(b"");
        let sig = key.sign(BODY);
        assert!(!key.verify(BODY, &sig));
    }

    #[test]
    fn as_a_scheme_it_answers_like_verify_request() {
        use crate::scheme::Found;
        let (key, sig) = signed();
        let window = Window::seconds(1_700_000_000, 300);
        for ts in [
            None,
            Some(&b"1700000300"[..]),
            Some(b" +1700000000 "),
            Some(b"1700000301"),
            Some(b"x"),
        ] {
            let found = [
                Some(Found { name: SIGNATURE_HEADER, value: &sig }),
                ts.map(|value| Found { name: TIMESTAMP_HEADER, value }),
            ];
            let delivery = Delivery { body: BODY, headers: &found, url: None };
            let expected = key.verify_request(BODY, Some(&sig), ts, || window);
            assert_eq!(Scheme::verify(&key, &delivery, Some(window)).is_ok(), expected, "{ts:?}");
        }
        let found = [None, None];
        let delivery = Delivery { body: BODY, headers: &found, url: None };
        assert_eq!(
            Scheme::verify(&key, &delivery, None),
            Err(Rejection::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn request_timestamp_rules() {
        let (key, sig) = signed();
        let now = 1_700_000_000;
        let window = Window::seconds(now, 300);
        let ok = |ts: Option<&[u8]>| key.verify_request(BODY, Some(&sig), ts, || window);
        assert!(ok(None));
        assert!(ok(Some(b"")));
        assert!(ok(Some(b"1700000300")));
        assert!(ok(Some(b"1699999700")));
        assert!(!ok(Some(b"1700000301")));
        assert!(!ok(Some(b"1700000000.5")));
        assert!(!ok(Some(b"1700000000000")));
        assert!(!ok(Some(b"999999999999999999999999")));
        assert!(!key.verify_request(BODY, None, None, || window));
        // The window is asked for only when there is a timestamp to check.
        let unused = || -> Window { panic!("no timestamp, no clock") };
        assert!(key.verify_request(BODY, Some(&sig), None, unused));
        assert!(key.verify_request(BODY, Some(&sig), Some(b""), unused));
    }
}
