//! What every header-based webhook scheme shares: the delivery as a scheme reads it, why one is
//! rejected, and the split between the cheap checks and an Ed25519 signature, which a batch
//! verifies together with the others.
//!
//! A scheme names the headers it reads as *slots*: each slot lists the names that fill it,
//! preferred first (Standard Webhooks' `webhook-id` before its `svix-id` alias). The caller
//! (the pyo3 layer, or the Arrow column reader) finds them and hands over a [`Delivery`].

use crate::ed25519::Pending;
use crate::timestamp::{Freshness, TimestampError, Window, NANOS};

/// The names that fill one header slot, lowercase, preferred first.
pub type Slot = &'static [&'static str];

/// The most header slots a scheme has (callers keep slots in fixed arrays).
pub const MAX_SLOTS: usize = 4;

/// One header as found: the name it was found under and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub name: &'static str,
    pub value: &'a [u8],
}

/// One delivery: the raw body, the scheme's header slots in order, and the URL it was sent
/// to (only Twilio signs the URL).
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub body: &'a [u8],
    pub headers: &'a [Option<Found<'a>>],
    pub url: Option<&'a [u8]>,
}

impl<'a> Delivery<'a> {
    /// The non-empty value of slot `index`, or the rejection naming its preferred header.
    pub fn header(&self, slots: &[Slot], index: usize) -> Result<Found<'a>, Rejection> {
        match self.headers.get(index).copied().flatten() {
            Some(found) if !found.value.is_empty() => Ok(found),
            _ => Err(Rejection::MissingHeader(slots[index][0])),
        }
    }
}

/// Where a timestamp was read from, for the rejection's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Header(&'static str),
    /// One `name=value` item of a header (Stripe's `t=`).
    Item {
        header: &'static str,
        item: &'static str,
    },
    /// A field of the JSON body (Linear's `webhookTimestamp`), in milliseconds.
    BodyMillis(&'static str),
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(name) => write!(f, "header {name:?}"),
            Self::Item { header, item } => write!(f, "the {item}= value of header {header:?}"),
            Self::BodyMillis(name) => write!(f, "body field {name:?}"),
        }
    }
}

/// Why a delivery was rejected; each maps to one public exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingHeader(&'static str),
    /// A header that is present but cannot be read as the scheme writes it.
    InvalidHeader {
        name: &'static str,
        problem: &'static str,
    },
    InvalidTimestamp(Field, TimestampError),
    TooOld,
    TooNew,
    NoMatchingSignature,
    /// Twilio: the body's SHA-256 differs from the URL's `bodySHA256` parameter.
    BodyHashMismatch,
    /// Twilio: no request URL was given to check the signature against.
    MissingUrl,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing required header {name:?}"),
            Self::InvalidHeader { name, problem } => write!(f, "header {name:?} {problem}"),
            Self::InvalidTimestamp(
                field @ (Field::Header(_) | Field::Item { .. }),
                TimestampError::Malformed,
            ) => write!(f, "{field} is not an integer number of seconds"),
            Self::InvalidTimestamp(field @ Field::BodyMillis(_), TimestampError::Malformed) => {
                write!(f, "{field} is missing or not an integer number of milliseconds")
            }
            Self::InvalidTimestamp(field, TimestampError::Overflow) => {
                write!(f, "{field} is out of range")
            }
            Self::TooOld => write!(f, "message timestamp too old"),
            Self::TooNew => write!(f, "message timestamp too new"),
            Self::NoMatchingSignature => write!(f, "no matching signature found"),
            Self::BodyHashMismatch => {
                write!(f, "the body does not match the URL's bodySHA256 parameter")
            }
            Self::MissingUrl => write!(f, "no request URL to check the signature against"),
        }
    }
}

/// A timestamp checked against the window; `None` skips the check.
pub fn check_fresh(window: Option<Window>, timestamp: i64) -> Result<(), Rejection> {
    check_fresh_nanos(window, i128::from(timestamp) * NANOS)
}

/// [`check_fresh`] for a timestamp in nanoseconds.
pub fn check_fresh_nanos(window: Option<Window>, nanos: i128) -> Result<(), Rejection> {
    match window.map(|w| w.freshness_nanos(nanos)) {
        Some(Freshness::TooOld) => Err(Rejection::TooOld),
        Some(Freshness::TooNew) => Err(Rejection::TooNew),
        _ => Ok(()),
    }
}

/// What the cheap checks concluded.
#[derive(Debug)]
pub enum Verdict<'k> {
    Accepted,
    /// Everything else holds; the delivery stands or falls with this one Ed25519 signature.
    Ed25519(Pending<'k>),
}

/// A webhook scheme over header slots.
pub trait Scheme: Sync {
    /// The header slots, in the order of [`Delivery::headers`].
    const HEADERS: &'static [Slot];

    /// Checks the delivery, except that a scheme may hand back one Ed25519 signature on which
    /// the answer depends, for the caller to verify alone or in a batch. `window` is `None`
    /// when the timestamp is not to be checked.
    fn check(
        &self,
        delivery: &Delivery<'_>,
        window: Option<Window>,
    ) -> Result<Verdict<'_>, Rejection>;

