//! `relaywire._native.LinktorRules` and `DialectPlan`: self-hosted Linktor server bodies to
//! the SDK's models in one call.
//!
//! `LinktorRules` holds the tables of `linktor._dialect` (compiled once); a `DialectPlan` pairs
//! a model's [`ModelPlan`] with one of the adaptation rules of [`crate::adapt`]. `one` unwraps
//! the `{"success", "data"}` envelope, adapts the record and builds the model; `items` builds
//! every record of a list answer and hands back its paging objects. Where the rules or the
//! plan cannot promise the Python path's result, both answer `None` and the caller runs the
//! Python path on the whole body.

use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::envelope::envelope_tuple;
use super::model::{of_type, string_of, Build, Built, Hooks, ModelPlan, Stop};
use super::objects::{Builder, StringCache};
use crate::adapt::{
    truthy, Adapter, ChannelType, Decline, Fit, Obj, Recipe, Rules, Tables, Text, Val, Word,
    WordMap,
};
use crate::envelope::Envelope;
use crate::json::{same_bytes, Doc, DocBatch, DocRange, Node, NodeId};

/// The fitted enums the rules read, each `kind: (values, {server word: nearest value})`.
const FITS: [&str; 7] = [
    "content_type",
    "sender_type",
    "conversation_status",
    "channel_type",
    "bot_status",
    "bot_type",
    "node_type",
];

fn word(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Word> {
    Ok(string_of(obj, what)?.into_bytes().into_boxed_slice())
}

fn words(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Word>> {
    obj.try_iter()?.map(|item| word(&item?, what)).collect()
}

fn word_map(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<WordMap> {
    let map = of_type::<PyDict>(obj, what, "a dict")?;
    map.iter().map(|(k, v)| Ok((word(&k, what)?, word(&v, what)?))).collect()
}

/// The tables of `linktor._dialect`, read once, and its `_media_mime` function.
#[pyclass(module = "relaywire._native", frozen)]
pub struct LinktorRules {
    pub(super) tables: Tables,
    media_mime: Py<PyAny>,
}

impl LinktorRules {
    pub(super) fn hooks(&self) -> Hooks<'_> {
        Hooks { media_mime: Some(&self.media_mime) }
    }
}

#[pymethods]
impl LinktorRules {
    #[new]
    #[pyo3(signature = (
        *, fits, media_content_types, channel_status, weekdays, unknown_channel_type, spaces,
        media_mime,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        fits: &Bound<'_, PyAny>,
        media_content_types: &Bound<'_, PyAny>,
        channel_status: &Bound<'_, PyAny>,
        weekdays: &Bound<'_, PyAny>,
        unknown_channel_type: &Bound<'_, PyAny>,
        spaces: &str,
        media_mime: Py<PyAny>,
    ) -> PyResult<Self> {
        let fits = of_type::<PyDict>(fits, "fits", "a dict")?;
        let mut compiled: Vec<Fit> = Vec::with_capacity(FITS.len());
        for kind in FITS {
            let Some(entry) = fits.get_item(kind)? else {
                return Err(PyValueError::new_err(format!("fits has no {kind:?} entry")));
            };
            let (allowed, nearest): (Bound<'_, PyAny>, Bound<'_, PyAny>) = entry.extract()?;
            compiled.push(Fit {
                allowed: words(&allowed, "an enum value")?,
                nearest: word_map(&nearest, "a nearest value")?,
            });
        }
        let [content_type, sender_type, conversation_status, channel_type, bot_status, bot_type, node_type]: [Fit; 7] =
            compiled.try_into().map_err(|_| PyValueError::new_err("seven fits"))?;
        let weekdays = of_type::<PyDict>(weekdays, "weekdays", "a dict")?
            .iter()
            .map(|(name, number)| Ok((word(&name, "a weekday")?, number.extract::<i64>()?)))
            .collect::<PyResult<_>>()?;
        let tables = Tables {
            content_type,
            sender_type,
            conversation_status,
            channel_type,
            bot_status,
            bot_type,
            node_type,
            media_content_types: words(media_content_types, "a media content type")?,
            channel_status: word_map(channel_status, "a channel status")?,
            weekdays,
            unknown_channel_type: word(unknown_channel_type, "unknown_channel_type")?,
            spaces: spaces.chars().collect(),
        };
        Ok(Self { tables, media_mime })
    }

    fn __repr__(&self) -> &'static str {
        "<LinktorRules>"
    }
}

