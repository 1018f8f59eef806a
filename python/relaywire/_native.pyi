"""Type stub for the Rust extension module ``relaywire._native`` (checked by mypy.stubtest)."""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Final, Literal, TypeAlias, final

__all__ = [
    "DEFAULT_TOLERANCE",
    "FLAG_CONTROL",
    "FLAG_TOOL_CALL",
    "FLAG_TURN_END",
    "LINKTOR_SIGNATURE_HEADER",
    "LINKTOR_TIMESTAMP_HEADER",
    "MAX_HEADER_BYTES",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "ChallengeError",
    "DialectPlan",
    "Discord",
    "EnvelopeDecoder",
    "GitHub",
    "HmacVerifier",
    "InvalidHeaderError",
    "InvalidSecretError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "Linear",
    "LinktorRules",
    "LinktorVerifier",
    "Meta",
    "MissingHeaderError",
    "ModelPlan",
    "PendingEvent",
    "RealtimeEvents",
    "Shopify",
    "Slack",
    "StandardWebhook",
    "StreamDecoder",
    "Stripe",
    "TimestampOutOfToleranceError",
    "Twilio",
    "WebhookEvents",
    "WebhookVerificationError",
    "_arrow_slots",
    "_verify_arrow_batch",
    "linktor_signature",
    "verify_linktor",
    "verify_linktor_request",
]

_Body: TypeAlias = bytes | bytearray | memoryview | str
_Signature: TypeAlias = str | bytes | None
_Secret: TypeAlias = str | bytes
_HeaderValue: TypeAlias = str | bytes
_Headers: TypeAlias = Mapping[Any, Any] | Iterable[tuple[_HeaderValue, _HeaderValue]]
#: One secret, or several for rotation (a signature made with any of them passes).
_Secrets: TypeAlias = _Secret | list[_Secret] | tuple[_Secret, ...]
#: A batch's current time: the clock (None), one time for all, or one time per delivery.
_BatchNow: TypeAlias = float | Iterable[float] | None

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
class ChallengeError(WebhookVerificationError): ...

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
    def __new__(cls, secret: _Secrets) -> StandardWebhook: ...
    def sign(self, msg_id: str, timestamp: int | datetime, payload: _Body) -> str: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float | None = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[WebhookVerificationError | None]: ...

@final
class Stripe:
    def __new__(cls, secret: _Secrets) -> Stripe: ...
    def sign(
        self, payload: _Body, *, timestamp: int | datetime | None = None
    ) -> dict[str, str]: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float | None = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[WebhookVerificationError | None]: ...

@final
class Slack:
    def __new__(cls, secret: _Secrets) -> Slack: ...
    def sign(
        self, payload: _Body, *, timestamp: int | datetime | None = None
    ) -> dict[str, str]: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float | None = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[WebhookVerificationError | None]: ...

@final
class Linear:
    def __new__(cls, secret: _Secrets) -> Linear: ...
    def sign(self, payload: _Body) -> dict[str, str]: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float | None = 60.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 60.0,
        now: _BatchNow = None,
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 60.0,
        now: _BatchNow = None,
    ) -> list[WebhookVerificationError | None]: ...

@final
class Discord:
    def __new__(
        cls, public_key: str | bytes | list[str | bytes] | tuple[str | bytes, ...]
    ) -> Discord: ...
    def verify(
        self,
        payload: _Body,
        headers: _Headers,
        *,
        tolerance: float | None = 300.0,
        now: float | None = None,
    ) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        tolerance: float | None = 300.0,
        now: _BatchNow = None,
    ) -> list[WebhookVerificationError | None]: ...

