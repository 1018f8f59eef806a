//! A generic HMAC-SHA256 scheme for other providers: the tag of the raw body, hex or base64,
//! behind an optional literal prefix such as `sha256=`.

use crate::encoding::{base64_tag, constant_time_eq, decode_base64, decode_hex_tag, hex_lower};
use crate::mac::{MacKey, TAG_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagEncoding {
    Hex,
    Base64,
}

impl TagEncoding {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
        }
    }
}

#[derive(Clone)]
pub struct GenericKey {
    key: MacKey,
    encoding: TagEncoding,
    prefix: String,
}

impl GenericKey {
    pub fn new(secret: &[u8], encoding: TagEncoding, prefix: &str) -> Self {
        Self { key: MacKey::new(secret), encoding, prefix: prefix.to_owned() }
    }

    pub fn encoding(&self) -> TagEncoding {
        self.encoding
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn sign(&self, body: &[u8]) -> String {
        let tag = self.key.tag(&[body]);
        let encoded = match self.encoding {
            TagEncoding::Hex => String::from_utf8_lossy(&hex_lower(&tag)).into_owned(),
            TagEncoding::Base64 => String::from_utf8_lossy(&base64_tag(&tag)).into_owned(),
        };
        format!("{}{encoded}", self.prefix)
    }

    /// Accepts the prefix followed by the tag: hex in either case, or base64 with or without
    /// padding. The decoded tag is compared in constant time.
    pub fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        let Some(encoded) = signature.strip_prefix(self.prefix.as_bytes()) else {
            return false;
        };
        let given = match self.encoding {
            TagEncoding::Hex => decode_hex_tag(encoded).map(|tag| tag.to_vec()),
            TagEncoding::Base64 => decode_base64(encoded),
        };
        match given {
            Some(given) if given.len() == TAG_LEN => {
                constant_time_eq(&self.key.tag(&[body]), &given)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_prefix() {
        let key = GenericKey::new(b"key", TagEncoding::Hex, "sha256=");
        let sig = key.sign(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(sig, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
        assert!(key.verify(b"The quick brown fox jumps over the lazy dog", sig.as_bytes()));
        assert!(key.verify(
            b"The quick brown fox jumps over the lazy dog",
            sig.to_ascii_uppercase().replace("SHA256=", "sha256=").as_bytes()
        ));
        assert!(!key.verify(b"The quick brown fox", sig.as_bytes()));
        assert!(!key.verify(b"The quick brown fox jumps over the lazy dog", &sig.as_bytes()[7..]));
    }

    #[test]
    fn base64_with_and_without_padding() {
        let key = GenericKey::new(b"k", TagEncoding::Base64, "");
        let sig = key.sign(b"body");
        assert!(sig.ends_with('='));
        assert!(key.verify(b"body", sig.as_bytes()));
        assert!(key.verify(b"body", sig.trim_end_matches('=').as_bytes()));
        assert!(!key.verify(b"body", b"not base64!"));
        assert!(!key.verify(b"body", b"aGk="));
    }

    #[test]
    fn encoding_names() {
        assert_eq!(TagEncoding::parse("hex"), Some(TagEncoding::Hex));
        assert_eq!(TagEncoding::parse("base64"), Some(TagEncoding::Base64));
        assert_eq!(TagEncoding::parse("HEX"), None);
        for encoding in [TagEncoding::Hex, TagEncoding::Base64] {
            assert_eq!(TagEncoding::parse(encoding.name()), Some(encoding));
        }
    }
}