/// The channel types the rules read, from the client's cache (`{channel id: type}`).
fn channel_lookup<'a, 'py>(
    types: Option<&'a Bound<'py, PyDict>>,
) -> impl FnMut(&[u8]) -> ChannelType + 'a {
    move |id: &[u8]| {
        let (Some(types), Ok(id)) = (types, std::str::from_utf8(id)) else {
            return ChannelType::Unknown;
        };
        match types.get_item(PyString::new(types.py(), id)) {
            Ok(None) => ChannelType::Unknown,
            Ok(Some(kind)) => match kind.cast::<PyString>() {
                Ok(kind) if kind.is_exact_instance_of::<PyString>() => kind
                    .to_str()
                    .map_or(ChannelType::Odd, |kind| ChannelType::Known(kind.as_bytes().to_vec())),
                _ => ChannelType::Odd,
            },
            Err(_) => ChannelType::Odd,
        }
    }
}

/// `unwrap(body)`: the `data` of a `{"success", "data"}` envelope, else the body.
fn unwrapped(doc: &Doc<'_>) -> NodeId {
    let root = Doc::ROOT;
    if matches!(doc.node(root), Node::Object(_)) && doc.get(root, b"success").is_some() {
        if let Some(data) = doc.get(root, b"data") {
            return data;
        }
    }
    root
}

/// A model's plan and the adaptation its server records need.
#[pyclass(module = "relaywire._native", frozen)]
pub struct DialectPlan {
    plan: Py<ModelPlan>,
    adapter: Adapter,
    rules: Py<LinktorRules>,
}

impl DialectPlan {
    /// One record adapted and built; a `str` (the channel id) when its channel's type is not
    /// known yet.
    fn record<'py>(
        &self,
        build: &mut Build<'_, '_, '_, 'py>,
        doc: &Doc<'_>,
        id: NodeId,
        lookup: &mut dyn FnMut(&[u8]) -> ChannelType,
    ) -> Built<'py> {
        let rules = Rules { doc, tables: &self.rules.get().tables };
        match rules.adapt(self.adapter, id, lookup) {
            Err(missing) => {
                let missing = String::from_utf8(missing).map_err(|_| Stop::Decline)?;
                Ok(PyString::new(build.py(), &missing).into_any())
            }
            Ok(Err(Decline)) => Err(Stop::Decline),
            Ok(Ok(val)) => build.root_of(&val),
        }
    }
}

#[pymethods]
impl DialectPlan {
    #[new]
    fn new(plan: Py<ModelPlan>, adapter: &str, rules: Py<LinktorRules>) -> PyResult<Self> {
        let Some(adapter) = Adapter::from_name(adapter) else {
            return Err(PyValueError::new_err(format!("unknown adapter {adapter:?}")));
        };
        Ok(Self { plan, adapter, rules })
    }

