//! `relaywire._native` webhook functions, classes and exceptions.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::args::{
    batch_body, check_same_length, collect, lookup_slots, text_bytes, type_name, window_args,
    with_body, BodyError, SlotNames, MAX_HEADER_BYTES,
};
use crate::batch::{check_batch, each, is_large, CHUNK, PER_ITEM_WORK};
use crate::generic::{GenericKey, TagEncoding};
use crate::linktor::{self, LinktorKey};
use crate::scheme::{Rejection, Scheme};
use crate::standard;

create_exception!(
    relaywire._native,
    WebhookVerificationError,
    PyException,
    "A webhook could not be verified; the subclass says why."
);
create_exception!(
    relaywire._native,
    MissingHeaderError,
    WebhookVerificationError,
    "A required webhook header is absent or empty."
);
create_exception!(
    relaywire._native,
    InvalidHeaderError,
    WebhookVerificationError,
    "A webhook header is present but unusable (wrong type, not text, or too long)."
);
create_exception!(
    relaywire._native,
    InvalidTimestampError,
    WebhookVerificationError,
    "The timestamp header is not an integer number of seconds."
);
create_exception!(
    relaywire._native,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    "The timestamp is further from now than the tolerance allows (too old or too new)."
);
create_exception!(
    relaywire._native,
    InvalidSignatureError,
    WebhookVerificationError,
    "No signature in the header matches the payload."
);
create_exception!(
    relaywire._native,
    InvalidSecretError,
    WebhookVerificationError,
    "The webhook secret is empty or not in the scheme's format."
);
create_exception!(
    relaywire._native,
    ChallengeError,
    WebhookVerificationError,
    "A subscription handshake (Meta's hub.challenge) has the wrong mode or verify token."
);

/// The constants and exception classes of the module.
pub fn add_constants_and_exceptions(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LINKTOR_SIGNATURE_HEADER", linktor::SIGNATURE_HEADER)?;
    m.add("LINKTOR_TIMESTAMP_HEADER", linktor::TIMESTAMP_HEADER)?;
    m.add("STANDARD_ID_HEADER", standard::ID_HEADER)?;
    m.add("STANDARD_TIMESTAMP_HEADER", standard::TIMESTAMP_HEADER)?;
    m.add("STANDARD_SIGNATURE_HEADER", standard::SIGNATURE_HEADER)?;
    // The two schemes' defaults agree; the facade documents one.
    debug_assert_eq!(linktor::DEFAULT_TOLERANCE, standard::DEFAULT_TOLERANCE);
    m.add("DEFAULT_TOLERANCE", linktor::DEFAULT_TOLERANCE)?;
    m.add("MAX_HEADER_BYTES", MAX_HEADER_BYTES)?;
    m.add("WebhookVerificationError", py.get_type::<WebhookVerificationError>())?;
    m.add("MissingHeaderError", py.get_type::<MissingHeaderError>())?;
    m.add("InvalidHeaderError", py.get_type::<InvalidHeaderError>())?;
    m.add("InvalidTimestampError", py.get_type::<InvalidTimestampError>())?;
    m.add("TimestampOutOfToleranceError", py.get_type::<TimestampOutOfToleranceError>())?;
    m.add("InvalidSignatureError", py.get_type::<InvalidSignatureError>())?;
    m.add("InvalidSecretError", py.get_type::<InvalidSecretError>())?;
    m.add("ChallengeError", py.get_type::<ChallengeError>())?;
    Ok(())
}

pub fn rejection_error(rejection: &Rejection) -> PyErr {
    let message = rejection.to_string();
    match rejection {
        Rejection::MissingHeader(_) => MissingHeaderError::new_err(message),
        Rejection::InvalidHeader { .. } => InvalidHeaderError::new_err(message),
        Rejection::InvalidTimestamp(..) => InvalidTimestampError::new_err(message),
        Rejection::TooOld | Rejection::TooNew => TimestampOutOfToleranceError::new_err(message),
        Rejection::NoMatchingSignature | Rejection::BodyHashMismatch => {
            InvalidSignatureError::new_err(message)
        }
        Rejection::MissingUrl => WebhookVerificationError::new_err(message),
    }
}

