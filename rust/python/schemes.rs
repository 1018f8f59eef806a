//! The pyo3 layer over [`crate::scheme`]: one path for `verify`, `verify_many` and
//! `verify_each` of every header-slot scheme (Standard Webhooks and the providers), and the
//! provider classes themselves.

use std::borrow::Cow;
use std::ops::Range;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::args::{
    batch_body, check_same_length, collect, lookup_slots, text_bytes, type_name, window, with_body,
    BatchNow, BodyError, HeaderValue, SlotNames, SlotValues,
};
use super::webhooks::{
    body_error, non_empty_secret, rejection_error, secret_bytes, signing_body_error, timestamp_arg,
    ChallengeError, InvalidHeaderError, InvalidSecretError, WebhookVerificationError,
};
use crate::batch::{check_batch, is_large, CHUNK, PER_ITEM_WORK};
use crate::ed25519::PublicKey;
use crate::encoding::decode_hex;
use crate::providers::body::{BodyKeys, Hub, Shopify as ShopifyBody};
use crate::providers::discord::DiscordKeys;
use crate::providers::linear::LinearKeys;
use crate::providers::meta;
use crate::providers::slack::SlackKeys;
use crate::providers::stripe::StripeKeys;
use crate::providers::twilio::TwilioKeys;
use crate::scheme::{verify_chunk, Delivery, Found, Rejection, Scheme, MAX_SLOTS};
use crate::standard::{StandardKey, StandardKeys};
use crate::timestamp::Window;

/// A scheme's keys with the interned names of its header slots.
pub struct Verifier<S> {
    pub scheme: S,
    names: SlotNames,
}

/// One delivery's headers as found, before they are checked.
struct FoundSlots<'py>(SlotValues<'py>);

impl<'py> FoundSlots<'py> {
    fn read(headers: &Bound<'py, PyAny>, names: &SlotNames) -> PyResult<Self> {
        lookup_slots(headers, names).map(Self)
    }

    /// Why a present header cannot be used, if one cannot.
    fn invalid(&self) -> Option<&str> {
        self.0.as_slice().iter().find_map(|(_, value)| match value {
            HeaderValue::Invalid(why) => Some(why.as_str()),
            _ => None,
        })
    }

    /// The slots as a scheme reads them, in a fixed array; the first `S::HEADERS.len()` count.
    fn borrowed<S: Scheme>(&self) -> [Option<Found<'_>>; MAX_SLOTS] {
        let mut found = [None; MAX_SLOTS];
        for ((slot, (preference, value)), names) in
            found.iter_mut().zip(self.0.as_slice()).zip(S::HEADERS)
        {
            *slot = value.as_option().map(|value| Found { name: names[*preference], value });
        }
        found
    }

    /// Owned copies, to verify without the GIL; the reason when a header is unusable.
    fn owned<S: Scheme>(&self) -> Result<OwnedSlots, String> {
        if let Some(why) = self.invalid() {
            return Err(why.to_owned());
        }
        let found = self.borrowed::<S>();
        let owned = found[..S::HEADERS.len()].iter().map(|f| f.map(|f| (f.name, f.value.to_vec())));
        Ok(OwnedSlots(owned.collect()))
    }
}

struct OwnedSlots(Vec<Option<(&'static str, Vec<u8>)>>);

impl OwnedSlots {
    fn borrowed(&self) -> Vec<Option<Found<'_>>> {
        self.0.iter().map(|f| f.as_ref().map(|(name, value)| Found { name, value })).collect()
    }
}

/// How one delivery of a batch ended.
#[derive(Debug, Clone, Default)]
pub enum Outcome {
    #[default]
    Passed,
    Rejected(Rejection),
    InvalidHeader(String),
    Body(BodyError),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed)
    }

    /// `None` when it passed, else the exception `verify` would have raised.
    pub fn error(&self) -> Option<PyErr> {
        match self {
            Self::Passed => None,
            Self::Rejected(rejection) => Some(rejection_error(rejection)),
            Self::InvalidHeader(why) => Some(InvalidHeaderError::new_err(why.clone())),
            Self::Body(error) => Some(body_error(*error)),
        }
    }

    pub fn from_result(result: Option<Result<(), Rejection>>) -> Self {
        match result {
            Some(Ok(())) | None => Self::Passed,
            Some(Err(rejection)) => Self::Rejected(rejection),
        }
    }
}

