"""Type stub for the Rust extension module ``relaywire._native`` (checked by mypy.stubtest)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeAlias, final

Body: TypeAlias = bytes | bytearray | memoryview | str
Signature: TypeAlias = str | bytes | None
Secret: TypeAlias = str | bytes
HeaderValue: TypeAlias = str | bytes
Headers: TypeAlias = Mapping[Any, Any] | Iterable[tuple[HeaderValue, HeaderValue]]

class WebhookVerificationError(Exception): ...
class MissingHeaderError(WebhookVerificationError): ...
class InvalidHeaderError(WebhookVerificationError): ...
class InvalidTimestampError(WebhookVerificationError): ...
class TimestampOutOfToleranceError(WebhookVerificationError): ...
class InvalidSignatureError(WebhookVerificationError): ...
class InvalidSecretError(WebhookVerificationError): ...

def linktor_signature(payload: Body, secret: Secret) -> str: ...
def verify_linktor(payload: Body, signature: Signature, secret: Secret) -> bool: ...
def verify_linktor_request(
    payload: Body,
    headers: Headers,
    secret: Secret,
    tolerance: float = 300.0,
    *,
    now: float | None = None,
) -> bool: ...
@final
class LinktorVerifier:
    def __new__(cls, secret: Secret) -> LinktorVerifier: ...
    def sign(self, payload: Body) -> str: ...
    def verify(self, payload: Body, signature: Signature) -> bool: ...
    def verify_request(
        self,
        payload: Body,
        headers: Headers,
        tolerance: float = 300.0,
        *,
        now: float | None = None,
    ) -> bool: ...
    def verify_many(
        self, payloads: Iterable[Body], signatures: Iterable[Signature]
    ) -> list[bool]: ...

@final
class StandardWebhook:
    def __new__(cls, secret: Secret) -> StandardWebhook: ...
    def sign(self, msg_id: str, timestamp: int | datetime, payload: Body) -> str: ...
    def verify(
        self,
        payload: Body,
        headers: Headers,
        *,
        tolerance: float = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[Body],
        headers_list: Iterable[Headers],
        *,
        tolerance: float = 300.0,
        now: float | None = None,
    ) -> list[bool]: ...

@final
class HmacVerifier:
    def __new__(
        cls,
        secret: Secret,
        *,
        encoding: Literal["hex", "base64"] = "hex",
        prefix: str = "",
    ) -> HmacVerifier: ...
    @property
    def encoding(self) -> Literal["hex", "base64"]: ...
    @property
    def prefix(self) -> str: ...
    def sign(self, payload: Body) -> str: ...
    def verify(self, payload: Body, signature: Signature) -> bool: ...
    def verify_many(
        self, payloads: Iterable[Body], signatures: Iterable[Signature]
    ) -> list[bool]: ...