pub fn body_error(error: BodyError) -> PyErr {
    match error {
        BodyError::NotUtf8 => WebhookVerificationError::new_err(
            "payload str contains lone surrogates and has no UTF-8 form; pass the raw bytes",
        ),
    }
}

pub fn signing_body_error(error: BodyError) -> PyErr {
    match error {
        BodyError::NotUtf8 => PyValueError::new_err(
            "payload str contains lone surrogates and has no UTF-8 form; pass bytes instead",
        ),
    }
}

/// A secret as UTF-8 bytes (str) or raw bytes; a `str` with no UTF-8 form is refused.
pub fn secret_bytes<'a>(secret: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    text_bytes(secret, "secret")?
        .ok_or_else(|| InvalidSecretError::new_err("secret str has no UTF-8 form"))
}

pub fn non_empty_secret<'a>(secret: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    let bytes = secret_bytes(secret)?;
    if bytes.is_empty() {
        return Err(InvalidSecretError::new_err("secret must not be empty"));
    }
    Ok(bytes)
}

/// `None`, a `str` or `bytes` signature; `None` and text with no UTF-8 form never match.
fn signature_bytes<'a>(signature: &'a Bound<'_, PyAny>) -> PyResult<Option<&'a [u8]>> {
    if signature.is_none() {
        return Ok(None);
    }
    text_bytes(signature, "signature")
}

/// Total length of the payloads, to decide whether a batch is worth the thread pool.
fn total_len(payloads: &[Bound<'_, PyAny>]) -> usize {
    payloads.iter().map(|p| p.len().unwrap_or(0)).sum()
}

/// `verify_many`: each payload with its companion (a signature, or a headers mapping) read
/// by `read` under the GIL, then checked by `check` with the GIL released. Immutable
/// `bytes`/`str` bodies are borrowed: `payloads` and `companions` keep them alive until the
/// batch is done.
fn verify_batch<'a, 'py, T: Send + Sync>(
    py: Python<'py>,
    payloads: &'a [Bound<'py, PyAny>],
    companions: &'a [Bound<'py, PyAny>],
    read: impl Fn(&'a Bound<'py, PyAny>) -> PyResult<Option<T>>,
    check: impl Fn(&[u8], &T) -> bool + Sync,
) -> PyResult<Vec<bool>> {
    check_same_length("verify_many", payloads.len(), companions.len())?;
    let prepare = |range: Range<usize>| {
        payloads[range.clone()]
            .iter()
            .zip(&companions[range])
            .map(|(payload, companion)| Ok((batch_body(payload)?, read(companion)?)))
            .collect::<PyResult<Vec<_>>>()
    };
    check_batch(
        payloads.len(),
        is_large(payloads.len(), total_len(payloads), PER_ITEM_WORK),
        CHUNK,
        prepare,
        each(|(body, companion): &(Option<Cow<'_, [u8]>>, Option<T>)| match (body, companion) {
            (Some(body), Some(companion)) => check(body, companion),
            _ => false,
        }),
        |job| py.detach(job),
    )
}

/// `verify_many` for the schemes that take one signature per body.
fn verify_signatures<K: Sync>(
    py: Python<'_>,
    key: &K,
    payloads: &Bound<'_, PyAny>,
    signatures: &Bound<'_, PyAny>,
    verify: impl Fn(&K, &[u8], &[u8]) -> bool + Sync,
) -> PyResult<Vec<bool>> {
    let (payloads, signatures) = (collect(payloads)?, collect(signatures)?);
    verify_batch(py, &payloads, &signatures, signature_bytes, |body, signature| {
        verify(key, body, signature)
    })
}

// ---------------------------------------------------------------- Linktor

thread_local! {
    /// The last secret used by the module-level functions, keyed once: receivers call them
    /// with the same secret for every request. The key is lent out as an `Rc`, so nothing
    /// stays borrowed while Python code (a header mapping's `get`, say) runs and perhaps
    /// calls back in.
    static LAST_LINKTOR_KEY: RefCell<Option<CachedKey>> = const { RefCell::new(None) };
}

struct CachedKey {
    /// The secret object last seen. Holding it means no other object can have its address
    /// while it is cached, so the same address is the same (immutable) `str` or `bytes`, and
    /// a receiver passing its one secret object skips reading and comparing the text.
    object: Py<PyAny>,
    text: Vec<u8>,
    key: Rc<LinktorKey>,
}

