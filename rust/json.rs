//! A strict JSON parser onto a flat, reusable tape.
//!
//! It accepts exactly what Python's `json.loads` accepts when `NaN`, `Infinity` and
//! `-Infinity` are refused: RFC 8259 JSON with only ` \t\n\r` as whitespace, no control
//! characters inside strings, and lone surrogate escapes (`"\ud800"`) kept as they are.
//!
//! Parsing builds no tree of allocations: every value is one [`Node`] in a vector that is
//! reused from one document to the next, strings without escapes are borrowed from the input,
//! and decoded strings share one scratch buffer. A caller can then look at the parts it needs
//! (the envelope of a message) and convert only those, which is what makes it cheaper than
//! building a whole object tree. Strings are stored as WTF-8 (UTF-8 that may also encode
//! surrogate code points) with flags saying whether they are ASCII or hold surrogates.

use std::fmt;

/// Containers nested deeper than this are refused, so that no input can exhaust the stack of
/// a recursive consumer.
pub const MAX_DEPTH: usize = 512;

/// The index of a node in a [`Doc`].
pub type NodeId = u32;

/// A decoded string: where its bytes are and what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str {
    start: u32,
    len: u32,
    flags: u8,
}

const IN_SCRATCH: u8 = 1;
const NON_ASCII: u8 = 2;
const SURROGATES: u8 = 4;

impl Str {
    /// Every character is ASCII (the bytes can be copied into a 1-byte-per-character string).
    pub fn is_ascii(self) -> bool {
        self.flags & NON_ASCII == 0
    }

    /// The bytes encode at least one lone surrogate, so they are WTF-8 rather than UTF-8.
    pub fn has_surrogates(self) -> bool {
        self.flags & SURROGATES != 0
    }

    pub fn byte_len(self) -> usize {
        self.len as usize
    }
}

/// A container's size and extent: its children are the nodes up to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    /// Elements of an array, or key/value pairs of an object.
    pub len: u32,
    end: u32,
}

/// One JSON value. An object's node is followed by its entries, each a key (a `Str` node)
/// then the value's nodes; an array's node is followed by its elements' nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// An integer beyond `i64`: its literal (an optional `-` and digits) is in the input.
    BigInt {
        start: u32,
        len: u32,
    },
    Float(f64),
    Str(Str),
    Array(Container),
    Object(Container),
}

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnexpectedEnd,
    /// A character that cannot start a value here (including `NaN` and `Infinity`).
    ExpectedValue,
    ExpectedKey,
    ExpectedColon,
    ExpectedCommaOrBrace,
    ExpectedCommaOrBracket,
    ControlCharacterInString,
    InvalidEscape,
    InvalidNumber,
    TrailingData,
    TooDeep,
    TooLarge,
}

/// A refusal and the byte offset where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::UnexpectedEnd => "unexpected end of data",
            ErrorKind::ExpectedValue => "expected a value",
            ErrorKind::ExpectedKey => "expected a property name in double quotes",
            ErrorKind::ExpectedColon => "expected ':'",
            ErrorKind::ExpectedCommaOrBrace => "expected ',' or '}'",
            ErrorKind::ExpectedCommaOrBracket => "expected ',' or ']'",
            ErrorKind::ControlCharacterInString => "control character in string",
            ErrorKind::InvalidEscape => "invalid escape",
            ErrorKind::InvalidNumber => "invalid number",
            ErrorKind::TrailingData => "extra data after the value",
            ErrorKind::TooDeep => {
                return write!(f, "nesting deeper than {MAX_DEPTH} at byte {}", self.offset)
            }
            ErrorKind::TooLarge => return f.write_str("document larger than 4 GiB"),
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The reusable buffers of the parser. [`Tape::parse`] returns a [`Doc`] that borrows them.
#[derive(Debug, Default)]
pub struct Tape {
    nodes: Vec<Node>,
    scratch: Vec<u8>,
    open: Vec<Open>,
    max_int_digits: usize,
    max_depth: usize,
    surrogates: bool,
}

/// A container being parsed: its node, and its element count so far.
#[derive(Debug, Clone, Copy)]
struct Open {
    id: NodeId,
    len: u32,
    is_object: bool,
}

/// A parsed document: the tape and the input it points into.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    nodes: &'a [Node],
    scratch: &'a [u8],
    input: &'a [u8],
    max_int_digits: usize,
    max_depth: usize,
    surrogates: bool,
}

/// Parsed documents kept after their tape moved on to the next one (copying the nodes costs
/// less than parsing again), one after the other in three buffers: a socket read's worth of
/// documents costs three allocations, not three each. A [`DocRange`] names one of them.
#[derive(Debug, Clone, Default)]
pub struct DocBatch {
    nodes: Vec<Node>,
    scratch: Vec<u8>,
    input: Vec<u8>,
}

/// Where one document of a [`DocBatch`] is, and what [`Doc`] knew about it.
#[derive(Debug, Clone, Copy)]
pub struct DocRange {
    nodes: (usize, usize),
    scratch: (usize, usize),
    input: (usize, usize),
    max_int_digits: usize,
    max_depth: usize,
    surrogates: bool,
}

impl DocBatch {
    /// An empty batch with room for a little more than `like` holds (reads of a steady
    /// stream then seldom grow theirs), up to about 1 MiB a buffer.
    pub fn with_room_of(like: &Self) -> Self {
        const ROOM: usize = 1 << 20;
        let room = |len: usize, size: usize| (len + len / 8).min(ROOM / size);
        Self {
            nodes: Vec::with_capacity(room(like.nodes.len(), std::mem::size_of::<Node>())),
            scratch: Vec::with_capacity(room(like.scratch.len(), 1)),
            input: Vec::with_capacity(room(like.input.len(), 1)),
        }
    }

