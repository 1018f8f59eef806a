//! Argument conversion shared by the pyo3 classes: bodies, header lookups, times.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::scheme::MAX_SLOTS;
use crate::timestamp::{nanos_from_seconds, Window};

/// Header values longer than this are refused rather than hashed or compared.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// A body that could not be turned into bytes.
#[derive(Debug, Clone, Copy)]
pub enum BodyError {
    /// A `str` holding lone surrogates, which has no UTF-8 form.
    NotUtf8,
}

fn body_type_error(obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "payload must be bytes, bytearray, memoryview or str, not {}",
        type_name(obj)
    ))
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "an unknown type".to_owned(), |n| n.to_string())
}

fn supports_buffer(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is a live object and the GIL is held.
    unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) != 0 }
}

/// Runs `f` over the bytes of a body without copying bytes, str, bytearray or contiguous
/// byte buffers. A `str` is encoded as UTF-8, never decoded.
pub fn with_body<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(&[u8]) -> R,
) -> PyResult<Result<R, BodyError>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Ok(f(bytes.as_bytes())));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(text.to_str().map(|t| f(t.as_bytes())).map_err(|_| BodyError::NotUtf8));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        // SAFETY: no Python code runs while the slice is borrowed, so nothing can resize it.
        return Ok(Ok(f(unsafe { array.as_bytes() })));
    }
    if !supports_buffer(obj) {
        return Err(body_type_error(obj));
    }
    if let Ok(buffer) = PyBuffer::<u8>::get(obj) {
        if buffer.is_c_contiguous() {
            // SAFETY: the buffer is held for the duration of `f`, is C-contiguous, and no
            // Python code runs meanwhile.
            let slice = unsafe {
                std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
            };
            return Ok(Ok(f(slice)));
        }
    }
    // Any other buffer (another item format, or not contiguous): take a contiguous copy.
    let copy = obj.py().get_type::<PyBytes>().call1((obj,))?;
    let copy = copy.cast::<PyBytes>()?;
    Ok(Ok(f(copy.as_bytes())))
}

/// A body for a batch that is verified with the GIL released: immutable `bytes` and `str`
/// are borrowed (the caller keeps them alive), mutable buffers are copied.
pub fn batch_body<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Option<Cow<'a, [u8]>>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Some(Cow::Borrowed(bytes.as_bytes())));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(text.to_str().ok().map(|t| Cow::Borrowed(t.as_bytes())));
    }
    Ok(with_body(obj, |b| b.to_vec())?.ok().map(Cow::Owned))
}

/// A signature or secret given as `str` or `bytes`, borrowed. `Ok(None)` for a `str` with no
/// UTF-8 form.
#[inline]
pub fn text_bytes<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Option<&'a [u8]>> {
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(text.to_str().ok().map(str::as_bytes));
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Some(bytes.as_bytes()));
    }
    Err(PyTypeError::new_err(format!("{what} must be str or bytes, not {}", type_name(obj))))
}

/// What a header lookup found. A present value has been checked to be `str` (with a UTF-8
/// form) or `bytes`, and no longer than [`MAX_HEADER_BYTES`].
#[derive(Debug)]
pub enum HeaderValue<'py> {
    Absent,
    Present(Bound<'py, PyAny>),
    /// Present but unusable; the text says why.
    Invalid(String),
}

impl HeaderValue<'_> {
    pub fn as_option(&self) -> Option<&[u8]> {
        match self {
            Self::Present(value) => header_bytes(value),
            _ => None,
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid(_))
    }
}

fn header_bytes<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a [u8]> {
    if let Ok(text) = value.cast::<PyString>() {
        text.to_str().ok().map(str::as_bytes)
    } else if let Ok(raw) = value.cast::<PyBytes>() {
        Some(raw.as_bytes())
    } else {
        None
    }
}

fn header_value<'py>(name: &Bound<'py, PyString>, value: Bound<'py, PyAny>) -> HeaderValue<'py> {
    let problem = match header_bytes(&value) {
        Some(bytes) if bytes.len() <= MAX_HEADER_BYTES => return HeaderValue::Present(value),
        Some(_) => format!("is longer than {MAX_HEADER_BYTES} bytes"),
        None if value.is_instance_of::<PyString>() => "is not valid text".to_owned(),
        None => format!("must be str or bytes, not {}", type_name(&value)),
    };
    HeaderValue::Invalid(format!("header {:?} {problem}", name.to_string_lossy()))
}