/// The key of `secret`: the cached one if `secret` is the object cached last, else that of
/// the bytes `read` gives (`None`: answer without a key), cached unless empty.
fn linktor_key<'a, 'py>(
    secret: &'a Bound<'py, PyAny>,
    read: impl FnOnce(&'a Bound<'py, PyAny>) -> PyResult<Option<&'a [u8]>>,
) -> PyResult<Option<Rc<LinktorKey>>> {
    let same_object = LAST_LINKTOR_KEY.with(|cell| {
        let cached = cell.borrow();
        let cached = cached.as_ref().filter(|cached| cached.object.as_ptr() == secret.as_ptr());
        cached.map(|cached| Rc::clone(&cached.key))
    });
    if same_object.is_some() {
        return Ok(same_object);
    }
    let Some(text) = read(secret)? else {
        return Ok(None);
    };
    if text.is_empty() {
        // Only signing gets here. Not cached, so that an object found in the cache is always a
        // secret the verify functions accept (they answer `False` for an empty one before
        // reading the payload).
        return Ok(Some(Rc::new(LinktorKey::new(text))));
    }
    let (key, replaced) = LAST_LINKTOR_KEY.with(|cell| {
        let mut cached = cell.borrow_mut();
        let key = match cached.as_ref() {
            Some(known) if known.text.as_slice() == text => Rc::clone(&known.key),
            _ => Rc::new(LinktorKey::new(text)),
        };
        let entry = CachedKey {
            object: secret.clone().unbind(),
            text: text.to_vec(),
            key: Rc::clone(&key),
        };
        (key, cached.replace(entry))
    });
    // Dropped once the cell is released: dropping the old secret object may run Python code.
    drop(replaced);
    Ok(Some(key))
}

/// A secret for the verify functions: text with a UTF-8 form, non-empty, else `None`.
fn verifying_secret<'a>(secret: &'a Bound<'_, PyAny>) -> PyResult<Option<&'a [u8]>> {
    Ok(text_bytes(secret, "secret")?.filter(|text| !text.is_empty()))
}

fn linktor_verify_request(
    key: &LinktorKey,
    payload: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    tolerance: f64,
    now: Option<f64>,
) -> PyResult<bool> {
    static NAMES: PyOnceLock<SlotNames> = PyOnceLock::new();
    let py = headers.py();
    // The clock is read only if there is a timestamp to check.
    let window = window_args(tolerance, now)?;
    let names = NAMES.get_or_init(py, || SlotNames::new(py, <LinktorKey as Scheme>::HEADERS));
    let found = lookup_slots(headers, names)?;
    let [(_, signature), (_, timestamp)] = found.as_slice() else {
        unreachable!("the Linktor scheme reads two headers")
    };
    if signature.is_invalid() || timestamp.is_invalid() {
        return Ok(false);
    }
    Ok(with_body(payload, |body| {
        key.verify_request(body, signature.as_option(), timestamp.as_option(), || window.window())
    })?
    .unwrap_or(false))
}

fn hex_string(hex: &[u8]) -> String {
    String::from_utf8_lossy(hex).into_owned()
}

/// Lowercase hex HMAC-SHA256 of the raw body keyed by the UTF-8 secret.
#[pyfunction]
pub fn linktor_signature(
    payload: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let key = linktor_key(secret, |secret| secret_bytes(secret).map(Some))?
        .expect("a readable secret always has a key");
    let hex = with_body(payload, |body| key.sign(body))?.map_err(signing_body_error)?;
    Ok(hex_string(&hex))
}

/// The official Linktor answer: the signature must equal the lowercase hex tag exactly.
#[pyfunction]
pub fn verify_linktor(
    payload: &Bound<'_, PyAny>,
    signature: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let Some(signature) = signature_bytes(signature)? else {
        return Ok(false);
    };
    let Some(key) = linktor_key(secret, verifying_secret)? else {
        return Ok(false);
    };
    if signature.is_empty() {
        return Ok(false);
    }
    Ok(with_body(payload, |body| key.verify(body, signature))?.unwrap_or(false))
}

