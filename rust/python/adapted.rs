//! `relaywire._native.LinktorRules` and `DialectPlan`: self-hosted Linktor server bodies to
//! the SDK's models in one call.
//!
//! `LinktorRules` holds the tables of `linktor._dialect` (compiled once); a `DialectPlan` pairs
//! a model's [`ModelPlan`] with one of the adaptation rules of [`crate::adapt`]. `one` unwraps
//! the `{"success", "data"}` envelope, adapts the record and builds the model; `items` builds
//! every record of a list answer and hands back its paging objects. Where the rules or the
//! plan cannot promise the Python path's result, both answer `None` and the caller runs the
//! Python path on the whole body.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::model::{of_type, string_of, Build, Built, Hooks, ModelPlan, Stop};
use crate::adapt::{Adapter, ChannelType, Decline, Fit, Rules, Tables, Word, WordMap};
use crate::json::{Doc, Node, NodeId};

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
