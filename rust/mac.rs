//! The HMAC-SHA256 kernel shared by every webhook scheme.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::encoding::{constant_time_eq, hex_lower, HEX_LEN};

/// Length of an HMAC-SHA256 tag in bytes.
pub const TAG_LEN: usize = 32;

pub type Tag = [u8; TAG_LEN];

/// SHA-256's block length, which is also the length HMAC pads its key to.
#[cfg(target_arch = "x86_64")]
const BLOCK_LEN: usize = 64;

/// A pre-keyed HMAC-SHA256 state.
///
/// Keying costs two compression-function calls (the inner and outer pads); holding the keyed
/// state and cloning it per message saves that work on every verification.
///
/// On x86-64 CPUs with the SHA extensions, a one-part message goes through the `shani`
/// kernel below instead: the keyed pads are held in the extensions' register layout and the
/// whole HMAC (message blocks, padding, outer block, and for [`MacKey::verify_hex`] the hex
/// comparison) runs in one call with the state in registers. A 1 KiB body then costs its 18
/// compressions and nearly nothing else, where `Hmac<Sha256>`'s framing (buffer copies,
/// generic finalisation, a hex round trip through memory) added about a fifth.
#[derive(Clone)]
pub struct MacKey {
    keyed: Hmac<Sha256>,
    #[cfg(target_arch = "x86_64")]
    shani: Option<shani::Pads>,
}

