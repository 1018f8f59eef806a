//! Ed25519 keys, signatures and batch verification (on `ed25519-dalek`), for the Standard
//! Webhooks `v1a` signatures and Discord.
//!
//! Single signatures are checked with `verify_strict` (RFC 8032's cofactorless equation, plus
//! refusing small-order `R` components and keys). A batch is checked with one random linear
//! combination of its equations, which costs about half as much per signature; when a batch
//! fails, every signature in it is checked alone, so each item gets its own exact answer. The
//! two agree on every signature made by the RFC 8032 signing algorithm; they could only differ
//! on a signature crafted by the holder of the secret key with a small-order component in `R`,
//! which proves nothing a genuine signature would not. Keys are refused at load time unless
//! they are points of the prime-order subgroup, so no key can carry such a component.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

pub const PUBLIC_KEY_LEN: usize = 32;
pub const SEED_LEN: usize = 32;
pub const KEYPAIR_LEN: usize = 64;
pub const SIGNATURE_LEN: usize = 64;

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not the length a key of this kind has.
    Length { expected: &'static str, found: usize },
    /// 32 bytes that are not the encoding of a curve point.
    NotAPoint,
    /// A point outside the prime-order subgroup (small order, or with a torsion component):
    /// signatures under it prove little, and no honest key generator makes one.
    Weak,
    /// A 64-byte secret key whose second half is not the public key of its seed.
    MismatchedPublicHalf,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Length { expected, found } => {
                write!(f, "an Ed25519 key of {found} bytes; expected {expected}")
            }
            Self::NotAPoint => write!(f, "the Ed25519 public key is not a valid curve point"),
            Self::Weak => write!(f, "the Ed25519 public key is a weak (small-order) point"),
            Self::MismatchedPublicHalf => {
                write!(f, "the second half of the 64-byte Ed25519 secret key is not its public key")
            }
        }
    }
}

/// A public key that verifies signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// The 32-byte compressed point of RFC 8032.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: &[u8; PUBLIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::Length { expected: "32", found: bytes.len() })?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAPoint)?;
        if key.is_weak() || !key.to_edwards().is_torsion_free() {
            return Err(KeyError::Weak);
        }
        Ok(Self { key })
    }

    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.key.to_bytes()
    }

    /// Whether `signature` signs `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        self.key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }
}

/// A secret key that signs (and knows its public key).
#[derive(Clone)]
pub struct SecretKey {
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// The 32-byte seed of RFC 8032, or the 64-byte seed-then-public-key form (whose public
    /// half must match the seed).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        match bytes.len() {
            SEED_LEN => {
                let seed: &[u8; SEED_LEN] = bytes.try_into().expect("length checked");
                Ok(Self { key: SigningKey::from_bytes(seed) })
            }
            KEYPAIR_LEN => {
                let (seed, public) = bytes.split_at(SEED_LEN);
                let key = Self::from_bytes(seed)?;
                if key.public().to_bytes().as_slice() != public {
                    return Err(KeyError::MismatchedPublicHalf);
                }
                Ok(key)
            }
            found => Err(KeyError::Length { expected: "32 (a seed) or 64 (seed + public)", found }),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey { key: self.key.verifying_key() }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.key.sign(message).to_bytes()
    }
}

/// A signature waiting to be verified, alone or in a batch.
#[derive(Clone, Debug)]
pub struct Pending<'k> {
    pub key: &'k PublicKey,
    pub message: Vec<u8>,
    pub signature: [u8; SIGNATURE_LEN],
}

impl Pending<'_> {
    pub fn verify(&self) -> bool {
        self.key.verify(&self.message, &self.signature)
    }
}

/// Below this many signatures a batch costs more than it saves.
pub const MIN_BATCH: usize = 4;

/// Verifies `pending` and calls `answer(i, valid)` for every item, in order. Items that are
/// `None` (nothing to verify) are skipped. The items are verified together when there are
/// enough of them; if the batch equation fails, each is verified alone.
pub fn verify_all(pending: &[Option<Pending<'_>>], mut answer: impl FnMut(usize, bool)) {
    let present: Vec<(usize, &Pending<'_>)> =
        pending.iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|p| (i, p))).collect();
    if present.len() >= MIN_BATCH && batch_holds(present.iter().map(|(_, p)| *p)) {
        for (i, _) in present {
            answer(i, true);
        }
        return;
    }
    for (i, item) in present {
        answer(i, item.verify());
    }
}

