//! The RFC 3339 reader against a reference written another way: the shape matched against a
//! pattern, the calendar checked by chrono. Both must accept the same texts and read the same
//! fields (fraction truncated to microseconds, `Z` and `±00:00` as offset zero, no offset as
//! a naive time).
#![no_main]

use chrono::{NaiveDate, NaiveTime};
use libfuzzer_sys::fuzz_target;
use relaywire::datetime::{parse_rfc3339, DateTime};

fuzz_target!(|data: &[u8]| {
    let ours = parse_rfc3339(data);
    assert_eq!(ours, reference(data), "{:?}", String::from_utf8_lossy(data));
    if let Some(dt) = ours {
        // What it read is written back as the same fields.
        let text = format(&dt);
        assert_eq!(parse_rfc3339(text.as_bytes()), Some(dt), "{text}");
    }
});

fn reference(data: &[u8]) -> Option<DateTime> {
    const PATTERN: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";
    let text = std::str::from_utf8(data).ok()?;
    if text.len() < PATTERN.len() || !text.is_char_boundary(PATTERN.len()) {
        return None;
    }
    let shaped = PATTERN.iter().zip(data).all(|(&p, &b)| match p {
        b'd' => b.is_ascii_digit(),
        _ => p == b,
    });
    if !shaped {
        return None;
    }
    let field = |from: usize, to: usize| text[from..to].parse::<u32>().ok();
    let (year, month, day) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
    let (hour, minute, second) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
    if year == 0 {
        return None; // chrono has a year 0; Python's datetime does not
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    NaiveTime::from_hms_opt(hour, minute, second)?;

    let mut rest = &text[19..];
    let mut microsecond = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let six = format!("{:0<6}", &after_dot[..digits.min(6)]);
        microsecond = six.parse().ok()?;
        rest = &after_dot[digits..];
    }
    let offset = match rest.as_bytes() {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) =>
        {
            let hours = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
            let minutes = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => return None,
    };
    Some(DateTime {
        year: u16::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        microsecond,
        offset,
    })
}

fn format(dt: &DateTime) -> String {
    let offset = match dt.offset {
        None => String::new(),
        Some(0) => "Z".to_owned(),
        Some(seconds) => {
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.unsigned_abs() / 60;
            format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
        }
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{offset}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond
    )
}
