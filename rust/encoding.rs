//! Tag encodings and constant-time comparison.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

use crate::mac::{Tag, TAG_LEN};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Length of a tag in lowercase hex.
pub const HEX_LEN: usize = TAG_LEN * 2;

/// Lowercase hex of a tag, as ASCII bytes.
#[cfg(target_arch = "x86_64")]
pub fn hex_lower(tag: &Tag) -> [u8; HEX_LEN] {
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe { hex_lower_sse2(tag) }
}

/// Lowercase hex of a tag, as ASCII bytes.
#[cfg(not(target_arch = "x86_64"))]
pub fn hex_lower(tag: &Tag) -> [u8; HEX_LEN] {
    hex_lower_scalar(tag)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn hex_lower_scalar(tag: &Tag) -> [u8; HEX_LEN] {
    let mut out = [0u8; HEX_LEN];
    for (i, byte) in tag.iter().enumerate() {
        out[2 * i] = HEX_DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

/// Sixteen bytes at a time: split into nibbles, interleave them (high first), and map each
/// nibble to its digit arithmetically (`'0' + n`, plus the gap up to `'a'` when `n > 9`), with
/// no table lookup and no branch on the tag.
#[cfg(target_arch = "x86_64")]
unsafe fn hex_lower_sse2(tag: &Tag) -> [u8; HEX_LEN] {
    use core::arch::x86_64::*;

    let nibble = _mm_set1_epi8(0x0f);
    let nine = _mm_set1_epi8(9);
    let zero = _mm_set1_epi8(b'0' as i8);
    let gap = _mm_set1_epi8((b'a' - b'0' - 10) as i8);
    let mut out = [0u8; HEX_LEN];
    for half in 0..2 {
        let bytes = _mm_loadu_si128(tag.as_ptr().add(16 * half).cast());
        let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
        let low = _mm_and_si128(bytes, nibble);
        for (i, nibbles) in
            [_mm_unpacklo_epi8(high, low), _mm_unpackhi_epi8(high, low)].into_iter().enumerate()
        {
            let letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, nine), gap);
            let digits = _mm_add_epi8(_mm_add_epi8(nibbles, zero), letters);
            _mm_storeu_si128(out.as_mut_ptr().add(32 * half + 16 * i).cast(), digits);
        }
    }
    out
}

/// Decodes hex in either case into a tag; `None` unless it is exactly one tag's worth.
pub fn decode_hex_tag(text: &[u8]) -> Option<Tag> {
    decode_hex::<TAG_LEN>(text)
}

/// Decodes hex in either case into exactly `N` bytes; `None` for any other length or digit.
pub fn decode_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// Lowercase hex of any bytes.
pub fn hex_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Standard (padded) base64 of any bytes.
pub fn base64_string(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Length of a tag in padded base64.
pub const BASE64_LEN: usize = TAG_LEN.div_ceil(3) * 4;

/// Standard (padded) base64 of a tag, as ASCII bytes.
pub fn base64_tag(tag: &Tag) -> [u8; BASE64_LEN] {
    let mut out = [0u8; BASE64_LEN];
    let written = STANDARD.encode_slice(tag, &mut out).expect("a tag fits its base64 buffer");
    debug_assert_eq!(written, BASE64_LEN);
    out
}

/// Decimal ASCII of an integer, in a stack buffer: `(buffer, start)`.
pub fn decimal(value: i64) -> ([u8; 20], usize) {
    let mut out = [0u8; 20];
    let mut start = out.len();
    let mut rest = value.unsigned_abs();
    loop {
        start -= 1;
        out[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        out[start] = b'-';
    }
    (out, start)
}

/// Decodes canonical standard base64, either correctly padded or with no padding at all.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    // The engines tolerate a stray `=`, so the padding is checked here: none at all, or
    // whole quads ending in exactly the one or two `=` that the data calls for.
    let data = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    let padding = text.len() - data.len();
    if data.contains(&b'=') || (padding > 0 && text.len() % 4 != 0) {
        return None;
    }
    let decoded = STANDARD_NO_PAD.decode(data).ok()?;
    if padding > 0 && padding != (3 - decoded.len() % 3) % 3 {
        return None;
    }
    Some(decoded)
}

/// Compares two byte strings in time that depends only on their lengths: every byte pair is
/// folded into one accumulator with no early exit, and the accumulator passes through an
/// optimisation barrier before the single final test.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_in_both_cases() {
        let tag: Tag = core::array::from_fn(|i| (i * 37) as u8);
        let lower = hex_lower(&tag);
        assert_eq!(decode_hex_tag(&lower), Some(tag));
        assert_eq!(decode_hex_tag(lower.to_ascii_uppercase().as_slice()), Some(tag));
    }

    #[test]
    fn hex_lower_matches_scalar() {
        for seed in 0..=255u8 {
            let tag: Tag =
                core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 8));
            assert_eq!(hex_lower(&tag), hex_lower_scalar(&tag));
        }
        let all: Vec<u8> = (0..=255u8).collect();
        for chunk in all.chunks_exact(TAG_LEN) {
            let tag: Tag = chunk.try_into().unwrap();
            let expected: String = tag.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex_lower(&tag).as_slice(), expected.as_bytes());
        }
    }

    #[test]
    fn hex_of_any_length() {
        assert_eq!(decode_hex::<2>(b"0aFf"), Some([0x0a, 0xff]));
        assert_eq!(decode_hex::<2>(b"0aF"), None);
        assert_eq!(hex_string(&[0x0a, 0xff, 0x00]), "0aff00");
        assert_eq!(base64_string(b"hi"), "aGk=");
    }

    #[test]
    fn hex_rejects_wrong_length_and_digits() {
        assert_eq!(decode_hex_tag(b"abcd"), None);
        let mut bad = hex_lower(&[0u8; TAG_LEN]);
        bad[10] = b'g';
        assert_eq!(decode_hex_tag(&bad), None);
    }

    #[test]
    fn base64_accepts_padding_or_none() {
        assert_eq!(decode_base64(b"aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64(b"aGk"), Some(b"hi".to_vec()));
        assert_eq!(decode_base64(b"a*k="), None);
        assert_eq!(decode_base64(b"aGk==="), None);
        assert_eq!(decode_base64(b"aGk=="), None);
        assert_eq!(decode_base64(b"aA=="), Some(b"h".to_vec()));
        assert_eq!(decode_base64(b"aA="), None);
    }

    #[test]
    fn base64_tag_is_padded() {
        let tag = [0xffu8; TAG_LEN];
        assert_eq!(base64_tag(&tag).as_slice(), STANDARD.encode(tag).as_bytes());
    }

    #[test]
    fn decimal_formats_like_to_string() {
        for value in [0, 7, -7, 1_614_265_330, i64::MAX, i64::MIN] {
            let (buf, start) = decimal(value);
            assert_eq!(&buf[start..], value.to_string().as_bytes());
        }
    }

    #[test]
    fn constant_time_eq_checks_length_and_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
