//! The HMAC-SHA256 kernel shared by every webhook scheme.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of an HMAC-SHA256 tag in bytes.
pub const TAG_LEN: usize = 32;

pub type Tag = [u8; TAG_LEN];

/// A pre-keyed HMAC-SHA256 state.
///
/// Keying costs two compression-function calls (the inner and outer pads); holding the keyed
/// state and cloning it per message saves that work on every verification.
#[derive(Clone)]
pub struct MacKey {
    keyed: Hmac<Sha256>,
}

impl MacKey {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length (long keys are hashed first), so this cannot fail.
        let keyed = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
        Self { keyed }
    }

    /// The tag of the concatenation of `parts`, without building the concatenation.
    pub fn tag(&self, parts: &[&[u8]]) -> Tag {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc4231_case_2() {
        let key = MacKey::new(b"Jefe");
        assert_eq!(
            hex(&key.tag(&[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rfc4231_case_6_long_key() {
        let key = MacKey::new(&[0xaa; 131]);
        assert_eq!(
            hex(&key.tag(&[b"Test Using Larger Than Block-Size Key - Hash Key First"])),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn parts_equal_whole() {
        let key = MacKey::new(b"k");
        assert_eq!(key.tag(&[b"ab", b"", b"cd"]), key.tag(&[b"abcd"]));
    }
}