/// The `(name, value)` of one header pair: a 2-tuple or a 2-item list (ASGI allows both).
fn header_pair<'py>(pair: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let items = if let Ok(tuple) = pair.cast::<PyTuple>() {
        (tuple.len() == 2).then(|| (tuple.get_item(0), tuple.get_item(1)))
    } else if let Ok(list) = pair.cast::<PyList>() {
        (list.len() == 2).then(|| (list.get_item(0), list.get_item(1)))
    } else {
        None
    };
    match items {
        Some((Ok(name), Ok(value))) => Ok((name, value)),
        _ => Err(PyTypeError::new_err(
            "headers must be a mapping or an iterable of (name, value) pairs",
        )),
    }
}

/// The names of a scheme's header slots as interned Python strings (see
/// [`crate::scheme::Slot`]), made once per verifier.
pub struct SlotNames {
    slots: Vec<Vec<Py<PyString>>>,
}

impl SlotNames {
    pub fn new(py: Python<'_>, slots: &[crate::scheme::Slot]) -> Self {
        let slots = slots
            .iter()
            .map(|names| names.iter().map(|name| PyString::intern(py, name).unbind()).collect())
            .collect();
        Self { slots }
    }
}

/// What a slot lookup found: the index of the name it was found under (0 when absent) and
/// the value.
pub type SlotValue<'py> = (usize, HeaderValue<'py>);

/// Looks up every slot: a slot takes the value of its first name that is present, preferred
/// names first. Mappings are asked for the preferred names by `get` (dicts exactly, header
/// classes case-insensitively); only when one is missing are all entries scanned for every
/// name of the missing slots, case-insensitively. An iterable of pairs is read once.
pub fn lookup_slots<'py>(
    headers: &Bound<'py, PyAny>,
    names: &SlotNames,
) -> PyResult<SlotValues<'py>> {
    let py = headers.py();
    let slots = &names.slots;
    // A fixed array: every scheme has at most MAX_SLOTS slots, and this runs per request.
    let mut found: [Option<(usize, Bound<'py, PyAny>)>; MAX_SLOTS] = std::array::from_fn(|_| None);
    let found = &mut found[..slots.len()];
    let items = pyo3::intern!(py, "items");
    let dict = headers.cast::<PyDict>().ok();
    let mapping = dict.is_none() && headers.hasattr(items)?;
    if let Some(dict) = dict {
        for (slot, names) in found.iter_mut().zip(slots) {
            *slot = dict.get_item(names[0].bind(py))?.filter(|v| !v.is_none()).map(|v| (0, v));
        }
    } else if mapping {
        for (slot, names) in found.iter_mut().zip(slots) {
            let value = headers.call_method1(pyo3::intern!(py, "get"), (names[0].bind(py),))?;
            *slot = (!value.is_none()).then_some((0, value));
        }
    }
    if found.iter().any(Option::is_none) {
        // name index -> (slot, preference); the first pair under a name wins.
        let mut wanted: Vec<(usize, usize, &str)> = Vec::new();
        for (slot, names) in slots.iter().enumerate().filter(|(i, _)| found[*i].is_none()) {
            for (preference, name) in names.iter().enumerate() {
                wanted.push((slot, preference, name.bind(py).to_str()?));
            }
        }
        let mut hits: Vec<Option<Bound<'py, PyAny>>> = vec![None; wanted.len()];
        let mut note = |name: &[u8], value: Bound<'py, PyAny>| {
            for (hit, (_, _, wanted)) in hits.iter_mut().zip(&wanted) {
                if hit.is_none() && name.eq_ignore_ascii_case(wanted.as_bytes()) {
                    *hit = Some(value);
                    return;
                }
            }
        };
        if let Some(dict) = dict {
            for (name, value) in dict.iter() {
                if let Some(name) = header_bytes(&name) {
                    note(name, value);
                }
            }
        } else {
            let pairs = if mapping { headers.call_method0(items)? } else { headers.clone() };
            for pair in pairs.try_iter()? {
                let (name, value) = header_pair(&pair?)?;
                if let Some(name) = header_bytes(&name) {
                    note(name, value);
                }
            }
        }
        for (hit, (slot, preference, _)) in hits.into_iter().zip(&wanted) {
            let hit = hit.filter(|v| !v.is_none());
            if let (Some(value), None) = (hit, &found[*slot]) {
                found[*slot] = Some((*preference, value));
            }
        }
    }
    let mut values =
        SlotValues { values: std::array::from_fn(|_| (0, HeaderValue::Absent)), len: slots.len() };
    for ((slot, value), names) in values.values.iter_mut().zip(found.iter_mut()).zip(slots) {
        if let Some((preference, value)) = value.take() {
            *slot = (preference, header_value(names[preference].bind(py), value));
        }
    }
    Ok(values)
}