/// A delivery read under the GIL, owned or borrowed from immutable objects, for the batch.
struct Prepared<'a> {
    body: Result<Cow<'a, [u8]>, BodyError>,
    headers: Result<OwnedSlots, String>,
    url: Option<Cow<'a, [u8]>>,
    window: Option<Window>,
}

/// A request URL as `str` or `bytes`; a `str` with no UTF-8 form is as good as none.
fn url_bytes<'a>(url: Option<&'a Bound<'_, PyAny>>) -> PyResult<Option<&'a [u8]>> {
    match url {
        Some(url) if !url.is_none() => text_bytes(url, "url"),
        _ => Ok(None),
    }
}

impl<S: Scheme> Verifier<S> {
    pub fn new(py: Python<'_>, scheme: S) -> Self {
        Self { scheme, names: SlotNames::new(py, S::HEADERS) }
    }

    /// A scheme keyed by one shared secret or a list of them (rotation), with `key`.
    pub fn keyed(
        py: Python<'_>,
        secrets: &Bound<'_, PyAny>,
        key: impl FnOnce(&[&[u8]]) -> Option<S>,
    ) -> PyResult<Self> {
        let secrets = each_secret(secrets, shared_secret)?;
        let slices: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        Ok(Self::new(py, key(&slices).ok_or_else(no_keys)?))
    }

