//! The WebSocket frame parser: a byte stream fed in random chunks (and byte by byte) gives
//! exactly what the same stream fed in one piece gives: the same messages and control frames
//! in the same order, and the same protocol error at the same point.
//!
//! Input: two bytes of message size limit (0 to 65535), one byte seeding the chunk sizes, then
//! the stream as a server would send it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relaywire::wsframe::{FeedError, Frame, FrameParser, ProtocolError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Text(String),
    Binary(Vec<u8>),
    Control(Vec<u8>),
}

type Outcome = (Vec<Item>, Option<ProtocolError>);

fuzz_target!(|data: &[u8]| {
    let [low, high, seed, stream @ ..] = data else {
        return;
    };
    let max_message_size = u64::from(u16::from_le_bytes([*low, *high]));
    let whole = feed(&mut FrameParser::new(max_message_size), &[stream]);
    check(&whole, max_message_size);

    let chunks = random_chunks(stream, *seed);
    assert_eq!(feed(&mut FrameParser::new(max_message_size), &chunks), whole, "random chunks");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(feed(&mut FrameParser::new(max_message_size), &bytes), whole, "byte by byte");

    // After `reset` a used parser is as good as a new one.
    let mut parser = FrameParser::new(max_message_size);
    feed(&mut parser, &chunks[..chunks.len() / 2]);
    parser.reset();
    assert_eq!(feed(&mut parser, &[stream]), whole, "after reset");
});

fn feed(parser: &mut FrameParser, chunks: &[&[u8]]) -> Outcome {
    let mut items = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let result = parser.feed(chunk, |frame| {
            items.push(match frame {
                Frame::Text(text) => Item::Text(text.to_owned()),
                Frame::Binary(bytes) => Item::Binary(bytes.to_vec()),
                Frame::Control(raw) => Item::Control(raw.to_vec()),
            });
            Ok::<(), ()>(())
        });
        match result {
            Ok(()) => assert!(error.is_none(), "the parser went on after an error"),
            Err(FeedError::Protocol(e)) => {
                // Once stopped, it stays stopped with the same error.
                assert!(error.is_none_or(|first| first == e));
                assert_eq!(parser.error(), Some(e));
                error = Some(e);
            }
            Err(FeedError::Callback(())) => unreachable!("the callback never fails"),
        }
    }
    (items, error)
}

/// What every outcome must look like, whatever the input.
fn check((items, error): &Outcome, max_message_size: u64) {
    for item in items {
        match item {
            Item::Text(text) => assert!(text.len() as u64 <= max_message_size),
            Item::Binary(bytes) => assert!(bytes.len() as u64 <= max_message_size),
            Item::Control(raw) => {
                // A whole, final, unmasked close/ping/pong frame with at most 125 bytes of
                // payload (the length may be spelled in 2 or 8 bytes).
                assert!(raw.len() >= 2, "{raw:?}");
                assert!(raw[0] & 0x80 != 0 && matches!(raw[0] & 0x0f, 8..=10), "{raw:?}");
                let (header, payload) = match raw[1] {
                    126 => (4, u64::from(u16::from_be_bytes([raw[2], raw[3]]))),
                    127 => (10, u64::from_be_bytes(raw[2..10].try_into().unwrap())),
                    short => (2, u64::from(short)),
                };
                assert!(payload <= 125, "{raw:?}");
                assert_eq!(raw.len() as u64, header + payload, "{raw:?}");
            }
        }
    }
    if let Some(error) = error {
        assert!(matches!(error.code, 1002 | 1007 | 1009), "{error}");
    }
}

/// `stream` cut at pseudo-random points: mostly small pieces, sometimes empty or large ones.
fn random_chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = 0x9e37_79b9_u32 ^ u32::from(seed).wrapping_mul(0x0101_0101);
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = match state % 8 {
            0 => 0,
            1..=5 => 1 + (state >> 8) as usize % 16,
            _ => 1 + (state >> 8) as usize % 512,
        };
        let (head, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks
}
