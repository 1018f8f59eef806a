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
    // Accumulate towards the sign so that i64::MIN, whose magnitude has no i64, parses too.
    let sign = if negative { -1 } else { 1 };
    let mut value: i64 = 0;
    for digit in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(sign * i64::from(digit - b'0')))
            .ok_or(TimestampError::Overflow)?;
    }
    Ok(value)
}

/// Nanoseconds in a second.
pub const NANOS: i128 = 1_000_000_000;

/// Where a timestamp falls relative to the window `now ± tolerance` (both ends inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    TooOld,
    TooNew,
}

/// Seconds as nanoseconds, exactly for whole seconds: the whole and fractional parts are
/// converted apart, because `seconds * 1e9` rounds once past 2^53 ns (about 104 days).
/// Values beyond i64 seconds saturate.
pub fn nanos_from_seconds(seconds: f64) -> i128 {
    let whole = seconds.floor();
    let fraction = seconds - whole; // exact: no bits are lost subtracting the floor
    i128::from(whole as i64) * NANOS + (fraction * 1e9).round() as i128
}

/// The accepted window `now ± tolerance`, in nanoseconds since the epoch, so that a
/// fractional current time or tolerance is not rounded into the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub now_nanos: i128,
    pub tolerance_nanos: i128,
}

impl Window {
    /// A window in whole seconds.
    pub fn seconds(now: i64, tolerance: i64) -> Self {
        Self { now_nanos: i128::from(now) * NANOS, tolerance_nanos: i128::from(tolerance) * NANOS }
    }

    /// Where whole-second `timestamp` falls; i128 cannot overflow here.
    pub fn freshness(&self, timestamp: i64) -> Freshness {
        self.freshness_nanos(i128::from(timestamp) * NANOS)
    }

    /// Where a timestamp in nanoseconds falls (within about 10^20 years of the epoch).
    pub fn freshness_nanos(&self, timestamp: i128) -> Freshness {
        let tolerance = self.tolerance_nanos.max(0);
        if timestamp < self.now_nanos - tolerance {
            Freshness::TooOld
        } else if timestamp > self.now_nanos + tolerance {
            Freshness::TooNew
        } else {
            Freshness::Fresh
        }
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
        assert_eq!(parse_strict(b"99999999999999999999"), Err(TimestampError::Overflow));
    }

    #[test]
    fn lenient_parsing_follows_python_int() {
        assert_eq!(parse_lenient(b" +17 \t"), Ok(17));
        assert_eq!(parse_lenient(b"-17"), Ok(-17));
        assert_eq!(parse_lenient(b"1_000"), Err(TimestampError::Malformed));
        assert_eq!(parse_lenient(b"1700000000.5"), Err(TimestampError::Malformed));
        assert_eq!(parse_lenient(b"  "), Err(TimestampError::Malformed));
    }

    #[test]
    fn window_is_inclusive_both_ways() {
        let window = Window::seconds(1000, 300);
        assert_eq!(window.freshness(700), Freshness::Fresh);
        assert_eq!(window.freshness(1300), Freshness::Fresh);
        assert_eq!(window.freshness(699), Freshness::TooOld);
        assert_eq!(window.freshness(1301), Freshness::TooNew);
        assert_eq!(Window::seconds(i64::MAX, i64::MAX).freshness(i64::MIN), Freshness::TooOld);
    }

    #[test]
    fn seconds_convert_to_nanos_exactly() {
        assert_eq!(nanos_from_seconds(4_611_686_019.0), 4_611_686_019 * NANOS);
        assert_eq!(nanos_from_seconds(1_614_265_330.5), 1_614_265_330 * NANOS + NANOS / 2);
        assert_eq!(nanos_from_seconds(-1.5), -2 * NANOS + NANOS / 2);
        assert_eq!(nanos_from_seconds(0.0), 0);
        assert_eq!(nanos_from_seconds(1e300), i128::from(i64::MAX) * NANOS);
    }

    #[test]
    fn fractional_now_is_not_rounded_into_the_window() {
        // 300.5 s apart with a 300 s tolerance.
        let later = Window { now_nanos: 1000 * NANOS + NANOS / 2, tolerance_nanos: 300 * NANOS };
        assert_eq!(later.freshness(700), Freshness::TooOld);
        let earlier = Window { now_nanos: 1000 * NANOS - NANOS / 2, ..later };
        assert_eq!(earlier.freshness(1300), Freshness::TooNew);
    }
}
