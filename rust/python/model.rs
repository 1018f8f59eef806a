//! `relaywire._native.ModelPlan`: JSON bytes to pydantic model instances in one call, for the
//! documents where the result is known to be exactly pydantic's.
//!
//! `relaywire.models` compiles a model's pydantic-core schema into the plan's input: the
//! models (root first), each with its fields in definition order, the JSON keys each field is
//! read from (alias first), the field's kind and its default. [`ModelPlan::build`] parses the
//! document onto the JSON tape, then walks it along the plan and builds the instances the way
//! pydantic-core does (`tp_new`, then `__dict__`, `__pydantic_extra__`, `__pydantic_private__`
//! and `__pydantic_fields_set__` set directly).
//!
//! Whenever a value is not one the plan reproduces exactly (a number in a `str` field, a
//! timestamp in another spelling, an unknown enum value, a missing required field, invalid
//! JSON, a lone surrogate anywhere, an integer beyond `i64`, very deep nesting), `build`
//! declines with `None` and the caller hands the whole document to pydantic.

use std::ptr;
use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::type_object::PyTypeCheck;
use pyo3::types::{
    PyBytes, PyDateTime, PyDict, PyList, PySet, PyString, PyTuple, PyType, PyTzInfo,
};

use super::args::type_name;
use super::objects::{
    fingerprint, fingerprint_hash, new_str, owned, with_bytes, Builder, StringCache,
    KEEP_TAPE_BYTES,
};
use crate::datetime::parse_rfc3339;
use crate::json::{Doc, Node, NodeId, Tape};

/// Deeper documents are declined: pydantic's JSON parser stops at a recursion limit of its own
/// (around 200), and no response model nests anywhere near this.
const MAX_DEPTH: usize = 128;

/// What a field holds.
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Any,
    DateTime,
    Nullable(Box<Kind>),
    List(Box<Kind>),
    Dict(Box<Kind>),
    /// A `str` enum or string literal: the JSON string to the Python object.
    /// Few enough to scan (an enum's members).
    Choice(Vec<(Box<[u8]>, Py<PyAny>)>),
    Model(usize),
}

/// What a missing field gets.
enum Default {
    Required,
    Value(Py<PyAny>),
    DeepCopy(Py<PyAny>),
    Factory(Py<PyAny>),
}

struct Field {
    name: Py<PyString>,
    kind: Kind,
    default: Default,
}

/// A JSON key and the fields it feeds, each with the key's rank among that field's keys
/// (0 for the first, which wins when a document has several).
struct Key {
    /// [`fingerprint`] of the bytes, which with the length identifies up to 16 bytes.
    words: (u64, u64),
    bytes: Box<[u8]>,
    targets: Vec<(usize, u8)>,
}

struct Model {
    cls: Py<PyType>,
    fields: Vec<Field>,
    /// Every field name to `None`, in field order: each instance's `__dict__` starts as a copy
    /// (one allocation, no resizing), and the values replace the `None`s.
    template: Py<PyDict>,
    /// Every field name: the fields set of an instance whose fields were all given.
    all_names: Py<PySet>,
    keys: Vec<Key>,
    /// Open addressing over `keys`: index + 1, 0 for an empty slot; a power of two long.
    table: Vec<u32>,
}

