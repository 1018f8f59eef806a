//! `application/x-www-form-urlencoded` text (form bodies and URL query strings), read the way
//! Python's `urllib.parse.parse_qsl(text, keep_blank_values=True)` reads it, but on bytes:
//! pairs are separated by `&`, a pair without `=` has an empty value, `+` is a space, and a
//! `%` not followed by two hex digits stays as it is.

use std::borrow::Cow;

/// One decoded `name=value` pair.
pub type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// The pairs of `text`, in order; empty pieces (`a=1&&b=2`) are skipped.
pub fn parse(text: &[u8]) -> Vec<Pair<'_>> {
    text.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &b""[..]),
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// The first value of `name` in `text`, decoded.
pub fn first<'a>(text: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    parse(text).into_iter().find(|(n, _)| n.as_ref() == name).map(|(_, v)| v)
}

/// Percent-decodes one name or value; borrowed when there is nothing to decode.
pub fn decode(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(byte) = text.get(i + 1..i + 3).and_then(hex_byte) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |d: u8| (d as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .into_iter()
            .map(|(n, v)| {
                (
                    String::from_utf8(n.into_owned()).unwrap(),
                    String::from_utf8(v.into_owned()).unwrap(),
                )
            })
            .collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn like_parse_qsl_with_blank_values() {
        assert_eq!(
            pairs("a=1&b=&c&&d=x=y"),
            owned(&[("a", "1"), ("b", ""), ("c", ""), ("d", "x=y")])
        );
        assert_eq!(
            pairs("To=%2B1800&Body=Hello+there%21"),
            owned(&[("To", "+1800"), ("Body", "Hello there!")])
        );
        assert_eq!(pairs("x=%zz%4&y=%e2%82%ac"), owned(&[("x", "%zz%4"), ("y", "€")]));
        assert_eq!(pairs(""), owned(&[]));
        assert_eq!(pairs("a%3Db=c"), owned(&[("a=b", "c")]));
    }

    #[test]
    fn first_value() {
        assert_eq!(
            first(b"a=1&bodySHA256=ab&bodySHA256=cd", b"bodySHA256").as_deref(),
            Some(&b"ab"[..])
        );
        assert_eq!(first(b"a=1", b"b"), None);
    }

    #[test]
    fn borrowed_when_plain() {
        assert!(matches!(decode(b"plain"), Cow::Borrowed(_)));
        assert_eq!(decode(b"100%").as_ref(), b"100%");
    }
}
