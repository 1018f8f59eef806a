//! The envelope mapping (Linktor realtime frames, `{"type": ..., "payload": {...}}`): any
//! message, with the default keys or keys taken from the input, gets the answer a plain
//! reading gives (last-wins lookups of the two keys): a string type and an object payload
//! (absent or `null` meaning empty), or the reason it is refused.
//!
//! Input: one byte; if it is odd, `type_key NUL payload_key NUL` follow (used when they are
//! UTF-8 and differ); then the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relaywire::envelope::{classify, Keys, Rejected};
use relaywire::json::{Doc, Node, Tape};
use relaywire::message::parse_message;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    let (keys, message) = if mode & 1 == 1 {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let (type_key, payload_key) = (parts.next().unwrap_or_default(), parts.next());
        let message = parts.next().unwrap_or_default();
        let keys = match (std::str::from_utf8(type_key), payload_key.map(std::str::from_utf8)) {
            (Ok(t), Some(Ok(p))) => match Keys::new(t, p) {
                Ok(keys) => keys,
                Err(_) => {
                    assert_eq!(t, p);
                    return;
                }
            },
            _ => return,
        };
        (keys, message)
    } else {
        (Keys::default(), rest)
    };
    let mut tape = Tape::new();
    let Ok(doc) = parse_message(&mut tape, message, true) else {
        return;
    };
    let ours = classify(&doc, &keys);
    assert_eq!(ours, reference(&doc, &keys));
    if let Err(rejected) = ours {
        // The reason names the keys and reads as text.
        let reason = rejected.describe(&keys).to_string();
        assert!(!reason.is_empty());
    }
});

fn reference(doc: &Doc<'_>, keys: &Keys) -> Result<relaywire::envelope::Envelope, Rejected> {
    let root = Doc::ROOT;
    if !matches!(doc.node(root), Node::Object(_)) {
        return Err(Rejected::NotAnObject);
    }
    let type_ = doc
        .get(root, keys.type_key().as_bytes())
        .filter(|&id| doc.as_str(id).is_some())
        .ok_or(Rejected::NoType)?;
    let payload = match doc.get(root, keys.payload_key().as_bytes()) {
        None => None,
        Some(id) => match doc.node(id) {
            Node::Null => None,
            Node::Object(_) => Some(id),
            _ => return Err(Rejected::PayloadNotObject),
        },
    };
    Ok(relaywire::envelope::Envelope { type_, payload })
}