    /// Gives back the room it did not use, when that is more than a quarter of what it holds
    /// (a few frames read after a burst must not each keep a burst's room alive).
    pub fn fit(&mut self) {
        fn fit<T>(part: &mut Vec<T>) {
            if part.capacity() - part.len() > part.len() / 4 {
                part.shrink_to_fit();
            }
        }
        fit(&mut self.nodes);
        fit(&mut self.scratch);
        fit(&mut self.input);
    }

    /// Copies `doc` in (its node ids and string offsets are relative to its own parts, so
    /// they stay right in the slices [`DocBatch::doc`] gives back).
    pub fn push(&mut self, doc: &Doc<'_>) -> DocRange {
        fn append<T: Copy>(to: &mut Vec<T>, part: &[T]) -> (usize, usize) {
            let start = to.len();
            to.extend_from_slice(part);
            (start, to.len())
        }
        DocRange {
            nodes: append(&mut self.nodes, doc.nodes),
            scratch: append(&mut self.scratch, doc.scratch),
            input: append(&mut self.input, doc.input),
            max_int_digits: doc.max_int_digits,
            max_depth: doc.max_depth,
            surrogates: doc.surrogates,
        }
    }

    /// The document at `range` (a range this batch gave).
    pub fn doc(&self, range: &DocRange) -> Doc<'_> {
        Doc {
            nodes: &self.nodes[range.nodes.0..range.nodes.1],
            scratch: &self.scratch[range.scratch.0..range.scratch.1],
            input: &self.input[range.input.0..range.input.1],
            max_int_digits: range.max_int_digits,
            max_depth: range.max_depth,
            surrogates: range.surrogates,
        }
    }
}

/// Two words that, with the length, identify up to 16 bytes exactly: the first and last 8
/// (or 4, or single) bytes overlap to cover them all.
#[inline]
pub fn fingerprint(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    let word = |at: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |at: usize| {
        let mut w = [0; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    match n {
        8.. => (word(0), word(n - 8)),
        4..=7 => (half(0), half(n - 4)),
        1..=3 => {
            let [first, middle, last] = [bytes[0], bytes[n / 2], bytes[n - 1]].map(u64::from);
            (first | middle << 8 | last << 16, 0)
        }
        0 => (0, 0),
    }
}

/// Whether two byte strings are equal. Keys and type names are short: up to 16 bytes their
/// [`fingerprint`]s decide, in at most four loads, which costs less than a call to `memcmp`.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && if a.len() <= 16 { fingerprint(a) == fingerprint(b) } else { a == b }
}

type Result<T> = std::result::Result<T, ParseError>;

const fn err<T>(kind: ErrorKind, offset: usize) -> Result<T> {
    Err(ParseError { kind, offset })
}

/// Bytes that end the fast scan of a string: a quote, a backslash or a control character.
const fn string_stops() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
}
static STRING_STOP: [bool; 256] = string_stops();

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in the lowest byte of `word` that is a quote, a backslash or
/// below 0x20 (higher bytes may be flagged falsely, only above a true one).
#[inline]
fn stop_mask(word: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
}

/// For 16 bytes: a bit per byte that is a quote, a backslash or below 0x20, and a bit per
/// byte that is not ASCII.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn scan16(chunk: &[u8]) -> (u32, u32) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads 16 bytes, which `chunk`
    // has, and needs no alignment.
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `v <= 0x1f`: the maximum with 0x1f is 0x1f.
        let limit = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
        let stops = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        (_mm_movemask_epi8(stops) as u32, _mm_movemask_epi8(v) as u32)
    }
}

/// The portable form of the x86_64 `scan16`, from two SWAR words. Only the lowest stop bit
/// is exact (bits above it may be set falsely), which is the only one the caller reads.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn scan16(chunk: &[u8]) -> (u32, u32) {
    let word = |at: usize| u64::from_le_bytes(chunk[at..at + 8].try_into().expect("8 bytes"));
    let bits =
        |mask: u64| (0..8).fold(0u32, |bits, i| bits | (((mask >> (i * 8 + 7)) & 1) as u32) << i);
    let (low, high) = (word(0), word(8));
    let stops = bits(stop_mask(low)) | bits(stop_mask(high)) << 8;
    (stops, bits(low & HIGHS) | bits(high & HIGHS) << 8)
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    let mut value = 0;
    for &b in bytes.get(..4)? {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | u32::from(digit);
    }
    Some(value)
}

/// Appends code point `cp` (which may be a surrogate) as WTF-8.
fn push_wtf8(out: &mut Vec<u8>, cp: u32) {
    // The casts keep the low bits on purpose.
    #[allow(clippy::cast_possible_truncation)]
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
    }
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline(always)]
fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    // Compact JSON has no whitespace: one comparison in the common case.
    while let Some(&b) = input.get(pos) {
        if b > b' ' || !is_whitespace(b) {
            break;
        }
        pos += 1;
    }
    pos
}

/// An offset or count within a document, which [`Tape::parse`] limits to `u32::MAX` bytes
/// (every node spans at least one byte, and decoded strings are never longer than encoded).
#[inline(always)]
#[allow(clippy::cast_possible_truncation)]
fn to_u32(value: usize) -> u32 {
    debug_assert!(u32::try_from(value).is_ok());
    value as u32
}