/// Whether the batch equation holds for every item (a `false` says only that one fails).
fn batch_holds<'a, 'k: 'a>(items: impl Iterator<Item = &'a Pending<'k>> + Clone) -> bool {
    let messages: Vec<&[u8]> = items.clone().map(|p| p.message.as_slice()).collect();
    let signatures: Vec<Signature> =
        items.clone().map(|p| Signature::from_bytes(&p.signature)).collect();
    let keys: Vec<VerifyingKey> = items.map(|p| p.key.key).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 section 7.1, tests 1 to 3: (seed, public key, message, signature).
    const RFC8032: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    #[test]
    fn rfc8032_vectors() {
        for (seed, public, message, signature) in RFC8032 {
            let secret = SecretKey::from_bytes(&unhex(seed)).unwrap();
            assert_eq!(secret.public().to_bytes().to_vec(), unhex(public));
            let message = unhex(message);
            let signed = secret.sign(&message);
            assert_eq!(signed.to_vec(), unhex(signature));
            let key = PublicKey::from_bytes(&unhex(public)).unwrap();
            assert!(key.verify(&message, &signed));
            let mut wrong = signed;
            wrong[0] ^= 1;
            assert!(!key.verify(&message, &wrong));
            assert!(!key.verify(b"other", &signed));
        }
    }

    #[test]
    fn keypair_form() {
        let (seed, public, _, _) = RFC8032[0];
        let pair = [unhex(seed), unhex(public)].concat();
        assert_eq!(
            SecretKey::from_bytes(&pair).unwrap().public().to_bytes().to_vec(),
            unhex(public)
        );
        let other = [unhex(seed), unhex(RFC8032[1].1)].concat();
        assert_eq!(SecretKey::from_bytes(&other).err(), Some(KeyError::MismatchedPublicHalf));
        assert!(matches!(SecretKey::from_bytes(&[1; 31]), Err(KeyError::Length { found: 31, .. })));
    }

    #[test]
    fn bad_public_keys() {
        assert!(matches!(PublicKey::from_bytes(&[0; 31]), Err(KeyError::Length { .. })));
        // The identity point (small order) and a low-order point of order 4.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        assert_eq!(PublicKey::from_bytes(&[0; 32]), Err(KeyError::Weak));
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(PublicKey::from_bytes(&off_curve), Err(KeyError::NotAPoint));
        // A genuine key plus a point of order 2 (y = -1, x = 0): mixed order.
        let genuine = VerifyingKey::from_bytes(&unhex(RFC8032[0].1).try_into().unwrap()).unwrap();
        let torsion = curve25519_dalek::edwards::CompressedEdwardsY({
            let mut minus_one = [0xffu8; 32];
            minus_one[0] = 0xec;
            minus_one[31] = 0x7f;
            minus_one
        })
        .decompress()
        .unwrap();
        let mixed = (genuine.to_edwards() + torsion).compress().to_bytes();
        assert_eq!(PublicKey::from_bytes(&mixed), Err(KeyError::Weak));
    }

    fn pending_items(count: usize) -> (Vec<SecretKey>, Vec<PublicKey>) {
        let secrets: Vec<SecretKey> =
            (0..count).map(|i| SecretKey::from_bytes(&[i as u8 + 1; 32]).unwrap()).collect();
        let publics = secrets.iter().map(SecretKey::public).collect();
        (secrets, publics)
    }

    #[test]
    fn batch_answers_each_item() {
        let (secrets, publics) = pending_items(12);
        let mut items: Vec<Option<Pending<'_>>> = secrets
            .iter()
            .zip(&publics)
            .enumerate()
            .map(|(i, (secret, key))| {
                let message = format!("message {i}").into_bytes();
                Some(Pending { key, signature: secret.sign(&message), message })
            })
            .collect();
        items[3] = None;
        let mut answers = vec![None; items.len()];
        verify_all(&items, |i, ok| answers[i] = Some(ok));
        let expected: Vec<Option<bool>> =
            (0..12).map(|i| if i == 3 { None } else { Some(true) }).collect();
        assert_eq!(answers, expected);

        // One bad signature: the batch fails and every item is answered alone.
        if let Some(item) = items[7].as_mut() {
            item.message.push(b'!');
        }
        if let Some(item) = items[10].as_mut() {
            item.signature[63] ^= 0x80; // a non-canonical s
        }
        let mut answers = vec![None; items.len()];
        verify_all(&items, |i, ok| answers[i] = Some(ok));
        let expected: Vec<Option<bool>> = (0..12)
            .map(|i| match i {
                3 => None,
                7 | 10 => Some(false),
                _ => Some(true),
            })
            .collect();
        assert_eq!(answers, expected);
    }

    #[test]
    fn small_batches_are_checked_alone() {
        let (secrets, publics) = pending_items(2);
        let items: Vec<Option<Pending<'_>>> = vec![
            Some(Pending {
                key: &publics[0],
                signature: secrets[0].sign(b"a"),
                message: b"a".to_vec(),
            }),
            Some(Pending {
                key: &publics[1],
                signature: secrets[0].sign(b"b"),
                message: b"b".to_vec(),
            }),
        ];
        let mut answers = Vec::new();
        verify_all(&items, |i, ok| answers.push((i, ok)));
        assert_eq!(answers, [(0, true), (1, false)]);
    }
}