    /// `sign` for the schemes that send one header: `{name: sign(keys, payload bytes)}`.
    pub fn signed_header<'py>(
        &self,
        payload: &Bound<'py, PyAny>,
        name: &str,
        sign: impl FnOnce(&S, &[u8]) -> String,
    ) -> PyResult<Bound<'py, PyDict>> {
        let value = signed(payload, |body| sign(&self.scheme, body))?;
        headers_dict(payload.py(), &[(name, &value)])
    }

    /// `verify`: `None`, or the exception naming the cause.
    pub fn verify(
        &self,
        payload: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        url: Option<&Bound<'_, PyAny>>,
        tolerance: Option<f64>,
        now: Option<f64>,
    ) -> PyResult<()> {
        let window = tolerance.map(|tolerance| window(tolerance, now)).transpose()?;
        let found = FoundSlots::read(headers, &self.names)?;
        if let Some(why) = found.invalid() {
            return Err(InvalidHeaderError::new_err(why.to_owned()));
        }
        let url = url_bytes(url)?;
        let slots = found.borrowed::<S>();
        let headers = &slots[..S::HEADERS.len()];
        with_body(payload, |body| self.scheme.verify(&Delivery { body, headers, url }, window))?
            .map_err(body_error)?
            .map_err(|rejection| rejection_error(&rejection))
    }

    /// The outcome of every delivery, in order: read under the GIL, checked without it, on
    /// every core when the batch is large, with Ed25519 signatures verified together.
    pub fn verify_batch(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        headers_list: &Bound<'_, PyAny>,
        urls: Option<&Bound<'_, PyAny>>,
        tolerance: Option<f64>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Outcome>> {
        let (payloads, headers_list) = (collect(payloads)?, collect(headers_list)?);
        check_same_length("verify_many", payloads.len(), headers_list.len())?;
        let urls = urls.map(collect).transpose()?;
        if let Some(urls) = &urls {
            if urls.len() != payloads.len() {
                return Err(PyValueError::new_err(format!(
                    "verify_many: got {} payloads but {} urls",
                    payloads.len(),
                    urls.len()
                )));
            }
        }
        let count = payloads.len();
        let windows = BatchNow::from_arg(now, count)?.windows(tolerance, count)?;
        let prepare = |range: Range<usize>| {
            range
                .map(|i| {
                    let body = batch_body(&payloads[i])?.ok_or(BodyError::NotUtf8);
                    let headers = FoundSlots::read(&headers_list[i], &self.names)?.owned::<S>();
                    let url = match &urls {
                        Some(urls) => url_bytes(Some(&urls[i]))?.map(Cow::Borrowed),
                        None => None,
                    };
                    Ok(Prepared { body, headers, url, window: windows[i] })
                })
                .collect::<PyResult<Vec<_>>>()
        };
        let total: usize = payloads.iter().map(|p| p.len().unwrap_or(0)).sum();
        let per_item = self.scheme.item_work();
        let chunk = if per_item > PER_ITEM_WORK { CHUNK / 2 } else { CHUNK };
        check_batch(
            count,
            is_large(count, total, per_item),
            chunk,
            prepare,
            |items: &[Prepared<'_>], out: &mut [Outcome]| self.check_chunk(items, out),
            |job| py.detach(job),
        )
    }

    fn check_chunk(&self, items: &[Prepared<'_>], out: &mut [Outcome]) {
        let slots: Vec<Option<Vec<Option<Found<'_>>>>> =
            items.iter().map(|item| item.headers.as_ref().ok().map(OwnedSlots::borrowed)).collect();
        let deliveries = items.iter().zip(&slots).map(|(item, slots)| {
            let (Ok(body), Some(headers)) = (&item.body, slots) else {
                return None;
            };
            let delivery = Delivery { body, headers, url: item.url.as_deref() };
            Some((delivery, item.window))
        });
        let results = verify_chunk(&self.scheme, deliveries);
        for ((slot, item), result) in out.iter_mut().zip(items).zip(results) {
            *slot = match (&item.headers, &item.body) {
                (Err(why), _) => Outcome::InvalidHeader(why.clone()),
                (_, Err(error)) => Outcome::Body(*error),
                _ => Outcome::from_result(result),
            };
        }
    }
}

/// `verify_each`'s answer: `None` or the exception instance, per delivery.
pub fn errors(py: Python<'_>, outcomes: Vec<Outcome>) -> Vec<Option<Py<PyAny>>> {
    outcomes
        .into_iter()
        .map(|outcome| outcome.error().map(|error| error.into_value(py).into_any()))
        .collect()
}

pub fn passed(outcomes: Vec<Outcome>) -> Vec<bool> {
    outcomes.iter().map(Outcome::passed).collect()
}

// ------------------------------------------------------------------------- secrets and keys

/// One secret or a list (or tuple) of them, for rotation; the items are whatever `item`
/// accepts. An empty list is refused.
pub fn each_secret<'py, T>(
    secrets: &Bound<'py, PyAny>,
    mut item: impl FnMut(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let items: Vec<Bound<'py, PyAny>> =
        if secrets.is_instance_of::<PyList>() || secrets.is_instance_of::<PyTuple>() {
            collect(secrets)?
        } else {
            vec![secrets.clone()]
        };
    if items.is_empty() {
        return Err(InvalidSecretError::new_err("at least one secret is required"));
    }
    items.iter().map(&mut item).collect()
}

/// A shared secret as `str` (its UTF-8) or `bytes`; empty or with no UTF-8 form is refused.
fn shared_secret(secret: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let bytes = text_bytes(secret, "secret")?
        .ok_or_else(|| InvalidSecretError::new_err("secret str has no UTF-8 form"))?;
    if bytes.is_empty() {
        return Err(InvalidSecretError::new_err("secret must not be empty"));
    }
    Ok(bytes.to_vec())
}

/// An Ed25519 public key: 64 hex digits (`str`) or the 32 raw bytes.
fn public_key(key: &Bound<'_, PyAny>) -> PyResult<PublicKey> {
    let bytes: Vec<u8> = if let Ok(text) = key.cast::<PyString>() {
        let text = text
            .to_str()
            .map_err(|_| InvalidSecretError::new_err("public key str has no UTF-8 form"))?;
        decode_hex::<32>(text.trim().as_bytes())
            .ok_or_else(|| InvalidSecretError::new_err("a public key str must be 64 hex digits"))?
            .to_vec()
    } else if let Ok(raw) = key.cast::<PyBytes>() {
        raw.as_bytes().to_vec()
    } else {
        return Err(PyTypeError::new_err(format!(
            "public key must be str (hex) or bytes, not {}",
            type_name(key)
        )));
    };
    PublicKey::from_bytes(&bytes).map_err(|e| InvalidSecretError::new_err(e.to_string()))
}

fn no_keys() -> PyErr {
    InvalidSecretError::new_err("at least one secret is required")
}

fn headers_dict<'py>(py: Python<'py>, headers: &[(&str, &str)]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in headers {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// A signing timestamp: an int or a datetime, or the current time.
fn signing_time(timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match timestamp {
        Some(timestamp) if !timestamp.is_none() => timestamp_arg(timestamp),
        _ => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))),
    }
}

