//! The Standard Webhooks scheme: `webhook-signature` carries space-separated signatures of
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, each `v1,<base64 HMAC-SHA256>` (a `whsec_`
//! secret) or `v1a,<base64 Ed25519>` (a `whsk_` secret key signs, its `whpk_` public key
//! verifies); any one that matches any of the verifier's keys accepts. Svix's `svix-id`,
//! `svix-timestamp` and `svix-signature` are read when the `webhook-` headers are absent.

use crate::ed25519::{self, Pending, PublicKey, SecretKey, SIGNATURE_LEN};
use crate::encoding::{
    base64_string, base64_tag, constant_time_eq, decimal, decode_base64, BASE64_LEN,
};
use crate::mac::MacKey;
use crate::scheme::{check_fresh, Delivery, Field, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::{parse_strict, Window};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
pub const SVIX_ID_HEADER: &str = "svix-id";
pub const SVIX_TIMESTAMP_HEADER: &str = "svix-timestamp";
pub const SVIX_SIGNATURE_HEADER: &str = "svix-signature";
pub const SECRET_PREFIX: &str = "whsec_";
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
pub const SECRET_KEY_PREFIX: &str = "whsk_";
pub const DEFAULT_TOLERANCE: i64 = 300;

/// Why a secret or key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    Empty,
    NotBase64,
    /// A `whpk_` or `whsk_` key whose bytes are not a usable Ed25519 key.
    Ed25519(&'static str, ed25519::KeyError),
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the webhook secret is empty"),
            Self::NotBase64 => write!(
                f,
                "the webhook secret must be base64, optionally prefixed with {SECRET_PREFIX:?} \
                 ({PUBLIC_KEY_PREFIX:?} and {SECRET_KEY_PREFIX:?} for Ed25519 keys)"
            ),
            Self::Ed25519(prefix, error) => write!(f, "the {prefix:?} key: {error}"),
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

/// One key of a verifier.
#[derive(Clone)]
pub enum StandardKey {
    /// A `whsec_` secret: signs and verifies `v1`.
    Hmac(MacKey),
    /// A `whpk_` public key: verifies `v1a`.
    Public(PublicKey),
    /// A `whsk_` secret key: signs `v1a`, and verifies it with its public key.
    Secret(SecretKey),
}

impl StandardKey {
    /// A key from its text: `whpk_<base64>`, `whsk_<base64>`, or a `whsec_<base64>` secret
    /// (whose prefix is optional).
    pub fn parse(text: &[u8]) -> Result<Self, SecretError> {
        let ed25519_bytes = |prefix: &'static str| -> Option<Result<Vec<u8>, SecretError>> {
            let encoded = text.strip_prefix(prefix.as_bytes())?;
            Some(decode_base64(encoded).ok_or(SecretError::NotBase64))
        };
        if let Some(bytes) = ed25519_bytes(PUBLIC_KEY_PREFIX) {
            return PublicKey::from_bytes(&bytes?)
                .map(Self::Public)
                .map_err(|e| SecretError::Ed25519(PUBLIC_KEY_PREFIX, e));
        }
        if let Some(bytes) = ed25519_bytes(SECRET_KEY_PREFIX) {
            return SecretKey::from_bytes(&bytes?)
                .map(Self::Secret)
                .map_err(|e| SecretError::Ed25519(SECRET_KEY_PREFIX, e));
        }
        decode_secret(text).map(|key| Self::Hmac(MacKey::new(&key)))
    }

    /// The HMAC key of raw key bytes (not base64).
    pub fn from_key_bytes(key: &[u8]) -> Self {
        Self::Hmac(MacKey::new(key))
    }
}

/// A Standard Webhooks verifier (and signer) over one or more keys, for rotation.
#[derive(Clone)]
pub struct StandardKeys {
    keys: Vec<StandardKey>,
    hmac: Vec<MacKey>,
    /// The public keys, given or derived from secret keys.
    public: Vec<PublicKey>,
}

/// The signed content `"{id}.{timestamp}.{body}"`, as parts.
fn content<'a>(id: &'a [u8], digits: &'a [u8], body: &'a [u8]) -> [&'a [u8]; 5] {
    [id, b".", digits, b".", body]
}

impl StandardKeys {
    /// A verifier over `keys`; at least one.
    pub fn new(keys: Vec<StandardKey>) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        let hmac = keys
            .iter()
            .filter_map(|k| match k {
                StandardKey::Hmac(key) => Some(key.clone()),
                _ => None,
            })
            .collect();
        let public = keys
            .iter()
            .filter_map(|k| match k {
                StandardKey::Public(key) => Some(*key),
                StandardKey::Secret(key) => Some(key.public()),
                StandardKey::Hmac(_) => None,
            })
            .collect();
        Some(Self { keys, hmac, public })
    }

    pub fn single(key: StandardKey) -> Self {
        Self::new(vec![key]).expect("one key")
    }

    /// Whether any key can sign (a `whsec_` secret or a `whsk_` secret key).
    pub fn can_sign(&self) -> bool {
        self.keys.iter().any(|k| !matches!(k, StandardKey::Public(_)))
    }

    /// The `webhook-signature` value: one signature per key that can sign, in the keys' order,
    /// space-separated (`v1,<base64>` for a secret, `v1a,<base64>` for a secret key).
    pub fn sign(&self, id: &[u8], timestamp: i64, body: &[u8]) -> String {
        let (digits, start) = decimal(timestamp);
        let parts = content(id, &digits[start..], body);
        let mut out = String::new();
        for key in &self.keys {
            let (version, encoded) = match key {
                StandardKey::Hmac(key) => ("v1,", base64_tag(&key.tag(&parts)).to_vec()),
                StandardKey::Secret(key) => {
                    ("v1a,", base64_string(&key.sign(&parts.concat())).into_bytes())
                }
                StandardKey::Public(_) => continue,
            };
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(version);
            out.push_str(&String::from_utf8_lossy(&encoded));
        }
        out
    }
}

