//! `relaywire._native.StreamDecoder`: Daguito WebSocket bytes to `(event_type, payload)`
//! tuples in one call.
//!
//! Frame parsing ([`crate::wsframe`]), JSON ([`crate::json`]) and classification
//! ([`crate::daguito`]) are plain Rust; this layer only turns the nodes an event needs into
//! Python objects. Payload dataclasses are allocated with `object.__new__` and their fields
//! set directly, skipping `__init__`, with field names, event names and small strings (keys,
//! node ids, kinds) cached.

use std::ptr;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyType};

use super::args::type_name;
use super::framed::{FeedResult, Framed, MessageDecode};
use super::objects::{
    check_python_int_digits, new_str, owned, pair, Builder, StringCache, KEEP_TAPE_BYTES,
};
use crate::daguito::{self, classify, parse_message, Duration, Event, Text, FLAG_CONTROL};
use crate::json::{Doc, NodeId, Tape};

/// Defines a struct of interned Python strings and its constructor.
macro_rules! interned {
    ($name:ident { $($field:ident = $text:literal,)* }) => {
        struct $name {
            $($field: Py<PyString>,)*
        }

        impl $name {
            fn new(py: Python<'_>) -> Self {
                Self { $($field: PyString::intern(py, $text).unbind(),)* }
            }
        }
    };
}

interned!(Names {
    // Entry types.
    ready = "ready",
    session_started = "session.started",
    session_ended = "session.ended",
    error = "error",
    node_started = "node.started",
    node_token = "node.token",
    node_completed = "node.completed",
    node_failed = "node.failed",
    node_emit = "node.emit",
    flow_completed = "flow.completed",
    flow_failed = "flow.failed",
    unknown = "unknown",
    malformed = "malformed",
    // Payload fields (`error` above doubles as one).
    webhook_id = "webhook_id",
    message = "message",
    node_id = "node_id",
    text = "text",
    duration_ms = "duration_ms",
    output = "output",
    kind = "kind",
    data = "data",
    elapsed_ms = "elapsed_ms",
    type_ = "type",
    frame = "frame",
    // Defaults.
    empty = "",
    unknown_error = "unknown error",
    flow_failed_default = "flow failed",
});

/// The payload classes, checked to be plain dataclasses with the expected fields.
struct Classes {
    ready: Py<PyType>,
    error: Py<PyType>,
    node_started: Py<PyType>,
    node_token: Py<PyType>,
    node_completed: Py<PyType>,
    node_failed: Py<PyType>,
    node_emit: Py<PyType>,
    flow_completed: Py<PyType>,
    flow_failed: Py<PyType>,
    unknown: Py<PyType>,
}

/// Each `event_classes` key with the fields its dataclass must have.
const EVENT_CLASSES: [(&str, &[&str]); 10] = [
    ("ready", &["webhook_id"]),
    ("error", &["message"]),
    ("node.started", &["node_id"]),
    ("node.token", &["node_id", "text"]),
    ("node.completed", &["node_id", "duration_ms", "output"]),
    ("node.failed", &["node_id", "error"]),
    ("node.emit", &["node_id", "kind", "data"]),
    ("flow.completed", &["elapsed_ms", "output"]),
    ("flow.failed", &["error"]),
    ("unknown", &["type", "frame"]),
];

