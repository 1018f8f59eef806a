//! The native half of `relaywire.webhooks.verify_arrow`: one record batch's columns, read in
//! place through the buffer protocol on their Arrow buffers, verified on the thread pool with
//! the GIL released. The Python half (`relaywire._arrow`) picks the columns.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::args::{type_name, window};
use super::schemes::{
    Discord, GitHub, Linear, Meta, Shopify, Slack, StandardWebhook, Stripe, Twilio,
};
use super::webhooks::LinktorVerifier;
use crate::batch::CHUNK;
use crate::columns::{pack_bits, BinaryColumn, ColumnError, Columns, FloatColumn, Times};
use crate::scheme::Scheme;

/// Runs `$body` with `$scheme` bound to the scheme of whichever verifier class `$obj` is.
macro_rules! with_scheme {
    ($obj:expr, |$scheme:ident| $body:expr) => {{
        let obj = $obj;
        if let Ok(v) = obj.cast::<StandardWebhook>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<LinktorVerifier>() {
            let $scheme = &v.get().key;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Stripe>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<GitHub>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Shopify>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Slack>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Twilio>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Meta>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Linear>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else if let Ok(v) = obj.cast::<Discord>() {
            let $scheme = &v.get().verifier.scheme;
            Ok($body)
        } else {
            Err(PyTypeError::new_err(format!(
                "verify_arrow takes a verifier of relaywire.webhooks that reads headers \
                 (StandardWebhook, LinktorVerifier or a provider class), not {}; verify an \
                 HmacVerifier's signature column with verify_many",
                type_name(obj)
            )))
        }
    }};
}

fn slots_of<S: Scheme>(_: &S) -> Vec<Vec<&'static str>> {
    S::HEADERS.iter().map(|names| names.to_vec()).collect()
}

/// The header slots a verifier reads (each a list of names, preferred first).
#[pyfunction]
pub fn _arrow_slots(verifier: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<&'static str>>> {
    with_scheme!(verifier, |scheme| slots_of(scheme))
}

/// A buffer exported by pyarrow (`pyarrow.Buffer`, format `b`), held for the call.
fn held(buffer: &Bound<'_, PyAny>) -> PyResult<PyBuffer<i8>> {
    let held = PyBuffer::<i8>::get(buffer)?;
    if !held.is_c_contiguous() {
        return Err(PyValueError::new_err("an Arrow buffer must be contiguous"));
    }
    Ok(held)
}

fn bytes_of(buffer: &PyBuffer<i8>) -> &[u8] {
    // SAFETY: the buffer is held (so neither freed nor resized) for as long as the slice is
    // borrowed from it, is C-contiguous, and Arrow buffers are immutable.
    unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes()) }
}

/// One binary column as the Python half passes it: `(large, offset, validity, offsets, data)`.
type ColumnSpec<'py> =
    (bool, usize, Option<Bound<'py, PyAny>>, Bound<'py, PyAny>, Bound<'py, PyAny>);

struct HeldColumn {
    large: bool,
    offset: usize,
    validity: Option<PyBuffer<i8>>,
    offsets: PyBuffer<i8>,
    data: PyBuffer<i8>,
}

impl HeldColumn {
    fn new((large, offset, validity, offsets, data): &ColumnSpec<'_>) -> PyResult<Self> {
        Ok(Self {
            large: *large,
            offset: *offset,
            validity: validity.as_ref().map(held).transpose()?,
            offsets: held(offsets)?,
            data: held(data)?,
        })
    }

    fn column(&self, len: usize) -> PyResult<BinaryColumn<'_>> {
        BinaryColumn::new(
            self.offset,
            len,
            self.validity.as_ref().map(bytes_of),
            bytes_of(&self.offsets),
            self.large,
            bytes_of(&self.data),
        )
        .map_err(column_error)
    }
}

fn column_error(error: ColumnError) -> PyErr {
    PyValueError::new_err(format!("unreadable Arrow column: {error}"))
}

/// Verifies one record batch: `length` rows, the body column, per header slot the columns
/// that may fill it (`(name index, column)`, preferred first), the URL column, and the times:
/// `times` is a float64 column `(offset, validity, values)` of each row's current time, else
/// every row is checked at `now` (the clock when `None`); `tolerance=None` skips timestamps.
/// Returns the answers as an Arrow bitmap.
#[pyfunction]
#[pyo3(signature = (verifier, length, body, slots, url, times, tolerance, now))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn _verify_arrow_batch<'py>(
    py: Python<'py>,
    verifier: &Bound<'py, PyAny>,
    length: usize,
    body: ColumnSpec<'py>,
    slots: Vec<Vec<(usize, ColumnSpec<'py>)>>,
    url: Option<ColumnSpec<'py>>,
    times: Option<(usize, Option<Bound<'py, PyAny>>, Bound<'py, PyAny>)>,
    tolerance: Option<f64>,
    now: Option<f64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let body = HeldColumn::new(&body)?;
    let slot_columns = slots
        .iter()
        .map(|columns| {
            columns.iter().map(|(name, spec)| Ok((*name, HeldColumn::new(spec)?))).collect()
        })
        .collect::<PyResult<Vec<Vec<(usize, HeldColumn)>>>>()?;
    let url = url.as_ref().map(HeldColumn::new).transpose()?;
    let held_times = match &times {
        Some((offset, validity, values)) => {
            Some((*offset, validity.as_ref().map(held).transpose()?, held(values)?))
        }
        None => None,
    };
    let times = match (tolerance, &held_times) {
        (None, _) => Times::Skip,
        (Some(tolerance), Some((offset, validity, values))) => {
            let column = FloatColumn::new(
                *offset,
                length,
                validity.as_ref().map(bytes_of),
                bytes_of(values),
            )
            .map_err(column_error)?;
            Times::Column(column, window(tolerance, Some(0.0))?.tolerance_nanos)
        }
        (Some(tolerance), None) => Times::Fixed(window(tolerance, now)?),
    };
    let columns = Columns {
        body: body.column(length)?,
        slots: slot_columns
            .iter()
            .map(|columns| {
                columns.iter().map(|(name, column)| Ok((*name, column.column(length)?))).collect()
            })
            .collect::<PyResult<_>>()?,
        url: url.as_ref().map(|column| column.column(length)).transpose()?,
        times,
    };
    let answers = with_scheme!(verifier, |scheme| {
        let chunk =
            if scheme.item_work() > crate::batch::PER_ITEM_WORK { CHUNK / 2 } else { CHUNK };
        py.detach(|| columns.verify(scheme, chunk))
    })?
    .map_err(column_error)?;
    Ok(PyBytes::new(py, &pack_bits(&answers)))
}
