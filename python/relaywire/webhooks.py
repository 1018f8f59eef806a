"""Webhook signature verification, for receivers that verify every request.

Every scheme is computed in Rust over the raw body:

* **Linktor**: ``X-Linktor-Signature`` is the lowercase hex HMAC of the body keyed by the UTF-8
  secret. ``X-Linktor-Timestamp`` is optional and, when present, must be within the tolerance.
  The timestamp is *not* part of the signed message, so it cannot stop a replay of a captured
  request; pair it with a replay guard if that matters to you.
* **Standard Webhooks**: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers
  (or Svix's ``svix-`` names), signed content ``"{id}.{timestamp}.{body}"``, ``v1,<base64>``
  HMAC signatures with ``whsec_`` secrets and ``v1a,<base64>`` Ed25519 signatures with ``whsk_``
  secret keys (``whpk_`` public keys verify); several may be listed, space-separated.
* **Providers**: :class:`Stripe`, :class:`GitHub`, :class:`Shopify`, :class:`Slack`,
  :class:`Twilio`, :class:`Meta`, :class:`Linear` and :class:`Discord`, each with the error
  model of :class:`StandardWebhook` and a ``sign`` helper (except Discord, which verifies with
  a public key only).
* **Generic**: :class:`HmacVerifier` for other providers (hex or base64, optional prefix such as
  ``sha256=``).

Every verifier takes one secret or a list of them (rotation: a signature made with any of them
passes). Bodies may be ``bytes``, ``bytearray``, ``memoryview`` or ``str`` (encoded as UTF-8;
never decoded). Headers may be any mapping (``dict``, httpx, Starlette, Werkzeug, Django headers)
or an iterable of ``(name, value)`` pairs such as ASGI's raw headers; names match
case-insensitively. ``tolerance=None`` skips the timestamp check.

Malformed input never raises a foreign exception: the boolean functions answer ``False``, and
``verify`` raises a :class:`WebhookVerificationError` subclass naming the cause (``verify_each``
returns it per delivery). Comparisons are constant-time. ``verify_many`` and ``verify_each``
release the GIL, spread large batches over all cores and verify Ed25519 signatures in batches;
single verifications stay on the calling thread. :func:`verify_arrow` verifies Arrow tables.
"""

from relaywire._arrow import verify_arrow
from relaywire._native import (
    DEFAULT_TOLERANCE,
    LINKTOR_SIGNATURE_HEADER,
    LINKTOR_TIMESTAMP_HEADER,
    MAX_HEADER_BYTES,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    ChallengeError,
    Discord,
    GitHub,
    HmacVerifier,
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    Linear,
    LinktorVerifier,
    Meta,
    MissingHeaderError,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    TimestampOutOfToleranceError,
    Twilio,
    WebhookVerificationError,
    linktor_signature,
    verify_linktor,
    verify_linktor_request,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "LINKTOR_SIGNATURE_HEADER",
    "LINKTOR_TIMESTAMP_HEADER",
    "MAX_HEADER_BYTES",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "ChallengeError",
    "Discord",
    "GitHub",
    "HmacVerifier",
    "InvalidHeaderError",
    "InvalidSecretError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "Linear",
    "LinktorVerifier",
    "Meta",
    "MissingHeaderError",
    "Shopify",
    "Slack",
    "StandardWebhook",
    "Stripe",
    "TimestampOutOfToleranceError",
    "Twilio",
    "WebhookVerificationError",
    "linktor_signature",
    "verify_arrow",
    "verify_linktor",
    "verify_linktor_request",
]
