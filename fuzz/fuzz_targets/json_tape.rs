//! The JSON tape against serde_json: the same documents accepted, the same values read.
//!
//! Any bytes go to `Tape::parse` (it must never panic, whatever a caller passes). UTF-8 input,
//! which is what the decoders hand it, is also parsed by serde_json (numbers kept as their
//! literals, objects in insertion order, no recursion limit) and the two must agree:
//! - on validity, except where the tape follows Python's `json.loads` on purpose: lone
//!   surrogate escapes (`"\ud800"`) are accepted, and nesting deeper than `MAX_DEPTH` is refused;
//! - on every value: integers (the tape's `i64` or big-integer literal), floats to the bit,
//!   strings byte for byte, arrays, and objects with duplicate keys collapsed as a dict does
//!   (first position, last value).
//!
//! The compact text the tape writes (`write_compact`) must parse back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relaywire::json::{Doc, ErrorKind, Node, NodeId, Tape, MAX_DEPTH};
use serde::Deserialize;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut tape = Tape::new();
    let ours = tape.parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let depth = bracket_depth(data);
    if let Err(error) = &ours {
        if error.kind == ErrorKind::TooDeep {
            assert!(depth > MAX_DEPTH, "TooDeep at depth {depth}");
            return;
        }
    }
    if depth > MAX_DEPTH {
        // serde_json would recurse that deep (and the tape refused it somewhere before).
        assert!(ours.is_err(), "a document nested {depth} deep was accepted");
        return;
    }
    if let Ok(doc) = &ours {
        check_strings(doc, Doc::ROOT);
        if has_key(doc, Doc::ROOT, SERDE_NUMBER_KEY) {
            return; // serde_json reads such an object as a number: no cross-check
        }
    }
    let theirs = serde_parse(text);
    match (ours, theirs) {
        (Ok(doc), Ok(value)) => {
            same(&doc, Doc::ROOT, &value);
            round_trip(&doc);
        }
        (Ok(doc), Err(error)) => {
            assert!(doc.has_surrogates(), "only the tape accepts it: serde_json says {error}");
            round_trip(&doc);
        }
        (Err(error), Ok(_)) => panic!("only serde_json accepts it: the tape says {error}"),
        (Err(_), Err(_)) => {}
    }
});

/// With `arbitrary_precision`, serde_json reads an object with this key as a number (the
/// fuzzer found that quirk of the reference, not of the tape).
const SERDE_NUMBER_KEY: &[u8] = b"$serde_json::private::Number";

fn has_key(doc: &Doc<'_>, id: NodeId, key: &[u8]) -> bool {
    match doc.node(id) {
        Node::Array(_) => doc.elements(id).any(|e| has_key(doc, e, key)),
        Node::Object(_) => {
            doc.entries(id).any(|(k, v)| doc.str_bytes(k) == key || has_key(doc, v, key))
        }
        _ => false,
    }
}

