//! Every webhook scheme end to end: Linktor, Standard Webhooks (`v1` HMAC and `v1a` Ed25519,
//! key rotation), Stripe, GitHub/Meta (`X-Hub-Signature-256`), Shopify, Slack, Twilio, Linear,
//! Discord, and the generic HMAC verifier.
//!
//! For each, on any delivery the input describes:
//! - the answer of one delivery (`Scheme::verify`) is the answer the batch path gives it
//!   (`verify_chunk`, which defers Ed25519 signatures to one batch equation), and a batch of
//!   several deliveries answers each as it is answered alone;
//! - what the scheme signs equals a reference built here from the `hmac`, `sha1`/`sha2` and
//!   `ed25519-dalek` crates (which also checks relaywire's own SHA-extensions kernel), a
//!   delivery signed that way verifies, and the same delivery with one bit of its body (or
//!   signature) changed does not.
//!
//! Input: one byte choosing the scheme, one byte of flags, then `secret NUL h0 NUL h1 NUL h2
//! NUL url NUL body` (missing fields are empty; the body may hold NULs). The clock is the
//! first header's number when it has one, moved by the flags, so that both sides of the
//! tolerance get exercised; one flag turns the timestamp check off.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use relaywire::ed25519::{PublicKey, SecretKey};
use relaywire::form;
use relaywire::generic::{GenericKey, TagEncoding};
use relaywire::linktor::LinktorKey;
use relaywire::mac::MacKey;
use relaywire::providers::body::{BodyKeys, Hub, Shopify};
use relaywire::providers::discord::DiscordKeys;
use relaywire::providers::linear::LinearKeys;
use relaywire::providers::slack::SlackKeys;
use relaywire::providers::stripe::StripeKeys;
use relaywire::providers::twilio::{self, TwilioKeys};
use relaywire::scheme::{verify_chunk, Delivery, Found, Rejection, Scheme};
use relaywire::standard::{StandardKey, StandardKeys};
use relaywire::timestamp::{parse_lenient, parse_strict, Freshness, Window};
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[path = "../common/references.rs"]
mod references;
use references::reference_form;

const TOLERANCE: i64 = 300;

struct Input<'a> {
    flags: u8,
    secret: &'a [u8],
    headers: [&'a [u8]; 3],
    url: &'a [u8],
    body: &'a [u8],
}

impl Input<'_> {
    /// The clock: the first header's number (or a fixed time), moved by up to ±10 minutes.
    fn window(&self) -> Option<Window> {
        if self.flags & 1 == 1 {
            return None;
        }
        let base = parse_lenient(self.headers[0]).unwrap_or(1_700_000_000);
        let shift = i64::from(self.flags >> 1) * 10 - 640;
        Some(Window::seconds(base.saturating_add(shift), TOLERANCE))
    }
}

fuzz_target!(|data: &[u8]| {
    let [scheme, flags, rest @ ..] = data else {
        return;
    };
    let mut fields = rest.splitn(6, |&b| b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let input = Input {
        flags: *flags,
        secret: next(),
        headers: [next(), next(), next()],
        url: next(),
        body: next(),
    };
    match scheme % 11 {
        0 => linktor(&input),
        1 => standard(&input),
        2 => stripe(&input),
        3 => hub(&input),
        4 => shopify(&input),
        5 => slack(&input),
        6 => twilio(&input),
        7 => linear(&input),
        8 => discord(&input),
        9 => generic(&input),
        _ => mac_kernel(&input),
    }
});

// -- references --------------------------------------------------------------------------------

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fresh(window: Option<Window>, timestamp: i64) -> bool {
    window.is_none_or(|w| w.freshness(timestamp) == Freshness::Fresh)
}

/// An Ed25519 key pair derived from the input's secret (any bytes make a valid seed).
fn ed25519_pair(secret: &[u8]) -> (SecretKey, ed25519_dalek::SigningKey) {
    let seed: [u8; 32] = Sha256::digest(secret).into();
    (SecretKey::from_bytes(&seed).expect("a seed"), ed25519_dalek::SigningKey::from_bytes(&seed))
}

// -- the shared checks -------------------------------------------------------------------------

/// The delivery with the scheme's slots filled in order.
fn delivery<'a, S: Scheme>(
    slots: &'a mut Vec<Option<Found<'a>>>,
    values: &[&'a [u8]],
    body: &'a [u8],
    url: Option<&'a [u8]>,
) -> Delivery<'a> {
    for (slot, value) in S::HEADERS.iter().zip(values) {
        slots.push(Some(Found { name: slot[0], value }));
    }
    Delivery { body, headers: slots, url }
}

