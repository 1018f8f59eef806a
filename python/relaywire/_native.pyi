"""Type stub for the Rust extension module ``relaywire._native`` (checked by mypy.stubtest)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypeAlias, final

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

_Body: TypeAlias = bytes | bytearray | memoryview | str
_Signature: TypeAlias = str | bytes | None
_Secret: TypeAlias = str | bytes
_HeaderValue: TypeAlias = str | bytes
_Headers: TypeAlias = Mapping[Any, Any] | Iterable[tuple[_HeaderValue, _HeaderValue]]

#: Header names, lowercase.
LINKTOR_SIGNATURE_HEADER: Final = "x-linktor-signature"
LINKTOR_TIMESTAMP_HEADER: Final = "x-linktor-timestamp"
STANDARD_ID_HEADER: Final = "webhook-id"
STANDARD_TIMESTAMP_HEADER: Final = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER: Final = "webhook-signature"
#: Seconds a timestamp may lie before or after now, by default.
DEFAULT_TOLERANCE: Final = 300
#: Header values longer than this are refused (``False``, or ``InvalidHeaderError``).
MAX_HEADER_BYTES: Final = 8192

class WebhookVerificationError(Exception): ...
class MissingHeaderError(WebhookVerificationError): ...
class InvalidHeaderError(WebhookVerificationError): ...
class InvalidTimestampError(WebhookVerificationError): ...
class TimestampOutOfToleranceError(WebhookVerificationError): ...
class InvalidSignatureError(WebhookVerificationError): ...
class InvalidSecretError(WebhookVerificationError): ...

def linktor_signature(payload: _Body, secret: _Secret) -> str: ...
def verify_linktor(payload: _Body, signature: _Signature, secret: _Secret) -> bool: ...
def verify_linktor_request(
    payload: _Body,
    headers: _Headers,
    secret: _Secret,
    tolerance: float = 300.0,
    *,
    now: float | None = None,
) -> bool: ...

@final
class LinktorVerifier:
    def __new__(cls, secret: _Secret) -> LinktorVerifier: ...
    def sign(self, payload: _Body) -> str: ...
    def verify(self, payload: _Body, signature: _Signature) -> bool: ...
    def verify_request(
        self,
        payload: _Body,
        headers: _Headers,
        tolerance: float = 300.0,
        *,
        now: float | None = None,
    ) -> bool: ...
    def verify_many(
        self, payloads: Iterable[_Body], signatures: Iterable[_Signature]
    ) -> list[bool]: ...

@final
class StandardWebhook:
    def __new__(cls, secret: _Secret) -> StandardWebhook: ...
    def sign(self, msg_id: str, timestamp: int | datetime, payload: _Body) -> str: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float = 300.0,
        now: float | None = None,
    ) -> list[bool]: ...

@final
class HmacVerifier:
    def __new__(
        cls,
        secret: _Secret,
        *,
        encoding: Literal["hex", "base64"] = "hex",
        prefix: str = "",
    ) -> HmacVerifier: ...
    @property
    def encoding(self) -> Literal["hex", "base64"]: ...
    @property
    def prefix(self) -> str: ...
    def sign(self, payload: _Body) -> str: ...
    def verify(self, payload: _Body, signature: _Signature) -> bool: ...
    def verify_many(
        self, payloads: Iterable[_Body], signatures: Iterable[_Signature]
    ) -> list[bool]: ...
