//! References shared by several fuzz targets, written apart from the code they check.

/// A reference of `application/x-www-form-urlencoded` parsing as Python's `parse_qsl(...,
/// keep_blank_values=True)` does it on bytes (written apart from `relaywire::form`).
pub fn reference_form(text: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    fn unquote(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some((&b, tail)) = rest.split_first() {
            let value = |d: u8| (d as char).to_digit(16);
            match (b, tail) {
                (b'+', _) => {
                    out.push(b' ');
                    rest = tail;
                }
                (b'%', [h, l, after @ ..]) if value(*h).is_some() && value(*l).is_some() => {
                    out.push((value(*h).unwrap() * 16 + value(*l).unwrap()) as u8);
                    rest = after;
                }
                _ => {
                    out.push(b);
                    rest = tail;
                }
            }
        }
        out
    }
    text.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let mut halves = piece.splitn(2, |&b| b == b'=');
            let name = halves.next().unwrap_or_default();
            let value = halves.next().unwrap_or_default();
            (unquote(name), unquote(value))
        })
        .collect()
}
