//! Slack: `X-Slack-Signature: v0=<hex>`, the lowercase hex HMAC-SHA256 of
//! `"v0:{X-Slack-Request-Timestamp}:{body}"` keyed by the signing secret.

use crate::encoding::{hex_lower, HEX_LEN};
use crate::mac::MacKey;
use crate::scheme::{check_fresh, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{parse_strict, Window};

use super::{any_of, at_least_one};

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const DEFAULT_TOLERANCE: i64 = 300;
const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER], &[TIMESTAMP_HEADER]];
const VERSION: &[u8] = b"v0=";

#[derive(Clone)]
pub struct SlackKeys {
    keys: Vec<MacKey>,
}

impl SlackKeys {
    pub fn new(secrets: &[&[u8]]) -> Option<Self> {
        at_least_one(secrets.iter().map(|s| MacKey::new(s)).collect()).map(|keys| Self { keys })
    }

    fn tag(key: &MacKey, timestamp: &[u8], body: &[u8]) -> [u8; HEX_LEN] {
        hex_lower(&key.tag(&[b"v0:", timestamp, b":", body]))
    }

    /// The `X-Slack-Signature` value for `timestamp` (as sent in its header), with the first
    /// secret.
    pub fn sign(&self, body: &[u8], timestamp: &[u8]) -> String {
        let tag = Self::tag(&self.keys[0], timestamp, body);
        format!("v0={}", String::from_utf8_lossy(&tag))
    }
}

impl Scheme for SlackKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(SLOTS, 0)?.value;
        let timestamp = delivery.header(SLOTS, 1)?.value;
        let seconds = parse_strict(timestamp)
            .map_err(|e| Rejection::InvalidTimestamp(Field::Header(TIMESTAMP_HEADER), e))?;
        check_fresh(window, seconds)?;
        let given: &[u8; HEX_LEN] = signature
            .strip_prefix(VERSION)
            .and_then(|hex| hex.try_into().ok())
            .ok_or(Rejection::NoMatchingSignature)?;
        // The timestamp is signed as sent, not as parsed.
        let parts: [&[u8]; 4] = [b"v0:", timestamp, b":", delivery.body];
        any_of(self.keys.iter().map(|key| key.verify_hex_parts(&parts, given)))
            .map(|()| Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Found;

    /// The example of Slack's "Verifying requests from Slack" page.
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &[u8] = b"1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn check(keys: &SlackKeys, signature: &[u8], ts: &[u8], now: i64) -> Result<(), Rejection> {
        let found = [
            Some(Found { name: SIGNATURE_HEADER, value: signature }),
            Some(Found { name: TIMESTAMP_HEADER, value: ts }),
        ];
        keys.verify(
            &Delivery { body: BODY, headers: &found, url: None },
            Some(Window::seconds(now, 300)),
        )
    }

    #[test]
    fn documented_example() {
        let keys = SlackKeys::new(&[SECRET]).unwrap();
        assert_eq!(keys.sign(BODY, TS), SIGNATURE);
        assert_eq!(check(&keys, SIGNATURE.as_bytes(), TS, 1_531_420_618), Ok(()));
        assert_eq!(check(&keys, SIGNATURE.as_bytes(), TS, 1_531_420_918), Ok(()));
        assert_eq!(check(&keys, SIGNATURE.as_bytes(), TS, 1_531_420_919), Err(Rejection::TooOld));
        assert_eq!(check(&keys, SIGNATURE.as_bytes(), TS, 1_531_420_317), Err(Rejection::TooNew));
        let upper = SIGNATURE.to_uppercase().replacen("V0=", "v0=", 1);
        assert_eq!(
            check(&keys, upper.as_bytes(), TS, 1_531_420_618),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check(&keys, &SIGNATURE.as_bytes()[3..], TS, 1_531_420_618),
            Err(Rejection::NoMatchingSignature)
        );
        let rotated = SlackKeys::new(&[b"new secret", SECRET]).unwrap();
        assert_eq!(check(&rotated, SIGNATURE.as_bytes(), TS, 1_531_420_618), Ok(()));
        assert!(matches!(
            check(&keys, SIGNATURE.as_bytes(), b"15314206l8", 1_531_420_618),
            Err(Rejection::InvalidTimestamp(..))
        ));
    }
}