/// The slots a lookup found, in a fixed array (no allocation per request).
pub struct SlotValues<'py> {
    values: [SlotValue<'py>; MAX_SLOTS],
    len: usize,
}

impl<'py> SlotValues<'py> {
    pub fn as_slice(&self) -> &[SlotValue<'py>] {
        &self.values[..self.len]
    }
}

/// `now` for a batch: the clock, one time for all, or one time per item.
#[derive(Debug, Clone)]
pub enum BatchNow {
    Clock,
    Fixed(f64),
    PerItem(Vec<f64>),
}

impl BatchNow {
    /// `None`, a number, or an iterable of numbers (one per item).
    pub fn from_arg(now: Option<&Bound<'_, PyAny>>, count: usize) -> PyResult<Self> {
        let Some(now) = now.filter(|n| !n.is_none()) else {
            return Ok(Self::Clock);
        };
        if let Ok(seconds) = now.extract::<f64>() {
            return Ok(Self::Fixed(seconds));
        }
        let times: Vec<f64> = now
            .try_iter()
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "now must be a number of seconds or one per payload, not {}",
                    type_name(now)
                ))
            })?
            .map(|item| item?.extract::<f64>())
            .collect::<PyResult<_>>()?;
        if times.len() != count {
            return Err(PyValueError::new_err(format!(
                "got {count} payloads but {} times in now",
                times.len()
            )));
        }
        Ok(Self::PerItem(times))
    }

    /// The windows of every item; `None` throughout when `tolerance` is `None`.
    pub fn windows(&self, tolerance: Option<f64>, count: usize) -> PyResult<Vec<Option<Window>>> {
        let Some(tolerance) = tolerance else {
            return Ok(vec![None; count]);
        };
        match self {
            Self::Clock => Ok(vec![Some(window(tolerance, None)?); count]),
            Self::Fixed(now) => Ok(vec![Some(window(tolerance, Some(*now))?); count]),
            Self::PerItem(times) => {
                times.iter().map(|now| window(tolerance, Some(*now)).map(Some)).collect()
            }
        }
    }
}

/// The window `now ± tolerance` in nanoseconds. `now` defaults to the system clock; both
/// may be fractional. The tolerance must be a finite number of seconds >= 0.
pub fn window(tolerance: f64, now: Option<f64>) -> PyResult<Window> {
    Ok(window_args(tolerance, now)?.window())
}

/// The arguments of [`window`], checked, with the system clock not read yet: a check that
/// may not need the time (no timestamp header) reads it only when it does.
#[derive(Debug, Clone, Copy)]
pub struct WindowArgs {
    now_nanos: Option<i128>,
    tolerance_nanos: i128,
}

impl WindowArgs {
    /// The window, reading the system clock if `now` was not given.
    pub fn window(self) -> Window {
        let now_nanos = self.now_nanos.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| i128::try_from(elapsed.as_nanos()).unwrap_or(i128::MAX))
        });
        Window { now_nanos, tolerance_nanos: self.tolerance_nanos }
    }
}

/// Checks the arguments of [`window`], raising as it does, without reading the clock.
pub fn window_args(tolerance: f64, now: Option<f64>) -> PyResult<WindowArgs> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(PyValueError::new_err("tolerance must be a finite number of seconds >= 0"));
    }
    let now_nanos = match now {
        Some(seconds) if seconds.is_finite() => Some(nanos_from_seconds(seconds)),
        Some(_) => return Err(PyValueError::new_err("now must be a finite number of seconds")),
        None => None,
    };
    Ok(WindowArgs { now_nanos, tolerance_nanos: nanos_from_seconds(tolerance) })
}

/// Collects any iterable into a list of bound objects.
pub fn collect<'py>(items: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    items.try_iter()?.collect()
}

pub fn check_same_length(what: &str, left: usize, right: usize) -> PyResult<()> {
    if left == right {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{what}: got {left} payloads but {right} signatures/headers"
        )))
    }
}
