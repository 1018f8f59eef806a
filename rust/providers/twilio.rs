//! Twilio: `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed by the auth token, of the full
//! request URL followed by the form parameters sorted by name (then by value; a repeated
//! identical pair counts once), each written as its name then its value with no separator.
//!
//! A JSON body carries no parameters: its URL has a `bodySHA256` query parameter, the hex
//! SHA-256 of the body, which is checked, and the URL alone is signed. The URL is tried as
//! given and with its port removed (when it has one) or added (443 for `https`, 80 otherwise),
//! as Twilio's own library does, because Twilio's signing is not consistent about ports.

use sha2::{Digest, Sha256};

use crate::encoding::{constant_time_eq, decode_base64, decode_hex};
use crate::form;
use crate::mac::{Sha1Key, SHA1_TAG_LEN};
use crate::scheme::{Delivery, Rejection, Scheme, Slot, Verdict};
use crate::timestamp::Window;

use super::{any_of, at_least_one};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
pub const BODY_HASH_PARAMETER: &str = "bodySHA256";
const SLOTS: &[Slot] = &[&[SIGNATURE_HEADER]];

pub struct TwilioKeys {
    keys: Vec<Sha1Key>,
}

/// The query of a URL: after the first `?`, up to a `#`.
pub fn query(url: &[u8]) -> &[u8] {
    let Some(start) = url.iter().position(|&b| b == b'?') else {
        return b"";
    };
    let rest = &url[start + 1..];
    let end = rest.iter().position(|&b| b == b'#').unwrap_or(rest.len());
    &rest[..end]
}

/// The URL with its port removed, or with the scheme's default port added; `None` when it has
/// no `scheme://authority` to change.
pub fn port_variant(url: &[u8]) -> Option<Vec<u8>> {
    let scheme_end = url.windows(3).position(|w| w == b"://")?;
    // RFC 3986's scheme, from the start: a `://` inside a relative URL's path or query
    // (`/hook?next=https://a.com:8443/`) is no authority of this URL.
    let scheme = &url[..scheme_end];
    let is_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !is_scheme {
        return None;
    }
    let start = scheme_end + 3;
    let authority_len = url[start..]
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(url.len() - start);
    let end = start + authority_len;
    let authority = &url[start..end];
    // The host starts after any user info; an IPv6 literal's colons are inside brackets.
    let host_start = authority.iter().rposition(|&b| b == b'@').map_or(0, |at| at + 1);
    let host = &authority[host_start..];
    let port_colon = host.iter().rposition(|&b| b == b':').filter(|&colon| {
        !host[colon..].contains(&b']') && host[colon + 1..].iter().all(u8::is_ascii_digit)
    });
    let mut variant = Vec::with_capacity(url.len() + 4);
    match port_colon {
        Some(colon) if colon + 1 < host.len() => {
            variant.extend_from_slice(&url[..start + host_start + colon]);
        }
        Some(_) => return None, // an empty port: leave the URL alone
        None => {
            let https = url[..scheme_end].eq_ignore_ascii_case(b"https");
            variant.extend_from_slice(&url[..end]);
            variant.extend_from_slice(if https { b":443" } else { b":80" });
        }
    }
    variant.extend_from_slice(&url[end..]);
    Some(variant)
}

/// The form parameters of `body`, sorted and written as the signature reads them.
pub fn parameters(body: &[u8]) -> Vec<u8> {
    let mut pairs = form::parse(body);
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = Vec::with_capacity(body.len());
    for (name, value) in pairs {
        out.extend_from_slice(&name);
        out.extend_from_slice(&value);
    }
    out
}

/// What follows the URL in the signed string, and the body hash the URL asks for, if any.
fn signed_suffix(url: &[u8], body: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    match form::first(query(url), BODY_HASH_PARAMETER.as_bytes()) {
        Some(hash) => (Vec::new(), Some(hash.into_owned())),
        None => (parameters(body), None),
    }
}

impl TwilioKeys {
    pub fn new(tokens: &[&[u8]]) -> Option<Self> {
        at_least_one(tokens.iter().map(|t| Sha1Key::new(t)).collect()).map(|keys| Self { keys })
    }

    /// The `X-Twilio-Signature` value for a request to `url` (as given) with this body, with
    /// the first token. For a JSON body, put `bodySHA256=<hex SHA-256 of the body>` in the URL.
    pub fn sign(&self, body: &[u8], url: &[u8]) -> String {
        let (suffix, _) = signed_suffix(url, body);
        crate::encoding::base64_string(&self.keys[0].tag(&[url, &suffix]))
    }
}

impl Scheme for TwilioKeys {
    const HEADERS: &'static [Slot] = SLOTS;

