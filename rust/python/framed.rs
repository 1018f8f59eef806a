//! The `feed`/`decode`/`reset` contract every stream decoder class offers: WebSocket bytes
//! through [`FrameParser`] (or one assembled message) to a list of entries, with the raw
//! control frames and the RFC 6455 error handed back. What a message becomes is the
//! [`MessageDecode`] implementation's business.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::objects::{append, owned, with_bytes};
use crate::message::FLAG_CONTROL;
use crate::wsframe::{FeedError, Frame, FrameParser};

/// Turns one complete message into at most one entry.
pub trait MessageDecode {
    /// The entry for `message` (a text message is UTF-8 already; a `binary` one is not
    /// checked yet), with its flags added to `flags`. Malformed messages become entries; only
    /// a failure of Python itself (out of memory) is an error.
    fn message<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
        binary: bool,
        flags: &mut u8,
    ) -> PyResult<Option<Bound<'py, PyAny>>>;

    /// A `malformed` entry with this reason.
    fn malformed<'py>(&self, py: Python<'py>, reason: &str) -> PyResult<Bound<'py, PyAny>>;

    /// The input handed over in one call (`feed` or `decode`) is read, whatever the outcome:
    /// its entries are about to be returned.
    fn end_of_input(&mut self) {}
}

/// `(events, flags, controls, error)`.
pub type FeedResult<'py> =
    (Bound<'py, PyList>, u8, Option<Bound<'py, PyList>>, Option<Bound<'py, PyTuple>>);

/// A frame parser, a message decoder and the error that stopped the stream.
pub struct Framed<D> {
    pub frames: FrameParser,
    pub decoder: D,
    /// `(code, reason)` once the parser has stopped.
    error: Option<Py<PyTuple>>,
}

impl<D: MessageDecode> Framed<D> {
    pub fn new(max_message_size: u64, decoder: D) -> Self {
        Self { frames: FrameParser::new(max_message_size), decoder, error: None }
    }

    /// Raw bytes read from the socket (after the HTTP handshake).
    pub fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<FeedResult<'py>> {
        let events = PyList::empty(py);
        if let Some(error) = &self.error {
            return Ok((events, 0, None, Some(error.bind(py).clone())));
        }
        let mut flags = 0;
        let mut controls: Option<Bound<'py, PyList>> = None;
        let Self { frames, decoder, .. } = self;
        let result = with_bytes(data, "data", |input| {
            frames.feed(input, |frame| {
                let entry = match frame {
                    Frame::Text(text) => decoder.message(py, text.as_bytes(), false, &mut flags)?,
                    Frame::Binary(bytes) => decoder.message(py, bytes, true, &mut flags)?,
                    Frame::Control(raw) => {
                        let controls = controls.get_or_insert_with(|| PyList::empty(py));
                        return append(controls, PyBytes::new(py, raw).as_any());
                    }
                };
                entry.map_or(Ok(()), |entry| append(&events, &entry))
            })
        });
        decoder.end_of_input();
        match result? {
            Ok(()) => {}
            Err(FeedError::Callback(error)) => {
                // The rest of the input was not read, so the stream cannot be resumed.
                self.error = Some((1011, "internal error").into_pyobject(py)?.unbind());
                return Err(error);
            }
            Err(FeedError::Protocol(error)) => {
                self.error = Some((error.code, error.reason).into_pyobject(py)?.unbind());
            }
        }
        let error = self.error.as_ref().map(|e| e.bind(py).clone());
        Ok((events, flags, controls, error))
    }

    /// One complete message: `str` for a text message, bytes for a binary one.
    pub fn decode<'py>(
        &mut self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyList>, u8)> {
        let mut flags = 0;
        let entry = self.decode_one(py, message, &mut flags);
        self.decoder.end_of_input();
        let entry = entry?;
        // One message has at most one entry: the list is made at its final size.
        let events = match entry {
            // SAFETY: a new 1-item list gets its slot filled with an owned reference.
            Some(entry) => unsafe {
                let list = owned(py, ffi::PyList_New(1))?;
                ffi::PyList_SET_ITEM(list.as_ptr(), 0, entry.into_ptr());
                list.cast_into_unchecked()
            },
            None => PyList::empty(py),
        };
        Ok((events, flags))
    }

    fn decode_one<'py>(
        &mut self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
        flags: &mut u8,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Ok(text) = message.cast::<PyString>() {
            if let Ok(text) = text.to_str() {
                self.decoder.message(py, text.as_bytes(), false, flags)
            } else {
                // json.loads would keep them; a WebSocket text message cannot hold them.
                *flags |= FLAG_CONTROL;
                Ok(Some(self.decoder.malformed(py, "message str holds lone surrogates")?))
            }
        } else {
            with_bytes(message, "message", |bytes| self.decoder.message(py, bytes, true, flags))?
        }
    }

    /// A new connection: forgets partial frames, fragments and any error.
    pub fn reset(&mut self) {
        self.frames.reset();
        self.error = None;
    }
}