/// `sign` over the payload's bytes; a `str` with no UTF-8 form is a `ValueError`.
fn signed<R>(payload: &Bound<'_, PyAny>, sign: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    with_body(payload, sign)?.map_err(signing_body_error)
}

// ------------------------------------------------------------------------------- classes

/// The verify trio of a class: `verify`, `verify_many` and `verify_each`, with a tolerance
/// (`timed`), without one (`untimed`), or with the request URL (`url`).
macro_rules! scheme_class {
    (
        $(#[$meta:meta])*
        $class:ident($scheme:ty), $what:literal, timed($default:tt);
        $($extra:item)*
    ) => {
        $(#[$meta])*
        #[pyclass(frozen, module = "relaywire._native")]
        pub struct $class {
            pub(super) verifier: Verifier<$scheme>,
        }

        #[pymethods]
        impl $class {
            #[pyo3(signature = (payload, headers, *, tolerance = $default, now = None))]
            fn verify(
                &self,
                payload: &Bound<'_, PyAny>,
                headers: &Bound<'_, PyAny>,
                tolerance: Option<f64>,
                now: Option<f64>,
            ) -> PyResult<()> {
                self.verifier.verify(payload, headers, None, tolerance, now)
            }

            #[pyo3(signature = (payloads, headers_list, *, tolerance = $default, now = None))]
            fn verify_many(
                &self,
                py: Python<'_>,
                payloads: &Bound<'_, PyAny>,
                headers_list: &Bound<'_, PyAny>,
                tolerance: Option<f64>,
                now: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Vec<bool>> {
                let outcomes =
                    self.verifier.verify_batch(py, payloads, headers_list, None, tolerance, now)?;
                Ok(passed(outcomes))
            }

            #[pyo3(signature = (payloads, headers_list, *, tolerance = $default, now = None))]
            fn verify_each(
                &self,
                py: Python<'_>,
                payloads: &Bound<'_, PyAny>,
                headers_list: &Bound<'_, PyAny>,
                tolerance: Option<f64>,
                now: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Vec<Option<Py<PyAny>>>> {
                let outcomes =
                    self.verifier.verify_batch(py, payloads, headers_list, None, tolerance, now)?;
                Ok(errors(py, outcomes))
            }

            fn __repr__(&self) -> String {
                format!("{}({}=<redacted>)", stringify!($class), $what)
            }

            $($extra)*
        }
    };
    (
        $(#[$meta:meta])*
        $class:ident($scheme:ty), $what:literal, untimed;
        $($extra:item)*
    ) => {
        $(#[$meta])*
        #[pyclass(frozen, module = "relaywire._native")]
        pub struct $class {
            pub(super) verifier: Verifier<$scheme>,
        }

        #[pymethods]
        impl $class {
            fn verify(
                &self,
                payload: &Bound<'_, PyAny>,
                headers: &Bound<'_, PyAny>,
            ) -> PyResult<()> {
                self.verifier.verify(payload, headers, None, None, None)
            }

            fn verify_many(
                &self,
                py: Python<'_>,
                payloads: &Bound<'_, PyAny>,
                headers_list: &Bound<'_, PyAny>,
            ) -> PyResult<Vec<bool>> {
                let outcomes =
                    self.verifier.verify_batch(py, payloads, headers_list, None, None, None)?;
                Ok(passed(outcomes))
            }

            fn verify_each(
                &self,
                py: Python<'_>,
                payloads: &Bound<'_, PyAny>,
                headers_list: &Bound<'_, PyAny>,
            ) -> PyResult<Vec<Option<Py<PyAny>>>> {
                let outcomes =
                    self.verifier.verify_batch(py, payloads, headers_list, None, None, None)?;
                Ok(errors(py, outcomes))
            }

            fn __repr__(&self) -> String {
                format!("{}({}=<redacted>)", stringify!($class), $what)
            }

            $($extra)*
        }
    };
}

scheme_class! {
    /// A Standard Webhooks verifier and signer (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`, or Svix's `svix-` names; `v1,<base64>` with `whsec_` secrets,
    /// `v1a,<base64>` Ed25519 with `whsk_` secret keys and `whpk_` public keys).
    StandardWebhook(StandardKeys), "secret", timed(300.0);

    /// `secret` is `whsec_<base64>` (the prefix is optional) or the raw key as bytes, a
    /// `whsk_` / `whpk_` Ed25519 key, or a list of any of them (rotation).
    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let keys = StandardKeys::new(each_secret(secret, standard_key)?).ok_or_else(no_keys)?;
        Ok(Self { verifier: Verifier::new(py, keys) })
    }

    /// The `webhook-signature` value: one signature per key that signs, space-separated.
    fn sign(
        &self,
        msg_id: &str,
        timestamp: &Bound<'_, PyAny>,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let keys = &self.verifier.scheme;
        if !keys.can_sign() {
            return Err(InvalidSecretError::new_err(
                "a whpk_ public key verifies but cannot sign; sign with the whsk_ secret key",
            ));
        }
        let timestamp = timestamp_arg(timestamp)?;
        signed(payload, |body| keys.sign(msg_id.as_bytes(), timestamp, body))
    }
}

/// One Standard Webhooks key: raw HMAC key bytes, or the text of a `whsec_`, `whsk_` or
/// `whpk_` key.
fn standard_key(key: &Bound<'_, PyAny>) -> PyResult<StandardKey> {
    if let Ok(raw) = key.cast::<PyBytes>() {
        return Ok(StandardKey::from_key_bytes(non_empty_secret(raw.as_any())?));
    }
    StandardKey::parse(secret_bytes(key)?).map_err(|e| InvalidSecretError::new_err(e.to_string()))
}

scheme_class! {
    /// Stripe: `Stripe-Signature: t=...,v1=...` over `"{t}.{body}"`, `whsec_` secret as is.
    Stripe(StripeKeys), "secret", timed(300.0);

    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, secret, StripeKeys::new)? })
    }

    /// `{"Stripe-Signature": "t=...,v1=..."}`, one `v1` per secret.
    #[pyo3(signature = (payload, *, timestamp = None))]
    fn sign<'py>(
        &self,
        payload: &Bound<'py, PyAny>,
        timestamp: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let timestamp = signing_time(timestamp)?;
        let sign = |keys: &StripeKeys, body: &[u8]| keys.sign(body, timestamp);
        self.verifier.signed_header(payload, "Stripe-Signature", sign)
    }
}