const SLOTS: &[Slot] = &[
    &[ID_HEADER, SVIX_ID_HEADER],
    &[TIMESTAMP_HEADER, SVIX_TIMESTAMP_HEADER],
    &[SIGNATURE_HEADER, SVIX_SIGNATURE_HEADER],
];

impl Scheme for StandardKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn item_work(&self) -> usize {
        if self.public.is_empty() {
            crate::batch::PER_ITEM_WORK
        } else {
            crate::batch::ED25519_ITEM_WORK
        }
    }

    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let id = delivery.header(SLOTS, 0)?.value;
        let timestamp = delivery.header(SLOTS, 1)?;
        let signatures = delivery.header(SLOTS, 2)?.value;

        let seconds = parse_strict(timestamp.value)
            .map_err(|e| Rejection::InvalidTimestamp(Field::Header(timestamp.name), e))?;
        check_fresh(window, seconds)?;

        let (digits, start) = decimal(seconds);
        let parts = content(id, &digits[start..], delivery.body);
        let entries = || signatures.split(|&b| b == b' ');

        if !self.hmac.is_empty() {
            let tags: Vec<[u8; BASE64_LEN]> =
                self.hmac.iter().map(|key| base64_tag(&key.tag(&parts))).collect();
            let mut matched = false;
            for encoded in entries().filter_map(|e| e.strip_prefix(b"v1,")) {
                for tag in &tags {
                    // Keep comparing after a match so the time does not reveal which one matched.
                    matched |= constant_time_eq(tag, encoded);
                }
            }
            if matched {
                return Ok(Verdict::Accepted);
            }
        }

        if !self.public.is_empty() {
            let signatures: Vec<[u8; SIGNATURE_LEN]> = entries()
                .filter_map(|e| e.strip_prefix(b"v1a,"))
                .filter_map(|encoded| decode_base64(encoded)?.try_into().ok())
                .collect();
            let message = parts.concat();
            match (signatures.as_slice(), self.public.as_slice()) {
                ([signature], [key]) => {
                    return Ok(Verdict::Ed25519(Pending { key, message, signature: *signature }));
                }
                _ => {
                    for signature in &signatures {
                        if self.public.iter().any(|key| key.verify(&message, signature)) {
                            return Ok(Verdict::Accepted);
                        }
                    }
                }
            }
        }
        Err(Rejection::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Found;
    use crate::timestamp::TimestampError;

    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &[u8] = b"msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    /// RFC 8032 section 7.1, test 1: the seed and its public key, base64.
    const WHSK: &[u8] = b"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    const WHPK: &[u8] = b"whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    fn at(now: i64) -> Option<Window> {
        Some(Window::seconds(now, DEFAULT_TOLERANCE))
    }

    fn keys(texts: &[&[u8]]) -> StandardKeys {
        StandardKeys::new(texts.iter().map(|t| StandardKey::parse(t).unwrap()).collect()).unwrap()
    }

    fn verify(
        keys: &StandardKeys,
        body: &[u8],
        headers: [Option<&[u8]>; 3],
        now: i64,
    ) -> Result<(), Rejection> {
        let found = headers
            .into_iter()
            .zip(SLOTS)
            .map(|(value, slot)| value.map(|value| Found { name: slot[0], value }))
            .collect::<Vec<_>>();
        keys.verify(&Delivery { body, headers: &found, url: None }, at(now))
    }

    fn ts() -> String {
        TS.to_string()
    }

    #[test]
    fn known_answer_vector() {
        let key = keys(&[SECRET]);
        assert_eq!(key.sign(ID, TS, BODY), SIGNATURE);
        let ts = ts();
        assert_eq!(
            verify(&key, BODY, [Some(ID), Some(ts.as_bytes()), Some(SIGNATURE.as_bytes())], TS),
            Ok(())
        );
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let key = keys(&[SECRET, WHSK]);
        for ts in [i64::MIN, -1, 0, i64::MAX] {
            let signature = key.sign(ID, ts, BODY);
            let text = ts.to_string();
            let found = [Some(ID), Some(text.as_bytes()), Some(signature.as_bytes())];
            assert_eq!(verify(&key, BODY, found, ts), Ok(()), "timestamp {ts}");
        }
    }

    #[test]
    fn secret_prefix_is_optional() {
        let bare = keys(&[&SECRET[SECRET_PREFIX.len()..]]);
        assert_eq!(bare.sign(ID, TS, BODY), SIGNATURE);
    }

    #[test]
    fn bad_secrets() {
        assert_eq!(decode_secret(b"whsec_").err(), Some(SecretError::Empty));
        assert_eq!(decode_secret(b"whsec_!!!").err(), Some(SecretError::NotBase64));
        assert_eq!(StandardKey::parse(b"whpk_!!").err(), Some(SecretError::NotBase64));
        assert!(matches!(
            StandardKey::parse(b"whpk_AAAA").err(),
            Some(SecretError::Ed25519(PUBLIC_KEY_PREFIX, ed25519::KeyError::Length { .. }))
        ));
        assert!(matches!(
            StandardKey::parse(b"whsk_AAAA").err(),
            Some(SecretError::Ed25519(SECRET_KEY_PREFIX, ed25519::KeyError::Length { .. }))
        ));
        assert!(StandardKeys::new(Vec::new()).is_none());
    }

    #[test]
    fn ed25519_sign_and_verify() {
        let signer = keys(&[WHSK]);
        let signature = signer.sign(ID, TS, BODY);
        assert!(signature.starts_with("v1a,"));
        assert_eq!(signature.len(), 4 + 88);
        let ts = ts();
        let found =
            |sig: &[u8]| [Some(ID), Some(ts.as_bytes()), Some(sig)].map(|v| v.map(|v| v.to_vec()));
        let check = |keys: &StandardKeys, sig: &[u8]| {
            let [a, b, c] = found(sig);
            verify(keys, BODY, [a.as_deref(), b.as_deref(), c.as_deref()], TS)
        };
        assert_eq!(check(&keys(&[WHPK]), signature.as_bytes()), Ok(()));
        assert_eq!(check(&signer, signature.as_bytes()), Ok(()));
        // Tampered body, or only an HMAC key.
        assert_eq!(
            check(&keys(&[SECRET]), signature.as_bytes()),
            Err(Rejection::NoMatchingSignature)
        );
        let mut tampered = signature.clone().into_bytes();
        tampered[10] ^= 1;
        assert_eq!(check(&keys(&[WHPK]), &tampered), Err(Rejection::NoMatchingSignature));
    }

    #[test]
    fn mixed_header_and_rotation() {
        let both = keys(&[SECRET, WHSK]);
        let signature = both.sign(ID, TS, BODY);
        let (v1, v1a) = signature.split_once(' ').unwrap();
        assert_eq!(v1, SIGNATURE);
        assert!(v1a.starts_with("v1a,"));
        let ts = ts();
        let other_secret = b"whsec_c2Vjb25kIHNlY3JldCBieXRlcw==".as_slice();
        for (verifier, header) in [
            (keys(&[WHPK]), signature.as_str()),
            (keys(&[other_secret, WHPK]), v1a),
            (keys(&[other_secret, SECRET]), v1),
            (keys(&[SECRET]), signature.as_str()),
            (keys(&[WHPK, SECRET]), &format!("v1,bm9wZQ== {v1a}")),
        ] {
            assert_eq!(
                verify(
                    &verifier,
                    BODY,
                    [Some(ID), Some(ts.as_bytes()), Some(header.as_bytes())],
                    TS
                ),
                Ok(())
            );
        }
        assert_eq!(
            verify(
                &keys(&[other_secret]),
                BODY,
                [Some(ID), Some(ts.as_bytes()), Some(signature.as_bytes())],
                TS
            ),
            Err(Rejection::NoMatchingSignature)
        );
        // A public key cannot sign.
        assert!(!keys(&[WHPK]).can_sign());
        assert_eq!(keys(&[WHPK]).sign(ID, TS, BODY), "");
    }

    #[test]
    fn seed_and_keypair_forms_sign_alike() {
        use base64::Engine;
        let seed = base64::engine::general_purpose::STANDARD.decode(&WHSK[5..]).unwrap();
        let public = base64::engine::general_purpose::STANDARD.decode(&WHPK[5..]).unwrap();
        let pair = base64::engine::general_purpose::STANDARD.encode([seed, public].concat());
        let long = keys(&[format!("whsk_{pair}").as_bytes()]);
        assert_eq!(long.sign(ID, TS, BODY), keys(&[WHSK]).sign(ID, TS, BODY));
    }

    #[test]
    fn any_listed_signature_accepts() {
        let key = keys(&[SECRET]);
        let ts = ts();
        let list = format!("v1,bm9wZQ== v2,xyz v1a,AAAA {SIGNATURE}");
        assert_eq!(
            verify(&key, BODY, [Some(ID), Some(ts.as_bytes()), Some(list.as_bytes())], TS),
            Ok(())
        );
    }

    #[test]
    fn timestamp_check_can_be_skipped() {
        let key = keys(&[SECRET]);
        let ts = ts();
        let found =
            [ID, ts.as_bytes(), SIGNATURE.as_bytes()].map(|value| Some(Found { name: "x", value }));
        let delivery = Delivery { body: BODY, headers: &found, url: None };
        assert_eq!(key.verify(&delivery, at(TS + 10_000)), Err(Rejection::TooOld));
        assert_eq!(key.verify(&delivery, None), Ok(()));
    }

    #[test]
    fn rejections() {
        let key = keys(&[SECRET]);
        let ts = ts();
        let sig = SIGNATURE.as_bytes();
        let check = |found: [Option<&[u8]>; 3], now| verify(&key, BODY, found, now);
        let good = [Some(ID), Some(ts.as_bytes()), Some(sig)];
        assert_eq!(check(good, TS + 301), Err(Rejection::TooOld));
        assert_eq!(check(good, TS - 301), Err(Rejection::TooNew));
        assert_eq!(
            check([Some(ID), Some(b"abc"), Some(sig)], TS),
            Err(Rejection::InvalidTimestamp(
                Field::Header(TIMESTAMP_HEADER),
                TimestampError::Malformed
            ))
        );
        assert_eq!(
            check([Some(ID), Some(b"123456789012345678901234"), Some(sig)], TS),
            Err(Rejection::InvalidTimestamp(
                Field::Header(TIMESTAMP_HEADER),
                TimestampError::Overflow
            ))
        );
        assert_eq!(
            check([Some(ID), Some(ts.as_bytes()), Some(b"v1,AAAA")], TS),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check([Some(b""), Some(ts.as_bytes()), Some(sig)], TS),
            Err(Rejection::MissingHeader(ID_HEADER))
        );
        assert_eq!(
            check([Some(ID), Some(ts.as_bytes()), None], TS),
            Err(Rejection::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&key, b"{\"test\": 2432232315}", good, TS),
            Err(Rejection::NoMatchingSignature)
        );
    }
}
