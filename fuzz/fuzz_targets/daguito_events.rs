//! The Daguito event mapping: any message (a binary one must be UTF-8, a text one is) becomes
//! the event that a plain reading of the protocol gives (written here with `Doc::get`, the way
//! the Python reference in tests/_stream_reference.py reads a dict), names only nodes of the
//! right kind, and sets the flags its kind calls for.
//!
//! Input: one byte choosing a binary (check UTF-8) or text message, then the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relaywire::daguito::{
    self, classify, parse_message, Duration, Event, Malformed, Text, FLAG_CONTROL, FLAG_TOOL_CALL,
    FLAG_TURN_END, TOKEN_KEYS, TOOL_CALL_KIND,
};
use relaywire::json::{Doc, Node, NodeId, Tape};

fuzz_target!(|data: &[u8]| {
    let [mode, message @ ..] = data else {
        return;
    };
    let binary = mode & 1 == 1;
    if !binary && std::str::from_utf8(message).is_err() {
        return; // the frame parser only hands out UTF-8 text messages
    }
    let mut tape = Tape::new();
    let doc = match parse_message(&mut tape, message, binary) {
        Ok(doc) => doc,
        Err(Malformed::NotUtf8) => {
            assert!(std::str::from_utf8(message).is_err());
            return;
        }
        Err(_) => return,
    };
    let event = classify(&doc);
    let expected = reference(&doc);
    assert_eq!(describe(&doc, &event), expected);
    assert_eq!(event.flags(), reference_flags(&expected), "{expected}");
    if let Some(id) = daguito::execution_id(&doc) {
        assert!(!id.is_empty());
        let data = doc.get(Doc::ROOT, b"data").expect("data");
        let found = doc.get(data, b"execution_id").and_then(|id| doc.as_str(id)).expect("a str");
        assert_eq!(doc.str_bytes(found), id);
    }
});