/// One delivery alone and through the batch path: the same answer.
fn alone_and_batched<S: Scheme>(
    scheme: &S,
    delivery: &Delivery<'_>,
    window: Option<Window>,
) -> Result<(), Rejection> {
    let alone = scheme.verify(delivery, window);
    let batched = verify_chunk(scheme, std::iter::once(Some((*delivery, window))));
    assert_eq!(batched, vec![Some(alone)], "batch path");
    alone
}

/// Several deliveries in one batch (enough for an Ed25519 batch equation): each answered as
/// alone.
fn batch_agrees<S: Scheme>(scheme: &S, deliveries: &[Delivery<'_>], window: Option<Window>) {
    let alone: Vec<_> = deliveries.iter().map(|d| Some(scheme.verify(d, window))).collect();
    let items = deliveries.iter().map(|d| Some((*d, window)));
    let items: Vec<_> = items.collect();
    assert_eq!(verify_chunk(scheme, items.into_iter()), alone, "batch of {}", deliveries.len());
}

/// The body with one bit changed (a body of nothing gets a byte).
fn tampered(body: &[u8], flags: u8) -> Vec<u8> {
    let mut changed = body.to_vec();
    if changed.is_empty() {
        changed.push(flags);
    } else {
        let at = usize::from(flags) % changed.len();
        changed[at] ^= 1 << (flags % 8);
    }
    changed
}

// -- the schemes -------------------------------------------------------------------------------

/// The HMAC kernel: one part (the SHA-extensions path) and several parts (the portable one).
fn mac_kernel(input: &Input<'_>) {
    let (secret, body, id) = (input.secret, input.body, input.headers[0]);
    let key = MacKey::new(secret);
    assert_eq!(key.tag(&[body]), hmac_sha256(secret, &[body]));
    assert_eq!(key.tag(&[id, b".", body]), hmac_sha256(secret, &[id, b".", body]));
    let hex_tag: [u8; 64] = hex(&hmac_sha256(secret, &[body])).into_bytes().try_into().unwrap();
    assert!(key.verify_hex(body, &hex_tag));
    let mut wrong = hex_tag;
    wrong[usize::from(input.flags) % 64] ^= 1;
    assert!(!key.verify_hex(body, &wrong));
}

/// Linktor: the lowercase hex tag exactly; an empty secret verifies nothing; a non-empty
/// timestamp header must be an integer within the window.
fn linktor(input: &Input<'_>) {
    let (secret, body) = (input.secret, input.body);
    let [signature, timestamp, _] = input.headers;
    let window = input.window().unwrap_or(Window::seconds(1_700_000_000, TOLERANCE));
    let key = LinktorKey::new(secret);
    let signed = hex(&hmac_sha256(secret, &[body]));
    assert_eq!(key.sign(body), signed.as_bytes());
    let valid = |sig: &[u8]| !secret.is_empty() && sig == signed.as_bytes();
    assert_eq!(key.verify(body, signature), valid(signature));
    let timely =
        timestamp.is_empty() || parse_lenient(timestamp).is_ok_and(|t| fresh(Some(window), t));
    for header in [None, Some(signature), Some(signed.as_bytes())] {
        let stamp = (!timestamp.is_empty()).then_some(timestamp);
        let answer = key.verify_request(body, header, stamp, || window);
        assert_eq!(answer, header.is_some_and(valid) && timely, "{header:?} {stamp:?}");
        // The same request as a header scheme (the batch and column readers).
        if let Some(header) = header {
            let mut slots = Vec::new();
            let found = delivery::<LinktorKey>(&mut slots, &[header, timestamp], body, None);
            let as_scheme = alone_and_batched(&key, &found, Some(window));
            let empty_header = header.is_empty();
            assert_eq!(as_scheme.is_ok(), answer && !empty_header, "{as_scheme:?}");
        }
    }
}

/// Standard Webhooks: `id.timestamp.body` signed; the timestamp strict and within the window;
/// any `v1,` entry of the space-separated list that is the padded base64 HMAC, or any `v1a,`
/// entry that is a valid Ed25519 signature, verifies. Keys: the input's secret read as a key
/// text (`whsec_`/`whsk_`/`whpk_`) when it is one, else as raw HMAC key bytes; and an Ed25519
/// key from the same secret, alone and rotated in beside the HMAC key.
fn standard(input: &Input<'_>) {
    let (secret, body) = (input.secret, input.body);
    let [id, timestamp, signature] = input.headers;
    let window = input.window();
    let (ed_secret, dalek) = ed25519_pair(secret);
    let hmac_key = match StandardKey::parse(secret) {
        Ok(key) => key,
        Err(_) => StandardKey::from_key_bytes(secret),
    };
    let raw_hmac = StandardKey::parse(secret).is_err().then_some(secret);
    let schemes = [
        StandardKeys::single(hmac_key.clone()),
        StandardKeys::single(StandardKey::Secret(ed_secret.clone())),
        StandardKeys::single(StandardKey::Public(ed_secret.public())),
        StandardKeys::new(vec![hmac_key, StandardKey::Secret(ed_secret)]).unwrap(),
    ];
    for scheme in &schemes {
        let mut slots = Vec::new();
        let found = delivery::<StandardKeys>(&mut slots, &[id, timestamp, signature], body, None);
        let _ = alone_and_batched(scheme, &found, window);
    }
    let Ok(ts) = parse_strict(timestamp) else {
        return;
    };
    if id.is_empty() || !fresh(window, ts) {
        return;
    }
    let content = [id, b".", ts.to_string().as_bytes(), b".", body].concat();
    // The references: v1 when the key is raw bytes, and v1a from ed25519-dalek.
    let v1a = {
        use ed25519_dalek::Signer;
        format!("v1a,{}", STANDARD.encode(dalek.sign(&content).to_bytes()))
    };
    if let Some(key) = raw_hmac {
        let v1 = format!("v1,{}", STANDARD.encode(hmac_sha256(key, &[&content])));
        assert_eq!(schemes[0].sign(id, ts, body), v1);
    }
    assert_eq!(schemes[1].sign(id, ts, body), v1a);
    let mut signed = Vec::new();
    let mut tampered_bodies = Vec::new();
    for scheme in &schemes[..] {
        let list = if scheme.can_sign() { scheme.sign(id, ts, body) } else { v1a.clone() };
        signed.push(list);
        tampered_bodies.push(tampered(body, input.flags));
    }
    for (i, scheme) in schemes.iter().enumerate() {
        let mut slots = Vec::new();
        let good = delivery::<StandardKeys>(
            &mut slots,
            &[id, timestamp, signed[i].as_bytes()],
            body,
            None,
        );
        assert_eq!(alone_and_batched(scheme, &good, window), Ok(()), "scheme {i}");
        let mut slots = Vec::new();
        let bad = delivery::<StandardKeys>(
            &mut slots,
            &[id, timestamp, signed[i].as_bytes()],
            &tampered_bodies[i],
            None,
        );
        assert!(alone_and_batched(scheme, &bad, window).is_err(), "scheme {i} tampered");
    }
    // A batch mixing good, tampered and fuzzed deliveries under the Ed25519 key.
    let mut slot_sets: Vec<Vec<Option<Found<'_>>>> = vec![Vec::new(); 6];
    let mut sets = slot_sets.iter_mut();
    let mut next = || sets.next().unwrap();
    let batch = [
        delivery::<StandardKeys>(next(), &[id, timestamp, v1a.as_bytes()], body, None),
        delivery::<StandardKeys>(
            next(),
            &[id, timestamp, v1a.as_bytes()],
            &tampered_bodies[1],
            None,
        ),
        delivery::<StandardKeys>(next(), &[id, timestamp, signature], body, None),
        delivery::<StandardKeys>(next(), &[id, timestamp, v1a.as_bytes()], body, None),
        delivery::<StandardKeys>(next(), &[id, timestamp, v1a.as_bytes()], body, None),
        delivery::<StandardKeys>(next(), &[id, timestamp, signed[3].as_bytes()], body, None),
    ];
    batch_agrees(&schemes[2], &batch, window);
}

/// Stripe: `t=<ts>,v1=<hex HMAC of "{t}.{body}">`; the first `t` counts, any `v1` may match.
fn stripe(input: &Input<'_>) {
    let (secret, body) = (input.secret, input.body);
    let window = input.window();
    let keys = StripeKeys::new(&[secret]).unwrap();
    let mut slots = Vec::new();
    let found = delivery::<StripeKeys>(&mut slots, &[input.headers[0]], body, None);
    let _ = alone_and_batched(&keys, &found, window);
    let Ok(ts) = parse_strict(input.headers[1]) else {
        return;
    };
    let reference = format!(
        "t={ts},v1={}",
        hex(&hmac_sha256(secret, &[ts.to_string().as_bytes(), b".", body]))
    );
    assert_eq!(keys.sign(body, ts), reference);
    signed_and_tampered(&keys, &[reference.as_bytes()], body, input, fresh(window, ts));
}

/// A delivery signed with `headers` verifies (when `timely`), and fails with a bit of the body
/// changed.
fn signed_and_tampered<S: Scheme>(
    scheme: &S,
    headers: &[&[u8]],
    body: &[u8],
    input: &Input<'_>,
    timely: bool,
) {
    let window = input.window();
    let mut slots = Vec::new();
    let good = delivery::<S>(&mut slots, headers, body, None);
    let answer = alone_and_batched(scheme, &good, window);
    if timely {
        assert_eq!(answer, Ok(()));
    }
    let changed = tampered(body, input.flags);
    let mut slots = Vec::new();
    let bad = delivery::<S>(&mut slots, headers, &changed, None);
    assert!(alone_and_batched(scheme, &bad, window).is_err());
}

/// GitHub and Meta: `sha256=<hex HMAC of the body>`.
fn hub(input: &Input<'_>) {
    let keys = BodyKeys::<Hub>::new(&[input.secret]).unwrap();
    let mut slots = Vec::new();
    let found = delivery::<BodyKeys<Hub>>(&mut slots, &[input.headers[0]], input.body, None);
    let _ = alone_and_batched(&keys, &found, input.window());
    let reference = format!("sha256={}", hex(&hmac_sha256(input.secret, &[input.body])));
    assert_eq!(keys.sign(input.body), reference);
    signed_and_tampered(&keys, &[reference.as_bytes()], input.body, input, true);
}

/// Shopify: the padded base64 HMAC of the body.
fn shopify(input: &Input<'_>) {
    let keys = BodyKeys::<Shopify>::new(&[input.secret]).unwrap();
    let mut slots = Vec::new();
    let found = delivery::<BodyKeys<Shopify>>(&mut slots, &[input.headers[0]], input.body, None);
    let _ = alone_and_batched(&keys, &found, input.window());
    let reference = STANDARD.encode(hmac_sha256(input.secret, &[input.body]));
    assert_eq!(keys.sign(input.body), reference);
    signed_and_tampered(&keys, &[reference.as_bytes()], input.body, input, true);
}

/// Slack: `v0=<hex HMAC of "v0:{timestamp as sent}:{body}">`.
fn slack(input: &Input<'_>) {
    let (secret, body) = (input.secret, input.body);
    let keys = SlackKeys::new(&[secret]).unwrap();
    let [signature, timestamp, _] = input.headers;
    let mut slots = Vec::new();
    let found = delivery::<SlackKeys>(&mut slots, &[signature, timestamp], body, None);
    let _ = alone_and_batched(&keys, &found, input.window());
    let Ok(ts) = parse_strict(timestamp) else {
        return;
    };
    let reference = format!("v0={}", hex(&hmac_sha256(secret, &[b"v0:", timestamp, b":", body])));
    assert_eq!(keys.sign(body, timestamp), reference);
    let timely = fresh(input.window(), ts);
    signed_and_tampered(&keys, &[reference.as_bytes(), timestamp], body, input, timely);
}

/// Twilio: base64 HMAC-SHA1 of the URL followed by the sorted form parameters (or, when the
/// URL carries `bodySHA256`, of the URL alone, with the body's hash checked); the URL with its
/// port toggled also verifies.
fn twilio(input: &Input<'_>) {
    let (secret, body, url) = (input.secret, input.body, input.url);
    let keys = TwilioKeys::new(&[secret]).unwrap();
    let mut slots = Vec::new();
    let found = delivery::<TwilioKeys>(&mut slots, &[input.headers[0]], body, Some(url));
    let _ = alone_and_batched(&keys, &found, input.window());
    let query = twilio::query(url);
    let hashed = reference_form(query).into_iter().any(|(n, _)| n == b"bodySHA256");
    let mut pairs = reference_form(body);
    pairs.sort();
    pairs.dedup();
    let suffix: Vec<u8> = if hashed {
        Vec::new()
    } else {
        pairs.iter().flat_map(|(n, v)| n.iter().chain(v)).copied().collect()
    };
    let reference = STANDARD.encode(hmac_sha1(secret, &[url, &suffix]));
    assert_eq!(keys.sign(body, url), reference);
    if hashed {
        return; // the URL's hash is the input's, which the body rarely matches
    }
    let mut slots = Vec::new();
    let good = delivery::<TwilioKeys>(&mut slots, &[reference.as_bytes()], body, Some(url));
    assert_eq!(alone_and_batched(&keys, &good, None), Ok(()));
    // The variant toggles the port (removed, or the default one added): a signature for the
    // URL holds for it when toggling it again gives the URL back.
    let toggles = |v: &Vec<u8>| twilio::port_variant(v).as_deref() == Some(url);
    if let Some(variant) = twilio::port_variant(url).filter(toggles) {
        let mut slots = Vec::new();
        let moved =
            delivery::<TwilioKeys>(&mut slots, &[reference.as_bytes()], body, Some(&variant));
        assert_eq!(alone_and_batched(&keys, &moved, None), Ok(()), "port variant");
    }
}

/// Linear: the hex HMAC of the body; with a window, the body's `webhookTimestamp` (ms) too.
fn linear(input: &Input<'_>) {
    let keys = LinearKeys::new(&[input.secret]).unwrap();
    let mut slots = Vec::new();
    let found = delivery::<LinearKeys>(&mut slots, &[input.headers[0]], input.body, None);
    let _ = alone_and_batched(&keys, &found, input.window());
    let reference = hex(&hmac_sha256(input.secret, &[input.body]));
    assert_eq!(keys.sign(input.body), reference);
    let mut slots = Vec::new();
    let good = delivery::<LinearKeys>(&mut slots, &[reference.as_bytes()], input.body, None);
    assert_eq!(alone_and_batched(&keys, &good, None), Ok(()));
    signed_and_tampered(&keys, &[reference.as_bytes()], input.body, input, false);
}

/// Discord: hex Ed25519 over `"{timestamp}{body}"` (the timestamp as sent).
fn discord(input: &Input<'_>) {
    use ed25519_dalek::Signer;
    let (body, [signature, timestamp, _]) = (input.body, input.headers);
    let (secret, dalek) = ed25519_pair(input.secret);
    let public = PublicKey::from_bytes(&dalek.verifying_key().to_bytes()).expect("a key");
    assert_eq!(public, secret.public());
    let keys = DiscordKeys::new(vec![public]).unwrap();
    let window = input.window();
    let mut slots = Vec::new();
    let found = delivery::<DiscordKeys>(&mut slots, &[signature, timestamp], body, None);
    let _ = alone_and_batched(&keys, &found, window);
    let reference = hex(&dalek.sign(&[timestamp, body].concat()).to_bytes());
    assert_eq!(hex(&secret.sign(&[timestamp, body].concat())), reference);
    let timely = window.is_none() || parse_strict(timestamp).is_ok_and(|t| fresh(window, t));
    if timestamp.is_empty() {
        return;
    }
    signed_and_tampered(&keys, &[reference.as_bytes(), timestamp], body, input, timely);
    let changed = tampered(body, input.flags);
    let mut slot_sets: Vec<Vec<Option<Found<'_>>>> = vec![Vec::new(); 5];
    let mut sets = slot_sets.iter_mut();
    let mut next = || sets.next().unwrap();
    let batch = [
        delivery::<DiscordKeys>(next(), &[reference.as_bytes(), timestamp], body, None),
        delivery::<DiscordKeys>(next(), &[reference.as_bytes(), timestamp], &changed, None),
        delivery::<DiscordKeys>(next(), &[signature, timestamp], body, None),
        delivery::<DiscordKeys>(next(), &[reference.as_bytes(), timestamp], body, None),
        delivery::<DiscordKeys>(next(), &[reference.as_bytes(), timestamp], body, None),
    ];
    batch_agrees(&keys, &batch, window);
}

/// Generic HMAC: the prefix (here the first header, when it is UTF-8), then the tag in hex
/// (either case) or base64 (padded or not, canonical).
fn generic(input: &Input<'_>) {
    let (secret, body, signature) = (input.secret, input.body, input.headers[1]);
    let prefix = std::str::from_utf8(input.headers[0]).unwrap_or("sha256=");
    let expected = hmac_sha256(secret, &[body]);
    for encoding in [TagEncoding::Hex, TagEncoding::Base64] {
        let key = GenericKey::new(secret, encoding, prefix);
        let signed = key.sign(body);
        assert!(key.verify(body, signed.as_bytes()));
        let encoded = match encoding {
            TagEncoding::Hex => hex(&expected),
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
    // The form parser every form-based scheme reads with.
    let parsed: Vec<(Vec<u8>, Vec<u8>)> =
        form::parse(body).into_iter().map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    assert_eq!(parsed, reference_form(body));
}