impl MacKey {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length (long keys are hashed first), so this cannot fail.
        let keyed = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
        Self {
            keyed,
            #[cfg(target_arch = "x86_64")]
            shani: shani::Pads::new(&key_block(secret)),
        }
    }

    /// The tag of the concatenation of `parts`, without building the concatenation.
    pub fn tag(&self, parts: &[&[u8]]) -> Tag {
        match parts {
            [message] => self.tag_one(message),
            _ => {
                #[cfg(target_arch = "x86_64")]
                if let Some(pads) = &self.shani {
                    return pads.tag_parts(parts);
                }
                self.tag_portable(parts)
            }
        }
    }

    /// The tag of one message.
    pub fn tag_one(&self, message: &[u8]) -> Tag {
        #[cfg(target_arch = "x86_64")]
        if let Some(pads) = &self.shani {
            return pads.tag(message);
        }
        self.tag_portable(&[message])
    }

    /// Whether `expected` is the lowercase hex of the tag of `message`, byte for byte. The
    /// comparison takes the same time wherever (and whether) the two differ.
    pub fn verify_hex(&self, message: &[u8], expected: &[u8; HEX_LEN]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(pads) = &self.shani {
            return pads.verify_hex(message, expected);
        }
        constant_time_eq(&hex_lower(&self.tag_portable(&[message])), expected)
    }

    /// [`MacKey::verify_hex`] for the concatenation of `parts`.
    pub fn verify_hex_parts(&self, parts: &[&[u8]], expected: &[u8; HEX_LEN]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(pads) = &self.shani {
            return pads.verify_hex_parts(parts, expected);
        }
        constant_time_eq(&hex_lower(&self.tag_portable(parts)), expected)
    }

    fn tag_portable(&self, parts: &[&[u8]]) -> Tag {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Length of an HMAC-SHA1 tag in bytes.
pub const SHA1_TAG_LEN: usize = 20;

/// A pre-keyed HMAC-SHA1 state, for the one scheme that still signs with SHA-1 (Twilio).
///
/// The generic `hmac` construction over the `sha1` crate (which uses the SHA extensions where
/// the CPU has them); SHA-1 sees too little traffic here to earn a kernel of its own.
#[derive(Clone)]
pub struct Sha1Key {
    keyed: Hmac<Sha1>,
}

impl Sha1Key {
    pub fn new(secret: &[u8]) -> Self {
        Self { keyed: Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts any key length") }
    }

    /// The tag of the concatenation of `parts`.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; SHA1_TAG_LEN] {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// The key as HMAC uses it: hashed first when longer than a block, then zero-padded to a block.
#[cfg(target_arch = "x86_64")]
fn key_block(secret: &[u8]) -> [u8; BLOCK_LEN] {
    use sha2::Digest;

    let mut block = [0u8; BLOCK_LEN];
    if secret.len() > BLOCK_LEN {
        block[..TAG_LEN].copy_from_slice(&Sha256::digest(secret));
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    block
}

/// HMAC-SHA256 on the x86 SHA extensions.
///
/// The compression is the standard SHA-NI sequence (the one the `sha2` crate and OpenSSL use);
/// its 32 dependent `sha256rnds2` a block are the floor. What this adds over `Hmac<Sha256>` is
/// the framing: the chaining state stays in two registers from the first message block to the
/// outer block, the message's whole blocks are read in place, the padding block is built in
/// registers (or on the stack, before the whole blocks, when part of the message is in it),
/// and the inner digest becomes the outer block's message words without a trip through memory.
#[cfg(target_arch = "x86_64")]
mod shani {
    use core::arch::x86_64::*;

    use super::{Tag, BLOCK_LEN, HEX_LEN, TAG_LEN};

    /// The features every function below is compiled for; [`Pads::new`] checks them.
    macro_rules! detected {
        () => {
            std::is_x86_feature_detected!("sha")
                && std::is_x86_feature_detected!("sse2")
                && std::is_x86_feature_detected!("ssse3")
                && std::is_x86_feature_detected!("sse4.1")
        };
    }

    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];

    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// A chaining state in the lane order of `sha256rnds2`: (A, B, E, F) and (C, D, G, H).
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    /// The states after the inner (`ipad`) and outer (`opad`) key blocks.
    ///
    /// Only [`Pads::new`] makes one, and only on a CPU with the features the kernel needs,
    /// so holding a `Pads` is the proof that calling the kernel is sound.
    #[derive(Clone, Copy)]
    pub struct Pads {
        inner: State,
        outer: State,
    }

    impl Pads {
        /// The pads of a key block (see `key_block`), or `None` without the SHA extensions.
        pub fn new(key: &[u8; BLOCK_LEN]) -> Option<Self> {
            if !detected!() {
                return None;
            }
            // SAFETY: the CPU has every feature the kernel is compiled for.
            Some(unsafe { pads(key) })
        }

        pub fn tag(&self, message: &[u8]) -> Tag {
            // SAFETY: a `Pads` exists only where `new` found the features.
            store(unsafe { hmac(self, message) })
        }

        pub fn tag_parts(&self, parts: &[&[u8]]) -> Tag {
            // SAFETY: as in `tag`.
            store(unsafe { hmac_parts(self, parts) })
        }

        pub fn verify_hex(&self, message: &[u8], expected: &[u8; HEX_LEN]) -> bool {
            // SAFETY: as in `tag`.
            unsafe { verify_hex(self, message, expected) }
        }

        pub fn verify_hex_parts(&self, parts: &[&[u8]], expected: &[u8; HEX_LEN]) -> bool {
            // SAFETY: as in `tag`.
            unsafe { verify_hex_parts(self, parts, expected) }
        }
    }

    /// The tag's two registers as bytes.
    fn store([abcd, efgh]: [__m128i; 2]) -> Tag {
        let mut tag = [0u8; TAG_LEN];
        // SAFETY: SSE2 is part of the x86-64 baseline; `tag` has room for both 16-byte stores.
        unsafe {
            _mm_storeu_si128(tag.as_mut_ptr().cast(), abcd);
            _mm_storeu_si128(tag.as_mut_ptr().add(16).cast(), efgh);
        }
        tag
    }

    /// Reverses the bytes of each 32-bit lane: SHA-256 words are big-endian.
    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn byte_swap_mask() -> __m128i {
        _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203)
    }

    /// The 16 message words of the block at `block` (64 readable bytes), four to a register.
    #[inline]
    #[target_feature(enable = "sse2,ssse3")]
    unsafe fn load_block(block: *const u8) -> [__m128i; 4] {
        let mask = byte_swap_mask();
        let at = |i: usize| block.add(16 * i).cast::<__m128i>();
        [
            _mm_shuffle_epi8(_mm_loadu_si128(at(0)), mask),
            _mm_shuffle_epi8(_mm_loadu_si128(at(1)), mask),
            _mm_shuffle_epi8(_mm_loadu_si128(at(2)), mask),
            _mm_shuffle_epi8(_mm_loadu_si128(at(3)), mask),
        ]
    }

    /// A state from its eight words in the standard order (a..h).
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    unsafe fn from_words(words: &[u32; 8]) -> State {
        let dcba = _mm_loadu_si128(words.as_ptr().cast());
        let hgfe = _mm_loadu_si128(words.as_ptr().add(4).cast());
        let cdab = _mm_shuffle_epi32(dcba, 0xb1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1b);
        State { abef: _mm_alignr_epi8(cdab, efgh, 8), cdgh: _mm_blend_epi16(efgh, cdab, 0xf0) }
    }

    /// The state's words in the standard order, a..d and e..h, lane 0 first.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    unsafe fn to_words(state: State) -> [__m128i; 2] {
        let feba = _mm_shuffle_epi32(state.abef, 0x1b);
        let dchg = _mm_shuffle_epi32(state.cdgh, 0xb1);
        [_mm_blend_epi16(feba, dchg, 0xf0), _mm_alignr_epi8(dchg, feba, 8)]
    }

    /// Four rounds on message words `w` (already scheduled), round constants from `4 * i`.
    #[inline]
    #[target_feature(enable = "sha,sse2")]
    unsafe fn rounds4(state: &mut State, w: __m128i, i: usize) {
        let wk = _mm_add_epi32(w, _mm_loadu_si128(K.as_ptr().add(4 * i).cast()));
        state.cdgh = _mm_sha256rnds2_epu32(state.cdgh, state.abef, wk);
        state.abef = _mm_sha256rnds2_epu32(state.abef, state.cdgh, _mm_shuffle_epi32(wk, 0x0e));
    }

    /// The next four message words from the previous sixteen (oldest first).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3")]
    unsafe fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
        let sum = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
        _mm_sha256msg2_epu32(sum, w3)
    }

    /// One compression of the block whose words are `w`.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3")]
    unsafe fn compress(start: State, w: [__m128i; 4]) -> State {
        let mut s = start;
        let [mut w0, mut w1, mut w2, mut w3] = w;
        rounds4(&mut s, w0, 0);
        rounds4(&mut s, w1, 1);
        rounds4(&mut s, w2, 2);
        rounds4(&mut s, w3, 3);
        macro_rules! scheduled {
            ($i:expr, $new:ident, $a:ident, $b:ident, $c:ident) => {
                $new = schedule($new, $a, $b, $c);
                rounds4(&mut s, $new, $i);
            };
        }
        scheduled!(4, w0, w1, w2, w3);
        scheduled!(5, w1, w2, w3, w0);
        scheduled!(6, w2, w3, w0, w1);
        scheduled!(7, w3, w0, w1, w2);
        scheduled!(8, w0, w1, w2, w3);
        scheduled!(9, w1, w2, w3, w0);
        scheduled!(10, w2, w3, w0, w1);
        scheduled!(11, w3, w0, w1, w2);
        scheduled!(12, w0, w1, w2, w3);
        scheduled!(13, w1, w2, w3, w0);
        scheduled!(14, w2, w3, w0, w1);
        scheduled!(15, w3, w0, w1, w2);
        State { abef: _mm_add_epi32(s.abef, start.abef), cdgh: _mm_add_epi32(s.cdgh, start.cdgh) }
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn pads(key: &[u8; BLOCK_LEN]) -> Pads {
        let iv = from_words(&IV);
        let ipad = key.map(|b| b ^ 0x36);
        let opad = key.map(|b| b ^ 0x5c);
        Pads {
            inner: compress(iv, load_block(ipad.as_ptr())),
            outer: compress(iv, load_block(opad.as_ptr())),
        }
    }

    /// The tag of `message`, its 32 bytes in order in two registers.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn hmac(pads: &Pads, message: &[u8]) -> [__m128i; 2] {
        // Inner hash: the ipad block is already absorbed; the message's whole blocks are read
        // in place, then the padding: the rest of the message, 0x80, zeros and the bit length
        // of ipad block + message (big-endian), in one block or in two when fewer than 9 bytes
        // are left after the rest.
        let whole = message.len() / BLOCK_LEN * BLOCK_LEN;
        let (blocks, rest) = message.split_at(whole);
        let bits = (message.len() as u64).wrapping_add(BLOCK_LEN as u64).wrapping_mul(8);
        let mut state = pads.inner;
        if rest.is_empty() {
            // The padding is all constant but the length: built in registers. (Sizes that are
            // whole blocks, 1 KiB say, are common.)
            for block in blocks.chunks_exact(BLOCK_LEN) {
                state = compress(state, load_block(block.as_ptr()));
            }
            let end = _mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32);
            let length = _mm_set_epi32(bits as u32 as i32, (bits >> 32) as u32 as i32, 0, 0);
            let zero = _mm_setzero_si128();
            state = compress(state, [end, zero, zero, length]);
        } else {
            // Built in memory before the whole blocks are hashed, so the stores have reached
            // the cache by the time the padding block is loaded.
            let mut tail = [0u8; 2 * BLOCK_LEN];
            tail[..rest.len()].copy_from_slice(rest);
            tail[rest.len()] = 0x80;
            let tail_len = if rest.len() < BLOCK_LEN - 8 { BLOCK_LEN } else { 2 * BLOCK_LEN };
            tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
            for block in blocks.chunks_exact(BLOCK_LEN) {
                state = compress(state, load_block(block.as_ptr()));
            }
            for block in tail[..tail_len].chunks_exact(BLOCK_LEN) {
                state = compress(state, load_block(block.as_ptr()));
            }
        }

        finish(pads, state)
    }

    /// The tag of the concatenation of `parts`, read in place where they hold whole blocks:
    /// a block that straddles parts is gathered on the stack, so a short prefix (an id, a
    /// timestamp) before a long body costs one copied block, not a copy of the body.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn hmac_parts(pads: &Pads, parts: &[&[u8]]) -> [__m128i; 2] {
        let mut state = pads.inner;
        let mut buffer = [0u8; 2 * BLOCK_LEN];
        let mut filled = 0;
        let mut length = BLOCK_LEN as u64;
        for part in parts {
            let mut data = *part;
            length = length.wrapping_add(data.len() as u64);
            if filled > 0 {
                let take = (BLOCK_LEN - filled).min(data.len());
                buffer[filled..filled + take].copy_from_slice(&data[..take]);
                filled += take;
                data = &data[take..];
                if filled < BLOCK_LEN {
                    continue;
                }
                // A full buffer: `filled` is set afresh from this part's rest below.
                state = compress(state, load_block(buffer.as_ptr()));
            }
            let whole = data.len() / BLOCK_LEN * BLOCK_LEN;
            for block in data[..whole].chunks_exact(BLOCK_LEN) {
                state = compress(state, load_block(block.as_ptr()));
            }
            let rest = &data[whole..];
            buffer[..rest.len()].copy_from_slice(rest);
            filled = rest.len();
        }
        // Padding: 0x80, zeros, and the bit length of ipad block + message, in one block or
        // two when fewer than 9 bytes are left after the rest.
        let tail_len = if filled < BLOCK_LEN - 8 { BLOCK_LEN } else { 2 * BLOCK_LEN };
        buffer[filled] = 0x80;
        buffer[filled + 1..tail_len - 8].fill(0);
        buffer[tail_len - 8..tail_len].copy_from_slice(&length.wrapping_mul(8).to_be_bytes());
        for block in buffer[..tail_len].chunks_exact(BLOCK_LEN) {
            state = compress(state, load_block(block.as_ptr()));
        }
        finish(pads, state)
    }

    /// The outer hash over the inner state: one block, the inner digest then its padding
    /// (0x80, zeros, and the bit length of opad block + digest), built in registers.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn finish(pads: &Pads, state: State) -> [__m128i; 2] {
        let [abcd, efgh] = to_words(state);
        let end = _mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32);
        let length = _mm_set_epi32(((BLOCK_LEN + TAG_LEN) * 8) as i32, 0, 0, 0);
        let [abcd, efgh] = to_words(compress(pads.outer, [abcd, efgh, end, length]));

        let mask = byte_swap_mask();
        [_mm_shuffle_epi8(abcd, mask), _mm_shuffle_epi8(efgh, mask)]
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn verify_hex(pads: &Pads, message: &[u8], expected: &[u8; HEX_LEN]) -> bool {
        hex_equals(hmac(pads, message), expected)
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn verify_hex_parts(pads: &Pads, parts: &[&[u8]], expected: &[u8; HEX_LEN]) -> bool {
        hex_equals(hmac_parts(pads, parts), expected)
    }

    /// The tag compared with `expected` as lowercase hex without leaving the registers: each
    /// half of the tag is split into nibbles (high first) and mapped to digits by a table in a
    /// register, the differences are OR-ed together and tested once at the end.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    unsafe fn hex_equals(tag: [__m128i; 2], expected: &[u8; HEX_LEN]) -> bool {
        let digits = _mm_loadu_si128(b"0123456789abcdef".as_ptr().cast());
        let nibble = _mm_set1_epi8(0x0f);
        let mut diff = _mm_setzero_si128();
        for (half, bytes) in tag.into_iter().enumerate() {
            let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
            let low = _mm_and_si128(bytes, nibble);
            for (quarter, nibbles) in
                [_mm_unpacklo_epi8(high, low), _mm_unpackhi_epi8(high, low)].into_iter().enumerate()
            {
                let hex = _mm_shuffle_epi8(digits, nibbles);
                let given = _mm_loadu_si128(expected.as_ptr().add(32 * half + 16 * quarter).cast());
                diff = _mm_or_si128(diff, _mm_xor_si128(hex, given));
            }
        }
        _mm_testz_si128(diff, diff) != 0
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
        assert_eq!(
            hex(&key.tag(&[b"what do ya want for nothing?"])),
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
    fn rfc2202_hmac_sha1() {
        // RFC 2202, test cases 2 and 1.
        let key = Sha1Key::new(b"Jefe");
        assert_eq!(
            hex(&key.tag(&[b"what do ya want ", b"for nothing?"])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&Sha1Key::new(&[0x0b; 20]).tag(&[b"Hi There"])),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
    }

    #[test]
    fn parts_equal_whole() {
        let key = MacKey::new(b"k");
        assert_eq!(key.tag(&[b"ab", b"", b"cd"]), key.tag(&[b"abcd"]));
    }

    /// Several parts (the SHA-extensions gathering path, where the CPU has them) agree with
    /// the portable `Hmac<Sha256>` wherever the part boundaries fall relative to the blocks.
    #[test]
    fn parts_match_portable() {
        let message: Vec<u8> = (0..700u32).map(|i| (i * 29 + 11) as u8).collect();
        let key = MacKey::new(b"parts key");
        for len in (0..=140).chain([255, 256, 257, 511, 512, 513, 700]) {
            let body = &message[..len];
            for cut in [0, 1, 7, 55, 56, 63, 64, 65, 128, 129].into_iter().filter(|&c| c <= len) {
                let (head, tail) = body.split_at(cut);
                let expected = key.tag_portable(&[body]);
                assert_eq!(key.tag(&[head, tail]), expected, "len {len}, cut {cut}");
                let third = tail.len() / 3;
                let (middle, last) = tail.split_at(third);
                assert_eq!(key.tag(&[head, b"", middle, last]), expected, "len {len}, cut {cut}");
                let mut hex = hex_lower(&expected);
                assert!(key.verify_hex_parts(&[head, middle, last], &hex), "len {len}, cut {cut}");
                hex[len % HEX_LEN] ^= 1;
                assert!(!key.verify_hex_parts(&[head, middle, last], &hex), "len {len}, cut {cut}");
            }
        }
    }

    /// The one-part path (the SHA-extensions kernel, where the CPU has them) agrees with the
    /// portable `Hmac<Sha256>` for every padding case and key shape.
    #[test]
    fn one_part_matches_portable() {
        let message: Vec<u8> = (0..600u32).map(|i| (i * 131 + 7) as u8).collect();
        for secret_len in [0, 1, 31, 63, 64, 65, 200] {
            let secret: Vec<u8> = (0..secret_len).map(|i| (i * 17 + 3) as u8).collect();
            let key = MacKey::new(&secret);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(key.shani.is_some(), std::is_x86_feature_detected!("sha"));
            for len in (0..=300).chain([447, 448, 449, 511, 512, 513, 600]) {
                let body = &message[..len];
                let tag = key.tag_portable(&[body]);
                let context = format!("secret {secret_len} bytes, body {len} bytes");
                assert_eq!(key.tag_one(body), tag, "{context}");
                let mut hex = hex_lower(&tag);
                assert!(key.verify_hex(body, &hex), "{context}");
                for at in [0, 1, 31, 32, 62, 63] {
                    hex[at] ^= 0x01;
                    assert!(!key.verify_hex(body, &hex), "{context}, digit {at} changed");
                    hex[at] ^= 0x01;
                }
                assert!(!key.verify_hex(body, &hex.to_ascii_uppercase().try_into().unwrap()));
            }
        }
    }
}