@final
class GitHub:
    def __new__(cls, secret: _Secrets) -> GitHub: ...
    def sign(self, payload: _Body) -> dict[str, str]: ...
    def verify(self, payload: _Body, headers: _Headers) -> None: ...
    def verify_many(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[bool]: ...
    def verify_each(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[WebhookVerificationError | None]: ...

@final
class Shopify:
    def __new__(cls, secret: _Secrets) -> Shopify: ...
    def sign(self, payload: _Body) -> dict[str, str]: ...
    def verify(self, payload: _Body, headers: _Headers) -> None: ...
    def verify_many(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[bool]: ...
    def verify_each(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[WebhookVerificationError | None]: ...

@final
class Meta:
    def __new__(cls, app_secret: _Secrets) -> Meta: ...
    def sign(self, payload: _Body) -> dict[str, str]: ...
    def verify(self, payload: _Body, headers: _Headers) -> None: ...
    def verify_many(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[bool]: ...
    def verify_each(
        self, payloads: Iterable[_Body], headers_list: Iterable[_Headers]
    ) -> list[WebhookVerificationError | None]: ...
    @staticmethod
    def answer_challenge(params: Mapping[str, Any] | str | bytes, verify_token: _Secret) -> str: ...

@final
class Twilio:
    def __new__(cls, auth_token: _Secrets) -> Twilio: ...
    def sign(self, payload: _Body, *, url: str | bytes) -> dict[str, str]: ...
    def verify(self, payload: _Body, headers: _Headers, *, url: str | bytes) -> None: ...
    def verify_many(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        urls: Iterable[str | bytes],
    ) -> list[bool]: ...
    def verify_each(
        self,
        payloads: Iterable[_Body],
        headers_list: Iterable[_Headers],
        *,
        urls: Iterable[str | bytes],
    ) -> list[WebhookVerificationError | None]: ...

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

#: A binary column as relaywire._arrow hands it over: (large, offset, validity, offsets, data),
#: the last three being pyarrow buffers (validity may be None).
_ArrowColumn: TypeAlias = tuple[bool, int, Any, Any, Any]

def _arrow_slots(verifier: object) -> list[list[str]]: ...
def _verify_arrow_batch(
    verifier: object,
    length: int,
    body: _ArrowColumn,
    slots: list[list[tuple[int, _ArrowColumn]]],
    url: _ArrowColumn | None,
    times: tuple[int, Any, Any] | None,
    tolerance: float | None,
    now: float | None,
) -> bytes: ...

# ----------------------------------------------------------------------- Daguito stream decoding

#: A batch holds a control entry: ``malformed`` (any decoder), or ``ready``,
#: ``session.started`` or ``session.ended`` (:class:`StreamDecoder`).
FLAG_CONTROL: Final = 1
#: A batch holds a ``node.emit`` whose ``data.kind`` is ``"agent.tool_call_started"``.
FLAG_TOOL_CALL: Final = 2
#: A batch holds a ``flow.completed`` or ``flow.failed``.
FLAG_TURN_END: Final = 4

_Entry: TypeAlias = tuple[str, Any]
_CloseError: TypeAlias = tuple[int, str]

@final
class StreamDecoder:
    """Daguito server frames to ``(event_type, payload)`` entries.

    ``event_classes`` maps ``"ready"``, ``"error"``, ``"node.started"``, ``"node.token"``,
    ``"node.completed"``, ``"node.failed"``, ``"node.emit"``, ``"flow.completed"``,
    ``"flow.failed"`` and ``"unknown"`` to the payload dataclasses (without a ``__new__`` of
    their own). Payloads are built without running ``__init__``. Other entry types:
    ``("session.started", session_key | None)``, ``("session.ended", None)`` and
    ``("malformed", reason)``.
    """

    def __new__(
        cls,
        event_classes: Mapping[str, type],
        *,
        default_webhook_id: str = "",
        max_message_size: int = 67108864,
    ) -> StreamDecoder: ...
    def feed(
        self, data: bytes | bytearray | memoryview
    ) -> tuple[list[_Entry], int, list[bytes] | None, _CloseError | None]:
        """Raw bytes read from the socket (server to client, after the HTTP handshake).

        Returns ``(events, flags, controls, error)``: ``controls`` are whole raw control frames
        in order (or None), ``error`` is ``(close_code, reason)`` once the stream broke the
        protocol (1002), held invalid UTF-8 text (1007) or a message over
        ``max_message_size`` (1009); from then on ``feed`` returns no events until
        :meth:`reset`. If Python itself fails while building events (``MemoryError``), the
        exception propagates and the decoder stops with ``(1011, "internal error")``.
        """
    def decode(self, message: str | bytes | bytearray | memoryview) -> tuple[list[_Entry], int]:
        """One complete message: ``str`` for a text message, bytes for a binary one (which
        must be UTF-8). ``max_message_size`` is not applied: the caller assembled it."""
    def reset(self) -> None:
        """A new connection: forget partial frames, fragments and the error; keep the text."""
    collect_text: bool
    emit_tokens: bool
    def take_text(self) -> str:
        """Return the collected token text and clear it."""
    @property
    def text_length(self) -> int:
        """Characters collected so far (``len()`` of what :meth:`take_text` would return)."""
    @property
    def execution_id(self) -> str | None:
        """The last non-empty ``data.execution_id`` a frame carried; set None to forget it."""
    @execution_id.setter
    def execution_id(self, value: str | None) -> None: ...
    @property
    def max_message_size(self) -> int: ...

# ----------------------------------------------------------------------- envelope decoding

@final
class EnvelopeDecoder:
    """``{"type": ..., "payload": {...}}`` server frames (Linktor's realtime socket) to
    ``(type, payload)`` entries.

    ``payload`` is the payload object as ``json.loads`` returns it (a new ``dict``), or ``{}``
    when the frame has none or ``null``; other keys of the frame are ignored. A message that is
    not a JSON object, has no string type or has a payload that is not an object becomes
    ``("malformed", reason)`` and sets :data:`FLAG_CONTROL`. Payload keys are passed on as sent
    (no case conversion).

    With ``events`` (Linktor's realtime protocol, :class:`RealtimeEvents`), a frame whose event
    it can build exactly as the protocol's Python code would is that event object instead of
    its tuple; the other frames stay ``(type, payload)`` tuples. With ``defer`` as well, each
    frame of a type the events build is a :class:`PendingEvent` (its ``build()`` gives the
    event, or the tuple).
    """

    def __new__(
        cls,
        *,
        type_key: str = "type",
        payload_key: str = "payload",
        max_message_size: int = 67108864,
        events: RealtimeEvents | None = None,
        defer: bool = False,
    ) -> EnvelopeDecoder: ...
    def feed(
        self, data: bytes | bytearray | memoryview
    ) -> tuple[list[Any], int, list[bytes] | None, _CloseError | None]:
        """Raw bytes read from the socket, as :meth:`StreamDecoder.feed`: ``(events, flags,
        controls, error)``; after a protocol error (1002, 1007, 1009) no more events until
        :meth:`reset`."""
    def decode(self, message: str | bytes | bytearray | memoryview) -> tuple[list[Any], int]:
        """One complete message: ``str`` for a text message, bytes for a binary one (which
        must be UTF-8)."""
    def reset(self) -> None:
        """A new connection: forget partial frames, fragments and the error."""
    @property
    def type_key(self) -> str: ...
    @property
    def payload_key(self) -> str: ...
    @property
    def events(self) -> RealtimeEvents | None: ...
    @property
    def defer(self) -> bool: ...
    @property
    def max_message_size(self) -> int: ...

# ----------------------------------------------------------------------- model building

#: A field's kind: ``("str",)``, ``("int",)``, ``("float",)``, ``("bool",)``, ``("any",)``,
#: ``("datetime",)``, ``("nullable", kind)``, ``("list", kind)``, ``("dict", kind)``,
#: ``("choice", {json_text: value}[, open])`` (``open``: values that are no member may still
#: be accepted), ``("model", index)``, ``("union", [kind, ...])`` (left to right) or
#: ``("tagged", (key, ...), {tag: kind})``.
_Kind: TypeAlias = tuple[Any, ...]
#: ``(name, keys, kind, default_mode, default)``; modes: 0 required, 1 the default as it is,
#: 2 a deep copy of it, 3 the default factory's result.
_Field: TypeAlias = tuple[str, tuple[str, ...], _Kind, int, Any]

@final
class ModelPlan:
    """JSON bytes to pydantic model instances along a plan that ``relaywire.models`` compiles
    from the models' pydantic-core schemas (``models``: ``(cls, fields)`` pairs, the root model
    first; ``tzinfo(offset_seconds)`` makes the tzinfo of aware datetimes; ``deepcopy`` copies
    mutable defaults)."""

    def __new__(
        cls,
        models: list[tuple[type, list[_Field]]],
        *,
        tzinfo: Callable[[int], tzinfo],
        deepcopy: Callable[[Any], Any],
    ) -> ModelPlan: ...
    def build(self, data: bytes | bytearray | memoryview) -> Any | None:
        """The root model built from the JSON document ``data``, or ``None`` when the plan
        declines it: the document holds something the plan does not reproduce exactly as
        pydantic would (the caller then validates it with pydantic)."""

# ------------------------------------------------------- Linktor's self-hosted server bodies

@final
class LinktorRules:
    """The tables of ``linktor._dialect`` that its adaptation rules read (``fits``: for each of
    ``content_type``, ``sender_type``, ``conversation_status``, ``channel_type``, ``bot_status``,
    ``bot_type`` and ``node_type``, the SDK enum's values and the nearest value of each server
    word it lacks), and its ``_media_mime(url, kind, attachment)``."""

    def __new__(
        cls,
        *,
        fits: Mapping[str, tuple[Iterable[str], Mapping[str, str]]],
        media_content_types: Iterable[str],
        channel_status: Mapping[str, str],
        weekdays: Mapping[str, int],
        unknown_channel_type: str,
        spaces: str,
        media_mime: Callable[[str, str, Any], str],
    ) -> LinktorRules: ...

@final
class DialectPlan:
    """A model's :class:`ModelPlan` and the adaptation its self-hosted server records need
    (``adapter``: ``"plain"``, ``"message"``, ``"conversation"``, ``"contact"``, ``"channel"``,
    ``"bot"``, ``"knowledge_base"``, ``"kb_item"`` or ``"flow"``, the ``adapt_*`` functions of
    ``linktor._dialect``)."""

    def __new__(cls, plan: ModelPlan, adapter: str, rules: LinktorRules) -> DialectPlan: ...
    def one(
        self, body: bytes | bytearray | memoryview, channel_types: dict[str, str] | None = None
    ) -> Any | None:
        """The model of a one-record answer (``{"success", "data"}`` or bare), or ``None`` when
        declined (the caller runs the Python path); a conversation whose channel the
        ``channel_types`` lack is that channel's id (a ``str``)."""
    def items(
        self, body: bytes | bytearray | memoryview, channel_types: dict[str, str] | None = None
    ) -> tuple[list[Any], Any, Any, bool] | None:
        """A list answer: the models of the records of its ``data`` array (or of the body, when
        it is an array: ``bare``), its ``meta`` and ``pagination`` as ``json.loads`` gives them
        (``None`` when absent); ``None`` when declined. Conversations with an unknown channel
        are their channel ids."""

@final
class RealtimeEvents:
    """Linktor's realtime frames as events, for ``EnvelopeDecoder(events=...)``: each frame
    type's rule (``"payload"``, ``"message"``, ``"status"`` or ``"conversation"``, the rules of
    ``linktor.websocket``) and its event model's plan; the ``python`` types stay tuples, and
    any other type becomes the ``unknown`` model with ``type`` and ``payload``. A deferring
    decoder still builds the ``eager`` types at once."""

    def __new__(
        cls,
        events: Mapping[str, tuple[str, ModelPlan]],
        *,
        unknown: ModelPlan,
        python: Iterable[str],
        rules: LinktorRules,
        eager: Iterable[str] | None = None,
    ) -> RealtimeEvents: ...

@final
class PendingEvent:
    """A frame whose event is built when it is taken (``EnvelopeDecoder(defer=True)``)."""

    @property
    def type(self) -> str: ...
    def build(self) -> Any:
        """The frame's event, or its ``(type, payload)`` tuple where the Python path decides."""

@final
class WebhookEvents:
    """Linktor webhook deliveries to their ``WebhookEvent`` models (``known``: the plan of the
    model of the ``known_types``; ``unknown``: the plan for any other type), for the bodies
    where that is exactly what pydantic gives ``linktor.utils.webhook``'s parse."""

    def __new__(
        cls, known: ModelPlan, unknown: ModelPlan, known_types: Iterable[str]
    ) -> WebhookEvents: ...
    def parse(self, body: bytes | bytearray | memoryview | str) -> Any | None:
        """The event of a (verified) body, or ``None`` where the Python path decides."""
    def construct(
        self,
        payload: _Body,
        headers: _Headers,
        secret: _Secret,
        tolerance: float = 300.0,
        replay_guard: Any | None = None,
    ) -> Any:
        """Verify the request (``verify_linktor_request``), build its event and have
        ``replay_guard`` remember its signature: the event, or ``0`` (not verified), ``1``
        (verified, declined: parse it with the Python path) or ``2`` (replayed)."""
