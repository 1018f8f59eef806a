//! Generic envelope frames: a JSON object with a string type and an object payload, such as
//! Linktor's realtime `{"type": "new_message", "payload": {...}}` (spec/linktor.md 3.8).
//!
//! [`classify`] names the type and payload nodes of a parsed [`Doc`]; the caller converts
//! them. Which keys hold the type and the payload is configurable ([`Keys`]).

use std::fmt;

use crate::json::{Doc, Node, NodeId};

/// The object keys of the type and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    type_key: Box<str>,
    payload_key: Box<str>,
}

/// The two keys are the same, so a frame could not have both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SameKeys;

impl Keys {
    pub fn new(type_key: &str, payload_key: &str) -> Result<Self, SameKeys> {
        if type_key == payload_key {
            return Err(SameKeys);
        }
        Ok(Self { type_key: type_key.into(), payload_key: payload_key.into() })
    }

    pub fn type_key(&self) -> &str {
        &self.type_key
    }

    pub fn payload_key(&self) -> &str {
        &self.payload_key
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self { type_key: "type".into(), payload_key: "payload".into() }
    }
}

/// The parts of a well-formed envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// A string node.
    pub type_: NodeId,
    /// An object node, or `None` when the payload is absent or `null` (an empty payload).
    pub payload: Option<NodeId>,
}

/// Why a (valid JSON) message is not an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    NotAnObject,
    /// The type key is absent or not a string.
    NoType,
    /// The payload is present, not `null`, and not an object.
    PayloadNotObject,
}

impl Rejected {
    /// The reason, naming the keys in use.
    pub fn describe<'k>(self, keys: &'k Keys) -> impl fmt::Display + 'k {
        Described { rejected: self, keys }
    }
}

struct Described<'k> {
    rejected: Rejected,
    keys: &'k Keys,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rejected {
            Rejected::NotAnObject => f.write_str("message is not a JSON object"),
            Rejected::NoType => write!(f, "message has no string {:?}", self.keys.type_key()),
            Rejected::PayloadNotObject => {
                write!(f, "message's {:?} is not a JSON object", self.keys.payload_key())
            }
        }
    }
}

/// Reads the envelope of a parsed message, in one pass over its top level; with duplicate
/// keys the last one wins, as in `json.loads`.
pub fn classify(doc: &Doc<'_>, keys: &Keys) -> Result<Envelope, Rejected> {
    let root = Doc::ROOT;
    if !matches!(doc.node(root), Node::Object(_)) {
        return Err(Rejected::NotAnObject);
    }
    let (type_key, payload_key) = (keys.type_key.as_bytes(), keys.payload_key.as_bytes());
    let (mut type_, mut payload) = (None, None);
    for (key, value) in doc.entries(root) {
        let key = doc.str_bytes(key);
        if key == type_key {
            type_ = Some(value);
        } else if key == payload_key {
            payload = Some(value);
        }
    }
    let type_ = type_.filter(|&id| doc.as_str(id).is_some()).ok_or(Rejected::NoType)?;
    let payload = match payload.map(|id| (id, doc.node(id))) {
        None | Some((_, Node::Null)) => None,
        Some((id, Node::Object(_))) => Some(id),
        Some(_) => return Err(Rejected::PayloadNotObject),
    };
    Ok(Envelope { type_, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Tape;
    use crate::message::parse_message;

    /// The envelope of `text` rendered as `type payload` (compact JSON), or the reason.
    fn render(text: &str, keys: &Keys) -> String {
        let mut tape = Tape::new();
        let doc = match parse_message(&mut tape, text.as_bytes(), true) {
            Ok(doc) => doc,
            Err(malformed) => return format!("malformed: {malformed}"),
        };
        let compact = |id: NodeId| {
            let mut out = Vec::new();
            doc.write_compact(id, &mut out);
            String::from_utf8(out).unwrap()
        };
        match classify(&doc, keys) {
            Ok(Envelope { type_, payload }) => {
                format!("{} {}", compact(type_), payload.map_or_else(|| "-".to_owned(), compact))
            }
            Err(rejected) => format!("rejected: {}", rejected.describe(keys)),
        }
    }

    fn envelope(text: &str) -> String {
        render(text, &Keys::default())
    }

    #[test]
    fn well_formed() {
        assert_eq!(
            envelope(r#"{"type":"typing","payload":{"conversation_id":"c","is_typing":true}}"#),
            r#""typing" {"conversation_id":"c","is_typing":true}"#
        );
        assert_eq!(envelope(r#"{"payload":{},"type":"pong"}"#), r#""pong" {}"#);
        // Absent or null payloads are empty; other keys are ignored.
        assert_eq!(envelope(r#"{"type":"ping"}"#), r#""ping" -"#);
        assert_eq!(envelope(r#"{"type":"ping","payload":null,"at":1}"#), r#""ping" -"#);
        assert_eq!(envelope(r#"{"type":""}"#), r#""" -"#);
    }

    #[test]
    fn duplicates_and_escapes() {
        assert_eq!(
            envelope(r#"{"type":"a","payload":[1],"type":"b","payload":{"x":1}}"#),
            r#""b" {"x":1}"#
        );
        assert_eq!(
            envelope(r#"{"type":"a","type":5}"#),
            r#"rejected: message has no string "type""#
        );
        assert_eq!(envelope(r#"{"typ\u0065":"t\u00e9","p\u0061yload":{}}"#), r#""té" {}"#);
    }

    #[test]
    fn rejections() {
        assert_eq!(envelope("[1]"), "rejected: message is not a JSON object");
        assert_eq!(envelope(r#""typing""#), "rejected: message is not a JSON object");
        assert_eq!(envelope("{}"), r#"rejected: message has no string "type""#);
        assert_eq!(envelope(r#"{"type":null}"#), r#"rejected: message has no string "type""#);
        for payload in ["[]", "1", "\"x\"", "true"] {
            assert_eq!(
                envelope(&format!(r#"{{"type":"a","payload":{payload}}}"#)),
                r#"rejected: message's "payload" is not a JSON object"#
            );
        }
        assert!(envelope(r#"{"type":"a""#).starts_with("malformed: message is not valid JSON"));
    }

    #[test]
    fn custom_keys() {
        let keys = Keys::new("event", "data").unwrap();
        assert_eq!(keys.type_key(), "event");
        assert_eq!(keys.payload_key(), "data");
        assert_eq!(
            render(r#"{"event":"message.received","data":{"id":"m"},"type":"x"}"#, &keys),
            r#""message.received" {"id":"m"}"#
        );
        assert_eq!(
            render(r#"{"type":"x","payload":{}}"#, &keys),
            r#"rejected: message has no string "event""#
        );
        assert_eq!(
            render(r#"{"event":"x","data":[]}"#, &keys),
            r#"rejected: message's "data" is not a JSON object"#
        );
        assert_eq!(Keys::new("k", "k"), Err(SameKeys));
        let empty = Keys::new("", "p").unwrap();
        assert_eq!(render(r#"{"":"t"}"#, &empty), r#""t" -"#);
    }

    #[test]
    fn garbage_never_panics() {
        let text = r#"{"type":"new_message","payload":{"message":{"id":"m","content":"h\u00e9"}}}"#;
        let keys = Keys::default();
        let mut tape = Tape::new();
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..20_000 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..3 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = (state >> 8) as usize % bytes.len();
                bytes[at] = (state >> 24) as u8;
            }
            if let Ok(doc) = parse_message(&mut tape, &bytes, true) {
                let _ = classify(&doc, &keys);
            }
        }
    }
}
