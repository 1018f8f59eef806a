//! The three webhook schemes end to end, against HMAC-SHA256 from the `hmac` crate (which
//! checks relaywire's own SHA-extensions kernel as well): any secret, body, id, timestamp and
//! signature header get the reference answer, and what a key signs it verifies.
//!
//! Input: `secret NUL id NUL timestamp NUL signature NUL body` (missing fields are empty; the
//! body may hold NULs). The clock is the timestamp's value when it has one, moved by the first
//! byte of the body, so that both sides of the tolerance get exercised.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use relaywire::generic::{GenericKey, TagEncoding};
use relaywire::linktor::LinktorKey;
use relaywire::mac::MacKey;
use relaywire::standard::{Headers, StandardKey};
use relaywire::timestamp::{parse_lenient, parse_strict, Freshness, Window};
use sha2::Sha256;

const TOLERANCE: i64 = 300;

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(5, |&b| b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let (secret, id, timestamp, signature, body) = (next(), next(), next(), next(), next());
    let shift = i64::from(body.first().copied().unwrap_or(0)) * 5 - 640;
    let now = parse_lenient(timestamp).unwrap_or(1_700_000_000).saturating_add(shift);
    let window = Window::seconds(now, TOLERANCE);
    let expected = hmac_sha256(secret, &[body]);

    mac_kernel(secret, body, id);
    linktor(secret, body, signature, timestamp, window, &expected);
    standard(secret, body, id, timestamp, signature, window);
    generic(secret, body, id, signature, &expected);
});

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fresh(window: Window, timestamp: i64) -> bool {
    window.freshness(timestamp) == Freshness::Fresh
}

/// The kernel: one part (the SHA-extensions path) and several parts (the portable one).
fn mac_kernel(secret: &[u8], body: &[u8], id: &[u8]) {
    let key = MacKey::new(secret);
    assert_eq!(key.tag(&[body]), hmac_sha256(secret, &[body]));
    assert_eq!(key.tag(&[id, b".", body]), hmac_sha256(secret, &[id, b".", body]));
    let hex_tag: [u8; 64] = hex(&hmac_sha256(secret, &[body])).into_bytes().try_into().unwrap();
    assert!(key.verify_hex(body, &hex_tag));
    let mut wrong = hex_tag;
    wrong[usize::from(body.len() as u8 % 64)] ^= 1;
    assert!(!key.verify_hex(body, &wrong));
}

/// Linktor: the lowercase hex tag exactly; an empty secret verifies nothing; a non-empty
/// timestamp header must be an integer within the window.
fn linktor(
    secret: &[u8],
    body: &[u8],
    signature: &[u8],
    timestamp: &[u8],
    window: Window,
    expected: &[u8; 32],
) {
    let key = LinktorKey::new(secret);
    let signed = hex(expected);
    assert_eq!(key.sign(body), signed.as_bytes());
    let valid = |sig: &[u8]| !secret.is_empty() && sig == signed.as_bytes();
    assert_eq!(key.verify(body, signature), valid(signature));
    assert_eq!(key.verify(body, signed.as_bytes()), !secret.is_empty());
    let timely = timestamp.is_empty() || parse_lenient(timestamp).is_ok_and(|t| fresh(window, t));
    for header in [None, Some(signature), Some(signed.as_bytes())] {
        let stamp = (!timestamp.is_empty()).then_some(timestamp);
        let answer = key.verify_request(body, header, stamp, || window);
        assert_eq!(answer, header.is_some_and(valid) && timely, "{header:?} {stamp:?}");
    }
}

/// Standard Webhooks: `id.timestamp.body` signed; the timestamp strict and within the window;
/// any `v1,` entry of the space-separated list that is the padded base64 tag verifies.
fn standard(
    secret: &[u8],
    body: &[u8],
    id: &[u8],
    timestamp: &[u8],
    signature: &[u8],
    window: Window,
) {
    let key = StandardKey::from_key_bytes(secret);
    let headers = |signature| Headers { id: Some(id), timestamp: Some(timestamp), signature };
    let signed_headers = |signature: &str| {
        let found = Headers { signature: Some(signature.as_bytes()), ..headers(None) };
        key.verify(body, &found, window)
    };
    let answer = key.verify(body, &headers(Some(signature)), window);
    let reference = || -> bool {
        if id.is_empty() || timestamp.is_empty() || signature.is_empty() {
            return false;
        }
        let Ok(ts) = parse_strict(timestamp) else {
            return false;
        };
        // The signed text holds the timestamp in its shortest decimal ("007" signs as "7").
        let tag = hmac_sha256(secret, &[id, b".", ts.to_string().as_bytes(), b".", body]);
        let wanted = format!("v1,{}", STANDARD.encode(tag));
        fresh(window, ts) && signature.split(|&b| b == b' ').any(|s| s == wanted.as_bytes())
    };
    assert_eq!(answer.is_ok(), reference(), "{answer:?}");
    if let Ok(ts) = parse_strict(timestamp) {
        let answer = signed_headers(&key.sign(id, ts, body));
        assert_eq!(answer.is_ok(), !id.is_empty() && fresh(window, ts), "{answer:?}");
    }
    assert!(key.verify(body, &headers(None), window).is_err());
}

/// Generic HMAC: the prefix (here the id, when it is UTF-8), then the tag in hex (either case)
/// or base64 (padded or not, canonical).
fn generic(secret: &[u8], body: &[u8], id: &[u8], signature: &[u8], expected: &[u8; 32]) {
    let prefix = std::str::from_utf8(id).unwrap_or("sha256=");
    for encoding in [TagEncoding::Hex, TagEncoding::Base64] {
        let key = GenericKey::new(secret, encoding, prefix);
        let signed = key.sign(body);
        assert!(key.verify(body, signed.as_bytes()));
        let encoded = match encoding {
            TagEncoding::Hex => hex(expected),
            TagEncoding::Base64 => STANDARD.encode(expected),
        };
        assert_eq!(signed, format!("{prefix}{encoded}"));
        let reference = signature.strip_prefix(prefix.as_bytes()).is_some_and(|rest| {
            match encoding {
                TagEncoding::Hex => rest.eq_ignore_ascii_case(encoded.as_bytes()),
                // The 44-character padded form, or its 43 characters without the `=`.
                TagEncoding::Base64 => {
                    rest == encoded.as_bytes() || rest == encoded.trim_end_matches('=').as_bytes()
                }
            }
        });
        assert_eq!(key.verify(body, signature), reference, "{encoding:?}");
    }
}