    /// The model of a one-record answer (`{"success", "data"}` or bare), or `None` (declined:
    /// validate with the Python path); a conversation whose channel type the given
    /// `channel_types` lack is its channel id (a `str`) instead.
    #[pyo3(signature = (body, channel_types = None))]
    fn one<'py>(
        &self,
        body: &Bound<'py, PyAny>,
        channel_types: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let rules = self.rules.get();
        let mut lookup = channel_lookup(channel_types);
        self.plan.get().with_document(body, &rules.hooks(), |build, doc| {
            self.record(build, doc, unwrapped(doc), &mut lookup)
        })
    }

    /// A list answer: `(items, meta, pagination, bare)`. `items` are the models of the
    /// records of its `data` array (no items when `data` is not an array), or of the body
    /// itself when it is an array (`bare`); `meta` and `pagination` are the body's keys as
    /// `json.loads` gives them (`None` when absent). A conversation whose channel type is not
    /// known is its channel id. `None` when declined.
    #[pyo3(signature = (body, channel_types = None))]
    fn items<'py>(
        &self,
        body: &Bound<'py, PyAny>,
        channel_types: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let rules = self.rules.get();
        let mut lookup = channel_lookup(channel_types);
        self.plan.get().with_document(body, &rules.hooks(), |build, doc| {
            let py = build.py();
            let root = Doc::ROOT;
            let (records, meta, pagination, bare) = match doc.node(root) {
                Node::Array(_) => (Some(root), None, None, true),
                Node::Object(_) => (
                    doc.get(root, b"data").filter(|&d| matches!(doc.node(d), Node::Array(_))),
                    doc.get(root, b"meta"),
                    doc.get(root, b"pagination"),
                    false,
                ),
                _ => return Err(Stop::Decline),
            };
            let items = PyList::empty(py);
            if let Some(records) = records {
                for record in doc.elements(records) {
                    items.append(self.record(build, doc, record, &mut lookup)?)?;
                }
            }
            let meta = build.json(meta)?;
            let pagination = build.json(pagination)?;
            let bare = pyo3::types::PyBool::new(py, bare).to_owned().into_any();
            Ok(PyTuple::new(py, [items.into_any(), meta, pagination, bare])?.into_any())
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let plan = self.plan.bind(py).repr().map_or_else(|_| "?".to_owned(), |r| r.to_string());
        format!("<DialectPlan {:?} {plan}>", self.adapter)
    }
}

// ------------------------------------------------------------------ realtime events

/// What a frame type becomes.
enum Route {
    /// Left to the Python path (frames the client answers or ignores itself).
    Python,
    /// An event: the recipe reads the payload, the plan builds the event model.
    Event(Recipe, Py<ModelPlan>),
}

/// The events of Linktor's realtime socket, for `EnvelopeDecoder(events=...)`: each frame
/// type's recipe (`linktor.websocket`'s table) and event plan; any other type becomes an
/// `UnknownEvent(type=..., payload=...)` (the `unknown` plan).
#[pyclass(module = "relaywire._native", frozen)]
pub struct RealtimeEvents {
    routes: Vec<(Word, Route)>,
    unknown: Py<ModelPlan>,
    rules: Py<LinktorRules>,
    /// Types built at once even by a deferring decoder (their events are needed at once).
    eager: Vec<Word>,
    /// String caches for [`PendingEvent::build`], pooled.
    pool: Mutex<Vec<StringCache>>,
}

#[pymethods]
impl RealtimeEvents {
    #[new]
    #[pyo3(signature = (events, *, unknown, python, rules, eager = None))]
    fn new(
        events: &Bound<'_, PyAny>,
        unknown: Py<ModelPlan>,
        python: &Bound<'_, PyAny>,
        rules: Py<LinktorRules>,
        eager: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let events = of_type::<PyDict>(events, "events", "a dict")?;
        let mut routes = Vec::with_capacity(events.len());
        for (frame_type, entry) in events.iter() {
            let (recipe, plan): (String, Py<ModelPlan>) = entry.extract()?;
            let Some(recipe) = Recipe::from_name(&recipe) else {
                return Err(PyValueError::new_err(format!("unknown recipe {recipe:?}")));
            };
            routes.push((word(&frame_type, "a frame type")?, Route::Event(recipe, plan)));
        }
        for frame_type in words(python, "a frame type")? {
            routes.push((frame_type, Route::Python));
        }
        let eager = match eager {
            Some(eager) => words(eager, "a frame type")?,
            None => Vec::new(),
        };
        Ok(Self { routes, unknown, rules, eager, pool: Mutex::new(Vec::new()) })
    }

    fn __repr__(&self) -> String {
        format!("<RealtimeEvents ({} frame types)>", self.routes.len())
    }
}

impl RealtimeEvents {
    /// Whether frames of this type are built here (the others take the Python path).
    pub(super) fn routed(&self, frame_type: &[u8]) -> bool {
        !matches!(self.route(frame_type), Some(Route::Python))
    }