/// Signature header check plus, when `X-Linktor-Timestamp` is present, `|now - ts| <= tolerance`.
#[pyfunction]
#[pyo3(signature = (payload, headers, secret, tolerance = 300.0, *, now = None))]
pub fn verify_linktor_request(
    payload: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
    tolerance: f64,
    now: Option<f64>,
) -> PyResult<bool> {
    let Some(key) = linktor_key(secret, verifying_secret)? else {
        return Ok(false);
    };
    linktor_verify_request(&key, payload, headers, tolerance, now)
}

/// A Linktor verifier keyed once, for receivers that verify every request.
#[pyclass(frozen, module = "relaywire._native")]
pub struct LinktorVerifier {
    pub(super) key: LinktorKey,
}

#[pymethods]
impl LinktorVerifier {
    #[new]
    fn new(secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { key: LinktorKey::new(non_empty_secret(secret)?) })
    }

    fn sign(&self, payload: &Bound<'_, PyAny>) -> PyResult<String> {
        let hex = with_body(payload, |body| self.key.sign(body))?.map_err(signing_body_error)?;
        Ok(hex_string(&hex))
    }

    fn verify(&self, payload: &Bound<'_, PyAny>, signature: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Some(signature) = signature_bytes(signature)? else {
            return Ok(false);
        };
        Ok(with_body(payload, |body| self.key.verify(body, signature))?.unwrap_or(false))
    }

    #[pyo3(signature = (payload, headers, tolerance = 300.0, *, now = None))]
    fn verify_request(
        &self,
        payload: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        tolerance: f64,
        now: Option<f64>,
    ) -> PyResult<bool> {
        linktor_verify_request(&self.key, payload, headers, tolerance, now)
    }

    fn verify_many(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        signatures: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        verify_signatures(py, &self.key, payloads, signatures, LinktorKey::verify)
    }

    fn __repr__(&self) -> &'static str {
        "LinktorVerifier(secret=<redacted>)"
    }
}

pub fn timestamp_arg(timestamp: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(seconds) = timestamp.extract::<i64>() {
        return Ok(seconds);
    }
    if timestamp.hasattr("timestamp")? {
        let seconds: f64 = timestamp.call_method0("timestamp")?.extract()?;
        if seconds.is_finite() {
            return Ok(seconds.floor() as i64);
        }
    }
    Err(PyTypeError::new_err(format!(
        "timestamp must be an int (seconds) or a datetime, not {}",
        type_name(timestamp)
    )))
}

// ----------------------------------------------------------------- Generic

/// HMAC-SHA256 of the raw body, hex or base64, behind an optional literal prefix.
#[pyclass(frozen, module = "relaywire._native")]
pub struct HmacVerifier {
    key: GenericKey,
}

#[pymethods]
impl HmacVerifier {
    #[new]
    #[pyo3(signature = (secret, *, encoding = "hex", prefix = ""))]
    fn new(secret: &Bound<'_, PyAny>, encoding: &str, prefix: &str) -> PyResult<Self> {
        let parsed = TagEncoding::parse(encoding).ok_or_else(|| {
            PyValueError::new_err(format!(
                "encoding must be \"hex\" or \"base64\", not {encoding:?}"
            ))
        })?;
        Ok(Self { key: GenericKey::new(non_empty_secret(secret)?, parsed, prefix) })
    }

    fn sign(&self, payload: &Bound<'_, PyAny>) -> PyResult<String> {
        with_body(payload, |body| self.key.sign(body))?.map_err(signing_body_error)
    }

    fn verify(&self, payload: &Bound<'_, PyAny>, signature: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Some(signature) = signature_bytes(signature)? else {
            return Ok(false);
        };
        Ok(with_body(payload, |body| self.key.verify(body, signature))?.unwrap_or(false))
    }

    fn verify_many(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        signatures: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        verify_signatures(py, &self.key, payloads, signatures, GenericKey::verify)
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        self.key.encoding().name()
    }

    #[getter]
    fn prefix(&self) -> &str {
        self.key.prefix()
    }

    fn __repr__(&self) -> String {
        format!(
            "HmacVerifier(secret=<redacted>, encoding={:?}, prefix={:?})",
            self.key.encoding().name(),
            self.key.prefix()
        )
    }
}