fn event_class(
    event_classes: &Bound<'_, PyAny>,
    key: &str,
    fields: &[&str],
) -> PyResult<Py<PyType>> {
    let py = event_classes.py();
    let value = match event_classes.get_item(key) {
        Ok(value) => value,
        Err(error) if error.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => {
            return Err(PyValueError::new_err(format!("event_classes has no '{key}' class")));
        }
        Err(error) => return Err(error),
    };
    let cls = value.cast_into::<PyType>().map_err(|error| {
        let value = error.into_inner();
        PyTypeError::new_err(format!(
            "event_classes['{key}'] must be a class, not {}",
            type_name(&value)
        ))
    })?;
    // Instances are allocated with object's tp_new, which is only right for a class that
    // inherits it (no `__new__`, no built-in base with its own layout). Both slots are read
    // from CPython's type objects, so comparing their addresses is meaningful.
    // SAFETY: `cls` and `object` are live type objects.
    let plain = unsafe {
        let slot = |tp: *mut ffi::PyTypeObject| (*tp).tp_new.map(|f| f as usize);
        slot(cls.as_type_ptr()) == slot(ptr::addr_of_mut!(ffi::PyBaseObject_Type))
    };
    let found: Option<Vec<String>> = py
        .import("dataclasses")?
        .call_method1("fields", (&cls,))
        .ok()
        .map(|f| f.try_iter()?.map(|f| f?.getattr("name")?.extract()).collect())
        .transpose()?;
    let mut wanted: Vec<&str> = fields.to_vec();
    wanted.sort_unstable();
    let matches = found.as_ref().is_some_and(|found| {
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        found.sort_unstable();
        found == wanted
    });
    if !plain || !matches {
        return Err(PyTypeError::new_err(format!(
            "event_classes['{key}'] must be a dataclass with the fields ({}) and no __new__; \
             {} has {}",
            fields.join(", "),
            cls.name()?,
            match (&found, plain) {
                (_, false) => "its own __new__".to_owned(),
                (None, _) => "no dataclass fields".to_owned(),
                (Some(found), _) => format!("the fields ({})", found.join(", ")),
            }
        )));
    }
    Ok(cls.unbind())
}

impl Classes {
    fn new(event_classes: &Bound<'_, PyAny>) -> PyResult<Self> {
        if event_classes.is_instance_of::<PyString>() || !event_classes.hasattr("__getitem__")? {
            return Err(PyTypeError::new_err(format!(
                "event_classes must be a mapping of event type to dataclass, not {}",
                type_name(event_classes)
            )));
        }
        let [ready, error, node_started, node_token, node_completed, node_failed, node_emit, flow_completed, flow_failed, unknown] =
            EVENT_CLASSES.map(|(key, fields)| event_class(event_classes, key, fields));
        Ok(Self {
            ready: ready?,
            error: error?,
            node_started: node_started?,
            node_token: node_token?,
            node_completed: node_completed?,
            node_failed: node_failed?,
            node_emit: node_emit?,
            flow_completed: flow_completed?,
            flow_failed: flow_failed?,
            unknown: unknown?,
        })
    }
}

// ------------------------------------------------------------------ payloads

/// A payload instance built without `__init__`: `object.__new__(cls)`, then every field set
/// with `object.__setattr__`, as a frozen dataclass's own `__init__` does.
fn instance<'py>(
    py: Python<'py>,
    cls: &Py<PyType>,
    fields: &[(&Py<PyString>, &Bound<'py, PyAny>)],
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `cls` was checked to use object's tp_new; the empty tuple is a valid args
    // tuple; setattr borrows its arguments.
    unsafe {
        let new = (*ptr::addr_of_mut!(ffi::PyBaseObject_Type)).tp_new.expect("object has tp_new");
        let args = ffi::PyTuple_New(0);
        if args.is_null() {
            return Err(PyErr::fetch(py));
        }
        let obj = new(cls.as_ptr().cast(), args, ptr::null_mut());
        ffi::Py_DECREF(args);
        let obj = owned(py, obj)?;
        for (name, value) in fields {
            if ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) < 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(obj)
    }
}

/// A node id string (cached), or `""` when the frame has none.
fn node_id_str<'py>(
    b: &mut Builder<'_, '_, 'py>,
    id: Option<NodeId>,
    names: &Names,
) -> PyResult<Bound<'py, PyAny>> {
    match id {
        Some(id) => b.cached_string(id),
        None => Ok(names.empty.bind(b.py).clone().into_any()),
    }
}

// ------------------------------------------------------------------ decoding

