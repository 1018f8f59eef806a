//! Daguito stream frames: which event a server message becomes, and which parts of the
//! message the event's payload is built from (spec/daguito.md 2.10, with relaywire's fixes).
//!
//! [`classify`] only looks at a parsed [`Doc`]; it names nodes, and the caller builds the
//! payload objects from them, so nothing is converted that the event does not use.

use crate::json::{Doc, Node, NodeId};
pub use crate::message::{parse_message, Malformed, FLAG_CONTROL};

/// The batch holds a `node.emit` that starts a client-side tool call.
pub const FLAG_TOOL_CALL: u8 = 2;
/// The batch holds the end of a turn (`flow.completed` or `flow.failed`).
pub const FLAG_TURN_END: u8 = 4;

/// The `data.kind` of a `node.emit` that asks the client to run a tool.
pub const TOOL_CALL_KIND: &[u8] = b"agent.tool_call_started";

/// Keys of `node.token` data that may carry the text, in order of preference.
pub const TOKEN_KEYS: [&[u8]; 4] = [b"token", b"text", b"delta", b"content"];

/// A `node.completed` duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Duration {
    None,
    /// An integer node (`Int` or `BigInt`).
    Int(NodeId),
    /// A float rounded half to even, as Python's `round()`: an integral, finite value.
    Rounded(f64),
}

/// A string field that falls back to something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// Absent (or JSON null where that counts as absent): the field's default.
    Default,
    /// A string node.
    Str(NodeId),
    /// Any other value: its compact JSON text.
    Json(NodeId),
}

/// What one message becomes. `node_id` is a string node, or `None` for `""`; `data` is an
/// object node, or `None` for `{}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// No entry at all: `ping`/`pong`, or a token without text.
    Nothing,
    Malformed(Malformed),
    /// `webhook_id`: a string node, or `None` for the session's default.
    Ready {
        webhook_id: Option<NodeId>,
    },
    SessionStarted {
        session_key: Option<NodeId>,
    },
    SessionEnded,
    /// `message`: `Text::Default` is "unknown error".
    Error {
        message: Text,
    },
    NodeStarted {
        node_id: Option<NodeId>,
    },
    NodeToken {
        node_id: Option<NodeId>,
        text: NodeId,
    },
    NodeCompleted {
        node_id: Option<NodeId>,
        duration_ms: Duration,
        output: Option<NodeId>,
    },
    NodeFailed {
        node_id: Option<NodeId>,
        error: Option<NodeId>,
    },
    /// `kind`: `Text::Default` is `""`.
    NodeEmit {
        node_id: Option<NodeId>,
        kind: Text,
        data: Option<NodeId>,
        tool_call: bool,
    },
    FlowCompleted {
        output: Option<NodeId>,
    },
    /// `error`: a string node, or `None` for "flow failed".
    FlowFailed {
        error: Option<NodeId>,
    },
    /// A type this SDK does not know: the type string and the whole frame.
    Unknown {
        type_: NodeId,
    },
}

impl Event {
    /// The `FLAG_*` bits this event sets on its batch.
    pub fn flags(&self) -> u8 {
        match self {
            Self::Malformed(_)
            | Self::Ready { .. }
            | Self::SessionStarted { .. }
            | Self::SessionEnded => FLAG_CONTROL,
            Self::NodeEmit { tool_call: true, .. } => FLAG_TOOL_CALL,
            Self::FlowCompleted { .. } | Self::FlowFailed { .. } => FLAG_TURN_END,
            _ => 0,
        }
    }
}

