"""Webhook signature verification, for receivers that verify every request.

Three schemes, all HMAC-SHA256 computed in Rust over the raw body:

* **Linktor**: ``X-Linktor-Signature`` is the lowercase hex HMAC of the body keyed by the UTF-8
  secret. ``X-Linktor-Timestamp`` is optional and, when present, must be within the tolerance.
  The timestamp is *not* part of the signed message, so it cannot stop a replay of a captured
  request; pair it with a replay guard if that matters to you.
* **Standard Webhooks**: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers,
  signed content ``"{id}.{timestamp}.{body}"``, ``v1,<base64>`` signatures (several may be listed,
  space-separated), ``whsec_<base64>`` secrets.
* **Generic**: :class:`HmacVerifier` for other providers (hex or base64, optional prefix such as
  ``sha256=``).

Bodies may be ``bytes``, ``bytearray``, ``memoryview`` or ``str`` (encoded as UTF-8; never
decoded). Headers may be any mapping (``dict``, httpx, Starlette, Werkzeug, Django headers) or an
iterable of ``(name, value)`` pairs such as ASGI's raw headers; names match case-insensitively.

Malformed input never raises a foreign exception: the boolean functions answer ``False``, and
:meth:`StandardWebhook.verify` raises a :class:`WebhookVerificationError` subclass naming the
cause. Comparisons are constant-time. ``verify_many`` releases the GIL and spreads large batches
over all cores; single verifications stay on the calling thread.
"""

from relaywire._native import (
    DEFAULT_TOLERANCE,
    LINKTOR_SIGNATURE_HEADER,
    LINKTOR_TIMESTAMP_HEADER,
    MAX_HEADER_BYTES,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    HmacVerifier,
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    LinktorVerifier,
    MissingHeaderError,
    StandardWebhook,
    TimestampOutOfToleranceError,
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
    "HmacVerifier",
    "InvalidHeaderError",
    "InvalidSecretError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "LinktorVerifier",
    "MissingHeaderError",
    "StandardWebhook",
    "TimestampOutOfToleranceError",
    "WebhookVerificationError",
    "linktor_signature",
    "verify_linktor",
    "verify_linktor_request",
]
