//! What the stream decoders share on the Python side: building Python objects from a parsed
//! [`Doc`] (strings, with a cache of interned short ones; any value as `json.loads` returns
//! it), small tuple and list helpers, and reading bytes from any buffer.

use std::ptr;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use super::args::type_name;
use crate::json::{fingerprint, Doc, Node, NodeId, Str};
use crate::message::{check_int_digits, Malformed};

/// After a message larger than this, the tape gives its memory back.
pub const KEEP_TAPE_BYTES: usize = 1024 * 1024;
/// Python refuses to convert integers longer than `sys.get_int_max_str_digits()`, which can
/// be 0 (no limit) or at least this; below it there is nothing to ask.
const MIN_INT_DIGITS_LIMIT: usize = 640;

/// Takes ownership of a new reference, or the pending Python error for NULL.
///
/// # Safety
/// `ptr` must be a new (owned) reference or NULL with an exception set.
pub unsafe fn owned<'py>(py: Python<'py>, ptr: *mut ffi::PyObject) -> PyResult<Bound<'py, PyAny>> {
    Bound::from_owned_ptr_or_err(py, ptr)
}

/// A `str` from WTF-8 bytes: ASCII is copied straight into a 1-byte string; lone surrogates
/// go through `surrogatepass`.
pub fn new_str<'py>(
    py: Python<'py>,
    bytes: &[u8],
    ascii: bool,
    surrogates: bool,
) -> PyResult<Bound<'py, PyAny>> {
    debug_assert!(!ascii || bytes.is_ascii());
    let len = isize::try_from(bytes.len()).expect("a slice is shorter than isize::MAX");
    // SAFETY: PyUnicode_New(len, 127) allocates a compact ASCII string with room for `len`
    // bytes, which we fill with ASCII bytes; the decoders read `len` bytes from the slice.
    unsafe {
        if ascii {
            let obj = ffi::PyUnicode_New(len, 127);
            if !obj.is_null() {
                ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    ffi::PyUnicode_DATA(obj).cast::<u8>(),
                    bytes.len(),
                );
            }
            owned(py, obj)
        } else {
            let errors = if surrogates { c"surrogatepass".as_ptr() } else { ptr::null() };
            owned(py, ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, errors))
        }
    }
}

const CACHE_SLOTS: usize = 256;
const CACHE_MAX_BYTES: usize = 64;

/// Interned strings for the short texts that repeat (keys, node ids, kinds), in a
/// direct-mapped table: a hit costs a few word comparisons instead of an allocation.
pub struct StringCache {
    slots: Vec<Option<CachedString>>,
}

struct CachedString {
    len: usize,
    words: (u64, u64),
    /// The bytes of a key longer than the words cover.
    long: Option<Box<[u8]>>,
    value: Py<PyAny>,
}

/// A well-mixed hash of a [`fingerprint`] and the length it covers (use its high bits).
#[inline]
pub fn fingerprint_hash((first, last): (u64, u64), len: usize) -> u64 {
    (first.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ last ^ len as u64)
        .wrapping_mul(0x517c_c1b7_2722_0a95)
}

impl StringCache {
    pub fn new() -> Self {
        Self { slots: (0..CACHE_SLOTS).map(|_| None).collect() }
    }

    pub fn get<'py>(
        &mut self,
        py: Python<'py>,
        bytes: &[u8],
        s: Str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = bytes.len();
        if len > CACHE_MAX_BYTES {
            return new_str(py, bytes, s.is_ascii(), s.has_surrogates());
        }
        let words = fingerprint(bytes);
        let hash = fingerprint_hash(words, len);
        let slot = &mut self.slots[(hash >> 56) as usize % CACHE_SLOTS];
        if let Some(cached) = slot {
            if cached.len == len
                && cached.words == words
                && cached.long.as_deref().map_or(true, |long| long == bytes)
            {
                return Ok(cached.value.bind(py).clone());
            }
        }
        let mut obj = new_str(py, bytes, s.is_ascii(), s.has_surrogates())?.into_ptr();
        // SAFETY: `obj` is an owned, exact str; interning may swap it for an equal one and
        // keeps the reference count right.
        let obj = unsafe {
            ffi::PyUnicode_InternInPlace(&mut obj);
            owned(py, obj)?
        };
        let long = (len > 16).then(|| bytes.into());
        *slot = Some(CachedString { len, words, long, value: obj.clone().unbind() });
        Ok(obj)
    }
}

/// Builds Python objects from the nodes of one document.
pub struct Builder<'d, 'a, 'py> {
    pub py: Python<'py>,
    pub doc: &'d Doc<'a>,
    pub cache: &'d mut StringCache,
}

impl<'py> Builder<'_, '_, 'py> {
    pub fn str_node(&mut self, id: NodeId) -> Str {
        self.doc.as_str(id).expect("classify names string nodes")
    }

    pub fn string(&mut self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let s = self.str_node(id);
        new_str(self.py, self.doc.str_bytes(s), s.is_ascii(), s.has_surrogates())
    }

    pub fn cached_string(&mut self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let s = self.str_node(id);
        self.cache.get(self.py, self.doc.str_bytes(s), s)
    }