impl Tape {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one JSON document. `input` should be UTF-8 (a caller checks that first): bytes
    /// are copied as they are, and strings are only flagged ASCII when they are.
    pub fn parse<'a>(&'a mut self, input: &'a [u8]) -> Result<Doc<'a>> {
        self.nodes.clear();
        self.scratch.clear();
        self.open.clear();
        self.max_int_digits = 0;
        self.max_depth = 0;
        self.surrogates = false;
        if u32::try_from(input.len()).is_err() {
            return err(ErrorKind::TooLarge, 0);
        }
        self.parse_document(input)?;
        Ok(Doc {
            nodes: &self.nodes,
            scratch: &self.scratch,
            input,
            max_int_digits: self.max_int_digits,
            max_depth: self.max_depth,
            surrogates: self.surrogates,
        })
    }

    /// Frees memory held after an unusually large document.
    pub fn shrink(&mut self, max_bytes: usize) {
        let max_nodes = max_bytes / std::mem::size_of::<Node>();
        if self.nodes.capacity() > max_nodes {
            self.nodes = Vec::new();
        }
        if self.scratch.capacity() > max_bytes {
            self.scratch = Vec::new();
        }
    }

    fn parse_document(&mut self, input: &[u8]) -> Result<()> {
        let mut pos = skip_ws(input, 0);
        'value: loop {
            let Some(&byte) = input.get(pos) else {
                return err(ErrorKind::UnexpectedEnd, pos);
            };
            match byte {
                b'"' => pos = self.string(input, pos + 1)?,
                b'{' | b'[' => {
                    if self.open.len() >= MAX_DEPTH {
                        return err(ErrorKind::TooDeep, pos);
                    }
                    let is_object = byte == b'{';
                    self.max_depth = self.max_depth.max(self.open.len() + 1);
                    let id = to_u32(self.nodes.len());
                    // The length and end are filled in when it closes.
                    let empty = Container { len: 0, end: 0 };
                    self.nodes.push(if is_object {
                        Node::Object(empty)
                    } else {
                        Node::Array(empty)
                    });
                    pos = skip_ws(input, pos + 1);
                    let close = if is_object { b'}' } else { b']' };
                    if input.get(pos) == Some(&close) {
                        self.close(Open { id, len: 0, is_object });
                        pos += 1;
                    } else {
                        self.open.push(Open { id, len: 0, is_object });
                        if is_object {
                            pos = self.key(input, pos)?;
                        }
                        continue 'value;
                    }
                }
                b'-' | b'0'..=b'9' => pos = self.number(input, pos)?,
                b't' => pos = self.literal(input, pos, b"true", Node::Bool(true))?,
                b'f' => pos = self.literal(input, pos, b"false", Node::Bool(false))?,
                b'n' => pos = self.literal(input, pos, b"null", Node::Null)?,
                _ => return err(ErrorKind::ExpectedValue, pos),
            }
            // A value is complete: count it in its container, then close containers until
            // one continues with another element.
            loop {
                let Some(parent) = self.open.last_mut() else {
                    pos = skip_ws(input, pos);
                    return if pos == input.len() {
                        Ok(())
                    } else {
                        err(ErrorKind::TrailingData, pos)
                    };
                };
                parent.len += 1;
                let is_object = parent.is_object;
                pos = skip_ws(input, pos);
                match (input.get(pos), is_object) {
                    (Some(b','), true) => {
                        pos = self.key(input, skip_ws(input, pos + 1))?;
                        continue 'value;
                    }
                    (Some(b','), false) => {
                        pos = skip_ws(input, pos + 1);
                        continue 'value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        let open = self.open.pop().expect("a container is open");
                        self.close(open);
                        pos += 1;
                    }
                    (None, _) => return err(ErrorKind::UnexpectedEnd, pos),
                    (Some(_), true) => return err(ErrorKind::ExpectedCommaOrBrace, pos),
                    (Some(_), false) => return err(ErrorKind::ExpectedCommaOrBracket, pos),
                }
            }
        }
    }

    /// Writes a closed container's length and extent into its node.
    fn close(&mut self, open: Open) {
        let end = to_u32(self.nodes.len());
        if let Node::Object(container) | Node::Array(container) = &mut self.nodes[open.id as usize]
        {
            *container = Container { len: open.len, end };
        }
    }

    /// Parses `"key"` and `:` at `pos` and skips the whitespace after them.
    #[inline(always)]
    fn key(&mut self, input: &[u8], pos: usize) -> Result<usize> {
        match input.get(pos) {
            Some(b'"') => {}
            None => return err(ErrorKind::UnexpectedEnd, pos),
            Some(_) => return err(ErrorKind::ExpectedKey, pos),
        }
        let pos = skip_ws(input, self.string(input, pos + 1)?);
        match input.get(pos) {
            Some(b':') => Ok(skip_ws(input, pos + 1)),
            None => err(ErrorKind::UnexpectedEnd, pos),
            Some(_) => err(ErrorKind::ExpectedColon, pos),
        }
    }

    #[inline]
    fn literal(&mut self, input: &[u8], pos: usize, word: &[u8], node: Node) -> Result<usize> {
        if input[pos..].starts_with(word) {
            self.nodes.push(node);
            Ok(pos + word.len())
        } else {
            err(ErrorKind::ExpectedValue, pos)
        }
    }

    #[inline]
    fn number(&mut self, input: &[u8], start: usize) -> Result<usize> {
        let digits_from = |mut pos: usize| {
            while input.get(pos).is_some_and(u8::is_ascii_digit) {
                pos += 1;
            }
            pos
        };
        let negative = input[start] == b'-';
        let int_start = start + usize::from(negative);
        let int_end = match input.get(int_start) {
            Some(b'0') => int_start + 1,
            Some(b'1'..=b'9') => digits_from(int_start + 1),
            // `-` alone, or `-Infinity`.
            _ => return err(ErrorKind::ExpectedValue, start),
        };
        let mut end = int_end;
        let mut is_float = false;
        if input.get(end) == Some(&b'.') && input.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end = digits_from(end + 1);
            is_float = true;
        }
        if matches!(input.get(end), Some(b'e' | b'E')) {
            let digits = end + 1 + usize::from(matches!(input.get(end + 1), Some(b'+' | b'-')));
            if input.get(digits).is_some_and(u8::is_ascii_digit) {
                end = digits_from(digits);
                is_float = true;
            }
        }
        // Anything left (`1.`, `1e`, `01`) is refused by the caller as the next token.
        let literal = &input[start..end];
        if is_float {
            // The literal is ASCII digits and signs, which Rust parses with correct rounding.
            let text = std::str::from_utf8(literal)
                .map_err(|_| ParseError { kind: ErrorKind::InvalidNumber, offset: start })?;
            let value = text
                .parse::<f64>()
                .map_err(|_| ParseError { kind: ErrorKind::InvalidNumber, offset: start })?;
            self.nodes.push(Node::Float(value));
            return Ok(end);
        }
        let digits = &input[int_start..int_end];
        let mut magnitude: u64 = 0;
        let mut fits = true;
        for &d in digits {
            match magnitude.checked_mul(10).and_then(|m| m.checked_add(u64::from(d - b'0'))) {
                Some(m) => magnitude = m,
                None => {
                    fits = false;
                    break;
                }
            }
        }
        let value = if negative {
            // i64::MIN's magnitude is one more than i64::MAX.
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        match value {
            Some(value) if fits => self.nodes.push(Node::Int(value)),
            _ => {
                self.max_int_digits = self.max_int_digits.max(digits.len());
                self.nodes.push(Node::BigInt { start: to_u32(start), len: to_u32(end - start) });
            }
        }
        Ok(end)
    }

    /// Parses a string whose opening quote is just before `start`; returns the position after
    /// the closing quote.
    #[inline(always)]
    fn string(&mut self, input: &[u8], start: usize) -> Result<usize> {
        let mut pos = start;
        let mut high = 0u64;
        // Fast scan, 16 bytes at a time (8 near the end of the input, then byte by byte),
        // while nothing needs attention.
        loop {
            if let Some(chunk) = input.get(pos..pos + 16) {
                let (stops, chunk_high) = scan16(chunk);
                if stops == 0 {
                    high |= u64::from(chunk_high);
                    pos += 16;
                    continue;
                }
                let skip = stops.trailing_zeros();
                high |= u64::from(chunk_high & ((1 << skip) - 1));
                pos += skip as usize;
            } else if let Some(chunk) = input.get(pos..pos + 8) {
                let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                let stops = stop_mask(word);
                if stops == 0 {
                    high |= word & HIGHS;
                    pos += 8;
                    continue;
                }
                let skip = (stops.trailing_zeros() / 8) as usize;
                // Only the bytes before the stop belong to the string so far.
                high |= word & HIGHS & ((1u64 << (skip * 8)) - 1);
                pos += skip;
            } else {
                while let Some(&b) = input.get(pos) {
                    if STRING_STOP[b as usize] {
                        break;
                    }
                    high |= u64::from(b & 0x80);
                    pos += 1;
                }
            }
            break;
        }
        if input.get(pos) == Some(&b'"') {
            let flags = if high == 0 { 0 } else { NON_ASCII };
            self.nodes.push(Node::Str(Str {
                start: to_u32(start),
                len: to_u32(pos - start),
                flags,
            }));
            Ok(pos + 1)
        } else {
            self.string_stop(input, start, pos)
        }
    }

    /// A string's scan stopped at something other than its closing quote.
    #[cold]
    #[inline(never)]
    fn string_stop(&mut self, input: &[u8], start: usize, pos: usize) -> Result<usize> {
        match input.get(pos) {
            Some(b'\\') => self.escaped_string(input, start, pos),
            Some(_) => err(ErrorKind::ControlCharacterInString, pos),
            None => err(ErrorKind::UnexpectedEnd, pos),
        }
    }

    /// Continues a string at its first backslash (`pos`), decoding it into the scratch buffer.
    fn escaped_string(&mut self, input: &[u8], start: usize, mut pos: usize) -> Result<usize> {
        let scratch_start = self.scratch.len();
        self.scratch.extend_from_slice(&input[start..pos]);
        let mut flags = IN_SCRATCH;
        loop {
            match input.get(pos) {
                Some(b'"') => break,
                Some(b'\\') => {
                    let escape = input.get(pos + 1).copied();
                    let simple = match escape {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            pos = self.unicode_escape(input, pos, &mut flags)?;
                            continue;
                        }
                        None => return err(ErrorKind::UnexpectedEnd, pos + 1),
                        Some(_) => return err(ErrorKind::InvalidEscape, pos),
                    };
                    self.scratch.push(simple);
                    pos += 2;
                }
                Some(&b) if b < 0x20 => return err(ErrorKind::ControlCharacterInString, pos),
                Some(_) => {
                    let run = input[pos..].iter().position(|&b| STRING_STOP[b as usize]);
                    let run_end = run.map_or(input.len(), |n| pos + n);
                    self.scratch.extend_from_slice(&input[pos..run_end]);
                    pos = run_end;
                }
                None => return err(ErrorKind::UnexpectedEnd, pos),
            }
        }
        if self.scratch[scratch_start..].iter().any(|&b| b >= 0x80) {
            flags |= NON_ASCII;
        }
        self.nodes.push(Node::Str(Str {
            start: to_u32(scratch_start),
            len: to_u32(self.scratch.len() - scratch_start),
            flags,
        }));
        Ok(pos + 1)
    }

    /// Decodes `\uXXXX` at `pos` (joined with a following low-surrogate escape, as
    /// `json.loads` does); returns the position after it.
    fn unicode_escape(&mut self, input: &[u8], pos: usize, flags: &mut u8) -> Result<usize> {
        let Some(mut cp) = input.get(pos + 2..).and_then(hex4) else {
            return if input.len() < pos + 6 {
                err(ErrorKind::UnexpectedEnd, pos)
            } else {
                err(ErrorKind::InvalidEscape, pos)
            };
        };
        let mut end = pos + 6;
        if (0xd800..0xdc00).contains(&cp) && input.get(end..end + 2) == Some(b"\\u") {
            match input.get(end + 2..).and_then(hex4) {
                Some(low @ 0xdc00..=0xdfff) => {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    end += 6;
                }
                // Not a low surrogate: the next escape is read on its own.
                Some(_) => {}
                None => return err(ErrorKind::InvalidEscape, end),
            }
        }
        if (0xd800..0xe000).contains(&cp) {
            *flags |= SURROGATES;
            self.surrogates = true;
        }
        push_wtf8(&mut self.scratch, cp);
        Ok(end)
    }
}