    /// Whether a deferring decoder defers frames of this (routed) type.
    pub(super) fn deferred(&self, frame_type: &[u8]) -> bool {
        !self.eager.iter().any(|t| same_bytes(t, frame_type))
    }

    fn route(&self, frame_type: &[u8]) -> Option<&Route> {
        self.routes.iter().find(|(t, _)| same_bytes(t, frame_type)).map(|(_, r)| r)
    }

    /// The event of a frame read before (see [`PendingEvent`]), or its `(type, payload)`
    /// tuple for the Python path.
    fn build_pending<'py>(
        &self,
        py: Python<'py>,
        doc: &Doc<'_>,
        envelope: Envelope,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut cache =
            self.pool.lock().map(|mut pool| pool.pop()).unwrap_or(None).unwrap_or_default();
        let frame_type = doc.str_bytes(doc.as_str(envelope.type_).expect("a string"));
        let result = match self.event(py, doc, &mut cache, frame_type, envelope.payload) {
            Some(event) => Ok(event),
            None => envelope_tuple(&mut Builder { py, doc, cache: &mut cache }, envelope),
        };
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(cache);
        }
        result
    }

    /// The event of one frame (a parsed envelope), or `None` for the Python path (a frame
    /// type it handles, or a payload the rules or the plan cannot promise to build as it
    /// would).
    pub(super) fn event<'py>(
        &self,
        py: Python<'py>,
        doc: &Doc<'_>,
        cache: &mut StringCache,
        frame_type: &[u8],
        payload: Option<NodeId>,
    ) -> Option<Bound<'py, PyAny>> {
        let (recipe, plan) = match self.route(frame_type) {
            Some(Route::Python) => return None,
            Some(Route::Event(recipe, plan)) => (Some(*recipe), plan),
            None => (None, &self.unknown),
        };
        if super::model::declined(doc) {
            return None;
        }
        let rules = self.rules.get();
        let hooks = rules.hooks();
        plan.get()
            .with_parsed(py, doc, cache, &hooks, |build| {
                let val = match recipe {
                    Some(recipe) => Rules { doc, tables: &rules.tables }
                        .event(recipe, frame_type, payload)
                        .map_err(|Decline| Stop::Decline)?,
                    None => Val::Obj(Obj::new(vec![
                        (
                            "type",
                            Val::Text(Text {
                                bytes: frame_type.into(),
                                ascii: frame_type.is_ascii(),
                            }),
                        ),
                        ("payload", payload.map_or_else(|| Val::Obj(Obj::default()), Val::Node)),
                    ])),
                };
                build.root_of(&val)
            })
            .ok()
    }
}

/// The parsed frames of one `feed` (or `decode`) whose events are pending: filled while the
/// input is read, then set, once, before any of its events can be taken.
pub(super) type PendingFrames = Arc<OnceLock<DocBatch>>;

/// A frame whose event is built when it is taken (`EnvelopeDecoder(events=..., defer=True)`):
/// a batch of frames read together then costs no more, and keeps no more objects alive, than
/// frames taken one by one. It keeps the parsed frame (in the [`DocBatch`] of the frames read
/// with it), so it is not parsed again.
#[pyclass(module = "relaywire._native", frozen)]
pub struct PendingEvent {
    events: Py<RealtimeEvents>,
    frame_type: Py<PyString>,
    frames: PendingFrames,
    range: DocRange,
    envelope: Envelope,
}

impl PendingEvent {
    pub(super) fn new(
        events: Py<RealtimeEvents>,
        frame_type: Py<PyString>,
        frames: PendingFrames,
        range: DocRange,
        envelope: Envelope,
    ) -> Self {
        Self { events, frame_type, frames, range, envelope }
    }
}

#[pymethods]
impl PendingEvent {
    /// The frame's type.
    #[getter]
    fn r#type(&self, py: Python<'_>) -> Py<PyString> {
        self.frame_type.clone_ref(py)
    }

    /// The frame's event, or its `(type, payload)` tuple where the Python path decides.
    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Some(frames) = self.frames.get() else {
            // The decoder sets the frames before `feed`/`decode` returns the event.
            return Err(PyRuntimeError::new_err("the frame of this event is still being read"));
        };
        self.events.get().build_pending(py, &frames.doc(&self.range), self.envelope)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<PendingEvent {}>", self.frame_type.bind(py))
    }
}

