//! Every parser a webhook header goes through, on the same bytes, each against a reference
//! written independently here:
//! - `timestamp::parse_strict` (Standard Webhooks: an optional `-`, digits, within `i64`);
//! - `timestamp::parse_lenient` (Linktor: ASCII whitespace around, an optional sign);
//! - `encoding::decode_hex_tag` (64 hex digits, either case);
//! - `encoding::decode_base64` (canonical standard base64, fully padded or unpadded);
//! - `standard::decode_secret` (an optional `whsec_` prefix, then non-empty base64);
//! - the Standard Webhooks signature list (space-separated `v1,<base64>` entries): a list that
//!   names the right tag verifies whatever surrounds it, one that does not never does;
//! - Standard Webhooks key texts (`whsec_`, `whsk_`, `whpk_`): never a panic, and a key that
//!   loads is the key its base64 says;
//! - form bodies and query strings (`form::parse`, Twilio, Slack) against `parse_qsl`'s rules;
//! - Linear's `webhookTimestamp` read from a JSON body, against serde_json;
//! - Twilio's URL handling (`query`, `port_variant`);
//! - Meta's subscription handshake (`hub.mode`, `hub.verify_token`, `hub.challenge`).
#![no_main]

#[path = "../common/references.rs"]
mod references;

use libfuzzer_sys::fuzz_target;
use references::reference_form;
use relaywire::encoding::{decode_base64, decode_hex_tag};
use relaywire::form;
use relaywire::json::Tape;
use relaywire::providers::{linear, meta, twilio};
use relaywire::scheme::{Delivery, Found, Scheme};
use relaywire::standard::{decode_secret, SecretError, StandardKey, StandardKeys};
use relaywire::timestamp::{parse_lenient, parse_strict, TimestampError, Window};
use serde::Deserialize;

fuzz_target!(|data: &[u8]| {
    assert_eq!(parse_strict(data), reference_strict(data), "strict {data:?}");
    assert_eq!(parse_lenient(data), reference_lenient(data), "lenient {data:?}");
    assert_eq!(decode_hex_tag(data).map(Vec::from), reference_hex(data), "hex {data:?}");
    assert_eq!(decode_base64(data), reference_base64(data), "base64 {data:?}");
    assert_eq!(decode_secret(data), reference_secret(data), "secret {data:?}");
    signature_list(data);
    key_text(data);
    form_text(data);
    assert_eq!(linear::body_timestamp(data), reference_body_timestamp(data), "{data:?}");
    twilio_url(data);
    handshake(data);
});

fn integer(digits: &[u8], negative: bool) -> Result<i64, TimestampError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TimestampError::Malformed);
    }
    // i128 holds any i64 times ten plus a digit.
    let mut value: i128 = 0;
    for &d in digits {
        value = value * 10 + i128::from(d - b'0');
        if value > i128::from(i64::MAX) + 1 {
            return Err(TimestampError::Overflow);
        }
    }
    i64::try_from(if negative { -value } else { value }).map_err(|_| TimestampError::Overflow)
}

fn reference_strict(text: &[u8]) -> Result<i64, TimestampError> {
    match text {
        [b'-', digits @ ..] => integer(digits, true),
        digits => integer(digits, false),
    }
}

fn reference_lenient(text: &[u8]) -> Result<i64, TimestampError> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    let start = text.iter().position(|b| !is_space(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !is_space(b)).map_or(start, |i| i + 1);
    match &text[start..end] {
        [b'-', digits @ ..] => integer(digits, true),
        [b'+', digits @ ..] => integer(digits, false),
        digits => integer(digits, false),
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn reference_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    text.chunks(2).map(|pair| Some(hex_digit(pair[0])? * 16 + hex_digit(pair[1])?)).collect()
}

fn sextet(b: u8) -> Option<u32> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ALPHABET.iter().position(|&a| a == b).map(|i| i as u32)
}

/// RFC 4648 base64, decoded by hand: groups of four characters, the last one short (two or
/// three characters, whose unused bits must be zero) and then either padded to four with `=`
/// or not padded at all.
fn reference_base64(text: &[u8]) -> Option<Vec<u8>> {
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    let data = &text[..text.len() - pad];
    let tail = data.len() % 4;
    let padding_ok = match pad {
        0 => tail != 1,
        1 => tail == 3,
        2 => tail == 2,
        _ => false,
    };
    if !padding_ok {
        return None;
    }
    let mut out = Vec::new();
    for group in data.chunks(4) {
        let values = group.iter().map(|&b| sextet(b)).collect::<Option<Vec<u32>>>()?;
        let bits = values.iter().fold(0u32, |acc, v| acc << 6 | v) << (6 * (4 - values.len()));
        let bytes = bits.to_be_bytes();
        let kept = values.len() * 6 / 8;
        // Bits of a short group beyond its last whole byte must be zero (canonical form).
        if kept < 3 && bits & (0x00ff_ffff >> (8 * kept)) != 0 {
            return None;
        }
        out.extend_from_slice(&bytes[1..=kept]);
    }
    Some(out)
}