impl Model {
    fn index_keys(&mut self) {
        let size = (self.keys.len() * 4).next_power_of_two().max(8);
        self.table = vec![0; size];
        for (index, key) in self.keys.iter().enumerate() {
            let mut slot =
                (fingerprint_hash(key.words, key.bytes.len()) >> 32) as usize & (size - 1);
            while self.table[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            self.table[slot] = u32::try_from(index + 1).expect("fewer than 4 billion keys");
        }
    }

    #[inline]
    fn lookup(&self, bytes: &[u8]) -> Option<&Key> {
        let mask = self.table.len() - 1;
        let words = fingerprint(bytes);
        let hash = fingerprint_hash(words, bytes.len());
        let mut slot = (hash >> 32) as usize & mask;
        loop {
            match self.table[slot] {
                0 => return None,
                index => {
                    let key = &self.keys[index as usize - 1];
                    let same = key.words == words
                        && key.bytes.len() == bytes.len()
                        && (bytes.len() <= 16 || &*key.bytes == bytes);
                    if same {
                        return Some(key);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// Per-call buffers, pooled so that concurrent and re-entrant calls (a default factory that
/// parses again) each get their own.
#[derive(Default)]
struct Scratch {
    tape: Tape,
    cache: StringCache,
    /// The best key found so far for each field of the models being built (a stack).
    found: Vec<u64>,
    tz: Vec<(i32, Py<PyTzInfo>)>,
}

const NOT_FOUND: u64 = u64::MAX;

/// Not built: the document goes to pydantic (`Decline`), or Python raised.
enum Stop {
    Decline,
    Raised(PyErr),
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Self::Raised(error)
    }
}

type Built<'py> = Result<Bound<'py, PyAny>, Stop>;

/// Builds JSON bytes into pydantic model instances, along a plan compiled by
/// `relaywire.models` from the models' pydantic-core schemas.
#[pyclass(module = "relaywire._native", frozen)]
pub struct ModelPlan {
    models: Vec<Model>,
    tzinfo: Py<PyAny>,
    deepcopy: Py<PyAny>,
    pool: Mutex<Vec<Scratch>>,
}

fn malformed(what: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("malformed model plan: {what}"))
}

/// `obj` as a `T`, or a `TypeError` saying that `what` must be `expected`.
fn of_type<'a, 'py, T: PyTypeCheck>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
    expected: &str,
) -> PyResult<&'a Bound<'py, T>> {
    obj.cast::<T>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(obj)))
    })
}

fn tuple_of<'py>(obj: &Bound<'py, PyAny>, what: &str, len: usize) -> PyResult<Bound<'py, PyTuple>> {
    let tuple = of_type::<PyTuple>(obj, what, "a tuple")?;
    if tuple.len() != len {
        return Err(malformed(format!("{what} must have {len} items, not {}", tuple.len())));
    }
    Ok(tuple.clone())
}

fn string_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    Ok(of_type::<PyString>(obj, what, "a str")?.to_str()?.to_owned())
}

fn compile_kind(spec: &Bound<'_, PyAny>, model_count: usize) -> PyResult<Kind> {
    let tuple = of_type::<PyTuple>(spec, "a field kind", "a tuple")?;
    let Ok(head) = tuple.get_item(0) else {
        return Err(malformed("a field kind is an empty tuple"));
    };
    let name = string_of(&head, "a field kind's name")?;
    let arity = match name.as_str() {
        "str" | "int" | "float" | "bool" | "any" | "datetime" => 1,
        "nullable" | "list" | "dict" | "choice" | "model" => 2,
        other => return Err(malformed(format!("unknown field kind {other:?}"))),
    };
    if tuple.len() != arity {
        return Err(malformed(format!("field kind {name:?} takes {} argument(s)", arity - 1)));
    }
    let inner = || compile_kind(&tuple.get_item(1)?, model_count).map(Box::new);
    Ok(match name.as_str() {
        "str" => Kind::Str,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "bool" => Kind::Bool,
        "any" => Kind::Any,
        "datetime" => Kind::DateTime,
        "nullable" => Kind::Nullable(inner()?),
        "list" => Kind::List(inner()?),
        "dict" => Kind::Dict(inner()?),
        "choice" => {
            let choices = tuple.get_item(1)?;
            let choices = of_type::<PyDict>(&choices, "the choices of a field", "a dict")?;
            let mut map = Vec::with_capacity(choices.len());
            for (key, value) in choices.iter() {
                let key = string_of(&key, "a choice's JSON value")?;
                map.push((key.into_bytes().into_boxed_slice(), value.unbind()));
            }
            Kind::Choice(map)
        }
        _ => {
            let index: usize = tuple.get_item(1)?.extract().map_err(|_| {
                PyTypeError::new_err("a model kind's index must be a non-negative int")
            })?;
            if index >= model_count {
                return Err(malformed(format!(
                    "model index {index} is out of range ({model_count} models)"
                )));
            }
            Kind::Model(index)
        }
    })
}