scheme_class! {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
    GitHub(BodyKeys<Hub>), "secret", untimed;

    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, secret, BodyKeys::new)? })
    }

    /// `{"X-Hub-Signature-256": "sha256=<hex>"}`, with the first secret.
    fn sign<'py>(&self, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        self.verifier.signed_header(payload, "X-Hub-Signature-256", |keys, body| keys.sign(body))
    }
}

scheme_class! {
    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body.
    Shopify(BodyKeys<ShopifyBody>), "secret", untimed;

    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, secret, BodyKeys::new)? })
    }

    /// `{"X-Shopify-Hmac-Sha256": "<base64>"}`, with the first secret.
    fn sign<'py>(&self, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        self.verifier.signed_header(payload, "X-Shopify-Hmac-Sha256", |keys, body| keys.sign(body))
    }
}

scheme_class! {
    /// Meta (WhatsApp Cloud API, Messenger, Instagram): `X-Hub-Signature-256` over the body,
    /// keyed by the app secret; `answer_challenge` answers the subscription handshake.
    Meta(BodyKeys<Hub>), "app_secret", untimed;

    #[new]
    fn new(py: Python<'_>, app_secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, app_secret, BodyKeys::new)? })
    }

    /// `{"X-Hub-Signature-256": "sha256=<hex>"}`, with the first secret.
    fn sign<'py>(&self, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        self.verifier.signed_header(payload, "X-Hub-Signature-256", |keys, body| keys.sign(body))
    }

    /// The `hub.challenge` to answer a subscription handshake with, when `hub.mode` is
    /// `subscribe` and `hub.verify_token` is `verify_token`; else `ChallengeError`.
    #[staticmethod]
    fn answer_challenge(
        params: &Bound<'_, PyAny>,
        verify_token: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let expected = text_bytes(verify_token, "verify_token")?
            .ok_or_else(|| ChallengeError::new_err("verify_token str has no UTF-8 form"))?;
        let names = [meta::MODE, meta::VERIFY_TOKEN, meta::CHALLENGE];
        let [mode, token, challenge] = query_values(params, names)?;
        let answer = meta::answer(mode.as_deref(), token.as_deref(), challenge.as_deref(), expected)
            .map_err(|rejection| ChallengeError::new_err(rejection.to_string()))?;
        String::from_utf8(answer.to_vec())
            .map_err(|_| ChallengeError::new_err("\"hub.challenge\" is not UTF-8 text"))
    }
}