fn reference_secret(secret: &[u8]) -> Result<Vec<u8>, SecretError> {
    let encoded = secret.strip_prefix(b"whsec_").unwrap_or(secret);
    match reference_base64(encoded) {
        None => Err(SecretError::NotBase64),
        Some(key) if key.is_empty() => Err(SecretError::Empty),
        Some(key) => Ok(key),
    }
}

/// `data` as a `webhook-signature` header, with and without the right signature spliced in.
fn signature_list(data: &[u8]) {
    const ID: &[u8] = b"msg_2Lc2xq5ddJ1n5uV3lZWJqfEqJZk";
    const TIMESTAMP: i64 = 1_700_000_000;
    let keys = StandardKeys::single(StandardKey::from_key_bytes(b"fuzz key"));
    let body = b"{\"type\":\"fuzz\"}";
    let window = Some(Window::seconds(TIMESTAMP, 300));
    let ts = TIMESTAMP.to_string();
    let verify = |signature: &[u8]| {
        let found = [
            Some(Found { name: "webhook-id", value: ID }),
            Some(Found { name: "webhook-timestamp", value: ts.as_bytes() }),
            Some(Found { name: "webhook-signature", value: signature }),
        ];
        keys.verify(&Delivery { body, headers: &found, url: None }, window)
    };
    let right = keys.sign(ID, TIMESTAMP, body);
    let names_right = data.split(|&b| b == b' ').any(|entry| entry == right.as_bytes());
    assert_eq!(verify(data).is_ok(), names_right);
    let mut spliced = data.to_vec();
    spliced.push(b' ');
    spliced.extend_from_slice(right.as_bytes());
    assert!(verify(&spliced).is_ok());
}

/// A key text loads or is refused, never panics; what loads is what the text encodes.
fn key_text(data: &[u8]) {
    let Ok(key) = StandardKey::parse(data) else {
        return;
    };
    let decoded = |prefix: &[u8]| data.strip_prefix(prefix).and_then(reference_base64);
    match key {
        StandardKey::Public(public) => {
            assert_eq!(decoded(b"whpk_").as_deref(), Some(&public.to_bytes()[..]));
        }
        StandardKey::Secret(secret) => {
            let bytes = decoded(b"whsk_").expect("base64");
            assert_eq!(secret.public().to_bytes(), {
                let seed: [u8; 32] = bytes[..32].try_into().unwrap();
                ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes()
            });
        }
        StandardKey::Hmac(_) => assert!(reference_secret(data).is_ok()),
    }
}

/// `form::parse` is `parse_qsl` on bytes; `form::first` finds the first value of a name.
fn form_text(data: &[u8]) {
    let parsed: Vec<(Vec<u8>, Vec<u8>)> =
        form::parse(data).into_iter().map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    let reference = reference_form(data);
    assert_eq!(parsed, reference);
    if let Some((name, value)) = reference.first() {
        assert_eq!(form::first(data, name).as_deref(), Some(value.as_slice()));
    }
}

/// Linear's `webhookTimestamp`: the top-level integer (the last one of duplicates), in `i64`.
fn reference_body_timestamp(body: &[u8]) -> Result<i64, TimestampError> {
    let text = std::str::from_utf8(body).map_err(|_| TimestampError::Malformed)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_json::Value::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    let value = match value {
        Ok(value) => value,
        // serde_json also refuses lone surrogates and deep nesting, which the tape reads as
        // Python does: such documents are not compared (json_tape checks the tape on them).
        Err(_) if Tape::new().parse(body).is_ok() => return linear::body_timestamp(body),
        Err(_) => return Err(TimestampError::Malformed),
    };
    let Some(number) = value.get("webhookTimestamp").and_then(|v| v.as_number()) else {
        return Err(TimestampError::Malformed);
    };
    let literal = number.as_str();
    if literal.contains(['.', 'e', 'E']) {
        return Err(TimestampError::Malformed);
    }
    literal.parse::<i64>().map_err(|_| TimestampError::Overflow)
}

/// Twilio's URL helpers: the query is what follows the first `?` up to a `#`; a port variant
/// differs from the URL, keeps its path and query, and toggles the port.
fn twilio_url(url: &[u8]) {
    let expected: &[u8] = match url.iter().position(|&b| b == b'?') {
        None => b"",
        Some(at) => {
            let rest = &url[at + 1..];
            &rest[..rest.iter().position(|&b| b == b'#').unwrap_or(rest.len())]
        }
    };
    assert_eq!(twilio::query(url), expected);
    if let Some(variant) = twilio::port_variant(url) {
        assert_ne!(variant, url);
        assert_eq!(twilio::query(&variant), expected);
    }
}

/// Meta's handshake: the challenge only for `subscribe` with the right token.
fn handshake(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (mode, token, challenge) = (parts.next(), parts.next(), parts.next());
    let answer = meta::answer(mode, token, challenge, b"verify-token");
    let expected = match (mode, token, challenge) {
        (Some(b"subscribe"), Some(b"verify-token"), Some(challenge)) => Some(challenge),
        _ => None,
    };
    assert_eq!(answer.ok(), expected);
}
