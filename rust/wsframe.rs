//! RFC 6455 frame parsing, client side: the frames a server sends (never masked, no extensions).
//!
//! [`FrameParser::feed`] takes bytes as they come off the socket and hands out complete data
//! messages (fragments reassembled) and raw control frames, in order. Frames that arrive whole
//! are read straight from the input; only an incomplete tail is copied, and only a fragmented
//! message is assembled in a buffer. Control frames are not interpreted: the caller passes
//! them on to a protocol implementation that answers pings and runs the closing handshake.

use std::fmt;

/// Close code for a protocol violation.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Close code for a text message that is not valid UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// Close code for a message larger than the configured limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;

const OP_CONTINUATION: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PONG: u8 = 10;

/// Longest payload a control frame may carry.
const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Longest header of an unmasked frame: 2 bytes plus a 64-bit length.
const MAX_HEADER: usize = 10;
/// Buffers keep up to this much memory between messages; a larger one is given back once
/// its message is done, so that one huge message does not pin memory for the connection.
const KEEP_BUFFER: usize = 64 * 1024;

fn clear_buffer(buffer: &mut Vec<u8>) {
    buffer.clear();
    buffer.shrink_to(KEEP_BUFFER);
}

/// A violation that ends the connection: the close code and reason to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: u16,
    pub reason: &'static str,
}

impl ProtocolError {
    const fn protocol(reason: &'static str) -> Self {
        Self { code: PROTOCOL_ERROR, reason }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

/// What the parser hands out, borrowed from the input or from its own buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete text message, checked to be UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A whole control frame (close, ping or pong), header included, as received.
    Control(&'a [u8]),
}

/// Why [`FrameParser::feed`] stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedError<E> {
    /// The server broke the protocol; the parser stays stopped until [`FrameParser::reset`].
    Protocol(ProtocolError),
    /// The frame callback failed; the rest of that input was not read.
    Callback(E),
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    opcode: u8,
    header_len: usize,
    payload_len: usize,
}

impl Header {
    fn frame_len(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// Bytes in the header whose second byte is `second`.
fn header_len(second: u8) -> usize {
    match second & 0x7f {
        126 => 4,
        127 => MAX_HEADER,
        _ => 2,
    }
}

/// Moves bytes from the front of `input` to `pending` until it holds `wanted` bytes; returns
/// the rest of `input`.
fn fill<'i>(pending: &mut Vec<u8>, wanted: usize, input: &'i [u8]) -> &'i [u8] {
    let n = wanted.saturating_sub(pending.len()).min(input.len());
    let (head, rest) = input.split_at(n);
    pending.extend_from_slice(head);
    rest
}

/// The RFC 6455 client-side frame parser.
#[derive(Debug)]
pub struct FrameParser {
    /// An incomplete frame, header included.
    pending: Vec<u8>,
    /// Payload of the fragmented message in progress.
    message: Vec<u8>,
    /// `Some(is_text)` while a fragmented message is in progress.
    fragmented: Option<bool>,
    max_message_size: u64,
    error: Option<ProtocolError>,
}

impl FrameParser {
    /// A parser that refuses messages (all fragments together) of more than
    /// `max_message_size` bytes.
    pub fn new(max_message_size: u64) -> Self {
        Self {
            pending: Vec::new(),
            message: Vec::new(),
            fragmented: None,
            max_message_size,
            error: None,
        }
    }

    pub fn max_message_size(&self) -> u64 {
        self.max_message_size
    }

    /// The error that stopped the parser, if any.
    pub fn error(&self) -> Option<ProtocolError> {
        self.error
    }

    /// Forgets partial frames, the fragmented message in progress and any error.
    pub fn reset(&mut self) {
        clear_buffer(&mut self.pending);
        clear_buffer(&mut self.message);
        self.fragmented = None;
        self.error = None;
    }

    /// Parses `input`, calling `on_frame` for every complete message and control frame in
    /// order. After a protocol error every later call fails with the same error.
    pub fn feed<E>(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if let Some(error) = self.error {
            return Err(FeedError::Protocol(error));
        }
        if !self.pending.is_empty() {
            let Some(rest) = self.complete_pending(input, &mut on_frame)? else {
                return Ok(());
            };
            input = rest;
        }
        while !input.is_empty() {
            let Some(header) = self.header(input)? else {
                self.pending.extend_from_slice(input);
                return Ok(());
            };
            let frame_len = header.frame_len();
            if input.len() < frame_len {
                self.pending.extend_from_slice(input);
                return Ok(());
            }
            let (frame, rest) = input.split_at(frame_len);
            self.dispatch(header, frame, &mut on_frame)?;
            input = rest;
        }
        Ok(())
    }

