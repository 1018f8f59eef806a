//! Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>...]` (other schemes such as `v0`
//! are ignored). Each `v1` is the lowercase hex HMAC-SHA256 of `"{t}.{body}"`, keyed by the
//! `whsec_...` string itself (it is not decoded). Stripe lists several `v1` while a secret is
//! being rolled.

use crate::encoding::{constant_time_eq, decimal, hex_lower, HEX_LEN};
use crate::mac::MacKey;
use crate::scheme::{check_fresh, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{parse_strict, Window};

use super::{any_of, at_least_one};

pub const SIGNATURE_HEADER: &str = "stripe-signature";
pub const DEFAULT_TOLERANCE: i64 = 300;
const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER]];

#[derive(Clone)]
pub struct StripeKeys {
    keys: Vec<MacKey>,
}

/// The items of a `Stripe-Signature` value that matter: the first `t` and every `v1`.
struct Items<'a> {
    timestamp: Option<&'a [u8]>,
    v1: Vec<&'a [u8]>,
}

fn items(header: &[u8]) -> Items<'_> {
    let mut found = Items { timestamp: None, v1: Vec::new() };
    for item in header.split(|&b| b == b',') {
        let Some(at) = item.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&item[..at], &item[at + 1..]);
        match name {
            b"t" if found.timestamp.is_none() => found.timestamp = Some(value),
            b"v1" => found.v1.push(value),
            _ => {}
        }
    }
    found
}

impl StripeKeys {
    pub fn new(secrets: &[&[u8]]) -> Option<Self> {
        at_least_one(secrets.iter().map(|s| MacKey::new(s)).collect()).map(|keys| Self { keys })
    }

    fn tags(&self, timestamp: i64, body: &[u8]) -> Vec<[u8; HEX_LEN]> {
        let (digits, start) = decimal(timestamp);
        self.keys.iter().map(|key| hex_lower(&key.tag(&[&digits[start..], b".", body]))).collect()
    }

    /// The header value: `t=<timestamp>` then one `v1=` per secret.
    pub fn sign(&self, body: &[u8], timestamp: i64) -> String {
        let mut out = format!("t={timestamp}");
        for tag in self.tags(timestamp, body) {
            out.push_str(",v1=");
            out.push_str(&String::from_utf8_lossy(&tag));
        }
        out
    }
}

impl Scheme for StripeKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let header = delivery.header(SLOTS, 0)?.value;
        let found = items(header);
        let timestamp = found.timestamp.ok_or(Rejection::InvalidHeader {
            name: SIGNATURE_HEADER,
            problem: "has no t= timestamp",
        })?;
        let field = Field::Item { header: SIGNATURE_HEADER, item: "t" };
        let seconds = parse_strict(timestamp).map_err(|e| Rejection::InvalidTimestamp(field, e))?;
        check_fresh(window, seconds)?;
        let tags = self.tags(seconds, delivery.body);
        any_of(
            found.v1.iter().flat_map(|given| tags.iter().map(|tag| constant_time_eq(tag, given))),
        )
        .map(|()| Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Found;
    use crate::timestamp::TimestampError;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const T: i64 = 1_700_000_000;

    fn check(keys: &StripeKeys, header: &[u8], now: i64) -> Result<(), Rejection> {
        let found = [Some(Found { name: SIGNATURE_HEADER, value: header })];
        keys.verify(
            &Delivery { body: BODY, headers: &found, url: None },
            Some(Window::seconds(now, 300)),
        )
    }

    fn reference(secret: &[u8], t: i64, body: &[u8]) -> String {
        let key = MacKey::new(secret);
        String::from_utf8(hex_lower(&key.tag(&[format!("{t}.").as_bytes(), body])).to_vec())
            .unwrap()
    }

    #[test]
    fn sign_and_verify() {
        let keys = StripeKeys::new(&[SECRET]).unwrap();
        let header = keys.sign(BODY, T);
        assert_eq!(header, format!("t={T},v1={}", reference(SECRET, T, BODY)));
        assert_eq!(check(&keys, header.as_bytes(), T), Ok(()));
        assert_eq!(check(&keys, header.as_bytes(), T + 301), Err(Rejection::TooOld));
        assert_eq!(check(&keys, header.as_bytes(), T - 301), Err(Rejection::TooNew));
    }

    #[test]
    fn several_v1_and_rotation() {
        let old = reference(b"whsec_old", T, BODY);
        let new = reference(SECRET, T, BODY);
        let header = format!("t={T},v1={old},v0=zzz,v1={new}");
        assert_eq!(check(&StripeKeys::new(&[SECRET]).unwrap(), header.as_bytes(), T), Ok(()));
        assert_eq!(check(&StripeKeys::new(&[b"whsec_old"]).unwrap(), header.as_bytes(), T), Ok(()));
        let rotated = StripeKeys::new(&[b"whsec_other", SECRET]).unwrap();
        assert_eq!(check(&rotated, format!("t={T},v1={new}").as_bytes(), T), Ok(()));
        let both = rotated.sign(BODY, T);
        assert_eq!(both.matches(",v1=").count(), 2);
    }

    #[test]
    fn malformed_headers() {
        let keys = StripeKeys::new(&[SECRET]).unwrap();
        let good = reference(SECRET, T, BODY);
        assert!(matches!(
            check(&keys, format!("v1={good}").as_bytes(), T),
            Err(Rejection::InvalidHeader { .. })
        ));
        assert_eq!(
            check(&keys, format!("t=abc,v1={good}").as_bytes(), T),
            Err(Rejection::InvalidTimestamp(
                Field::Item { header: SIGNATURE_HEADER, item: "t" },
                TimestampError::Malformed
            ))
        );
        for header in [
            format!("t={T}"),
            format!("t={T},v1={}", good.to_uppercase()),
            format!("t={T},v0={good}"),
            format!("t={T}, v1={good}"),
            format!("t={T},v1={good} "),
            format!("t={},v1={good}", T + 1),
        ] {
            assert_eq!(
                check(&keys, header.as_bytes(), T),
                Err(Rejection::NoMatchingSignature),
                "{header}"
            );
        }
        // The first t wins, and the signed timestamp is the number (leading zeros dropped).
        assert_eq!(check(&keys, format!("t={T},t=5,v1={good}").as_bytes(), T), Ok(()));
        assert_eq!(check(&keys, format!("t=0{T},v1={good}").as_bytes(), T), Ok(()));
    }
}
