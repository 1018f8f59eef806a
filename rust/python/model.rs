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
//!
//! Unions are tried as pydantic tries them: a left-to-right union takes its first member
//! that accepts the value, a tagged union the member its discriminator names. Trying a member
//! needs to know that pydantic *refuses* a value, not only that the plan cannot promise its
//! result: [`Stop::Mismatch`] is that certainty (a string that is no member of an enum, a
//! missing required field, a non-string for `str`, a non-object for a model), and any other
//! doubt declines the whole document.
//!
//! Besides JSON nodes, a plan builds [`Val`]s: the dicts `linktor._dialect`'s adaptation rules
//! make from a server record ([`crate::adapt`]), validated as `Model.model_validate(dict)`
//! would. For the values those rules pass on (strings, integers, booleans, `None`, nodes of
//! the document) that is the result `model_validate_json` gives for the same JSON.

use std::ptr;
use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::type_object::PyTypeCheck;
use pyo3::types::{
    PyBytes, PyDateTime, PyDict, PyFloat, PyInt, PyList, PySet, PyString, PyTuple, PyType, PyTzInfo,
};

use super::args::type_name;
use super::objects::{
    fingerprint_hash, new_str, owned, with_bytes, Builder, StringCache, KEEP_TAPE_BYTES,
};
use crate::adapt::{Obj, Text, Val};
use crate::datetime::parse_rfc3339;
use crate::json::{fingerprint, Doc, Node, NodeId, Tape};

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
    /// A `str` enum or string literal: the JSON string to the Python object. Few enough to
    /// scan (an enum's members). `open`: the enum has a `_missing_` hook, so a value that is
    /// no member may still be accepted.
    Choice {
        choices: Vec<(Box<[u8]>, Py<PyAny>)>,
        open: bool,
    },
    Model(usize),
    /// A left-to-right union: the first member that accepts the value.
    Union(Vec<Kind>),
    /// A union discriminated by a string tag read at `keys` (the first one present).
    Tagged {
        keys: Vec<Box<[u8]>>,
        choices: Vec<(Box<[u8]>, Kind)>,
    },
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
    /// Where an instance keeps `__pydantic_extra__`, `__pydantic_private__` and
    /// `__pydantic_fields_set__` (pydantic's slots), when they are plain object slots.
    slots: Option<[ffi::Py_ssize_t; 3]>,
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
    recent: Recent,
}

/// A text of at most [`RECENT_BYTES`] bytes and the object built from it.
type RecentSlot = Option<(u8, [u8; RECENT_BYTES], Py<PyAny>)>;

const RECENT_BYTES: usize = 40;
const RECENT_STRINGS: usize = 256;
const RECENT_DATETIMES: usize = 4;

/// Short string values and timestamps built lately, given again to later values of the same
/// text (both are immutable; pydantic-core shares short strings the same way): ids and
/// statuses repeat across the events of a stream, and a new message's two timestamps match.
struct Recent {
    /// Direct-mapped by a hash of the text.
    strings: Vec<RecentSlot>,
    /// Taken in turn.
    datetimes: [RecentSlot; RECENT_DATETIMES],
    next_datetime: usize,
}

impl std::default::Default for Recent {
    fn default() -> Self {
        Self {
            strings: (0..RECENT_STRINGS).map(|_| None).collect(),
            datetimes: std::array::from_fn(|_| None),
            next_datetime: 0,
        }
    }
}

fn recent_slot(bytes: &[u8], value: &Bound<'_, PyAny>) -> RecentSlot {
    let mut text = [0; RECENT_BYTES];
    text[..bytes.len()].copy_from_slice(bytes);
    Some((u8::try_from(bytes.len()).expect("short"), text, value.clone().unbind()))
}