    /// Moves bytes from `input` into the pending frame until it is complete and dispatches it.
    /// Returns the unread input, or `None` if the frame is still incomplete.
    fn complete_pending<'i, E>(
        &mut self,
        mut input: &'i [u8],
        on_frame: &mut impl FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<Option<&'i [u8]>, FeedError<E>> {
        // First the header (at most MAX_HEADER bytes, so copying it is cheap), then the rest of
        // the frame.
        input = fill(&mut self.pending, 2, input);
        if self.pending.len() < 2 {
            return Ok(None);
        }
        let wanted = header_len(self.pending[1]);
        input = fill(&mut self.pending, wanted, input);
        let checked = self.check_header(&self.pending);
        let Some(header) = self.stop_on_error(checked)? else {
            return Ok(None);
        };
        input = fill(&mut self.pending, header.frame_len(), input);
        if self.pending.len() < header.frame_len() {
            return Ok(None);
        }
        let frame = std::mem::take(&mut self.pending);
        let result = self.dispatch(header, &frame, on_frame);
        self.pending = frame;
        clear_buffer(&mut self.pending);
        result.map(|()| Some(input))
    }

    /// Reads and checks the header at the start of `bytes`; `None` if it is incomplete. A
    /// complete but invalid header stops the parser.
    fn header<E>(&mut self, bytes: &[u8]) -> Result<Option<Header>, FeedError<E>> {
        let checked = self.check_header(bytes);
        self.stop_on_error(checked)
    }

    fn stop_on_error<T, E>(
        &mut self,
        checked: Result<T, ProtocolError>,
    ) -> Result<T, FeedError<E>> {
        checked.map_err(|error| {
            self.error = Some(error);
            FeedError::Protocol(error)
        })
    }

