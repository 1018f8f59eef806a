//! `relaywire._native.EnvelopeDecoder`: WebSocket bytes of a `{"type", "payload"}` protocol
//! (Linktor's realtime socket) to `(type, payload)` tuples in one call.
//!
//! The frame parser, the JSON tape and the envelope rules ([`crate::envelope`]) are plain
//! Rust; this layer builds the type string (interned, cached) and the payload dict exactly as
//! `json.loads` would. Given the events of a protocol ([`RealtimeEvents`]), it builds each
//! frame's event object instead, wherever that is exactly what the protocol's Python code
//! makes of the tuple; the other frames stay tuples.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::adapted::{PendingEvent, PendingFrames, RealtimeEvents};
use super::framed::{FeedResult, Framed, MessageDecode};
use super::objects::{check_python_int_digits, pair, Builder, StringCache, KEEP_TAPE_BYTES};
use crate::envelope::{classify, Envelope, Keys};
use crate::json::{Doc, DocBatch, Tape};
use crate::message::{parse_message, FLAG_CONTROL};

/// The message-level state: keys, tape and string cache.
struct Envelopes {
    keys: Keys,
    tape: Tape,
    cache: StringCache,
    malformed: Py<PyString>,
    events: Option<Py<RealtimeEvents>>,
    /// Routed frames become [`PendingEvent`]s, built when the consumer takes them.
    defer: bool,
    /// The parsed frames of the pending events of the input being read, and the cell they
    /// go to once it is read (made with the first one).
    batch: DocBatch,
    frames: Option<PendingFrames>,
}

impl Envelopes {
    /// The entry of a well-formed envelope: a `(type, payload)` tuple, or with events, the
    /// event (or, deferred, a [`PendingEvent`]) where the events route its type.
    fn entry<'py>(
        &mut self,
        py: Python<'py>,
        doc: &Doc<'_>,
        envelope: Envelope,
        flags: &mut u8,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Envelope { type_, payload } = envelope;
        if let Some(events) = &self.events {
            let frame_type = doc.str_bytes(doc.as_str(type_).expect("a string"));
            let routed = events.get().routed(frame_type);
            if routed && self.defer && events.get().deferred(frame_type) {
                let mut b = Builder { py, doc, cache: &mut self.cache };
                let frame_type = b.cached_string(type_)?.cast_into::<PyString>()?;
                let frames = self.frames.get_or_insert_with(PendingFrames::default).clone();
                let range = self.batch.push(doc);
                let pending = PendingEvent::new(
                    events.clone_ref(py),
                    frame_type.unbind(),
                    frames,
                    range,
                    envelope,
                );
                let pending = Bound::new(py, pending)?;
                // It holds only the (frozen) event table and a string, so no reference cycle
                // can pass through it: the collector need not track it. A burst queues
                // thousands of them; tracked, each collection would walk them all again.
                // SAFETY: `pending` is a live object of a GC type; untracking one is allowed
                // at any time (its deallocation untracks it again, which is a no-op).
                unsafe { pyo3::ffi::PyObject_GC_UnTrack(pending.as_ptr().cast()) };
                return Ok(pending.into_any());
            }
            if routed {
                if let Some(event) =
                    events.get().event(py, doc, &mut self.cache, frame_type, payload)
                {
                    if self.defer {
                        *flags |= FLAG_CONTROL;
                    }
                    return Ok(event);
                }
            }
        }
        if self.defer {
            // An entry the consumer must look at now, not only queue.
            *flags |= FLAG_CONTROL;
        }
        envelope_tuple(&mut Builder { py, doc, cache: &mut self.cache }, envelope)
    }
}

/// `(type, payload)`: the type string (cached) and the payload as `json.loads` gives it, or
/// `{}` when there is none.
pub(super) fn envelope_tuple<'py>(
    b: &mut Builder<'_, '_, 'py>,
    Envelope { type_, payload }: Envelope,
) -> PyResult<Bound<'py, PyAny>> {
    let py = b.py;
    let type_ = b.cached_string(type_)?;
    let payload = match payload {
        Some(id) => b.value(id)?,
        None => PyDict::new(py).into_any(),
    };
    pair(py, &type_, payload)
}