/// Classifies a parsed message.
pub fn classify(doc: &Doc<'_>) -> Event {
    let root = Doc::ROOT;
    if !matches!(doc.node(root), Node::Object(_)) {
        return Event::Malformed(Malformed::NotAnObject);
    }
    // One pass over the envelope; with duplicate keys the last one wins.
    let (mut type_, mut node_id, mut data) = (None, None, None);
    for (key, value) in doc.entries(root) {
        match doc.str_bytes(key) {
            b"type" => type_ = Some(value),
            b"node_id" => node_id = Some(value),
            b"data" => data = Some(value),
            _ => {}
        }
    }
    let Some(type_) = type_.filter(|&id| doc.as_str(id).is_some()) else {
        return Event::Malformed(Malformed::NoType);
    };
    let node_id = node_id.filter(|&id| doc.as_str(id).is_some());
    let data = data.filter(|&id| matches!(doc.node(id), Node::Object(_)));
    let data_get = |key: &[u8]| data.and_then(|data| doc.get(data, key));
    let data_str = |key: &[u8]| data_get(key).filter(|&id| doc.as_str(id).is_some());
    let top_str = |key: &[u8]| doc.get(root, key).filter(|&id| doc.as_str(id).is_some());
    let type_name = doc.as_str(type_).map_or(&b""[..], |s| doc.str_bytes(s));
    match type_name {
        b"node.token" => match data.and_then(|data| token_text(doc, data)) {
            Some(text) => Event::NodeToken { node_id, text },
            None => Event::Nothing,
        },
        b"node.emit" => {
            let kind = match data_get(b"kind") {
                None => Text::Default,
                Some(id) => match doc.node(id) {
                    Node::Null => Text::Default,
                    Node::Str(_) => Text::Str(id),
                    _ => Text::Json(id),
                },
            };
            let tool_call = matches!(kind, Text::Str(id)
                if doc.as_str(id).is_some_and(|s| doc.str_bytes(s) == TOOL_CALL_KIND));
            Event::NodeEmit { node_id, kind, data, tool_call }
        }
        b"node.started" | b"merge.progress" => Event::NodeStarted { node_id },
        b"node.completed" => Event::NodeCompleted {
            node_id,
            duration_ms: duration(doc, data_get(b"duration_ms"), data_get(b"elapsed_ms")),
            output: data_get(b"output"),
        },
        b"node.failed" => Event::NodeFailed { node_id, error: data_str(b"error") },
        b"flow.completed" => Event::FlowCompleted { output: data_get(b"output") },
        b"flow.failed" => Event::FlowFailed { error: data_str(b"error") },
        b"ready" => Event::Ready { webhook_id: top_str(b"webhook_id") },
        b"session.started" => Event::SessionStarted { session_key: top_str(b"session_key") },
        b"session.ended" => Event::SessionEnded,
        b"ping" | b"pong" => Event::Nothing,
        b"error" => Event::Error {
            message: match doc.get(root, b"message") {
                None => Text::Default,
                Some(id) if doc.as_str(id).is_some() => Text::Str(id),
                Some(id) => Text::Json(id),
            },
        },
        _ => Event::Unknown { type_ },
    }
}

/// `data.execution_id` when it is a non-empty string (any frame but a token may carry it).
pub fn execution_id<'a>(doc: &Doc<'a>) -> Option<&'a [u8]> {
    let data = doc.get(Doc::ROOT, b"data")?;
    if !matches!(doc.node(data), Node::Object(_)) {
        return None;
    }
    let id = doc.as_str(doc.get(data, b"execution_id")?)?;
    Some(doc.str_bytes(id)).filter(|bytes| !bytes.is_empty())
}

/// The first non-empty string among the [`TOKEN_KEYS`] of `data`, in one pass (with
/// duplicate keys the last one counts).
fn token_text(doc: &Doc<'_>, data: NodeId) -> Option<NodeId> {
    let mut found: [Option<NodeId>; 4] = [None; 4];
    for (key, value) in doc.entries(data) {
        let key = doc.str_bytes(key);
        // All four keys are 4 to 7 bytes long; most other keys are rejected by length.
        if (4..=7).contains(&key.len()) {
            if let Some(rank) = TOKEN_KEYS.iter().position(|k| *k == key) {
                found[rank] = Some(value);
            }
        }
    }
    found.into_iter().flatten().find(|&id| doc.as_str(id).is_some_and(|s| s.byte_len() > 0))
}