    fn check_header(&self, bytes: &[u8]) -> Result<Option<Header>, ProtocolError> {
        let [first, second, ..] = *bytes else {
            return Ok(None);
        };
        // What can be judged from the first two bytes is judged before waiting for more.
        if first & 0x70 != 0 {
            return Err(ProtocolError::protocol("reserved bits must be 0"));
        }
        if second & 0x80 != 0 {
            return Err(ProtocolError::protocol("server frames must not be masked"));
        }
        let fin = first & 0x80 != 0;
        let opcode = first & 0x0f;
        let is_control = opcode >= OP_CLOSE;
        match opcode {
            OP_CONTINUATION if self.fragmented.is_none() => {
                return Err(ProtocolError::protocol("unexpected continuation frame"));
            }
            OP_TEXT | OP_BINARY if self.fragmented.is_some() => {
                return Err(ProtocolError::protocol("expected a continuation frame"));
            }
            OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE..=OP_PONG => {}
            _ => return Err(ProtocolError::protocol("invalid opcode")),
        }
        if is_control && !fin {
            return Err(ProtocolError::protocol("fragmented control frame"));
        }
        let header_len = header_len(second);
        if bytes.len() < header_len {
            return Ok(None);
        }
        let payload_len = match header_len {
            2 => u64::from(second & 0x7f),
            4 => u64::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            _ => {
                let mut length = [0; 8];
                length.copy_from_slice(&bytes[2..MAX_HEADER]);
                let length = u64::from_be_bytes(length);
                if length >> 63 != 0 {
                    return Err(ProtocolError::protocol(
                        "frame length has the most significant bit set",
                    ));
                }
                length
            }
        };
        if is_control && payload_len > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::protocol("control frame too long"));
        }
        let so_far = if opcode == OP_CONTINUATION { self.message.len() as u64 } else { 0 };
        if !is_control && so_far.saturating_add(payload_len) > self.max_message_size {
            return Err(ProtocolError { code: MESSAGE_TOO_BIG, reason: "message too big" });
        }
        // Only reachable on a target whose memory cannot hold the frame.
        let Ok(payload_len) = usize::try_from(payload_len) else {
            return Err(ProtocolError { code: MESSAGE_TOO_BIG, reason: "message too big" });
        };
        Ok(Some(Header { fin, opcode, header_len, payload_len }))
    }

    /// Hands out a complete frame (`frame` is header + payload).
    fn dispatch<E>(
        &mut self,
        header: Header,
        frame: &[u8],
        on_frame: &mut impl FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let payload = &frame[header.header_len..];
        match header.opcode {
            OP_TEXT | OP_BINARY if header.fin => {
                let text = header.opcode == OP_TEXT;
                self.message_frame(text, payload, on_frame)
            }
            OP_TEXT | OP_BINARY => {
                self.fragmented = Some(header.opcode == OP_TEXT);
                self.message.clear();
                self.message.extend_from_slice(payload);
                Ok(())
            }
            OP_CONTINUATION => {
                self.message.extend_from_slice(payload);
                if !header.fin {
                    return Ok(());
                }
                let text = self.fragmented.take().unwrap_or(false);
                let message = std::mem::take(&mut self.message);
                let result = self.message_frame(text, &message, on_frame);
                self.message = message;
                clear_buffer(&mut self.message);
                result
            }
            _ => on_frame(Frame::Control(frame)).map_err(FeedError::Callback),
        }
    }

    fn message_frame<E>(
        &mut self,
        text: bool,
        payload: &[u8],
        on_frame: &mut impl FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let frame = if text {
            let checked = std::str::from_utf8(payload).map_err(|_| ProtocolError {
                code: INVALID_DATA,
                reason: "invalid UTF-8 in text message",
            });
            Frame::Text(self.stop_on_error(checked)?)
        } else {
            Frame::Binary(payload)
        };
        on_frame(frame).map_err(FeedError::Callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame, with the shortest length encoding unless `long` forces 64 bits.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(fin) << 7 | opcode];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xffff => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    fn frame64(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode, 127];
        out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Item {
        Text(String),
        Binary(Vec<u8>),
        Control(Vec<u8>),
    }

    fn feed_chunks(
        parser: &mut FrameParser,
        chunks: &[&[u8]],
    ) -> (Vec<Item>, Option<ProtocolError>) {
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
            if let Err(FeedError::Protocol(e)) = result {
                error = Some(e);
            }
        }
        (items, error)
    }

    fn stream() -> (Vec<u8>, Vec<Item>) {
        let big = vec![b'x'; 70_000];
        let medium = vec![b'y'; 300];
        let ping = frame(true, 9, b"hi");
        let pong = frame(true, 10, b"");
        let close = frame(true, 8, &[0x03, 0xe8, b'o', b'k']);
        let mut wire = Vec::new();
        wire.extend(frame(true, 1, b"{\"type\":\"a\"}"));
        wire.extend(frame(false, 1, b"he"));
        wire.extend(&ping);
        wire.extend(frame(false, 0, "llo é".as_bytes()));
        wire.extend(&pong);
        wire.extend(frame(true, 0, b"!"));
        wire.extend(frame(true, 2, &medium));
        wire.extend(frame64(1, b"long"));
        wire.extend(frame(true, 2, &big));
        wire.extend(frame(true, 1, b""));
        wire.extend(&close);
        let items = vec![
            Item::Text("{\"type\":\"a\"}".into()),
            Item::Control(ping),
            Item::Control(pong),
            Item::Text("hello é!".into()),
            Item::Binary(medium),
            Item::Text("long".into()),
            Item::Binary(big),
            Item::Text(String::new()),
            Item::Control(close),
        ];
        (wire, items)
    }

    #[test]
    fn whole_stream_in_one_call() {
        let (wire, expected) = stream();
        let (items, error) = feed_chunks(&mut FrameParser::new(u64::MAX), &[&wire]);
        assert_eq!(error, None);
        assert_eq!(items, expected);
    }

    #[test]
    fn every_split_point_and_byte_by_byte() {
        let (wire, expected) = stream();
        for cut in (0..wire.len()).step_by(7).chain(wire.len() - 20..wire.len()) {
            let (items, error) =
                feed_chunks(&mut FrameParser::new(u64::MAX), &[&wire[..cut], &wire[cut..]]);
            assert_eq!(error, None);
            assert_eq!(items, expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        let (items, error) = feed_chunks(&mut FrameParser::new(u64::MAX), &bytes);
        assert_eq!(error, None);
        assert_eq!(items, expected);
    }

    fn error_of(wire: &[u8]) -> Option<ProtocolError> {
        feed_chunks(&mut FrameParser::new(1000), &[wire]).1
    }

    #[test]
    fn protocol_errors() {
        let code = |wire: &[u8]| error_of(wire).map(|e| e.code);
        assert_eq!(code(&[0x81 | 0x40, 0]), Some(PROTOCOL_ERROR)); // RSV1
        assert_eq!(code(&[0x81 | 0x10, 0]), Some(PROTOCOL_ERROR)); // RSV3
        assert_eq!(code(&[0x81, 0x80, 1, 2, 3, 4]), Some(PROTOCOL_ERROR)); // masked
        assert_eq!(code(&[0x83, 0]), Some(PROTOCOL_ERROR)); // reserved opcode
        assert_eq!(code(&[0x8b, 0]), Some(PROTOCOL_ERROR));
        assert_eq!(code(&[0x09, 0]), Some(PROTOCOL_ERROR)); // fragmented ping
        assert_eq!(code(&frame(true, 9, &[0; 126])), Some(PROTOCOL_ERROR));
        assert_eq!(code(&frame(true, 0, b"x")), Some(PROTOCOL_ERROR)); // orphan continuation
        let mut wire = frame(false, 1, b"a");
        wire.extend(frame(true, 2, b"b"));
        assert_eq!(code(&wire), Some(PROTOCOL_ERROR)); // new message mid-fragment
        let mut top_bit = vec![0x82, 127];
        top_bit.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(code(&top_bit), Some(PROTOCOL_ERROR));
        assert_eq!(code(&frame(true, 1, &[0xff, 0xfe])), Some(INVALID_DATA));
        assert_eq!(code(&frame(true, 2, &[0xff, 0xfe])), None);
        // Valid, and exactly at the limit.
        assert_eq!(code(&frame(true, 9, &[0; 125])), None);
        assert_eq!(code(&frame(true, 2, &[0; 1000])), None);
    }

    #[test]
    fn oversize_is_caught_from_the_header() {
        // Only the header has arrived: the limit is checked before any payload is buffered.
        let mut parser = FrameParser::new(1000);
        let header = &frame(true, 2, &[0; 1001])[..4];
        let (_, error) = feed_chunks(&mut parser, &[header]);
        assert_eq!(error.map(|e| e.code), Some(MESSAGE_TOO_BIG));
        assert!(parser.pending.capacity() < 16);
        // Fragments count together.
        let mut wire = frame(false, 1, &[b'a'; 600]);
        wire.extend(&frame(true, 0, &[b'a'; 401])[..4]);
        assert_eq!(error_of(&wire).map(|e| e.code), Some(MESSAGE_TOO_BIG));
        let mut wire = frame(false, 1, &[b'a'; 600]);
        wire.extend(frame(true, 0, &[b'a'; 400]));
        assert_eq!(error_of(&wire), None);
        // A 64-bit length far beyond memory.
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
        assert_eq!(error_of(&huge).map(|e| e.code), Some(MESSAGE_TOO_BIG));
    }

    #[test]
    fn invalid_utf8_across_fragments() {
        let mut wire = frame(false, 1, &[0xc3]);
        wire.extend(frame(true, 0, &[0xa9]));
        let (items, error) = feed_chunks(&mut FrameParser::new(100), &[&wire]);
        assert_eq!(error, None);
        assert_eq!(items, vec![Item::Text("é".into())]);
        let mut wire = frame(false, 1, &[0xc3]);
        wire.extend(frame(true, 0, b"a"));
        assert_eq!(error_of(&wire).map(|e| e.code), Some(INVALID_DATA));
    }

    #[test]
    fn an_error_sticks_until_reset() {
        let mut parser = FrameParser::new(100);
        let mut wire = frame(true, 1, b"before");
        wire.extend([0x83, 0]);
        wire.extend(frame(true, 1, b"after"));
        let (items, error) = feed_chunks(&mut parser, &[&wire]);
        assert_eq!(items, vec![Item::Text("before".into())]);
        let error = error.expect("an error");
        assert_eq!(error.reason, "invalid opcode");
        let (items, again) = feed_chunks(&mut parser, &[&frame(true, 1, b"x")]);
        assert!(items.is_empty());
        assert_eq!(again, Some(error));
        parser.reset();
        assert_eq!(parser.error(), None);
        let (items, none) = feed_chunks(&mut parser, &[&frame(true, 1, b"x")]);
        assert_eq!((items, none), (vec![Item::Text("x".into())], None));
    }

    #[test]
    fn reset_forgets_partial_frames_and_fragments() {
        let mut parser = FrameParser::new(100);
        let mut wire = frame(false, 1, b"frag");
        wire.extend(&frame(true, 1, b"partial")[..3]);
        let _ = feed_chunks(&mut parser, &[&wire[..wire.len() - 3]]);
        parser.reset();
        let (items, error) = feed_chunks(&mut parser, &[&frame(true, 1, b"new")]);
        assert_eq!((items, error), (vec![Item::Text("new".into())], None));
    }

    #[test]
    fn big_messages_give_their_memory_back() {
        let mut parser = FrameParser::new(u64::MAX);
        let big = frame(true, 2, &vec![0; 1 << 20]);
        let (items, _) = feed_chunks(&mut parser, &[&big[..100], &big[100..]]);
        assert_eq!(items.len(), 1);
        let mut fragments = frame(false, 2, &vec![0; 1 << 20]);
        fragments.extend(frame(true, 0, b"end"));
        let (items, _) = feed_chunks(&mut parser, &[&fragments]);
        assert_eq!(items.len(), 1);
        assert!(parser.pending.capacity() <= KEEP_BUFFER);
        assert!(parser.message.capacity() <= KEEP_BUFFER);
    }

    #[test]
    fn callback_errors_stop_the_call() {
        let mut parser = FrameParser::new(100);
        let mut wire = frame(true, 1, b"a");
        wire.extend(frame(true, 1, b"b"));
        let mut seen = 0;
        let result = parser.feed(&wire, |_| {
            seen += 1;
            Err("stop")
        });
        assert_eq!(result, Err(FeedError::Callback("stop")));
        assert_eq!(seen, 1);
        assert_eq!(parser.error(), None);
    }
}
