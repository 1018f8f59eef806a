//! The schemes that sign the body alone with HMAC-SHA256, in one header: GitHub and Meta
//! (`X-Hub-Signature-256: sha256=<hex>`) and Shopify (`X-Shopify-Hmac-Sha256: <base64>`).
//! Linear signs the same way and adds a timestamp inside the body (see `linear`).

use std::marker::PhantomData;

use crate::generic::{GenericKey, TagEncoding};
use crate::scheme::{Delivery, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::Window;

use super::{any_of, at_least_one};

/// Which header, prefix and encoding a body-signing provider uses.
pub trait BodySignature: Sync + Send {
    const SLOTS: &'static [Slot];
    const PREFIX: &'static str;
    const ENCODING: TagEncoding;
}

/// `X-Hub-Signature-256: sha256=<hex>` (GitHub, and Meta's WhatsApp Cloud API).
pub struct Hub;

impl BodySignature for Hub {
    const SLOTS: &'static [Slot] = &[&["x-hub-signature-256"]];
    const PREFIX: &'static str = "sha256=";
    const ENCODING: TagEncoding = TagEncoding::Hex;
}

/// `X-Shopify-Hmac-Sha256: <base64>`.
pub struct Shopify;

impl BodySignature for Shopify {
    const SLOTS: &'static [Slot] = &[&["x-shopify-hmac-sha256"]];
    const PREFIX: &'static str = "";
    const ENCODING: TagEncoding = TagEncoding::Base64;
}

/// A body-signing scheme over one or more secrets.
pub struct BodyKeys<P> {
    keys: Vec<GenericKey>,
    provider: PhantomData<P>,
}

impl<P: BodySignature> BodyKeys<P> {
    pub fn new(secrets: &[&[u8]]) -> Option<Self> {
        let keys = secrets.iter().map(|s| GenericKey::new(s, P::ENCODING, P::PREFIX)).collect();
        at_least_one(keys).map(|keys| Self { keys, provider: PhantomData })
    }

    /// The header value, with the first secret (the header holds one signature).
    pub fn sign(&self, body: &[u8]) -> String {
        self.keys[0].sign(body)
    }

    /// Whether `signature` is the prefixed tag of `body` under any of the secrets.
    pub fn matches(&self, body: &[u8], signature: &[u8]) -> Result<(), Rejection> {
        any_of(self.keys.iter().map(|key| key.verify(body, signature)))
    }
}

impl<P: BodySignature> Scheme for BodyKeys<P> {
    const HEADERS: &'static [Slot] = P::SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        _window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(P::SLOTS, 0)?.value;
        self.matches(delivery.body, signature).map(|()| Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Found;

    fn check<P: BodySignature>(
        keys: &BodyKeys<P>,
        body: &[u8],
        signature: &[u8],
    ) -> Result<(), Rejection> {
        let found = [Some(Found { name: P::SLOTS[0][0], value: signature })];
        keys.verify(&Delivery { body, headers: &found, url: None }, None)
    }

    /// The example of GitHub's "Validating webhook deliveries" page.
    #[test]
    fn github_documented_example() {
        let keys = BodyKeys::<Hub>::new(&[b"It's a Secret to Everybody"]).unwrap();
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(keys.sign(b"Hello, World!"), expected);
        assert_eq!(check(&keys, b"Hello, World!", expected.as_bytes()), Ok(()));
        assert_eq!(
            check(&keys, b"Hello, World?", expected.as_bytes()),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check(&keys, b"Hello, World!", &expected.as_bytes()[7..]),
            Err(Rejection::NoMatchingSignature)
        );
        let found: [Option<Found<'_>>; 1] = [None];
        assert_eq!(
            keys.verify(&Delivery { body: b"", headers: &found, url: None }, None),
            Err(Rejection::MissingHeader("x-hub-signature-256"))
        );
    }

    #[test]
    fn shopify_base64_and_rotation() {
        let keys = BodyKeys::<Shopify>::new(&[b"old", b"new"]).unwrap();
        let old_only = BodyKeys::<Shopify>::new(&[b"old"]).unwrap();
        let new_only = BodyKeys::<Shopify>::new(&[b"new"]).unwrap();
        let body = br#"{"id":1}"#;
        assert_eq!(keys.sign(body), old_only.sign(body));
        assert_eq!(check(&keys, body, new_only.sign(body).as_bytes()), Ok(()));
        assert_eq!(check(&keys, body, old_only.sign(body).as_bytes()), Ok(()));
        assert_eq!(
            check(&new_only, body, old_only.sign(body).as_bytes()),
            Err(Rejection::NoMatchingSignature)
        );
        assert!(BodyKeys::<Shopify>::new(&[]).is_none());
    }
}