/// Everything but the frame parser: the state that turns one message into entries.
struct MessageDecoder {
    tape: Tape,
    names: Names,
    classes: Classes,
    cache: StringCache,
    default_webhook_id: Py<PyString>,
    collect_text: bool,
    emit_tokens: bool,
    /// Collected token text, WTF-8.
    text: Vec<u8>,
    text_chars: usize,
    text_surrogates: bool,
    /// The last non-empty `data.execution_id` seen (WTF-8).
    execution_id: Option<Vec<u8>>,
}

impl MessageDecode for MessageDecoder {
    fn message<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
        binary: bool,
        flags: &mut u8,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let result = match parse_message(&mut self.tape, message, binary) {
            Ok(doc) => {
                let event = match check_python_int_digits(py, &doc)? {
                    Ok(()) => classify(&doc),
                    Err(too_long) => Event::Malformed(too_long),
                };
                if !matches!(event, Event::NodeToken { .. } | Event::Nothing | Event::Malformed(_))
                {
                    if let Some(id) = daguito::execution_id(&doc) {
                        self.execution_id = Some(id.to_vec());
                    }
                }
                let mut builder = Builder { py, doc: &doc, cache: &mut self.cache };
                let entry = entry(
                    &mut builder,
                    event,
                    &self.names,
                    &self.classes,
                    &self.default_webhook_id,
                    &mut TextSink {
                        collect: self.collect_text,
                        emit: self.emit_tokens,
                        text: &mut self.text,
                        chars: &mut self.text_chars,
                        surrogates: &mut self.text_surrogates,
                    },
                );
                *flags |= event.flags();
                entry
            }
            Err(malformed) => {
                *flags |= FLAG_CONTROL;
                self.malformed(py, &malformed.to_string()).map(Some)
            }
        };
        if message.len() > KEEP_TAPE_BYTES {
            self.tape.shrink(KEEP_TAPE_BYTES);
        }
        result
    }

    fn malformed<'py>(&self, py: Python<'py>, reason: &str) -> PyResult<Bound<'py, PyAny>> {
        malformed_entry(py, &self.names, reason)
    }
}

impl MessageDecoder {
    fn take_text<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = new_str(py, &self.text, false, self.text_surrogates)?;
        self.text.clear();
        if self.text.capacity() > KEEP_TAPE_BYTES {
            self.text = Vec::new();
        }
        self.text_chars = 0;
        self.text_surrogates = false;
        Ok(text)
    }
}

/// Where token text goes.
struct TextSink<'s> {
    collect: bool,
    emit: bool,
    text: &'s mut Vec<u8>,
    chars: &'s mut usize,
    surrogates: &'s mut bool,
}

fn malformed_entry<'py>(
    py: Python<'py>,
    names: &Names,
    reason: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let reason = PyString::new(py, reason).into_any();
    pair(py, names.malformed.bind(py).as_any(), reason)
}