    /// What checking one delivery costs beyond hashing its body, in bytes-equivalent, to
    /// decide whether a batch is worth the thread pool (see [`crate::batch::is_large`]).
    fn item_work(&self) -> usize {
        crate::batch::PER_ITEM_WORK
    }

    /// The whole check of one delivery.
    fn verify(&self, delivery: &Delivery<'_>, window: Option<Window>) -> Result<(), Rejection> {
        match self.check(delivery, window)? {
            Verdict::Accepted => Ok(()),
            Verdict::Ed25519(pending) if pending.verify() => Ok(()),
            Verdict::Ed25519(_) => Err(Rejection::NoMatchingSignature),
        }
    }
}

/// `Ok` when `matched`, else the usual signature rejection.
pub fn matched(matched: bool) -> Result<(), Rejection> {
    if matched {
        Ok(())
    } else {
        Err(Rejection::NoMatchingSignature)
    }
}

/// Checks many deliveries in order, verifying their deferred Ed25519 signatures together.
/// An item that is `None` (its reader could not use it) gets `None`.
pub fn verify_chunk<'d, S: Scheme>(
    scheme: &S,
    items: impl ExactSizeIterator<Item = Option<(Delivery<'d>, Option<Window>)>>,
) -> Vec<Option<Result<(), Rejection>>> {
    let mut results = Vec::with_capacity(items.len());
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        let Some((delivery, window)) = item else {
            results.push(None);
            pending.push(None);
            continue;
        };
        match scheme.check(&delivery, window) {
            Ok(Verdict::Ed25519(item)) => {
                results.push(Some(Err(Rejection::NoMatchingSignature)));
                pending.push(Some(item));
            }
            other => {
                results.push(Some(other.map(|_| ())));
                pending.push(None);
            }
        }
    }
    crate::ed25519::verify_all(&pending, |i, valid| {
        if valid {
            results[i] = Some(Ok(()));
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let bad = Rejection::InvalidTimestamp(
            Field::Header("webhook-timestamp"),
            TimestampError::Malformed,
        );
        assert_eq!(
            bad.to_string(),
            "header \"webhook-timestamp\" is not an integer number of seconds"
        );
        let ms = Rejection::InvalidTimestamp(
            Field::BodyMillis("webhookTimestamp"),
            TimestampError::Malformed,
        );
        assert_eq!(
            ms.to_string(),
            "body field \"webhookTimestamp\" is missing or not an integer number of milliseconds"
        );
        let overflow = Rejection::InvalidTimestamp(Field::Header("t"), TimestampError::Overflow);
        assert_eq!(overflow.to_string(), "header \"t\" is out of range");
        assert_eq!(Rejection::MissingHeader("x-a").to_string(), "missing required header \"x-a\"");
    }

    #[test]
    fn freshness_can_be_skipped() {
        let window = Window::seconds(1000, 10);
        assert_eq!(check_fresh(Some(window), 1010), Ok(()));
        assert_eq!(check_fresh(Some(window), 1011), Err(Rejection::TooNew));
        assert_eq!(check_fresh(Some(window), 989), Err(Rejection::TooOld));
        assert_eq!(check_fresh(None, i64::MIN), Ok(()));
        assert_eq!(check_fresh_nanos(Some(window), 1010 * NANOS + 1), Err(Rejection::TooNew));
    }

    #[test]
    fn every_scheme_fits_the_slot_arrays() {
        use crate::providers::{body, discord, linear, slack, stripe, twilio};
        let counts = [
            <crate::standard::StandardKeys as Scheme>::HEADERS.len(),
            <crate::linktor::LinktorKey as Scheme>::HEADERS.len(),
            <stripe::StripeKeys as Scheme>::HEADERS.len(),
            <body::BodyKeys<body::Hub> as Scheme>::HEADERS.len(),
            <body::BodyKeys<body::Shopify> as Scheme>::HEADERS.len(),
            <slack::SlackKeys as Scheme>::HEADERS.len(),
            <twilio::TwilioKeys as Scheme>::HEADERS.len(),
            <linear::LinearKeys as Scheme>::HEADERS.len(),
            <discord::DiscordKeys as Scheme>::HEADERS.len(),
        ];
        assert!(counts.iter().all(|&n| (1..=MAX_SLOTS).contains(&n)), "{counts:?}");
    }

    #[test]
    fn empty_header_is_missing() {
        const SLOTS: &[Slot] = &[&["a", "b"]];
        let empty = [Some(Found { name: "b", value: b"" })];
        let delivery = Delivery { body: b"", headers: &empty, url: None };
        assert_eq!(delivery.header(SLOTS, 0), Err(Rejection::MissingHeader("a")));
        let present = [Some(Found { name: "b", value: b"v" })];
        let delivery = Delivery { body: b"", headers: &present, url: None };
        assert_eq!(delivery.header(SLOTS, 0).map(|f| f.name), Ok("b"));
    }
}