fn recent_match<'py>(
    py: Python<'py>,
    slot: &RecentSlot,
    bytes: &[u8],
) -> Option<Bound<'py, PyAny>> {
    match slot {
        Some((len, text, value))
            if usize::from(*len) == bytes.len() && text[..bytes.len()] == *bytes =>
        {
            Some(value.bind(py).clone())
        }
        _ => None,
    }
}

const NOT_FOUND: u64 = u64::MAX;
/// A found value that is an entry of the [`Obj`] being built, not a node.
const FROM_OBJ: u64 = 1 << 40;

/// Not built: the document goes to pydantic (`Decline`), pydantic would refuse the value
/// (`Mismatch`: only a union goes on from it), or Python raised.
pub(super) enum Stop {
    Decline,
    Mismatch,
    Raised(PyErr),
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Self::Raised(error)
    }
}

pub(super) type Built<'py> = Result<Bound<'py, PyAny>, Stop>;

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
pub(super) fn of_type<'a, 'py, T: PyTypeCheck>(
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

pub(super) fn string_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    Ok(of_type::<PyString>(obj, what, "a str")?.to_str()?.to_owned())
}

fn compile_kind(spec: &Bound<'_, PyAny>, model_count: usize) -> PyResult<Kind> {
    let tuple = of_type::<PyTuple>(spec, "a field kind", "a tuple")?;
    let Ok(head) = tuple.get_item(0) else {
        return Err(malformed("a field kind is an empty tuple"));
    };
    let name = string_of(&head, "a field kind's name")?;
    let arity: &[usize] = match name.as_str() {
        "str" | "int" | "float" | "bool" | "any" | "datetime" => &[1],
        "nullable" | "list" | "dict" | "model" | "union" => &[2],
        "choice" => &[2, 3],
        "tagged" => &[3],
        other => return Err(malformed(format!("unknown field kind {other:?}"))),
    };
    if !arity.contains(&tuple.len()) {
        return Err(malformed(format!("field kind {name:?} takes {} argument(s)", arity[0] - 1)));
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
            let open = match tuple.get_item(2) {
                Ok(open) => open.is_truthy()?,
                Err(_) => false,
            };
            Kind::Choice { choices: map, open }
        }
        "union" => {
            let members = tuple.get_item(1)?;
            let members = of_type::<PyList>(&members, "the members of a union", "a list")?;
            if members.is_empty() {
                return Err(malformed("a union has no members"));
            }
            Kind::Union(
                members
                    .iter()
                    .map(|member| compile_kind(&member, model_count))
                    .collect::<PyResult<_>>()?,
            )
        }
        "tagged" => {
            let keys = tuple.get_item(1)?;
            let keys = of_type::<PyTuple>(&keys, "the discriminator keys", "a tuple")?;
            if keys.is_empty() {
                return Err(malformed("a tagged union has no discriminator key"));
            }
            let keys = keys
                .iter()
                .map(|key| Ok(string_of(&key, "a discriminator key")?.into_bytes().into()))
                .collect::<PyResult<_>>()?;
            let choices = tuple.get_item(2)?;
            let choices = of_type::<PyDict>(&choices, "the members of a tagged union", "a dict")?;
            let choices = choices
                .iter()
                .map(|(tag, kind)| {
                    let tag = string_of(&tag, "a union tag")?.into_bytes().into_boxed_slice();
                    Ok((tag, compile_kind(&kind, model_count)?))
                })
                .collect::<PyResult<_>>()?;
            Kind::Tagged { keys, choices }
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
        slots: model_slots(cls)?,
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

/// The offset of the object slot `name` of `cls`'s instances, if `name` is a writable object
/// member (what `__slots__` makes).
fn slot_offset(cls: &Bound<'_, PyType>, name: &str) -> PyResult<Option<ffi::Py_ssize_t>> {
    let descriptor = cls.getattr(name)?;
    // SAFETY: a live object; a member descriptor's `d_member` points to the `PyMemberDef` of
    // its type, which lives as long as the type (the plan keeps the class).
    unsafe {
        let member_type = ptr::addr_of_mut!(ffi::PyMemberDescr_Type);
        if ffi::Py_TYPE(descriptor.as_ptr()) != member_type {
            return Ok(None);
        }
        let member = (*descriptor.as_ptr().cast::<ffi::PyMemberDescrObject>()).d_member;
        let member = member.cast::<ffi::PyMemberDef>();
        if (*member).type_code != ffi::Py_T_OBJECT_EX || (*member).flags & ffi::Py_READONLY != 0 {
            return Ok(None);
        }
        Ok(Some((*member).offset))
    }
}

fn model_slots(cls: &Bound<'_, PyType>) -> PyResult<Option<[ffi::Py_ssize_t; 3]>> {
    let mut offsets = [0; 3];
    for (offset, name) in offsets.iter_mut().zip([
        "__pydantic_extra__",
        "__pydantic_private__",
        "__pydantic_fields_set__",
    ]) {
        match slot_offset(cls, name)? {
            Some(found) => *offset = found,
            None => return Ok(None),
        }
    }
    Ok(Some(offsets))
}

/// A new, empty instance of `cls` (a new reference, or NULL with an exception set).
///
/// A class that inherits `object.__new__` (pydantic's models do) gets its memory from its
/// `tp_alloc` directly. That is what `object.__new__` does, except that on CPython 3.11 and
/// 3.12 it also gives an instance of a class with a managed `__dict__` an array for its
/// attribute values, which setting `__dict__` (next, here) first turns into a dict and then
/// throws away, both. An abstract class, or one with its own `__new__`, goes through `tp_new`.
///
/// # Safety
/// `cls` must be a live type object.
unsafe fn new_instance(
    py: Python<'_>,
    cls: *mut ffi::PyTypeObject,
) -> PyResult<*mut ffi::PyObject> {
    let object_new = (*ptr::addr_of_mut!(ffi::PyBaseObject_Type)).tp_new.map(|f| f as usize);
    let plain = (*cls).tp_new.map(|f| f as usize) == object_new
        && (*cls).tp_flags & ffi::Py_TPFLAGS_IS_ABSTRACT == 0;
    match ((*cls).tp_alloc, (*cls).tp_new) {
        (Some(alloc), _) if plain => Ok(alloc(cls, 0)),
        (_, Some(new)) => Ok(new(cls, PyTuple::empty(py).as_ptr(), ptr::null_mut())),
        _ => Err(PyTypeError::new_err("the model class cannot be instantiated")),
    }
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

fn text_str<'py>(py: Python<'py>, text: &Text<'_>) -> PyResult<Bound<'py, PyAny>> {
    new_str(py, &text.bytes, text.ascii, false)
}

/// What the [`Val`]s of the adaptation rules need from Python.
pub(super) struct Hooks<'h> {
    /// `linktor._dialect._media_mime(url, kind, attachment)`.
    pub media_mime: Option<&'h Py<PyAny>>,
}

/// One build: the document, the buffers and the plan.
pub(super) struct Build<'s, 'd, 'a, 'py> {
    plan: &'s ModelPlan,
    values: Builder<'d, 'a, 'py>,
    found: &'d mut Vec<u64>,
    tz: &'d mut Vec<(i32, Py<PyTzInfo>)>,
    recent: &'d mut Recent,
    hooks: &'d Hooks<'d>,
}

impl<'py> Build<'_, '_, '_, 'py> {
    pub(super) fn py(&self) -> Python<'py> {
        self.values.py
    }

    /// The string cache of the document's keys.
    pub(super) fn cache(&mut self) -> &mut StringCache {
        self.values.cache
    }

    /// A node as `json.loads` gives it (`None` for no node).
    pub(super) fn json(&mut self, id: Option<NodeId>) -> Built<'py> {
        Ok(self.values.optional_value(id)?)
    }

    /// The plan's root model built from `id`, `None` when declined; a `Mismatch` declines.
    pub(super) fn root(&mut self, id: NodeId) -> Built<'py> {
        self.value(&Kind::Model(0), id)
    }

    /// The plan's root model built from an adapted value.
    pub(super) fn root_of(&mut self, val: &Val<'_>) -> Built<'py> {
        self.value_of(&Kind::Model(0), val)
    }

    /// A union's members tried in order, as pydantic's `left_to_right` mode does.
    fn union(
        &mut self,
        members: &[Kind],
        mut attempt: impl FnMut(&mut Self, &Kind) -> Built<'py>,
    ) -> Built<'py> {
        for member in members {
            match attempt(self, member) {
                Err(Stop::Mismatch) => continue,
                done => return done,
            }
        }
        Err(Stop::Mismatch)
    }

    fn tag<'k>(choices: &'k [(Box<[u8]>, Kind)], tag: &[u8]) -> Result<&'k Kind, Stop> {
        choices.iter().find(|(t, _)| **t == *tag).map(|(_, kind)| kind).ok_or(Stop::Mismatch)
    }

    fn choice<'c>(
        choices: &'c [(Box<[u8]>, Py<PyAny>)],
        open: bool,
        text: &[u8],
    ) -> Result<&'c Py<PyAny>, Stop> {
        match choices.iter().find(|(value, _)| **value == *text) {
            Some((_, member)) => Ok(member),
            None if open => Err(Stop::Decline),
            None => Err(Stop::Mismatch),
        }
    }

    fn value(&mut self, kind: &Kind, id: NodeId) -> Built<'py> {
        let py = self.py();
        let doc = self.values.doc;
        let node = doc.node(id);
        // SAFETY: each ffi constructor returns a new reference or NULL with an exception set.
        unsafe {
            match (kind, node) {
                (Kind::Str, Node::Str(s)) => Ok(self.string(doc.str_bytes(s), s.is_ascii())?),
                (Kind::Str, _) => Err(Stop::Mismatch),
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
                (Kind::Choice { choices, open }, Node::Str(s)) => {
                    Ok(Self::choice(choices, *open, doc.str_bytes(s))?.bind(py).clone())
                }
                (Kind::Model(index), Node::Object(_)) => self.model(*index, id, None),
                (Kind::Model(_), _) => Err(Stop::Mismatch),
                (Kind::Union(members), _) => self.union(members, |b, member| b.value(member, id)),
                (Kind::Tagged { keys, choices }, Node::Object(_)) => {
                    let Some(tag) = keys.iter().find_map(|key| doc.get(id, key)) else {
                        return Err(Stop::Mismatch);
                    };
                    let Node::Str(tag) = doc.node(tag) else { return Err(Stop::Decline) };
                    let kind = Self::tag(choices, doc.str_bytes(tag))?;
                    self.value(kind, id)
                }
                (Kind::Tagged { .. }, _) => Err(Stop::Mismatch),
                _ => Err(Stop::Decline),
            }
        }
    }

    /// An adapted value built as `kind`, as `model_validate` builds the dict the Python
    /// rules make.
    fn value_of(&mut self, kind: &Kind, val: &Val<'_>) -> Built<'py> {
        let py = self.py();
        match (kind, val) {
            (_, Val::Node(id)) => self.value(kind, *id),
            (_, Val::MediaMime(mime)) => {
                let mime = self.media_mime(&mime.url, &mime.kind, mime.attachment)?;
                if !mime.is_exact_instance_of::<PyString>() {
                    return Err(Stop::Decline);
                }
                match kind {
                    Kind::Str | Kind::Any => Ok(mime),
                    _ => Err(Stop::Decline),
                }
            }
            (_, Val::ModelOrNone(id)) => {
                // The model is tried now: where pydantic refuses it, the field is `None`.
                let Kind::Nullable(model) = kind else { return Err(Stop::Decline) };
                match self.value(model, *id) {
                    Err(Stop::Mismatch) => Ok(py.None().into_bound(py)),
                    done => done,
                }
            }
            (Kind::Union(members), _) => self.union(members, |b, member| b.value_of(member, val)),
            (Kind::Nullable(_) | Kind::Any, Val::None) => Ok(py.None().into_bound(py)),
            (Kind::Nullable(inner), _) => self.value_of(inner, val),
            (Kind::Any, _) => self.any_of(val),
            (Kind::Str, Val::Text(text)) => Ok(self.string(&text.bytes, text.ascii)?),
            (Kind::Str, _) => Err(Stop::Mismatch),
            (Kind::Int, Val::Int(i)) => Ok(PyInt::new(py, *i).into_any()),
            #[allow(clippy::cast_precision_loss)]
            (Kind::Float, Val::Int(i)) => Ok(PyFloat::new(py, *i as f64).into_any()),
            (Kind::Bool, Val::Bool(b)) => {
                Ok(pyo3::types::PyBool::new(py, *b).to_owned().into_any())
            }
            (Kind::DateTime, Val::Text(text)) => self.datetime(&text.bytes),
            (Kind::Choice { choices, open }, Val::Text(text)) => {
                Ok(Self::choice(choices, *open, &text.bytes)?.bind(py).clone())
            }
            (Kind::List(inner), Val::List(items)) => {
                let list = PyList::empty(py);
                for item in items {
                    list.append(self.value_of(inner, item)?)?;
                }
                Ok(list.into_any())
            }
            (Kind::Dict(inner), Val::Obj(obj)) => {
                let dict = PyDict::new(py);
                if let Some(base) = obj.base {
                    let doc = self.values.doc;
                    for (key, value) in doc.entries(base) {
                        let key = self.values.cache.get(py, doc.str_bytes(key), key)?;
                        dict.set_item(key, self.value(inner, value)?)?;
                    }
                }
                for (key, value) in &obj.entries {
                    dict.set_item(PyString::intern(py, key), self.value_of(inner, value)?)?;
                }
                Ok(dict.into_any())
            }
            (Kind::Model(index), Val::Obj(obj)) => {
                self.model(*index, obj.base.unwrap_or(0), Some(obj))
            }
            (
                Kind::Model(_),
                Val::None | Val::Bool(_) | Val::Int(_) | Val::Text(_) | Val::List(_),
            ) => Err(Stop::Mismatch),
            (Kind::Tagged { keys, choices }, Val::Obj(obj)) => {
                let tag = keys.iter().find_map(|key| self.obj_get(obj, key));
                let Some(tag) = tag else { return Err(Stop::Mismatch) };
                let tag = match tag {
                    Val::Text(text) => text.bytes.into_owned(),
                    Val::Node(id) => match self.values.doc.node(id) {
                        Node::Str(s) => self.values.doc.str_bytes(s).to_vec(),
                        _ => return Err(Stop::Decline),
                    },
                    _ => return Err(Stop::Decline),
                };
                let kind = Self::tag(choices, &tag)?;
                self.value_of(kind, val)
            }
            _ => Err(Stop::Decline),
        }
    }

    /// `obj.get(key)` of a built dict, as a value (for a tagged union's discriminator).
    fn obj_get<'v>(&self, obj: &Obj<'v>, key: &[u8]) -> Option<Val<'v>> {
        if let Some((_, value)) = obj.entries.iter().rev().find(|(k, _)| k.as_bytes() == key) {
            return Some(value.clone());
        }
        obj.base.and_then(|base| self.values.doc.get(base, key)).map(Val::Node)
    }

    /// An adapted value as `json.loads` plus the rules would hold it (for `Any`).
    fn any_of(&mut self, val: &Val<'_>) -> Built<'py> {
        let py = self.py();
        Ok(match val {
            Val::Node(id) => self.values.value(*id)?,
            Val::None => py.None().into_bound(py),
            Val::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
            Val::Int(i) => PyInt::new(py, *i).into_any(),
            Val::Text(text) => text_str(py, text)?,
            Val::Obj(obj) => {
                let dict = match obj.base {
                    Some(base) => {
                        self.values.value(base)?.cast_into::<PyDict>().map_err(|_| Stop::Decline)?
                    }
                    None => PyDict::new(py),
                };
                for (key, value) in &obj.entries {
                    dict.set_item(PyString::intern(py, key), self.any_of(value)?)?;
                }
                dict.into_any()
            }
            Val::List(items) => {
                let list = PyList::empty(py);
                for item in items {
                    list.append(self.any_of(item)?)?;
                }
                list.into_any()
            }
            Val::MediaMime(mime) => self.media_mime(&mime.url, &mime.kind, mime.attachment)?,
            Val::ModelOrNone(_) => return Err(Stop::Decline),
        })
    }

    fn media_mime(
        &mut self,
        url: &Text<'_>,
        kind: &Text<'_>,
        attachment: Option<NodeId>,
    ) -> Built<'py> {
        let py = self.py();
        let Some(hook) = self.hooks.media_mime else { return Err(Stop::Decline) };
        let attachment = self.values.optional_value(attachment)?;
        Ok(hook.bind(py).call1((text_str(py, url)?, text_str(py, kind)?, attachment))?)
    }

    /// A `str` value, shared with a recent one of the same text when it is short.
    fn string(&mut self, bytes: &[u8], ascii: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py();
        if bytes.len() > RECENT_BYTES {
            return new_str(py, bytes, ascii, false);
        }
        let hash = fingerprint_hash(fingerprint(bytes), bytes.len());
        let slot = &mut self.recent.strings[(hash >> 56) as usize % RECENT_STRINGS];
        if let Some(value) = recent_match(py, slot, bytes) {
            return Ok(value);
        }
        let value = new_str(py, bytes, ascii, false)?;
        *slot = recent_slot(bytes, &value);
        Ok(value)
    }

    fn datetime(&mut self, text: &[u8]) -> Built<'py> {
        let py = self.py();
        let short = text.len() <= RECENT_BYTES;
        if short {
            if let Some(value) =
                self.recent.datetimes.iter().find_map(|s| recent_match(py, s, text))
            {
                return Ok(value);
            }
        }
        let value = self.parse_datetime(text)?;
        if short {
            let recent = &mut *self.recent;
            recent.datetimes[recent.next_datetime] = recent_slot(text, &value);
            recent.next_datetime = (recent.next_datetime + 1) % RECENT_DATETIMES;
        }
        Ok(value)
    }

    fn parse_datetime(&mut self, text: &[u8]) -> Built<'py> {
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

    /// A model instance from the object at `id`, or from `obj` (`{**base, ...}`; `id` is then
    /// unused).
    fn model(&mut self, index: usize, id: NodeId, obj: Option<&Obj<'_>>) -> Built<'py> {
        let py = self.py();
        let plan = self.plan;
        let model = &plan.models[index];
        let base = self.found.len();
        self.found.resize(base + model.fields.len(), NOT_FOUND);
        let doc = self.values.doc;
        let record = |found: &mut [u64], key: &Key, value: u64| {
            for &(field, rank) in &key.targets {
                let slot = &mut found[field];
                // A better-ranked key wins; the same key again replaces (the last wins).
                if *slot == NOT_FOUND || (*slot >> 32) as u8 >= rank {
                    *slot = u64::from(rank) << 32 | value;
                }
            }
        };
        let object = match obj {
            Some(obj) => obj.base,
            None => Some(id),
        };
        if let Some(object) = object {
            for (key, value) in doc.entries(object) {
                if let Some(key) = model.lookup(doc.str_bytes(key)) {
                    record(&mut self.found[base..], key, u64::from(value));
                }
            }
        }
        if let Some(obj) = obj {
            for (i, (key, _)) in obj.entries.iter().enumerate() {
                if let Some(key) = model.lookup(key.as_bytes()) {
                    record(&mut self.found[base..], key, FROM_OBJ | i as u64);
                }
            }
        }
        let result = self.fill(model, base, obj);
        self.found.truncate(base);
        let (dict, fields_set) = result?;
        // SAFETY: `tp_new` of a live type with an empty argument tuple returns a new reference
        // or NULL with an exception set; pydantic-core creates its instances the same way.
        let instance = unsafe { owned(py, new_instance(py, model.cls.bind(py).as_type_ptr())?)? };
        let none = py.None();
        let Some(slots) = model.slots else {
            force_setattr(&instance, pyo3::intern!(py, "__dict__"), dict.as_ptr())?;
            force_setattr(&instance, pyo3::intern!(py, "__pydantic_extra__"), none.as_ptr())?;
            force_setattr(&instance, pyo3::intern!(py, "__pydantic_private__"), none.as_ptr())?;
            force_setattr(
                &instance,
                pyo3::intern!(py, "__pydantic_fields_set__"),
                fields_set.as_ptr(),
            )?;
            return Ok(instance);
        };
        // What `object.__setattr__` does for these, without looking the names up: the
        // `__dict__` setter, then the three slots of a new instance (empty until now).
        // SAFETY: `instance` is a new instance of `model.cls`, whose slots are at these
        // offsets (read from its member descriptors when the plan was made).
        unsafe {
            if ffi::PyObject_GenericSetDict(instance.as_ptr(), dict.as_ptr(), ptr::null_mut()) < 0 {
                return Err(PyErr::fetch(py).into());
            }
            let base = instance.as_ptr().cast::<u8>();
            for (offset, value) in
                slots.into_iter().zip([none.as_ptr(), none.as_ptr(), fields_set.as_ptr()])
            {
                let slot = base.offset(offset).cast::<*mut ffi::PyObject>();
                ffi::Py_INCREF(value);
                let old = std::mem::replace(&mut *slot, value);
                ffi::Py_XDECREF(old);
            }
        }
        Ok(instance)
    }

    /// The instance's `__dict__` (fields in order) and its fields set.
    fn fill(
        &mut self,
        model: &Model,
        base: usize,
        obj: Option<&Obj<'_>>,
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
            // A set of field names (pydantic only ever adds names to it) cannot be part of a
            // reference cycle, so the collector need not track it, as CPython does not track
            // dicts of atomic values: a batch of events kept alive between collections then
            // promotes fewer objects (and triggers fewer full collections).
            ffi::PyObject_GC_UnTrack(fields_set.as_ptr().cast());
            for (i, field) in model.fields.iter().enumerate() {
                let found = self.found[base + i];
                let name = field.name.bind(py);
                let value = if found == NOT_FOUND {
                    match &field.default {
                        Default::Required => return Err(Stop::Mismatch),
                        Default::Value(value) => value.bind(py).clone(),
                        Default::DeepCopy(value) => self.plan.deepcopy.bind(py).call1((value,))?,
                        Default::Factory(factory) => factory.bind(py).call0()?,
                    }
                } else {
                    if !all_given && ffi::PySet_Add(fields_set.as_ptr(), name.as_ptr()) < 0 {
                        return Err(PyErr::fetch(py).into());
                    }
                    #[allow(clippy::cast_possible_truncation)]
                    let value = found as u32;
                    match obj {
                        Some(obj) if found & FROM_OBJ != 0 => {
                            self.value_of(&field.kind, &obj.entries[value as usize].1)?
                        }
                        _ => self.value(&field.kind, value)?,
                    }
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
        let hooks = Hooks { media_mime: None };
        self.with_document(data, &hooks, |build, _| build.root(Doc::ROOT))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let root = self.models[0].cls.bind(py);
        let name = root.qualname().map_or_else(|_| "?".to_owned(), |name| name.to_string());
        format!("<ModelPlan {name} ({} models)>", self.models.len())
    }
}

/// Whether the plans decline the whole of `doc` (what `model_validate_json` would read
/// otherwise: lone surrogates, integers beyond `i64`, very deep nesting).
pub(super) fn declined(doc: &Doc<'_>) -> bool {
    doc.has_surrogates() || doc.max_int_digits() > 0 || doc.max_depth() > MAX_DEPTH
}

impl ModelPlan {
    fn scratch(&self) -> Scratch {
        self.pool.lock().map(|mut pool| pool.pop()).unwrap_or(None).unwrap_or_default()
    }

    fn give_back(&self, mut scratch: Scratch) {
        scratch.tape.shrink(KEEP_TAPE_BYTES);
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(scratch);
        }
    }

    /// Parses `data` (`bytes`, or any buffer, copied first) and runs `f` with a builder over
    /// it; `None` when `f` (or the document) declines. A `Mismatch` declines.
    pub(super) fn with_document<'py>(
        &self,
        data: &Bound<'py, PyAny>,
        hooks: &Hooks<'_>,
        f: impl FnOnce(&mut Build<'_, '_, '_, 'py>, &Doc<'_>) -> Built<'py>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = data.py();
        let mut scratch = self.scratch();
        // Strings are read from the input while the instances are built, after Python code
        // (a default factory, a deep copy) may have run and rewritten a mutable buffer: only
        // `bytes` is read in place, anything else is copied first.
        let result = if let Ok(bytes) = data.cast::<PyBytes>() {
            self.parse_and_build(py, &mut scratch, bytes.as_bytes(), hooks, f)
        } else {
            let copy = with_bytes(data, "data", <[u8]>::to_vec)?;
            self.parse_and_build(py, &mut scratch, &copy, hooks, f)
        };
        self.give_back(scratch);
        match result {
            Ok(instance) => Ok(Some(instance)),
            Err(Stop::Decline | Stop::Mismatch) => Ok(None),
            Err(Stop::Raised(error)) => Err(error),
        }
    }

    fn parse_and_build<'py>(
        &self,
        py: Python<'py>,
        scratch: &mut Scratch,
        bytes: &[u8],
        hooks: &Hooks<'_>,
        f: impl FnOnce(&mut Build<'_, '_, '_, 'py>, &Doc<'_>) -> Built<'py>,
    ) -> Built<'py> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(Stop::Decline);
        }
        let Ok(doc) = scratch.tape.parse(bytes) else {
            return Err(Stop::Decline);
        };
        if declined(&doc) {
            return Err(Stop::Decline);
        }
        let mut build = Build {
            plan: self,
            values: Builder { py, doc: &doc, cache: &mut scratch.cache },
            found: &mut scratch.found,
            tz: &mut scratch.tz,
            recent: &mut scratch.recent,
            hooks,
        };
        f(&mut build, &doc)
    }

    /// Runs `f` with a builder over a document the caller parsed (and checked with
    /// [`declined`]), sharing the caller's string cache. A `Mismatch` declines.
    pub(super) fn with_parsed<'py>(
        &self,
        py: Python<'py>,
        doc: &Doc<'_>,
        cache: &mut StringCache,
        hooks: &Hooks<'_>,
        f: impl FnOnce(&mut Build<'_, '_, '_, 'py>) -> Built<'py>,
    ) -> Built<'py> {
        let mut scratch = self.scratch();
        let result = {
            let mut build = Build {
                plan: self,
                values: Builder { py, doc, cache },
                found: &mut scratch.found,
                tz: &mut scratch.tz,
                recent: &mut scratch.recent,
                hooks,
            };
            f(&mut build)
        };
        self.give_back(scratch);
        result
    }
}
