//! One WebSocket message as a JSON document: what the stream decoders share before they read
//! their own protocol's fields (Daguito frames in [`crate::daguito`], generic
//! `{"type", "payload"}` envelopes in [`crate::envelope`]).

use std::fmt;

use crate::json::{Doc, ParseError, Tape};

/// The batch holds an entry the session handles itself (a `malformed` entry in every decoder;
/// `ready` and `session.*` in the Daguito one).
pub const FLAG_CONTROL: u8 = 1;

/// Why a message is not a frame of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A binary message that is not UTF-8.
    NotUtf8,
    NotJson(ParseError),
    NotAnObject,
    NoType,
    /// An integer has more digits than Python is configured to convert.
    IntegerTooLong {
        digits: usize,
        limit: usize,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("binary message is not UTF-8"),
            Self::NotJson(error) => write!(f, "message is not valid JSON: {error}"),
            Self::NotAnObject => f.write_str("message is not a JSON object"),
            Self::NoType => f.write_str("message has no string \"type\""),
            Self::IntegerTooLong { digits, limit } => {
                write!(f, "message has an integer of {digits} digits (the limit is {limit})")
            }
        }
    }
}

/// Parses one message. A text message has been checked to be UTF-8 by the frame parser; a
/// binary one (`check_utf8`) must be UTF-8 too, or it is malformed.
pub fn parse_message<'a>(
    tape: &'a mut Tape,
    message: &'a [u8],
    check_utf8: bool,
) -> Result<Doc<'a>, Malformed> {
    if check_utf8 && std::str::from_utf8(message).is_err() {
        return Err(Malformed::NotUtf8);
    }
    tape.parse(message).map_err(Malformed::NotJson)
}

/// [`Malformed::IntegerTooLong`] when the document has an integer longer than `limit` digits
/// (`limit` 0 means no limit, as in `sys.get_int_max_str_digits()`).
pub fn check_int_digits(doc: &Doc<'_>, limit: usize) -> Result<(), Malformed> {
    let digits = doc.max_int_digits();
    if limit != 0 && digits > limit {
        return Err(Malformed::IntegerTooLong { digits, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_refuse() {
        let mut tape = Tape::new();
        assert!(parse_message(&mut tape, br#"{"a":1}"#, true).is_ok());
        assert_eq!(parse_message(&mut tape, b"\"\xff\"", true).err(), Some(Malformed::NotUtf8));
        let error = parse_message(&mut tape, b"{", false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "message is not valid JSON: unexpected end of data at byte 1"
        );
    }

    #[test]
    fn integer_digit_limit() {
        let mut tape = Tape::new();
        let text = format!("[{}]", "9".repeat(700));
        let doc = tape.parse(text.as_bytes()).unwrap();
        assert_eq!(check_int_digits(&doc, 0), Ok(()));
        assert_eq!(check_int_digits(&doc, 700), Ok(()));
        let error = check_int_digits(&doc, 640).unwrap_err();
        assert_eq!(error, Malformed::IntegerTooLong { digits: 700, limit: 640 });
        assert_eq!(error.to_string(), "message has an integer of 700 digits (the limit is 640)");
    }
}