/// The entry for one classified message, or `None` when it has none.
fn entry<'py>(
    b: &mut Builder<'_, '_, 'py>,
    event: Event,
    names: &Names,
    classes: &Classes,
    default_webhook_id: &Py<PyString>,
    sink: &mut TextSink<'_>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = b.py;
    let name = |n: &Py<PyString>| n.bind(py).clone().into_any();
    let (event_type, payload) = match event {
        Event::NodeToken { node_id, text } => {
            let s = b.str_node(text);
            if sink.collect {
                let bytes = b.doc.str_bytes(s);
                sink.text.extend_from_slice(bytes);
                *sink.chars += if s.is_ascii() {
                    bytes.len()
                } else {
                    // Characters are the bytes that do not continue a sequence.
                    bytes.iter().filter(|&&byte| (byte as i8) >= -0x40).count()
                };
                *sink.surrogates |= s.has_surrogates();
            }
            if !sink.emit {
                return Ok(None);
            }
            let node_id = node_id_str(b, node_id, names)?;
            let text = b.string(text)?;
            let payload = instance(
                py,
                &classes.node_token,
                &[(&names.node_id, &node_id), (&names.text, &text)],
            )?;
            (&names.node_token, payload)
        }
        Event::Nothing => return Ok(None),
        Event::Malformed(malformed) => {
            return malformed_entry(py, names, &malformed.to_string()).map(Some);
        }
        Event::Ready { webhook_id } => {
            let webhook_id = match webhook_id {
                Some(id) => b.string(id)?,
                None => name(default_webhook_id),
            };
            (&names.ready, instance(py, &classes.ready, &[(&names.webhook_id, &webhook_id)])?)
        }
        Event::SessionStarted { session_key } => {
            (&names.session_started, b.optional_value(session_key)?)
        }
        Event::SessionEnded => (&names.session_ended, py.None().into_bound(py)),
        Event::Error { message } => {
            let message = match message {
                Text::Default => name(&names.unknown_error),
                Text::Str(id) => b.string(id)?,
                Text::Json(id) => b.json_text(id)?,
            };
            (&names.error, instance(py, &classes.error, &[(&names.message, &message)])?)
        }
        Event::NodeStarted { node_id } => {
            let node_id = node_id_str(b, node_id, names)?;
            (
                &names.node_started,
                instance(py, &classes.node_started, &[(&names.node_id, &node_id)])?,
            )
        }
        Event::NodeCompleted { node_id, duration_ms, output } => {
            let node_id = node_id_str(b, node_id, names)?;
            let duration_ms = match duration_ms {
                Duration::None => py.None().into_bound(py),
                Duration::Int(id) => b.value(id)?,
                // SAFETY: PyLong_FromDouble returns a new reference or NULL with an error.
                Duration::Rounded(value) => unsafe { owned(py, ffi::PyLong_FromDouble(value))? },
            };
            let output = b.optional_value(output)?;
            let fields = [
                (&names.node_id, &node_id),
                (&names.duration_ms, &duration_ms),
                (&names.output, &output),
            ];
            (&names.node_completed, instance(py, &classes.node_completed, &fields)?)
        }
        Event::NodeFailed { node_id, error } => {
            let node_id = node_id_str(b, node_id, names)?;
            let error = b.optional_value(error)?;
            let fields = [(&names.node_id, &node_id), (&names.error, &error)];
            (&names.node_failed, instance(py, &classes.node_failed, &fields)?)
        }
        Event::NodeEmit { node_id, kind, data, tool_call: _ } => {
            let node_id = node_id_str(b, node_id, names)?;
            let kind = match kind {
                Text::Default => name(&names.empty),
                Text::Str(id) => b.cached_string(id)?,
                Text::Json(id) => b.json_text(id)?,
            };
            let data = match data {
                Some(id) => b.value(id)?,
                None => pyo3::types::PyDict::new(py).into_any(),
            };
            let fields = [(&names.node_id, &node_id), (&names.kind, &kind), (&names.data, &data)];
            (&names.node_emit, instance(py, &classes.node_emit, &fields)?)
        }
        Event::FlowCompleted { output } => {
            let output = b.optional_value(output)?;
            let elapsed = 0i64.into_pyobject(py)?.into_any();
            let fields = [(&names.elapsed_ms, &elapsed), (&names.output, &output)];
            (&names.flow_completed, instance(py, &classes.flow_completed, &fields)?)
        }
        Event::FlowFailed { error } => {
            let error = match error {
                Some(id) => b.string(id)?,
                None => name(&names.flow_failed_default),
            };
            (&names.flow_failed, instance(py, &classes.flow_failed, &[(&names.error, &error)])?)
        }
        Event::Unknown { type_ } => {
            let type_ = b.cached_string(type_)?;
            let frame = b.value(Doc::ROOT)?;
            let fields = [(&names.type_, &type_), (&names.frame, &frame)];
            (&names.unknown, instance(py, &classes.unknown, &fields)?)
        }
    };
    pair(py, event_type.bind(py).as_any(), payload).map(Some)
}

// ------------------------------------------------------------------ the class

/// Decodes the Daguito stream: raw WebSocket bytes (`feed`) or assembled messages
/// (`decode`) to lists of `(event_type, payload)` tuples.
#[pyclass(module = "relaywire._native")]
pub struct StreamDecoder {
    inner: Framed<MessageDecoder>,
}