/// Query parameters from a query string (`str`/`bytes`, with or without a leading `?`) or a
/// mapping (a `dict`, Starlette's `QueryParams`, Werkzeug's `MultiDict`, ...).
fn query_values<const N: usize>(
    params: &Bound<'_, PyAny>,
    names: [&str; N],
) -> PyResult<[Option<Vec<u8>>; N]> {
    if params.is_instance_of::<PyString>() || params.is_instance_of::<PyBytes>() {
        let text = text_bytes(params, "params")?.unwrap_or_default();
        let text = text.strip_prefix(b"?").unwrap_or(text);
        return Ok(names.map(|name| crate::form::first(text, name.as_bytes()).map(Cow::into_owned)));
    }
    let get = pyo3::intern!(params.py(), "get");
    if !params.hasattr(get)? {
        return Err(PyTypeError::new_err(format!(
            "params must be a query string or a mapping, not {}",
            type_name(params)
        )));
    }
    let mut values: [Option<Vec<u8>>; N] = std::array::from_fn(|_| None);
    for (value, name) in values.iter_mut().zip(names) {
        let mut found = params.call_method1(get, (name,))?;
        // `parse_qs` gives a list per name: its first value counts.
        if found.is_instance_of::<PyList>() || found.is_instance_of::<PyTuple>() {
            found = match collect(&found)?.into_iter().next() {
                Some(first) => first,
                None => continue,
            };
        }
        if !found.is_none() {
            let text = text_bytes(&found, name)?
                .ok_or_else(|| ChallengeError::new_err(format!("{name:?} has no UTF-8 form")))?;
            *value = Some(text.to_vec());
        }
    }
    Ok(values)
}