fn compile_model(spec: &Bound<'_, PyAny>, model_count: usize) -> PyResult<Model> {
    let spec = tuple_of(spec, "a model", 2)?;
    let cls = spec.get_item(0)?;
    let cls = of_type::<PyType>(&cls, "a model's class", "a type")?;
    let py = spec.py();
    let template = PyDict::new(py);
    let all_names = PySet::empty(py)?;
    let mut model = Model {
        cls: cls.clone().unbind(),
        fields: Vec::new(),
        template: template.clone().unbind(),
        all_names: all_names.clone().unbind(),
        keys: Vec::new(),
        table: Vec::new(),
    };
    for field in spec.get_item(1)?.try_iter()? {
        let field = tuple_of(&field?, "a field", 5)?;
        let name = field.get_item(0)?;
        let name = of_type::<PyString>(&name, "a field's name", "a str")?.clone();
        if template.contains(&name)? {
            return Err(malformed(format!("field {name} appears twice")));
        }
        template.set_item(&name, py.None())?;
        all_names.add(&name)?;
        let index = model.fields.len();
        let keys = field.get_item(1)?;
        let keys = of_type::<PyTuple>(&keys, "a field's keys", "a tuple")?;
        if keys.is_empty() || keys.len() > usize::from(u8::MAX) {
            return Err(malformed("a field must have between 1 and 255 keys"));
        }
        for (rank, key) in keys.iter().enumerate() {
            let bytes = string_of(&key, "a field's key")?.into_bytes().into_boxed_slice();
            let target = (index, u8::try_from(rank).expect("at most 255 keys"));
            match model.keys.iter_mut().find(|k| k.bytes == bytes) {
                Some(existing) => existing.targets.push(target),
                None => model.keys.push(Key {
                    words: fingerprint(&bytes),
                    bytes,
                    targets: vec![target],
                }),
            }
        }
        let kind = compile_kind(&field.get_item(2)?, model_count)?;
        let mode: u8 = field
            .get_item(3)?
            .extract()
            .map_err(|_| PyTypeError::new_err("a field's default mode must be an int"))?;
        let value = field.get_item(4)?.unbind();
        let default = match mode {
            0 => Default::Required,
            1 => Default::Value(value),
            2 => Default::DeepCopy(value),
            3 => Default::Factory(value),
            other => return Err(malformed(format!("unknown default mode {other}"))),
        };
        model.fields.push(Field { name: name.unbind(), kind, default });
    }
    model.index_keys();
    Ok(model)
}

/// `obj.<name> = value` the way `object.__setattr__` does it (pydantic's models override
/// `__setattr__`).
fn force_setattr(
    obj: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    value: *mut ffi::PyObject,
) -> PyResult<()> {
    // SAFETY: live objects; GenericSetAttr takes its own reference to `value`.
    if unsafe { ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value) } < 0 {
        return Err(PyErr::fetch(obj.py()));
    }
    Ok(())
}

/// One build: the document, the buffers and the plan.
struct Build<'s, 'd, 'a, 'py> {
    plan: &'s ModelPlan,
    values: Builder<'d, 'a, 'py>,
    found: &'d mut Vec<u64>,
    tz: &'d mut Vec<(i32, Py<PyTzInfo>)>,
}