fn compact(doc: &Doc<'_>, id: NodeId) -> String {
    let mut out = Vec::new();
    doc.write_compact(id, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn string(doc: &Doc<'_>, id: NodeId) -> String {
    let s = doc.as_str(id).expect("a string node");
    format!("str {:?}", doc.str_bytes(s))
}

fn object(doc: &Doc<'_>, id: Option<NodeId>) -> String {
    match id {
        None => "{}".to_owned(),
        Some(id) => {
            assert!(matches!(doc.node(id), Node::Object(_)));
            compact(doc, id)
        }
    }
}

fn optional(doc: &Doc<'_>, id: Option<NodeId>, or: &str) -> String {
    id.map_or_else(|| or.to_owned(), |id| string(doc, id))
}

fn text(doc: &Doc<'_>, value: Text, or: &str) -> String {
    match value {
        Text::Default => or.to_owned(),
        Text::Str(id) => string(doc, id),
        Text::Json(id) => {
            // Only an error's message may be `null` written out; a `node.emit` kind of null
            // is the default.
            assert!(doc.as_str(id).is_none());
            assert!(doc.node(id) != Node::Null || or == "error");
            format!("json {}", compact(doc, id))
        }
    }
}

/// The event with its nodes written out.
fn describe(doc: &Doc<'_>, event: &Event) -> String {
    match *event {
        Event::Nothing => "nothing".to_owned(),
        Event::Malformed(m) => format!("malformed {m}"),
        Event::Ready { webhook_id } => format!("ready {}", optional(doc, webhook_id, "default")),
        Event::SessionStarted { session_key } => {
            format!("session.started {}", optional(doc, session_key, "none"))
        }
        Event::SessionEnded => "session.ended".to_owned(),
        Event::Error { message } => format!("error {}", text(doc, message, "error")),
        Event::NodeStarted { node_id } => format!("node.started {}", optional(doc, node_id, "")),
        Event::NodeToken { node_id, text } => {
            let s = doc.as_str(text).expect("token text is a string");
            assert!(s.byte_len() > 0);
            format!("node.token {} {}", optional(doc, node_id, ""), string(doc, text))
        }
        Event::NodeCompleted { node_id, duration_ms, output } => {
            let duration = match duration_ms {
                Duration::None => "none".to_owned(),
                Duration::Int(id) => {
                    assert!(matches!(doc.node(id), Node::Int(_) | Node::BigInt { .. }));
                    compact(doc, id)
                }
                Duration::Rounded(value) => {
                    assert!(value.is_finite() && value == value.trunc());
                    format!("{value:.0}")
                }
            };
            let output = output.map_or_else(|| "absent".to_owned(), |id| compact(doc, id));
            format!("node.completed {} {duration} {output}", optional(doc, node_id, ""))
        }
        Event::NodeFailed { node_id, error } => {
            format!("node.failed {} {}", optional(doc, node_id, ""), optional(doc, error, "none"))
        }
        Event::NodeEmit { node_id, kind, data, tool_call } => format!(
            "node.emit {} {} {} {tool_call}",
            optional(doc, node_id, ""),
            text(doc, kind, ""),
            object(doc, data)
        ),
        Event::FlowCompleted { output } => {
            format!(
                "flow.completed {}",
                output.map_or_else(|| "absent".into(), |id| compact(doc, id))
            )
        }
        Event::FlowFailed { error } => format!("flow.failed {}", optional(doc, error, "none")),
        Event::Unknown { type_ } => format!("unknown {}", string(doc, type_)),
    }
}

/// The same, read field by field with last-wins lookups.
fn reference(doc: &Doc<'_>) -> String {
    let root = Doc::ROOT;
    if !matches!(doc.node(root), Node::Object(_)) {
        return format!("malformed {}", Malformed::NotAnObject);
    }
    let get_str = |parent: Option<NodeId>, key: &[u8]| {
        parent.and_then(|p| doc.get(p, key)).filter(|&id| doc.as_str(id).is_some())
    };
    let Some(kind) = get_str(Some(root), b"type") else {
        return format!("malformed {}", Malformed::NoType);
    };
    let kind = doc.str_bytes(doc.as_str(kind).unwrap());
    let node_id = optional(doc, get_str(Some(root), b"node_id"), "");
    let data = doc.get(root, b"data").filter(|&id| matches!(doc.node(id), Node::Object(_)));
    let data_value = |key: &[u8]| data.and_then(|d| doc.get(d, key));
    let output = || data_value(b"output").map_or_else(|| "absent".into(), |id| compact(doc, id));
    match kind {
        b"node.token" => {
            let token = TOKEN_KEYS.iter().find_map(|key| {
                get_str(data, key).filter(|&id| doc.as_str(id).unwrap().byte_len() > 0)
            });
            match token {
                Some(id) => format!("node.token {node_id} {}", string(doc, id)),
                None => "nothing".to_owned(),
            }
        }
        b"ready" => {
            format!("ready {}", optional(doc, get_str(Some(root), b"webhook_id"), "default"))
        }
        b"session.started" => {
            format!(
                "session.started {}",
                optional(doc, get_str(Some(root), b"session_key"), "none")
            )
        }
        b"session.ended" => "session.ended".to_owned(),
        b"ping" | b"pong" => "nothing".to_owned(),
        b"error" => match doc.get(root, b"message") {
            None => "error error".to_owned(),
            Some(id) if doc.as_str(id).is_some() => format!("error {}", string(doc, id)),
            Some(id) => format!("error json {}", compact(doc, id)),
        },
        b"node.started" | b"merge.progress" => format!("node.started {node_id}"),
        b"node.completed" => {
            let number = |key: &[u8]| {
                data_value(key).filter(|&id| {
                    matches!(doc.node(id), Node::Int(_) | Node::BigInt { .. } | Node::Float(_))
                })
            };
            let duration = match number(b"duration_ms").or_else(|| number(b"elapsed_ms")) {
                None => "none".to_owned(),
                Some(id) => match doc.node(id) {
                    Node::Float(value) if value.is_finite() => {
                        format!("{:.0}", value.round_ties_even())
                    }
                    Node::Float(_) => "none".to_owned(),
                    _ => compact(doc, id),
                },
            };
            format!("node.completed {node_id} {duration} {}", output())
        }
        b"node.failed" => {
            format!("node.failed {node_id} {}", optional(doc, get_str(data, b"error"), "none"))
        }
        b"node.emit" => {
            let (kind_text, tool_call) = match data_value(b"kind") {
                None => (String::new(), false),
                Some(id) if doc.node(id) == Node::Null => (String::new(), false),
                Some(id) => match doc.as_str(id) {
                    Some(s) => (string(doc, id), doc.str_bytes(s) == TOOL_CALL_KIND),
                    None => (format!("json {}", compact(doc, id)), false),
                },
            };
            format!("node.emit {node_id} {kind_text} {} {tool_call}", object(doc, data))
        }
        b"flow.completed" => format!("flow.completed {}", output()),
        b"flow.failed" => format!("flow.failed {}", optional(doc, get_str(data, b"error"), "none")),
        _ => format!("unknown str {kind:?}"),
    }
}

/// The flags the reference's event calls for.
fn reference_flags(described: &str) -> u8 {
    match described.split(' ').next() {
        Some("malformed" | "ready" | "session.started" | "session.ended") => FLAG_CONTROL,
        Some("node.emit") if described.ends_with(" true") => FLAG_TOOL_CALL,
        Some("flow.completed" | "flow.failed") => FLAG_TURN_END,
        _ => 0,
    }
}