// ------------------------------------------------------------------ webhook events

/// What [`WebhookEvents::construct`] answers instead of an event.
const NOT_VERIFIED: u8 = 0;
const DECLINED: u8 = 1;
const REPLAYED: u8 = 2;

/// Linktor webhook deliveries (`{"id", "type", "timestamp", "tenantId", "data"}`) to
/// `WebhookEvent` models: `linktor.utils.webhook`'s parse, on the Rust core, for the bodies
/// where it gives exactly the Python path's event (the others are declined).
#[pyclass(module = "relaywire._native", frozen)]
pub struct WebhookEvents {
    /// The model of the known event types, and that of any other type.
    known: Py<ModelPlan>,
    unknown: Py<ModelPlan>,
    known_types: Vec<Word>,
}

impl WebhookEvents {
    fn parse<'py>(&self, body: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if body.is_instance_of::<PyString>() {
            return Ok(None); // `from_json` reads a str its own way (lone surrogates...)
        }
        let hooks = Hooks { media_mime: None };
        let known = self.known.get();
        known.with_document(body, &hooks, |build, doc| {
            // `data.get("id") and data.get("type") and data.get("timestamp")`, then the model
            // by whether the type is a known one.
            let root = Doc::ROOT;
            if !matches!(doc.node(root), Node::Object(_)) {
                return Err(Stop::Decline);
            }
            let [id, kind, timestamp] =
                ["id", "type", "timestamp"].map(|key| doc.get(root, key.as_bytes()));
            if !(truthy(doc, id) && truthy(doc, kind) && truthy(doc, timestamp)) {
                return Err(Stop::Decline);
            }
            let Some(Node::Str(kind)) = kind.map(|id| doc.node(id)) else {
                return Err(Stop::Decline);
            };
            let kind = doc.str_bytes(kind);
            if self.known_types.iter().any(|known| **known == *kind) {
                build.root(root)
            } else {
                self.unknown
                    .get()
                    .with_parsed(build.py(), doc, build.cache(), &hooks, |b| b.root(root))
            }
        })
    }
}

#[pymethods]
impl WebhookEvents {
    #[new]
    fn new(
        known: Py<ModelPlan>,
        unknown: Py<ModelPlan>,
        known_types: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        Ok(Self { known, unknown, known_types: words(known_types, "an event type")? })
    }

    /// The event of a delivery's body (verified before), or `None` where the Python path
    /// decides (and raises its errors).
    #[pyo3(name = "parse")]
    fn py_parse<'py>(&self, body: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.parse(body)
    }

    /// `construct_event` in one call: verify the request (as `verify_linktor_request`), build
    /// its event, and with a `replay_guard`, have it remember the signature
    /// (`replay_guard.remember(signature)`). The event, or `0` (not verified), `1` (declined:
    /// the Python path parses it, and the guard has not been asked) or `2` (the guard saw the
    /// signature).
    #[pyo3(signature = (payload, headers, secret, tolerance = 300.0, replay_guard = None))]
    fn construct<'py>(
        &self,
        payload: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        secret: &Bound<'py, PyAny>,
        tolerance: f64,
        replay_guard: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = payload.py();
        let code = |code: u8| Ok(code.into_pyobject(py)?.into_any());
        if !super::webhooks::verify_linktor_request(payload, headers, secret, tolerance, None)? {
            return code(NOT_VERIFIED);
        }
        let Some(event) = self.parse(payload)? else {
            return code(DECLINED);
        };
        if let Some(guard) = replay_guard {
            let signature = super::webhooks::linktor_signature(payload, secret)?;
            if !guard.call_method1(pyo3::intern!(py, "remember"), (signature,))?.is_truthy()? {
                return code(REPLAYED);
            }
        }
        Ok(event)
    }

    fn __repr__(&self) -> String {
        format!("<WebhookEvents ({} known types)>", self.known_types.len())
    }
}