impl<'py> Build<'_, '_, '_, 'py> {
    fn py(&self) -> Python<'py> {
        self.values.py
    }

    fn value(&mut self, kind: &Kind, id: NodeId) -> Built<'py> {
        let py = self.py();
        let doc = self.values.doc;
        let node = doc.node(id);
        // SAFETY: each ffi constructor returns a new reference or NULL with an exception set.
        unsafe {
            match (kind, node) {
                (Kind::Str, Node::Str(s)) => {
                    Ok(new_str(py, doc.str_bytes(s), s.is_ascii(), false)?)
                }
                (Kind::Int, Node::Int(i)) => Ok(owned(py, ffi::PyLong_FromLongLong(i))?),
                (Kind::Float, Node::Float(f)) if f.is_finite() => {
                    Ok(owned(py, ffi::PyFloat_FromDouble(f))?)
                }
                // pydantic turns a JSON integer into the float nearest to it, as `as` does.
                #[allow(clippy::cast_precision_loss)]
                (Kind::Float, Node::Int(i)) => Ok(owned(py, ffi::PyFloat_FromDouble(i as f64))?),
                (Kind::Bool, Node::Bool(b)) => {
                    Ok(pyo3::types::PyBool::new(py, b).to_owned().into_any())
                }
                (Kind::Any, _) => Ok(self.values.value(id)?),
                (Kind::DateTime, Node::Str(s)) => self.datetime(doc.str_bytes(s)),
                (Kind::Nullable(_), Node::Null) => Ok(py.None().into_bound(py)),
                (Kind::Nullable(inner), _) => self.value(inner, id),
                (Kind::List(inner), Node::Array(container)) => {
                    let list = owned(py, ffi::PyList_New(container.len as ffi::Py_ssize_t))?;
                    for (i, element) in doc.elements(id).enumerate() {
                        let item = self.value(inner, element)?;
                        ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr());
                    }
                    Ok(list)
                }
                (Kind::Dict(inner), Node::Object(_)) => {
                    let dict = owned(py, ffi::PyDict_New())?;
                    for (key, value) in doc.entries(id) {
                        let key = self.values.cache.get(py, doc.str_bytes(key), key)?;
                        let value = self.value(inner, value)?;
                        if ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) < 0 {
                            return Err(PyErr::fetch(py).into());
                        }
                    }
                    Ok(dict)
                }
                (Kind::Choice(choices), Node::Str(s)) => {
                    match choices.iter().find(|(value, _)| **value == *doc.str_bytes(s)) {
                        Some((_, member)) => Ok(member.bind(py).clone()),
                        None => Err(Stop::Decline),
                    }
                }
                (Kind::Model(index), Node::Object(_)) => self.model(*index, id),
                _ => Err(Stop::Decline),
            }
        }
    }

    fn datetime(&mut self, text: &[u8]) -> Built<'py> {
        let py = self.py();
        let Some(dt) = parse_rfc3339(text) else {
            return Err(Stop::Decline);
        };
        let tz = match dt.offset {
            None => None,
            Some(offset) => Some(self.tzinfo(offset)?),
        };
        let value = PyDateTime::new(
            py,
            i32::from(dt.year),
            dt.month,
            dt.day,
            dt.hour,
            dt.minute,
            dt.second,
            dt.microsecond,
            tz.as_ref(),
        )?;
        Ok(value.into_any())
    }

    /// pydantic-core's `TzInfo(offset)`, one per offset.
    fn tzinfo(&mut self, offset: i32) -> PyResult<Bound<'py, PyTzInfo>> {
        let py = self.py();
        if let Some((_, tz)) = self.tz.iter().find(|(seconds, _)| *seconds == offset) {
            return Ok(tz.bind(py).clone());
        }
        let tz = self.plan.tzinfo.bind(py).call1((offset,))?;
        let tz = tz.cast::<PyTzInfo>().map_err(|_| {
            PyTypeError::new_err(format!(
                "tzinfo({offset}) returned {}, not a tzinfo",
                type_name(&tz)
            ))
        })?;
        self.tz.push((offset, tz.clone().unbind()));
        Ok(tz.clone())
    }

    fn model(&mut self, index: usize, id: NodeId) -> Built<'py> {
        let py = self.py();
        let plan = self.plan;
        let model = &plan.models[index];
        let base = self.found.len();
        self.found.resize(base + model.fields.len(), NOT_FOUND);
        let doc = self.values.doc;
        for (key, value) in doc.entries(id) {
            if let Some(key) = model.lookup(doc.str_bytes(key)) {
                for &(field, rank) in &key.targets {
                    let slot = &mut self.found[base + field];
                    // A better-ranked key wins; the same key again replaces (the last wins).
                    if *slot == NOT_FOUND || (*slot >> 32) as u8 >= rank {
                        *slot = u64::from(rank) << 32 | u64::from(value);
                    }
                }
            }
        }
        let result = self.fill(model, base);
        self.found.truncate(base);
        let (dict, fields_set) = result?;
        // SAFETY: `tp_new` of a live type with an empty argument tuple returns a new reference
        // or NULL with an exception set; pydantic-core creates its instances the same way.
        let instance = unsafe {
            let cls = model.cls.bind(py).as_type_ptr();
            let Some(new) = (*cls).tp_new else {
                return Err(PyTypeError::new_err("the model class cannot be instantiated").into());
            };
            owned(py, new(cls, PyTuple::empty(py).as_ptr(), ptr::null_mut()))?
        };
        let none = py.None();
        force_setattr(&instance, pyo3::intern!(py, "__dict__"), dict.as_ptr())?;
        force_setattr(&instance, pyo3::intern!(py, "__pydantic_extra__"), none.as_ptr())?;
        force_setattr(&instance, pyo3::intern!(py, "__pydantic_private__"), none.as_ptr())?;
        force_setattr(
            &instance,
            pyo3::intern!(py, "__pydantic_fields_set__"),
            fields_set.as_ptr(),
        )?;
        Ok(instance)
    }

    /// The instance's `__dict__` (fields in order) and its fields set.
    fn fill(
        &mut self,
        model: &Model,
        base: usize,
    ) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>), Stop> {
        let py = self.py();
        // SAFETY: new references or NULL with an exception set; the dict and set calls take
        // their own references.
        unsafe {
            let dict = owned(py, ffi::PyDict_Copy(model.template.as_ptr()))?;
            let found = &self.found[base..base + model.fields.len()];
            let all_given = found.iter().all(|&f| f != NOT_FOUND);
            let names = if all_given { model.all_names.as_ptr() } else { ptr::null_mut() };
            let fields_set = owned(py, ffi::PySet_New(names))?;
            for (i, field) in model.fields.iter().enumerate() {
                let found = self.found[base + i];
                let name = field.name.bind(py);
                let value = if found == NOT_FOUND {
                    match &field.default {
                        Default::Required => return Err(Stop::Decline),
                        Default::Value(value) => value.bind(py).clone(),
                        Default::DeepCopy(value) => self.plan.deepcopy.bind(py).call1((value,))?,
                        Default::Factory(factory) => factory.bind(py).call0()?,
                    }
                } else {
                    if !all_given && ffi::PySet_Add(fields_set.as_ptr(), name.as_ptr()) < 0 {
                        return Err(PyErr::fetch(py).into());
                    }
                    #[allow(clippy::cast_possible_truncation)]
                    self.value(&field.kind, found as NodeId)?
                };
                if ffi::PyDict_SetItem(dict.as_ptr(), name.as_ptr(), value.as_ptr()) < 0 {
                    return Err(PyErr::fetch(py).into());
                }
            }
            Ok((dict, fields_set))
        }
    }
}