/// `duration_ms` if it is a number, else `elapsed_ms` if that is one, else none.
fn duration(doc: &Doc<'_>, duration_ms: Option<NodeId>, elapsed_ms: Option<NodeId>) -> Duration {
    let number = |id: Option<NodeId>| {
        id.filter(|&id| matches!(doc.node(id), Node::Int(_) | Node::BigInt { .. } | Node::Float(_)))
    };
    let Some(id) = number(duration_ms).or_else(|| number(elapsed_ms)) else {
        return Duration::None;
    };
    match doc.node(id) {
        Node::Float(value) if value.is_finite() => Duration::Rounded(value.round_ties_even()),
        Node::Float(_) => Duration::None,
        _ => Duration::Int(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Tape;

    /// Classifies `text` and renders the event with its nodes as values, for comparison.
    fn event(text: &str) -> String {
        let mut tape = Tape::new();
        let doc = match parse_message(&mut tape, text.as_bytes(), true) {
            Ok(doc) => doc,
            Err(malformed) => return format!("malformed: {malformed}"),
        };
        let v = |id: NodeId| {
            let mut out = Vec::new();
            doc.write_compact(id, &mut out);
            String::from_utf8(out).unwrap()
        };
        let opt = |id: Option<NodeId>| id.map_or_else(|| "-".to_owned(), v);
        let text_field = |t: Text| match t {
            Text::Default => "default".to_owned(),
            Text::Str(id) => v(id),
            Text::Json(id) => {
                let mut out = Vec::new();
                doc.write_compact(id, &mut out);
                format!("json {}", String::from_utf8(out).unwrap())
            }
        };
        let e = classify(&doc);
        let flags = e.flags();
        let body = match e {
            Event::Nothing => "nothing".to_owned(),
            Event::Malformed(m) => format!("malformed: {m}"),
            Event::Ready { webhook_id } => format!("ready {}", opt(webhook_id)),
            Event::SessionStarted { session_key } => {
                format!("session.started {}", opt(session_key))
            }
            Event::SessionEnded => "session.ended".to_owned(),
            Event::Error { message } => format!("error {}", text_field(message)),
            Event::NodeStarted { node_id } => format!("node.started {}", opt(node_id)),
            Event::NodeToken { node_id, text } => {
                format!("node.token {} {}", opt(node_id), v(text))
            }
            Event::NodeCompleted { node_id, duration_ms, output } => {
                let duration = match duration_ms {
                    Duration::None => "-".to_owned(),
                    Duration::Int(id) => v(id),
                    Duration::Rounded(f) => format!("{f}"),
                };
                format!("node.completed {} {duration} {}", opt(node_id), opt(output))
            }
            Event::NodeFailed { node_id, error } => {
                format!("node.failed {} {}", opt(node_id), opt(error))
            }
            Event::NodeEmit { node_id, kind, data, tool_call } => {
                format!("node.emit {} {} {} {tool_call}", opt(node_id), text_field(kind), opt(data))
            }
            Event::FlowCompleted { output } => format!("flow.completed {}", opt(output)),
            Event::FlowFailed { error } => format!("flow.failed {}", opt(error)),
            Event::Unknown { type_ } => format!("unknown {}", v(type_)),
        };
        format!("{body} [{flags}]")
    }

    #[test]
    fn execution_ids() {
        let mut tape = Tape::default();
        let doc = parse_message(
            &mut tape,
            br#"{"type":"node.started","data":{"execution_id":"exec_1"}}"#,
            false,
        )
        .unwrap();
        assert_eq!(execution_id(&doc), Some(&b"exec_1"[..]));
        for text in [
            &br#"{"type":"node.started","data":{"execution_id":""}}"#[..],
            br#"{"type":"node.started","data":{"execution_id":5}}"#,
            br#"{"type":"node.started","data":[1]}"#,
            br#"{"type":"node.started"}"#,
        ] {
            let doc = parse_message(&mut tape, text, false).unwrap();
            assert_eq!(execution_id(&doc), None);
        }
    }

    #[test]
    fn tokens() {
        let frame = r#"{"type":"node.token","node_id":"agent","session_key":"k","at":"2026-01-01T00:00:00Z","data":{"text":"Hola "}}"#;
        assert_eq!(event(frame), r#"node.token "agent" "Hola " [0]"#);
        // The first non-empty string among token, text, delta, content.
        assert_eq!(
            event(
                r#"{"type":"node.token","data":{"content":"c","delta":"d","text":"","token":5}}"#
            ),
            r#"node.token - "d" [0]"#
        );
        assert_eq!(
            event(r#"{"type":"node.token","data":{"token":"","text":null}}"#),
            "nothing [0]"
        );
        assert_eq!(event(r#"{"type":"node.token","data":"text"}"#), "nothing [0]");
        assert_eq!(
            event(r#"{"type":"node.token","node_id":7,"data":{"token":"t"}}"#),
            r#"node.token - "t" [0]"#
        );
    }

    #[test]
    fn control_entries() {
        assert_eq!(event(r#"{"type":"ready","webhook_id":"wh"}"#), r#"ready "wh" [1]"#);
        assert_eq!(event(r#"{"type":"ready","webhook_id":1}"#), "ready - [1]");
        assert_eq!(
            event(r#"{"type":"session.started","session_key":"py_1"}"#),
            r#"session.started "py_1" [1]"#
        );
        assert_eq!(event(r#"{"type":"session.started"}"#), "session.started - [1]");
        assert_eq!(event(r#"{"type":"session.ended"}"#), "session.ended [1]");
        assert_eq!(event(r#"{"type":"ping"}"#), "nothing [0]");
        assert_eq!(event(r#"{"type":"pong","at":"x"}"#), "nothing [0]");
    }

    #[test]
    fn errors() {
        assert_eq!(
            event(r#"{"type":"error","message":"no active session"}"#),
            r#"error "no active session" [0]"#
        );
        assert_eq!(event(r#"{"type":"error"}"#), "error default [0]");
        assert_eq!(event(r#"{"type":"error","message":null}"#), "error json null [0]");
        assert_eq!(
            event(r#"{"type":"error","message":{"code": 4, "a":[1.0]}}"#),
            r#"error json {"code":4,"a":[1.0]} [0]"#
        );
        assert_eq!(event(r#"{"type":"error","data":{"message":"inner"}}"#), "error default [0]");
    }

    #[test]
    fn node_lifecycle() {
        assert_eq!(event(r#"{"type":"node.started","node_id":"n"}"#), r#"node.started "n" [0]"#);
        assert_eq!(event(r#"{"type":"merge.progress","node_id":"m"}"#), r#"node.started "m" [0]"#);
        assert_eq!(
            event(
                r#"{"type":"node.completed","node_id":"n","data":{"duration_ms":42,"output":{"content":"Hola"}}}"#
            ),
            r#"node.completed "n" 42 {"content":"Hola"} [0]"#
        );
        assert_eq!(
            event(r#"{"type":"node.completed","data":{"duration_ms":"5","elapsed_ms":2.5}}"#),
            "node.completed - 2 - [0]"
        );
        assert_eq!(
            event(r#"{"type":"node.completed","data":{"duration_ms":3.5}}"#),
            "node.completed - 4 - [0]"
        );
        assert_eq!(
            event(r#"{"type":"node.completed","data":{"duration_ms":true,"elapsed_ms":null}}"#),
            "node.completed - - - [0]"
        );
        assert_eq!(
            event(r#"{"type":"node.completed","data":{"duration_ms":1e999,"elapsed_ms":3}}"#),
            "node.completed - - - [0]"
        );
        assert_eq!(
            event(
                r#"{"type":"node.completed","data":{"elapsed_ms":123456789012345678901234567890}}"#
            ),
            "node.completed - 123456789012345678901234567890 - [0]"
        );
        assert_eq!(
            event(r#"{"type":"node.failed","node_id":"n","data":{"error":"boom"}}"#),
            r#"node.failed "n" "boom" [0]"#
        );
        assert_eq!(
            event(r#"{"type":"node.failed","data":{"error":{"m":1}}}"#),
            "node.failed - - [0]"
        );
    }

    #[test]
    fn emits() {
        assert_eq!(
            event(
                r#"{"type":"node.emit","node_id":"agent","data":{"kind":"agent.tool_call_started","tool_name":"w"}}"#
            ),
            r#"node.emit "agent" "agent.tool_call_started" {"kind":"agent.tool_call_started","tool_name":"w"} true [2]"#
        );
        assert_eq!(
            event(r#"{"type":"node.emit","data":{"kind":"tool_progress"}}"#),
            r#"node.emit - "tool_progress" {"kind":"tool_progress"} false [0]"#
        );
        assert_eq!(event(r#"{"type":"node.emit"}"#), "node.emit - default - false [0]");
        assert_eq!(event(r#"{"type":"node.emit","data":[1]}"#), "node.emit - default - false [0]");
        assert_eq!(
            event(r#"{"type":"node.emit","data":{"kind":null}}"#).split(' ').nth(2),
            Some("default")
        );
        assert!(
            event(r#"{"type":"node.emit","data":{"kind":["a",1]}}"#).contains(r#"json ["a",1]"#)
        );
    }

    #[test]
    fn flows_and_unknown() {
        assert_eq!(
            event(r#"{"type":"flow.completed","data":{"output":null}}"#),
            "flow.completed null [4]"
        );
        assert_eq!(event(r#"{"type":"flow.completed"}"#), "flow.completed - [4]");
        assert_eq!(
            event(r#"{"type":"flow.failed","data":{"error":"LLM timeout"}}"#),
            r#"flow.failed "LLM timeout" [4]"#
        );
        assert_eq!(event(r#"{"type":"flow.failed","data":{"error":3}}"#), "flow.failed - [4]");
        assert_eq!(event(r#"{"type":"widget.thing","data":1}"#), r#"unknown "widget.thing" [0]"#);
        // Escaped type strings compare decoded; the last duplicate wins.
        assert_eq!(event(r#"{"type":"x","type":"node.starte\u0064"}"#), "node.started - [0]");
    }

    #[test]
    fn malformed_messages() {
        assert_eq!(event("[1]"), "malformed: message is not a JSON object [1]");
        assert_eq!(event("{}"), "malformed: message has no string \"type\" [1]");
        assert_eq!(event(r#"{"type":1}"#), "malformed: message has no string \"type\" [1]");
        assert_eq!(
            event(r#"{"type":"ready","x":NaN}"#),
            "malformed: message is not valid JSON: expected a value at byte 20"
        );
        let mut tape = Tape::new();
        assert_eq!(parse_message(&mut tape, b"\"\xff\"", true).err(), Some(Malformed::NotUtf8));
    }
}