    /// The compact JSON text of a value, as `json.dumps(separators=(",", ":"),
    /// ensure_ascii=False)` writes it.
    pub fn json_text(&mut self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let mut out = Vec::new();
        self.doc.write_compact(id, &mut out);
        new_str(self.py, &out, false, true)
    }

    /// The value at `id` as `json.loads` would return it.
    pub fn value(&mut self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        // SAFETY: every ffi call below returns a new reference or NULL with an exception set;
        // list slots are filled exactly once with owned references.
        unsafe {
            match self.doc.node(id) {
                Node::Null => Ok(py.None().into_bound(py)),
                Node::Bool(b) => Ok(pyo3::types::PyBool::new(py, b).to_owned().into_any()),
                Node::Int(i) => owned(py, ffi::PyLong_FromLongLong(i)),
                Node::BigInt { start, len } => {
                    let mut literal = self.doc.big_int_literal(start, len).to_vec();
                    literal.push(0);
                    owned(py, ffi::PyLong_FromString(literal.as_ptr().cast(), ptr::null_mut(), 10))
                }
                Node::Float(f) => owned(py, ffi::PyFloat_FromDouble(f)),
                Node::Str(s) => {
                    new_str(py, self.doc.str_bytes(s), s.is_ascii(), s.has_surrogates())
                }
                Node::Array(container) => {
                    let list = owned(py, ffi::PyList_New(container.len as ffi::Py_ssize_t))?;
                    for (i, element) in self.doc.elements(id).enumerate() {
                        let item = self.value(element)?;
                        ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr());
                    }
                    Ok(list)
                }
                Node::Object(_) => {
                    let dict = owned(py, ffi::PyDict_New())?;
                    for (key, value) in self.doc.entries(id) {
                        let key = self.cache.get(py, self.doc.str_bytes(key), key)?;
                        let value = self.value(value)?;
                        if ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) < 0 {
                            return Err(PyErr::fetch(py));
                        }
                    }
                    Ok(dict)
                }
            }
        }
    }

    pub fn optional_value(&mut self, id: Option<NodeId>) -> PyResult<Bound<'py, PyAny>> {
        match id {
            Some(id) => self.value(id),
            None => Ok(self.py.None().into_bound(self.py)),
        }
    }
}

/// A 2-tuple, built directly.
pub fn pair<'py>(
    py: Python<'py>,
    first: &Bound<'py, PyAny>,
    second: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: a new 2-tuple gets both slots filled with owned references.
    unsafe {
        let tuple = owned(py, ffi::PyTuple_New(2))?;
        ffi::PyTuple_SET_ITEM(tuple.as_ptr(), 0, first.clone().into_ptr());
        ffi::PyTuple_SET_ITEM(tuple.as_ptr(), 1, second.into_ptr());
        Ok(tuple)
    }
}

pub fn append(list: &Bound<'_, PyList>, item: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: both are live objects; PyList_Append takes its own reference.
    if unsafe { ffi::PyList_Append(list.as_ptr(), item.as_ptr()) } < 0 {
        return Err(PyErr::fetch(list.py()));
    }
    Ok(())
}

/// `sys.get_int_max_str_digits()`, 0 meaning no limit (and on Pythons without the limit).
fn int_digits_limit(py: Python<'_>) -> PyResult<usize> {
    match py.import("sys")?.getattr("get_int_max_str_digits") {
        Ok(get) => get.call0()?.extract(),
        Err(_) => Ok(0),
    }
}

/// Raw bytes of a `bytes`, `bytearray` or `memoryview` (any buffer), without copying when
/// the buffer is contiguous. A buffer export pins a `bytearray` so it cannot be resized.
pub fn with_bytes<'py, R>(
    data: &Bound<'py, PyAny>,
    what: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(f(bytes.as_bytes()));
    }
    // SAFETY: a live object; the GIL is held.
    let is_buffer = unsafe { ffi::PyObject_CheckBuffer(data.as_ptr()) != 0 };
    if data.is_instance_of::<PyString>() || !is_buffer {
        return Err(PyTypeError::new_err(format!(
            "{what} must be bytes, bytearray or memoryview, not {}",
            type_name(data)
        )));
    }
    if let Ok(buffer) = PyBuffer::<u8>::get(data) {
        if buffer.is_c_contiguous() {
            // SAFETY: the export is held (so the memory stays put) for the duration of `f`.
            let slice = unsafe {
                std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
            };
            return Ok(f(slice));
        }
    }
    let copy = data.py().get_type::<PyBytes>().call1((data,))?;
    Ok(f(copy.cast::<PyBytes>()?.as_bytes()))
}

/// [`Malformed::IntegerTooLong`] when `doc` holds an integer Python would refuse to convert
/// (`json.loads` raises for it wherever it is in the message).
pub fn check_python_int_digits(py: Python<'_>, doc: &Doc<'_>) -> PyResult<Result<(), Malformed>> {
    if doc.max_int_digits() <= MIN_INT_DIGITS_LIMIT {
        return Ok(Ok(()));
    }
    Ok(check_int_digits(doc, int_digits_limit(py)?))
}

impl Default for StringCache {
    fn default() -> Self {
        Self::new()
    }
}