impl<'a> Doc<'a> {
    /// The root value.
    pub const ROOT: NodeId = 0;

    pub fn node(&self, id: NodeId) -> Node {
        self.nodes[id as usize]
    }

    /// The node after `id`'s whole subtree.
    pub fn next(&self, id: NodeId) -> NodeId {
        match self.node(id) {
            Node::Array(container) | Node::Object(container) => container.end,
            _ => id + 1,
        }
    }

    /// The WTF-8 bytes of a string.
    pub fn str_bytes(&self, s: Str) -> &'a [u8] {
        let source = if s.flags & IN_SCRATCH != 0 { self.scratch } else { self.input };
        &source[s.start as usize..s.start as usize + s.len as usize]
    }

    /// The string at `id`, if it is one.
    pub fn as_str(&self, id: NodeId) -> Option<Str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The literal of a big integer node.
    pub fn big_int_literal(&self, start: u32, len: u32) -> &'a [u8] {
        &self.input[start as usize..start as usize + len as usize]
    }

    /// Digits in the longest integer beyond `i64` (0 if there is none). Python refuses to
    /// convert integers above a configurable number of digits, so its callers check this.
    pub fn max_int_digits(&self) -> usize {
        self.max_int_digits
    }

    /// The deepest nesting of containers (0 for a scalar document, 1 for `[]` or `{}`).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Some string (a value or a key) holds a lone surrogate escape such as `"\ud800"`.
    pub fn has_surrogates(&self) -> bool {
        self.surrogates
    }

    /// The key/value pairs of the object at `id` (empty if it is not an object), in document
    /// order, duplicates included.
    pub fn entries(&self, id: NodeId) -> Entries<'_, 'a> {
        let (next, end) = match self.node(id) {
            Node::Object(container) => (id + 1, container.end),
            _ => (0, 0),
        };
        Entries { doc: self, next, end }
    }

    /// The elements of the array at `id` (empty if it is not an array).
    pub fn elements(&self, id: NodeId) -> Elements<'_, 'a> {
        let (next, end) = match self.node(id) {
            Node::Array(container) => (id + 1, container.end),
            _ => (0, 0),
        };
        Elements { doc: self, next, end }
    }

    /// The value of `key` in the object at `id`; with duplicate keys the last one wins, as in
    /// `json.loads`.
    pub fn get(&self, id: NodeId, key: &[u8]) -> Option<NodeId> {
        let mut found = None;
        for (k, value) in self.entries(id) {
            if same_bytes(self.str_bytes(k), key) {
                found = Some(value);
            }
        }
        found
    }

    /// Appends the compact JSON text of the value at `id` as WTF-8, the way Python's
    /// `json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))` writes it
    /// (duplicate keys collapsed, numbers normalised).
    pub fn write_compact(&self, id: NodeId, out: &mut Vec<u8>) {
        match self.node(id) {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::Int(value) => out.extend_from_slice(value.to_string().as_bytes()),
            Node::BigInt { start, len } => {
                out.extend_from_slice(self.big_int_literal(start, len));
            }
            Node::Float(value) => write_python_float(value, out),
            Node::Str(s) => write_string(self.str_bytes(s), out),
            Node::Array(_) => {
                out.push(b'[');
                for (i, element) in self.elements(id).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_compact(element, out);
                }
                out.push(b']');
            }
            Node::Object(_) => {
                out.push(b'{');
                for (i, (key, value)) in self.unique_entries(id).into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(self.str_bytes(key), out);
                    out.push(b':');
                    self.write_compact(value, out);
                }
                out.push(b'}');
            }
        }
    }

    /// The entries of an object as a Python dict holds them: each key once, at the place of
    /// its first occurrence, with the value of its last.
    pub fn unique_entries(&self, id: NodeId) -> Vec<(Str, NodeId)> {
        let mut unique: Vec<(Str, NodeId)> = Vec::new();
        let mut index: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
        for (key, value) in self.entries(id) {
            match index.entry(self.str_bytes(key)) {
                std::collections::hash_map::Entry::Occupied(slot) => unique[*slot.get()].1 = value,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(unique.len());
                    unique.push((key, value));
                }
            }
        }
        unique
    }
}

