//! Providers' own webhook schemes, each a [`Scheme`](crate::scheme::Scheme) over several keys
//! (for rotation: a signature made with any of them passes).
//!
//! | provider | header(s) | signed | tag |
//! | --- | --- | --- | --- |
//! | Stripe | `Stripe-Signature: t=..,v1=..` | `"{t}.{body}"` | hex HMAC-SHA256 |
//! | GitHub, Meta | `X-Hub-Signature-256: sha256=..` | body | hex HMAC-SHA256 |
//! | Shopify | `X-Shopify-Hmac-Sha256` | body | base64 HMAC-SHA256 |
//! | Slack | `X-Slack-Signature: v0=..`, `X-Slack-Request-Timestamp` | `"v0:{ts}:{body}"` | hex HMAC-SHA256 |
//! | Twilio | `X-Twilio-Signature` | URL + sorted form parameters | base64 HMAC-SHA1 |
//! | Linear | `Linear-Signature` | body (`webhookTimestamp` inside, in ms) | hex HMAC-SHA256 |
//! | Discord | `X-Signature-Ed25519`, `X-Signature-Timestamp` | `"{ts}{body}"` | hex Ed25519 |

pub mod body;
pub mod discord;
pub mod linear;
pub mod meta;
pub mod slack;
pub mod stripe;
pub mod twilio;

use crate::scheme::Rejection;

/// The keys of a scheme: at least one.
pub fn at_least_one<K>(keys: Vec<K>) -> Option<Vec<K>> {
    (!keys.is_empty()).then_some(keys)
}

/// Folds every comparison into one answer without stopping at the first match, so the time
/// does not tell which key or which listed signature matched.
pub fn any_of(results: impl Iterator<Item = bool>) -> Result<(), Rejection> {
    crate::scheme::matched(results.fold(false, |found, this| found | this))
}
