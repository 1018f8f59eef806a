//! Parsing of integer-seconds timestamp headers and the tolerance window.

/// Why a timestamp header was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    /// Not an integer number of seconds.
    Malformed,
    /// An integer too large to be a time; it is outside any tolerance window.
    Overflow,
}

/// Parses strict ASCII digits with an optional leading `-`, as the Standard Webhooks
/// specification sends them.
pub fn parse_strict(text: &[u8]) -> Result<i64, TimestampError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    parse_digits(digits, negative)
}

/// Parses the way Python's `int()` reads a header (what the official Linktor SDK does):
/// surrounding ASCII whitespace and a leading `+` or `-` are allowed, underscores are not.
pub fn parse_lenient(text: &[u8]) -> Result<i64, TimestampError> {
    let trimmed = text.trim_ascii();
    let (negative, digits) = match trimmed.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, trimmed),
    };
    parse_digits(digits, negative)
}

fn parse_digits(digits: &[u8], negative: bool) -> Result<i64, TimestampError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TimestampError::Malformed);
    }
    let mut value: i64 = 0;
    for digit in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(digit - b'0')))
            .ok_or(TimestampError::Overflow)?;
    }
    Ok(if negative { -value } else { value })
}

/// Where a timestamp falls relative to the window `now ± tolerance` (both ends inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    TooOld,
    TooNew,
}

pub fn freshness(timestamp: i64, now: i64, tolerance: i64) -> Freshness {
    let tolerance = tolerance.max(0);
    if timestamp < now.saturating_sub(tolerance) {
        Freshness::TooOld
    } else if timestamp > now.saturating_add(tolerance) {
        Freshness::TooNew
    } else {
        Freshness::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parsing() {
        assert_eq!(parse_strict(b"1614265330"), Ok(1_614_265_330));
        assert_eq!(parse_strict(b"-5"), Ok(-5));
        assert_eq!(parse_strict(b"+5"), Err(TimestampError::Malformed));
        assert_eq!(parse_strict(b" 5"), Err(TimestampError::Malformed));
        assert_eq!(parse_strict(b"1.5"), Err(TimestampError::Malformed));
        assert_eq!(parse_strict(b""), Err(TimestampError::Malformed));
        assert_eq!(parse_strict(b"-"), Err(TimestampError::Malformed));
        assert_eq!(
            parse_strict(b"99999999999999999999"),
            Err(TimestampError::Overflow)
        );
    }

    #[test]
    fn lenient_parsing_follows_python_int() {
        assert_eq!(parse_lenient(b" +17 \t"), Ok(17));
        assert_eq!(parse_lenient(b"-17"), Ok(-17));
        assert_eq!(parse_lenient(b"1_000"), Err(TimestampError::Malformed));
        assert_eq!(
            parse_lenient(b"1700000000.5"),
            Err(TimestampError::Malformed)
        );
        assert_eq!(parse_lenient(b"  "), Err(TimestampError::Malformed));
    }

    #[test]
    fn window_is_inclusive_both_ways() {
        assert_eq!(freshness(700, 1000, 300), Freshness::Fresh);
        assert_eq!(freshness(1300, 1000, 300), Freshness::Fresh);
        assert_eq!(freshness(699, 1000, 300), Freshness::TooOld);
        assert_eq!(freshness(1301, 1000, 300), Freshness::TooNew);
        assert_eq!(freshness(i64::MIN, i64::MAX, i64::MAX), Freshness::TooOld);
    }
}
