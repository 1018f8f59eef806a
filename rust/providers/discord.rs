//! Discord: `X-Signature-Ed25519` is the hex Ed25519 signature of
//! `X-Signature-Timestamp` followed by the body, under the application's hex public key.

use crate::ed25519::{Pending, PublicKey, SIGNATURE_LEN};
use crate::encoding::decode_hex;
use crate::scheme::{check_fresh, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{parse_strict, Window};

use super::at_least_one;

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
pub const DEFAULT_TOLERANCE: i64 = 300;
const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER], &[TIMESTAMP_HEADER]];

pub struct DiscordKeys {
    keys: Vec<PublicKey>,
}

impl DiscordKeys {
    pub fn new(keys: Vec<PublicKey>) -> Option<Self> {
        at_least_one(keys).map(|keys| Self { keys })
    }
}

impl Scheme for DiscordKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn item_work(&self) -> usize {
        crate::batch::ED25519_ITEM_WORK
    }

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(SLOTS, 0)?.value;
        let timestamp = delivery.header(SLOTS, 1)?.value;
        if window.is_some() {
            let seconds = parse_strict(timestamp)
                .map_err(|e| Rejection::InvalidTimestamp(Field::Header(TIMESTAMP_HEADER), e))?;
            check_fresh(window, seconds)?;
        }
        let signature =
            decode_hex::<SIGNATURE_LEN>(signature).ok_or(Rejection::NoMatchingSignature)?;
        let message = [timestamp, delivery.body].concat();
        match self.keys.as_slice() {
            [key] => Ok(Verdict::Ed25519(Pending { key, message, signature })),
            keys => keys
                .iter()
                .any(|key| key.verify(&message, &signature))
                .then_some(Verdict::Accepted)
                .ok_or(Rejection::NoMatchingSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ed25519::SecretKey;
    use crate::encoding::hex_string;
    use crate::scheme::Found;

    fn check(
        keys: &DiscordKeys,
        signature: &str,
        ts: &[u8],
        body: &[u8],
        now: Option<i64>,
    ) -> Result<(), Rejection> {
        let found = [
            Some(Found { name: SIGNATURE_HEADER, value: signature.as_bytes() }),
            Some(Found { name: TIMESTAMP_HEADER, value: ts }),
        ];
        keys.verify(
            &Delivery { body, headers: &found, url: None },
            now.map(|n| Window::seconds(n, 300)),
        )
    }

    #[test]
    fn timestamp_then_body_is_signed() {
        let secret = SecretKey::from_bytes(&[7; 32]).unwrap();
        let other = SecretKey::from_bytes(&[8; 32]).unwrap();
        let body = br#"{"type":1}"#;
        let signature = hex_string(&secret.sign(b"1700000000{\"type\":1}"));
        let keys = DiscordKeys::new(vec![secret.public()]).unwrap();
        assert_eq!(check(&keys, &signature, b"1700000000", body, Some(1_700_000_000)), Ok(()));
        assert_eq!(
            check(&keys, &signature.to_uppercase(), b"1700000000", body, Some(1_700_000_000)),
            Ok(())
        );
        assert_eq!(
            check(&keys, &signature, b"1700000000", body, Some(1_700_000_301)),
            Err(Rejection::TooOld)
        );
        assert_eq!(check(&keys, &signature, b"1700000000", body, None), Ok(()));
        assert_eq!(
            check(&keys, &signature, b"1700000001", body, None),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check(&keys, &signature[2..], b"1700000000", body, None),
            Err(Rejection::NoMatchingSignature)
        );
        let rotated = DiscordKeys::new(vec![other.public(), secret.public()]).unwrap();
        assert_eq!(check(&rotated, &signature, b"1700000000", body, None), Ok(()));
        let wrong = DiscordKeys::new(vec![other.public()]).unwrap();
        assert_eq!(
            check(&wrong, &signature, b"1700000000", body, None),
            Err(Rejection::NoMatchingSignature)
        );
    }

    /// RFC 8032 test 2 signs the one-byte message "r": as a timestamp with an empty body.
    #[test]
    fn rfc8032_test_2_through_the_scheme() {
        let key = PublicKey::from_bytes(
            &decode_hex::<32>(b"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
                .unwrap(),
        )
        .unwrap();
        let keys = DiscordKeys::new(vec![key]).unwrap();
        let signature = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
        assert_eq!(check(&keys, signature, b"r", b"", None), Ok(()));
        assert!(matches!(
            check(&keys, signature, b"r", b"", Some(0)),
            Err(Rejection::InvalidTimestamp(..))
        ));
    }
}
