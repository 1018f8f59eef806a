"""Helpers shared by the webhook test modules.

Everything here is plain Python (``hmac``, ``hashlib``, ``base64``, ``httpx``): the references
that the Rust core is checked against never call ``relaywire`` to compute an expected answer.
Test modules import from here as ``from _support import ...``; pytest's default import mode puts
``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import http.server
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import httpx

from relaywire.webhooks import WebhookVerificationError

# ------------------------------------------------------------------ reference HMAC


def as_key(secret: str | bytes) -> bytes:
    """A secret as the key bytes the schemes use: ``str`` is UTF-8, ``bytes`` is the raw key."""
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message``, keyed by ``secret`` (see :func:`as_key`)."""
    return hmac.new(as_key(secret), message, hashlib.sha256).digest()


def hmac_hex(secret: str | bytes, message: bytes) -> str:
    """HMAC-SHA256 as lowercase hex: the Linktor signature of ``message``."""
    return hmac_sha256(secret, message).hex()


def standard_tag(key: bytes, msg_id: str | bytes, ts: int, body: bytes) -> str:
    """The base64 HMAC-SHA256 of the Standard Webhooks content ``"{id}.{timestamp}.{body}"``."""
    ident = msg_id.encode("utf-8") if isinstance(msg_id, str) else msg_id
    signed = ident + b"." + str(ts).encode() + b"." + body
    return base64.b64encode(hmac_sha256(key, signed)).decode()


def standard_signature(key: bytes, msg_id: str | bytes, ts: int, body: bytes) -> str:
    """A ``webhook-signature`` entry: ``"v1," + standard_tag(...)``."""
    return "v1," + standard_tag(key, msg_id, ts, body)


# ------------------------------------------------------------------ outcomes


def outcome(call: Callable[..., object]) -> type[BaseException] | None:
    """The exact exception class a verification raised, or None when it passed.

    A verification that does not raise must return ``None`` (``StandardWebhook.verify`` does).
    """
    try:
        assert call() is None
    except WebhookVerificationError as exc:
        return type(exc)
    return None


# ------------------------------------------------------------------ bodies and headers


def body_variants(body: bytes) -> list[Any]:
    """The same bytes as every accepted body type (``str`` only when they are UTF-8)."""
    variants: list[Any] = [body, bytearray(body), memoryview(body), memoryview(bytearray(body))]
    with contextlib.suppress(UnicodeDecodeError):
        variants.append(body.decode("utf-8"))
    return variants


class CaseSensitiveHeaders(Mapping[str, Any]):
    """A mapping whose ``get``/``__getitem__`` only find the exact spelling of a name."""

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def odd_casings(headers: Mapping[str, str]) -> list[dict[str, str]]:
    """The headers with their names in two unusual spellings.

    One swaps the case of the title-cased name (``x-lINKTOR-sIGNATURE``); the other alternates
    title case and upper case from one header to the next (``Webhook-Id``, ``WEBHOOK-TIMESTAMP``).
    """
    swapped = {name.title().swapcase(): value for name, value in headers.items()}
    alternating = {
        name.upper() if i % 2 else name.title(): value
        for i, (name, value) in enumerate(headers.items())
    }
    return [swapped, alternating]


def header_kinds(headers: Mapping[str, str]) -> list[Any]:
    """The same headers in every container kind the API accepts, names in odd casing.

    The plain dict as given, then for each of :func:`odd_casings`: a dict,
    :class:`CaseSensitiveHeaders`, ``httpx.Headers``, ASGI-style ``(bytes, bytes)`` pairs and
    ``(str, str)`` pairs.
    """
    kinds: list[Any] = [dict(headers)]
    for odd in odd_casings(headers):
        kinds += [
            odd,
            CaseSensitiveHeaders(odd),
            httpx.Headers(odd),
            [(name.encode(), value.encode()) for name, value in odd.items()],
            list(odd.items()),
        ]
    return kinds


# ------------------------------------------------------------------ timestamp tolerance

#: ``(offset, tolerance, within)``: a timestamp ``offset`` seconds from now, checked with
#: ``tolerance``, and whether it is inside the window (``|offset| <= tolerance``, both ends in).
#: Each scheme's test maps ``within`` to its own answer (``True``/``False``, or no exception /
#: ``TimestampOutOfToleranceError``).
TOLERANCE_ROWS: list[tuple[int, float, bool]] = [
    (0, 300, True),
    (300, 300, True),
    (-300, 300, True),
    (301, 300, False),
    (-301, 300, False),
    (0, 0, True),
    (1, 0, False),
    (-1, 0, False),
    (10, 10, True),
    (-11, 10, False),
    (5, 5.9, True),
    (6, 5.9, False),
    (3600, 86400, True),
    (-86400, 86400, True),
    (86401, 86400, False),
]


# ------------------------------------------------------------------ a recording HTTP server


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: queue.Queue[tuple[http.client.HTTPMessage, bytes]]
    answer: tuple[int, str, bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # The handler's headers are an HTTPMessage (what http.client.parse_headers makes);
        # typeshed declares the base class.
        self.requests.put((cast(http.client.HTTPMessage, self.headers), body))
        status, content_type, content = self.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def recording_http_server(
    answer: tuple[int, str, bytes] = (200, "text/plain", b""),
) -> Iterator[tuple[str, queue.Queue[tuple[http.client.HTTPMessage, bytes]]]]:
    """A real HTTP server on 127.0.0.1 (a free port, its own thread) that answers every POST with
    ``answer`` and queues each request's headers and body; stopped on exit."""
    requests: queue.Queue[tuple[http.client.HTTPMessage, bytes]] = queue.Queue()
    handler = type("Handler", (_RecordingHandler,), {"requests": requests, "answer": answer})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