    fn check(
        &self,
        delivery: &Delivery<'_>,
        _window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection> {
        let signature = delivery.header(SLOTS, 0)?.value;
        let url = delivery.url.ok_or(Rejection::MissingUrl)?;
        let given: [u8; SHA1_TAG_LEN] = decode_base64(signature)
            .and_then(|tag| tag.try_into().ok())
            .ok_or(Rejection::NoMatchingSignature)?;
        let (suffix, body_hash) = signed_suffix(url, delivery.body);
        let variant = port_variant(url);
        let urls = std::iter::once(url).chain(variant.as_deref());
        any_of(urls.flat_map(|url| {
            let suffix = &suffix;
            self.keys.iter().map(move |key| constant_time_eq(&key.tag(&[url, suffix]), &given))
        }))?;
        if let Some(expected) = body_hash {
            let actual: [u8; 32] = Sha256::digest(delivery.body).into();
            let matches =
                decode_hex::<32>(&expected).is_some_and(|e| constant_time_eq(&e, &actual));
            if !matches {
                return Err(Rejection::BodyHashMismatch);
            }
        }
        Ok(Verdict::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex_string;
    use crate::scheme::Found;

    /// The example of Twilio's webhook security page.
    const TOKEN: &[u8] = b"12345";
    const URL: &[u8] = b"https://mycompany.com/myapp.php?foo=1&bar=2";
    const BODY: &[u8] = b"To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&From=%2B12349013030&Caller=%2B12349013030";
    const SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    fn check(
        keys: &TwilioKeys,
        body: &[u8],
        url: Option<&[u8]>,
        signature: &str,
    ) -> Result<(), Rejection> {
        let found = [Some(Found { name: SIGNATURE_HEADER, value: signature.as_bytes() })];
        keys.verify(&Delivery { body, headers: &found, url }, None)
    }

    #[test]
    fn documented_example() {
        let keys = TwilioKeys::new(&[TOKEN]).unwrap();
        assert_eq!(keys.sign(BODY, URL), SIGNATURE);
        assert_eq!(check(&keys, BODY, Some(URL), SIGNATURE), Ok(()));
        // With the port the example's URL would have had: still accepted.
        assert_eq!(
            check(&keys, BODY, Some(b"https://mycompany.com:443/myapp.php?foo=1&bar=2"), SIGNATURE),
            Ok(())
        );
        assert_eq!(
            check(&keys, b"CallSid=CA1234567890ABCDE", Some(URL), SIGNATURE),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            check(&keys, BODY, Some(b"https://mycompany.com/myapp.php?foo=1"), SIGNATURE),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(check(&keys, BODY, None, SIGNATURE), Err(Rejection::MissingUrl));
        assert_eq!(
            check(&keys, BODY, Some(URL), "not base64!"),
            Err(Rejection::NoMatchingSignature)
        );
        let rotated = TwilioKeys::new(&[b"new token", TOKEN]).unwrap();
        assert_eq!(check(&rotated, BODY, Some(URL), SIGNATURE), Ok(()));
    }

    #[test]
    fn json_body_hash() {
        let keys = TwilioKeys::new(&[TOKEN]).unwrap();
        let body = br#"{"event":"x"}"#;
        let hash = hex_string(&Sha256::digest(body));
        let url = format!("https://example.com/hook?bodySHA256={hash}");
        let signature = keys.sign(body, url.as_bytes());
        assert_eq!(
            signature,
            crate::encoding::base64_string(&Sha1Key::new(TOKEN).tag(&[url.as_bytes()]))
        );
        assert_eq!(check(&keys, body, Some(url.as_bytes()), &signature), Ok(()));
        assert_eq!(
            check(&keys, br#"{"event":"y"}"#, Some(url.as_bytes()), &signature),
            Err(Rejection::BodyHashMismatch)
        );
        let upper = url.replace(&hash, &hash.to_uppercase());
        let upper_signature = keys.sign(body, upper.as_bytes());
        assert_eq!(check(&keys, body, Some(upper.as_bytes()), &upper_signature), Ok(()));
    }

    #[test]
    fn parameters_are_sorted_and_repeats_counted_once() {
        assert_eq!(parameters(b"b=2&a=1&a=0&b=2&c"), b"a0a1b2c");
        assert_eq!(parameters(b"Body=Hi+there%21&From=%2B1"), b"BodyHi there!From+1");
        assert_eq!(parameters(b""), b"");
    }

    #[test]
    fn port_variants() {
        let variant =
            |url: &str| port_variant(url.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(variant("https://a.com/x?y=1").as_deref(), Some("https://a.com:443/x?y=1"));
        assert_eq!(variant("http://a.com").as_deref(), Some("http://a.com:80"));
        assert_eq!(variant("HTTPS://a.com?q").as_deref(), Some("HTTPS://a.com:443?q"));
        assert_eq!(variant("https://a.com:8443/x").as_deref(), Some("https://a.com/x"));
        assert_eq!(variant("https://u:p@a.com:8443/x").as_deref(), Some("https://u:p@a.com/x"));
        assert_eq!(variant("https://u:p@a.com/x").as_deref(), Some("https://u:p@a.com:443/x"));
        assert_eq!(variant("https://[::1]:8443/x").as_deref(), Some("https://[::1]/x"));
        assert_eq!(variant("https://[::1]/x").as_deref(), Some("https://[::1]:443/x"));
        assert_eq!(variant("https://a.com:/x"), None);
        assert_eq!(variant("no scheme"), None);
        // Found by fuzzing: a `://` after the start is not this URL's scheme (it was read as
        // one, and the port of a URL in the query was toggled).
        assert_eq!(variant("/hook?next=https://a.com:8443/x"), None);
        assert_eq!(variant("://a.com:8443/x"), None);
        assert_eq!(variant("1http://a.com/x"), None);
        assert_eq!(variant("svn+ssh://a.com:22/x").as_deref(), Some("svn+ssh://a.com/x"));
    }

    #[test]
    fn query_part() {
        assert_eq!(query(b"https://a/b?x=1#frag"), b"x=1");
        assert_eq!(query(b"https://a/b"), b"");
    }
}