fn serde_parse(text: &str) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The deepest bracket nesting outside strings, counted naively (enough to know when serde_json
/// would recurse past the tape's limit, and to confirm a `TooDeep`).
fn bracket_depth(data: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in data {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// What the Python layer relies on when it builds `str` objects: a string flagged ASCII is
/// ASCII (its bytes are copied into a one-byte-per-character string), and the surrogate flag
/// says whether the bytes are UTF-8 or need `surrogatepass`.
fn check_strings(doc: &Doc<'_>, id: NodeId) {
    let check = |s: relaywire::json::Str| {
        let bytes = doc.str_bytes(s);
        assert_eq!(bytes.len(), s.byte_len());
        assert!(!s.is_ascii() || bytes.is_ascii(), "flagged ASCII: {bytes:?}");
        assert_eq!(std::str::from_utf8(bytes).is_err(), s.has_surrogates(), "{bytes:?}");
        if s.has_surrogates() {
            assert!(doc.has_surrogates());
        }
    };
    match doc.node(id) {
        Node::Str(s) => check(s),
        Node::Array(_) => doc.elements(id).for_each(|e| check_strings(doc, e)),
        Node::Object(_) => {
            for (key, value) in doc.entries(id) {
                check(key);
                check_strings(doc, value);
            }
        }
        _ => {}
    }
}

fn is_integer_literal(literal: &str) -> bool {
    !literal.contains(['.', 'e', 'E'])
}

/// The value at `id` equals serde_json's `value`.
fn same(doc: &Doc<'_>, id: NodeId, value: &Value) {
    match (doc.node(id), value) {
        (Node::Null, Value::Null) => {}
        (Node::Bool(a), Value::Bool(b)) => assert_eq!(a, *b),
        (Node::Int(int), Value::Number(number)) => {
            let literal = number.as_str();
            assert!(is_integer_literal(literal), "{literal} read as an integer");
            assert_eq!(literal.parse::<i64>().ok(), Some(int), "{literal}");
        }
        (Node::BigInt { start, len }, Value::Number(number)) => {
            let literal = number.as_str();
            assert_eq!(doc.big_int_literal(start, len), literal.as_bytes());
            assert!(is_integer_literal(literal) && literal.parse::<i64>().is_err(), "{literal}");
        }
        (Node::Float(float), Value::Number(number)) => {
            let literal = number.as_str();
            assert!(!is_integer_literal(literal), "{literal} read as a float");
            let expected: f64 = literal.parse().expect("a JSON number parses as f64");
            assert_eq!(float.to_bits(), expected.to_bits(), "{literal}");
        }
        (Node::Str(s), Value::String(string)) => {
            assert_eq!(doc.str_bytes(s), string.as_bytes());
            assert!(!s.has_surrogates());
        }
        (Node::Array(container), Value::Array(items)) => {
            assert_eq!(container.len as usize, items.len());
            let elements: Vec<NodeId> = doc.elements(id).collect();
            assert_eq!(elements.len(), items.len());
            for (element, item) in elements.into_iter().zip(items) {
                same(doc, element, item);
            }
        }
        (Node::Object(container), Value::Object(map)) => {
            assert_eq!(container.len as usize, doc.entries(id).count());
            let unique = doc.unique_entries(id);
            assert_eq!(unique.len(), map.len());
            for ((key, value_id), (name, item)) in unique.into_iter().zip(map) {
                assert_eq!(doc.str_bytes(key), name.as_bytes());
                assert_eq!(doc.get(id, name.as_bytes()), Some(value_id), "get({name:?})");
                same(doc, value_id, item);
            }
        }
        (node, value) => panic!("the tape read {node:?} where serde_json read {value}"),
    }
}

/// `write_compact` writes text the tape reads back as the same values (unless it holds a
/// float that JSON cannot spell: Python writes `Infinity`).
fn round_trip(doc: &Doc<'_>) {
    let mut compact = Vec::new();
    doc.write_compact(Doc::ROOT, &mut compact);
    let mut tape = Tape::new();
    match tape.parse(&compact) {
        Ok(again) => same_docs(doc, Doc::ROOT, &again, Doc::ROOT),
        Err(error) => assert!(
            has_infinity(doc, Doc::ROOT),
            "compact text refused ({error}): {}",
            String::from_utf8_lossy(&compact)
        ),
    }
}

fn has_infinity(doc: &Doc<'_>, id: NodeId) -> bool {
    match doc.node(id) {
        Node::Float(value) => value.is_infinite(),
        Node::Array(_) => doc.elements(id).any(|e| has_infinity(doc, e)),
        Node::Object(_) => doc.unique_entries(id).into_iter().any(|(_, v)| has_infinity(doc, v)),
        _ => false,
    }
}

fn same_docs(a: &Doc<'_>, a_id: NodeId, b: &Doc<'_>, b_id: NodeId) {
    match (a.node(a_id), b.node(b_id)) {
        (Node::Str(x), Node::Str(y)) => assert_eq!(a.str_bytes(x), b.str_bytes(y)),
        (Node::BigInt { start, len }, Node::BigInt { start: s, len: l }) => {
            assert_eq!(a.big_int_literal(start, len), b.big_int_literal(s, l));
        }
        (Node::Float(x), Node::Float(y)) => assert_eq!(x.to_bits(), y.to_bits()),
        (Node::Array(_), Node::Array(_)) => {
            let (xs, ys): (Vec<_>, Vec<_>) =
                (a.elements(a_id).collect(), b.elements(b_id).collect());
            assert_eq!(xs.len(), ys.len());
            for (x, y) in xs.into_iter().zip(ys) {
                same_docs(a, x, b, y);
            }
        }
        (Node::Object(_), Node::Object(_)) => {
            let (xs, ys) = (a.unique_entries(a_id), b.unique_entries(b_id));
            assert_eq!(xs.len(), ys.len());
            for ((xk, xv), (yk, yv)) in xs.into_iter().zip(ys) {
                assert_eq!(a.str_bytes(xk), b.str_bytes(yk));
                same_docs(a, xv, b, yv);
            }
        }
        (x, y) => assert_eq!(x, y),
    }
}