scheme_class! {
    /// Slack: `X-Slack-Signature: v0=<hex>` over `"v0:{ts}:{body}"`, with
    /// `X-Slack-Request-Timestamp`.
    Slack(SlackKeys), "secret", timed(300.0);

    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, secret, SlackKeys::new)? })
    }

    /// `{"X-Slack-Request-Timestamp": ..., "X-Slack-Signature": "v0=<hex>"}`, with the first
    /// secret.
    #[pyo3(signature = (payload, *, timestamp = None))]
    fn sign<'py>(
        &self,
        py: Python<'py>,
        payload: &Bound<'py, PyAny>,
        timestamp: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let timestamp = signing_time(timestamp)?.to_string();
        let value = signed(payload, |body| self.verifier.scheme.sign(body, timestamp.as_bytes()))?;
        headers_dict(
            py,
            &[("X-Slack-Request-Timestamp", timestamp.as_str()), ("X-Slack-Signature", &value)],
        )
    }
}

scheme_class! {
    /// Linear: `Linear-Signature` (hex) over the body; freshness from the body's
    /// `webhookTimestamp` (milliseconds).
    Linear(LinearKeys), "secret", timed(60.0);

    #[new]
    fn new(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, secret, LinearKeys::new)? })
    }

    /// `{"Linear-Signature": "<hex>"}`, with the first secret.
    fn sign<'py>(&self, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        self.verifier.signed_header(payload, "Linear-Signature", |keys, body| keys.sign(body))
    }
}

scheme_class! {
    /// Discord: `X-Signature-Ed25519` (hex) over `X-Signature-Timestamp` + body, under the
    /// application's public key. Verify only: Discord holds the secret key.
    Discord(DiscordKeys), "public_key", timed(300.0);

    #[new]
    fn new(py: Python<'_>, public_key: &Bound<'_, PyAny>) -> PyResult<Self> {
        let keys = each_secret(public_key, self::public_key)?;
        let scheme = DiscordKeys::new(keys).ok_or_else(no_keys)?;
        Ok(Self { verifier: Verifier::new(py, scheme) })
    }
}

/// Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the URL and the sorted form parameters.
#[pyclass(frozen, module = "relaywire._native")]
pub struct Twilio {
    pub(super) verifier: Verifier<TwilioKeys>,
}

#[pymethods]
impl Twilio {
    #[new]
    fn new(py: Python<'_>, auth_token: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { verifier: Verifier::keyed(py, auth_token, TwilioKeys::new)? })
    }

    #[pyo3(signature = (payload, headers, *, url))]
    fn verify(
        &self,
        payload: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        url: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let Some(_) = url_bytes(Some(url))? else {
            return Err(WebhookVerificationError::new_err("url str has no UTF-8 form"));
        };
        self.verifier.verify(payload, headers, Some(url), None, None)
    }

    #[pyo3(signature = (payloads, headers_list, *, urls))]
    fn verify_many(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        headers_list: &Bound<'_, PyAny>,
        urls: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        Ok(passed(self.verifier.verify_batch(
            py,
            payloads,
            headers_list,
            Some(urls),
            None,
            None,
        )?))
    }

    #[pyo3(signature = (payloads, headers_list, *, urls))]
    fn verify_each(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        headers_list: &Bound<'_, PyAny>,
        urls: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Option<Py<PyAny>>>> {
        let outcomes =
            self.verifier.verify_batch(py, payloads, headers_list, Some(urls), None, None)?;
        Ok(errors(py, outcomes))
    }

    /// `{"X-Twilio-Signature": "<base64>"}` for a request to `url`, with the first token.
    #[pyo3(signature = (payload, *, url))]
    fn sign<'py>(
        &self,
        payload: &Bound<'py, PyAny>,
        url: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let url = text_bytes(url, "url")?
            .ok_or_else(|| PyValueError::new_err("url str has no UTF-8 form"))?;
        self.verifier
            .signed_header(payload, "X-Twilio-Signature", |keys, body| keys.sign(body, url))
    }

    fn __repr__(&self) -> &'static str {
        "Twilio(auth_token=<redacted>)"
    }
}