#[pymethods]
impl StreamDecoder {
    // `max_message_size` defaults to 64 MiB, spelled as a literal so that the signature shows it.
    #[new]
    #[pyo3(signature = (event_classes, *, default_webhook_id = "", max_message_size = 67108864))]
    fn new(
        py: Python<'_>,
        event_classes: &Bound<'_, PyAny>,
        default_webhook_id: &str,
        max_message_size: i128,
    ) -> PyResult<Self> {
        let Ok(max_message_size) = u64::try_from(max_message_size) else {
            return Err(PyValueError::new_err("max_message_size must be an int >= 0"));
        };
        let decoder = MessageDecoder {
            tape: Tape::new(),
            names: Names::new(py),
            classes: Classes::new(event_classes)?,
            cache: StringCache::new(),
            default_webhook_id: PyString::new(py, default_webhook_id).unbind(),
            collect_text: false,
            emit_tokens: true,
            text: Vec::new(),
            text_chars: 0,
            text_surrogates: false,
            execution_id: None,
        };
        Ok(Self { inner: Framed::new(max_message_size, decoder) })
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

    /// A new connection: forgets partial frames, fragments and any error; keeps the text.
    fn reset(&mut self) {
        self.inner.reset();
    }

    #[getter]
    fn collect_text(&self) -> bool {
        self.inner.decoder.collect_text
    }

    #[setter]
    fn set_collect_text(&mut self, value: bool) {
        self.inner.decoder.collect_text = value;
    }

    #[getter]
    fn emit_tokens(&self) -> bool {
        self.inner.decoder.emit_tokens
    }

    #[setter]
    fn set_emit_tokens(&mut self, value: bool) {
        self.inner.decoder.emit_tokens = value;
    }

    /// Returns the collected token text and clears it.
    fn take_text<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.decoder.take_text(py)
    }

    /// Characters collected so far.
    #[getter]
    fn text_length(&self) -> usize {
        self.inner.decoder.text_chars
    }

    /// The last non-empty `data.execution_id` a frame carried, or None; settable (to None, to
    /// start a new turn).
    /// Kept as WTF-8, so that a lone surrogate (`"\ud800"`) comes back as `json.loads`
    /// gives it.
    #[getter]
    fn execution_id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(id) = self.inner.decoder.execution_id.as_deref() else {
            return Ok(None);
        };
        new_str(py, id, id.is_ascii(), true).map(Some)
    }

    #[setter]
    fn set_execution_id(&mut self, value: Option<&Bound<'_, PyString>>) -> PyResult<()> {
        self.inner.decoder.execution_id = match value {
            None => None,
            Some(id) => Some(wtf8(id)?),
        };
        Ok(())
    }

    #[getter]
    fn max_message_size(&self) -> u64 {
        self.inner.frames.max_message_size()
    }

    fn __repr__(&self) -> String {
        format!(
            "StreamDecoder(collect_text={}, emit_tokens={}, max_message_size={})",
            if self.inner.decoder.collect_text { "True" } else { "False" },
            if self.inner.decoder.emit_tokens { "True" } else { "False" },
            self.inner.frames.max_message_size()
        )
    }
}

/// The WTF-8 bytes of a `str` (UTF-8, with lone surrogates encoded as if they were
/// characters).
fn wtf8(text: &Bound<'_, PyString>) -> PyResult<Vec<u8>> {
    if let Ok(utf8) = text.to_str() {
        return Ok(utf8.as_bytes().to_vec());
    }
    let encoded =
        text.call_method1(pyo3::intern!(text.py(), "encode"), ("utf-8", "surrogatepass"))?;
    Ok(encoded.cast_into::<pyo3::types::PyBytes>()?.as_bytes().to_vec())
}

/// The module's `FLAG_*` constants.
pub fn add_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FLAG_CONTROL", daguito::FLAG_CONTROL)?;
    m.add("FLAG_TOOL_CALL", daguito::FLAG_TOOL_CALL)?;
    m.add("FLAG_TURN_END", daguito::FLAG_TURN_END)?;
    Ok(())
}