impl MessageDecode for Envelopes {
    fn message<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
        binary: bool,
        flags: &mut u8,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut tape = std::mem::take(&mut self.tape);
        let result = match parse_message(&mut tape, message, binary) {
            Ok(doc) => match check_python_int_digits(py, &doc)? {
                Err(too_long) => Err(too_long.to_string()),
                Ok(()) => match classify(&doc, &self.keys) {
                    Err(rejected) => Err(rejected.describe(&self.keys).to_string()),
                    Ok(envelope) => Ok(self.entry(py, &doc, envelope, flags)),
                },
            },
            Err(malformed) => Err(malformed.to_string()),
        };
        if message.len() > KEEP_TAPE_BYTES {
            tape.shrink(KEEP_TAPE_BYTES);
        }
        self.tape = tape;
        match result {
            Ok(entry) => entry.map(Some),
            Err(reason) => {
                *flags |= FLAG_CONTROL;
                self.malformed(py, &reason).map(Some)
            }
        }
    }

    fn malformed<'py>(&self, py: Python<'py>, reason: &str) -> PyResult<Bound<'py, PyAny>> {
        pair(py, self.malformed.bind(py).as_any(), PyString::new(py, reason).into_any())
    }

    fn end_of_input(&mut self) {
        if let Some(frames) = self.frames.take() {
            // The next input's frames get as much room as these took; these keep only what
            // they use, for as long as one of their events is pending.
            let room = DocBatch::with_room_of(&self.batch);
            let mut read = std::mem::replace(&mut self.batch, room);
            read.fit();
            frames.set(read).expect("a batch of pending frames is set once");
        }
    }
}

/// Decodes a `{"type": ..., "payload": {...}}` stream: raw WebSocket bytes (`feed`) or
/// assembled messages (`decode`) to lists of `(type, payload)` tuples, or with `events`, of
/// event objects where it can build them.
#[pyclass(module = "relaywire._native")]
pub struct EnvelopeDecoder {
    inner: Framed<Envelopes>,
}

#[pymethods]
impl EnvelopeDecoder {
    // `max_message_size` defaults to 64 MiB, spelled as a literal so that the signature shows it.
    #[new]
    #[pyo3(signature = (
        *, type_key = "type", payload_key = "payload", max_message_size = 67108864, events = None,
        defer = false,
    ))]
    fn new(
        py: Python<'_>,
        type_key: &str,
        payload_key: &str,
        max_message_size: i128,
        events: Option<Py<RealtimeEvents>>,
        defer: bool,
    ) -> PyResult<Self> {
        let Ok(max_message_size) = u64::try_from(max_message_size) else {
            return Err(PyValueError::new_err("max_message_size must be an int >= 0"));
        };
        let keys = Keys::new(type_key, payload_key)
            .map_err(|_| PyValueError::new_err("type_key and payload_key must differ"))?;
        let envelopes = Envelopes {
            keys,
            tape: Tape::new(),
            cache: StringCache::new(),
            malformed: PyString::intern(py, "malformed").unbind(),
            events,
            defer,
            batch: DocBatch::default(),
            frames: None,
        };
        Ok(Self { inner: Framed::new(max_message_size, envelopes) })
    }

    /// Raw bytes read from the socket (after the HTTP handshake). Returns
    /// `(events, flags, controls, error)`.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<FeedResult<'py>> {
        self.inner.feed(py, data)
    }

    /// One complete message (`str` for a text message, bytes for a binary one). Returns
    /// `(events, flags)`.
    fn decode<'py>(
        &mut self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyList>, u8)> {
        self.inner.decode(py, message)
    }

    /// A new connection: forgets partial frames, fragments and any error.
    fn reset(&mut self) {
        self.inner.reset();
    }

    #[getter]
    fn type_key(&self) -> &str {
        self.inner.decoder.keys.type_key()
    }

    #[getter]
    fn payload_key(&self) -> &str {
        self.inner.decoder.keys.payload_key()
    }

    #[getter]
    fn defer(&self) -> bool {
        self.inner.decoder.defer
    }

    #[getter]
    fn events(&self, py: Python<'_>) -> Option<Py<RealtimeEvents>> {
        self.inner.decoder.events.as_ref().map(|events| events.clone_ref(py))
    }

    #[getter]
    fn max_message_size(&self) -> u64 {
        self.inner.frames.max_message_size()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let keys = &self.inner.decoder.keys;
        Ok(format!(
            "EnvelopeDecoder(type_key={}, payload_key={}, max_message_size={})",
            PyString::new(py, keys.type_key()).repr()?,
            PyString::new(py, keys.payload_key()).repr()?,
            self.inner.frames.max_message_size()
        ))
    }
}