/// Iterator over an object's `(key, value)` pairs.
pub struct Entries<'d, 'a> {
    doc: &'d Doc<'a>,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Entries<'_, '_> {
    type Item = (Str, NodeId);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let key = self.doc.as_str(self.next).expect("object keys are strings");
        let value = self.next + 1;
        self.next = self.doc.next(value);
        Some((key, value))
    }
}

/// Iterator over an array's elements.
pub struct Elements<'d, 'a> {
    doc: &'d Doc<'a>,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Elements<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let element = self.next;
        self.next = self.doc.next(element);
        Some(element)
    }
}

/// Writes a string as `json.dumps(..., ensure_ascii=False)` does: only `"`, `\` and control
/// characters are escaped.
fn write_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Writes a float as Python's `repr` (and so `json.dumps`) does: the shortest digits that
/// read back the same value, positional between 1e-4 and 1e16, else scientific with a signed
/// exponent of at least two digits; infinities as `Infinity`.
pub fn write_python_float(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` has an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.extend_from_slice(sign.as_bytes());
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + point.unsigned_abs() as usize, b'0');
            out.extend_from_slice(digits.as_bytes());
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.extend_from_slice(digits.as_bytes());
                out.resize(out.len() + point - digits.len(), b'0');
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits.as_bytes()[..point]);
                out.push(b'.');
                out.extend_from_slice(&digits.as_bytes()[point..]);
            }
        }
    } else {
        out.extend_from_slice(&digits.as_bytes()[..1]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        out.extend_from_slice(format!("e{sign}{:02}", exponent.unsigned_abs()).as_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plain tree, built from a document for assertions.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Int(i64),
        BigInt(String),
        Float(f64),
        /// WTF-8 bytes.
        Str(Vec<u8>),
        Array(Vec<Value>),
        /// Entries as in a Python dict: duplicates collapsed, first position, last value.
        Object(Vec<(Vec<u8>, Value)>),
    }

    pub fn to_value(doc: &Doc<'_>, id: NodeId) -> Value {
        match doc.node(id) {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Int(i),
            Node::BigInt { start, len } => {
                Value::BigInt(String::from_utf8(doc.big_int_literal(start, len).to_vec()).unwrap())
            }
            Node::Float(f) => Value::Float(f),
            Node::Str(s) => Value::Str(doc.str_bytes(s).to_vec()),
            Node::Array(_) => Value::Array(doc.elements(id).map(|e| to_value(doc, e)).collect()),
            Node::Object(_) => Value::Object(
                doc.unique_entries(id)
                    .into_iter()
                    .map(|(k, v)| (doc.str_bytes(k).to_vec(), to_value(doc, v)))
                    .collect(),
            ),
        }
    }

    fn parse(text: &str) -> std::result::Result<Value, ParseError> {
        let mut tape = Tape::new();
        let doc = tape.parse(text.as_bytes())?;
        Ok(to_value(&doc, Doc::ROOT))
    }

    fn s(text: &str) -> Value {
        Value::Str(text.as_bytes().to_vec())
    }

    fn kind(text: &str) -> ErrorKind {
        parse(text).expect_err(text).kind
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        // Every pair of strings up to 20 bytes drawn from a small alphabet, so that equal
        // lengths and shared prefixes and suffixes are common.
        let alphabet = [b'a', b'b', 0x00, 0xff];
        let mut words: Vec<Vec<u8>> = vec![Vec::new()];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 1..=20 {
            for _ in 0..24 {
                let word = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % 4) as usize]
                    })
                    .collect();
                words.push(word);
            }
        }
        for a in &words {
            for b in &words {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
            for i in 0..a.len() {
                let mut c = a.clone();
                c[i] ^= 1;
                assert!(!same_bytes(a, &c), "{a:?} differs at {i}");
            }
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(parse(" null "), Ok(Value::Null));
        assert_eq!(parse("true"), Ok(Value::Bool(true)));
        assert_eq!(parse("false"), Ok(Value::Bool(false)));
        assert_eq!(parse("0"), Ok(Value::Int(0)));
        assert_eq!(parse("-0"), Ok(Value::Int(0)));
        assert_eq!(parse("-12"), Ok(Value::Int(-12)));
        assert_eq!(parse("9223372036854775807"), Ok(Value::Int(i64::MAX)));
        assert_eq!(parse("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert_eq!(parse("9223372036854775808"), Ok(Value::BigInt("9223372036854775808".into())));
        assert_eq!(
            parse("-99999999999999999999999"),
            Ok(Value::BigInt("-99999999999999999999999".into()))
        );
        assert_eq!(parse("1.5"), Ok(Value::Float(1.5)));
        assert_eq!(parse("-0.0"), Ok(Value::Float(-0.0)));
        assert_eq!(parse("1E2"), Ok(Value::Float(100.0)));
        assert_eq!(parse("1e-2"), Ok(Value::Float(0.01)));
        assert_eq!(parse("2.5e+3"), Ok(Value::Float(2500.0)));
        assert_eq!(parse("1e400"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(parse("0.1"), Ok(Value::Float(0.1)));
    }

    #[test]
    fn max_int_digits_counts_big_integers_only() {
        let mut tape = Tape::new();
        assert_eq!(tape.parse(b"[1, 123456789012]").unwrap().max_int_digits(), 0);
        let text = format!("[{}, -{}]", "9".repeat(30), "9".repeat(700));
        assert_eq!(tape.parse(text.as_bytes()).unwrap().max_int_digits(), 700);
    }

    #[test]
    fn strings() {
        assert_eq!(parse(r#""""#), Ok(s("")));
        assert_eq!(
            parse(r#""plain text, long enough for the fast scan""#),
            Ok(s("plain text, long enough for the fast scan"))
        );
        assert_eq!(parse(r#""a\"b\\c\/d\b\f\n\r\t""#), Ok(s("a\"b\\c/d\u{8}\u{c}\n\r\t")));
        assert_eq!(parse(r#""\u00e9\u00E9 caf\u00e9""#), Ok(s("éé café")));
        assert_eq!(parse(r#""\ud83d\ude00""#), Ok(s("😀")));
        assert_eq!(parse("\"😀 é\""), Ok(s("😀 é")));
        assert_eq!(parse(r#""\u0000""#), Ok(s("\0")));
        // Lone surrogates are kept, as WTF-8.
        assert_eq!(parse(r#""\ud800""#), Ok(Value::Str(vec![0xed, 0xa0, 0x80])));
        assert_eq!(parse(r#""\udc00x""#), Ok(Value::Str(vec![0xed, 0xb0, 0x80, b'x'])));
        assert_eq!(parse(r#""\ud800\u0041""#), Ok(Value::Str(vec![0xed, 0xa0, 0x80, b'A'])));
        assert_eq!(
            parse(r#""\ud800\ud800\udc00""#),
            Ok(Value::Str([&[0xed, 0xa0, 0x80][..], "𐀀".as_bytes()].concat()))
        );
    }

    #[test]
    fn string_flags() {
        let mut tape = Tape::new();
        for (text, ascii, surrogates) in [
            (r#""abcdefghijklmnop""#, true, false),
            (r#""abcdefghijklmnoé""#, false, false),
            ("\"abcdefgh\u{e9}\"", false, false),
            (r#""abc\n""#, true, false),
            (r#""abc\u00e9""#, false, false),
            (r#""\ud800""#, false, true),
            // Bytes after the closing quote do not count.
            ("[\"ab\", \"é\"]", true, false),
        ] {
            let doc = tape.parse(text.as_bytes()).unwrap();
            let id = if text.starts_with('[') { 1 } else { 0 };
            let string = doc.as_str(id).unwrap();
            assert_eq!((string.is_ascii(), string.has_surrogates()), (ascii, surrogates), "{text}");
        }
    }

    #[test]
    fn document_depth_and_surrogates() {
        let mut tape = Tape::new();
        for (text, depth, surrogates) in [
            ("1", 0, false),
            ("[]", 1, false),
            (r#"{"a":[1,{"b":[]}],"c":{}}"#, 4, false),
            (r#"[[[]],[]]"#, 3, false),
            (r#"{"k\ud800":1}"#, 1, true),
            (r#"["\ud83d\ude00"]"#, 1, false),
        ] {
            let doc = tape.parse(text.as_bytes()).unwrap();
            assert_eq!((doc.max_depth(), doc.has_surrogates()), (depth, surrogates), "{text}");
        }
    }

    #[test]
    fn containers() {
        assert_eq!(parse("[]"), Ok(Value::Array(vec![])));
        assert_eq!(parse("{}"), Ok(Value::Object(vec![])));
        assert_eq!(
            parse(r#" { "a" : [ 1 , { } , [ ] ] , "b" : { "c" : null } } "#),
            Ok(Value::Object(vec![
                (
                    b"a".to_vec(),
                    Value::Array(vec![Value::Int(1), Value::Object(vec![]), Value::Array(vec![])])
                ),
                (b"b".to_vec(), Value::Object(vec![(b"c".to_vec(), Value::Null)])),
            ]))
        );
        // Duplicate keys: first position, last value (json.loads).
        assert_eq!(
            parse(r#"{"a":1,"b":2,"a":3}"#),
            Ok(Value::Object(vec![(b"a".to_vec(), Value::Int(3)), (b"b".to_vec(), Value::Int(2))]))
        );
        // Keys compare decoded.
        assert_eq!(
            parse(r#"{"a":1,"\u0061":2}"#),
            Ok(Value::Object(vec![(b"a".to_vec(), Value::Int(2))]))
        );
    }

    #[test]
    fn batched_copies_read_the_same() {
        let mut tape = Tape::new();
        let texts = [
            r#"{"a":"x\u00e9","b":[1,2.5,null],"c":18446744073709551616}"#,
            r#"["\ud800",{"k":"plain"}]"#,
            r#"{"z":[{"y":"\n"}],"w":true}"#,
        ];
        let mut batch = DocBatch::default();
        let ranges: Vec<DocRange> =
            texts.iter().map(|text| batch.push(&tape.parse(text.as_bytes()).unwrap())).collect();
        tape.parse(b"[0]").unwrap();
        for (text, range) in texts.iter().zip(&ranges) {
            let doc = batch.doc(range);
            assert_eq!(to_value(&doc, Doc::ROOT), parse(text).unwrap());
        }
        let first = batch.doc(&ranges[0]);
        assert_eq!(first.max_int_digits(), 20);
        assert!(!first.has_surrogates() && batch.doc(&ranges[1]).has_surrogates());
        let mut out = Vec::new();
        first.write_compact(Doc::ROOT, &mut out);
        assert_eq!(out, r#"{"a":"xé","b":[1,2.5,null],"c":18446744073709551616}"#.as_bytes());
        let mut roomy = DocBatch::with_room_of(&batch);
        assert!(roomy.nodes.is_empty() && roomy.input.capacity() >= batch.input.len());
        let range = roomy.push(&tape.parse(b"[1]").unwrap());
        roomy.fit();
        assert!(roomy.input.capacity() < 16 && roomy.nodes.capacity() < 16);
        assert_eq!(to_value(&roomy.doc(&range), Doc::ROOT), parse("[1]").unwrap());
    }

    #[test]
    fn navigation() {
        let mut tape = Tape::new();
        let doc =
            tape.parse(br#"{"type":"x","data":{"k":[1,2,{"z":1}]},"type":"y","n":1}"#).unwrap();
        assert_eq!(doc.entries(Doc::ROOT).count(), 4);
        let ty = doc.get(Doc::ROOT, b"type").and_then(|id| doc.as_str(id)).unwrap();
        assert_eq!(doc.str_bytes(ty), b"y");
        let data = doc.get(Doc::ROOT, b"data").unwrap();
        let list = doc.get(data, b"k").unwrap();
        assert_eq!(doc.elements(list).count(), 3);
        assert_eq!(doc.get(Doc::ROOT, b"n").map(|id| doc.node(id)), Some(Node::Int(1)));
        assert_eq!(doc.get(Doc::ROOT, b"missing"), None);
        assert_eq!(doc.get(list, b"k"), None);
        assert_eq!(doc.elements(data).count(), 0);
    }

    #[test]
    fn refusals() {
        assert_eq!(kind(""), ErrorKind::UnexpectedEnd);
        assert_eq!(kind("   "), ErrorKind::UnexpectedEnd);
        for text in ["NaN", "Infinity", "-Infinity", "nul", "tru", "'a'", "+1", "-", "-a", ".5"] {
            assert_eq!(kind(text), ErrorKind::ExpectedValue, "{text}");
        }
        for text in ["01", "1.", "1.e5", "1e", "1e+", "0x10", "1 2", "{} x", "\"a\" \"b\""] {
            assert_eq!(kind(text), ErrorKind::TrailingData, "{text}");
        }
        assert_eq!(kind("[1,]"), ErrorKind::ExpectedValue);
        assert_eq!(kind("[1 2]"), ErrorKind::ExpectedCommaOrBracket);
        assert_eq!(kind(r#"{"a":1,}"#), ErrorKind::ExpectedKey);
        assert_eq!(kind(r#"{"a" 1}"#), ErrorKind::ExpectedColon);
        assert_eq!(kind(r#"{"a":1 "b":2}"#), ErrorKind::ExpectedCommaOrBrace);
        assert_eq!(kind("{a:1}"), ErrorKind::ExpectedKey);
        assert_eq!(kind("[1] // comment"), ErrorKind::TrailingData);
        assert_eq!(kind("/* c */ 1"), ErrorKind::ExpectedValue);
        assert_eq!(kind("\"a\tb\""), ErrorKind::ControlCharacterInString);
        assert_eq!(kind("\"a\\\n\""), ErrorKind::InvalidEscape);
        assert_eq!(kind(r#""\x41""#), ErrorKind::InvalidEscape);
        assert_eq!(kind(r#""\u12G4""#), ErrorKind::InvalidEscape);
        assert_eq!(kind(r#""\ud800\u12G4""#), ErrorKind::InvalidEscape);
        assert_eq!(kind(r#""\u12"#), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(r#""abc"#), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(r#"{"a":"#), ErrorKind::UnexpectedEnd);
        assert_eq!(kind("[1,"), ErrorKind::UnexpectedEnd);
        assert_eq!(kind("\u{feff}1"), ErrorKind::ExpectedValue);
        assert_eq!(kind("1\u{a0}"), ErrorKind::TrailingData);
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(kind(&deep), ErrorKind::TooDeep);
        let very_deep = "[{\"a\":".repeat(100_000);
        assert_eq!(kind(&very_deep), ErrorKind::TooDeep);
    }

    #[test]
    fn error_messages_name_the_offset() {
        let error = parse("[1, x]").unwrap_err();
        assert_eq!(error.to_string(), "expected a value at byte 4");
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let text = r#"{"type":"node.emit","data":{"kind":"k\u00e9\ud83d\ude00","n":[1.5e3,-2,true,null,"x\"y"]}}"#;
        let mut tape = Tape::new();
        for end in 0..text.len() {
            let _ = tape.parse(&text.as_bytes()[..end]);
        }
        let mut state = 0x1234_5678_u32;
        for _ in 0..20_000 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..3 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = (state >> 8) as usize % bytes.len();
                bytes[at] = (state >> 24) as u8;
            }
            let _ = tape.parse(&bytes);
        }
    }

    fn compact(text: &str) -> String {
        let mut tape = Tape::new();
        let doc = tape.parse(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        doc.write_compact(Doc::ROOT, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compact_text_matches_python_json_dumps() {
        assert_eq!(
            compact(r#" { "a" : [ 1 , -0 , 2.50 , true , null ] , "a" : "é\n\u0001" } "#),
            r#"{"a":"é\n\u0001"}"#
        );
        assert_eq!(compact(r#"{"b":1,"a":2,"b":3}"#), r#"{"b":3,"a":2}"#);
        assert_eq!(compact("123456789012345678901234567890"), "123456789012345678901234567890");
        assert_eq!(compact(r#""\"\\\/\b\f\t\u007f""#), "\"\\\"\\\\/\\b\\f\\t\u{7f}\"");
    }

    #[test]
    fn python_float_repr() {
        let repr = |value: f64| {
            let mut out = Vec::new();
            write_python_float(value, &mut out);
            String::from_utf8(out).unwrap()
        };
        for (value, expected) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123_456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e300, "1e+300"),
            (-2.5e-300, "-2.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
        ] {
            assert_eq!(repr(value), expected, "{value:e}");
        }
    }
}
