//! The canonical RFC 3339 date-time, `YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]`, read strictly.
//!
//! This is the form APIs send, with up to nine fraction digits (Go's `RFC3339Nano`). pydantic
//! accepts many more spellings (a space for the `T`, minutes without seconds, offsets without a
//! colon, a comma before the fraction, Unix numbers); a reader that must give exactly pydantic's
//! answer treats anything outside this form as "not mine" and hands the text to pydantic.
//! Within the form both agree: the fields as written, the fraction truncated to microseconds,
//! `Z`, `+00:00` and `-00:00` all as offset zero, and no offset meaning a naive time.

/// A date-time as written, already range-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub microsecond: u32,
    /// Seconds east of UTC; `None` for a naive time.
    pub offset: Option<i32>,
}

fn digits(text: &[u8], at: usize, count: usize) -> Option<u32> {
    let field = text.get(at..at + count)?;
    field
        .iter()
        .try_fold(0u32, |value, &b| b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0')))
}

fn expect(text: &[u8], at: usize, byte: u8) -> Option<()> {
    (text.get(at) == Some(&byte)).then_some(())
}

/// Days in `month` of `year` (proleptic Gregorian).
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Reads `text` if it is exactly the canonical form with valid fields, else `None`.
pub fn parse_rfc3339(text: &[u8]) -> Option<DateTime> {
    let year = digits(text, 0, 4)?;
    expect(text, 4, b'-')?;
    let month = digits(text, 5, 2)?;
    expect(text, 7, b'-')?;
    let day = digits(text, 8, 2)?;
    expect(text, 10, b'T')?;
    let hour = digits(text, 11, 2)?;
    expect(text, 13, b':')?;
    let minute = digits(text, 14, 2)?;
    expect(text, 16, b':')?;
    let second = digits(text, 17, 2)?;
    let valid_date = year >= 1 && (1..=12).contains(&month) && day >= 1;
    if !valid_date || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut microsecond = 0;
    if text.get(at) == Some(&b'.') {
        let count = text[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&count) {
            return None;
        }
        // Digits past the sixth are dropped, not rounded, as pydantic does.
        let kept = count.min(6);
        microsecond = digits(text, at + 1, kept)? * 10u32.pow(6 - kept as u32);
        at += 1 + count;
    }
    let offset = match text.get(at) {
        None => None,
        Some(b'Z') if at + 1 == text.len() => Some(0),
        Some(&sign @ (b'+' | b'-')) if at + 6 == text.len() => {
            let hours = digits(text, at + 1, 2)?;
            expect(text, at + 3, b':')?;
            let minutes = digits(text, at + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            Some(if sign == b'-' { -seconds } else { seconds })
        }
        Some(_) => return None,
    };
    // The casts are in range: every field was checked above.
    #[allow(clippy::cast_possible_truncation)]
    Some(DateTime {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        microsecond,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime> {
        parse_rfc3339(text.as_bytes())
    }

    #[test]
    fn canonical_forms() {
        let utc = at("2024-01-15T10:30:00Z").unwrap();
        assert_eq!(
            utc,
            DateTime {
                year: 2024,
                month: 1,
                day: 15,
                hour: 10,
                minute: 30,
                second: 0,
                microsecond: 0,
                offset: Some(0)
            }
        );
        assert_eq!(at("2024-01-15T10:30:00.5Z").unwrap().microsecond, 500_000);
        assert_eq!(at("2024-01-15T10:30:00.000123+05:30").unwrap().microsecond, 123);
        assert_eq!(at("2024-01-15T10:30:00.1234567Z").unwrap().microsecond, 123_456);
        assert_eq!(at("2024-01-15T10:30:00.999999999Z").unwrap().microsecond, 999_999);
        assert_eq!(at("2024-01-15T10:30:00+05:30").unwrap().offset, Some(19_800));
        assert_eq!(at("2024-01-15T10:30:00-00:00").unwrap().offset, Some(0));
        assert_eq!(at("2024-01-15T10:30:00-23:59").unwrap().offset, Some(-86_340));
        assert_eq!(at("2024-01-15T10:30:00").unwrap().offset, None);
        assert_eq!(at("2024-02-29T00:00:00Z").unwrap().day, 29);
        assert_eq!(at("2000-02-29T23:59:59Z").unwrap().second, 59);
        assert_eq!(at("0001-01-01T00:00:00").unwrap().year, 1);
    }

    #[test]
    fn everything_else_is_not_mine() {
        for text in [
            "",
            "2024-01-15",
            "2024-01-15 10:30:00Z",
            "2024-01-15t10:30:00Z",
            "2024-01-15T10:30Z",
            "2024-01-15T10:30:00z",
            "2024-01-15T10:30:00.Z",
            "2024-01-15T10:30:00.1234567890Z",
            "2024-01-15T10:30:00,5Z",
            "2024-01-15T10:30:00+0530",
            "2024-01-15T10:30:00+05",
            "2024-01-15T10:30:00+24:00",
            "2024-01-15T10:30:00+05:60",
            "2024-01-15T10:30:00Z ",
            "2024-01-15T10:30:00ZZ",
            "2024-01-15T24:00:00Z",
            "2024-01-15T23:60:00Z",
            "2024-01-15T23:59:60Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "+2024-01-15T10:30:00Z",
            "2024-1-15T10:30:00Z",
            "２０２４-01-15T10:30:00Z",
        ] {
            assert_eq!(at(text), None, "{text:?}");
        }
    }
}