#[pymethods]
impl ModelPlan {
    #[new]
    #[pyo3(signature = (models, *, tzinfo, deepcopy))]
    fn new(models: &Bound<'_, PyAny>, tzinfo: Py<PyAny>, deepcopy: Py<PyAny>) -> PyResult<Self> {
        let models = of_type::<PyList>(models, "models", "a list")?;
        if models.is_empty() {
            return Err(malformed("there are no models"));
        }
        let count = models.len();
        let models = models
            .iter()
            .map(|model| compile_model(&model, count))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self { models, tzinfo, deepcopy, pool: Mutex::new(Vec::new()) })
    }

    /// The root model built from the JSON document `data`, or `None` when the plan declines
    /// it (the caller then validates it with pydantic).
    fn build<'py>(&self, data: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = data.py();
        let mut scratch =
            self.pool.lock().map(|mut pool| pool.pop()).unwrap_or(None).unwrap_or_default();
        // Strings are read from the input while the instances are built, after Python code
        // (a default factory, a deep copy) may have run and rewritten a mutable buffer: only
        // `bytes` is read in place, anything else is copied first.
        let result = if let Ok(bytes) = data.cast::<PyBytes>() {
            self.build_bytes(py, &mut scratch, bytes.as_bytes())
        } else {
            let copy = with_bytes(data, "data", <[u8]>::to_vec)?;
            self.build_bytes(py, &mut scratch, &copy)
        };
        scratch.tape.shrink(KEEP_TAPE_BYTES);
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(scratch);
        }
        match result {
            Ok(instance) => Ok(Some(instance)),
            Err(Stop::Decline) => Ok(None),
            Err(Stop::Raised(error)) => Err(error),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let root = self.models[0].cls.bind(py);
        let name = root.qualname().map_or_else(|_| "?".to_owned(), |name| name.to_string());
        format!("<ModelPlan {name} ({} models)>", self.models.len())
    }
}

impl ModelPlan {
    fn build_bytes<'py>(&self, py: Python<'py>, scratch: &mut Scratch, bytes: &[u8]) -> Built<'py> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(Stop::Decline);
        }
        let Ok(doc) = scratch.tape.parse(bytes) else {
            return Err(Stop::Decline);
        };
        if doc.has_surrogates() || doc.max_int_digits() > 0 || doc.max_depth() > MAX_DEPTH {
            return Err(Stop::Decline);
        }
        let mut build = Build {
            plan: self,
            values: Builder { py, doc: &doc, cache: &mut scratch.cache },
            found: &mut scratch.found,
            tz: &mut scratch.tz,
        };
        build.value(&Kind::Model(0), Doc::ROOT)
    }
}
